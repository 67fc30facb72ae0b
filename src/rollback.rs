//! Anti-rollback, the swupdate way: the launcher reads the version the device runs and passes
//! `-N <version>` (older releases refused), `-R <version>` when reinstalling the same release
//! is not wanted, and `--max-version` where configured.
//!
//! The running version comes from a file of the image: os-release style (`KEY=value`, quotes
//! allowed) or swupdate's sw-versions style (`name version` per line), looked up by key.
//!
//! Pure: [`crate::preconditions`] reads the file and hands over its text.

use crate::config::envfile;

/// Finds `key` in a version file; `None` when it is not there or empty.
pub fn find_version(text: &str, key: &str) -> Option<String> {
    // sw-versions: "name version", whitespace separated, one per line.
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if let (Some(name), Some(version), None) = (words.next(), words.next(), words.next()) {
            if name == key && !name.contains('=') {
                return Some(version.to_string());
            }
        }
    }
    // os-release: KEY=value with shell-like quoting (systemd reads it as an EnvironmentFile).
    let assignments = envfile::parse(text.as_bytes()).ok()?;
    assignments
        .into_iter()
        .rev()
        .find(|a| a.name == key)
        .map(|a| a.value)
        .filter(|v| !v.is_empty())
}

/// A version swupdate can take as an option value: no blanks, not starting with `-`.
pub fn usable(version: &str) -> bool {
    !version.is_empty()
        && !version.starts_with('-')
        && !version.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_version_id_with_quotes() {
        let t = "NAME=\"Tolomeo\"\nVERSION_ID=\"2026.11.1\"\nID=tolomeo\n";
        assert_eq!(find_version(t, "VERSION_ID").as_deref(), Some("2026.11.1"));
    }

    #[test]
    fn os_release_unquoted() {
        assert_eq!(
            find_version("IMAGE_VERSION=3.2\n", "IMAGE_VERSION").as_deref(),
            Some("3.2")
        );
    }

    #[test]
    fn sw_versions_name_and_version() {
        let t = "bootloader 2022.04\nrootfs 1.4.2\n";
        assert_eq!(find_version(t, "rootfs").as_deref(), Some("1.4.2"));
    }

    #[test]
    fn missing_key_is_none() {
        assert_eq!(find_version("A=1\n", "VERSION_ID"), None);
        assert_eq!(find_version("rootfs 1\n", "bootloader"), None);
    }

    #[test]
    fn empty_value_is_none() {
        assert_eq!(find_version("VERSION_ID=\n", "VERSION_ID"), None);
    }

    #[test]
    fn usable_versions() {
        assert!(usable("1.2.3"));
        assert!(!usable(""));
        assert!(!usable("-1"));
        assert!(!usable("1 2"));
    }
}
