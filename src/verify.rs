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
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Kind};
use crate::plan::Verification;
use crate::rootfs::Root;
use crate::system::fs::available_bytes;
use crate::containment::{self, Reaping};
use crate::system::process;
use crate::system::signals;

/// How messages name the program.
const PROGRAM: &str = "the verification program";

/// Names of private copies, so a later start can find a leftover one.
pub const PRIVATE_PREFIX: &str = ".swupdate-launcher-verified.";

/// Free space kept on top of the input's size (the output of a decryption may be a little
/// larger than its input; a filesystem must not be filled to the last block by an update).
const ROOM_MARGIN: u64 = 1 << 20;

/// Removes private copies a crashed earlier start may have left.
pub fn clean_leftovers(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if e.file_name().to_string_lossy().starts_with(PRIVATE_PREFIX) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Whether `free` bytes can hold the verified copy of an input of `size` bytes.
pub fn room_problem(free: u64, size: u64) -> Option<String> {
    let need = size.saturating_add(ROOM_MARGIN);
    (free < need).then(|| format!("{free} bytes free, the verified copy needs up to {need}"))
}

/// The most a download for verification may write into `dir`: it and then its verified copy
/// (as large, and a margin) must both fit in the room there now.
#[cfg(feature = "streaming")]
pub fn download_bound(dir: &Path) -> Result<u64, Error> {
    let free = available_bytes(dir).unwrap_or(u64::MAX);
    download_bound_in(free).ok_or_else(|| {
        Error::new(
            Kind::VerifyNoRoom,
            format!("{free} bytes free: no room for a download and its verified copy"),
        )
        .on(dir)
    })
}

/// `download_bound` for `free` bytes: half of what the margin leaves, `None` when nothing.
#[cfg(feature = "streaming")]
pub fn download_bound_in(free: u64) -> Option<u64> {
    Some(free.checked_sub(ROOM_MARGIN)? / 2).filter(|b| *b > 0)
}

/// Whether a file of `mode`, owned by `owner`:`group`, is readable by `uid`:`gid` (the
/// verification user has no supplementary groups).
pub fn may_read(mode: u32, owner: u32, group: u32, uid: u32, gid: u32) -> bool {
    if uid == owner {
        mode & 0o400 != 0
    } else if gid == group {
        mode & 0o040 != 0
    } else {
        mode & 0o004 != 0
    }
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

/// Refuses when `dir` cannot hold a copy of `size` bytes; returns the bound on the copy.
pub fn check_room(dir: &Path, size: u64) -> Result<u64, Error> {
    let need = size.saturating_add(ROOM_MARGIN);
    match available_bytes(dir).and_then(|free| room_problem(free, size)) {
        Some(problem) => Err(Error::new(Kind::VerifyNoRoom, problem).on(dir)),
        None => Ok(need),
    }
}

/// Below this much free space after a failure, the file system is taken to have filled up
/// under the program (it cannot tell us its write failed with ENOSPC; its exit code is its own).
const FULL_BELOW: u64 = 64 << 10;

/// How the program ended, as the launcher judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    Signal(i32),
}

/// The verdict on a finished program from what can be observed: how it ended, how much it
/// wrote against its bound, and the free space left. Causes the launcher can see beat the
/// program's own word: a copy at its bound is too large whatever the exit code, and a failure
/// on a full file system is a lack of room, never a "security violation".
pub fn verdict(ending: Ending, written: u64, bound: u64, free_after: Option<u64>) -> Option<Kind> {
    let failed = ending != Ending::Exited(0);
    if written >= bound {
        return Some(Kind::VerifyTooLarge);
    }
    if failed && free_after.is_some_and(|f| f < FULL_BELOW) {
        return Some(Kind::VerifyNoRoom);
    }
    match ending {
        Ending::Exited(0) if written == 0 => Some(Kind::VerifyNoOutput),
        Ending::Exited(0) => None,
        Ending::Exited(1) => Some(Kind::VerifySecurity),
        Ending::Exited(_) => Some(Kind::VerifyFailed),
        Ending::Signal(_) => Some(Kind::VerifyCrashed),
    }
}

fn verdict_message(kind: Kind, ending: Ending, written: u64, bound: u64) -> String {
    let how = match ending {
        Ending::Exited(c) => format!("exit {c}"),
        Ending::Signal(s) => format!("signal {s}"),
    };
    match kind {
        Kind::VerifyTooLarge => format!(
            "the verification program wrote {written} bytes, its bound (the update's size and a margin, the room checked beforehand); stopped ({how})"
        ),
        Kind::VerifyNoRoom => format!(
            "the file system of the verified copy filled up while the program wrote it ({written} of at most {bound} bytes; {how}); not a verdict on the update"
        ),
        Kind::VerifyNoOutput => "the verification program exited 0 but wrote nothing".into(),
        Kind::VerifySecurity => {
            "security violation: the verification program rejected the update (exit 1)".into()
        }
        Kind::VerifyFailed => format!("the verification program failed ({how})"),
        _ => match ending {
            Ending::Signal(s) => format!("the verification program was killed by signal {s}"),
            Ending::Exited(_) => format!("the verification program failed ({how})"),
        },
    }
}

/// Runs the stage the plan describes (all of it from the image's conf.d; its paths placed under
/// `root`) on `input` (the update, read from its start; `shown` names it in messages); returns
/// the verified copy: a read-only descriptor, positioned at its start, that no process of the
/// program can write any more. [`prepare`] the directory first.
///
/// Containment, in order:
/// - the program gets its own process group, dies with the launcher (PDEATHSIG), and cannot
///   write a file larger than the room checked beforehand (RLIMIT_FSIZE, inherited by
///   everything it starts);
/// - when it exits, or at the timeout, its whole group is killed, and any descendant that left
///   the group is found (the launcher is its subreaper) and killed too; all are reaped. A
///   cgroup would do the same in one write, but inside a service the launcher owns no cgroup
///   it could create one under (systemd's unit cgroup is not delegated); systemd still kills
///   the unit's cgroup when the service stops;
/// - only then is the copy judged and opened again read-only (`/proc/self/fd/N`, O_RDONLY):
///   the file has no name, so its only writers were the descriptors the program held, and
///   they died with it. Sealing (`F_SEAL_WRITE`) would say the same to the kernel, but seals
///   exist only for memfd/tmpfs, i.e. RAM, and a pack does not fit in a device's RAM.
pub fn run(stage: &Verification, root: &Root, input: File, shown: &Path) -> Result<File, Error> {
    let program = &stage.program.value;
    let on = &root.host(&program.path);
    let dir = &root.host(&stage.dir.value);
    containment::dedicated(stage.user.value.uid, PROGRAM).map_err(|why| Error::new(Kind::VerifyUserShared, why).on(on).hint(
        "give SWUPDATE_VERIFY_USER a uid of its own, which no daemon or login uses (not 65534, nobody, where other daemons run)",
    ))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let bound = check_room(dir, size)?;
    let output = private_file(dir, "verified")?;
    let sink = output
        .try_clone()
        .map_err(|e| Error::new(Kind::Io, format!("cannot duplicate a descriptor: {e}")))?;

    let mut cmd = containment::command(on, stage.user.value, bound);
    cmd.args(&program.args)
        .stdin(Stdio::from(input))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let reaping =
        Reaping::start(PROGRAM).map_err(|why| Error::new(Kind::VerifyFailed, why))?;
    let timeout = Duration::from_secs(stage.timeout.value.into());
    let result = supervise(&mut cmd, timeout, on, sink, bound);
    drop(reaping);
    let (ending, drained) = result?;

    if let Some(e) = &drained.write_error {
        return Err(copy_write_failure(e, drained.written, bound).on(dir));
    }
    let written = drained.written;
    if let Some(kind) = verdict(ending, written, bound, available_bytes(dir)) {
        let message = verdict_message(kind, ending, written, bound);
        let at = if kind == Kind::VerifySecurity {
            shown
        } else {
            on
        };
        return Err(Error::new(kind, message).on(at));
    }
    reopen_read_only(&output)
}

/// The launcher's write of the verified copy failed: the copy is incomplete whatever the
/// program's verdict.
fn copy_write_failure(e: &std::io::Error, written: u64, bound: u64) -> Error {
    match e.raw_os_error() {
        Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG) => Error::new(
            Kind::VerifyNoRoom,
            format!(
                "the file system of the verified copy filled up while it was written ({written} of at most {bound} bytes): {e}; not a verdict on the update"
            ),
        ),
        _ => Error::new(Kind::Io, format!("cannot write the verified copy: {e}")),
    }
}

/// What the launcher copies from the program's output pipe into the verified copy. The program
/// never holds a descriptor of the copy, so nothing it (or a process that took its descriptors)
/// does after the pipe is drained can change the bytes that are judged and installed.
#[derive(Debug)]
struct Drained<W> {
    to: W,
    bound: u64,
    /// Bytes written to the copy (at most the bound: reading stops there).
    written: u64,
    /// The copy could not be written (a full file system): it is incomplete.
    write_error: Option<std::io::Error>,
}

impl<W: std::io::Write> Drained<W> {
    fn new(to: W, bound: u64) -> Self {
        Drained {
            to,
            bound,
            written: 0,
            write_error: None,
        }
    }

    /// Copies one chunk that `from` has; false once the output ended, the bound was reached
    /// (the pipe is then closed: the program's next write fails) or the copy failed.
    fn step(&mut self, from: &mut impl std::io::Read, buf: &mut [u8]) -> bool {
        let room = usize::try_from(self.bound - self.written).unwrap_or(usize::MAX);
        let want = buf.len().min(room);
        let n = match from.read(&mut buf[..want]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        if let Err(e) = self.to.write_all(&buf[..n]) {
            self.write_error = Some(e);
            return false;
        }
        self.written += n as u64;
        self.written < self.bound
    }
}

/// The program's output pipe, drained while it runs (one thread: the launcher polls it).
struct Pump<W> {
    pipe: Option<std::process::ChildStdout>,
    drained: Drained<W>,
    buf: Vec<u8>,
}

impl<W: std::io::Write> Pump<W> {
    /// Waits up to `wait` for output and copies what came; sleeps once the pipe is closed.
    fn run(&mut self, wait: Duration) {
        let Some(pipe) = self.pipe.as_mut() else {
            std::thread::sleep(wait);
            return;
        };
        if process::readable_within(&*pipe, wait) && !self.drained.step(pipe, &mut self.buf) {
            self.pipe = None;
        }
    }
}

/// How long the output pipe may stay open after the program and everything it started are
/// gone: only a process outside them, which took a descriptor of the pipe, can hold it.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Starts the program with its output drained into `sink`, waits for it within the timeout,
/// contains what it left, then drains the pipe to its end.
fn supervise(
    cmd: &mut Command,
    timeout: Duration,
    on: &Path,
    sink: File,
    bound: u64,
) -> Result<(Ending, Drained<File>), Error> {
    // A stop of the launcher (systemd's SIGTERM) from the spawn on kills the program's whole
    // group, not only the program (which dies with the launcher by PDEATHSIG).
    let mut child = signals::group_killed_on_stop(|| {
        let child = cmd.spawn()?;
        let group = child.id();
        Ok((child, group))
    })
    .map_err(|e| {
        Error::new(
            Kind::VerifyFailed,
            format!("cannot execute the verification program: {e}"),
        )
        .on(on)
    })?;
    let mut pump = Pump {
        pipe: child.stdout.take(),
        drained: Drained::new(sink, bound),
        buf: vec![0u8; 64 << 10],
    };
    // Its own group: the group's id is its pid.
    let pgid = child.id() as libc::pid_t;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if started.elapsed() >= timeout => {
                break Err(Error::new(
                    Kind::VerifyTimeout,
                    format!(
                        "the verification program did not finish within {} s; killed with everything it started",
                        timeout.as_secs()
                    ),
                )
                .on(on));
            }
            Ok(None) => pump.run(Duration::from_millis(10)),
            Err(e) => {
                break Err(Error::new(
                    Kind::VerifyFailed,
                    format!("cannot wait for the verification program: {e}"),
                ));
            }
        }
    };
    let contained = containment::contain(pgid, PROGRAM);
    signals::forget_group();
    contained.map_err(|why| Error::new(Kind::VerifyFailed, why).on(on))?;
    let status = status?;
    let contained = Instant::now();
    while pump.pipe.is_some() {
        if contained.elapsed() >= DRAIN_LIMIT {
            return Err(Error::new(
                Kind::VerifyFailed,
                format!(
                    "the verification program's output was still open {} s after it and everything it started had ended: another process holds it; refused",
                    DRAIN_LIMIT.as_secs()
                ),
            )
            .on(on));
        }
        pump.run(Duration::from_millis(50));
    }
    let ending = match (status.code(), status.signal()) {
        (Some(code), _) => Ending::Exited(code),
        (None, sig) => Ending::Signal(sig.unwrap_or(0)),
    };
    Ok((ending, pump.drained))
}

/// A fresh read-only descriptor of the copy, at its start; the writable ones are closed.
fn reopen_read_only(output: &File) -> Result<File, Error> {
    let fd = std::os::fd::AsRawFd::as_raw_fd(output);
    File::open(format!("/proc/self/fd/{fd}")).map_err(|e| {
        Error::new(
            Kind::Io,
            format!("cannot reopen the verified copy read-only: {e}"),
        )
    })
}

/// Lets the verified copy survive the exec; returns the path swupdate opens it by.
pub fn hand_over(file: File) -> PathBuf {
    let fd = crate::exec::inherit(file);
    PathBuf::from(format!("/proc/self/fd/{fd}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "streaming")]
    fn a_download_may_fill_half_the_room_the_margin_leaves() {
        assert_eq!(download_bound_in(ROOM_MARGIN + 10), Some(5));
        assert_eq!(download_bound_in(ROOM_MARGIN + 1), None);
        assert_eq!(download_bound_in(0), None);
    }

    /// Steps until the output ends, the bound or a failure.
    fn drain<W: std::io::Write>(mut from: impl std::io::Read, to: W, bound: u64) -> Drained<W> {
        let mut d = Drained::new(to, bound);
        let mut buf = vec![0u8; 4096];
        while d.step(&mut from, &mut buf) {}
        d
    }

    #[test]
    fn the_output_is_copied_whole_below_the_bound() {
        let d = drain(&b"the verified pack"[..], Vec::new(), 1 << 20);
        assert_eq!(d.to, b"the verified pack");
        assert_eq!(d.written, 17);
        assert!(d.write_error.is_none());
    }

    #[test]
    fn the_output_is_cut_at_the_bound() {
        let d = drain(std::io::repeat(b'x'), Vec::new(), 100_000);
        assert_eq!((d.written, d.to.len()), (100_000, 100_000));
    }

    #[test]
    fn a_copy_that_cannot_be_written_is_reported_incomplete() {
        struct Full;
        impl std::io::Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let d = drain(&b"pack"[..], Full, 1 << 20);
        let e = d.write_error.expect("the failure is reported");
        assert_eq!(
            copy_write_failure(&e, d.written, 1 << 20).kind,
            Kind::VerifyNoRoom
        );
    }

    #[test]
    fn the_verification_program_never_runs_as_root() {
        assert!(containment::dedicated(0, PROGRAM).is_err());
    }

    #[test]
    fn the_verification_user_reads_only_what_its_permissions_allow() {
        assert!(may_read(0o644, 0, 0, 65534, 65534));
        assert!(!may_read(0o600, 0, 0, 65534, 65534), "root's alone");
        assert!(!may_read(0o640, 0, 42, 65534, 65534), "a group it is not in");
        assert!(may_read(0o640, 0, 65534, 65534, 65534));
        assert!(may_read(0o400, 65534, 0, 65534, 65534));
        assert!(!may_read(0o044, 65534, 0, 65534, 65534), "owner bits decide for the owner");
    }

    #[test]
    fn room_for_the_copy_and_a_margin_is_enough() {
        assert_eq!(room_problem(10 << 20, 8 << 20), None);
    }

    #[test]
    fn too_little_room_is_refused_before_anything_runs() {
        let p = room_problem(8 << 20, 8 << 20).unwrap();
        assert!(p.contains("bytes free"), "{p}");
    }

    const BOUND: u64 = 10 << 20;
    const ROOMY: Option<u64> = Some(1 << 30);

    #[test]
    fn exit_1_with_room_left_is_a_security_violation() {
        assert_eq!(
            verdict(Ending::Exited(1), 5, BOUND, ROOMY),
            Some(Kind::VerifySecurity)
        );
    }

    #[test]
    fn a_failure_on_a_full_file_system_is_no_room_whatever_the_exit_code() {
        for e in [Ending::Exited(1), Ending::Exited(2), Ending::Signal(9)] {
            assert_eq!(
                verdict(e, 5, BOUND, Some(4096)),
                Some(Kind::VerifyNoRoom),
                "{e:?}"
            );
        }
    }

    #[test]
    fn a_copy_at_its_bound_is_too_large_even_after_exit_0() {
        assert_eq!(
            verdict(Ending::Exited(0), BOUND, BOUND, ROOMY),
            Some(Kind::VerifyTooLarge)
        );
        assert_eq!(
            verdict(Ending::Signal(libc::SIGXFSZ), BOUND, BOUND, ROOMY),
            Some(Kind::VerifyTooLarge)
        );
    }

    #[test]
    fn exit_0_with_output_is_approval() {
        assert_eq!(verdict(Ending::Exited(0), 5, BOUND, Some(0)), None);
    }

    #[test]
    fn exit_0_without_output_is_no_output() {
        assert_eq!(
            verdict(Ending::Exited(0), 0, BOUND, ROOMY),
            Some(Kind::VerifyNoOutput)
        );
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
