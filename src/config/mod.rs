//! What the user said: the files read, parsed and merged into raw variables with provenance.
//!
//! [`envfile`] and [`fragment`] parse the two formats (sharing [`syntax`]), [`confd`] decides
//! which conf.d files count and in which order, [`settings`] holds the variables with where each
//! came from, [`vocabulary`] is the one table of the variables the launcher reads, and [`load`] is the edge that reads all of it from the device's file system.

pub(crate) mod confd;
pub mod envfile;
pub mod fragment;
pub mod load;
pub(crate) mod settings;
pub mod syntax;
pub mod vocabulary;
