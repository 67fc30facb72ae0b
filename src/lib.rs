//! swupdate-launcher: from configuration files to one swupdate argv, exec'd in place.
//!
//! The folders follow the data: [`config`] reads what the user wrote into raw variables with
//! their provenance, [`plan`] turns them into a typed, validated plan and then into swupdate's
//! argv, [`net`] is what the launcher itself does on the network, and [`exec`] hands over.
//! [`swupdate`] is everything the launcher knows about swupdate's interface (its releases, the
//! one reader of its command line and strings, its configuration file); [`compat`] checks a plan
//! against the installed release, over both. The flat modules are the edges ([`app`] drives
//! them) and the checks against the device.
//!
//! # Unsafe code
//!
//! Only in [`system`]: safe wrappers, each with a narrow, typed interface, around the system
//! calls std does not offer and no linked crate wraps, each unsafe block with its `// SAFETY:`
//! reason. The compiler holds that line: `unsafe_code` is denied at the crate root, allowed on
//! `system` alone, and forbidden on every other module (a `forbid` cannot be relaxed by an
//! inner `allow`), so unsafe code anywhere else is a compile error.

#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]
// No function over about 80 lines (clippy.toml sets the threshold): a step that long is several.
#![warn(clippy::too_many_lines)]
// The crate's docs are for its developers (`cargo doc --document-private-items`, which
// scripts/test checks): they link the private modules freely.
#![allow(rustdoc::private_intra_doc_links)]

// Every module but `system` is declared through `modules_without_unsafe!`, which forbids
// `unsafe_code` in it and its submodules; a module declared outside it is still under the
// root's `deny`.
macro_rules! modules_without_unsafe {
    ($($(#[$attr:meta])* $vis:vis mod $name:ident;)*) => {
        $($(#[$attr])* #[forbid(unsafe_code)] $vis mod $name;)*
    };
}

// The one module allowed `unsafe`: the system calls' safe wrappers.
#[allow(unsafe_code)]
mod system;

// The public surface is what `main` and the integration tests use (the parsers, the loader,
// the option table, the URL, the preflight policy, the root walk, the error kinds, the
// generated docs' renderers); everything else is private to the crate.
modules_without_unsafe! {
    mod accounts;
    pub mod app;
    #[cfg(feature = "ab")]
    pub mod bootenv;
    pub mod cli;
    pub mod compat;
    pub mod config;
    #[cfg(feature = "ab")]
    mod confirm;
    mod containment;
    pub mod error;
    mod exec;
    mod explain;
    #[cfg(feature = "ab")]
    mod health;
    mod lock;
    pub mod logging;
    mod medium;
    pub mod net;
    mod notify;
    pub mod plan;
    mod preconditions;
    mod procfs;
    mod rollback;
    pub mod rootfs;
    mod secret;
    #[cfg(feature = "ab")]
    pub mod slots;
    pub mod swupdate;
    mod trust;
    mod verify;
    // Without the `ab` feature: `slots` and `confirm`'s interface, refusing A/B.
    #[cfg(not(feature = "ab"))]
    mod without_ab;
}
#[cfg(not(feature = "ab"))]
use without_ab::confirm;
#[cfg(not(feature = "ab"))]
pub use without_ab::slots;
