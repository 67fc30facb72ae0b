//! A device's file system in a temp dir ([`Device`]), and the launcher run on it with `--root`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use swupdate_launcher::rootfs;

use super::{LAUNCHER, Outcome, RUNNING_VERSION, SWUPDATE, require_tools, run};

/// The EnvironmentFile, as a device path.
pub const ENV_FILE: &str = "/etc/default/swupdate";
pub const LIB_DIR: &str = "/usr/lib/swupdate/conf.d";
pub const ETC_DIR: &str = "/etc/swupdate/conf.d";

/// A device's file system below `DIR/root`, run with `--root`: every configured path is a
/// device path, and the launcher's lock (`/run/swupdate-launcher.lock`) lands in this root
/// too, so tests running in parallel never meet. swupdate's `TMPDIR` is `DIR/tmp`. Device and
/// host paths are converted by the launcher's own [`rootfs::Root`], so a test names a file
/// exactly as the launcher finds it.
///
/// Two ways to set one up, for the two things tests pin:
/// - [`Device::configured`] (and [`Device::with_swupdate`]): the fixture owns the EnvironmentFile
///   (the path topology, [`Device::set`]), which trusts the uid that runs the tests;
/// - [`Device::new`] (and [`Device::file_mode`], [`Device::download`]): an empty root in a
///   temp dir of its own, whose EnvironmentFile the test writes as it likes; the uid that runs
///   the tests is trusted through the environment (`SWUPDATE_TRUSTED_UID`).
///
/// New files are 0644 and new directories 0755 whatever the umask; a mode a test set on an
/// existing one is kept.
pub struct Device {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub tmpdir: PathBuf,
    fs: rootfs::Root,
    /// The EnvironmentFile's variables, when the fixture writes it ([`Device::configured`]).
    topology: Option<BTreeMap<String, String>>,
    /// The temp dir a [`Device::new`] lives in, removed with it.
    _owned: Option<tempfile::TempDir>,
}

/// Creates `p` and whatever is missing above it, each new directory 0755.
fn mkdirs(p: &Path) {
    if p.exists() {
        return;
    }
    if let Some(parent) = p.parent() {
        mkdirs(parent);
    }
    fs::create_dir(p).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The uid that runs the tests: it wrote every file of the device.
fn test_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

impl Device {
    /// The directories of a device in `dir` (`root/`, `tmp/`), nothing in them yet.
    fn layout(dir: &Path, owned: Option<tempfile::TempDir>) -> Device {
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
        Device {
            dir: dir.to_path_buf(),
            fs: rootfs::Root::new(Some(root.clone())),
            root,
            tmpdir,
            topology: None,
            _owned: owned,
        }
    }

    /// An empty device in `dir` whose EnvironmentFile the fixture writes: it names the conf.d directories and
    /// `SWUPDATE_BIN=/usr/bin/swupdate`, which is not there yet (see [`Device::with_swupdate`]);
    /// `/etc/os-release` says the device runs [`RUNNING_VERSION`].
    pub fn configured(dir: &Path) -> Device {
        let mut d = Device::layout(dir, None);
        mkdirs(&d.host(LIB_DIR));
        mkdirs(&d.host(ETC_DIR));
        let uid = test_uid().to_string();
        let topology = [
            ("SWUPDATE_BIN", "/usr/bin/swupdate"),
            ("SWUPDATE_CONF_DIR_LIB", LIB_DIR),
            ("SWUPDATE_CONF_DIR_ETC", ETC_DIR),
            ("SWUPDATE_TRUSTED_UID", &uid),
        ];
        d.topology = Some(
            topology
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        d.write_env_file();
        d.write(
            "/etc/os-release",
            &format!("NAME=\"Test Device\"\nVERSION_ID=\"{RUNNING_VERSION}\"\n"),
        );
        d
    }

    /// [`Device::configured`] in a temp dir of its own, removed with it.
    pub fn configured_in_temp() -> Device {
        let owned = tempfile::tempdir().unwrap();
        let mut d = Device::configured(owned.path());
        d._owned = Some(owned);
        d
    }

    /// A device whose `/usr/bin/swupdate` is Debian's real one (a symlink to it).
    pub fn with_swupdate(dir: &Path) -> Device {
        require_tools();
        let d = Device::configured(dir);
        d.symlink(SWUPDATE, "/usr/bin/swupdate");
        d
    }

    /// An empty root in a temp dir of its own: no EnvironmentFile, no conf.d directory.
    pub fn new() -> Device {
        let owned = tempfile::tempdir().unwrap();
        let dir = owned.path().to_path_buf();
        Device::layout(&dir, Some(owned))
    }

    /// A bare device with a (fake) swupdate, a key and an update file in place, in file mode.
    pub fn file_mode() -> Device {
        let d = Device::new();
        d.executable("/usr/bin/swupdate")
            .write("/etc/swupdate/public.pem", "key")
            .write("/data/update.swu", "swu")
            // Anti-rollback (on by default in one-shot modes) reads the running release here.
            .write("/etc/os-release", "NAME=Tolomeo\nVERSION_ID=\"1.0\"\n")
            .write(ENV_FILE, "SWUPDATE_PUBLIC_KEY=/etc/swupdate/public.pem\n")
            .lib(
                "10-source",
                "SWUPDATE_SOURCE=file\nUPDATE_FILE=/data/update.swu\n",
            );
        d
    }

    /// [`Device::file_mode`] in download mode without the preflight, with a descriptor of
    /// the agent's: the handoff, not the network, is what these devices are for (tests/streaming.rs
    /// has the preflight).
    pub fn download() -> Device {
        let d = Device::file_mode();
        d.lib(
            "10-source",
            "SWUPDATE_SOURCE=download\nSWUPDATE_PREFLIGHT=no\n",
        )
        .etc("descriptor.env", "URL=https://updates.example.com/fw.swu\n");
        d
    }

    /// The device's `/` on this machine.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Where a device path is on this machine.
    pub fn host(&self, device_path: &str) -> PathBuf {
        assert!(
            device_path.starts_with('/'),
            "{device_path} is not absolute"
        );
        self.fs.host(Path::new(device_path))
    }

    fn write_env_file(&self) {
        let Some(topology) = &self.topology else {
            return;
        };
        let mut text = String::from("# written by tests/support (Device)\n");
        for (k, v) in topology {
            assert!(!v.contains('\''), "{k}={v}: no single quotes, please");
            text.push_str(&format!("{k}='{v}'\n"));
        }
        self.write(ENV_FILE, &text);
    }

    fn topology(&mut self) -> &mut BTreeMap<String, String> {
        self.topology
            .as_mut()
            .expect("a bare device's EnvironmentFile is the test's own: write it")
    }

    /// Sets a variable of the EnvironmentFile.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Device {
        self.topology().insert(name.into(), value.into());
        self.write_env_file();
        self
    }

    /// Removes a variable from the EnvironmentFile.
    pub fn unset(&mut self, name: &str) -> &mut Device {
        self.topology().remove(name);
        self.write_env_file();
        self
    }

    /// Writes a text file at a device path (0644 when new).
    pub fn write(&self, device_path: &str, text: &str) -> &Device {
        self.write_bytes(device_path, text.as_bytes())
    }

    /// Writes a file at a device path (0644 when new).
    pub fn write_bytes(&self, device_path: &str, bytes: &[u8]) -> &Device {
        let p = self.host(device_path);
        mkdirs(p.parent().unwrap());
        let new = fs::symlink_metadata(&p).is_err();
        fs::write(&p, bytes).unwrap();
        if new {
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        }
        self
    }

    /// Writes an executable (mode 0755) at a device path.
    pub fn write_executable(&self, device_path: &str, text: &str) -> &Device {
        self.write(device_path, text);
        fs::set_permissions(self.host(device_path), fs::Permissions::from_mode(0o755)).unwrap();
        self
    }

    /// An executable at a device path that exits 0 (a stand-in for swupdate).
    pub fn executable(&self, device_path: &str) -> &Device {
        self.write_executable(device_path, "#!/bin/sh\nexit 0\n")
    }

    /// Copies a file of this machine to a device path.
    pub fn install(&self, device_path: &str, from: &Path) -> &Device {
        self.write_bytes(device_path, &fs::read(from).unwrap())
    }

    /// A symlink at a device path to `target` (written as it is: a device path, a relative
    /// one, or one of this machine).
    pub fn symlink(&self, target: &str, device_path: &str) -> &Device {
        let p = self.host(device_path);
        mkdirs(p.parent().unwrap());
        std::os::unix::fs::symlink(target, p).unwrap();
        self
    }

    /// A fragment in the lib conf.d directory (shipped by the image).
    pub fn lib(&self, name: &str, text: &str) -> &Device {
        self.write(&format!("{LIB_DIR}/{name}"), text)
    }

    /// A fragment in the etc conf.d directory (the device's own, or the agent's descriptor).
    pub fn etc(&self, name: &str, text: &str) -> &Device {
        self.write(&format!("{ETC_DIR}/{name}"), text)
    }

    /// The launcher on this device: `--root ROOT [--env-file /etc/default/swupdate] ARGS`
    /// (the EnvironmentFile named when the fixture writes it), with an environment that holds
    /// nothing of the developer's (no SWUPDATE_*, URL, UPDATE_FILE, NOTIFY_SOCKET, LISTEN_*,
    /// JOURNAL_STREAM, proxies) but `env`, this device's `TMPDIR`, stderr as the log (never
    /// the journal) and this device's directory as the working directory.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(LAUNCHER);
        cmd.arg("--root").arg(&self.root);
        if self.topology.is_some() {
            cmd.arg("--env-file").arg(ENV_FILE);
        }
        cmd.args(args)
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
        // The uid that wrote the device's files is the one trusted, whether or not it is root;
        // the EnvironmentFile's own SWUPDATE_TRUSTED_UID applies only after the file is judged.
        cmd.env("SWUPDATE_TRUSTED_UID", test_uid().to_string());
        // Coverage tools follow the binary through this variable.
        if let Some(v) = std::env::var_os("LLVM_PROFILE_FILE") {
            cmd.env("LLVM_PROFILE_FILE", v);
        }
        cmd.envs(env.iter().copied());
        cmd
    }

    /// Runs the launcher on this device with `args` to its end; its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// [`Device::run`] with `env` added to the launcher's environment.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args, env).output().unwrap()
    }

    /// Runs the launcher on this device with `args` in a process group of its own, bounded in
    /// time (see [`Device::command`] and [`run`]).
    pub fn outcome(&self, args: &[&str]) -> Outcome {
        run(self.command(args, &[]))
    }

    /// Runs the launcher as the service does: no command, so it execs swupdate.
    pub fn launch(&self) -> Outcome {
        self.outcome(&[])
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

/// A run's stderr, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
