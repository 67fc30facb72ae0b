//! Everything the launcher knows about swupdate's interface: its command line per release
//! ([`options`]), the `-u` string as suricatta's hawkBit module reads it ([`suricatta`]), its
//! libconfig file ([`config`]), and the checks that make a configuration fit the installed
//! release, key and configuration file ([`compat`]).

pub(crate) mod compat;
pub(crate) mod config;
pub mod options;
pub(crate) mod suricatta;
