//! What the launcher undoes when it is told to stop (SIGTERM from systemd, SIGINT, SIGHUP)
//! before swupdate runs: the verification program's process group is killed (`kill`, one
//! system call: the program's children die with the launcher, not only the program, which has
//! PDEATHSIG), and a claimed handoff is given back (`renameat2(RENAME_NOREPLACE)`); then the
//! launcher dies of the signal as it would have. Both are async-signal-safe.
//!
//! The handler is installed while either is pending and the former dispositions come back
//! when neither is ([`disarm`], [`forget_group`]).

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
/// The verification program's process group (0: none running).
static GROUP: AtomicI32 = AtomicI32::new(0);
/// The dispositions the handler replaced, put back once nothing is pending.
static SAVED: Mutex<Vec<(libc::c_int, libc::sigaction)>> = Mutex::new(Vec::new());

extern "C" fn undo_and_die(sig: libc::c_int) {
    let group = GROUP.swap(0, Ordering::SeqCst);
    if group > 1 {
        // SAFETY: kill is async-signal-safe; a group id above 1 names only that group.
        unsafe { libc::kill(-group, libc::SIGKILL) };
    }
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
    held_back(|| {
        let result = claim();
        if result.is_ok() {
            arm(dir, from, to);
        }
        result
    })
}

/// Runs `start` (the spawn of the verification program, in a process group of its own) with
/// the stop signals held back and, when it returns a group id, has a stop signal kill that
/// group until [`forget_group`]: no moment exists in which the program runs but would outlive
/// a stop of the launcher. The child must unblock the signals itself ([`unblock_stop_signals`]).
pub fn group_killed_on_stop<T>(start: impl FnOnce() -> io::Result<(T, u32)>) -> io::Result<T> {
    held_back(|| {
        let (t, group) = start()?;
        let group = libc::pid_t::try_from(group).unwrap_or(0);
        if group > 1 {
            GROUP.store(group, Ordering::SeqCst);
            install();
        }
        Ok(t)
    })
}

/// The program's group is contained (killed and reaped): a stop signal no longer names it.
pub fn forget_group() {
    GROUP.store(0, Ordering::SeqCst);
    restore_when_idle();
}

/// In a child between fork and exec (async-signal-safe): the stop signals held back by
/// [`group_killed_on_stop`] are let through again, so the program can be stopped.
pub fn unblock_stop_signals() {
    // SAFETY: an all-zero sigset_t is a valid (empty) set; the calls only touch it and the
    // calling thread's mask, and are async-signal-safe.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in SIGNALS {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

/// Runs `f` with the stop signals blocked; one that came meanwhile is handled after.
fn held_back<T>(f: impl FnOnce() -> T) -> T {
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
    let result = f();
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
    install();
}

/// Installs the handler, once, saving the dispositions it replaces.
fn install() {
    let mut saved = SAVED.lock().unwrap_or_else(|p| p.into_inner());
    if !saved.is_empty() {
        return;
    }
    for s in SIGNALS {
        // SAFETY: an all-zero sigaction is valid; sigaction installs a handler that only makes
        // async-signal-safe calls, and saves the old disposition into `old`.
        unsafe {
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = undo_and_die as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut new.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(s, &new, &mut old) == 0 {
                saved.push((s, old));
            }
        }
    }
}

/// The claim is no longer to be given back on a stop (swupdate is about to run, or the claim
/// was given back already): the stop signals get their former dispositions (unless a
/// verification program's group is still to be killed on a stop).
pub fn disarm() {
    let dir = DIR.swap(-1, Ordering::SeqCst);
    if dir >= 0 {
        // SAFETY: the duplicate made by arm, owned here and closed once.
        unsafe { libc::close(dir) };
    }
    restore_when_idle();
}

/// Puts back the former dispositions when neither a claim nor a group is pending.
fn restore_when_idle() {
    if DIR.load(Ordering::SeqCst) >= 0 || GROUP.load(Ordering::SeqCst) != 0 {
        return;
    }
    let mut saved = SAVED.lock().unwrap_or_else(|p| p.into_inner());
    for (s, old) in saved.drain(..) {
        // SAFETY: puts back a disposition sigaction itself returned.
        unsafe { libc::sigaction(s, &old, std::ptr::null_mut()) };
    }
}
