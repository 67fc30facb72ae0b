//! A pluggable verification stage before swupdate, as Legato's `security-unpack`: a program of
//! the product's receives the whole update on stdin and writes the verified (or decrypted) pack
//! on stdout. Exit 0 lets swupdate install that output; exit 1 means the pack is not authentic
//! (a security violation); anything else is a verification failure. Nothing the program did not
//! approve reaches swupdate.
//!
//! The program runs with the least it needs: an unprivileged uid/gid, no supplementary groups,
//! an empty environment but PATH, and no descriptors but stdin, stdout and stderr. Its output
//! goes to a file that nobody can open by name: created 0600 in the configured directory and
//! unlinked at once, then handed to swupdate as `/proc/self/fd/N`. So the private copy is gone
//! whatever the outcome, even if the launcher or swupdate is killed; only a crash between
//! create and unlink can leave one, and the next start removes it.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Kind};

/// Names of private copies, so a later start can find a leftover one.
pub const PRIVATE_PREFIX: &str = ".swupdate-launcher-verified.";

/// Free space kept on top of the input's size (the output of a decryption may be a little
/// larger than its input; a filesystem must not be filled to the last block by an update).
const ROOM_MARGIN: u64 = 1 << 20;

/// How the stage runs; all of it comes from the image's conf.d.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The program and its arguments.
    pub argv: Vec<String>,
    pub uid: u32,
    pub gid: u32,
    /// Host path of the directory for the private copy.
    pub dir: PathBuf,
    pub timeout: Duration,
}

/// Removes private copies a crashed earlier start may have left.
pub fn clean_leftovers(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if e.file_name().to_string_lossy().starts_with(PRIVATE_PREFIX) {
            let _ = fs::remove_file(e.path());
        }
    }
}

// The statvfs fields are 32 bits wide on 32-bit targets (armv7 devices), 64 on this machine.
#[allow(clippy::useless_conversion)]
fn available_bytes(dir: &Path) -> Option<u64> {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; the path is NUL-terminated.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(c.as_ptr(), &mut st) == 0)
            .then(|| u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)))
    }
}

/// Whether `free` bytes can hold the verified copy of an input of `size` bytes.
pub fn room_problem(free: u64, size: u64) -> Option<String> {
    let need = size.saturating_add(ROOM_MARGIN);
    (free < need).then(|| format!("{free} bytes free, the verified copy needs up to {need}"))
}

/// Creates the directory for private copies and removes what a crashed start left there.
pub fn prepare(dir: &Path) -> Result<(), Error> {
    fs::create_dir_all(dir).map_err(|e| {
        Error::new(
            Kind::Io,
            format!("cannot create the verification directory: {e}"),
        )
        .on(dir)
    })?;
    clean_leftovers(dir);
    Ok(())
}

/// A private, already unlinked file in `dir` (`tag` tells the launcher's files apart).
pub fn private_file(dir: &Path, tag: &str) -> Result<File, Error> {
    let path = dir.join(format!("{PRIVATE_PREFIX}{tag}.{}", std::process::id()));
    let _ = fs::remove_file(&path);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| {
            Error::new(Kind::Io, format!("cannot create the verified copy: {e}")).on(&path)
        })?;
    fs::remove_file(&path).map_err(|e| {
        Error::new(Kind::Io, format!("cannot unlink the verified copy: {e}")).on(&path)
    })?;
    Ok(file)
}

/// Closes every descriptor above stderr; runs in the child between fork and exec, so only
/// async-signal-safe calls.
fn close_inherited_descriptors() -> std::io::Result<()> {
    // SAFETY: close_range and close are async-signal-safe syscalls on descriptors of the child.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) == 0 {
            return Ok(());
        }
        let mut lim: libc::rlimit = std::mem::zeroed();
        let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur.min(65536) as i32
        } else {
            1024
        };
        for fd in 3..max {
            libc::close(fd);
        }
    }
    Ok(())
}

/// Refuses when `dir` cannot hold a copy of `size` bytes.
pub fn check_room(dir: &Path, size: u64) -> Result<(), Error> {
    match available_bytes(dir).and_then(|free| room_problem(free, size)) {
        Some(problem) => Err(Error::new(Kind::VerifyNoRoom, problem).on(dir)),
        None => Ok(()),
    }
}

/// Runs the stage on `input` (the update, read from its start; `shown` names it in messages);
/// returns the verified copy, positioned at its start. [`prepare`] the directory first.
pub fn run(stage: &Stage, input: File, shown: &Path) -> Result<File, Error> {
    let program = stage
        .argv
        .first()
        .ok_or_else(|| Error::new(Kind::Config, "the verification program is empty"))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    check_room(&stage.dir, size)?;
    let mut output = private_file(&stage.dir, "verified")?;
    let stdout = output
        .try_clone()
        .map_err(|e| Error::new(Kind::Io, format!("cannot duplicate a descriptor: {e}")))?;

    let mut cmd = Command::new(program);
    cmd.args(&stage.argv[1..])
        .stdin(Stdio::from(input))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::inherit())
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .current_dir("/")
        .gid(stage.gid)
        .uid(stage.uid);
    // SAFETY: the hook only makes async-signal-safe syscalls.
    unsafe {
        cmd.pre_exec(close_inherited_descriptors);
    }
    let mut child = cmd.spawn().map_err(|e| {
        Error::new(
            Kind::VerifyFailed,
            format!("cannot start the verification program: {e}"),
        )
        .on(Path::new(program))
    })?;

    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= stage.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::new(
                    Kind::VerifyTimeout,
                    format!(
                        "the verification program did not finish within {} s; killed",
                        stage.timeout.as_secs()
                    ),
                )
                .on(Path::new(program)));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                return Err(Error::new(
                    Kind::VerifyFailed,
                    format!("cannot wait for the verification program: {e}"),
                ));
            }
        }
    };
    let on = Path::new(program);
    match (status.code(), status.signal()) {
        (Some(0), _) => {}
        (Some(1), _) => {
            return Err(Error::new(
                Kind::VerifySecurity,
                "security violation: the verification program rejected the update (exit 1)",
            )
            .on(shown));
        }
        (Some(code), _) => {
            return Err(Error::new(
                Kind::VerifyFailed,
                format!("the verification program failed (exit {code})"),
            )
            .on(on));
        }
        (None, sig) => {
            return Err(Error::new(
                Kind::VerifyCrashed,
                format!(
                    "the verification program was killed by signal {}",
                    sig.unwrap_or(0)
                ),
            )
            .on(on));
        }
    }
    let written = output.metadata().map(|m| m.len()).unwrap_or(0);
    if written == 0 {
        return Err(Error::new(
            Kind::VerifyNoOutput,
            "the verification program exited 0 but wrote nothing",
        )
        .on(on));
    }
    output
        .seek(SeekFrom::Start(0))
        .map_err(|e| Error::new(Kind::Io, format!("cannot rewind the verified copy: {e}")))?;
    Ok(output)
}

/// Lets the verified copy survive the exec; returns the path swupdate opens it by.
pub fn hand_over(file: File) -> PathBuf {
    let fd = std::os::fd::IntoRawFd::into_raw_fd(file);
    // SAFETY: clearing FD_CLOEXEC on a descriptor we own and deliberately leak to swupdate.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
        }
    }
    PathBuf::from(format!("/proc/self/fd/{fd}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_for_the_copy_and_a_margin_is_enough() {
        assert_eq!(room_problem(10 << 20, 8 << 20), None);
    }

    #[test]
    fn too_little_room_is_refused_before_anything_runs() {
        let p = room_problem(8 << 20, 8 << 20).unwrap();
        assert!(p.contains("bytes free"), "{p}");
    }

    #[test]
    fn leftover_copies_are_removed_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        fs::write(
            d.path().join(format!("{PRIVATE_PREFIX}verified.123")),
            "old",
        )
        .unwrap();
        fs::write(d.path().join("keep"), "x").unwrap();
        clean_leftovers(d.path());
        let left: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, ["keep"]);
    }
}
