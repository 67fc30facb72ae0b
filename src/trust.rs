//! Who may have written the configuration: sshd's StrictModes for the launcher's files.
//!
//! The fragments decide how swupdate verifies an update, so a fragment that someone other than
//! the image (root) could have written is refused. The one exception is the management agent's
//! `descriptor.env`, which may belong to a configured agent user and may only carry the handoff
//! variables (see [`crate::config::load`]).
//!
//! The judgments are pure, over the owner and mode a walk saw; [`check_file`] walks a path in
//! the root itself (stat only, nothing read), for the files the plan names.

use std::path::Path;

use crate::error::{Error, Kind};
use crate::rootfs::{Found, Hop, Root, Stat, WalkError};

/// Topology-level settings of the check (EnvironmentFile or environment, never conf.d).
pub use crate::config::vocabulary::names::{
    SWUPDATE_AGENT_UID, SWUPDATE_STRICT_MODES, SWUPDATE_TRUSTED_UID,
};

/// Whose files are trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Owner of the image's files: root on a device; a test's own uid.
    pub trusted_uid: u32,
    /// The management agent's user, allowed to own `descriptor.env` and its directory.
    pub agent_uid: Option<u32>,
}

/// The agent hands over a URL and nothing else: it must not also be the image's owner (it could
/// then write the configuration) nor the verification program's user (it could then take the
/// program's descriptors, or be the program). Why a configuration gives it such a role, if it does.
pub fn agent_role_refusal(policy: &Policy, verify_uid: Option<u32>) -> Option<String> {
    let agent = policy.agent_uid?;
    if agent == policy.trusted_uid || agent == 0 {
        return Some(format!(
            "SWUPDATE_AGENT_UID ({agent}) is the image's owner (SWUPDATE_TRUSTED_UID {}, or root): the agent would be trusted with the whole configuration",
            policy.trusted_uid
        ));
    }
    (verify_uid == Some(agent)).then(|| {
        format!(
            "the verification program's user (SWUPDATE_VERIFY_USER, uid {agent}) is the agent's (SWUPDATE_AGENT_UID): the agent could take the program's descriptors and change what it approves"
        )
    })
}

impl Policy {
    /// Whether the agent (and not the image) owns a directory: then it may rename anything in
    /// it, so it may contribute nothing but the descriptor.
    pub fn agent_owns(&self, st: &Stat) -> bool {
        self.agent_uid == Some(st.uid) && st.uid != self.trusted_uid && st.uid != 0
    }
}

/// Whether the agent's uid is acceptable for this file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The EnvironmentFile, the lib directory, every fragment but descriptor.env, every
    /// directory and symlink on the way to any of them, and the files the plan names.
    Image,
    /// The descriptor's directory and descriptor.env: the agent writes there.
    Handoff,
}

/// The problem with a file's owner or mode, if any. Root may own anything.
pub fn problem(st: &Stat, role: Role, policy: &Policy) -> Option<String> {
    let owner_ok = st.uid == policy.trusted_uid
        || st.uid == 0
        || (role == Role::Handoff && policy.agent_uid == Some(st.uid));
    if !owner_ok {
        let allowed = match (role, policy.agent_uid) {
            (Role::Handoff, Some(a)) => format!("uid {} or {a}", policy.trusted_uid),
            _ => format!("uid {}", policy.trusted_uid),
        };
        return Some(format!("is owned by uid {}, not {allowed}", st.uid));
    }
    if st.mode & 0o022 != 0 {
        let who = match st.mode & 0o022 {
            0o020 => "group",
            0o002 => "others",
            _ => "group and others",
        };
        return Some(format!(
            "is writable by {who} (mode {:04o})",
            st.mode & 0o7777
        ));
    }
    None
}

/// Refuses `st` (of `path`) if someone other than the image could have written it.
pub fn judge(path: &Path, st: &Stat, role: Role, policy: &Policy) -> Result<(), Error> {
    let Some(p) = problem(st, role, policy) else {
        return Ok(());
    };
    let what = if st.is_dir() { "directory" } else { "file" };
    Err(refusal(
        path,
        format!("refusing a configuration {what} that {p}"),
        policy,
    ))
}

fn refusal(path: &Path, message: String, policy: &Policy) -> Error {
    Error::new(Kind::Config, message).on(path).hint(format!(
        "configuration and every directory and symlink on its path must be owned by the image \
         (chown {} / chmod go-w); only descriptor.env and its directory may belong to the agent \
         ({SWUPDATE_AGENT_UID})",
        policy.trusted_uid
    ))
}

/// Judges one hop of a walk ([`Root::walk`]): every directory and symlink on a path, and the
/// file at its end, on the descriptor it is read from. A symlink's own mode is always 0777
/// and means nothing: its owner chose the target. The agent's file must have one link: a hard
/// link to a file it cannot read (`/etc/shadow`) is not its to hand over.
pub fn hop(path: &Path, st: &Stat, hop: Hop, role: Role, policy: &Policy) -> Result<(), Error> {
    match hop {
        Hop::Link => {
            let link = Stat {
                mode: (st.mode & !0o7777) | 0o755,
                ..*st
            };
            judge(path, &link, role, policy)
        }
        // A sticky directory (`/tmp`) owned by the image lets others add names but not rename
        // or remove the image's: what is below it is judged on its own owner anyway. Not the
        // descriptor's directory: others adding names there (a `descriptor.env` of their own
        // while the agent's is absent, thousands of files over the listing bound) would take
        // the OTA path from the agent.
        Hop::Dir if st.mode & 0o1000 != 0 && role != Role::Handoff => judge(
            path,
            &Stat {
                mode: st.mode & !0o022,
                ..*st
            },
            role,
            policy,
        ),
        Hop::Dir => judge(path, st, role, policy),
        Hop::File => {
            judge(path, st, role, policy)?;
            if role == Role::Handoff && st.nlink == 0 {
                return Err(refusal(
                    path,
                    "refusing a descriptor that was removed or replaced while it was opened; nothing was read".into(),
                    policy,
                )
                .hint("the agent renames a new descriptor.env into place; the next start reads it"));
            }
            if role == Role::Handoff && st.nlink != 1 {
                return Err(refusal(
                    path,
                    format!(
                        "refusing a descriptor with {} hard links: it may be another file's",
                        st.nlink
                    ),
                    policy,
                ));
            }
            Ok(())
        }
    }
}

/// The error for a walk that stopped; `what` names the file's purpose ("fragment").
pub fn walk_error(e: WalkError, what: &str) -> Error {
    match e {
        WalkError::Refused(e) => e,
        WalkError::Kind(path, kind) => Error::new(
            Kind::Io,
            format!("refusing the {what}: it is {kind}, not a regular file; nothing was read"),
        )
        .on(&path),
        WalkError::Io(path, e) => {
            Error::new(Kind::Io, format!("cannot open the {what}: {e}")).on(&path)
        }
    }
}

/// Judges a file the plan names (swupdate, the key, the version file, the verification
/// program: a device path) over its whole path inside the root, without reading it. A file
/// that cannot be reached is left to the caller, which reports it with its own exit code.
pub fn check_file(
    root: &Root,
    device_path: &Path,
    what: &str,
    policy: &Policy,
) -> Result<(), Error> {
    let judge = &mut |p: &Path, st: &Stat, h: Hop| hop(p, st, h, Role::Image, policy);
    match root.walk(device_path, judge) {
        Ok(Found::File(..) | Found::DevNull) => Ok(()),
        // Missing, unreadable, a loop: the caller's own check reports it with its exit code
        // (under `--root` a test may link the host's swupdate, which only the host resolves).
        Err(WalkError::Io(..)) => Ok(()),
        Err(e) => Err(walk_error(e, what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(agent: Option<u32>) -> Policy {
        Policy {
            trusted_uid: 0,
            agent_uid: agent,
        }
    }

    #[test]
    fn an_agent_that_is_the_images_owner_is_refused() {
        assert!(agent_role_refusal(&policy(Some(0)), None).is_some());
        let p = Policy {
            trusted_uid: 4242,
            agent_uid: Some(4242),
        };
        assert!(agent_role_refusal(&p, None).is_some());
    }

    #[test]
    fn an_agent_that_is_the_verification_user_is_refused() {
        let why = agent_role_refusal(&policy(Some(65534)), Some(65534)).unwrap();
        assert!(why.contains("SWUPDATE_VERIFY_USER"), "{why}");
    }

    #[test]
    fn an_agent_of_its_own_has_no_other_role() {
        assert_eq!(agent_role_refusal(&policy(Some(1000)), Some(61000)), None);
        assert_eq!(agent_role_refusal(&policy(None), Some(65534)), None);
    }

    const ROOT_ONLY: Policy = Policy {
        trusted_uid: 0,
        agent_uid: None,
    };
    const WITH_AGENT: Policy = Policy {
        trusted_uid: 0,
        agent_uid: Some(990),
    };

    fn file(uid: u32, mode: u32) -> Stat {
        stat(uid, 0o100000 | mode, 1)
    }

    #[test]
    fn root_owned_and_not_writable_by_others_is_fine() {
        assert_eq!(problem(&file(0, 0o644), Role::Image, &ROOT_ONLY), None);
        assert_eq!(problem(&file(0, 0o600), Role::Image, &ROOT_ONLY), None);
    }

    #[test]
    fn group_writable_is_refused_with_its_mode() {
        let p = problem(&file(0, 0o664), Role::Image, &ROOT_ONLY).unwrap();
        assert_eq!(p, "is writable by group (mode 0664)");
    }

    #[test]
    fn world_writable_is_refused() {
        let p = problem(&file(0, 0o646), Role::Image, &ROOT_ONLY).unwrap();
        assert!(p.contains("others"));
    }

    #[test]
    fn another_owner_is_refused() {
        let p = problem(&file(1000, 0o644), Role::Image, &ROOT_ONLY).unwrap();
        assert_eq!(p, "is owned by uid 1000, not uid 0");
    }

    #[test]
    fn the_agent_may_own_the_handoff_only() {
        assert_eq!(problem(&file(990, 0o644), Role::Handoff, &WITH_AGENT), None);
        assert!(problem(&file(990, 0o644), Role::Image, &WITH_AGENT).is_some());
    }

    #[test]
    fn without_an_agent_the_handoff_is_root_only() {
        assert!(problem(&file(990, 0o644), Role::Handoff, &ROOT_ONLY).is_some());
    }

    fn stat(uid: u32, mode: u32, nlink: u64) -> Stat {
        Stat {
            uid,
            mode,
            nlink,
            size: 1,
            dev: 1,
            ino: 1,
        }
    }

    #[test]
    fn the_agents_file_must_have_one_link() {
        let p = Path::new("/d/descriptor.env");
        assert!(
            hop(
                p,
                &stat(990, 0o100644, 1),
                Hop::File,
                Role::Handoff,
                &WITH_AGENT
            )
            .is_ok()
        );
        let e = hop(
            p,
            &stat(0, 0o100600, 2),
            Hop::File,
            Role::Handoff,
            &WITH_AGENT,
        )
        .unwrap_err();
        assert!(e.message.contains("hard links"), "{}", e.message);
    }

    #[test]
    fn a_symlink_is_judged_by_its_owner_not_its_mode() {
        let p = Path::new("/l");
        assert!(hop(p, &stat(0, 0o120777, 1), Hop::Link, Role::Image, &ROOT_ONLY).is_ok());
        assert!(
            hop(
                p,
                &stat(990, 0o120777, 1),
                Hop::Link,
                Role::Image,
                &WITH_AGENT
            )
            .is_err()
        );
    }

    #[test]
    fn a_sticky_directory_of_roots_may_be_world_writable() {
        let p = Path::new("/tmp");
        assert!(hop(p, &stat(0, 0o41777, 2), Hop::Dir, Role::Image, &ROOT_ONLY).is_ok());
        assert!(hop(p, &stat(0, 0o40777, 2), Hop::Dir, Role::Image, &ROOT_ONLY).is_err());
        assert!(hop(p, &stat(990, 0o41777, 2), Hop::Dir, Role::Image, &ROOT_ONLY).is_err());
    }

    #[test]
    fn root_may_own_anything_whoever_is_trusted() {
        let test_uid = Policy {
            trusted_uid: 1000,
            agent_uid: None,
        };
        assert_eq!(problem(&file(0, 0o644), Role::Image, &test_uid), None);
    }

    #[test]
    fn only_a_directory_of_the_agent_is_the_agents() {
        assert!(WITH_AGENT.agent_owns(&stat(990, 0o40755, 2)));
        assert!(!WITH_AGENT.agent_owns(&stat(0, 0o40755, 2)));
        assert!(!ROOT_ONLY.agent_owns(&stat(990, 0o40755, 2)));
    }

    #[test]
    fn sticky_and_setgid_bits_are_not_write_permissions() {
        assert_eq!(problem(&file(0, 0o1755), Role::Image, &ROOT_ONLY), None);
    }
}
