//! Which conf.d files count, and in which order: the lib and etc directories merged by name.
//!
//! This is the systemd drop-in model that `swupdate.sh` imitated with `ls | sort -u`, made
//! exact: byte-wise order (never the locale's), masking, and a fixed list of names that are
//! never configuration (the agent's temp file, editor and package-manager leftovers).
//!
//! Also the other decisions over names that the loader makes: what each directory may hold
//! ([`misplaced`]) and what a conf.d file may set ([`refused_assignment`]).
//!
//! Pure: it decides over the names and kinds [`crate::config::load`] listed.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use crate::config::syntax::Assignment;
use crate::config::vocabulary::{HANDOFF, TOPOLOGY, lookup, slot_of_variable};

/// The management agent's file.
pub const DESCRIPTOR: &str = "descriptor.env";
/// [`DESCRIPTOR`] for a system call made in a signal handler.
pub const DESCRIPTOR_C: &std::ffi::CStr = c"descriptor.env";
/// The name a descriptor is claimed under before it is read (hidden: never read again by a
/// later start, kept for a person to look at).
pub const CLAIMED_DESCRIPTOR: &str = ".descriptor.env.last";
/// [`CLAIMED_DESCRIPTOR`] for a system call made in a signal handler.
pub const CLAIMED_DESCRIPTOR_C: &std::ffi::CStr = c".descriptor.env.last";

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
    /// Its index in its directory's listing (what [`merge`] was given).
    pub at: usize,
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
    type Listed = Option<(usize, EntryKind)>;
    let mut names: BTreeMap<&[u8], (Listed, Listed)> = BTreeMap::new();
    for (i, e) in lib.iter().enumerate() {
        names.entry(e.name.as_bytes()).or_default().0 = Some((i, e.kind));
    }
    for (i, e) in etc.iter().enumerate() {
        names.entry(e.name.as_bytes()).or_default().1 = Some((i, e.kind));
    }

    let mut out = Vec::with_capacity(lib.len() + etc.len());
    for (bytes, (l, e)) in names {
        let name = OsStr::from_bytes(bytes);
        let mut push = |dir, at, verdict| {
            out.push(Decision {
                name: name.to_os_string(),
                dir,
                at,
                verdict,
            })
        };
        if let Some(reason) = skip_reason(name) {
            if let Some((i, _)) = l {
                push(Dir::Lib, i, Verdict::Skipped(reason));
            }
            if let Some((i, _)) = e {
                push(Dir::Etc, i, Verdict::Skipped(reason));
            }
            continue;
        }
        let own = |k: EntryKind| match k {
            EntryKind::File { empty: false } => Verdict::Read,
            EntryKind::File { empty: true } | EntryKind::DevNull => Verdict::Mask,
            EntryKind::NotAFile => Verdict::Skipped("not a regular file"),
        };
        let etc_verdict = e.map(|(i, k)| (i, own(k)));
        if let Some((i, k)) = l {
            let verdict = match etc_verdict {
                Some((_, Verdict::Read)) => Verdict::Shadowed,
                Some((_, Verdict::Mask)) => Verdict::Masked,
                // A directory in etc does not hide the lib file, as in swupdate.sh (`[ -f ]`).
                _ => own(k),
            };
            push(Dir::Lib, i, verdict);
        }
        if let Some((i, v)) = etc_verdict {
            push(Dir::Etc, i, v);
        }
    }
    out
}

/// Why an entry may not be where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Misplaced {
    /// descriptor.env in the lib directory: it is the agent's handoff, never the image's.
    DescriptorInLib,
    /// A name that counts in an etc directory the agent owns: the agent can rename anything
    /// there, so nothing there may add to or shadow the image's configuration.
    AgentAddsConfiguration,
    /// descriptor.env in the etc directory while the agent has a directory of its own
    /// (SWUPDATE_DESCRIPTOR_DIR): a leftover there would be replayed forever.
    DescriptorOutsideItsDirectory,
}

/// Who the etc directory is for, as far as what it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EtcUse {
    /// The agent (not the image) owns it.
    pub agent_owned: bool,
    /// The descriptor has a directory of its own.
    pub descriptor_elsewhere: bool,
}

/// Whether the entry `name` of directory `dir` is misplaced, and why. The loader refuses the
/// configuration for the smallest reason over all entries (lib before etc).
pub fn misplaced(dir: Dir, name: &OsStr, etc: EtcUse) -> Option<Misplaced> {
    let descriptor = name == DESCRIPTOR;
    match dir {
        Dir::Lib => descriptor.then_some(Misplaced::DescriptorInLib),
        Dir::Etc if descriptor => etc
            .descriptor_elsewhere
            .then_some(Misplaced::DescriptorOutsideItsDirectory),
        Dir::Etc => (etc.agent_owned && skip_reason(name).is_none())
            .then_some(Misplaced::AgentAddsConfiguration),
    }
}

/// Why a conf.d file may not set a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The descriptor sets only the handoff ([`HANDOFF`]): what to install, never how.
    NotHandoff,
    /// Path topology ([`TOPOLOGY`]) is read before conf.d and decides where conf.d is.
    Topology,
}

/// How a fragment's variable would have reached swupdate's environment under swupdate.sh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handed {
    /// `export NAME=value`, or `export NAME`.
    Exported,
    /// A plain assignment to a name the environment already has: the shell changed what it
    /// passes on.
    AlreadyInTheEnvironment,
}

/// Whether a fragment's assignment is one a shell would have handed to swupdate (exported,
/// or already in the environment, `in_environment`) and the launcher does not read: such a
/// variable (`export TMPDIR=/var/`, moving swupdate's unpack directory) is meant for
/// swupdate's process, which the launcher leaves to the unit. The launcher's own variables
/// are read as configuration, exported or not.
pub fn reaches_swupdate(a: &Assignment, in_environment: bool) -> Option<Handed> {
    if lookup(&a.name).is_some() || slot_of_variable(&a.name).is_some() {
        None
    } else if a.exported {
        Some(Handed::Exported)
    } else if in_environment {
        Some(Handed::AlreadyInTheEnvironment)
    } else {
        None
    }
}

/// Whether a conf.d file may set `name`: `handoff` for descriptor.env, else a fragment.
pub fn refused_assignment(name: &str, handoff: bool) -> Option<Refused> {
    if handoff && !HANDOFF.contains(&name) {
        Some(Refused::NotHandoff)
    } else if TOPOLOGY.contains(&name) {
        Some(Refused::Topology)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_descriptors_c_names_are_its_names() {
        assert_eq!(DESCRIPTOR_C.to_str(), Ok(DESCRIPTOR));
        assert_eq!(CLAIMED_DESCRIPTOR_C.to_str(), Ok(CLAIMED_DESCRIPTOR));
    }

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

    #[test]
    fn each_decision_points_at_its_entry() {
        let lib = [file("20-b"), file("10-a")];
        let etc = [file("x~"), file("20-b")];
        for d in merge(&lib, &etc) {
            let listed = if d.dir == Dir::Lib { &lib } else { &etc };
            assert_eq!(listed[d.at].name, d.name);
        }
    }

    const IMAGE_ETC: EtcUse = EtcUse {
        agent_owned: false,
        descriptor_elsewhere: false,
    };

    fn misplaced_in(dir: Dir, name: &str, etc: EtcUse) -> Option<Misplaced> {
        misplaced(dir, OsStr::new(name), etc)
    }

    #[test]
    fn a_descriptor_in_the_lib_directory_is_misplaced() {
        assert_eq!(
            misplaced_in(Dir::Lib, DESCRIPTOR, IMAGE_ETC),
            Some(Misplaced::DescriptorInLib)
        );
        assert_eq!(misplaced_in(Dir::Lib, "10-a", IMAGE_ETC), None);
    }

    #[test]
    fn the_descriptor_belongs_in_etc_unless_it_has_its_own_directory() {
        assert_eq!(misplaced_in(Dir::Etc, DESCRIPTOR, IMAGE_ETC), None);
        let elsewhere = EtcUse {
            descriptor_elsewhere: true,
            ..IMAGE_ETC
        };
        assert_eq!(
            misplaced_in(Dir::Etc, DESCRIPTOR, elsewhere),
            Some(Misplaced::DescriptorOutsideItsDirectory)
        );
    }

    #[test]
    fn an_agent_owned_etc_directory_holds_only_the_descriptor_and_names_that_never_count() {
        let agent = EtcUse {
            agent_owned: true,
            ..IMAGE_ETC
        };
        assert_eq!(misplaced_in(Dir::Etc, DESCRIPTOR, agent), None);
        assert_eq!(misplaced_in(Dir::Etc, ".descriptor.env.tmp", agent), None);
        assert_eq!(misplaced_in(Dir::Etc, CLAIMED_DESCRIPTOR, agent), None);
        assert_eq!(
            misplaced_in(Dir::Etc, "50-verify", agent),
            Some(Misplaced::AgentAddsConfiguration)
        );
        assert_eq!(misplaced_in(Dir::Etc, "50-verify", IMAGE_ETC), None);
    }

    #[test]
    fn the_descriptor_may_set_only_the_handoff() {
        for &name in HANDOFF.iter() {
            assert_eq!(refused_assignment(name, true), None, "{name}");
        }
        assert_eq!(
            refused_assignment("SWUPDATE_PUBLIC_KEY", true),
            Some(Refused::NotHandoff)
        );
        assert_eq!(
            refused_assignment("SWUPDATE_CONF_DIR_ETC", true),
            Some(Refused::NotHandoff)
        );
    }

    fn assignment(name: &str, exported: bool) -> Assignment {
        Assignment {
            name: name.into(),
            value: "/var/".into(),
            line: 1,
            exported,
            expanded: Vec::new(),
        }
    }

    #[test]
    fn an_exported_variable_the_launcher_does_not_read_would_reach_swupdate() {
        assert_eq!(
            reaches_swupdate(&assignment("TMPDIR", true), false),
            Some(Handed::Exported)
        );
    }

    #[test]
    fn a_plain_assignment_to_a_name_of_the_environment_would_reach_swupdate() {
        assert_eq!(
            reaches_swupdate(&assignment("TMPDIR", false), true),
            Some(Handed::AlreadyInTheEnvironment)
        );
    }

    #[test]
    fn a_plain_helper_variable_stays_a_fragment_variable() {
        assert_eq!(reaches_swupdate(&assignment("MY_HW", false), false), None);
    }

    #[test]
    fn the_launchers_own_variables_are_configuration_exported_or_not() {
        assert_eq!(reaches_swupdate(&assignment("SWUPDATE_ARGS", true), true), None);
    }

    #[test]
    fn a_slots_variable_is_the_launchers_own_exported_or_not() {
        assert_eq!(reaches_swupdate(&assignment("SWUPDATE_SLOT_A", true), false), None);
    }

    #[test]
    fn no_conf_d_file_may_set_topology() {
        for &name in TOPOLOGY.iter() {
            assert_eq!(
                refused_assignment(name, false),
                Some(Refused::Topology),
                "{name}"
            );
        }
        assert_eq!(refused_assignment("SWUPDATE_EXTRA_ARGS", false), None);
        assert_eq!(refused_assignment("URL", false), None);
    }
}
