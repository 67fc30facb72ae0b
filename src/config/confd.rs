//! Which conf.d files count, and in which order: the lib and etc directories merged by name.
//!
//! This is the systemd drop-in model that `swupdate.sh` imitated with `ls | sort -u`, made
//! exact: byte-wise order (never the locale's), masking, and a fixed list of names that are
//! never configuration (the agent's temp file, editor and package-manager leftovers).
//!
//! Pure: it decides over the names and kinds [`crate::config::load`] listed.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// The two conf.d directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Lib,
    Etc,
}

/// What a directory entry is, as far as the merge cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file, or anything that may be one (a symlink that resolves to one, or an entry
    /// that could not be examined: reading it will say why).
    File { empty: bool },
    /// A symlink to /dev/null: systemd's way to mask.
    DevNull,
    /// A directory, device, socket or fifo: never configuration.
    NotAFile,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: OsString,
    pub kind: EntryKind,
}

/// Why a file does not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Read, in this position of the order.
    Read,
    /// The etc file of the same name is read instead.
    Shadowed,
    /// An empty etc file or an etc symlink to /dev/null of the same name masks it.
    Masked,
    /// This file masks the lib file of the same name (or is empty / /dev/null on its own).
    Mask,
    /// Never configuration, by its name or its type.
    Skipped(&'static str),
}

/// One entry of either directory and what happens to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub name: OsString,
    pub dir: Dir,
    pub verdict: Verdict,
}

/// Why a name is never configuration, if it is one of those.
pub fn skip_reason(name: &OsStr) -> Option<&'static str> {
    let b = name.as_bytes();
    if b.starts_with(b".") {
        Some("hidden file")
    } else if b.ends_with(b"~") || b.ends_with(b".bak") {
        Some("backup file")
    } else if b.ends_with(b".swp") {
        Some("editor swap file")
    } else if b.windows(6).any(|w| w == b".dpkg-") {
        Some("dpkg leftover")
    } else if b.ends_with(b".rpmnew") || b.ends_with(b".rpmsave") {
        Some("rpm leftover")
    } else {
        None
    }
}

/// Merges the two listings. The result is in byte-wise name order, lib before etc for the same
/// name; the files to read are those with [`Verdict::Read`], in that order.
pub fn merge(lib: &[Entry], etc: &[Entry]) -> Vec<Decision> {
    // One pass over each listing into a byte-ordered map: a conf.d of a thousand files must not
    // cost a million comparisons.
    let mut names: BTreeMap<&[u8], (Option<EntryKind>, Option<EntryKind>)> = BTreeMap::new();
    for e in lib {
        names.entry(e.name.as_bytes()).or_default().0 = Some(e.kind);
    }
    for e in etc {
        names.entry(e.name.as_bytes()).or_default().1 = Some(e.kind);
    }

    let mut out = Vec::with_capacity(lib.len() + etc.len());
    for (bytes, (l, e)) in names {
        let name = OsStr::from_bytes(bytes);
        let mut push = |dir, verdict| {
            out.push(Decision {
                name: name.to_os_string(),
                dir,
                verdict,
            })
        };
        if let Some(reason) = skip_reason(name) {
            l.is_some()
                .then(|| push(Dir::Lib, Verdict::Skipped(reason)));
            e.is_some()
                .then(|| push(Dir::Etc, Verdict::Skipped(reason)));
            continue;
        }
        let own = |k: EntryKind| match k {
            EntryKind::File { empty: false } => Verdict::Read,
            EntryKind::File { empty: true } | EntryKind::DevNull => Verdict::Mask,
            EntryKind::NotAFile => Verdict::Skipped("not a regular file"),
        };
        let etc_verdict = e.map(own);
        if let Some(k) = l {
            let verdict = match etc_verdict {
                Some(Verdict::Read) => Verdict::Shadowed,
                Some(Verdict::Mask) => Verdict::Masked,
                // A directory in etc does not hide the lib file, as in swupdate.sh (`[ -f ]`).
                _ => own(k),
            };
            push(Dir::Lib, verdict);
        }
        if let Some(v) = etc_verdict {
            push(Dir::Etc, v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> Entry {
        Entry {
            name: name.into(),
            kind: EntryKind::File { empty: false },
        }
    }

    fn with(name: &str, kind: EntryKind) -> Entry {
        Entry {
            name: name.into(),
            kind,
        }
    }

    fn read_order(d: &[Decision]) -> Vec<(String, Dir)> {
        d.iter()
            .filter(|x| x.verdict == Verdict::Read)
            .map(|x| (x.name.to_string_lossy().into_owned(), x.dir))
            .collect()
    }

    fn verdict(d: &[Decision], name: &str, dir: Dir) -> Verdict {
        d.iter()
            .find(|x| x.name == name && x.dir == dir)
            .unwrap()
            .verdict
    }

    #[test]
    fn both_directories_are_read_in_name_order() {
        let d = merge(&[file("20-b"), file("10-a")], &[file("15-c")]);
        assert_eq!(
            read_order(&d),
            [
                ("10-a".into(), Dir::Lib),
                ("15-c".into(), Dir::Etc),
                ("20-b".into(), Dir::Lib)
            ]
        );
    }

    #[test]
    fn order_is_bytewise_not_locale() {
        let d = merge(&[file("b"), file("B"), file("_a"), file("a")], &[]);
        let names: Vec<String> = read_order(&d).into_iter().map(|x| x.0).collect();
        assert_eq!(names, ["B", "_a", "a", "b"]);
    }

    #[test]
    fn etc_file_shadows_lib_file_of_the_same_name() {
        let d = merge(&[file("10-a")], &[file("10-a")]);
        assert_eq!(read_order(&d), [("10-a".into(), Dir::Etc)]);
        assert_eq!(verdict(&d, "10-a", Dir::Lib), Verdict::Shadowed);
    }

    #[test]
    fn empty_etc_file_masks_lib_file() {
        let d = merge(
            &[file("10-a")],
            &[with("10-a", EntryKind::File { empty: true })],
        );
        assert!(read_order(&d).is_empty());
        assert_eq!(verdict(&d, "10-a", Dir::Lib), Verdict::Masked);
        assert_eq!(verdict(&d, "10-a", Dir::Etc), Verdict::Mask);
    }

    #[test]
    fn dev_null_symlink_in_etc_masks_lib_file() {
        let d = merge(&[file("10-a")], &[with("10-a", EntryKind::DevNull)]);
        assert!(read_order(&d).is_empty());
        assert_eq!(verdict(&d, "10-a", Dir::Lib), Verdict::Masked);
    }

    #[test]
    fn directory_in_etc_does_not_hide_the_lib_file() {
        let d = merge(&[file("10-a")], &[with("10-a", EntryKind::NotAFile)]);
        assert_eq!(read_order(&d), [("10-a".into(), Dir::Lib)]);
        assert_eq!(
            verdict(&d, "10-a", Dir::Etc),
            Verdict::Skipped("not a regular file")
        );
    }

    #[test]
    fn hidden_files_are_skipped_in_both_directories() {
        let d = merge(&[file(".x")], &[file(".descriptor.env.tmp")]);
        assert!(read_order(&d).is_empty());
        assert_eq!(
            verdict(&d, ".descriptor.env.tmp", Dir::Etc),
            Verdict::Skipped("hidden file")
        );
    }

    #[test]
    fn leftovers_are_skipped_by_name() {
        for name in [
            "10-a~",
            "10-a.swp",
            "10-a.bak",
            "10-a.dpkg-old",
            "10-a.dpkg-dist",
            "10-a.dpkg-new",
            "10-a.rpmnew",
            "10-a.rpmsave",
        ] {
            assert!(skip_reason(OsStr::new(name)).is_some(), "{name}");
        }
        assert_eq!(skip_reason(OsStr::new("10-a.conf")), None);
        assert_eq!(skip_reason(OsStr::new("descriptor.env")), None);
    }

    #[test]
    fn a_skipped_etc_leftover_does_not_shadow() {
        let d = merge(&[file("10-a")], &[file("10-a~")]);
        assert_eq!(read_order(&d), [("10-a".into(), Dir::Lib)]);
    }

    #[test]
    fn empty_lib_file_alone_reads_nothing() {
        let d = merge(&[with("10-a", EntryKind::File { empty: true })], &[]);
        assert!(read_order(&d).is_empty());
        assert_eq!(verdict(&d, "10-a", Dir::Lib), Verdict::Mask);
    }

    #[test]
    fn non_utf8_names_sort_bytewise() {
        use std::os::unix::ffi::OsStringExt;
        let odd = Entry {
            name: OsString::from_vec(vec![b'a', 0xff]),
            kind: EntryKind::File { empty: false },
        };
        let d = merge(&[odd, file("b")], &[]);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].name.as_bytes(), b"a\xff");
    }

    #[test]
    fn missing_directories_give_nothing() {
        assert!(merge(&[], &[]).is_empty());
    }
}
