//! swupdate's releases: the type, the lines the launcher supports, and the releases where its
//! interface changed.

use std::cmp::Ordering;
use std::fmt;

/// A swupdate release: `2025.12`, `2026.05.1`, `2026.05.1+git20261001` (a snapshot after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Release {
    pub year: u16,
    pub month: u8,
    pub patch: u8,
    /// A snapshot taken after this release (Debian's `+git…` versions).
    pub after: bool,
}

impl Ord for Release {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.year, self.month, self.patch, self.after).cmp(&(o.year, o.month, o.patch, o.after))
    }
}

impl PartialOrd for Release {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.year, self.month)?;
        if self.patch > 0 {
            write!(f, ".{}", self.patch)?;
        }
        if self.after {
            write!(f, "+git")?;
        }
        Ok(())
    }
}

/// The release `year.month` itself.
pub(crate) const fn rel(year: u16, month: u8) -> Release {
    Release {
        year,
        month,
        patch: 0,
        after: false,
    }
}

impl Release {
    /// `YYYY.MM[.P]`, optionally followed by `+…`/`-…`/`~…` (a packager's suffix: `+git…` marks
    /// a snapshot after the release, anything else the release itself). Also the version
    /// swupdate prints (`SWUpdate v2026.05.1`) and a Debian package version
    /// (`2024.12.1+dfsg-3`).
    pub fn parse(s: &str) -> Option<Release> {
        let s = s.trim();
        let s = s.strip_prefix("SWUpdate").map_or(s, str::trim_start);
        let s = s.strip_prefix('v').unwrap_or(s);
        let end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, suffix) = s.split_at(end);
        let mut parts = num.split('.');
        let year: u16 = parts.next()?.parse().ok()?;
        let month_text = parts.next()?;
        let month: u8 = month_text.parse().ok()?;
        let patch: u8 = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        if parts.next().is_some()
            || !(2000..=2999).contains(&year)
            || !(1..=12).contains(&month)
            || month_text.len() != 2
        {
            return None;
        }
        let after = suffix.starts_with("+git") || suffix.starts_with("~git");
        if !(suffix.is_empty() || suffix.starts_with(['+', '-', '~'])) {
            return None;
        }
        Some(Release {
            year,
            month,
            patch,
            after,
        })
    }

    /// The same release without patch level and snapshot mark: option sets change only there.
    pub fn line(self) -> Release {
        rel(self.year, self.month)
    }
}

/// The releases this table covers, oldest first (the `YYYY.MM` lines; patch releases add no
/// options).
pub const SUPPORTED: [Release; 8] = [
    rel(2022, 12),
    rel(2023, 5),
    rel(2023, 12),
    rel(2024, 5),
    rel(2024, 12),
    rel(2025, 5),
    rel(2025, 12),
    rel(2026, 5),
];

/// Options that exist only in snapshots after 2026.05.1 (Debian sid's `2026.05.1+git…`).
pub const AFTER_2026_05_1: Release = Release {
    year: 2026,
    month: 5,
    patch: 1,
    after: true,
};

/// The first release with runtime crypto providers (`--digest-provider`) and update types.
pub const PROVIDERS: Release = rel(2025, 12);

/// A release as the "needs swupdate … or later" messages name it.
pub(crate) fn shown(r: Release) -> String {
    if r == AFTER_2026_05_1 {
        "a snapshot after 2026.05.1".into()
    } else {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_parse_from_every_place_they_are_written() {
        let r = |s| Release::parse(s).map(|r| r.to_string());
        assert_eq!(r("2022.12").as_deref(), Some("2022.12"));
        assert_eq!(r("SWUpdate v2026.05.1").as_deref(), Some("2026.05.1"));
        assert_eq!(r("2024.12.1+dfsg-3+deb13u2").as_deref(), Some("2024.12.1"));
        assert_eq!(
            r("2026.05.1+git20261001+dfsg-2").as_deref(),
            Some("2026.05.1+git")
        );
        assert_eq!(r("SWUpdate v"), None);
        assert_eq!(r("2025.5"), None);
        assert_eq!(r("2025.13"), None);
        assert_eq!(r("latest"), None);
    }

    #[test]
    fn releases_order_by_date_then_patch_then_snapshot() {
        let p = |s| Release::parse(s).unwrap();
        assert!(p("2022.12") < p("2023.05"));
        assert!(p("2026.05") < p("2026.05.1"));
        assert!(p("2026.05.1") < p("2026.05.1+git1"));
        assert!(p("2026.05.1+git1") < p("2026.12"));
    }
}
