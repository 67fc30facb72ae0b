//! The small typed readers every setting goes through: each checks one kind of value and
//! returns it [`Traced`] to its variable, or an error located where the variable was set.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::config::settings::{self, Origin, Setting, Settings};
use crate::config::vocabulary;
use crate::error::{Error, Kind};
use crate::plan::Traced;
use crate::swupdate::{Release, options};

/// An error about a setting, located where it was set (the raw layer's, shared with the loader).
pub use crate::config::settings::setting_error;

pub(super) fn traced<T>(value: T, name: &'static str, s: &Setting) -> Traced<T> {
    Traced {
        value,
        name,
        origin: s.origin.clone(),
    }
}

/// A set, non-empty value.
pub(super) fn non_empty<'a>(vars: &'a Settings, name: &str) -> Option<&'a Setting> {
    vars.get(name).filter(|s| !s.value.trim().is_empty())
}

/// An absolute path on the device.
pub(super) fn absolute_path(name: &'static str, s: &Setting) -> Result<Traced<PathBuf>, Error> {
    let p = Path::new(&s.value);
    if !p.is_absolute() {
        return Err(setting_error(
            name,
            s,
            format!("`{}` is not an absolute path", s.value),
        ));
    }
    Ok(traced(p.to_path_buf(), name, s))
}

/// The setting in force, or, when it is unset or empty, the vocabulary's default as a setting
/// of origin `default`: a default is read and checked by the same reader as a user's value.
pub(crate) fn or_default<'a>(vars: &'a Settings, name: &str) -> Result<Cow<'a, Setting>, Error> {
    if let Some(s) = non_empty(vars, name) {
        return Ok(Cow::Borrowed(s));
    }
    match vocabulary::default_of(name) {
        Some(value) => Ok(Cow::Owned(Setting {
            value: value.to_string(),
            origin: Origin::Default,
            expanded: Vec::new(),
        })),
        None => Err(Error::new(
            Kind::Config,
            format!("{name} has no default in the launcher's vocabulary"),
        )),
    }
}

/// `yes` or `no`, nothing else (the raw layer's reader, traced).
fn yes_or_no(name: &'static str, s: &Setting) -> Result<Traced<bool>, Error> {
    settings::yes_or_no(name, s).map(|v| traced(v, name, s))
}

/// A yes/no switch; unset or empty means `default` (for a default that depends on more than
/// the variable; `switch` takes the vocabulary's).
pub fn yes_no(vars: &Settings, name: &'static str, default: bool) -> Result<Traced<bool>, Error> {
    match non_empty(vars, name) {
        None => Ok(Traced {
            value: default,
            name,
            origin: Origin::Default,
        }),
        Some(s) => yes_or_no(name, s),
    }
}

/// A yes/no switch whose default is the vocabulary's.
pub(super) fn switch(vars: &Settings, name: &'static str) -> Result<Traced<bool>, Error> {
    yes_or_no(name, &*or_default(vars, name)?)
}

pub(super) fn whole_number(
    name: &'static str,
    s: &Setting,
    min: u32,
) -> Result<Traced<u32>, Error> {
    match s.value.parse::<u32>() {
        Ok(n) if n >= min && !s.value.starts_with('+') => Ok(traced(n, name, s)),
        _ => Err(setting_error(
            name,
            s,
            format!("`{}` is not a whole number of at least {min}", s.value),
        )),
    }
}

/// The words of an options variable, split with shell quoting and checked against swupdate's
/// option table for the installed release (every supported release when it is unknown).
pub(super) fn user_words(
    name: &'static str,
    s: &Setting,
    release: Option<Release>,
) -> Result<Traced<Vec<String>>, Error> {
    let words = shell_words::split(&s.value)
        .map_err(|_| setting_error(name, s, format!("`{}` has an unterminated quote", s.value)))?;
    options::parse(&words, release).map_err(|e| {
        let err = setting_error(name, s, e.message);
        match e.hint {
            Some(h) => err.hint(h),
            None => err,
        }
    })?;
    Ok(traced(words, name, s))
}

/// A `-w`/`-u` string: swupdate splits it on whitespace and parses no quotes.
pub(super) fn daemon_string(
    name: &'static str,
    vars: &Settings,
) -> Result<Option<Traced<String>>, Error> {
    let Some(s) = non_empty(vars, name) else {
        return Ok(None);
    };
    if let Some(q) = s.value.chars().find(|c| matches!(c, '\'' | '"' | '\\')) {
        return Err(setting_error(
            name,
            s,
            format!("contains `{q}`; swupdate splits this string on whitespace and does not parse quotes or escapes"),
        )
        .hint("a value with blanks cannot be passed this way: set it in swupdate's configuration file (-f) instead"));
    }
    Ok(Some(traced(
        s.value.split_whitespace().collect::<Vec<_>>().join(" "),
        name,
        s,
    )))
}
