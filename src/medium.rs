//! Updates from removable media: which file on a mounted stick is the update.
//!
//! The rule is deliberately narrow, so that a medium never installs something by accident:
//! exactly one regular file named `*.swu` (any case) at the top level. Hidden files (macOS
//! leaves `._name.swu` next to every file it copies) and directories do not count; a symlink
//! that leaves the medium refuses the whole medium; none or several candidates is a refusal
//! that lists what was found.
//!
//! Touches the file system: it lists the medium's top directory and resolves its entries
//! (nothing is opened or read; swupdate reads the file). It answers with the file's name: the
//! caller knows where the medium is on the device.

use std::fs;
use std::path::Path;

use crate::error::{Error, Kind};

/// A top-level entry of the medium, as far as the rule cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidate {
    /// A regular file (or a symlink to one that stays on the medium).
    File(String),
    /// A symlink whose target is not on the medium.
    EscapingLink(String),
    /// Anything else named `*.swu`: a directory, a device, a dangling link.
    NotAFile(String),
}

/// True for a name the rule considers at all.
pub fn looks_like_update(name: &str) -> bool {
    !name.starts_with('.')
        && name.len() > 4
        && name
            .get(name.len() - 4..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".swu"))
}

/// Applies the rule to the entries found on the medium `dir` (named in errors): the name of
/// the one update.
pub fn select(dir: &Path, candidates: &[Candidate]) -> Result<String, Error> {
    if let Some(Candidate::EscapingLink(n)) = candidates
        .iter()
        .find(|c| matches!(c, Candidate::EscapingLink(_)))
    {
        return Err(Error::new(
            Kind::MissingInput,
            format!("`{n}` is a symlink that leaves the medium; refusing the whole medium"),
        )
        .on(dir));
    }
    let files: Vec<&String> = candidates
        .iter()
        .filter_map(|c| match c {
            Candidate::File(n) => Some(n),
            _ => None,
        })
        .collect();
    match files.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::new(
            Kind::MissingInput,
            "no update on the medium: expected exactly one *.swu file at its top level",
        )
        .on(dir)),
        several => {
            let mut names: Vec<&str> = several.iter().map(|s| s.as_str()).collect();
            names.sort_unstable();
            Err(Error::new(
                Kind::MissingInput,
                format!(
                    "{} *.swu files at the top level ({}); refusing to guess",
                    names.len(),
                    names.join(", ")
                ),
            )
            .on(dir)
            .hint("leave exactly one update file on the medium"))
        }
    }
}

/// Lists the medium mounted at `dir` (a path on this machine) and applies the rule: the name
/// of the one update at its top level.
pub fn pick(dir: &Path) -> Result<String, Error> {
    let base = fs::canonicalize(dir).map_err(|e| {
        Error::new(Kind::MissingInput, format!("cannot open the medium: {e}")).on(dir)
    })?;
    let rd = fs::read_dir(&base).map_err(|e| {
        Error::new(Kind::MissingInput, format!("cannot list the medium: {e}")).on(dir)
    })?;
    let mut candidates = Vec::new();
    for entry in rd.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !looks_like_update(&name) {
            continue;
        }
        let path = entry.path();
        let is_link = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        let c = match (is_link, fs::canonicalize(&path), fs::metadata(&path)) {
            (true, Ok(target), _) if !target.starts_with(&base) => Candidate::EscapingLink(name),
            (_, _, Ok(m)) if m.is_file() => Candidate::File(name),
            _ => Candidate::NotAFile(name),
        };
        candidates.push(c);
    }
    select(&base, &candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: &str) -> Candidate {
        Candidate::File(n.into())
    }

    #[test]
    fn exactly_one_update_is_chosen() {
        let p = select(Path::new("/m"), &[f("a.swu")]).unwrap();
        assert_eq!(p, "a.swu");
    }

    #[test]
    fn none_is_refused() {
        let e = select(Path::new("/m"), &[]).unwrap_err();
        assert_eq!(e.kind, Kind::MissingInput);
        assert!(e.message.contains("no update"));
    }

    #[test]
    fn several_are_refused_and_listed() {
        let e = select(Path::new("/m"), &[f("b.swu"), f("a.swu")]).unwrap_err();
        assert!(e.message.contains("a.swu, b.swu"), "{}", e.message);
    }

    #[test]
    fn a_directory_named_swu_does_not_count() {
        let p = select(
            Path::new("/m"),
            &[Candidate::NotAFile("x.swu".into()), f("a.swu")],
        );
        assert_eq!(p.unwrap(), "a.swu");
    }

    #[test]
    fn an_escaping_symlink_refuses_the_medium() {
        let e = select(
            Path::new("/m"),
            &[f("a.swu"), Candidate::EscapingLink("b.swu".into())],
        )
        .unwrap_err();
        assert!(e.message.contains("leaves the medium"));
    }

    #[test]
    fn names_are_matched_case_insensitively_and_hidden_ones_ignored() {
        assert!(looks_like_update("UPDATE.SWU"));
        assert!(looks_like_update("a.swu"));
        assert!(!looks_like_update("._a.swu"));
        assert!(!looks_like_update(".swu"));
        assert!(!looks_like_update("a.swu.txt"));
        assert!(!looks_like_update("a.sw"));
    }

    fn medium() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn pick_on_a_real_directory() {
        let m = medium();
        fs::write(m.path().join("fw.swu"), "x").unwrap();
        fs::write(m.path().join("readme.txt"), "x").unwrap();
        fs::create_dir(m.path().join("old.swu")).unwrap();
        assert_eq!(pick(m.path()).unwrap(), "fw.swu");
    }

    #[test]
    fn pick_refuses_a_symlink_off_the_medium() {
        let m = medium();
        let outside = medium();
        fs::write(outside.path().join("evil.swu"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path().join("evil.swu"), m.path().join("a.swu"))
            .unwrap();
        assert!(pick(m.path()).is_err());
    }

    #[test]
    fn pick_accepts_a_symlink_within_the_medium() {
        let m = medium();
        fs::create_dir(m.path().join("sub")).unwrap();
        fs::write(m.path().join("sub/real"), "x").unwrap();
        std::os::unix::fs::symlink("sub/real", m.path().join("a.swu")).unwrap();
        assert!(pick(m.path()).is_ok());
    }

    #[test]
    fn pick_refuses_files_in_subdirectories_only() {
        let m = medium();
        fs::create_dir(m.path().join("sub")).unwrap();
        fs::write(m.path().join("sub/a.swu"), "x").unwrap();
        assert!(pick(m.path()).is_err());
    }
}
