//! Processes: the verification program's confinement between fork and exec, the launcher as
//! the subreaper of its descendants, `kill` and `waitpid` of processes std did not spawn, a
//! pipe with `poll` for reading a probe's output within a deadline, and the launcher's
//! effective uid (whose lock it is).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

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
}
