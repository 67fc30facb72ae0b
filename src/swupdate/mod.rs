//! Everything the launcher knows about swupdate's interface, in one home: its releases
//! ([`release`]), the one reader of its getopt_long grammar ([`getopt`]) over the option tables
//! of its command line ([`options`]), of the `-u` string as suricatta's hawkBit module reads it
//! ([`suricatta`]) and of the `-d` and `-w` strings ([`strings`]), which of the values found are
//! secret ([`secrets`]) and its libconfig file ([`config`]). The checks that make a plan fit the
//! installed release, key and configuration file read all of these and the plan: they stand
//! above both, in [`crate::compat`].

pub(crate) mod config;
pub mod getopt;
pub mod options;
pub mod release;
pub(crate) mod secrets;
pub mod strings;
pub(crate) mod suricatta;

pub use release::Release;
