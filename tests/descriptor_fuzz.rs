//! A bounded fuzz of the agent's descriptor.env, end to end: generated content (random bytes,
//! shell pieces, amplifiers such as `URL=$URL$URL` and nested `${A:-`) and file kinds (a
//! regular file, a symlink or hard link to a root-only file, a FIFO) are handed to the real
//! binary, each run in a child limited to 64 MiB of address space and 1 s of CPU (the threat
//! model's bounds), with a wall-clock deadline. Every run must end with one of the launcher's
//! own exit codes (no signal, no abort, no hang) and show none of the image's secrets.
//! The case count is fixed, so the run time is bounded (a few seconds).

use crate::support;

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use support::Device;

const SECRET: &str = "image-secret-42";
const ENV_SECRET: &str = "service-env-secret-43";
const SHADOW_SECRET: &str = "shadow-hash-44";

#[derive(Debug, Clone)]
enum Kind {
    Regular,
    SymlinkToShadow,
    HardLinkToShadow,
    Fifo,
}

fn piece() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "URL=",
        "https://a.example/",
        "http://",
        "$",
        "${",
        "TOKEN",
        "ENV_TOKEN",
        "URL",
        "}",
        ":-",
        "-",
        "$(",
        "`",
        "'",
        "\"",
        "\\",
        "\n",
        "\r",
        "\0",
        "\u{feff}",
        "~",
        ":",
        "export ",
        ";",
        "&",
        "|",
        "#",
        " ",
        "\t",
        "SWUPDATE_BIN=",
        "SWUPDATE_PUBLIC_KEY=",
        "A=",
        "é",
        "\u{202e}",
        "%20",
        "@",
        "user:pw@",
    ])
    .prop_map(String::from)
}

fn content() -> impl Strategy<Value = Vec<u8>> {
    let amplifier = (
        prop::sample::select(vec![
            "URL=$URL$URL\n",
            "${A:-",
            "\"${A:-",
            "URL=$U\n",
            "URL=https://a.example/x\n",
            "x",
            "\\\n",
        ]),
        0usize..60_000,
    )
        .prop_map(|(p, n)| p.repeat(n).into_bytes());
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..256),
        4 => prop::collection::vec(piece(), 0..40).prop_map(|v| v.concat().into_bytes()),
        2 => (prop::collection::vec(piece(), 0..8), amplifier).prop_map(|(v, a)| {
            let mut b = v.concat().into_bytes();
            b.extend(a);
            b
        }),
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        8 => Just(Kind::Regular),
        1 => Just(Kind::SymlinkToShadow),
        1 => Just(Kind::HardLinkToShadow),
        1 => Just(Kind::Fifo),
    ]
}

fn device(bytes: &[u8], kind: &Kind) -> Device {
    let r = Device::file_mode();
    r.lib(
        "10-source",
        "SWUPDATE_SOURCE=download\nSWUPDATE_PREFLIGHT=no\n",
    )
    .lib("20-token", &format!("TOKEN={SECRET}\n"))
    .write(
        "/etc/shadow",
        &format!("root:$y${SHADOW_SECRET}:1:0:99999:7:::\n"),
    );
    fs::set_permissions(r.host("/etc/shadow"), fs::Permissions::from_mode(0o600)).unwrap();
    let d = r.host("/etc/swupdate/conf.d/descriptor.env");
    fs::create_dir_all(d.parent().unwrap()).unwrap();
    match kind {
        Kind::Regular => fs::write(&d, bytes).unwrap(),
        Kind::SymlinkToShadow => std::os::unix::fs::symlink("/etc/shadow", &d).unwrap(),
        Kind::HardLinkToShadow => fs::hard_link(r.host("/etc/shadow"), &d).unwrap(),
        Kind::Fifo => {
            let c = CString::new(d.to_str().unwrap()).unwrap();
            // SAFETY: mkfifo with a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        }
    }
    r
}

/// Runs `check` on the device under the threat model's bounds; returns (exit code, stderr).
fn bounded_check(r: &Device) -> (Option<i32>, String) {
    let mut cmd = r.command(&["check"], &[("ENV_TOKEN", ENV_SECRET)]);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    // SAFETY: only async-signal-safe setrlimit calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = |res, cur: libc::rlim_t, max: libc::rlim_t| {
                let l = libc::rlimit {
                    rlim_cur: cur,
                    rlim_max: max,
                };
                if libc::setrlimit(res, &l) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            };
            limit(libc::RLIMIT_AS, 64 << 20, 64 << 20)?;
            limit(libc::RLIMIT_CPU, 1, 2)?;
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let o = child.wait_with_output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_descriptor_crashes_stalls_or_leaks(bytes in content(), kind in kind()) {
        let r = device(&bytes, &kind);
        let (code, err) = bounded_check(&r);
        prop_assert!(
            matches!(code, Some(0 | 65 | 66 | 74)),
            "exit {:?} (a signal, an abort or the deadline) for {:?} {:?}: {}",
            code, kind, String::from_utf8_lossy(&bytes[..bytes.len().min(200)]), err
        );
        for s in [SECRET, ENV_SECRET, SHADOW_SECRET] {
            prop_assert!(!err.contains(s), "leaked {} for {:?}: {}", s, kind, err);
        }
        if code == Some(0) {
            // Accepted: then the descriptor set nothing but URL, and nothing expanded.
            let text = String::from_utf8_lossy(&bytes);
            prop_assert!(matches!(kind, Kind::Regular), "{:?} accepted", kind);
            prop_assert!(!text.contains("${") , "an expansion was accepted: {:?}", text);
        }
    }
}

#[test]
fn the_harness_limits_bite() {
    // A child that needs more than the bound must fail, or the bounds above prove nothing.
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo ${#x}");
    // SAFETY: as above.
    unsafe {
        cmd.pre_exec(|| {
            let l = libc::rlimit {
                rlim_cur: 64 << 20,
                rlim_max: 64 << 20,
            };
            libc::setrlimit(libc::RLIMIT_AS, &l);
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("100000000"),
        "64 MiB held 100 MB: the limit does not apply"
    );
}
