//! The preflight as the service runs it: wired between the lock and the exec.
#![cfg(feature = "streaming")]

#[allow(dead_code)]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::thread;
use std::time::Duration;

use support::{Device as Root, assert_exit};

/// Answers every request with `status` until the test ends (at most `n` requests).
fn server(status: &'static str, n: usize) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in l.incoming().take(n) {
            let Ok(mut s) = stream else { return };
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let body = if status.starts_with("200") {
                "x".repeat(4096)
            } else {
                String::new()
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
        }
    });
    port
}

fn device(port: u16) -> Root {
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
        &format!("URL=http://127.0.0.1:{port}/fw.swu?token=abc\n"),
    );
    r
}

#[test]
fn a_missing_artifact_stops_the_launcher_before_swupdate() {
    let r = device(server("404 Not Found", 4));
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
    let r = device(server("200 OK", 4));
    let o = r.run(&[]);
    assert_exit(&o, 0);
    assert!(r.host("/swupdate-ran").exists());
}

#[test]
fn the_preflight_can_be_switched_off() {
    let r = device(server("404 Not Found", 4));
    r.lib("20-off", "SWUPDATE_PREFLIGHT=no\n");
    let o = r.run(&[]);
    assert_exit(&o, 0);
    assert!(r.host("/swupdate-ran").exists());
}
