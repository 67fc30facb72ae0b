//! `--root`: every configured path is a path on the device; under `--root DIR` it is looked up
//! below DIR, as an image build or a test sees the device's file system.

use std::path::{Component, Path, PathBuf};

/// The file system the configuration describes: `/`, or an image's root below a directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Root(Option<PathBuf>);

/// How many symlinks in a row are followed before giving up (the kernel's limit).
const MAX_LINKS: usize = 40;

impl Root {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Root(dir)
    }

    pub fn dir(&self) -> Option<&Path> {
        self.0.as_deref()
    }

    /// Where a device path is on this machine.
    pub fn host(&self, device_path: &Path) -> PathBuf {
        match &self.0 {
            None => device_path.to_path_buf(),
            Some(root) => {
                let mut p = root.clone();
                for c in device_path.components() {
                    match c {
                        Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
                        other => p.push(other),
                    }
                }
                p
            }
        }
    }

    /// Like [`Root::host`], and a symlink in the last component whose target is absolute is
    /// followed inside the root too: an image's `/etc/x -> /usr/share/x` must not reach the
    /// build machine's `/usr/share/x`.
    pub fn resolve(&self, device_path: &Path) -> PathBuf {
        let mut device = device_path.to_path_buf();
        let mut host = self.host(&device);
        if self.0.is_none() {
            return host;
        }
        for _ in 0..MAX_LINKS {
            let Ok(target) = std::fs::read_link(&host) else {
                break;
            };
            device = if target.is_absolute() {
                target
            } else {
                device
                    .parent()
                    .map_or_else(|| target.clone(), |d| d.join(&target))
            };
            host = self.host(&device);
        }
        host
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_root_paths_are_unchanged() {
        assert_eq!(
            Root::new(None).host(Path::new("/etc/x")),
            Path::new("/etc/x")
        );
    }

    #[test]
    fn with_a_root_paths_are_below_it() {
        let r = Root::new(Some("/img".into()));
        assert_eq!(r.host(Path::new("/etc/x")), Path::new("/img/etc/x"));
    }

    #[test]
    fn absolute_symlinks_are_followed_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::create_dir_all(t.path().join("usr")).unwrap();
        std::fs::write(t.path().join("usr/key"), "k").unwrap();
        std::os::unix::fs::symlink("/usr/key", t.path().join("etc/key")).unwrap();
        let r = Root::new(Some(t.path().to_path_buf()));
        assert_eq!(r.resolve(Path::new("/etc/key")), t.path().join("usr/key"));
    }

    #[test]
    fn relative_symlinks_are_followed_from_their_directory() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("other", t.path().join("etc/key")).unwrap();
        let r = Root::new(Some(t.path().to_path_buf()));
        assert_eq!(r.resolve(Path::new("/etc/key")), t.path().join("etc/other"));
    }

    #[test]
    fn symlink_loops_end() {
        let t = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/a", t.path().join("a")).unwrap();
        let r = Root::new(Some(t.path().to_path_buf()));
        assert_eq!(r.resolve(Path::new("/a")), t.path().join("a"));
    }
}
