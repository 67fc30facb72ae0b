//! A device's root file system in a temp dir, and the launcher run on it with `--root`.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A device's root file system in a temp dir.
pub struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    pub fn new() -> Root {
        Root {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn host(&self, device: &str) -> PathBuf {
        self.path().join(device.trim_start_matches('/'))
    }

    pub fn write(&self, device: &str, text: &str) -> &Root {
        let p = self.host(device);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        self
    }

    pub fn lib(&self, name: &str, text: &str) -> &Root {
        self.write(&format!("/usr/lib/swupdate/conf.d/{name}"), text)
    }

    pub fn etc(&self, name: &str, text: &str) -> &Root {
        self.write(&format!("/etc/swupdate/conf.d/{name}"), text)
    }

    pub fn symlink(&self, target: &str, device: &str) -> &Root {
        let p = self.host(device);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
        self
    }

    pub fn executable(&self, device: &str) -> &Root {
        self.write(device, "#!/bin/sh\nexit 0\n");
        fs::set_permissions(self.host(device), fs::Permissions::from_mode(0o755)).unwrap();
        self
    }

    /// A device with swupdate, a key and an update file in place, in file mode.
    pub fn file_mode() -> Root {
        let r = Root::new();
        r.executable("/usr/bin/swupdate")
            .write("/etc/swupdate/public.pem", "key")
            .write("/data/update.swu", "swu")
            // Anti-rollback (on by default in one-shot modes) reads the running release here.
            .write("/etc/os-release", "NAME=Tolomeo\nVERSION_ID=\"1.0\"\n")
            .write(
                "/etc/default/swupdate",
                "SWUPDATE_PUBLIC_KEY=/etc/swupdate/public.pem\n",
            )
            .lib(
                "10-source",
                "SWUPDATE_SOURCE=file\nUPDATE_FILE=/data/update.swu\n",
            );
        r
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args, env).output().unwrap()
    }

    /// The launcher on this root with a clean configuration environment.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_swupdate-launcher"));
        cmd.arg("--root").arg(self.path()).args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("SWUPDATE_") || k == "URL" || k == "UPDATE_FILE" {
                cmd.env_remove(k);
            }
        }
        for k in [
            "NOTIFY_SOCKET",
            "JOURNAL_STREAM",
            "LISTEN_FDS",
            "LISTEN_PID",
        ] {
            cmd.env_remove(k);
        }
        cmd.env("SWUPDATE_LAUNCHER_JOURNAL_SOCKET", "/nonexistent/journal");
        // The files were written by whoever runs the tests; that user is the "image" here.
        // SAFETY: getuid has no preconditions.
        cmd.env(
            "SWUPDATE_TRUSTED_UID",
            unsafe { libc::getuid() }.to_string(),
        );
        cmd.envs(env.iter().copied());
        cmd
    }
}

/// The run exited with `code`; otherwise fail with its stderr.
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stderr:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
