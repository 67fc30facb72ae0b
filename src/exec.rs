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

use crate::error::{Error, Kind};
use crate::system::handover;

/// Lets a descriptor the launcher opened survive the exec (its own are close-on-exec): the
/// lock and the verified copy are handed to swupdate this way. Returns the descriptor number,
/// which stays open for good.
pub use handover::inherit;

/// Whether the launcher was started with SIGPIPE ignored (and swupdate will be).
fn sigpipe_inherited_ignored() -> bool {
    handover::sigpipe_was_ignored()
}

/// Replaces this process with `argv`; returns only if that failed.
pub fn exec(argv: &[String]) -> Error {
    let Some((program, args)) = argv.split_first() else {
        return Error::new(Kind::ExecFailed, "empty argv");
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    handover::keep_signals(&mut cmd, sigpipe_inherited_ignored());
    // From here the handoff is swupdate's: a stop signal no longer gives a claim back, and the
    // stop signals have their former dispositions again.
    crate::system::signals::disarm();
    let e = cmd.exec();
    let path = std::path::Path::new(program);
    // ENOENT from execve also means a script's interpreter is missing: swupdate is there then.
    if e.kind() == std::io::ErrorKind::NotFound && path.is_file() {
        let interpreter = interpreter_of(path).unwrap_or_else(|| "its interpreter".into());
        return Error::new(
            Kind::ExecFailed,
            format!("cannot execute swupdate: it is there, but {interpreter} (its #! line) is not"),
        )
        .on(path);
    }
    let kind = match e.kind() {
        std::io::ErrorKind::NotFound => Kind::ExecNotFound,
        _ => Kind::ExecFailed,
    };
    Error::new(kind, format!("cannot execute swupdate: {e}")).on(path)
}

/// The interpreter a script's `#!` line names (the first 256 bytes are read).
fn interpreter_of(path: &std::path::Path) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?.split(|b| *b == b'\n').next()?;
    let word = String::from_utf8_lossy(line).split_whitespace().next()?.to_string();
    Some(word.chars().filter(|c| !c.is_control()).collect())
}
