//! One update at a time: an exclusive `flock` taken before the exec, on a descriptor that the
//! exec'd swupdate inherits. The lock lives exactly as long as swupdate does, and the kernel
//! drops it if swupdate dies; nothing has to clean up a stale lock file.

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{Error, Kind};
use crate::system::fs::try_lock;
use crate::system::process::effective_uid;

/// On the device; under `--root` it is placed below the root like every other path.
pub const LOCK_FILE: &str = "/run/swupdate-launcher.lock";

/// The held lock, not yet handed to swupdate.
#[derive(Debug)]
pub struct Held {
    file: File,
}

pub fn acquire(path: &Path) -> Result<Held, Error> {
    if let Some(dir) = path.parent() {
        let _ = fs::create_dir_all(dir);
        judge_directory(dir).map_err(|why| {
            Error::new(Kind::Io, format!("refusing the lock's directory: {why}")).on(dir)
        })?;
    }
    let file = open(path, false)?;
    let file = match file.metadata() {
        Ok(m) if m.is_file() && is_private(&m, effective_uid()) => file,
        Ok(m) if m.is_file() => replace(path, file, &m)?,
        _ => {
            return Err(
                Error::new(Kind::Io, "refusing the lock file: it is not a regular file").on(path),
            );
        }
    };
    if let Err(e) = try_lock(&file) {
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(held_by_another(path, &file));
        }
        return Err(Error::new(Kind::Io, format!("cannot lock: {e}")).on(path));
    }
    // Who holds it, for the message a second launcher prints; swupdate keeps this PID. Fixed
    // width at offset 0, so the file never needs truncating (an ftruncate is slow where /run
    // is not a tmpfs).
    let _ = file.write_all_at(format!("{:>10}\n", std::process::id()).as_bytes(), 0);
    Ok(Held { file })
}

/// Opens (creating it private, or with `exclusive` only creating it) without following a
/// symlink or blocking on a FIFO planted at the path: the launcher runs as root and writes its
/// PID into the file.
fn open(path: &Path, exclusive: bool) -> Result<File, Error> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(!exclusive)
        .create_new(exclusive)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            let why = if e.raw_os_error() == Some(libc::ELOOP) {
                "it is a symlink".to_string()
            } else {
                e.to_string()
            };
            Error::new(Kind::Io, format!("cannot open the lock file: {why}")).on(path)
        })
}

/// Nobody but the launcher's own user (root on a device) may hold the lock. `flock` works on a
/// descriptor opened read-only, so a lock file any other user can open is a lock any other
/// user can hold, switching off every update path: the file must be the launcher's, readable
/// by nobody else, with one name.
fn is_private(m: &fs::Metadata, uid: u32) -> bool {
    m.uid() == uid && m.mode() & 0o077 == 0 && m.nlink() == 1
}

/// Another user could plant (or swap) the lock file in a directory it may write.
fn judge_directory(dir: &Path) -> Result<(), String> {
    let m = fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
    if !m.is_dir() {
        return Err("it is not a directory".into());
    }
    if m.mode() & 0o022 != 0 {
        return Err(format!(
            "users other than its owner may write it (mode {:o})",
            m.mode() & 0o7777
        ));
    }
    Ok(())
}

/// A lock file that is not private (left by an older launcher, which made it 0644, or made by
/// hand) may be held by any user who opened it: it is replaced by a new private one, under the
/// same name, unless a process of the launcher's own user holds it (an update is running).
fn replace(path: &Path, old: File, meta: &fs::Metadata) -> Result<File, Error> {
    if try_lock(&old).is_err() {
        let locks = fs::read_to_string("/proc/locks").unwrap_or_default();
        let holders = flock_holders(&locks, meta.dev(), meta.ino());
        let uid = effective_uid();
        let privileged = holders.is_empty()
            || holders.iter().any(|pid| {
                crate::procfs::effective_uid(*pid).is_none_or(|owner| owner == uid || owner == 0)
            });
        if privileged {
            return Err(held_by_another(path, &old));
        }
    }
    fs::remove_file(path)
        .map_err(|e| Error::new(Kind::Io, format!("cannot replace the lock file: {e}")).on(path))?;
    open(path, true)
}

/// The PIDs that hold a `flock` on the file `(dev, ino)`, read from `/proc/locks` lines such as
/// `1: FLOCK  ADVISORY  WRITE 4242 00:1a:1234 0 EOF` (device as hex major:minor); waiters
/// (`1: -> FLOCK ...`) hold nothing.
fn flock_holders(locks: &str, dev: u64, ino: u64) -> Vec<u32> {
    let (major, minor) = (dev_major(dev), dev_minor(dev));
    locks
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace().skip(1);
            if words.next()? != "FLOCK" {
                return None;
            }
            let pid = words.nth(2)?.parse().ok()?;
            let mut id = words.next()?.split(':');
            let held = u64::from_str_radix(id.next()?, 16).ok()? == major
                && u64::from_str_radix(id.next()?, 16).ok()? == minor
                && id.next()?.parse::<u64>().ok()? == ino;
            held.then_some(pid)
        })
        .collect()
}

/// glibc's `major()` of a `dev_t`.
fn dev_major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}

/// glibc's `minor()` of a `dev_t`.
fn dev_minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

/// The refusal when the lock is held: by whom, as far as the file says.
fn held_by_another(path: &Path, file: &File) -> Error {
    let mut holder = String::new();
    let _ = file.take(64).read_to_string(&mut holder);
    let holder = holder.lines().next().unwrap_or_default().trim();
    // swupdate hands the descriptor on to what it starts (its helpers, a handler's
    // script): if the swupdate that took the lock is gone, one of those holds it.
    let gone = Path::new("/proc/self").exists()
        && holder
            .parse::<u32>()
            .is_ok_and(|pid| !Path::new("/proc").join(pid.to_string()).exists());
    if gone {
        return Error::new(
            Kind::Busy,
            format!("the update lock is held, but swupdate (pid {holder}) that took it has exited: a process it started still holds it; nothing was started"),
        )
        .on(path)
        .hint("find it with `fuser -v` on the lock file and end it; under systemd, KillMode=mixed (the shipped units) ends such processes with the unit");
    }
    let who = if holder.is_empty() {
        String::new()
    } else {
        format!(" (pid {holder})")
    };
    Error::new(
        Kind::Busy,
        format!("another update is running{who}; nothing was started"),
    )
    .on(path)
    .hint("wait for it to finish: the lock is released when that swupdate exits")
}

impl Held {
    /// Lets the descriptor survive the exec, so swupdate holds the lock from now on.
    pub fn hand_over(self) {
        crate::exec::inherit(self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_symlink_at_the_lock_path_is_refused_and_its_target_untouched() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, "precious\n").unwrap();
        let p = d.path().join("x.lock");
        std::os::unix::fs::symlink(&victim, &p).unwrap();
        let e = acquire(&p).unwrap_err();
        assert_eq!(e.kind, Kind::Io);
        assert!(e.message.contains("symlink"), "{}", e.message);
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    }

    #[test]
    fn a_lock_kept_by_a_leftover_child_is_reported_as_such() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        let held = acquire(&p).unwrap();
        // As if the swupdate that took it had exited: a pid that does not exist.
        held.file.write_all_at(b"4000000000\n", 0).unwrap();
        let e = acquire(&p).unwrap_err();
        assert_eq!(e.kind, Kind::Busy);
        assert!(e.message.contains("has exited"), "{}", e.message);
    }

    #[test]
    fn a_fifo_at_the_lock_path_is_refused_at_once() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        crate::system::fs::mkfifo(&p).unwrap();
        assert!(acquire(&p).is_err());
    }

    #[test]
    fn a_new_lock_file_is_readable_by_its_owner_only() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        let _held = acquire(&p).unwrap();
        let m = fs::metadata(&p).unwrap();
        assert_eq!(m.mode() & 0o777, 0o600);
    }

    #[test]
    fn a_lock_file_others_could_open_is_replaced_by_a_private_one() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        fs::write(&p, "").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let before = fs::metadata(&p).unwrap().ino();
        let _held = acquire(&p).unwrap();
        let m = fs::metadata(&p).unwrap();
        assert_eq!(m.mode() & 0o777, 0o600);
        assert_ne!(
            m.ino(),
            before,
            "a new file, not the one others may have open"
        );
    }

    #[test]
    fn a_lock_directory_others_may_write_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("run");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
        let e = acquire(&dir.join("x.lock")).unwrap_err();
        assert_eq!(e.kind, Kind::Io);
        assert!(e.message.contains("other"), "{}", e.message);
    }

    #[test]
    fn the_holders_of_a_flock_are_read_from_proc_locks() {
        let dev = (8 << 8) | 1; // makedev(8, 1)
        let locks = "1: POSIX  ADVISORY  WRITE 11 08:01:77 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 4242 08:01:77 0 EOF\n\
                     2: -> FLOCK  ADVISORY  WRITE 4343 08:01:77 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 5151 08:01:78 0 EOF\n\
                     4: FLOCK  ADVISORY  WRITE 6161 08:02:77 0 EOF\n";
        assert_eq!(flock_holders(locks, dev, 77), vec![4242]);
    }

    #[test]
    fn device_numbers_split_as_glibc_splits_them() {
        // makedev(259, 70000): the minor's high bits live above the major's.
        let dev = (259 << 8) | (70000 & 0xff) | ((70000 & !0xff) << 12);
        assert_eq!((dev_major(dev), dev_minor(dev)), (259, 70000));
    }

    #[test]
    fn a_second_lock_is_refused_while_the_first_is_held() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("run/x.lock");
        let first = acquire(&p).unwrap();
        let e = acquire(&p).unwrap_err();
        assert_eq!(e.kind, Kind::Busy);
        assert!(
            e.message.contains(&format!("pid {}", std::process::id())),
            "{}",
            e.message
        );
        drop(first);
        assert!(acquire(&p).is_ok());
    }
}
