//! The preflight as the service runs it: wired between the lock and the exec.
#![cfg(feature = "streaming")]

use crate::support;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use support::http::{HttpServer, reply};
use support::{Device as Root, assert_exit};

/// Answers every request with `status` (a 200 with a 4 KiB update) until the test ends.
fn server(status: u16) -> HttpServer {
    HttpServer::start(move |_, _| {
        let r = reply(status).h("Content-Type", "application/octet-stream");
        if status == 200 {
            r.body(vec![b'x'; 4096])
        } else {
            r
        }
    })
}

fn device(srv: &HttpServer) -> Root {
    let r = Root::file_mode();
    r.write(
        "/usr/bin/swupdate",
        &format!("#!/bin/sh\ntouch {}\n", r.host("/swupdate-ran").display()),
    );
    r.lib(
        "10-source",
        "SWUPDATE_SOURCE=download\nSWUPDATE_ALLOW_HTTP=yes\nSWUPDATE_PREFLIGHT_BUDGET=0\n",
    )
    .etc(
        "descriptor.env",
        &format!("URL={}?token=abc\n", srv.url("/fw.swu")),
    );
    r
}

#[test]
fn a_missing_artifact_stops_the_launcher_before_swupdate() {
    let srv = server(404);
    let r = device(&srv);
    let n = r.host("/notify");
    let l = UnixDatagram::bind(&n).unwrap();
    l.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let o = r.run_env(&[], &[("NOTIFY_SOCKET", n.to_str().unwrap())]);
    assert_exit(&o, 85);
    assert!(
        !r.host("/swupdate-ran").exists(),
        "swupdate was not started"
    );
    let mut buf = [0u8; 4096];
    let len = l.recv(&mut buf).unwrap();
    let status = String::from_utf8_lossy(&buf[..len]).into_owned();
    assert!(status.starts_with("STATUS=not started: "), "{status}");
    assert!(
        status.ends_with(&format!("\nERRNO={}", libc::ENOENT)),
        "{status}"
    );
    assert!(!status.contains("abc"), "{status}");
    assert!(
        r.host("/etc/swupdate/conf.d/descriptor.env").exists(),
        "a failed preflight leaves the descriptor for a retry"
    );
}

#[test]
fn a_present_artifact_lets_swupdate_start() {
    let srv = server(200);
    let r = device(&srv);
    let o = r.run(&[]);
    assert_exit(&o, 0);
    assert!(r.host("/swupdate-ran").exists());
}

#[test]
fn the_preflight_can_be_switched_off() {
    let srv = server(404);
    let r = device(&srv);
    r.lib("20-off", "SWUPDATE_PREFLIGHT=no\n");
    let o = r.run(&[]);
    assert_exit(&o, 0);
    assert!(r.host("/swupdate-ran").exists());
}

#[test]
fn the_log_names_where_a_redirect_took_the_preflight() {
    let srv = HttpServer::start(|_, r| {
        if r.path() == "/fw.swu" {
            reply(302).h("Location", "/moved.swu?token=moved-secret")
        } else {
            reply(200).update()
        }
    });
    let r = device(&srv);
    let o = r.run(&[]);
    assert_exit(&o, 0);
    let log = support::stderr(&o);
    assert!(log.contains("redirected to http://127.0.0.1"), "{log}");
    assert!(log.contains("/moved.swu"), "{log}");
    assert!(!log.contains("moved-secret"), "{log}");
}

/// A stop (systemd's SIGTERM) while the preflight waits for the server gives the claimed
/// descriptor back: the handoff is not lost, the next start uses it.
#[test]
fn a_stop_during_the_preflight_gives_the_claimed_descriptor_back() {
    use std::os::unix::process::ExitStatusExt;
    let srv = HttpServer::start(|_, _| {
        std::thread::sleep(Duration::from_secs(5));
        reply(200).update()
    });
    let r = device(&srv);
    let descriptor = r.host("/etc/swupdate/conf.d/descriptor.env");
    let handoff = std::fs::read_to_string(&descriptor).unwrap();
    let mut launcher = r.command(&[], &[]).spawn().unwrap();
    let asked = std::time::Instant::now();
    while srv.requests().is_empty() {
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "the preflight never asked"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!descriptor.exists(), "claimed while the preflight runs");
    // SAFETY: kill with the pid of the child this test started.
    unsafe { libc::kill(launcher.id() as libc::pid_t, libc::SIGTERM) };
    let status = launcher.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGTERM),
        "it dies of the signal, as before"
    );
    assert_eq!(std::fs::read_to_string(&descriptor).unwrap(), handoff);
    assert!(!r.host("/swupdate-ran").exists());
}
