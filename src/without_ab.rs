//! What a launcher built without the cargo feature `ab` has in place of [`slots`] and
//! [`confirm`]: the same interface, with uninhabited types (no slot table and no running slot
//! can exist, so the code that matches on them needs no `cfg`), and a refusal at the file and
//! line of any A/B variable, or of the `confirm` command, that says how to get the feature.
//! Built with `ab`, `crate::slots` and `crate::confirm` are the real modules and this file is
//! not compiled.

/// Why an A/B variable or `confirm` is refused: the feature, and how the layer turns it on.
pub const NOT_BUILT: &str = "this swupdate-launcher was built without A/B support (cargo feature `ab`; the layer's PACKAGECONFIG `ab`, on with DISTRO_FEATURES update-ab)";

/// The slot table's interface ([ab.md](../../docs/ab.md)): every A/B variable is refused.
pub mod slots {
    use crate::config::settings::{Settings, setting_error};
    use crate::config::vocabulary::names::{
        SWUPDATE_CONFIRM, SWUPDATE_CONFIRM_PRIMARY, SWUPDATE_HEALTH_TIMEOUT,
        SWUPDATE_SLOT_SOURCES, SWUPDATE_SLOTS,
    };
    use crate::config::vocabulary::slot_of_variable;
    use crate::error::Error;
    use crate::rootfs::Root;

    /// No slot table exists in this build.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Table {}

    /// No running slot is identified in this build.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Running {}

    /// The topology the sources read; nothing to read in this build.
    pub struct Topology;

    /// The conf.d variables only A/B gives a meaning to (each `SWUPDATE_SLOT_<NAME>` too).
    const AB_VARIABLES: [&str; 5] = [
        SWUPDATE_SLOTS,
        SWUPDATE_SLOT_SOURCES,
        SWUPDATE_CONFIRM,
        SWUPDATE_CONFIRM_PRIMARY,
        SWUPDATE_HEALTH_TIMEOUT,
    ];

    impl Table {
        /// `None` when no A/B variable is set (a blank value is unset); otherwise a `Config`
        /// error at the first one's file and line: this build cannot honour it.
        pub fn from_settings(vars: &Settings) -> Result<Option<Table>, Error> {
            let set = vars
                .names()
                .filter(|n| AB_VARIABLES.contains(n) || slot_of_variable(n).is_some())
                .find_map(|n| vars.get(n).filter(|s| !s.value.trim().is_empty()).map(|s| (n, s)));
            match set {
                None => Ok(None),
                Some((name, s)) => Err(setting_error(name, s, super::NOT_BUILT)
                    .hint("build the launcher with `--features ab`, or remove the A/B variables")),
            }
        }
    }

    impl Topology {
        pub fn from_topology(_topology: &Settings, _root: &Root) -> Result<Topology, Error> {
            Ok(Topology)
        }
    }

    /// The running slot of a table that cannot exist.
    pub fn running(table: &Table, _topology: &Topology, _root: &Root) -> Result<Running, Error> {
        match *table {}
    }

    /// The table's warnings, of a table that cannot exist.
    pub fn check_notes(table: &Table) -> Vec<String> {
        match *table {}
    }
}

/// The `confirm` command's interface: refused on the command line.
pub mod confirm {
    use crate::config::load::Loaded;
    use crate::error::{Error, Kind};
    use crate::logging::Logger;
    use crate::rootfs::Root;

    /// Whether this build has `confirm`: no, and why.
    pub fn available() -> Result<(), String> {
        Err(format!("'confirm' is not available: {}", super::NOT_BUILT))
    }

    /// Never reached (the command line refuses `confirm`); a usage error if it were.
    pub fn run(_loaded: &Loaded, _root: &Root, _logger: &Logger) -> Result<String, Error> {
        Err(Error::new(Kind::Usage, super::NOT_BUILT))
    }

    /// No confirmation step, nothing to warn about.
    pub fn check_notes(_loaded: &Loaded, _root: &Root) -> Result<Vec<String>, Error> {
        Ok(Vec::new())
    }
}
