//! swupdate-launcher: from configuration files to one swupdate argv, exec'd in place.
//!
//! The layers follow the data: [`envfile`] and [`fragment`] parse what the user wrote,
//! [`confd`] decides which files count, [`settings`] holds the raw variables with where each
//! came from, [`plan`] turns them into a typed, validated plan, [`argv`] into swupdate's
//! command line, and [`exec`] hands over. Only [`load`] and [`exec`] touch the system.

pub mod accounts;
pub mod app;
pub mod argv;
pub mod cli;
pub mod compat;
pub mod confd;
pub mod envfile;
pub mod error;
pub mod exec;
pub mod explain;
pub mod fragment;
pub mod inputs;
pub mod load;
pub mod lock;
pub mod logging;
pub mod medium;
pub mod notify;
pub mod plan;
#[cfg(feature = "streaming")]
pub mod preflight;
pub mod remote;
pub mod rollback;
pub mod rootfs;
pub mod secret;
pub mod settings;
pub mod suricatta;
pub mod swupdate_config;
pub mod swupdate_options;
pub mod syntax;
pub mod trust;
pub mod url;
pub mod verify;
