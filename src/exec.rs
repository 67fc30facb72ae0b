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
extern "C" fn record_sigpipe() {
    // SAFETY: sigaction with a null new action only reads the current disposition into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) == 0 {
            SIGPIPE_WAS_IGNORED.store(old.sa_sigaction == libc::SIG_IGN, Ordering::Relaxed);
        }
    }
}

#[used]
#[unsafe(link_section = ".init_array")]
static RECORD_SIGPIPE: extern "C" fn() = record_sigpipe;

/// Whether the launcher was started with SIGPIPE ignored (and swupdate will be).
pub fn sigpipe_inherited_ignored() -> bool {
    SIGPIPE_WAS_IGNORED.load(Ordering::Relaxed)
}

/// Replaces this process with `argv`; returns only if that failed.
pub fn exec(argv: &[String]) -> Error {
    let Some((program, args)) = argv.split_first() else {
        return Error::new(Kind::ExecFailed, "empty argv");
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    if sigpipe_inherited_ignored() {
        // SAFETY: signal() is async-signal-safe; nothing else runs between fork-less pre_exec
        // and execve.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGPIPE, libc::SIG_IGN);
                Ok(())
            });
        }
    }
    let e = cmd.exec();
    let kind = match e.kind() {
        std::io::ErrorKind::NotFound => Kind::ExecNotFound,
        _ => Kind::ExecFailed,
    };
    Error::new(kind, format!("cannot execute swupdate: {e}")).on(std::path::Path::new(program))
}
