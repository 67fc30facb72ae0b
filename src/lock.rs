//! One update at a time: an exclusive `flock` taken before the exec, on a descriptor that the
//! exec'd swupdate inherits. The lock lives exactly as long as swupdate does, and the kernel
//! drops it if swupdate dies; nothing has to clean up a stale lock file.

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::{Error, Kind};

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
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::new(Kind::Io, format!("cannot open the lock file: {e}")).on(path))?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            let mut holder = String::new();
            let _ = (&file).read_to_string(&mut holder);
            let holder = holder.lines().next().unwrap_or_default().trim();
            let who = if holder.is_empty() {
                String::new()
            } else {
                format!(" (pid {holder})")
            };
            return Err(Error::new(
                Kind::Busy,
                format!("another update is running{who}; nothing was started"),
            )
            .on(path)
            .hint("wait for it to finish: the lock is released when that swupdate exits"));
        }
        return Err(Error::new(Kind::Io, format!("cannot lock: {e}")).on(path));
    }
    // Who holds it, for the message a second launcher prints; swupdate keeps this PID. Fixed
    // width at offset 0, so the file never needs truncating (an ftruncate is slow where /run
    // is not a tmpfs).
    let _ = file.write_all_at(format!("{:>10}\n", std::process::id()).as_bytes(), 0);
    Ok(Held { file })
}

impl Held {
    /// Lets the descriptor survive the exec, so swupdate holds the lock from now on.
    pub fn hand_over(self) {
        let fd = self.file.into_raw_fd();
        // SAFETY: clearing FD_CLOEXEC on a descriptor we own and deliberately leak.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
