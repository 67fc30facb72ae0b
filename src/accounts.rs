//! User and group names of the device (its `/etc/passwd` and `/etc/group`, below `--root`),
//! for the verification stage's `SWUPDATE_VERIFY_USER=name[:group]`. Read only when a name is
//! used (from the file system, without NSS); the parsing is pure.

use std::path::Path;

use crate::rootfs::Root;

/// Name lookups; the plan asks, the edge answers.
pub trait Accounts {
    /// uid and primary gid of a user.
    fn user(&self, name: &str) -> Option<(u32, u32)>;
    fn group(&self, name: &str) -> Option<u32>;
}

/// `name:password:uid:gid:…` lines.
pub fn passwd_entry(text: &str, name: &str) -> Option<(u32, u32)> {
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        let _password = f.next()?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

/// `name:password:gid:members` lines.
pub fn group_entry(text: &str, name: &str) -> Option<u32> {
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        let _password = f.next()?;
        f.next()?.parse().ok()
    })
}

/// The device's account files.
pub struct Files<'a> {
    pub root: &'a Root,
}

impl Files<'_> {
    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.root.host(Path::new(path))).unwrap_or_default()
    }
}

impl Accounts for Files<'_> {
    fn user(&self, name: &str) -> Option<(u32, u32)> {
        passwd_entry(&self.read("/etc/passwd"), name)
    }

    fn group(&self, name: &str) -> Option<u32> {
        group_entry(&self.read("/etc/group"), name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nverify:x:990:985::/:/sbin/nologin\n";
    const GROUP: &str = "root:x:0:\nupdaters:x:977:verify\n";

    #[test]
    fn users_resolve_to_uid_and_primary_gid() {
        assert_eq!(passwd_entry(PASSWD, "verify"), Some((990, 985)));
        assert_eq!(passwd_entry(PASSWD, "nobody"), None);
        assert_eq!(passwd_entry(PASSWD, "verif"), None);
    }

    #[test]
    fn groups_resolve_to_gid() {
        assert_eq!(group_entry(GROUP, "updaters"), Some(977));
        assert_eq!(group_entry(GROUP, "wheel"), None);
    }

    #[test]
    fn malformed_lines_are_not_entries() {
        assert_eq!(passwd_entry("verify:x:abc:1\n", "verify"), None);
        assert_eq!(group_entry("updaters\n", "updaters"), None);
    }
}
