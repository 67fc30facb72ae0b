//! What the launcher tells systemd and the journal, and one update at a time.

use crate::support;

use std::fs;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::time::{Duration, Instant};

use support::Device;

/// A datagram socket standing in for systemd's notify socket or the journal.
struct Listener {
    sock: UnixDatagram,
}

impl Listener {
    fn at(path: &Path) -> Listener {
        let sock = UnixDatagram::bind(path).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Listener { sock }
    }

    fn abstract_named(name: &str) -> Listener {
        let sock =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Listener { sock }
    }

    fn next(&self) -> Vec<u8> {
        let mut buf = vec![0u8; 65536];
        let n = self.sock.recv(&mut buf).expect("a datagram within 10 s");
        buf.truncate(n);
        buf
    }

    fn next_text(&self) -> String {
        String::from_utf8(self.next()).unwrap()
    }

    fn nothing_pending(&self) -> bool {
        self.sock.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 16];
        self.sock.recv(&mut buf).is_err()
    }
}

/// Journal fields of one native-protocol datagram (simple `NAME=value` lines only).
fn fields(datagram: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(datagram)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Runs the launcher on `r` with a notify socket of its own (in the root), bound before the
/// start: what the launcher sent is waiting in the listener.
fn run_notified(r: &Device, args: &[&str]) -> (std::process::Output, Listener) {
    let sock = r.path().join("notify");
    let l = Listener::at(&sock);
    let o = r.run_env(args, &[("NOTIFY_SOCKET", sock.to_str().unwrap())]);
    (o, l)
}

#[test]
fn status_says_what_is_about_to_happen_before_exec() {
    let r = Device::file_mode();
    let (o, l) = run_notified(&r, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        l.next_text(),
        format!(
            "STATUS=file mode: installing {p}/data/update.swu with {p}/usr/bin/swupdate",
            p = r.path().display()
        )
    );
}

#[test]
fn status_and_errno_say_why_nothing_started() {
    let r = Device::file_mode();
    r.etc("10-source", "SWUPDATE_SOURCE=usb\n");
    let (o, l) = run_notified(&r, &[]);
    assert_eq!(o.status.code(), Some(65));
    assert_eq!(
        l.next_text(),
        format!(
            "STATUS=not started: {}/etc/swupdate/conf.d/10-source:1: SWUPDATE_SOURCE: `usb` is not a mode\nERRNO=22",
            r.path().display()
        )
    );
}

#[test]
fn status_reaches_an_abstract_notify_socket() {
    let r = Device::file_mode();
    fs::remove_file(r.host("/data/update.swu")).unwrap();
    let name = format!("swupdate-launcher-service-test-{}", std::process::id());
    let l = Listener::abstract_named(&name);
    let o = r.run_env(&[], &[("NOTIFY_SOCKET", &format!("@{name}"))]);
    assert_eq!(o.status.code(), Some(66));
    let msg = l.next_text();
    assert!(msg.starts_with("STATUS=not started: "), "{msg}");
    assert!(msg.ends_with("\nERRNO=2"), "{msg}");
}

#[test]
fn check_and_explain_send_no_status() {
    let r = Device::file_mode();
    let l = Listener::at(&r.path().join("notify"));
    let sock = r.path().join("notify");
    for args in [&["check"][..], &["explain"], &["--print-argv"]] {
        r.run_env(args, &[("NOTIFY_SOCKET", sock.to_str().unwrap())]);
    }
    assert!(l.nothing_pending());
}

#[test]
fn journal_record_carries_structured_fields() {
    let r = Device::file_mode();
    let j = r.path().join("journal");
    let l = Listener::at(&j);
    let o = r.run_env(
        &[],
        &[("SWUPDATE_LAUNCHER_JOURNAL_SOCKET", j.to_str().unwrap())],
    );
    assert!(o.status.success());
    assert!(o.stderr.is_empty(), "the journal got it, not stderr");
    let f = fields(&l.next());
    let p = r.path().display();
    assert_eq!(
        field(&f, "MESSAGE"),
        Some(
            format!("file mode: installing {p}/data/update.swu with {p}/usr/bin/swupdate").as_str()
        )
    );
    assert_eq!(field(&f, "PRIORITY"), Some("6"));
    assert_eq!(field(&f, "SYSLOG_IDENTIFIER"), Some("swupdate-launcher"));
    assert_eq!(field(&f, "SWUPDATE_MODE"), Some("file"));
    assert_eq!(
        field(&f, "SWUPDATE_UPDATE_FILE"),
        Some(format!("{p}/data/update.swu").as_str())
    );
    assert_eq!(
        field(&f, "SWUPDATE_LAUNCHER_VERSION"),
        Some(env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn journal_error_record_locates_the_configuration_error() {
    let r = Device::file_mode();
    r.etc("30-bad", "A=1\nB=`date`\n");
    let j = r.path().join("journal");
    let l = Listener::at(&j);
    let o = r.run_env(
        &[],
        &[("SWUPDATE_LAUNCHER_JOURNAL_SOCKET", j.to_str().unwrap())],
    );
    assert_eq!(o.status.code(), Some(65));
    let f = fields(&l.next());
    assert_eq!(field(&f, "PRIORITY"), Some("3"));
    assert_eq!(
        field(&f, "CONFIG_FILE"),
        Some(format!("{}/etc/swupdate/conf.d/30-bad", r.path().display()).as_str())
    );
    assert_eq!(field(&f, "CONFIG_LINE"), Some("2"));
    assert_eq!(field(&f, "CONFIG_COLUMN"), Some("3"));
    assert_eq!(field(&f, "EXIT_CODE"), Some("65"));
    assert!(field(&f, "HINT").is_some());
}

#[test]
fn url_secrets_never_reach_the_journal_or_status() {
    let r = Device::file_mode();
    r.etc(
        "10-source",
        "SWUPDATE_SOURCE=download\nSWUPDATE_PREFLIGHT=no\n",
    )
    .etc(
        "descriptor.env",
        "URL=https://user:secret@host/x.swu?token=abc\n",
    );
    let j = r.path().join("journal");
    let n = r.path().join("notify");
    let (lj, ln) = (Listener::at(&j), Listener::at(&n));
    let o = r.run_env(
        &[],
        &[
            ("SWUPDATE_LAUNCHER_JOURNAL_SOCKET", j.to_str().unwrap()),
            ("NOTIFY_SOCKET", n.to_str().unwrap()),
        ],
    );
    assert!(o.status.success());
    let journal = String::from_utf8(lj.next()).unwrap();
    let status = ln.next_text();
    for text in [&journal, &status] {
        assert!(!text.contains("secret") && !text.contains("abc"), "{text}");
        assert!(text.contains("https://***@host/x.swu?token=***"), "{text}");
    }
}

/// swupdate stand-in that holds on until `release` exists (at most 20 s).
fn holding_swupdate(r: &Device) {
    let release = r.host("/release");
    let started = r.host("/started");
    r.write_executable(
        "/usr/bin/swupdate",
        &format!(
            "#!/bin/sh\ntouch {}\ni=0\nwhile [ ! -e {} ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done\n",
            started.display(),
            release.display()
        ),
    );
}

fn wait_for(p: &Path) {
    let t = Instant::now();
    while !p.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{} never appeared",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_launcher_refuses_while_swupdate_holds_the_lock() {
    let r = Device::file_mode();
    holding_swupdate(&r);
    let mut first = r.command(&[], &[]).spawn().unwrap();
    wait_for(&r.host("/started"));

    let second = r.run(&[]);
    assert_eq!(second.status.code(), Some(75));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!("another update is running (pid {})", first.id())),
        "{err}"
    );

    fs::write(r.host("/release"), "").unwrap();
    assert!(first.wait().unwrap().success());
    fs::remove_file(r.host("/started")).unwrap();
    let third = r.command(&[], &[]).spawn().unwrap();
    wait_for(&r.host("/started"));
    let mut third = third;
    assert!(
        third.wait().unwrap().success(),
        "after the first ended, a new one runs"
    );
}

#[test]
fn print_argv_check_and_explain_take_no_lock() {
    let r = Device::file_mode();
    holding_swupdate(&r);
    let mut first = r.command(&[], &[]).spawn().unwrap();
    wait_for(&r.host("/started"));
    for args in [&["check"][..], &["explain"], &["--print-argv"]] {
        assert_eq!(r.run(args).status.code(), Some(0), "{args:?}");
    }
    fs::write(r.host("/release"), "").unwrap();
    first.wait().unwrap();
}

/// Runs the service on `r` with a journal and a notify socket; returns the journal record,
/// the STATUS datagram and stderr.
fn service_outputs(r: &Device) -> (String, String, String) {
    let j = r.path().join("journal");
    let n = r.path().join("notify");
    let (lj, ln) = (Listener::at(&j), Listener::at(&n));
    let o = r.run_env(
        &[],
        &[
            ("SWUPDATE_LAUNCHER_JOURNAL_SOCKET", j.to_str().unwrap()),
            ("NOTIFY_SOCKET", n.to_str().unwrap()),
        ],
    );
    let journal = String::from_utf8_lossy(&lj.next()).into_owned();
    let status = ln.next_text();
    (
        journal,
        status,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// None of `parts` of a secret is in the journal, STATUS= or stderr.
fn assert_hidden(r: &Device, parts: &[&str]) {
    let (journal, status, stderr) = service_outputs(r);
    for text in [&journal, &status, &stderr] {
        for p in parts {
            assert!(!text.contains(p), "`{p}` shown in:\n{text}");
        }
    }
    assert!(status.contains("STATUS="), "{status}");
}

fn with_extra_args(value: &str) -> Device {
    let r = Device::file_mode();
    r.etc("20-extra", &format!("SWUPDATE_EXTRA_ARGS={value}\n"));
    r
}

#[test]
fn a_url_of_another_scheme_inside_a_word_never_reaches_status_or_the_journal() {
    let r = with_extra_args("\"--frob=mqtts://u:zq14sec@broker\"");
    assert_hidden(&r, &["zq14sec"]);
}

#[test]
fn a_password_with_a_blank_never_reaches_status_or_the_journal() {
    let r = with_extra_args("\"'https://u:zq15 sec@h/x'\"");
    assert_hidden(&r, &["zq15", "sec@"]);
}

#[test]
fn a_url_in_parentheses_never_reaches_status_or_the_journal() {
    let r = with_extra_args("\"'(https://u:zq17sec@h/x)'\"");
    assert_hidden(&r, &["zq17sec"]);
}

#[test]
fn a_url_after_a_tab_never_reaches_status_or_the_journal() {
    let r = with_extra_args("\"'x\thttps://u:zq18sec@h/x'\"");
    assert_hidden(&r, &["zq18sec"]);
}
