//! Who may have written the configuration: sshd's StrictModes for the launcher's files.
//!
//! The fragments decide how swupdate verifies an update, so a fragment that someone other than
//! the image (root) could have written is refused. The one exception is the management agent's
//! `descriptor.env`, which may belong to a configured agent user and may only carry the handoff
//! variables (see [`crate::load`]).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, Kind};

/// Topology-level settings of the check (EnvironmentFile or environment, never conf.d).
pub const SWUPDATE_STRICT_MODES: &str = "SWUPDATE_STRICT_MODES";
pub const SWUPDATE_TRUSTED_UID: &str = "SWUPDATE_TRUSTED_UID";
pub const SWUPDATE_AGENT_UID: &str = "SWUPDATE_AGENT_UID";

/// Whose files are trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Owner of the image's files: root on a device; a test's own uid.
    pub trusted_uid: u32,
    /// The management agent's user, allowed to own `descriptor.env` and the etc directory.
    pub agent_uid: Option<u32>,
}

/// What the check needs to know about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub uid: u32,
    pub mode: u32,
    pub is_dir: bool,
}

/// Whether the agent's uid is acceptable for this file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The EnvironmentFile, the lib directory, every fragment but descriptor.env.
    Image,
    /// The etc directory and descriptor.env: the agent writes there.
    Handoff,
}

/// The problem with a file's owner or mode, if any.
pub fn problem(meta: Meta, role: Role, policy: &Policy) -> Option<String> {
    let owner_ok = meta.uid == policy.trusted_uid
        || (role == Role::Handoff && policy.agent_uid == Some(meta.uid));
    if !owner_ok {
        let allowed = match (role, policy.agent_uid) {
            (Role::Handoff, Some(a)) => format!("uid {} or {a}", policy.trusted_uid),
            _ => format!("uid {}", policy.trusted_uid),
        };
        return Some(format!("is owned by uid {}, not {allowed}", meta.uid));
    }
    if meta.mode & 0o022 != 0 {
        let who = match meta.mode & 0o022 {
            0o020 => "group",
            0o002 => "others",
            _ => "group and others",
        };
        return Some(format!(
            "is writable by {who} (mode {:04o})",
            meta.mode & 0o7777
        ));
    }
    None
}

/// What the check reads from a file's metadata.
pub fn meta_of(m: &fs::Metadata) -> Meta {
    Meta {
        uid: m.uid(),
        mode: m.mode(),
        is_dir: m.is_dir(),
    }
}

/// Refuses `meta` (of `path`) if someone other than the image could have written it.
pub fn judge(path: &Path, meta: Meta, role: Role, policy: &Policy) -> Result<(), Error> {
    let Some(p) = problem(meta, role, policy) else {
        return Ok(());
    };
    let what = if meta.is_dir { "directory" } else { "file" };
    Err(Error::new(
        Kind::Config,
        format!("refusing a configuration {what} that {p}"),
    )
    .on(path)
    .hint(format!(
        "configuration must be owned by the image (chown {} / chmod go-w); \
                 only descriptor.env may belong to the agent ({SWUPDATE_AGENT_UID})",
        policy.trusted_uid
    )))
}

/// If `path` is a symlink, judges the link itself (whoever made it chose the target; its own
/// mode is always 0777 and means nothing) and says whether it masks (points at /dev/null).
/// `None` when it is not a symlink.
pub fn check_link(path: &Path, role: Role, policy: &Policy) -> Result<Option<bool>, Error> {
    match fs::symlink_metadata(path) {
        Ok(l) if l.file_type().is_symlink() => {
            let link = Meta {
                uid: l.uid(),
                mode: 0o755,
                is_dir: false,
            };
            judge(path, link, role, policy)?;
            Ok(Some(
                fs::read_link(path).is_ok_and(|t| t == Path::new("/dev/null")),
            ))
        }
        _ => Ok(None),
    }
}

/// Checks a path that is not read (a directory, a mask): the link, then what it points at.
/// A file that is read is judged on its open descriptor instead ([`judge`] with `fstat`), so
/// that it cannot be swapped between the check and the read.
pub fn check(path: &Path, role: Role, policy: &Policy) -> Result<(), Error> {
    // A mask (symlink to /dev/null) is judged by its owner only: /dev/null is writable by all.
    if check_link(path, role, policy)? == Some(true) {
        return Ok(());
    }
    match fs::metadata(path) {
        Ok(m) => judge(path, meta_of(&m), role, policy),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT_ONLY: Policy = Policy {
        trusted_uid: 0,
        agent_uid: None,
    };
    const WITH_AGENT: Policy = Policy {
        trusted_uid: 0,
        agent_uid: Some(990),
    };

    fn file(uid: u32, mode: u32) -> Meta {
        Meta {
            uid,
            mode: 0o100000 | mode,
            is_dir: false,
        }
    }

    #[test]
    fn root_owned_and_not_writable_by_others_is_fine() {
        assert_eq!(problem(file(0, 0o644), Role::Image, &ROOT_ONLY), None);
        assert_eq!(problem(file(0, 0o600), Role::Image, &ROOT_ONLY), None);
    }

    #[test]
    fn group_writable_is_refused_with_its_mode() {
        let p = problem(file(0, 0o664), Role::Image, &ROOT_ONLY).unwrap();
        assert_eq!(p, "is writable by group (mode 0664)");
    }

    #[test]
    fn world_writable_is_refused() {
        let p = problem(file(0, 0o646), Role::Image, &ROOT_ONLY).unwrap();
        assert!(p.contains("others"));
    }

    #[test]
    fn another_owner_is_refused() {
        let p = problem(file(1000, 0o644), Role::Image, &ROOT_ONLY).unwrap();
        assert_eq!(p, "is owned by uid 1000, not uid 0");
    }

    #[test]
    fn the_agent_may_own_the_handoff_only() {
        assert_eq!(problem(file(990, 0o644), Role::Handoff, &WITH_AGENT), None);
        assert!(problem(file(990, 0o644), Role::Image, &WITH_AGENT).is_some());
    }

    #[test]
    fn without_an_agent_the_handoff_is_root_only() {
        assert!(problem(file(990, 0o644), Role::Handoff, &ROOT_ONLY).is_some());
    }

    #[test]
    fn sticky_and_setgid_bits_are_not_write_permissions() {
        assert_eq!(problem(file(0, 0o1755), Role::Image, &ROOT_ONLY), None);
    }
}
