//! What swupdate inherits through the exec: the descriptors the launcher hands it (the lock,
//! the verified copy), the blocked-signal mask, and the SIGPIPE disposition the launcher was
//! started with, which Rust's runtime changes before `main` (see src/exec.rs).

use std::fs::File;
use std::os::fd::{IntoRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

static SIGPIPE_WAS_IGNORED: AtomicBool = AtomicBool::new(false);

/// Runs from `.init_array`, before the Rust runtime touches SIGPIPE.
extern "C" fn record_sigpipe() {
    // SAFETY: an all-zero sigaction is a valid value of this plain C struct.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: sigaction with a null new action only reads the current disposition into `old`.
    if unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) } == 0 {
        SIGPIPE_WAS_IGNORED.store(old.sa_sigaction == libc::SIG_IGN, Ordering::Relaxed);
    }
}

// The one way to run before Rust's runtime: an `.init_array` entry (what C's constructors are).
#[used]
#[unsafe(link_section = ".init_array")]
static RECORD_SIGPIPE: extern "C" fn() = record_sigpipe;

/// Whether the launcher was started with SIGPIPE ignored (recorded before Rust's runtime ran).
pub fn sigpipe_was_ignored() -> bool {
    SIGPIPE_WAS_IGNORED.load(Ordering::Relaxed)
}

/// Lets a descriptor the launcher opened survive the exec (its own are close-on-exec) by
/// clearing its `FD_CLOEXEC`. Returns the descriptor number, which stays open for good.
pub fn inherit(file: File) -> RawFd {
    let fd = file.into_raw_fd();
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

/// Has `cmd` put back, right before its `execve`, the calling thread's signal mask of now
/// and SIGPIPE ignored when `ignore_sigpipe`: `Command` resets SIGPIPE before it runs the
/// pre_exec hooks, and some std versions also empty the blocked-signal mask.
pub fn keep_signals(cmd: &mut Command, ignore_sigpipe: bool) {
    // SAFETY: an all-zero sigset_t is a valid (empty) set.
    let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: pthread_sigmask only reads the calling thread's mask into the set we own.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut mask) };
    // SAFETY: the hook makes only async-signal-safe calls (pthread_sigmask, signal) on the way
    // to execve, on a copy of the mask it owns.
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
