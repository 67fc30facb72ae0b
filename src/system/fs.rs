//! Files: names looked up relative to a directory descriptor (the root walk opens, reads links
//! and renames that way, so a path is never looked up twice; std works by path only), the
//! update lock's `flock`, and the free space of a file system.
//!
//! A name is an `OsStr` without a NUL byte (one with a NUL is refused with `EINVAL`, as the
//! kernel would refuse a name it cannot be given); a directory is a borrowed descriptor.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use super::last_error;

fn cstring(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `openat(dir, name, flags)`, relative to the working directory when `dir` is `None`. Flags
/// that create a file (`O_CREAT`, `O_TMPFILE`) are refused with `EINVAL`: the walk never
/// creates, and without them the call reads no mode argument.
pub fn openat(dir: Option<BorrowedFd<'_>>, name: &OsStr, flags: libc::c_int) -> io::Result<File> {
    // O_TMPFILE holds O_DIRECTORY's bit: it is set only when all its bits are.
    if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let name = cstring(name)?;
    let dir = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: `name` is NUL-terminated and outlives the call; `dir` is a borrowed open
    // descriptor or AT_FDCWD; the flags cannot create, so no mode argument is read.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags) };
    if fd < 0 {
        return last_error();
    }
    // SAFETY: `fd` was just returned by openat and is owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// `readlinkat(dir, name)`: a symlink's target, up to PATH_MAX.
pub fn readlinkat(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OsString> {
    let name = cstring(name)?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: `buf` is writable for `buf.len()` bytes; `name` is NUL-terminated; `dir` is open.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return last_error();
    }
    let n = usize::try_from(n).unwrap_or(0).min(buf.len());
    buf.truncate(n);
    Ok(OsString::from_vec(buf))
}

/// `renameat(dir, from, dir, to)`: atomic, replaces `to`.
pub fn renameat(dir: BorrowedFd<'_>, from: &OsStr, to: &OsStr) -> io::Result<()> {
    let (from, to) = (cstring(from)?, cstring(to)?);
    let dir = dir.as_raw_fd();
    // SAFETY: both names are NUL-terminated and outlive the call; `dir` is open.
    if unsafe { libc::renameat(dir, from.as_ptr(), dir, to.as_ptr()) } != 0 {
        return last_error();
    }
    Ok(())
}

/// `renameat2(dir, from, dir, to, RENAME_NOREPLACE)`, by system call (not every libc wraps
/// it): `EEXIST` when `to` exists; `EINVAL` or `ENOSYS` where the file system or kernel has no
/// such rename.
pub fn renameat_noreplace(dir: BorrowedFd<'_>, from: &OsStr, to: &OsStr) -> io::Result<()> {
    let (from, to) = (cstring(from)?, cstring(to)?);
    let dir = dir.as_raw_fd();
    // SAFETY: both names are NUL-terminated and outlive the call; `dir` is open; the flag is
    // a plain integer.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            dir,
            from.as_ptr(),
            dir,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r != 0 {
        return last_error();
    }
    Ok(())
}

/// `linkat(dir, from, dir, to, 0)`: a second name, `EEXIST` when `to` exists.
pub fn linkat(dir: BorrowedFd<'_>, from: &OsStr, to: &OsStr) -> io::Result<()> {
    let (from, to) = (cstring(from)?, cstring(to)?);
    let dir = dir.as_raw_fd();
    // SAFETY: both names are NUL-terminated and outlive the call; `dir` is open.
    if unsafe { libc::linkat(dir, from.as_ptr(), dir, to.as_ptr(), 0) } != 0 {
        return last_error();
    }
    Ok(())
}

/// `unlinkat(dir, name, 0)`.
pub fn unlinkat(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let name = cstring(name)?;
    // SAFETY: `name` is NUL-terminated and outlives the call; `dir` is open.
    if unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) } != 0 {
        return last_error();
    }
    Ok(())
}

/// `flock(LOCK_EX | LOCK_NB)`: `EWOULDBLOCK` while another descriptor holds it. std's
/// `File::try_lock` is the same call from Rust 1.89, above the MSRV (1.85, the newest a
/// Debian toolchain at or below whinlatter's 1.90 proves).
pub fn try_lock(file: &File) -> io::Result<()> {
    // SAFETY: flock on a descriptor the borrowed `File` keeps open; no pointers.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return last_error();
    }
    Ok(())
}

/// The bytes an unprivileged writer may still use on the file system of `dir` (`statvfs`);
/// `None` when it cannot be asked.
// The statvfs fields are 32 bits wide on 32-bit targets (armv7 devices), 64 on this machine.
#[allow(clippy::useless_conversion)]
pub fn available_bytes(dir: &Path) -> Option<u64> {
    let c = cstring(dir.as_os_str()).ok()?;
    // SAFETY: an all-zero statvfs is a valid value of this plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: statvfs writes only into the struct we own; the path is NUL-terminated.
    (unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0)
        .then(|| u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)))
}

/// `mkfifo(path, 0644)`, for the tests that plant a FIFO where a file is expected (std's
/// `mkfifo` is unstable).
#[cfg(test)]
pub fn mkfifo(path: &Path) -> io::Result<()> {
    let c = cstring(path.as_os_str())?;
    // SAFETY: the path is NUL-terminated and outlives the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o644) } != 0 {
        return last_error();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openat_refuses_flags_that_would_create_a_file() {
        let t = tempfile::tempdir().unwrap();
        let name = t.path().join("new");
        for flags in [
            libc::O_CREAT | libc::O_WRONLY,
            libc::O_TMPFILE | libc::O_RDWR,
        ] {
            let e = openat(None, name.as_os_str(), flags).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{flags:#x}");
        }
        assert!(!name.exists());
    }

    #[test]
    fn a_name_with_a_nul_byte_is_refused() {
        let e = openat(None, OsStr::new("a\0b"), libc::O_RDONLY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    }
}
