//! A device's file system in a temp dir ([`Device`]).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{LAUNCHER, Outcome, RUNNING_VERSION, SWUPDATE, require_tools, run};

// ---------------------------------------------------------------------------------------------
// Device

/// The EnvironmentFile, as a device path.
pub const ENV_FILE: &str = "/etc/default/swupdate";
pub const LIB_DIR: &str = "/usr/lib/swupdate/conf.d";
pub const ETC_DIR: &str = "/etc/swupdate/conf.d";

/// A device's file system below `DIR/root`, run with `--root`: every configured path is a
/// device path, and the launcher's lock (`/run/swupdate-launcher.lock`) lands in this root
/// too, so tests running in parallel never meet. swupdate's `TMPDIR` is `DIR/tmp`.
///
/// The files are written by whoever runs the tests, so the EnvironmentFile trusts that uid
/// (`SWUPDATE_TRUSTED_UID`); modes are set explicitly (0755, 0644) whatever the umask.
pub struct Device {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub tmpdir: PathBuf,
    topology: BTreeMap<String, String>,
}

fn mkdirs(p: &Path) {
    fs::create_dir_all(p).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
}

impl Device {
    /// An empty device in `dir`: the EnvironmentFile names the conf.d directories and
    /// `SWUPDATE_BIN=/usr/bin/swupdate`, which is not there yet (see [`Device::with_swupdate`]);
    /// `/etc/os-release` says the device runs [`RUNNING_VERSION`].
    pub fn new(dir: &Path) -> Device {
        let root = dir.join("root");
        let tmpdir = dir.join("tmp");
        for d in [root.as_path(), tmpdir.as_path()] {
            mkdirs(d);
        }
        let sock = tmpdir.join("sockinstctrl");
        assert!(
            sock.as_os_str().len() < 100,
            "{} is too long for a unix socket path: set TMPDIR to a shorter directory",
            sock.display()
        );
        let mut d = Device {
            dir: dir.to_path_buf(),
            root,
            tmpdir,
            topology: BTreeMap::new(),
        };
        mkdirs(&d.host(LIB_DIR));
        mkdirs(&d.host(ETC_DIR));
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        for (k, v) in [
            ("SWUPDATE_BIN", "/usr/bin/swupdate"),
            ("SWUPDATE_CONF_DIR_LIB", LIB_DIR),
            ("SWUPDATE_CONF_DIR_ETC", ETC_DIR),
            ("SWUPDATE_TRUSTED_UID", &uid.to_string()),
        ] {
            d.topology.insert(k.into(), v.into());
        }
        d.write_env_file();
        d.write(
            "/etc/os-release",
            format!("NAME=\"Test Device\"\nVERSION_ID=\"{RUNNING_VERSION}\"\n").as_bytes(),
        );
        d
    }

    /// A device whose `/usr/bin/swupdate` is Debian's real one (a symlink to it).
    pub fn with_swupdate(dir: &Path) -> Device {
        require_tools();
        let d = Device::new(dir);
        let bin = d.host("/usr/bin/swupdate");
        mkdirs(bin.parent().unwrap());
        std::os::unix::fs::symlink(SWUPDATE, &bin).unwrap();
        d
    }

    /// Where a device path is on this machine.
    pub fn host(&self, device_path: &str) -> PathBuf {
        assert!(
            device_path.starts_with('/'),
            "{device_path} is not absolute"
        );
        self.root.join(device_path.trim_start_matches('/'))
    }

    fn write_env_file(&self) {
        let mut text = String::from("# written by tests/support (Device)\n");
        for (k, v) in &self.topology {
            assert!(!v.contains('\''), "{k}={v}: no single quotes, please");
            text.push_str(&format!("{k}='{v}'\n"));
        }
        self.write(ENV_FILE, text.as_bytes());
    }

    /// Sets a variable of the EnvironmentFile.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Device {
        self.topology.insert(name.into(), value.into());
        self.write_env_file();
        self
    }

    /// Removes a variable from the EnvironmentFile.
    pub fn unset(&mut self, name: &str) -> &mut Device {
        self.topology.remove(name);
        self.write_env_file();
        self
    }

    /// Writes a file (mode 0644) at a device path; returns its host path.
    pub fn write(&self, device_path: &str, bytes: &[u8]) -> PathBuf {
        let p = self.host(device_path);
        mkdirs(p.parent().unwrap());
        fs::write(&p, bytes).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        p
    }

    /// Writes an executable (mode 0755) at a device path; returns its host path.
    pub fn write_executable(&self, device_path: &str, text: &str) -> PathBuf {
        let p = self.write(device_path, text.as_bytes());
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// Copies a file of this machine to a device path; returns its host path.
    pub fn install(&self, device_path: &str, from: &Path) -> PathBuf {
        self.write(device_path, &fs::read(from).unwrap())
    }

    /// A fragment in the lib conf.d directory (shipped by the image).
    pub fn lib(&self, name: &str, text: &str) -> PathBuf {
        self.write(&format!("{LIB_DIR}/{name}"), text.as_bytes())
    }

    /// A fragment in the etc conf.d directory (the device's own, or the agent's descriptor).
    pub fn etc(&self, name: &str, text: &str) -> PathBuf {
        self.write(&format!("{ETC_DIR}/{name}"), text.as_bytes())
    }

    /// The launcher on this device: `--root ROOT --env-file /etc/default/swupdate ARGS`, with an
    /// environment that holds nothing of the developer's (no SWUPDATE_*, URL, UPDATE_FILE,
    /// NOTIFY_SOCKET, LISTEN_*, JOURNAL_STREAM, proxies), this device's `TMPDIR`, stderr as the
    /// log (never the journal) and this device's directory as the working directory.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(LAUNCHER);
        cmd.arg("--root")
            .arg(&self.root)
            .arg("--env-file")
            .arg(ENV_FILE)
            .args(args)
            .current_dir(&self.dir)
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into()),
            )
            .env("TMPDIR", &self.tmpdir)
            .env(
                "SWUPDATE_LAUNCHER_JOURNAL_SOCKET",
                self.dir.join("no-journal-here"),
            );
        // Coverage tools follow the binary through this variable.
        if let Some(v) = std::env::var_os("LLVM_PROFILE_FILE") {
            cmd.env("LLVM_PROFILE_FILE", v);
        }
        cmd
    }

    /// Runs the launcher on this device with `args` (see [`Device::command`] and [`run`]).
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Outcome {
        run(self.command(args))
    }

    /// Runs the launcher as the service does: no command, so it execs swupdate.
    pub fn launch(&self) -> Outcome {
        self.run(&[] as &[&str])
    }
}
