//! swupdate-launcher: from configuration files to one swupdate argv, exec'd in place.
//!
//! The folders follow the data: [`config`] reads what the user wrote into raw variables with
//! their provenance, [`plan`] turns them into a typed, validated plan and then into swupdate's
//! argv, [`net`] is what the launcher itself does on the network, and [`exec`] hands over.
//! [`swupdate`] is everything the launcher knows about swupdate's interface (its releases, the
//! one reader of its command line and strings, its configuration file, the checks against the
//! installed release). The flat modules are the edges ([`app`] drives them) and the checks
//! against the device.
//!
//! # Unsafe code
//!
//! Denied crate-wide; allowed only on these functions, for system calls std does not offer
//! (at the MSRV, 1.85) and no linked crate wraps, each block with its `// SAFETY:` reason:
//!
//! - `rootfs`: `openat`, `readlinkat`, `renameat`, `renameat_noreplace`, `linkat`, `unlinkat`:
//!   the root walk opens, reads links and renames relative to a directory descriptor, so a
//!   path is never looked up twice (std works by path only).
//! - `lock`: `try_flock` (`File::try_lock` is 1.89), `effective_uid` (`geteuid`).
//! - `verify`: `confine` and `confine_child`
//!   (a `pre_exec` hook: `PR_SET_PDEATHSIG`, `RLIMIT_FSIZE`) with
//!   `cloexec_inherited_descriptors` (`close_range`); `start_reaping`/`stop_reaping`
//!   (`PR_SET_CHILD_SUBREAPER`); `contain` (`kill`, `waitpid` of descendants std did not
//!   spawn); `available_bytes` (`statvfs`).
//! - `exec`: `inherit` (clears close-on-exec: the lock and the verified copy are handed to
//!   swupdate), `record_sigpipe` and its `.init_array` entry `RECORD_SIGPIPE` (the disposition
//!   before Rust's runtime changes it), `keep_signals` (a `pre_exec` hook restoring the mask
//!   and SIGPIPE).
//! - `compat` (in `swupdate/`): `spawn_piped` (`posix_spawn` with a pipe: `Command` costs the size-bound binary
//!   12 KB), `readable_within` (`poll`, for the deadline), `reap` (`kill`, `waitpid`).
//! - `logging`: `stderr_is_journal_stream` (`fstat` of fd 2, which std offers only for a
//!   `File`: a duplicate of fd 2 would cost 200 bytes).

// Unsafe code is allowed only on the named functions that need it, each unsafe block with its
// `// SAFETY:` reason (clippy -D warnings enforces both). See the list below.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]
// No function over about 80 lines (clippy.toml sets the threshold): a step that long is several.
#![warn(clippy::too_many_lines)]
// The crate's docs are for its developers (`cargo doc --document-private-items`, which
// scripts/test checks): they link the private modules freely.
#![allow(rustdoc::private_intra_doc_links)]

// The public surface is what `main` and the integration tests use (the parsers, the loader,
// the option table, the URL, the preflight policy, the root walk, the error kinds, the
// generated docs' renderers); everything else is private to the crate.
mod accounts;
pub mod app;
pub mod cli;
pub mod config;
pub mod error;
mod exec;
mod explain;
mod lock;
pub mod logging;
mod medium;
pub mod net;
mod notify;
pub mod plan;
mod preconditions;
mod process;
mod rollback;
pub mod rootfs;
mod secret;
pub mod swupdate;
mod trust;
mod verify;
