//! Support for the integration tests that run the launcher for real: test keys ([`Pki`]), signed
//! `.swu` files ([`SwuBuilder`]), a loopback HTTP server ([`HttpServer`]), a device's file system
//! in a temp dir ([`Device`]) and a runner that gives every launcher a clean environment and its
//! own `TMPDIR`, and that cannot hang a test ([`run`]).
//!
//! Each test file declares it with `#[allow(dead_code)] mod support;` (not every file uses every
//! item).
//!
//! Three facts about Debian's swupdate 2022.12 shape this module:
//! - it creates its IPC sockets in `$TMPDIR` (default `/tmp`): two runs sharing a directory break
//!   each other (one fails, the other hangs), so every [`Device`] has its own;
//! - in one-shot mode a very small image races swupdate's own IPC client, which then reports
//!   exit 1 after a successful install (about one run in ten with a 4 KiB image); an image
//!   larger than a socket buffer never hits it, hence [`IMAGE_LEN`];
//! - a `raw` image is written into an existing file only: [`prefill`] creates the target.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub mod http;
// Not every test file that declares `mod support` serves HTTP.
#[allow(unused_imports)]
pub use http::HttpServer;

/// The launcher under test.
pub const LAUNCHER: &str = env!("CARGO_BIN_EXE_swupdate-launcher");

/// Debian's swupdate (apt package `swupdate`).
pub const SWUPDATE: &str = "/usr/bin/swupdate";

/// Size of the default test image: 1 MiB, more than a socket buffer (see the module doc).
pub const IMAGE_LEN: usize = 1 << 20;

/// The `-H board:REV` swupdate is given and the revision sw-description accepts by default.
pub const HW_REVISION: &str = "1.0";

/// The release the device runs (`VERSION_ID` of its `/etc/os-release`): the launcher's
/// anti-rollback passes it as `-N`, so swupdate refuses releases older than this one. The
/// default test release, 1.0.0, is newer.
pub const RUNNING_VERSION: &str = "0.9";

/// How long one launcher run may take before it is killed and the test fails. A real install
/// of the test image takes about a second.
pub const RUN_LIMIT: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------------------------------
// Tools

fn is_executable(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

/// Fails the test (never skips it) unless swupdate, openssl and cpio are installed.
pub fn require_tools() {
    let mut missing = Vec::new();
    if !is_executable(Path::new(SWUPDATE)) {
        missing.push(SWUPDATE);
    }
    for tool in ["openssl", "cpio"] {
        if in_path(tool).is_none() {
            missing.push(tool);
        }
    }
    assert!(
        missing.is_empty(),
        "not installed: {}. These tests run Debian's real swupdate on signed .swu files: \
         run scripts/test, which installs them (or: apt-get install swupdate cpio openssl)",
        missing.join(", ")
    );
}

/// Runs a helper tool to completion; panics with its output if it fails.
fn tool(cmd: &mut Command) -> Vec<u8> {
    let what = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

// ---------------------------------------------------------------------------------------------
// Keys

/// A self-signed signing key and certificate, as swupdate's `-k` verifies them.
pub struct Pki {
    pub key: PathBuf,
    pub cert: PathBuf,
}

impl Pki {
    /// Generates `NAME.key.pem` and `NAME.cert.pem` (CN=NAME) in `dir`.
    pub fn generate(dir: &Path, name: &str) -> Pki {
        require_tools();
        fs::create_dir_all(dir).unwrap();
        let key = dir.join(format!("{name}.key.pem"));
        let cert = dir.join(format!("{name}.cert.pem"));
        tool(
            Command::new("openssl")
                .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .args(["-days", "2", "-subj"])
                .arg(format!("/CN={name}"))
                .args(["-addext", "extendedKeyUsage=emailProtection"]),
        );
        Pki { key, cert }
    }
}

// ---------------------------------------------------------------------------------------------
// .swu files

/// `len` bytes that depend on `seed` only (xorshift64*): reproducible, incompressible.
pub fn test_image(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Creates (or overwrites) a regular file standing in for a partition, filled with a pattern
/// no test image contains; returns its bytes, to compare with after a failed update.
pub fn prefill(target: &Path, len: usize) -> Vec<u8> {
    let pattern = b"untouched target ";
    let bytes: Vec<u8> = pattern.iter().copied().cycle().take(len).collect();
    fs::write(target, &bytes).unwrap();
    bytes
}

/// Builds a signed `.swu` with one `raw` image installed into `device` (a regular file's path).
pub struct SwuBuilder {
    device: PathBuf,
    image: Vec<u8>,
    version: String,
    hardware: Vec<String>,
    /// sw-description's `update-type` (swupdate 2025.12+), if any.
    update_type: Option<String>,
}

/// The image's name inside the archive.
pub const IMAGE_NAME: &str = "image.bin";

/// A string in libconfig syntax.
fn libconfig_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl SwuBuilder {
    /// A 1 MiB test image for `device`, version 1.0.0, compatible with hardware revision 1.0.
    pub fn new(device: impl Into<PathBuf>) -> SwuBuilder {
        SwuBuilder {
            device: device.into(),
            image: test_image(IMAGE_LEN, 1),
            version: "1.0.0".into(),
            hardware: vec![HW_REVISION.into()],
            update_type: None,
        }
    }

    /// Declares `update-type` in sw-description.
    pub fn update_type(mut self, name: &str) -> SwuBuilder {
        self.update_type = Some(name.into());
        self
    }

    pub fn image(mut self, bytes: Vec<u8>) -> SwuBuilder {
        self.image = bytes;
        self
    }

    pub fn version(mut self, version: &str) -> SwuBuilder {
        self.version = version.into();
        self
    }

    pub fn hardware_compatibility(mut self, revisions: &[&str]) -> SwuBuilder {
        self.hardware = revisions.iter().map(|r| r.to_string()).collect();
        self
    }

    fn sw_description(&self, sha256: &str) -> String {
        let hardware: Vec<String> = self.hardware.iter().map(|h| libconfig_string(h)).collect();
        format!(
            "software =\n{{\n\tversion = {};\n{}\thardware-compatibility = [ {} ];\n\timages: (\n\t\t{{\n\t\t\tfilename = {};\n\t\t\tdevice = {};\n\t\t\ttype = \"raw\";\n\t\t\tsha256 = {};\n\t\t}}\n\t);\n}}\n",
            libconfig_string(&self.version),
            self.update_type.as_ref().map_or(String::new(), |t| format!(
                "\tupdate-type = {};\n",
                libconfig_string(t)
            )),
            hardware.join(", "),
            libconfig_string(IMAGE_NAME),
            libconfig_string(self.device.to_str().expect("a UTF-8 target path")),
            libconfig_string(sha256),
        )
    }

    /// Writes sw-description, signs it with `pki` (CMS), and packs sw-description,
    /// sw-description.sig and the image, in that order, with `cpio -o -H crc` into `out`. The
    /// parts are kept in `OUT.parts/`.
    pub fn build(&self, out: &Path, pki: &Pki) -> Swu {
        require_tools();
        let mut parts = out.as_os_str().to_owned();
        parts.push(".parts");
        let parts = PathBuf::from(parts);
        fs::create_dir_all(&parts).unwrap();
        fs::write(parts.join(IMAGE_NAME), &self.image).unwrap();

        let digest = tool(
            Command::new("openssl")
                .args(["dgst", "-sha256", "-r"])
                .arg(parts.join(IMAGE_NAME)),
        );
        let digest = String::from_utf8(digest).unwrap();
        let sha256 = digest.split_whitespace().next().unwrap().to_string();
        assert_eq!(sha256.len(), 64, "openssl dgst said {digest:?}");
        fs::write(parts.join("sw-description"), self.sw_description(&sha256)).unwrap();

        tool(
            Command::new("openssl")
                .args(["cms", "-sign", "-in"])
                .arg(parts.join("sw-description"))
                .arg("-out")
                .arg(parts.join("sw-description.sig"))
                .arg("-signer")
                .arg(&pki.cert)
                .arg("-inkey")
                .arg(&pki.key)
                .args(["-outform", "DER", "-nosmimecap", "-binary"]),
        );

        let mut cpio = Command::new("cpio")
            .args(["-o", "-H", "crc"])
            .current_dir(&parts)
            .stdin(Stdio::piped())
            .stdout(fs::File::create(out).unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start cpio");
        cpio.stdin
            .take()
            .unwrap()
            .write_all(format!("sw-description\nsw-description.sig\n{IMAGE_NAME}\n").as_bytes())
            .unwrap();
        let done = cpio.wait_with_output().unwrap();
        assert!(
            done.status.success(),
            "cpio failed: {}",
            String::from_utf8_lossy(&done.stderr)
        );

        let archive = fs::read(out).unwrap();
        let names = cpio_names(&archive);
        assert_eq!(
            names,
            ["sw-description", "sw-description.sig", IMAGE_NAME],
            "sw-description must come first, then its signature"
        );
        let (offset, len) = cpio_entry(&archive, IMAGE_NAME).expect("the image in the archive");
        assert_eq!(&archive[offset..offset + len], &self.image[..]);
        Swu {
            path: out.to_path_buf(),
            image: self.image.clone(),
            image_offset: offset,
        }
    }
}

/// A built `.swu`.
pub struct Swu {
    pub path: PathBuf,
    /// What a successful install writes into the target.
    pub image: Vec<u8>,
    /// Where the image's bytes start in the archive.
    image_offset: usize,
}

impl Swu {
    /// A copy at `out` with one byte of the image payload flipped (signature and sw-description
    /// intact): swupdate must notice that the image is not the one that was signed.
    pub fn tampered(&self, out: &Path) -> PathBuf {
        let mut bytes = fs::read(&self.path).unwrap();
        let at = self.image_offset + self.image.len() / 2;
        bytes[at] ^= 0xff;
        fs::write(out, bytes).unwrap();
        out.to_path_buf()
    }
}

/// One header of the SVR4 "newc"/"crc" format: magic, then 13 eight-digit hex fields.
struct CpioHeader {
    filesize: usize,
    namesize: usize,
}

const CPIO_HEADER_LEN: usize = 110;

fn cpio_header(h: &[u8]) -> Option<CpioHeader> {
    if h.len() < CPIO_HEADER_LEN || !(h.starts_with(b"070701") || h.starts_with(b"070702")) {
        return None;
    }
    let field = |i: usize| {
        let digits = std::str::from_utf8(&h[6 + 8 * i..14 + 8 * i]).ok()?;
        usize::from_str_radix(digits, 16).ok()
    };
    Some(CpioHeader {
        filesize: field(6)?,
        namesize: field(11)?,
    })
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Every entry of an archive: (name, data offset, data length), up to the trailer.
fn cpio_entries(archive: &[u8]) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(h) = archive.get(pos..).and_then(cpio_header) {
        let name_at = pos + CPIO_HEADER_LEN;
        let name = &archive[name_at..name_at + h.namesize.saturating_sub(1)];
        let name = String::from_utf8_lossy(name).into_owned();
        if name == "TRAILER!!!" {
            break;
        }
        let data = align4(name_at + h.namesize);
        out.push((name, data, h.filesize));
        pos = align4(data + h.filesize);
    }
    out
}

fn cpio_names(archive: &[u8]) -> Vec<String> {
    cpio_entries(archive).into_iter().map(|e| e.0).collect()
}

fn cpio_entry(archive: &[u8], name: &str) -> Option<(usize, usize)> {
    cpio_entries(archive)
        .into_iter()
        .find(|e| e.0 == name)
        .map(|e| (e.1, e.2))
}

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

// ---------------------------------------------------------------------------------------------
// Running

/// How a run ended and what it printed.
#[derive(Debug)]
pub struct Outcome {
    /// The PID the launcher was started with.
    pub pid: u32,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Both streams, for matching swupdate's messages wherever it printed them.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Asserts the exit code, showing everything that was printed when it differs.
    pub fn assert_code(&self, code: i32) -> &Outcome {
        assert_eq!(
            self.code(),
            Some(code),
            "expected exit code {code}, got {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// [`run_within`] the default [`RUN_LIMIT`].
pub fn run(cmd: Command) -> Outcome {
    run_within(cmd, RUN_LIMIT)
}

/// Whether `pid` has exited, without reaping it: while the zombie is there, its PID (and the
/// process group named after it) cannot be reused.
fn exited(pid: u32) -> bool {
    // SAFETY: waitid writes only into `info`, which we own; WNOWAIT leaves the child reapable.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        r == 0 && info.si_pid() != 0
    }
}

fn kill_group(pgid: u32) {
    // SAFETY: kill has no memory effects; the group is the one this run created.
    unsafe {
        libc::kill(-(pgid as libc::pid_t), libc::SIGKILL);
    }
}

fn drain<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Runs `cmd` (stdin from /dev/null, stdout and stderr captured) in a process group of its own.
/// When the launcher (or the swupdate it became) exits, whatever it left in that group is
/// killed; after `limit` the whole group is killed and the test fails with what it printed.
pub fn run_within(mut cmd: Command, limit: Duration) -> Outcome {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let what = format!("{cmd:?}");
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let pid = child.id();
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let start = Instant::now();
    let mut timed_out = false;
    while !exited(pid) {
        if start.elapsed() > limit {
            timed_out = true;
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    kill_group(pid);
    let status = child.wait().unwrap();
    let text = |rx: mpsc::Receiver<Vec<u8>>, name: &str| {
        let bytes = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{what}: {name} is still open: a process left the group"));
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let stdout = text(out, "stdout");
    let stderr = text(err, "stderr");
    assert!(
        !timed_out,
        "{what} did not finish within {limit:?} and was killed\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    Outcome {
        pid,
        status,
        stdout,
        stderr,
    }
}
