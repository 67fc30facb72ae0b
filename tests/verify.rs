//! The verification stage with programs written for the tests and a swupdate stand-in that
//! records what it was given; the real swupdate is in tests/e2e_swupdate.rs.

mod device;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use device::Root;

/// The unprivileged user the program runs as: nobody under root (CI); ourselves otherwise.
fn unprivileged() -> String {
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    if uid == 0 {
        "65534:65534".into()
    } else {
        format!("{uid}:{gid}")
    }
}

/// A file-mode device whose swupdate copies what `-i` names to /received and prints its argv.
fn device(program: &str) -> Root {
    let r = Root::file_mode();
    r.write("/data/update.swu", "PACK:the update payload\n");
    let received = r.host("/received");
    let argv = r.host("/argv");
    r.write(
        "/usr/bin/swupdate",
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\nwhile [ \"$1\" != -i ]; do shift; done\ncat \"$2\" > {}\n",
            argv.display(),
            received.display()
        ),
    );
    r.write("/usr/libexec/unpack", program);
    fs::set_permissions(
        r.host("/usr/libexec/unpack"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let dir = r.host("/var/lib/swupdate/verify");
    fs::create_dir_all(&dir).unwrap();
    // The unprivileged program writes to the descriptor it is given, never to the directory.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    r.lib(
        "40-verify",
        &format!(
            "SWUPDATE_VERIFY_PROGRAM=/usr/libexec/unpack\nSWUPDATE_VERIFY_USER={}\nSWUPDATE_VERIFY_TIMEOUT=2\n",
            unprivileged()
        ),
    );
    r
}

fn private_dir_is_empty(r: &Root) -> bool {
    fs::read_dir(r.host("/var/lib/swupdate/verify"))
        .unwrap()
        .next()
        .is_none()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_approved_pack_reaches_swupdate_as_the_programs_output() {
    let r = device(
        "#!/bin/sh\nread magic\n[ \"$magic\" = PACK:the\\ update\\ payload ] || exit 1\necho verified-content\n",
    );
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(r.host("/received")).unwrap(),
        "verified-content\n"
    );
    let argv = fs::read_to_string(r.host("/argv")).unwrap();
    assert!(argv.contains("-i\n/proc/self/fd/"), "{argv}");
    assert!(
        private_dir_is_empty(&r),
        "the private copy has no name left"
    );
}

#[test]
fn exit_1_is_a_security_violation_and_nothing_reaches_swupdate() {
    let r = device("#!/bin/sh\ncat >/dev/null\nexit 1\n");
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(90));
    assert!(stderr(&o).contains("security violation"), "{}", stderr(&o));
    assert!(!r.host("/received").exists());
    assert!(private_dir_is_empty(&r));
}

#[test]
fn another_failure_is_a_verification_failure() {
    let r = device("#!/bin/sh\nexit 3\n");
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(91));
    assert!(stderr(&o).contains("failed (exit 3)"), "{}", stderr(&o));
    assert!(!r.host("/received").exists());
}

#[test]
fn a_crash_is_reported_with_its_signal() {
    let r = device("#!/bin/sh\nkill -SEGV $$\n");
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(92));
    assert!(stderr(&o).contains("signal 11"), "{}", stderr(&o));
    assert!(!r.host("/received").exists());
}

#[test]
fn a_hanging_program_is_killed_at_the_timeout() {
    let r = device("#!/bin/sh\nexec sleep 30\n");
    let t = Instant::now();
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(93));
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "bounded by the 2 s timeout"
    );
    assert!(!r.host("/received").exists());
    assert!(private_dir_is_empty(&r));
}

#[test]
fn writing_nothing_is_its_own_failure() {
    let r = device("#!/bin/sh\ncat >/dev/null\nexit 0\n");
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(94));
    assert!(!r.host("/received").exists());
}

#[test]
fn the_program_runs_unprivileged_with_only_the_standard_descriptors() {
    let r = device(
        "#!/bin/sh\ncat >/dev/null\necho \"$(id -u):$(id -g)\"\nls /proc/$$/fd | tr '\\n' ' '; echo\nenv | sort | tr '\\n' ' '\n",
    );
    let mut cmd = r.command(&[], &[]);
    // An inherited descriptor, as systemd's socket activation leaves fd 3 open.
    let extra = fs::File::open(r.host("/data/update.swu")).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&extra);
    // SAFETY: dup2 in the child before exec, on descriptors it owns.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let got = fs::read_to_string(r.host("/received")).unwrap();
    let mut lines = got.lines();
    assert_eq!(lines.next().unwrap(), unprivileged());
    let mut fds: Vec<i32> = lines
        .next()
        .unwrap()
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    fds.sort_unstable();
    // The shell keeps its script open on a high descriptor of its own (dash: 10).
    assert_eq!(fds[..3], [0, 1, 2], "{fds:?}");
    assert!(
        fds[3..].iter().all(|&n| n >= 10),
        "nothing inherited beyond stdin, stdout and stderr: {fds:?}"
    );
    let env = lines.next().unwrap();
    assert!(!env.contains("SWUPDATE_"), "a clean environment: {env}");
}

#[test]
fn the_program_must_belong_to_the_image() {
    let r = device("#!/bin/sh\ncat\n");
    fs::set_permissions(
        r.host("/usr/libexec/unpack"),
        fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(65));
    assert!(
        stderr(&o).contains("writable by group and others"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn root_is_refused_as_the_programs_user() {
    let r = device("#!/bin/sh\ncat\n");
    r.etc(
        "40-verify",
        "SWUPDATE_VERIFY_PROGRAM=/usr/libexec/unpack\nSWUPDATE_VERIFY_USER=0\n",
    );
    let o = r.run(&["check"]);
    assert_eq!(o.status.code(), Some(65));
    assert!(
        stderr(&o).contains("must run unprivileged"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn explain_shows_the_verification_stage_and_the_rollback_bound() {
    let r = device("#!/bin/sh\ncat\n");
    let o = r.run(&["explain"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("-i /proc/self/fd/N"), "{out}");
    assert!(out.contains("SWUPDATE_VERIFY_PROGRAM"), "{out}");
    assert!(out.contains("-N 1.0"), "{out}");
}

#[test]
fn a_missing_version_file_stops_a_one_shot_install() {
    let r = Root::file_mode();
    fs::remove_file(r.host("/etc/os-release")).unwrap();
    let o = r.run(&["--print-argv"]);
    assert_eq!(o.status.code(), Some(65));
    assert!(
        stderr(&o).contains("anti-rollback needs the running version"),
        "{}",
        stderr(&o)
    );
    r.lib("30-rollback", "SWUPDATE_ANTI_ROLLBACK=no\n");
    assert_eq!(r.run(&["--print-argv"]).status.code(), Some(0));
}

#[test]
fn the_version_comes_from_the_configured_file_and_key() {
    let r = Root::file_mode();
    r.write("/etc/sw-versions", "bootloader 2022.04\nrootfs 3.1.4\n").lib(
        "30-rollback",
        "SWUPDATE_VERSION_FILE=/etc/sw-versions\nSWUPDATE_VERSION_KEY=rootfs\nSWUPDATE_REINSTALL=no\nSWUPDATE_MAX_VERSION=4.0\n",
    );
    let o = r.run(&["--print-argv"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(" -N 3.1.4 -R 3.1.4 --max-version 4.0 -i "),
        "{out}"
    );
}

#[test]
fn download_mode_verification_needs_the_streaming_feature() {
    let r = device("#!/bin/sh\ncat\n");
    r.lib(
        "10-source",
        "SWUPDATE_SOURCE=download\nSWUPDATE_PREFLIGHT=no\n",
    )
    .etc(
        "descriptor.env",
        "URL=https://updates.example.com/fw.pack\n",
    );
    let o = r.run(&["check"]);
    if cfg!(feature = "streaming") {
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    } else {
        assert_eq!(o.status.code(), Some(65));
        assert!(stderr(&o).contains("no HTTP stack"), "{}", stderr(&o));
    }
}

#[test]
fn an_image_build_check_accepts_download_mode_verification_in_any_build() {
    let r = device("#!/bin/sh\ncat\n");
    r.lib("10-source", "SWUPDATE_SOURCE=download\n");
    let o = r.run(&["check", "--static"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn the_verification_user_may_be_named_in_the_devices_passwd() {
    let r = device("#!/bin/sh\ncat >/dev/null\nid -u\n");
    let (uid, gid) = unprivileged()
        .split_once(':')
        .map(|(u, g)| (u.to_string(), g.to_string()))
        .unwrap();
    r.write(
        "/etc/passwd",
        &format!("root:x:0:0::/root:/bin/sh\nverifier:x:{uid}:{gid}::/:/sbin/nologin\n"),
    );
    r.etc("40-verify", "SWUPDATE_VERIFY_PROGRAM=/usr/libexec/unpack\nSWUPDATE_VERIFY_USER=verifier\nSWUPDATE_VERIFY_TIMEOUT=2\n");
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(r.host("/received")).unwrap().trim(), uid);
    r.etc(
        "40-verify",
        "SWUPDATE_VERIFY_PROGRAM=/usr/libexec/unpack\nSWUPDATE_VERIFY_USER=stranger\n",
    );
    let o = r.run(&["check"]);
    assert_eq!(o.status.code(), Some(65));
    assert!(
        stderr(&o).contains("no user `stranger` on the device"),
        "{}",
        stderr(&o)
    );
}
