//! The hostile management agent, more variants (docs/threat-model.md): it writes descriptor.env
//! in its own directory and may write any bytes of any size, make it a symlink, a FIFO, a
//! directory or a hard link, rename files in the directories it owns and race the launcher; it
//! may change the URL and nothing else. Each test is one such input, run as the service runs
//! (the claim included), and asserts the exact exit code, that the error names the descriptor
//! (and its line where it has one), that nothing the agent could not read is shown, and that
//! swupdate was not started.

use crate::support;

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{Device, Outcome};

const ETC: &str = "/etc/swupdate/conf.d";
const DESCRIPTOR: &str = "/etc/swupdate/conf.d/descriptor.env";
/// What a root-only file holds: never shown.
const SECRET: &str = "s3cr3t-root-only-8c2f";

/// A download-mode device whose swupdate stand-in leaves /swupdate-ran behind.
fn device() -> Device {
    let r = Device::download();
    let ran = r.host("/swupdate-ran");
    r.write_executable(
        "/usr/bin/swupdate",
        &format!("#!/bin/sh\necho \"$@\" > {}\n", ran.display()),
    );
    r
}

/// A root-only file the agent must not read through the launcher.
fn shadow(r: &Device) -> PathBuf {
    r.write("/etc/shadow", &format!("root:{SECRET}:19000:0:::\n"));
    let p = r.host("/etc/shadow");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// The descriptor replaced by `bytes`.
fn descriptor(r: &Device, bytes: &[u8]) {
    let p = r.host(DESCRIPTOR);
    let _ = fs::remove_file(&p);
    r.write_bytes(DESCRIPTOR, bytes);
}

/// The launcher as the service runs it (it claims the descriptor), bounded in time.
fn start(r: &Device) -> Outcome {
    support::run_within(r.command(&[], &[]), Duration::from_secs(20))
}

/// `args` of the launcher, bounded in time.
fn run(r: &Device, args: &[&str]) -> Outcome {
    support::run_within(r.command(args, &[]), Duration::from_secs(20))
}

/// Refused with `code`, naming `at` (the descriptor, with its line when it has one), nothing
/// printed on stdout, nothing secret shown, swupdate not started. Returns stderr.
#[track_caller]
fn refused(r: &Device, o: &Outcome, code: i32, at: &str) -> String {
    o.assert_code(code);
    assert!(o.stdout.is_empty(), "stdout: {}", o.stdout);
    assert!(o.stderr.contains(at), "does not name {at}: {}", o.stderr);
    assert!(!o.stderr.contains(SECRET), "leaked: {}", o.stderr);
    assert!(
        !r.host("/swupdate-ran").exists(),
        "swupdate was started: {}",
        o.stderr
    );
    o.stderr.clone()
}

/// The descriptor's host path with `:line:` appended, as messages locate a line.
fn line(r: &Device, n: usize) -> String {
    format!("{}:{n}:", r.host(DESCRIPTOR).display())
}

fn given_back(r: &Device) -> bool {
    r.host(DESCRIPTOR).exists()
}

// --- bytes that are not a line of shell ---

#[test]
fn a_nul_byte_in_the_descriptor_is_refused_at_its_line() {
    let r = device();
    descriptor(&r, b"URL=https://a.example/fw.swu\0.evil\n");
    refused(&r, &start(&r), 65, &line(&r, 1));
    assert!(given_back(&r), "the handoff was lost");
}

#[test]
fn carriage_return_only_line_ends_are_refused_at_the_first_line() {
    let r = device();
    descriptor(
        &r,
        b"URL=https://a.example/fw.swu\rSWUPDATE_BIN=/tmp/evil\r",
    );
    refused(&r, &start(&r), 65, &line(&r, 1));
}

#[test]
fn crlf_line_ends_do_not_end_a_url_in_a_carriage_return() {
    let r = device();
    descriptor(&r, b"URL=https://a.example/fw.swu\r\n");
    refused(&r, &start(&r), 65, &line(&r, 1));
}

#[test]
fn a_utf8_byte_order_mark_is_refused_at_line_one() {
    let r = device();
    descriptor(&r, "\u{feff}URL=https://a.example/fw.swu\n".as_bytes());
    refused(&r, &start(&r), 65, &line(&r, 1));
}

#[test]
fn bytes_that_are_not_utf8_are_refused_at_their_line() {
    let r = device();
    descriptor(&r, b"# ok\nURL=https://a.example/\xff\xfe.swu\n");
    refused(&r, &start(&r), 65, &line(&r, 2));
}

#[test]
fn an_overlong_line_under_the_file_bound_is_refused_as_a_url_too_long() {
    let r = device();
    let url = format!("URL=https://a.example/{}\n", "a".repeat(60 * 1024));
    descriptor(&r, url.as_bytes());
    refused(
        &r,
        &start(&r),
        65,
        &format!("{}:1", r.host(DESCRIPTOR).display()),
    );
}

#[test]
fn a_url_of_4097_bytes_is_refused_and_one_of_4096_is_accepted() {
    let r = device();
    let prefix = "https://a.example/";
    let url = |len: usize| format!("URL={prefix}{}\n", "a".repeat(len - prefix.len()));
    descriptor(&r, url(4096).as_bytes());
    run(&r, &["check"]).assert_code(0);
    // check ran the stand-in for its release.
    fs::remove_file(r.host("/swupdate-ran")).unwrap();
    descriptor(&r, url(4097).as_bytes());
    let e = refused(
        &r,
        &start(&r),
        65,
        &format!("{}:1", r.host(DESCRIPTOR).display()),
    );
    assert!(e.contains("4096"), "{e}");
}

#[test]
fn a_two_gib_sparse_descriptor_is_refused_without_being_read() {
    let r = device();
    let f = fs::File::create(r.host(DESCRIPTOR)).unwrap();
    f.set_len(2 << 30).unwrap();
    drop(f);
    let t = Instant::now();
    let e = refused(&r, &start(&r), 65, "descriptor.env");
    assert!(e.contains("larger than"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}

// --- shell that is not a literal assignment of URL ---

#[test]
fn every_variable_of_the_vocabulary_but_url_is_refused_in_the_descriptor() {
    use swupdate_launcher::config::vocabulary::VARIABLES;
    let r = device();
    for v in VARIABLES.iter().filter(|v| v.name != "URL") {
        descriptor(
            &r,
            format!("URL=https://a.example/fw.swu\n{}=/tmp/evil\n", v.name).as_bytes(),
        );
        let e = refused(&r, &start(&r), 65, &line(&r, 2).replace(":2:", ":2"));
        assert!(e.contains(v.name), "{}: {e}", v.name);
    }
}

#[test]
fn a_variable_outside_the_vocabulary_is_refused_in_the_descriptor() {
    let r = device();
    descriptor(
        &r,
        b"URL=https://a.example/fw.swu\nLD_PRELOAD=/tmp/evil.so\n",
    );
    refused(
        &r,
        &start(&r),
        65,
        &format!("{}:2", r.host(DESCRIPTOR).display()),
    );
}

#[test]
fn readonly_is_a_command_not_an_assignment() {
    let r = device();
    descriptor(&r, b"readonly URL=https://a.example/fw.swu\n");
    refused(&r, &start(&r), 65, &line(&r, 1));
}

#[test]
fn unset_is_a_command_not_an_assignment() {
    let r = device();
    descriptor(
        &r,
        b"URL=https://a.example/fw.swu\nunset SWUPDATE_PUBLIC_KEY\n",
    );
    refused(&r, &start(&r), 65, &line(&r, 2));
}

#[test]
fn export_of_another_variable_is_refused() {
    let r = device();
    descriptor(
        &r,
        b"export URL=https://a.example/fw.swu SWUPDATE_BIN=/tmp/evil\n",
    );
    refused(
        &r,
        &start(&r),
        65,
        &format!("{}:1", r.host(DESCRIPTOR).display()),
    );
}

#[test]
fn a_command_substitution_is_refused_without_running_it() {
    let r = device();
    let ran = r.host("/substituted");
    for text in [
        format!("URL=https://a.example/$(touch {})\n", ran.display()),
        format!("URL=https://a.example/`touch {}`\n", ran.display()),
    ] {
        descriptor(&r, text.as_bytes());
        refused(&r, &start(&r), 65, &line(&r, 1));
        assert!(!ran.exists(), "{text}: it ran");
    }
}

#[test]
fn arithmetic_expansion_is_refused() {
    let r = device();
    descriptor(&r, b"URL=https://a.example/$((1+1)).swu\n");
    refused(&r, &start(&r), 65, &line(&r, 1));
}

#[test]
fn a_here_document_is_refused() {
    let r = device();
    descriptor(
        &r,
        b"cat <<EOF >/etc/swupdate/conf.d/50-evil\nSWUPDATE_BIN=/tmp/evil\nEOF\n",
    );
    refused(&r, &start(&r), 65, &line(&r, 1));
    assert!(!r.host(&format!("{ETC}/50-evil")).exists());
}

#[test]
fn a_second_command_after_a_semicolon_is_refused() {
    let r = device();
    descriptor(
        &r,
        b"URL=https://a.example/fw.swu; SWUPDATE_BIN=/tmp/evil\n",
    );
    refused(&r, &start(&r), 65, &line(&r, 1));
}

#[test]
fn a_line_break_inside_quotes_stays_in_the_url_encoded_and_sets_nothing_else() {
    let r = device();
    descriptor(
        &r,
        b"URL=\"https://a.example/fw.swu\nSWUPDATE_BIN=/tmp/evil\"\n",
    );
    start(&r).assert_code(0);
    // The image's swupdate ran (not /tmp/evil), with the line break percent-encoded.
    let argv = fs::read_to_string(r.host("/swupdate-ran")).unwrap();
    assert!(
        argv.contains("https://a.example/fw.swu%0ASWUPDATE_BIN=/tmp/evil"),
        "{argv}"
    );
}

#[test]
fn thousands_of_duplicate_url_lines_leave_only_the_last_and_show_no_earlier_credentials() {
    let r = device();
    let mut text = String::new();
    for i in 0..500 {
        text.push_str(&format!(
            "URL=https://u:pw{i:04}-{SECRET}@a.example/{i}.swu\n"
        ));
    }
    text.push_str("URL=https://a.example/last.swu\n");
    descriptor(&r, text.as_bytes());
    let t = Instant::now();
    for args in [&["explain"][..], &["--print-argv"], &["check"]] {
        let o = run(&r, args);
        o.assert_code(0);
        assert!(!o.output().contains(SECRET), "{args:?}: leaked");
    }
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    let o = start(&r);
    o.assert_code(0);
    let argv = fs::read_to_string(r.host("/swupdate-ran")).unwrap();
    assert!(argv.contains("https://a.example/last.swu"), "{argv}");
    assert!(!argv.contains("pw0"), "{argv}");
}

// --- URLs the policy refuses ---

#[test]
fn a_file_url_is_refused() {
    let r = device();
    descriptor(&r, b"URL=file:///etc/shadow\n");
    let e = refused(
        &r,
        &start(&r),
        65,
        &format!("{}:1", r.host(DESCRIPTOR).display()),
    );
    assert!(e.contains("`file`"), "{e}");
}

#[test]
fn a_plain_http_url_is_refused_unless_the_image_allows_it() {
    let r = device();
    descriptor(&r, b"URL=http://a.example/fw.swu\n");
    refused(
        &r,
        &start(&r),
        65,
        &format!("{}:1", r.host(DESCRIPTOR).display()),
    );
}

#[test]
fn an_idn_homograph_host_is_refused() {
    let r = device();
    // Cyrillic a (U+0430) in place of the Latin one.
    descriptor(
        &r,
        "URL=https://upd\u{0430}tes.example.com/fw.swu\n".as_bytes(),
    );
    let e = refused(
        &r,
        &start(&r),
        65,
        &format!("{}:1", r.host(DESCRIPTOR).display()),
    );
    assert!(e.contains("U+0430"), "{e}");
}

#[test]
fn percent_encoded_control_characters_in_the_host_are_refused() {
    let r = device();
    descriptor(
        &r,
        b"URL=https://updates.example.com%0a%1b[2J.evil.example/fw.swu\n",
    );
    refused(
        &r,
        &start(&r),
        65,
        &format!("{}:1", r.host(DESCRIPTOR).display()),
    );
}

#[test]
fn percent_encoded_control_characters_in_the_path_are_never_shown_decoded() {
    let r = device();
    descriptor(&r, b"URL=https://a.example/fw%0a%1b%5b2J%0d.swu\n");
    for args in [&["explain"][..], &["--print-argv"], &["check"]] {
        let o = run(&r, args);
        let all = o.output();
        assert!(
            !all.contains('\u{1b}') && !all.contains('\r'),
            "{args:?}: {all}"
        );
    }
}

#[test]
fn an_impossible_port_is_refused() {
    let r = device();
    descriptor(&r, b"URL=https://a.example:99999/fw.swu\n");
    refused(
        &r,
        &start(&r),
        65,
        &format!("{}:1", r.host(DESCRIPTOR).display()),
    );
}

/// Each getopt spelling of a secret swupdate's downloader and suricatta take, written into the
/// URL's userinfo: the whole userinfo is masked in every output, whatever it spells.
#[test]
fn a_userinfo_spelling_every_secret_option_is_masked_in_every_output() {
    let spellings = [
        "-k",
        "--targettoken=",
        "--targettok=",
        "-g",
        "--gatewaytoken=",
        "--gatew=",
        "-a",
        "--authorization=",
    ];
    for (i, s) in spellings.iter().enumerate() {
        let r = device();
        let pw = format!("{s}ui{i}-{SECRET}");
        descriptor(
            &r,
            format!("URL=https://user:{pw}@a.example/fw.swu\n").as_bytes(),
        );
        for args in [&["explain"][..], &["--print-argv"], &["check"]] {
            let o = run(&r, args);
            assert!(
                !o.output().contains(SECRET),
                "{pw} {args:?}: {}",
                o.output()
            );
        }
    }
}

// --- what the descriptor is, not what it says ---

#[test]
fn a_directory_in_place_of_the_descriptor_is_refused() {
    let r = device();
    fs::remove_file(r.host(DESCRIPTOR)).unwrap();
    fs::create_dir(r.host(DESCRIPTOR)).unwrap();
    let e = refused(&r, &start(&r), 74, "descriptor.env");
    assert!(e.contains("a directory"), "{e}");
}

#[test]
fn a_fifo_with_a_writer_that_never_closes_is_refused_at_once() {
    let r = device();
    let p = r.host(DESCRIPTOR);
    fs::remove_file(&p).unwrap();
    mkfifo(&p);
    // The agent's writer holds the FIFO open (read-write: the open does not wait for a reader).
    let writer = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .unwrap();
    (&writer)
        .write_all(b"URL=https://a.example/fw.swu\n")
        .unwrap();
    let t = Instant::now();
    let e = refused(&r, &start(&r), 74, "descriptor.env");
    assert!(e.contains("FIFO"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    drop(writer);
}

#[test]
fn a_unix_socket_in_place_of_the_descriptor_is_refused() {
    let r = device();
    let p = r.host(DESCRIPTOR);
    fs::remove_file(&p).unwrap();
    let _l = std::os::unix::net::UnixListener::bind(&p).unwrap();
    refused(&r, &start(&r), 74, "descriptor.env");
}

#[test]
fn a_symlink_to_proc_self_fd_is_refused_without_being_followed() {
    for target in ["/proc/self/fd/0", "/proc/self/environ", "/dev/stdin"] {
        let r = device();
        fs::remove_file(r.host(DESCRIPTOR)).unwrap();
        std::os::unix::fs::symlink(target, r.host(DESCRIPTOR)).unwrap();
        let e = refused(&r, &start(&r), 74, "descriptor.env");
        assert!(e.contains("symlink"), "{target}: {e}");
    }
}

#[test]
fn a_descriptor_hard_linked_to_an_image_fragment_is_refused() {
    let r = device();
    r.lib("20-image", "SWUPDATE_EXTRA_ARGS='-l 5'\n");
    fs::remove_file(r.host(DESCRIPTOR)).unwrap();
    fs::hard_link(
        r.host("/usr/lib/swupdate/conf.d/20-image"),
        r.host(DESCRIPTOR),
    )
    .unwrap();
    let e = refused(&r, &start(&r), 65, "descriptor.env");
    assert!(e.contains("hard links"), "{e}");
}

#[test]
fn a_descriptor_writable_by_others_is_refused() {
    let r = device();
    fs::set_permissions(r.host(DESCRIPTOR), fs::Permissions::from_mode(0o666)).unwrap();
    refused(&r, &start(&r), 65, "descriptor.env");
}

#[test]
fn a_descriptor_directory_that_became_world_writable_is_refused() {
    let r = device();
    fs::set_permissions(r.host(ETC), fs::Permissions::from_mode(0o777)).unwrap();
    let e = refused(&r, &start(&r), 65, &r.host(ETC).display().to_string());
    assert!(e.contains("writable"), "{e}");
}

#[test]
fn a_separate_descriptor_directory_that_became_world_writable_is_refused() {
    let r = device();
    fs::remove_file(r.host(DESCRIPTOR)).unwrap();
    r.write(
        "/var/lib/swupdate/agent/descriptor.env",
        "URL=https://a.example/fw.swu\n",
    )
    .write(
        "/etc/default/swupdate",
        "SWUPDATE_PUBLIC_KEY=/etc/swupdate/public.pem\nSWUPDATE_DESCRIPTOR_DIR=/var/lib/swupdate/agent\n",
    );
    run(&r, &["check"]).assert_code(0);
    fs::remove_file(r.host("/swupdate-ran")).unwrap();
    let dir = r.host("/var/lib/swupdate/agent");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
    let e = refused(&r, &start(&r), 65, &dir.display().to_string());
    assert!(e.contains("writable"), "{e}");
}

#[test]
#[ignore = "needs root (chown to another uid); run by scripts/test"]
fn a_descriptor_of_another_unprivileged_user_is_refused() {
    let r = device();
    chown(&r.host(DESCRIPTOR), 4343);
    let o = support::run_within(
        r.command(&[], &[("SWUPDATE_AGENT_UID", "4242")]),
        Duration::from_secs(20),
    );
    let e = refused(&r, &o, 65, "descriptor.env");
    assert!(e.contains("4343"), "{e}");
}

#[test]
fn a_symlink_planted_under_the_claimed_name_is_replaced_never_followed() {
    let r = device();
    shadow(&r);
    r.symlink("/etc/shadow", &format!("{ETC}/.descriptor.env.last"));
    let o = start(&r);
    o.assert_code(0);
    let argv = fs::read_to_string(r.host("/swupdate-ran")).unwrap();
    assert!(
        argv.contains("https://updates.example.com/fw.swu"),
        "{argv}"
    );
    assert!(!o.output().contains(SECRET), "{}", o.output());
    assert!(
        !fs::symlink_metadata(r.host(&format!("{ETC}/.descriptor.env.last")))
            .unwrap()
            .is_symlink()
    );
}

/// The agent swaps descriptor.env between a regular file and a symlink to a root-only file as
/// fast as it can while the launcher reads it: every run reads the regular file or refuses the
/// symlink, never reads through it.
#[test]
fn a_descriptor_swapped_for_a_symlink_while_the_launcher_reads_it_is_never_followed() {
    let r = device();
    let shadow = shadow(&r);
    descriptor(&r, b"URL=https://a.example/fw.swu\n");
    let dir = r.host(ETC);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let racer = {
        let (dir, stop) = (dir.clone(), stop.clone());
        std::thread::spawn(move || swap_until(&dir, &shadow, &stop))
    };
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let o = run(&r, &["--print-argv"]);
        assert!(!o.output().contains(SECRET), "leaked: {}", o.output());
        // Read the regular file; refused the symlink (74); or the file it opened was replaced
        // before it was judged (65).
        let code = o.code();
        match code {
            Some(0) => assert!(
                o.stdout.contains("https://a.example/fw.swu"),
                "{}",
                o.stdout
            ),
            Some(74) => assert!(o.stderr.contains("symlink"), "{}", o.stderr),
            Some(65) => assert!(o.stderr.contains("replaced while"), "{}", o.stderr),
            _ => panic!("{code:?}: {}", o.stderr),
        }
        seen.insert(code);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    racer.join().unwrap();
    assert!(!seen.is_empty());
}

fn swap_until(dir: &Path, shadow: &Path, stop: &std::sync::atomic::AtomicBool) {
    let (link, file) = (dir.join(".tmp-link"), dir.join(".tmp-file"));
    let target = dir.join("descriptor.env");
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(shadow, &link).unwrap();
        fs::rename(&link, &target).unwrap();
        fs::write(&file, "URL=https://a.example/fw.swu\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        fs::rename(&file, &target).unwrap();
    }
}

#[test]
fn a_descriptor_renamed_away_after_the_listing_is_no_handoff() {
    // The agent removes its file: nothing to claim, so the run says it needs a URL.
    let r = device();
    fs::rename(
        r.host(DESCRIPTOR),
        r.host(&format!("{ETC}/.descriptor.env.tmp")),
    )
    .unwrap();
    let e = refused(&r, &start(&r), 65, "URL");
    assert!(!e.contains(SECRET), "{e}");
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

fn chown(p: &Path, uid: u32) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: lchown on a path the test created.
    if unsafe { libc::lchown(c.as_ptr(), uid, uid) } != 0 {
        panic!("this test needs root (scripts/test runs as root in CI)");
    }
}

#[test]
fn a_directory_planted_under_the_claimed_name_refuses_the_start_and_keeps_the_descriptor() {
    let r = device();
    fs::create_dir(r.host(&format!("{ETC}/.descriptor.env.last"))).unwrap();
    let e = refused(&r, &start(&r), 74, "descriptor.env");
    assert!(e.contains("claim"), "{e}");
    assert!(given_back(&r), "the handoff was lost");
}

/// An empty or blank URL is no handoff: refused as a URL not set (the message names the mode's
/// file, not the descriptor's line: empty counts as unset, as in the shell), given back.
#[test]
fn an_empty_or_blank_url_is_no_handoff() {
    for text in [&b"# nothing to install\nURL=\n"[..], b"URL='   '\n"] {
        let r = device();
        descriptor(&r, text);
        let e = refused(&r, &start(&r), 65, "needs URL");
        assert!(e.contains("descriptor.env"), "{e}");
        assert!(given_back(&r), "the handoff was lost");
    }
}
