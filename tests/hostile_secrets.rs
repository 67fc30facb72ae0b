//! Secrets in every output (issue #19 point 8): a file is quotable only if every reader of the
//! output could read it, and what only a private file holds is never shown, in stderr,
//! STATUS= (which `systemctl status` shows to anyone), `explain` or `--print-argv`.

use crate::support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use support::{Device, Outcome};

const TOKEN: &str = "tok-3f9a1c-private-to-root";
const ETC: &str = "/etc/swupdate/conf.d";
const LIB: &str = "/usr/lib/swupdate/conf.d";

fn chmod(r: &Device, device_path: &str, mode: u32) {
    fs::set_permissions(r.host(device_path), fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs the launcher on `r` as the service does (no command), with a notify socket of its
/// own; its outcome and the STATUS= datagram it sent.
fn run_notified(r: &Device, args: &[&str]) -> (Outcome, String) {
    let sock = r.path().join("notify");
    let l = UnixDatagram::bind(&sock).unwrap();
    l.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let o = support::run_within(
        r.command(args, &[("NOTIFY_SOCKET", sock.to_str().unwrap())]),
        Duration::from_secs(20),
    );
    let mut buf = vec![0u8; 65536];
    let n = l.recv(&mut buf).expect("a STATUS= datagram within 10 s");
    buf.truncate(n);
    (o, String::from_utf8_lossy(&buf).into_owned())
}

/// Every output a person may see of `args`: stdout and stderr.
fn shown(r: &Device, args: &[&str]) -> (Option<i32>, String) {
    let o = support::run_within(r.command(args, &[]), Duration::from_secs(20));
    (o.code(), o.output())
}

#[test]
fn a_fragment_private_only_by_its_directory_is_located_but_not_quoted_in_status() {
    let r = Device::download();
    r.etc("30-token", &format!("TOKEN=x {TOKEN}\n"));
    // The file is 0644, but nobody but root can search its directory.
    chmod(&r, ETC, 0o700);
    let (o, status) = run_notified(&r, &[]);
    o.assert_code(65);
    assert!(o.stderr.contains("30-token:1:"), "{}", o.stderr);
    assert!(!o.stderr.contains(TOKEN), "{}", o.stderr);
    assert!(status.starts_with("STATUS=not started"), "{status}");
    assert!(!status.contains(TOKEN), "{status}");
}

#[test]
fn a_fragment_reached_through_a_private_directory_symlink_is_not_quoted() {
    let r = Device::download();
    r.write("/usr/share/private/token", &format!("TOKEN=x {TOKEN}\n"));
    chmod(&r, "/usr/share/private", 0o700);
    r.symlink("/usr/share/private/token", &format!("{ETC}/30-token"));
    let (code, all) = shown(&r, &["check"]);
    assert_eq!(code, Some(65), "{all}");
    assert!(all.contains("30-token"), "{all}");
    assert!(!all.contains(TOKEN), "{all}");
}

#[test]
fn an_environment_file_private_only_by_its_directory_is_not_quoted() {
    let r = Device::download();
    r.write(
        "/etc/default/swupdate",
        &format!("SWUPDATE_PUBLIC_KEY=/etc/swupdate/public.pem\nX='a {TOKEN}\n"),
    );
    chmod(&r, "/etc/default", 0o700);
    let (code, all) = shown(&r, &["check"]);
    assert_eq!(code, Some(65), "{all}");
    assert!(all.contains("etc/default/swupdate:2:"), "{all}");
    assert!(!all.contains(TOKEN), "{all}");
}

#[test]
fn the_same_fragment_in_a_directory_everybody_searches_is_quoted() {
    // The rule is about readers: text everybody could read anyway reveals nothing.
    let r = Device::download();
    r.etc("30-token", &format!("TOKEN=x {TOKEN}\n"));
    let (code, all) = shown(&r, &["check"]);
    assert_eq!(code, Some(65), "{all}");
    assert!(all.contains(&format!("`{TOKEN}`")), "{all}");
}

#[test]
fn a_value_only_a_0600_fragment_holds_is_not_shown_by_explain() {
    let r = Device::download();
    r.lib("30-private", &format!("HAWKBIT_TOKEN={TOKEN}\n"));
    chmod(&r, &format!("{LIB}/30-private"), 0o600);
    for args in [&["explain"][..], &["check"], &["--print-argv"]] {
        let (code, all) = shown(&r, args);
        assert_eq!(code, Some(0), "{args:?}: {all}");
        assert!(!all.contains(TOKEN), "{args:?}: {all}");
    }
    let (_, all) = shown(&r, &["explain"]);
    assert!(all.contains("HAWKBIT_TOKEN='***'"), "{all}");
}

#[test]
fn a_value_only_a_fragment_in_a_private_directory_holds_is_not_shown_by_explain() {
    let r = Device::download();
    r.etc("30-private", &format!("HAWKBIT_TOKEN={TOKEN}\n"));
    chmod(&r, ETC, 0o700);
    let (code, all) = shown(&r, &["explain"]);
    assert_eq!(code, Some(0), "{all}");
    assert!(!all.contains(TOKEN), "{all}");
}

#[test]
fn an_overridden_value_of_a_private_fragment_is_not_shown_by_explain() {
    let r = Device::download();
    r.lib(
        "30-private",
        &format!("SWUPDATE_EXTRA_ARGS='-l 4 {TOKEN}'\n"),
    );
    chmod(&r, &format!("{LIB}/30-private"), 0o600);
    r.etc("40-public", "SWUPDATE_EXTRA_ARGS='-l 5'\n");
    let (code, all) = shown(&r, &["explain"]);
    assert_eq!(code, Some(0), "{all}");
    assert!(!all.contains(TOKEN), "{all}");
    assert!(all.contains("-l 5"), "the public value is shown: {all}");
}

#[test]
fn a_private_fragments_bad_value_is_named_by_file_and_line_but_not_quoted_in_status() {
    let r = Device::download();
    r.lib("30-private", &format!("\nSWUPDATE_ALLOW_HTTP={TOKEN}\n"));
    chmod(&r, &format!("{LIB}/30-private"), 0o600);
    let (o, status) = run_notified(&r, &[]);
    o.assert_code(65);
    assert!(o.stderr.contains("30-private:2"), "{}", o.stderr);
    assert!(!o.stderr.contains(TOKEN), "{}", o.stderr);
    assert!(!status.contains(TOKEN), "{status}");
}

#[test]
fn a_private_fragments_switches_and_modes_stay_readable() {
    // yes/no and the modes are the vocabulary's words, known to every reader: masking them
    // would blank every message that uses the word.
    let r = Device::download();
    r.lib("30-private", "SWUPDATE_ALLOW_HTTP=no\n");
    chmod(&r, &format!("{LIB}/30-private"), 0o600);
    let (code, all) = shown(&r, &["explain"]);
    assert_eq!(code, Some(0), "{all}");
    assert!(all.contains("SWUPDATE_ALLOW_HTTP=no"), "{all}");
    assert!(all.contains("download"), "{all}");
}

/// Every spelling swupdate's getopt_long accepts for the suricatta tokens and the downloader's
/// credentials, written in a 0644 fragment of the image: masked in every output.
#[test]
fn every_getopt_spelling_of_a_secret_is_masked_in_every_output() {
    let spellings = [
        "-k tk-sp-01",
        "-ktk-sp-02",
        "--targettoken tk-sp-03",
        "--targettoken=tk-sp-04",
        "--targettok=tk-sp-05",
        "-g tk-sp-06",
        "-gtk-sp-07",
        "--gatewaytoken=tk-sp-08",
        "--gatewaytoken tk-sp-09",
        "--gatew=tk-sp-10",
        "-a X-Auth tk-sp-11",
    ];
    let secrets: Vec<String> = (1..=11).map(|i| format!("tk-sp-{i:02}")).collect();
    for form in spellings {
        let r = Device::download();
        r.lib(
            "30-suricatta",
            &format!("SWUPDATE_EXTRA_ARGS=\"-v -u '-t D -u http://h -i dev {form}'\"\n"),
        );
        for args in [&["explain"][..], &["--print-argv"], &["check"]] {
            let (_, all) = shown(&r, args);
            for s in &secrets {
                assert!(!all.contains(s.as_str()), "{form} {args:?}: {all}");
            }
        }
        let (o, status) = run_notified(&r, &["--update-file", "/missing.swu"]);
        assert!(!o.output().contains("tk-sp-"), "{form}: {}", o.output());
        assert!(!status.contains("tk-sp-"), "{form}: {status}");
    }
}
