//! `--root`: every configured path is a path on the device; under `--root DIR` it is looked up
//! below DIR, as an image build or a test sees the device's file system.
//!
//! [`Root::walk`] is the one way configuration is opened: component by component from a
//! directory descriptor (`openat` with `O_NOFOLLOW`), so that every directory and every symlink
//! hop on the way can be judged (sshd's StrictModes judges the whole path), an absolute symlink
//! is resolved inside the root (never on the build host), and the file that is finally read is
//! the one that was judged. `openat2(RESOLVE_IN_ROOT)` would confine the resolution too, but it
//! does not report the hops, which StrictModes must see: the walk does both, on every kernel.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use crate::system::fs::{linkat, openat, readlinkat, renameat, renameat_noreplace, unlinkat};

/// The file system the configuration describes: `/`, or an image's root below a directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Root(Option<PathBuf>);

/// How many symlinks in a row are followed before giving up (the kernel's limit).
const MAX_LINKS: usize = 40;

/// One more symlink hop on the way to a name: past [`MAX_LINKS`] the walk is a loop (ELOOP).
fn count_link(links: &mut usize, shown: &Path) -> Result<(), WalkError> {
    *links += 1;
    if *links > MAX_LINKS {
        return Err(WalkError::Io(
            shown.to_path_buf(),
            io::Error::from_raw_os_error(libc::ELOOP),
        ));
    }
    Ok(())
}

/// What the walk knows about one file on the way: the `fstat` of its descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub uid: u32,
    pub mode: u32,
    pub nlink: u64,
    pub size: u64,
    pub dev: u64,
    pub ino: u64,
}

impl Stat {
    fn kind(&self) -> u32 {
        self.mode & libc::S_IFMT
    }
    pub fn is_dir(&self) -> bool {
        self.kind() == libc::S_IFDIR
    }
    pub fn is_file(&self) -> bool {
        self.kind() == libc::S_IFREG
    }
    pub fn is_symlink(&self) -> bool {
        self.kind() == libc::S_IFLNK
    }
    /// "a FIFO", "a character device", ...: what a non-regular file is, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self.kind() {
            libc::S_IFREG => "a regular file",
            libc::S_IFDIR => "a directory",
            libc::S_IFLNK => "a symlink",
            libc::S_IFIFO => "a FIFO",
            libc::S_IFCHR => "a character device",
            libc::S_IFBLK => "a block device",
            libc::S_IFSOCK => "a socket",
            _ => "not a regular file",
        }
    }
}

/// One step of a walk, shown to the judge before the walk goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// A directory on the way (or the directory that is opened).
    Dir,
    /// A symlink on the way; its target is followed after the judge accepts it.
    Link,
    /// The file at the end, regular (the judge sees it before a byte is read).
    File,
}

/// Decides on each hop (its host path, as shown in messages, and its `fstat`).
pub type Judge<'a> = &'a mut dyn FnMut(&Path, &Stat, Hop) -> Result<(), crate::error::Error>;

/// Why a walk stopped.
#[derive(Debug)]
pub enum WalkError {
    /// A system call failed at this host path (`NotFound` for a missing component).
    Io(PathBuf, io::Error),
    /// The end is not what was asked for (a FIFO, a device, a directory where a file was
    /// expected, or a symlink where none is allowed); nothing was read from it.
    Kind(PathBuf, &'static str),
    /// The judge refused a hop.
    Refused(crate::error::Error),
}

impl WalkError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, WalkError::Io(_, e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// What a walk found at its end.
#[derive(Debug)]
pub enum Found {
    /// A regular file, opened for reading, and the `fstat` of that very descriptor.
    File(File, Stat),
    /// The end resolved to the device's `/dev/null` (systemd's mask, by any symlink).
    DevNull,
}

/// An opened directory inside the root, and the way to it, so entries are opened relative to
/// it (no path is looked up twice).
#[derive(Debug, Clone)]
pub struct DirHandle {
    /// Descriptors from the root down to this directory (`..` goes back up, never above).
    stack: Vec<Rc<File>>,
    /// The device path of each descriptor below the root.
    names: Vec<OsString>,
    root: Root,
    pub stat: Stat,
}

impl Root {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Root(dir)
    }

    pub fn dir(&self) -> Option<&Path> {
        self.0.as_deref()
    }

    /// Where a device path is on this machine (lexically; no symlink is looked at).
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

    fn root_handle(&self) -> Result<DirHandle, WalkError> {
        let top = self.0.as_deref().unwrap_or(Path::new("/"));
        let fd = open_path(None, top.as_os_str().as_bytes(), libc::O_DIRECTORY)
            .map_err(|e| WalkError::Io(top.to_path_buf(), e))?;
        let stat = fstat(&fd).map_err(|e| WalkError::Io(top.to_path_buf(), e))?;
        Ok(DirHandle {
            stack: vec![Rc::new(fd)],
            names: Vec::new(),
            root: self.clone(),
            stat,
        })
    }

    /// Opens a directory of the device, judging `/` (without `--root`; a `--root` directory is
    /// the operator's choice), every directory and every symlink hop on the way.
    pub fn open_dir(&self, device_path: &Path, judge: Judge) -> Result<DirHandle, WalkError> {
        // A relative path (`--env-file ./x`) is relative to the working directory, as a shell
        // user means it; under `--root` relative to the root.
        let absolute;
        let device_path = if device_path.is_relative() && self.0.is_none() {
            absolute = std::env::current_dir()
                .map_err(|e| WalkError::Io(device_path.to_path_buf(), e))?
                .join(device_path);
            absolute.as_path()
        } else {
            device_path
        };
        let start = self.root_handle()?;
        if self.0.is_none() {
            judge(Path::new("/"), &start.stat, Hop::Dir).map_err(WalkError::Refused)?;
        }
        start.walk_dir(device_path, judge)
    }

    /// Opens a regular file of the device for reading, judging every hop; see [`DirHandle::open`].
    pub fn walk(&self, device_path: &Path, judge: Judge) -> Result<Found, WalkError> {
        let parent = match device_path.parent() {
            Some(p) if p.as_os_str().is_empty() => Path::new("."),
            Some(p) => p,
            None => Path::new("/"),
        };
        let name = device_path
            .file_name()
            .ok_or_else(|| WalkError::Kind(self.host(device_path), "a directory, not a file"))?;
        self.open_dir(parent, judge)?.open(name, true, judge)
    }
}

impl DirHandle {
    /// This directory's descriptor (the stack always holds the root's: `..` and `/` stop there).
    pub(crate) fn fd(&self) -> io::Result<BorrowedFd<'_>> {
        self.stack
            .last()
            .map(|f| f.as_fd())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))
    }

    /// This directory's path on the device.
    pub fn device_path(&self) -> PathBuf {
        let mut p = PathBuf::from("/");
        for n in &self.names {
            p.push(n);
        }
        p
    }

    /// This directory's path on this machine (for messages and listings).
    pub fn host_path(&self) -> PathBuf {
        self.root.host(&self.device_path())
    }

    /// The `lstat` of an entry (it is not followed).
    pub fn lstat_entry(&self, name: &OsStr) -> io::Result<Stat> {
        let fd = open_path(Some(self.fd()?), name.as_bytes(), libc::O_NOFOLLOW)?;
        fstat(&fd)
    }

    /// The names in this directory, `.` and `..` left out.
    pub fn list(&self) -> io::Result<Vec<OsString>> {
        // The directory's own descriptor, not its path: a listing of what was judged.
        let via_fd = PathBuf::from(format!("/proc/self/fd/{}", self.fd()?.as_raw_fd()));
        let rd = match std::fs::read_dir(&via_fd) {
            Ok(rd) => rd,
            // No /proc (an unusual build sandbox): the path that was just walked.
            Err(_) => std::fs::read_dir(self.host_path())?,
        };
        rd.map(|e| e.map(|e| e.file_name())).collect()
    }

    /// Renames an entry of this directory to another name in it (atomic; replaces `to`).
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        renameat(self.fd()?, from, to)
    }

    /// Renames `from` to `to` in this directory unless `to` exists (then `EEXIST`).
    pub fn rename_noreplace(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        let dir = self.fd()?;
        match renameat_noreplace(dir, from, to) {
            // A file system without RENAME_NOREPLACE: link (fails if `to` exists), unlink.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {
                linkat(dir, from, to)?;
                unlinkat(dir, from)
            }
            r => r,
        }
    }

    /// Walks on from this directory to another directory.
    pub fn walk_dir(&self, path: &Path, judge: Judge) -> Result<DirHandle, WalkError> {
        let mut at = self.clone();
        let mut pending: Vec<OsString> = components(path, &mut at);
        pending.reverse();
        let mut links = 0;
        while let Some(name) = pending.pop() {
            if name == ".." {
                if at.stack.len() > 1 {
                    at.stack.pop();
                    at.names.pop();
                }
                continue;
            }
            let shown = at.host_path().join(&name);
            let fd = at
                .fd()
                .and_then(|d| open_path(Some(d), name.as_bytes(), libc::O_NOFOLLOW))
                .map_err(|e| WalkError::Io(shown.clone(), e))?;
            let st = fstat(&fd).map_err(|e| WalkError::Io(shown.clone(), e))?;
            if st.is_symlink() {
                count_link(&mut links, &shown)?;
                judge(&shown, &st, Hop::Link).map_err(WalkError::Refused)?;
                let target = at
                    .fd()
                    .and_then(|d| readlinkat(d, &name))
                    .map_err(|e| WalkError::Io(shown, e))?;
                let mut more = components(Path::new(&target), &mut at);
                more.reverse();
                pending.extend(more);
                continue;
            }
            if !st.is_dir() {
                return Err(WalkError::Kind(shown, st.kind_name()));
            }
            judge(&shown, &st, Hop::Dir).map_err(WalkError::Refused)?;
            at.stack.push(Rc::new(fd));
            at.names.push(name);
            at.stat = st;
        }
        Ok(at)
    }

    /// Opens the entry `name` for reading: a symlink is followed inside the root (each hop
    /// judged) when `follow`, refused otherwise; the end must be a regular file, which is
    /// opened with `O_NOFOLLOW | O_NONBLOCK` (a FIFO swapped in cannot block) and judged on
    /// that descriptor's `fstat` before anything is read. A symlink that ends at the device's
    /// `/dev/null` (absolute or relative) is [`Found::DevNull`].
    pub fn open(&self, name: &OsStr, follow: bool, judge: Judge) -> Result<Found, WalkError> {
        let mut dir = self.clone();
        let mut name = name.to_os_string();
        let mut links = 0;
        loop {
            let shown = dir.host_path().join(&name);
            let st = dir
                .lstat_entry(&name)
                .map_err(|e| WalkError::Io(shown.clone(), e))?;
            if st.is_symlink() {
                if !follow {
                    return Err(WalkError::Kind(shown, "a symlink"));
                }
                count_link(&mut links, &shown)?;
                judge(&shown, &st, Hop::Link).map_err(WalkError::Refused)?;
                let target = PathBuf::from(
                    dir.fd()
                        .and_then(|d| readlinkat(d, &name))
                        .map_err(|e| WalkError::Io(shown.clone(), e))?,
                );
                if lexical(&dir.device_path().join(&target)) == Path::new("/dev/null") {
                    return Ok(Found::DevNull);
                }
                let Some(tname) = target.file_name().map(OsStr::to_os_string) else {
                    return Err(WalkError::Kind(shown, "a symlink to a directory"));
                };
                let tparent = target.parent().unwrap_or(Path::new(""));
                dir = dir.walk_dir(tparent, judge)?;
                name = tname;
                if dir.device_path() == Path::new("/dev") && name == "null" {
                    return Ok(Found::DevNull);
                }
                continue;
            }
            if !st.is_file() {
                return Err(WalkError::Kind(shown, st.kind_name()));
            }
            let fd = dir.fd().and_then(|d| open_read(d, &name)).map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => WalkError::Kind(shown.clone(), "a symlink"),
                _ => WalkError::Io(shown.clone(), e),
            })?;
            let st = fstat(&fd).map_err(|e| WalkError::Io(shown.clone(), e))?;
            // Swapped between the look and the open: judged on what was opened.
            if !st.is_file() {
                return Err(WalkError::Kind(shown, st.kind_name()));
            }
            judge(&shown, &st, Hop::File).map_err(WalkError::Refused)?;
            return Ok(Found::File(fd, st));
        }
    }
}

// --- What the conf.d loader adds (config::load): a bounded, typed listing and a direct open
// of a listed regular file, so that a fragment costs one open and one fstat, and no
// descriptor is held per fragment. Safe code over the functions above.

/// What a listed entry is, by the listing itself (`d_type`; an `lstat` relative to the
/// directory where the file system does not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// A regular file; its size when it was asked for (`lstat` of the entry, not followed).
    File {
        size: Option<u64>,
    },
    Symlink,
    Dir,
    /// A FIFO, device or socket: never opened by the listing.
    Other,
}

impl From<std::fs::FileType> for EntryType {
    fn from(t: std::fs::FileType) -> Self {
        if t.is_file() {
            EntryType::File { size: None }
        } else if t.is_symlink() {
            EntryType::Symlink
        } else if t.is_dir() {
            EntryType::Dir
        } else {
            EntryType::Other
        }
    }
}

impl DirHandle {
    /// The entries of this directory (`.` and `..` left out) with their types, or `Ok(None)`
    /// when there are more than `max`: the listing stops there, so a directory someone filled
    /// costs neither unbounded memory nor time. A regular file is `lstat`ed (relative to the
    /// directory) for its size when `sized(name)`.
    pub fn list_typed(
        &self,
        max: usize,
        sized: &dyn Fn(&OsStr) -> bool,
    ) -> io::Result<Option<Vec<(OsString, EntryType)>>> {
        // The directory's own descriptor, not its path: a listing of what was judged.
        let via_fd = PathBuf::from(format!("/proc/self/fd/{}", self.fd()?.as_raw_fd()));
        let rd = match std::fs::read_dir(&via_fd) {
            Ok(rd) => rd,
            // No /proc (an unusual build sandbox): the path that was just walked.
            Err(_) => std::fs::read_dir(self.host_path())?,
        };
        let mut out = Vec::new();
        for e in rd {
            if out.len() == max {
                return Ok(None);
            }
            let e = e?;
            let name = e.file_name();
            let mut kind = EntryType::from(e.file_type()?);
            if kind == (EntryType::File { size: None }) && sized(&name) {
                // Swapped meanwhile: what the lstat saw counts.
                let m = e.metadata()?;
                kind = match EntryType::from(m.file_type()) {
                    EntryType::File { .. } => EntryType::File {
                        size: Some(m.len()),
                    },
                    other => other,
                };
            }
            out.push((name, kind));
        }
        Ok(Some(out))
    }

    /// Opens the entry `name` of this directory for reading if it is a regular file, without
    /// following a symlink (`ELOOP` then), without blocking (`O_NONBLOCK`), and returns it
    /// with the `fstat` of that descriptor: the caller judges what was opened.
    pub fn open_entry_file(&self, name: &OsStr) -> io::Result<(File, Stat)> {
        let fd = open_read(self.fd()?, name)?;
        let st = fstat(&fd)?;
        Ok((fd, st))
    }
}

/// `path` with `.` and `..` resolved by name (for recognising `/dev/null` by any spelling).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// The components of `path` to walk from `at`; an absolute path starts again at the root.
fn components(path: &Path, at: &mut DirHandle) -> Vec<OsString> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => {
                at.stack.truncate(1);
                at.names.clear();
                out.clear();
            }
            Component::CurDir => {}
            Component::ParentDir => out.push(OsString::from("..")),
            Component::Normal(n) => out.push(n.to_os_string()),
        }
    }
    out
}

/// `openat(dir, name, O_PATH | O_CLOEXEC | extra)`: a handle to look at, never to read (a
/// `File` only for its metadata).
fn open_path(dir: Option<BorrowedFd<'_>>, name: &[u8], extra: libc::c_int) -> io::Result<File> {
    openat(dir, OsStr::from_bytes(name), libc::O_PATH | libc::O_CLOEXEC | extra)
}

/// `openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)`.
fn open_read(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<File> {
    let flags =
        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    openat(Some(dir), name, flags)
}

/// `fstat` of a descriptor this module holds, through std (`statx`, or `fstat` where the
/// kernel has none).
pub fn fstat(file: &File) -> io::Result<Stat> {
    Ok(Stat::from(&file.metadata()?))
}

impl From<&std::fs::Metadata> for Stat {
    fn from(m: &std::fs::Metadata) -> Stat {
        use std::os::unix::fs::MetadataExt;
        Stat {
            uid: m.uid(),
            mode: m.mode(),
            nlink: m.nlink(),
            size: m.size(),
            dev: m.dev(),
            ino: m.ino(),
        }
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

    fn no_judge() -> impl FnMut(&Path, &Stat, Hop) -> Result<(), crate::error::Error> {
        |_, _, _| Ok(())
    }

    #[test]
    fn a_device_is_never_opened_for_reading() {
        let e = Root::new(None)
            .walk(Path::new("/dev/zero"), &mut no_judge())
            .unwrap_err();
        assert!(
            matches!(e, WalkError::Kind(_, "a character device")),
            "{e:?}"
        );
    }

    #[test]
    fn a_symlink_to_a_device_is_refused_after_its_hops_are_judged() {
        let t = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/zero", t.path().join("z")).unwrap();
        let mut hops = Vec::new();
        let e = Root::new(None)
            .walk(&t.path().join("z"), &mut |p: &Path, _: &Stat, h| {
                hops.push((p.to_path_buf(), h));
                Ok(())
            })
            .unwrap_err();
        assert!(matches!(e, WalkError::Kind(..)), "{e:?}");
        assert!(hops.contains(&(t.path().join("z"), Hop::Link)), "{hops:?}");
        assert!(
            hops.contains(&(PathBuf::from("/dev"), Hop::Dir)),
            "{hops:?}"
        );
    }

    #[test]
    fn every_directory_and_hop_is_shown_to_the_judge() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("a/b")).unwrap();
        std::fs::write(t.path().join("a/b/f"), "x").unwrap();
        std::os::unix::fs::symlink("b/f", t.path().join("a/l")).unwrap();
        let r = Root::new(Some(t.path().to_path_buf()));
        let mut hops = Vec::new();
        let found = r
            .walk(Path::new("/a/l"), &mut |p: &Path, _: &Stat, h| {
                hops.push((p.strip_prefix(t.path()).unwrap().to_path_buf(), h));
                Ok(())
            })
            .unwrap();
        assert!(matches!(found, Found::File(..)));
        let want: Vec<(PathBuf, Hop)> = vec![
            ("a".into(), Hop::Dir),
            ("a/l".into(), Hop::Link),
            ("a/b".into(), Hop::Dir),
            ("a/b/f".into(), Hop::File),
        ];
        assert_eq!(hops, want);
    }

    #[test]
    fn a_refusing_judge_stops_the_walk_before_the_file_is_opened() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("a")).unwrap();
        std::fs::write(t.path().join("a/f"), "x").unwrap();
        let r = Root::new(Some(t.path().to_path_buf()));
        let e = r
            .walk(Path::new("/a/f"), &mut |_, _, h| {
                if h == Hop::Dir {
                    Err(crate::error::Error::new(crate::error::Kind::Config, "no"))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert!(matches!(e, WalkError::Refused(_)));
    }

    #[test]
    fn dot_dot_never_leaves_the_root() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(t.path().join("f"), "inside").unwrap();
        std::os::unix::fs::symlink("../../../../../../f", t.path().join("etc/l")).unwrap();
        let r = Root::new(Some(t.path().to_path_buf()));
        let Found::File(mut f, _) = r.walk(Path::new("/etc/l"), &mut no_judge()).unwrap() else {
            panic!("not a file");
        };
        let mut s = String::new();
        std::io::Read::read_to_string(&mut f, &mut s).unwrap();
        assert_eq!(s, "inside");
    }

    #[test]
    fn an_absolute_symlink_on_a_directory_is_resolved_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let host = tempfile::tempdir().unwrap();
        std::fs::write(host.path().join("f"), "host").unwrap();
        std::os::unix::fs::symlink(host.path(), t.path().join("d")).unwrap();
        let r = Root::new(Some(t.path().to_path_buf()));
        let e = r.walk(Path::new("/d/f"), &mut no_judge()).unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
    }

    #[test]
    fn symlinks_to_dev_null_by_any_spelling_are_masks() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("etc/c")).unwrap();
        for (name, target) in [
            ("a", "/dev/null"),
            ("b", "../../dev/null"),
            ("c", "/etc/../dev/./null"),
        ] {
            std::os::unix::fs::symlink(target, t.path().join("etc/c").join(name)).unwrap();
            let r = Root::new(Some(t.path().to_path_buf()));
            let found = r
                .walk(&Path::new("/etc/c").join(name), &mut no_judge())
                .unwrap();
            assert!(matches!(found, Found::DevNull), "{target}");
        }
    }

    #[test]
    fn a_directory_swapped_for_a_fifo_is_refused_at_once() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("fifo");
        crate::system::fs::mkfifo(&p).unwrap();
        let r = Root::new(Some(t.path().to_path_buf()));
        let e = r.walk(Path::new("/fifo"), &mut no_judge()).unwrap_err();
        assert!(matches!(e, WalkError::Kind(_, "a FIFO")), "{e:?}");
    }

    #[test]
    fn symlink_loops_end_with_an_error() {
        let t = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/a", t.path().join("a")).unwrap();
        let r = Root::new(Some(t.path().to_path_buf()));
        let e = r.walk(Path::new("/a"), &mut no_judge()).unwrap_err();
        assert!(
            matches!(&e, WalkError::Io(_, e) if e.raw_os_error() == Some(libc::ELOOP)),
            "{e:?}"
        );
    }
    #[test]
    fn a_relative_path_without_a_root_is_relative_to_the_working_directory() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("f"), "x").unwrap();
        let rel = t.path().strip_prefix(std::env::current_dir().unwrap());
        // Only meaningful when the temp dir is below the working directory; else absolute works.
        let p = rel.map_or_else(|_| t.path().join("f"), |r| r.join("f"));
        assert!(matches!(
            Root::new(None).walk(&p, &mut no_judge()).unwrap(),
            Found::File(..)
        ));
    }
}
