//! Processes: the verification program's confinement between fork and exec, the launcher as
//! the subreaper of its descendants, `kill` and `waitpid` of processes std did not spawn, a
//! pipe with `poll` for reading a probe's output within a deadline, a helper tool run with its
//! input, output and time bounded ([`run_bounded`]), and the launcher's effective uid (whose
//! lock it is).

use std::fs::File;
use std::io;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::last_error;

/// Has `cmd`'s child, between fork and exec: die with the launcher (`PR_SET_PDEATHSIG`), write
/// no file beyond `max_file` bytes (`RLIMIT_FSIZE`), and inherit no descriptor above stderr.
pub fn confine(cmd: &mut Command, max_file: u64) {
    // SAFETY: the hook only makes async-signal-safe system calls (`confine_child`).
    unsafe {
        cmd.pre_exec(move || confine_child(max_file));
    }
}

/// The child's side of [`confine`] (async-signal-safe calls only).
fn confine_child(max_file: u64) -> io::Result<()> {
    // After the uid change (std switches uid before these hooks run), so it is kept.
    // SAFETY: prctl on the calling process with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
    // SAFETY: getppid has no arguments.
    if unsafe { libc::getppid() } == 1 {
        // The launcher died before the line above.
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    let lim = libc::rlimit {
        rlim_cur: max_file as libc::rlim_t,
        rlim_max: max_file as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the local struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &lim) } != 0 {
        return last_error();
    }
    cloexec_inherited_descriptors();
    // The launcher held the stop signals back while it spawned (signals::group_killed_on_stop).
    super::signals::unblock_stop_signals();
    Ok(())
}

/// Sets close-on-exec on every descriptor above stderr; runs in the child between fork and
/// exec, so only async-signal-safe calls.
///
/// Close-on-exec, not close: std reports a failed `execve` to the parent through a pipe it
/// opened close-on-exec. Closing it here would make an unrunnable program look like a crash
/// of the child (std aborts when it cannot report); with the flag, the pipe lives until the
/// exec succeeds and a failure comes back from `spawn` as the error it is.
fn cloexec_inherited_descriptors() {
    // SAFETY: close_range with integer arguments only sets flags on the child's descriptors.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return;
    }
    // Kernels before 5.11 have no CLOSE_RANGE_CLOEXEC: the same, one descriptor at a time.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into the local struct.
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur.min(65536) as i32
    } else {
        1024
    };
    for fd in 3..max {
        // SAFETY: fcntl with integer arguments on the child's descriptor table; a number that
        // is not open fails with EBADF.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

/// Makes the launcher the "init" of its descendants (`PR_SET_CHILD_SUBREAPER`) or stops it: a
/// process that loses its parent is re-parented to the launcher instead of to pid 1.
pub fn set_child_subreaper(on: bool) -> io::Result<()> {
    // SAFETY: prctl on the calling process with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, libc::c_ulong::from(on)) } != 0 {
        return last_error();
    }
    Ok(())
}

/// The launcher's effective uid (`geteuid`; root on a device).
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

/// A process id of one process or group: never 0, -1 or 1 (which `kill` would take for the
/// caller's group, every process, or init).
fn target(pid: libc::pid_t) -> io::Result<libc::pid_t> {
    if pid > 1 {
        Ok(pid)
    } else {
        Err(io::Error::from_raw_os_error(libc::ESRCH))
    }
}

/// `kill(pid, SIGKILL)`.
pub fn kill(pid: libc::pid_t) -> io::Result<()> {
    let pid = target(pid)?;
    // SAFETY: kill with integer arguments; no memory is involved.
    if unsafe { libc::kill(pid, libc::SIGKILL) } != 0 {
        return last_error();
    }
    Ok(())
}

/// `kill(-pgid, SIGKILL)`: every process of the group `pgid`.
pub fn kill_group(pgid: libc::pid_t) -> io::Result<()> {
    let pgid = target(pgid)?;
    // SAFETY: kill with integer arguments; no memory is involved.
    if unsafe { libc::kill(-pgid, libc::SIGKILL) } != 0 {
        return last_error();
    }
    Ok(())
}

/// What [`reap_any`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaped {
    /// A child that had ended was waited for.
    One,
    /// Children are alive, none has ended.
    NoneEnded,
    /// The launcher has no children.
    NoChildren,
    /// waitpid failed otherwise.
    Failed,
}

/// `waitpid(-1, WNOHANG)`: reaps one ended child of the launcher, whoever spawned it.
pub fn reap_any() -> Reaped {
    let mut status = 0;
    // SAFETY: waitpid writes only the local status.
    let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    match r {
        r if r > 0 => Reaped::One,
        0 => Reaped::NoneEnded,
        _ if io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) => Reaped::NoChildren,
        _ => Reaped::Failed,
    }
}

/// A pipe, both ends close-on-exec: (read end, write end). std's `io::pipe` is 1.87, above the
/// MSRV.
pub fn pipe() -> io::Result<(File, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into the local array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return last_error();
    }
    // SAFETY: both descriptors were just opened here and nothing else owns them.
    Ok(unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Whether `fd` has something to read (or its end) within `within` (`poll`).
pub fn readable_within(fd: impl AsFd, within: Duration) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = within.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: poll reads and writes the one local pollfd, whose descriptor `fd` keeps open.
    unsafe { libc::poll(&mut p, 1, ms) > 0 }
}

/// How a [`run_bounded`] child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It exited (or was killed by a signal someone else sent) within the time.
    Exited(ExitStatus),
    /// It was still running at the deadline and was killed.
    TimedOut,
    /// It wrote more than the bound and was killed.
    TooMuchOutput,
}

/// What a [`run_bounded`] child wrote, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounded {
    pub ended: Ended,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Most bytes [`run_bounded`] gives a child on stdin: one pipe buffer's minimum (a page), so
/// the write never blocks, whatever the child does.
pub const MAX_INPUT: usize = 4096;

/// Runs `cmd` with `input` (at most [`MAX_INPUT`] bytes) on its stdin (nothing: `/dev/null`),
/// its stdout and stderr read apart, at most `max_output` bytes of both together and at most
/// `within`: a child past either bound is killed and waited for. Returns `Err` only when it
/// cannot be spawned (or the input is too long).
pub fn run_bounded(
    cmd: &mut Command,
    input: &[u8],
    max_output: usize,
    within: Duration,
) -> io::Result<Bounded> {
    if input.len() > MAX_INPUT {
        return Err(io::Error::other(format!(
            "{} bytes of input, at most {MAX_INPUT}",
            input.len()
        )));
    }
    let deadline = Instant::now() + within;
    cmd.stdin(if input.is_empty() {
        Stdio::null()
    } else {
        Stdio::piped()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    // The whole input fits the pipe's buffer: written at once, then the pipe is closed.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(io::Error::other("the child's output pipes are missing"));
    };
    let mut bounded = collect(out, err, max_output, deadline);
    bounded.ended = match bounded.ended {
        Ended::Exited(_) => wait_until(&mut child, deadline),
        other => {
            let _ = child.kill();
            let _ = child.wait();
            other
        }
    };
    Ok(bounded)
}

/// Reads both pipes until both end, the deadline passes or `max_output` is exceeded (then
/// `ended` says which; `Exited` is a placeholder the caller replaces).
fn collect(
    mut out: std::process::ChildStdout,
    mut err: std::process::ChildStderr,
    max_output: usize,
    deadline: Instant,
) -> Bounded {
    let placeholder = Ended::Exited(ExitStatus::default());
    let mut b = Bounded {
        ended: placeholder,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let (mut out_open, mut err_open) = (true, true);
    let mut buf = [0u8; 4096];
    while out_open || err_open {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            b.ended = Ended::TimedOut;
            break;
        }
        let fds = [
            out_open.then(|| out.as_raw_fd()),
            err_open.then(|| err.as_raw_fd()),
        ];
        let [out_ready, err_ready] = poll_readable(fds, left);
        for (ready, open, pipe, text) in [
            (
                out_ready,
                &mut out_open,
                &mut out as &mut dyn Read,
                &mut b.stdout,
            ),
            (
                err_ready,
                &mut err_open,
                &mut err as &mut dyn Read,
                &mut b.stderr,
            ),
        ] {
            if !ready {
                continue;
            }
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => *open = false,
                Ok(n) => text.extend_from_slice(&buf[..n]),
            }
        }
        if b.stdout.len() + b.stderr.len() > max_output {
            b.ended = Ended::TooMuchOutput;
            break;
        }
    }
    b
}

/// Waits for `child` until `deadline`; kills it past that.
fn wait_until(child: &mut Child, deadline: Instant) -> Ended {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ended::Exited(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Ended::TimedOut;
            }
        }
    }
}

/// Which of (up to) two descriptors have something to read, or their end, within `within`
/// (`poll`); `None` entries are not watched and come back `false`.
fn poll_readable(fds: [Option<std::os::fd::RawFd>; 2], within: Duration) -> [bool; 2] {
    let mut p = fds.map(|fd| libc::pollfd {
        fd: fd.unwrap_or(-1),
        events: libc::POLLIN,
        revents: 0,
    });
    let ms = within.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: poll reads and writes the local array of two pollfds; a negative fd is ignored by
    // poll, and the open ones are kept open by the caller's pipes.
    let r = unsafe { libc::poll(p.as_mut_ptr(), 2, ms) };
    if r <= 0 {
        return [false, false];
    }
    p.map(|p| p.fd >= 0 && p.revents != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_refuses_the_ids_that_name_more_than_one_process_or_init() {
        // kill(0) would be this test's own group, kill(-1) every process, 1 init.
        for pid in [0, -1, 1, -5] {
            assert!(kill(pid).is_err(), "kill({pid})");
            assert!(kill_group(pid).is_err(), "kill_group({pid})");
        }
    }

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", script]);
        cmd
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_bounded_run_keeps_stdout_and_stderr_apart_and_feeds_stdin() {
        let b = run_bounded(
            &mut sh("cat; echo oops >&2; exit 3"),
            b"in\n",
            1024,
            5 * SECOND,
        )
        .unwrap();
        assert_eq!(b.stdout, b"in\n");
        assert_eq!(b.stderr, b"oops\n");
        assert!(matches!(b.ended, Ended::Exited(s) if s.code() == Some(3)));
    }

    #[test]
    fn a_bounded_run_past_its_time_is_killed() {
        let started = Instant::now();
        let b = run_bounded(&mut sh("exec sleep 30"), b"", 1024, SECOND / 5).unwrap();
        assert_eq!(b.ended, Ended::TimedOut);
        assert!(started.elapsed() < 10 * SECOND);
    }

    #[test]
    fn a_bounded_run_that_closes_its_output_and_lingers_is_killed_at_the_deadline() {
        let b = run_bounded(&mut sh("exec >&- 2>&-; sleep 30"), b"", 1024, SECOND / 5).unwrap();
        assert_eq!(b.ended, Ended::TimedOut);
    }

    #[test]
    fn a_bounded_run_that_writes_too_much_is_killed() {
        let b = run_bounded(&mut sh("yes"), b"", 10_000, 5 * SECOND).unwrap();
        assert_eq!(b.ended, Ended::TooMuchOutput);
        assert!(b.stdout.len() <= 10_000 + 4096);
    }

    #[test]
    fn input_beyond_a_pipe_buffer_is_refused_before_anything_runs() {
        let big = vec![b'x'; MAX_INPUT + 1];
        assert!(run_bounded(&mut sh("cat"), &big, 10, SECOND).is_err());
    }

    #[test]
    fn a_program_that_cannot_be_spawned_is_an_error() {
        let mut cmd = Command::new("/nonexistent/tool");
        assert!(run_bounded(&mut cmd, b"", 10, SECOND).is_err());
    }
}
