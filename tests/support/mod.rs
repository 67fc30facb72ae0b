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

use std::fs;
use std::io::Read;
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

mod device;
mod swu;

// Not every test binary uses every part.
#[allow(unused_imports)]
pub use device::*;
#[allow(unused_imports)]
pub use swu::*;

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

/// Fails the test (never skips it) unless swupdate and openssl are installed.
pub fn require_tools() {
    let mut missing = Vec::new();
    if !is_executable(Path::new(SWUPDATE)) {
        missing.push(SWUPDATE);
    }
    if in_path("openssl").is_none() {
        missing.push("openssl");
    }
    assert!(
        missing.is_empty(),
        "not installed: {}. These tests run Debian's real swupdate on signed .swu files: \
         `cargo test` ignores the tests that need them; scripts/test installs them and runs \
         those tests (or: apt-get install swupdate openssl; cargo test -- --ignored)",
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

/// libubootenv-tool's `fw_setenv`, which the A/B tests run to set up an environment.
pub const FW_SETENV: &str = "/usr/bin/fw_setenv";

/// Writes the first valid U-Boot environment that `fw_env_config` describes, holding the
/// `NAME=value` lines of `default_env` (a file), as U-Boot leaves it after its first `saveenv`.
/// Fixture only: the real tool writes it (`fw_setenv -f FILE`), never the launcher.
pub fn first_saveenv(fw_env_config: &Path, default_env: &Path) {
    tool(
        Command::new(FW_SETENV)
            .arg("-c")
            .arg(fw_env_config)
            .arg("-f")
            .arg(default_env)
            .args(["-s", "/dev/null"]),
    );
}

// ---------------------------------------------------------------------------------------------
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

    /// Asserts that stderr holds `needle`, showing stderr when it does not.
    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Outcome {
        assert!(self.stderr.contains(needle), "{}", self.stderr);
        self
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

/// The user a test's verification program runs as, `uid:gid`. Under root (CI) a uid of the
/// test's own, which no other process uses: the launcher refuses a verification user that
/// another process runs as (tests run in parallel, so a shared one such as nobody would be in
/// use by another test's program). Unprivileged, the test's own user (no separation to check).
pub fn verification_user() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    thread_local! {
        static OWN: u32 = 61_000 + NEXT.fetch_add(1, Ordering::Relaxed);
    }
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    if uid == 0 {
        OWN.with(|own| format!("{own}:{own}"))
    } else {
        format!("{uid}:{gid}")
    }
}

/// Another process running as `user` (`UID:GID`, with `setpriv` of util-linux; needs root),
/// returned once /proc shows it under that uid: a user a contained program may not share.
pub fn another_process_as(user: &str) -> std::process::Child {
    let (uid, gid) = user.split_once(':').expect("UID:GID");
    let other = Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
            "--",
        ])
        .args(["sleep", "30"])
        .spawn()
        .expect("setpriv (util-linux)");
    let started = Instant::now();
    while !fs::read_to_string(format!("/proc/{}/status", other.id()))
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.contains(uid)))
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the other process never ran as {uid}"
        );
        thread::sleep(Duration::from_millis(20));
    }
    other
}
