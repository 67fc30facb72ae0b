//! The verification stage with programs written for the tests and a swupdate stand-in that
//! records what it was given; the real swupdate is in tests/e2e_swupdate.rs.

use crate::support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use support::{Device, stderr};

use support::verification_user as unprivileged;

/// A file-mode device whose swupdate copies what `-i` names to /received and prints its argv.
fn device(program: &str) -> Device {
    let r = Device::file_mode();
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
    r.write_executable("/usr/libexec/unpack", program);
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

fn private_dir_is_empty(r: &Device) -> bool {
    fs::read_dir(r.host("/var/lib/swupdate/verify"))
        .unwrap()
        .next()
        .is_none()
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
        // `ls` straight to stdout, not into a pipe: while a pipeline starts, the shell itself
        // briefly holds the pipe's descriptors, and `ls` would list them.
        "#!/bin/sh\ncat >/dev/null\necho \"$(id -u):$(id -g)\"\nls /proc/$$/fd\necho END\nenv | sort | tr '\\n' ' '\n",
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
        .by_ref()
        .take_while(|l| *l != "END")
        .map(|f| f.trim().parse().unwrap())
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
    let r = Device::file_mode();
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
    let r = Device::file_mode();
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

/// A world-searchable scratch directory (the program runs unprivileged; the test root is not).
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!(
            "swupdate-launcher-verify-{tag}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o777)).unwrap();
        Scratch(p)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Whether `pid` is a live process (not a zombie).
fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s[s.rfind(')').unwrap() + 1..].split_whitespace().next();
            state != Some("Z")
        })
        .unwrap_or(false)
}

/// Waits (bounded) for a file a background process writes, and returns the pid in it.
fn pid_in(path: &str) -> i32 {
    for _ in 0..500 {
        if let Ok(s) = fs::read_to_string(path) {
            if let Ok(pid) = s.trim().parse() {
                return pid;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{path} never got a pid");
}

fn kill(pid: i32) {
    // SAFETY: kill with plain integers.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

#[test]
fn processes_the_program_leaves_behind_do_not_survive_its_exit() {
    let s = Scratch::new("leftover");
    let pidfile = s.path("pid");
    let r = device(&format!(
        "#!/bin/sh\ncat\nsh -c 'echo $$ > {pidfile}; exec sleep 30' </dev/null >/dev/null 2>&1 &\nwhile [ ! -s {pidfile} ]; do sleep 0.01; done\nexit 0\n"
    ));
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let pid = pid_in(&pidfile);
    let survived = alive(pid);
    kill(pid);
    assert!(!survived, "pid {pid} outlived the verification stage");
}

#[test]
fn a_process_that_left_the_programs_group_does_not_survive_either() {
    let s = Scratch::new("setsid");
    let pidfile = s.path("pid");
    let r = device(&format!(
        "#!/bin/sh\ncat\nsetsid sh -c 'echo $$ > {pidfile}; exec sleep 30' </dev/null >/dev/null 2>&1 &\nwhile [ ! -s {pidfile} ]; do sleep 0.01; done\nexit 0\n"
    ));
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let pid = pid_in(&pidfile);
    let survived = alive(pid);
    kill(pid);
    assert!(!survived, "pid {pid} (own session) outlived the stage");
}

#[test]
fn processes_the_program_started_do_not_survive_its_timeout() {
    let s = Scratch::new("timeout");
    let pidfile = s.path("pid");
    let r = device(&format!(
        "#!/bin/sh\nsh -c 'echo $$ > {pidfile}; exec sleep 30' </dev/null >/dev/null 2>&1 &\nwhile [ ! -s {pidfile} ]; do sleep 0.01; done\nexec sleep 30\n"
    ));
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(93), "{}", stderr(&o));
    let pid = pid_in(&pidfile);
    let survived = alive(pid);
    kill(pid);
    assert!(!survived, "pid {pid} outlived the timeout");
}

#[test]
fn a_leftover_process_cannot_rewrite_the_copy_swupdate_reads() {
    let r = device("#!/bin/sh\ncat >/dev/null\necho verified\n(sleep 0.3; echo EVIL) &\nexit 0\n");
    // swupdate reads the copy after the leftover would have written.
    let received = r.host("/received");
    r.write(
        "/usr/bin/swupdate",
        &format!(
            "#!/bin/sh\nwhile [ \"$1\" != -i ]; do shift; done\nsleep 1\ncat \"$2\" > {}\n",
            received.display()
        ),
    );
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(received).unwrap(), "verified\n");
}

#[test]
fn swupdate_gets_the_copy_on_a_read_only_descriptor() {
    let r = device("#!/bin/sh\ncat\n");
    let flags = r.host("/flags");
    r.write(
        "/usr/bin/swupdate",
        &format!(
            "#!/bin/sh\nwhile [ \"$1\" != -i ]; do shift; done\ngrep flags /proc/self/fdinfo/${{2##*/}} > {}\n",
            flags.display()
        ),
    );
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = fs::read_to_string(flags).unwrap();
    let octal = text.split_whitespace().nth(1).unwrap();
    let mode = u32::from_str_radix(octal, 8).unwrap() & libc::O_ACCMODE as u32;
    assert_eq!(mode, libc::O_RDONLY as u32, "{text}");
}

/// The program writes into a pipe the launcher drains into the copy: it never holds a
/// descriptor of the copy, so nothing it (or a process that took its descriptors) does after the
/// verdict can change the bytes swupdate reads.
#[test]
fn the_program_writes_into_a_pipe_never_into_the_copy() {
    let r = device("#!/bin/sh\nreadlink /proc/self/fd/1 >&2\ncat\n");
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("pipe:["), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(r.host("/received")).unwrap(),
        "PACK:the update payload\n"
    );
}

/// A verification user that another process runs as (nobody, shared by many daemons) is
/// refused before anything runs: that process could take the program's descriptors.
#[test]
#[ignore = "needs root (runs a process as the verification user); run by scripts/test"]
fn a_verification_user_another_process_runs_as_is_refused() {
    let r = device("#!/bin/sh\ncat\n");
    let user = unprivileged();
    let mut other = support::another_process_as(&user);
    let o = r.run(&[]);
    let _ = other.kill();
    let _ = other.wait();
    assert_eq!(o.status.code(), Some(97), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not its own"), "{}", stderr(&o));
    assert!(!r.host("/received").exists());
}

#[test]
fn a_program_that_cannot_be_executed_is_a_failure_not_a_crash() {
    let r = device("#!/nonexistent/interpreter\n");
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(91), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot execute the verification program"),
        "{}",
        stderr(&o)
    );
    assert!(!r.host("/received").exists());
}

/// A tmpfs of `size` on the private directory, unmounted on drop (needs root, as CI is).
struct SmallFs(std::path::PathBuf);

impl SmallFs {
    fn on(r: &Device, size: &str) -> SmallFs {
        let dir = r.host("/var/lib/swupdate/verify");
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(ok.success(), "mounting a tmpfs needs root");
        SmallFs(dir)
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
#[ignore = "needs root (mounts a tmpfs); run by scripts/test"]
fn output_is_bounded_by_the_room_checked_beforehand() {
    let r = device("#!/bin/sh\ncat /dev/zero\n");
    let _fs = SmallFs::on(&r, "16m");
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(96), "{}", stderr(&o));
    assert!(stderr(&o).contains("its bound"), "{}", stderr(&o));
    assert!(!r.host("/received").exists());
}

#[test]
#[ignore = "needs root (mounts a tmpfs); run by scripts/test"]
fn a_full_file_system_is_no_room_not_a_security_violation() {
    let s = Scratch::new("enospc");
    let go = s.path("go");
    let r = device(&format!(
        "#!/bin/sh\ncat >/dev/null\necho waiting >&2\nwhile [ ! -e {go} ]; do sleep 0.02; done\nhead -c 500000 /dev/zero || exit 1\n"
    ));
    let fs_guard = SmallFs::on(&r, "4m");
    let mut child = r
        .command(&[], &[])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while line != "waiting\n" {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut err, &mut line).unwrap() > 0);
    }
    // Something else fills the file system while the program works.
    let mut filler = fs::File::create(fs_guard.0.join("filler")).unwrap();
    let block = vec![0u8; 64 << 10];
    while std::io::Write::write_all(&mut filler, &block).is_ok() {}
    fs::write(&go, "").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(95), "{rest}");
    assert!(rest.contains("filled up"), "{rest}");
    assert!(!rest.contains("security violation"), "{rest}");
}

/// A server that sends more than the verification directory holds (no Content-Length, as one
/// that never stops) is stopped at the room checked beforehand and reported as no room, not as
/// a network failure.
#[test]
#[cfg(feature = "streaming")]
#[ignore = "needs root (mounts a tmpfs); run by scripts/test"]
fn a_download_for_verification_stops_at_the_room_checked_beforehand() {
    use support::http::{HttpServer, Reply, reply};
    let srv = HttpServer::start(|_, _| Reply {
        omit_length: true,
        ..reply(200)
            .h("Content-Type", "application/octet-stream")
            .body(vec![b'x'; 32 << 20])
    });
    let r = device("#!/bin/sh\ncat\n");
    r.lib(
        "10-source",
        "SWUPDATE_SOURCE=download\nSWUPDATE_ALLOW_HTTP=yes\nSWUPDATE_PREFLIGHT_BUDGET=0\n",
    )
    .etc("descriptor.env", &format!("URL={}\n", srv.url("/fw.swu")));
    let _fs = SmallFs::on(&r, "16m");
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(95), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("room checked beforehand"),
        "{}",
        stderr(&o)
    );
    assert!(!r.host("/received").exists());
}

/// Waits (bounded) until `pid` is gone (or a zombie); whether it went.
fn gone_within(pid: i32, limit: Duration) -> bool {
    let start = Instant::now();
    while alive(pid) {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

#[test]
fn processes_the_program_started_do_not_survive_a_sigterm_of_the_launcher() {
    use std::os::unix::process::ExitStatusExt;
    let s = Scratch::new("sigterm");
    let pidfile = s.path("pid");
    let r = device(&format!(
        "#!/bin/sh\nsh -c 'echo $$ > {pidfile}; exec sleep 30' </dev/null >/dev/null 2>&1 &\nexec sleep 30\n"
    ));
    r.lib("41-timeout", "SWUPDATE_VERIFY_TIMEOUT=60\n");
    let mut launcher = r
        .command(&[], &[])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let sleeper = pid_in(&pidfile);
    // SAFETY: kill with plain integers, to the launcher this test started.
    unsafe { libc::kill(launcher.id() as i32, libc::SIGTERM) };
    let start = Instant::now();
    let status = loop {
        if let Some(s) = launcher.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = launcher.kill();
            kill(sleeper);
            panic!("the launcher did not end on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let went = gone_within(sleeper, Duration::from_secs(2));
    kill(sleeper);
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    assert!(went, "pid {sleeper} outlived the launcher's SIGTERM");
    assert!(!r.host("/received").exists(), "swupdate was not started");
}

#[test]
fn check_static_under_root_resolves_an_absolute_program_symlink_inside_the_root() {
    // The image's program is a link to /opt/verify/unpack, which only the image has.
    let r = device("#!/bin/sh\ncat\n");
    r.write_executable("/opt/verify/unpack", "#!/bin/sh\ncat\n");
    fs::remove_file(r.host("/usr/libexec/unpack")).unwrap();
    r.symlink("/opt/verify/unpack", "/usr/libexec/unpack");
    let o = r.run(&["check", "--static"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn check_static_under_root_reports_the_images_missing_target_not_the_hosts_file() {
    // A link to /bin/sh: the build host has one, the image does not.
    let r = device("#!/bin/sh\ncat\n");
    fs::remove_file(r.host("/usr/libexec/unpack")).unwrap();
    r.symlink("/bin/sh", "/usr/libexec/unpack");
    let o = r.run(&["check", "--static"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    let e = stderr(&o);
    // The walk stopped inside the root, where the image lacks /bin.
    assert!(e.contains(&format!("{}:", r.host("/bin").display())), "{e}");
    assert!(e.contains("SWUPDATE_VERIFY_PROGRAM"), "{e}");
}

#[test]
fn check_static_under_root_reports_a_target_that_is_not_executable() {
    let r = device("#!/bin/sh\ncat\n");
    r.write("/opt/verify/unpack", "#!/bin/sh\ncat\n");
    fs::remove_file(r.host("/usr/libexec/unpack")).unwrap();
    r.symlink("/opt/verify/unpack", "/usr/libexec/unpack");
    let o = r.run(&["check", "--static"]);
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&r.host("/opt/verify/unpack").display().to_string()),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_program_runs_with_no_stop_signal_blocked() {
    // The launcher holds SIGTERM, SIGINT and SIGHUP back while it spawns the program (so a stop
    // cannot come between the spawn and the handler that kills its group); the program must
    // get them again. Python leaves the mask it inherited alone (dash would clear it).
    let r = device(
        "#!/usr/bin/python3\nimport sys\nsys.stdin.read()\nprint([l for l in open('/proc/self/status') if l.startswith('SigBlk:')][0].split()[1])\n",
    );
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let blocked = fs::read_to_string(r.host("/received")).unwrap();
    let mask = u64::from_str_radix(blocked.trim(), 16).unwrap();
    for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        assert_eq!(mask & (1 << (s - 1)), 0, "signal {s} blocked: {blocked}");
    }
}
