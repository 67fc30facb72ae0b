//! The system calls std does not offer (at the MSRV, 1.85) and no linked crate wraps, behind
//! safe functions with narrow, typed interfaces, as sudo-rs's `system` module does. This is the
//! only module allowed `unsafe` (src/lib.rs denies it at the crate root, allows it here and
//! forbids it on every other module, so unsafe code anywhere else does not compile); each
//! unsafe block says why it is sound in its `// SAFETY:` comment (clippy's
//! `undocumented_unsafe_blocks`).
//!
//! - [`fs`]: names relative to a directory descriptor (the root walk), `flock`, `statvfs`.
//! - [`process`]: a child's confinement between fork and exec, the subreaper, `kill` and
//!   `waitpid` of processes std did not spawn, a pipe and `poll` for a child's output,
//!   `geteuid`.
//! - [`handover`]: what swupdate inherits through the exec: descriptors, the signal mask, the
//!   SIGPIPE disposition the launcher was started with.
//! - [`signals`]: a claimed handoff given back on a stop signal before swupdate runs.

pub mod fs;
pub mod handover;
// The bounded run of a helper tool ([`process::run_bounded`]) serves the A/B modules alone
// (the bootloader environment, the health checks): unused without the `ab` feature.
#[cfg_attr(not(feature = "ab"), allow(dead_code))]
pub mod process;
pub mod signals;

use std::io;

/// The error of a libc call that returned `-1` (or any other failure value it names).
fn last_error<T>() -> io::Result<T> {
    Err(io::Error::last_os_error())
}
