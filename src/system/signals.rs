//! A claimed handoff given back when the launcher is told to stop (SIGTERM from systemd, SIGINT,
//! SIGHUP) before swupdate runs: the handler renames the claimed descriptor back
//! (`renameat2(RENAME_NOREPLACE)`, async-signal-safe: one system call), then dies of the signal
//! as it would have.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

const SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// A duplicate of the claimed descriptor's directory (-1: nothing to give back).
static DIR: AtomicI32 = AtomicI32::new(-1);
/// The claimed name and the name to give it back under.
static FROM: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());
static TO: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());
/// The dispositions the handler replaced, put back by [`disarm`].
static SAVED: Mutex<Vec<(libc::c_int, libc::sigaction)>> = Mutex::new(Vec::new());

extern "C" fn give_back_and_die(sig: libc::c_int) {
    let dir = DIR.swap(-1, Ordering::SeqCst);
    let (from, to) = (FROM.load(Ordering::SeqCst), TO.load(Ordering::SeqCst));
    // SAFETY: renameat2 (a system call), signal and raise are async-signal-safe; the names
    // are 'static C strings and `dir` a descriptor this module owns.
    unsafe {
        if dir >= 0 && !from.is_null() && !to.is_null() {
            libc::syscall(
                libc::SYS_renameat2,
                dir,
                from,
                dir,
                to,
                libc::RENAME_NOREPLACE,
            );
        }
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Runs `claim` (the rename of `to` to `from` in `dir`) with the stop signals held back, and,
/// when it succeeds, arms the handler that renames `from` back to `to` if a stop signal comes
/// before [`disarm`]: no moment exists in which the claim is made but would be lost.
pub fn claim_given_back_on_stop<T>(
    dir: BorrowedFd<'_>,
    from: &'static CStr,
    to: &'static CStr,
    claim: impl FnOnce() -> io::Result<T>,
) -> io::Result<T> {
    // SAFETY: an all-zero sigset_t is a valid (empty) set.
    let mut block: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: sigemptyset/sigaddset/pthread_sigmask only touch the sets owned here and the
    // calling thread's mask.
    unsafe {
        libc::sigemptyset(&mut block);
        for s in SIGNALS {
            libc::sigaddset(&mut block, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old);
    }
    let result = claim();
    if result.is_ok() {
        arm(dir, from, to);
    }
    // SAFETY: puts back the mask saved above; a stop signal that came meanwhile runs now.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    result
}

fn arm(dir: BorrowedFd<'_>, from: &'static CStr, to: &'static CStr) {
    // SAFETY: F_DUPFD_CLOEXEC duplicates a descriptor the caller keeps open; the duplicate is
    // this module's (closed by disarm, and close-on-exec).
    let dup = unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return;
    }
    FROM.store(from.as_ptr().cast_mut(), Ordering::SeqCst);
    TO.store(to.as_ptr().cast_mut(), Ordering::SeqCst);
    DIR.store(dup, Ordering::SeqCst);
    let mut saved = SAVED.lock().unwrap_or_else(|p| p.into_inner());
    for s in SIGNALS {
        // SAFETY: an all-zero sigaction is valid; sigaction installs a handler that only makes
        // async-signal-safe calls, and saves the old disposition into `old`.
        unsafe {
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = give_back_and_die as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut new.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(s, &new, &mut old) == 0 {
                saved.push((s, old));
            }
        }
    }
}

/// The claim is no longer to be given back on a stop (swupdate is about to run, or the claim
/// was given back already): the stop signals get their former dispositions.
pub fn disarm() {
    let dir = DIR.swap(-1, Ordering::SeqCst);
    let mut saved = SAVED.lock().unwrap_or_else(|p| p.into_inner());
    for (s, old) in saved.drain(..) {
        // SAFETY: puts back a disposition sigaction itself returned.
        unsafe { libc::sigaction(s, &old, std::ptr::null_mut()) };
    }
    if dir >= 0 {
        // SAFETY: the duplicate made by arm, owned here and closed once.
        unsafe { libc::close(dir) };
    }
}
