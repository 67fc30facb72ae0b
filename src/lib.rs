//! swupdate-launcher: from configuration files to one swupdate argv, exec'd in place.
//!
//! The folders follow the data: [`config`] reads what the user wrote into raw variables with
//! their provenance, [`plan`] turns them into a typed, validated plan and then into swupdate's
//! argv, [`net`] is what the launcher itself does on the network, and [`exec`] hands over. The
//! flat modules are the edges ([`app`] drives them) and the checks against the device.

pub mod accounts;
pub mod app;
pub mod cli;
pub mod compat;
pub mod config;
pub mod error;
pub mod exec;
pub mod explain;
pub mod lock;
pub mod logging;
pub mod medium;
pub mod net;
pub mod notify;
pub mod plan;
pub mod preconditions;
pub mod rollback;
pub mod rootfs;
pub mod secret;
pub mod suricatta;
pub mod swupdate_config;
pub mod trust;
pub mod verify;
