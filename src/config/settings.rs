//! What the user said, before it means anything: variables with their values and provenance.
//!
//! Nothing here is validated; the plan does that. Keeping the raw layer separate is what lets
//! `explain` say, for every argument, which file and line asked for it. What the loader itself
//! must read from a setting (a yes/no switch), and the error located where a setting was made,
//! are here, below both.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use crate::config::envfile;
use crate::config::vocabulary::{TOPOLOGY, TOPOLOGY_FROM_ENVIRONMENT, topology_default};
use crate::error::{Error, Kind, Location};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The launcher's built-in default (the vocabulary, `docs/variables.md`).
    Default,
    /// The process environment (systemd loaded it, or an operator set it).
    Environment,
    /// The EnvironmentFile.
    EnvFile { path: PathBuf, line: usize },
    /// A conf.d fragment.
    Fragment { path: PathBuf, line: usize },
    /// An option of this run (`--update-file`, `--update-medium`).
    CommandLine(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::Environment => f.write_str("environment"),
            Origin::EnvFile { path, line } | Origin::Fragment { path, line } => {
                // A file name is anybody's to choose: no raw line break or escape sequence.
                let shown = crate::error::printable(&path.display().to_string());
                write!(f, "{shown}:{line}")
            }
            Origin::CommandLine(option) => write!(f, "command line {option}"),
        }
    }
}

/// One value of a variable, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub value: String,
    pub origin: Origin,
    /// The variables a fragment's value expanded, with the values they had then (empty for
    /// every other origin).
    pub expanded: Vec<(String, String)>,
}

/// Variables, each with every value it was given; the last one counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Hashed, not ordered: set and looked up once per assignment and expansion of every
    /// fragment, listed in name order only by [`Settings::names`].
    vars: HashMap<String, Vec<Setting>>,
}

impl Settings {
    pub fn set(&mut self, name: &str, value: impl Into<String>, origin: Origin) {
        self.set_expanded(name, value, origin, Vec::new());
    }

    /// [`Settings::set`] for a fragment's value that expanded other variables.
    pub fn set_expanded(
        &mut self,
        name: &str,
        value: impl Into<String>,
        origin: Origin,
        expanded: Vec<(String, String)>,
    ) {
        let setting = Setting {
            value: value.into(),
            origin,
            expanded,
        };
        match self.vars.get_mut(name) {
            Some(history) => history.push(setting),
            // Most variables are set once: no room reserved for more.
            None => {
                self.vars.insert(name.to_string(), vec![setting]);
            }
        }
    }

    /// The value in force.
    pub fn get(&self, name: &str) -> Option<&Setting> {
        self.vars.get(name).and_then(|h| h.last())
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(|s| s.value.as_str())
    }

    /// Every value the variable had, first to last.
    pub fn history(&self, name: &str) -> &[Setting] {
        self.vars.get(name).map_or(&[], |h| h.as_slice())
    }

    /// Every name with its history, in no particular order: for what the order does not
    /// change (a thousand fragments' names are not sorted for it).
    pub fn histories(&self) -> impl Iterator<Item = (&str, &[Setting])> {
        self.vars.iter().map(|(n, h)| (n.as_str(), h.as_slice()))
    }

    /// The names, in byte order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        names.into_iter()
    }
}

/// An error about a setting, located where it was set.
pub fn setting_error(name: &str, s: &Setting, message: impl Into<String>) -> Error {
    let message = message.into();
    match &s.origin {
        Origin::EnvFile { path, line } | Origin::Fragment { path, line } => {
            Error::new(Kind::Config, format!("{name}: {message}")).at(Location {
                file: path.clone(),
                line: *line,
                column: None,
            })
        }
        other => Error::new(Kind::Config, format!("{name} ({other}): {message}")),
    }
}

/// `yes` or `no`, nothing else.
pub fn yes_or_no(name: &str, s: &Setting) -> Result<bool, Error> {
    match s.value.as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(setting_error(
            name,
            s,
            format!("`{}` is neither yes nor no", s.value),
        )),
    }
}

/// A yes/no switch; unset or empty (blanks only) means `default`.
pub fn yes_no(vars: &Settings, name: &str, default: bool) -> Result<bool, Error> {
    match vars.get(name).filter(|s| !s.value.trim().is_empty()) {
        None => Ok(default),
        Some(s) => yes_or_no(name, s),
    }
}

/// Topology from defaults, the EnvironmentFile and the environment, in rising precedence:
/// under systemd the environment holds what systemd loaded from the same file, plus whatever an
/// operator overrode, so it wins. Other variables of the file are kept too (for `explain`).
pub fn topology(
    file: &[envfile::Assignment],
    file_path: &std::path::Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Settings {
    let mut s = Settings::default();
    for &name in TOPOLOGY.iter() {
        if let Some(d) = topology_default(name) {
            s.set(name, d, Origin::Default);
        }
    }
    for a in file {
        s.set(
            &a.name,
            a.value.clone(),
            Origin::EnvFile {
                path: file_path.to_path_buf(),
                line: a.line,
            },
        );
    }
    for &name in TOPOLOGY_FROM_ENVIRONMENT.iter() {
        if let Some(v) = env(name) {
            s.set(name, v, Origin::Environment);
        }
    }
    s
}

/// A topology path (a device path): the value in force, or the built-in default; refused,
/// located where it was set, when it is not absolute. (Its readers are the A/B modules.)
#[cfg_attr(not(feature = "ab"), allow(dead_code))]
pub fn topology_path(topology: &Settings, name: &str) -> Result<PathBuf, Error> {
    match topology.get(name) {
        Some(s) if !s.value.starts_with('/') => Err(setting_error(
            name,
            s,
            format!("`{}` is not an absolute path", s.value),
        )),
        Some(s) => Ok(PathBuf::from(&s.value)),
        None => Ok(PathBuf::from(topology_default(name).unwrap_or_default())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::vocabulary::names::{SWUPDATE_BIN, SWUPDATE_PUBLIC_KEY};
    use std::path::Path;

    fn assign(name: &str, value: &str, line: usize) -> envfile::Assignment {
        envfile::Assignment {
            name: name.into(),
            value: value.into(),
            line,
            exported: false,
            expanded: Vec::new(),
        }
    }

    #[test]
    fn defaults_apply_without_a_file() {
        let s = topology(&[], Path::new("/f"), &|_| None);
        assert_eq!(s.value(SWUPDATE_BIN), Some("/usr/bin/swupdate"));
        assert_eq!(s.get(SWUPDATE_BIN).unwrap().origin, Origin::Default);
        assert_eq!(s.value(SWUPDATE_PUBLIC_KEY), None);
    }

    #[test]
    fn file_overrides_defaults_with_its_line() {
        let s = topology(
            &[assign(SWUPDATE_BIN, "/opt/sw", 4)],
            Path::new("/f"),
            &|_| None,
        );
        assert_eq!(s.value(SWUPDATE_BIN), Some("/opt/sw"));
        assert_eq!(s.get(SWUPDATE_BIN).unwrap().origin.to_string(), "/f:4");
    }

    #[test]
    fn environment_overrides_the_file() {
        let s = topology(
            &[assign(SWUPDATE_PUBLIC_KEY, "/file.pem", 1)],
            Path::new("/f"),
            &|n| (n == SWUPDATE_PUBLIC_KEY).then(|| "/env.pem".to_string()),
        );
        assert_eq!(s.value(SWUPDATE_PUBLIC_KEY), Some("/env.pem"));
        assert_eq!(s.history(SWUPDATE_PUBLIC_KEY).len(), 2);
    }

    #[test]
    fn last_duplicate_in_the_file_wins() {
        let s = topology(
            &[assign(SWUPDATE_BIN, "/a", 1), assign(SWUPDATE_BIN, "/b", 2)],
            Path::new("/f"),
            &|_| None,
        );
        assert_eq!(s.value(SWUPDATE_BIN), Some("/b"));
    }

    fn setting(value: &str) -> Setting {
        Setting {
            value: value.into(),
            origin: Origin::EnvFile {
                path: "/f".into(),
                line: 3,
            },
            expanded: Vec::new(),
        }
    }

    #[test]
    fn a_switch_is_yes_or_no_and_nothing_else() {
        assert_eq!(yes_or_no("X", &setting("yes")).ok(), Some(true));
        assert_eq!(yes_or_no("X", &setting("no")).ok(), Some(false));
        let e = yes_or_no("X", &setting("Yes")).unwrap_err();
        assert_eq!(e.summary(), "/f:3: X: `Yes` is neither yes nor no");
    }

    #[test]
    fn an_unset_or_blank_switch_is_its_default() {
        let mut s = Settings::default();
        assert_eq!(yes_no(&s, "X", true).ok(), Some(true));
        s.set("X", " ", Origin::Default);
        assert_eq!(yes_no(&s, "X", false).ok(), Some(false));
        s.set("X", "yes", Origin::Environment);
        assert_eq!(yes_no(&s, "X", false).ok(), Some(true));
    }

    #[test]
    fn names_are_listed_in_byte_order() {
        let mut s = Settings::default();
        for n in ["b", "B", "_a", "a"] {
            s.set(n, "", Origin::Default);
        }
        assert_eq!(s.names().collect::<Vec<_>>(), ["B", "_a", "a", "b"]);
    }

    #[test]
    fn unrelated_environment_variables_are_not_topology() {
        let s = topology(&[], Path::new("/f"), &|_| Some("x".into()));
        assert_eq!(s.names().count(), TOPOLOGY.len());
    }

    #[test]
    fn a_topology_path_is_its_value_or_the_default_and_never_relative() {
        use crate::config::vocabulary::names::SWUPDATE_HEALTH_DIR;
        let mut t = Settings::default();
        assert_eq!(
            topology_path(&t, SWUPDATE_HEALTH_DIR).unwrap(),
            Path::new("/usr/lib/swupdate/health.d")
        );
        let at = Origin::EnvFile {
            path: "/etc/default/swupdate".into(),
            line: 3,
        };
        t.set(SWUPDATE_HEALTH_DIR, "health.d", at);
        let e = topology_path(&t, SWUPDATE_HEALTH_DIR).unwrap_err();
        assert!(e.message.contains("is not an absolute path"), "{}", e.message);
        assert_eq!(e.location.map(|l| l.line), Some(3));
        t.set(SWUPDATE_HEALTH_DIR, "/opt/health", Origin::Environment);
        assert_eq!(topology_path(&t, SWUPDATE_HEALTH_DIR).unwrap(), Path::new("/opt/health"));
    }
}
