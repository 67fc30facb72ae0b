//! Handing over to swupdate: `execve` in place, so swupdate keeps the launcher's PID (systemd's
//! main PID, NOTIFY_SOCKET's sender), every inherited descriptor (socket activation's fds 3..),
//! the environment and the signal mask.
//!
//! One thing Rust changes on the way: its runtime sets SIGPIPE to "ignore" before `main` and
//! `Command` resets it to "default" for the new program. `swupdate.sh` passed on whatever it
//! was given (under systemd, IgnoreSIGPIPE=yes: ignored). So the disposition the launcher was
//! started with is recorded before Rust's runtime runs, and restored for swupdate.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Kind};

static SIGPIPE_WAS_IGNORED: AtomicBool = AtomicBool::new(false);

/// Runs from `.init_array`, before the Rust runtime touches SIGPIPE.
#[allow(unsafe_code)]
extern "C" fn record_sigpipe() {
    // SAFETY: sigaction with a null new action only reads the current disposition into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) == 0 {
            SIGPIPE_WAS_IGNORED.store(old.sa_sigaction == libc::SIG_IGN, Ordering::Relaxed);
        }
    }
}

// The one way to run before Rust's runtime: an `.init_array` entry (what C's constructors are).
#[allow(unsafe_code)]
#[used]
#[unsafe(link_section = ".init_array")]
static RECORD_SIGPIPE: extern "C" fn() = record_sigpipe;

/// Lets a descriptor the launcher opened survive the exec (its own are close-on-exec): the
/// lock and the verified copy are handed to swupdate this way. Returns the descriptor number,
/// which stays open for good.
#[allow(unsafe_code)]
pub fn inherit(file: std::fs::File) -> std::os::fd::RawFd {
    let fd = std::os::fd::IntoRawFd::into_raw_fd(file);
    // SAFETY: fcntl only reads and clears FD_CLOEXEC on a descriptor we own and deliberately
    // leak to the exec'd program; no memory is involved.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
        }
    }
    fd
}

/// Whether the launcher was started with SIGPIPE ignored (and swupdate will be).
pub fn sigpipe_inherited_ignored() -> bool {
    SIGPIPE_WAS_IGNORED.load(Ordering::Relaxed)
}

/// `Command` resets SIGPIPE before it runs the pre_exec hooks, and some std versions also
/// empty the blocked-signal mask; a hook puts back exactly what the launcher was given.
#[allow(unsafe_code)]
fn keep_signals(cmd: &mut Command) {
    // SAFETY: pthread_sigmask only reads the calling thread's mask into the zeroed set we own.
    let mask = unsafe {
        let mut mask: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut mask);
        mask
    };
    let ignore_sigpipe = sigpipe_inherited_ignored();
    // SAFETY: the hook makes only async-signal-safe calls (pthread_sigmask, signal) on the way
    // to execve; there is no fork here, the process itself is replaced.
    unsafe {
        cmd.pre_exec(move || {
            libc::pthread_sigmask(libc::SIG_SETMASK, &mask, std::ptr::null_mut());
            if ignore_sigpipe {
                libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            }
            Ok(())
        });
    }
}

/// Replaces this process with `argv`; returns only if that failed.
pub fn exec(argv: &[String]) -> Error {
    let Some((program, args)) = argv.split_first() else {
        return Error::new(Kind::ExecFailed, "empty argv");
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    keep_signals(&mut cmd);
    let e = cmd.exec();
    let kind = match e.kind() {
        std::io::ErrorKind::NotFound => Kind::ExecNotFound,
        _ => Kind::ExecFailed,
    };
    Error::new(kind, format!("cannot execute swupdate: {e}")).on(std::path::Path::new(program))
}
