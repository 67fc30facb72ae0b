//! The integration tests: one binary, a module per concern (as ripgrep's tests/), so the
//! launcher library is linked once, not once per file. Each module runs the built launcher (or
//! the library) the way its file's doc says; `support` is the shared fixture: the device root,
//! the `.swu` builder, the loopback HTTP(S) server and the bounded runner.
//!
//! One module alone: `cargo test --test integration <module>::` (e.g. `releases::`).

#[allow(dead_code)]
mod support;

mod bootenv;
mod cli;
mod compat;
mod confirm;
mod descriptor_fuzz;
mod e2e_swupdate;
mod examples;
mod exec_semantics;
mod generated_docs;
mod handoff;
mod hostile;
mod hostile_agent;
mod hostile_secrets;
mod hostile_update;
mod parsers_properties;
mod preflight;
mod releases;
mod service;
mod slots;
mod streaming;
mod verify;
mod without_ab;
