//! One update at a time: an exclusive `flock` taken before the exec, on a descriptor that the
//! exec'd swupdate inherits. The lock lives exactly as long as swupdate does, and the kernel
//! drops it if swupdate dies; nothing has to clean up a stale lock file.

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
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
    // A symlink or a FIFO planted at the lock's path is refused, never followed or written:
    // the launcher runs as root and writes its PID into the file.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            let why = if e.raw_os_error() == Some(libc::ELOOP) {
                "it is a symlink".to_string()
            } else {
                e.to_string()
            };
            Error::new(Kind::Io, format!("cannot open the lock file: {why}")).on(path)
        })?;
    match file.metadata() {
        Ok(m) if m.is_file() => {}
        _ => {
            return Err(
                Error::new(Kind::Io, "refusing the lock file: it is not a regular file").on(path),
            );
        }
    }
    if let Err(e) = try_flock(&file) {
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            let mut holder = String::new();
            let _ = (&file).read_to_string(&mut holder);
            let holder = holder.lines().next().unwrap_or_default().trim();
            // swupdate hands the descriptor on to what it starts (its helpers, a handler's
            // script): if the swupdate that took the lock is gone, one of those holds it.
            let gone = Path::new("/proc/self").exists()
                && holder
                    .parse::<u32>()
                    .is_ok_and(|pid| !Path::new("/proc").join(pid.to_string()).exists());
            if gone {
                return Err(Error::new(
                    Kind::Busy,
                    format!("the update lock is held, but swupdate (pid {holder}) that took it has exited: a process it started still holds it; nothing was started"),
                )
                .on(path)
                .hint("find it with `fuser -v` on the lock file and end it; under systemd, KillMode=mixed (the shipped units) ends such processes with the unit"));
            }
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

/// `flock(LOCK_EX | LOCK_NB)`; std's `File::try_lock` needs Rust 1.89, above the MSRV (1.85).
#[allow(unsafe_code)]
fn try_flock(file: &File) -> std::io::Result<()> {
    // SAFETY: flock on a descriptor we own, no pointers.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
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
    #[allow(unsafe_code)]
    fn a_fifo_at_the_lock_path_is_refused_at_once() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        assert!(acquire(&p).is_err());
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
