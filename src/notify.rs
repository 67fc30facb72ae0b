//! `sd_notify` for operators: STATUS= (and ERRNO= on failure) before swupdate takes over, so
//! `systemctl status` says what is being installed, or why nothing was.
//!
//! A few lines of `sendto` instead of a crate: the common crate cannot reach abstract-namespace
//! sockets (`@name`), and the launcher must never touch LISTEN_FDS or unset NOTIFY_SOCKET,
//! which swupdate needs after the exec.
//!
//! Touches one socket: a datagram to `NOTIFY_SOCKET`, when it is set; nothing else.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use crate::error::Kind;

/// What `NOTIFY_SOCKET` names, if anything.
fn target(value: &str) -> io::Result<SocketAddr> {
    match value.strip_prefix('@') {
        Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name.as_bytes()),
        None => SocketAddr::from_pathname(value),
    }
}

/// Sends `state` (newline-separated `KEY=value` lines) to the service manager. Without
/// NOTIFY_SOCKET (not under systemd) this does nothing.
pub fn send(notify_socket: Option<&str>, state: &str) -> io::Result<()> {
    let Some(value) = notify_socket.filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    let addr = target(value)?;
    let sock = UnixDatagram::unbound()?;
    sock.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

/// One line (STATUS= must not contain a newline), secrets masked: `systemctl status` shows it
/// to anyone.
fn one_line(text: &str) -> String {
    crate::secret::redact(&text.replace(['\n', '\r'], " "))
}

pub fn status(text: &str) -> String {
    format!("STATUS={}", one_line(text))
}

/// The errno systemd shows for a failure of this kind.
pub fn errno(kind: Kind) -> i32 {
    match kind {
        Kind::Usage | Kind::Config => libc::EINVAL,
        Kind::MissingInput | Kind::ExecNotFound => libc::ENOENT,
        Kind::Io => libc::EIO,
        Kind::Busy => libc::EBUSY,
        Kind::SlotUnknown => libc::ENODEV,
        Kind::SlotIsBooted => libc::EBUSY,
        Kind::Unhealthy => libc::EIO,
        Kind::FellBack => libc::ECANCELED,
        Kind::BootEnv => libc::EIO,
        Kind::ExecFailed => libc::EACCES,
        Kind::PreflightDns => libc::EHOSTUNREACH,
        Kind::PreflightConnect => libc::ECONNREFUSED,
        Kind::PreflightTimeout => libc::ETIMEDOUT,
        Kind::PreflightTls => libc::EPROTO,
        Kind::PreflightDenied => libc::EACCES,
        Kind::PreflightNotFound => libc::ENOENT,
        Kind::PreflightServer => libc::EAGAIN,
        Kind::PreflightNotAnUpdate => libc::EBADMSG,
        Kind::PreflightRedirects => libc::ELOOP,
        Kind::VerifySecurity => libc::EBADMSG,
        Kind::VerifyFailed | Kind::VerifyCrashed | Kind::VerifyNoOutput => libc::EIO,
        Kind::VerifyTimeout => libc::ETIMEDOUT,
        Kind::VerifyNoRoom => libc::ENOSPC,
        Kind::VerifyTooLarge => libc::EFBIG,
        Kind::VerifyUserShared => libc::EPERM,
    }
}

pub fn failure(text: &str, kind: Kind) -> String {
    format!("{}\nERRNO={}", status(text), errno(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_one_line() {
        assert_eq!(status("a\nb"), "STATUS=a b");
    }

    #[test]
    fn failure_carries_errno() {
        assert_eq!(
            failure("x", Kind::Busy),
            format!("STATUS=x\nERRNO={}", libc::EBUSY)
        );
    }

    #[test]
    fn nothing_is_sent_without_a_socket() {
        assert!(send(None, "STATUS=x").is_ok());
        assert!(send(Some(""), "STATUS=x").is_ok());
    }

    #[test]
    fn path_socket_receives_the_datagram() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("notify");
        let rx = UnixDatagram::bind(&p).unwrap();
        send(p.to_str(), "STATUS=hello").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STATUS=hello");
    }

    #[test]
    fn abstract_socket_receives_the_datagram() {
        let name = format!("swupdate-launcher-test-{}", std::process::id());
        let rx = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
            .unwrap();
        send(Some(&format!("@{name}")), "STATUS=abstract").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STATUS=abstract");
    }
}
