//! A hostile management agent (docs/threat-model.md): whatever it writes, links, renames or
//! races, it changes nothing but the URL, reads nothing through the launcher, and gets a
//! refusal with a reason, promptly, without swupdate being started. Plus the image-side
//! bounds that hold for every fragment, and StrictModes over whole paths.

use crate::support;

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use support::{Device, stderr};

const SECRET: &str = "s3cr3t-hash-do-not-leak";
const ETC: &str = "/etc/swupdate/conf.d";

/// A root-only file the agent must not be able to read through the launcher.
fn shadow(r: &Device) -> std::path::PathBuf {
    r.write(
        "/etc/shadow",
        &format!("root:$y$j9T${SECRET}:19000:0:99999:7:::\n"),
    );
    let p = r.host("/etc/shadow");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// Runs the launcher through the support runner, in its own process group, failing the test
/// after 20 s (a hang is a failure), as an `Output` for the byte-level checks here.
fn run_bounded(r: &Device, args: &[&str], env: &[(&str, &str)]) -> Output {
    let o = support::run_within(r.command(args, env), Duration::from_secs(20));
    Output {
        status: o.status,
        stdout: o.stdout.into_bytes(),
        stderr: o.stderr.into_bytes(),
    }
}

#[track_caller]
fn refused(o: &Output, code: i32) -> String {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr:\n{e}");
    assert!(o.stdout.is_empty(), "nothing printed, nothing started");
    assert!(!e.contains(SECRET), "leaked: {e}");
    assert!(!e.contains("root:$y$"), "leaked: {e}");
    e
}

fn mkfifo(p: &Path) {
    let c = CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

fn chown(p: &Path, uid: u32) {
    let c = CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: lchown on a path the test created.
    if unsafe { libc::lchown(c.as_ptr(), uid, uid) } != 0 {
        panic!("this test needs root (scripts/test runs as root in CI)");
    }
}

// --- the agent reads nothing ---

#[test]
fn a_descriptor_symlink_to_a_root_only_file_is_refused_without_quoting_it() {
    let r = Device::download();
    shadow(&r);
    fs::remove_file(r.host(&format!("{ETC}/descriptor.env"))).unwrap();
    r.symlink("/etc/shadow", &format!("{ETC}/descriptor.env"));
    for args in [&["check"][..], &["--print-argv"], &[]] {
        let e = refused(&run_bounded(&r, args, &[]), 74);
        assert!(e.contains("descriptor.env"), "{e}");
        assert!(e.contains("symlink"), "{e}");
    }
}

#[test]
fn a_relative_descriptor_symlink_is_refused_too() {
    let r = Device::download();
    shadow(&r);
    fs::remove_file(r.host(&format!("{ETC}/descriptor.env"))).unwrap();
    r.symlink("../../shadow", &format!("{ETC}/descriptor.env"));
    refused(&run_bounded(&r, &["check"], &[]), 74);
}

#[test]
fn a_descriptor_hard_link_to_a_root_only_file_is_refused_without_quoting_it() {
    let r = Device::download();
    let s = shadow(&r);
    let d = r.host(&format!("{ETC}/descriptor.env"));
    fs::remove_file(&d).unwrap();
    fs::hard_link(&s, &d).unwrap();
    let e = refused(&run_bounded(&r, &["check"], &[]), 65);
    assert!(e.contains("hard links"), "{e}");
}

#[test]
fn a_descriptor_with_unparsable_content_is_located_but_not_quoted() {
    let r = Device::download();
    r.etc(
        "descriptor.env",
        &format!("URL=https://a.example/x\nroot:$y$j9T${SECRET}:19000\n"),
    );
    let e = refused(&run_bounded(&r, &["check"], &[]), 65);
    assert!(e.contains("descriptor.env:2:1:"), "{e}");
}

#[test]
fn a_descriptor_cannot_expand_a_secret_of_the_image_or_the_environment() {
    let r = Device::download();
    r.lib("20-token", &format!("TOKEN={SECRET}\n"));
    for url in [
        "URL=https://evil.example/${TOKEN}",
        "URL=https://evil.example/$TOKEN",
        "URL=\"https://evil.example/${ENV_TOKEN:-x}\"",
        "URL=https://evil.example/${SWUPDATE_PUBLIC_KEY}",
    ] {
        r.etc("descriptor.env", &format!("{url}\n"));
        let o = run_bounded(&r, &["--print-argv"], &[("ENV_TOKEN", SECRET)]);
        let e = refused(&o, 65);
        assert!(e.contains("descriptor.env:1:"), "{url}: {e}");
        assert!(e.contains("literals"), "{url}: {e}");
    }
}

#[test]
fn a_root_only_fragment_with_an_error_is_located_but_not_quoted() {
    let r = Device::download();
    r.lib("30-private", &format!("TOKEN=x {SECRET}\n"));
    let p = r.host("/usr/lib/swupdate/conf.d/30-private");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    let e = refused(&run_bounded(&r, &["check"], &[]), 65);
    assert!(e.contains("30-private:1:"), "{e}");
    // The same file readable by everybody may be quoted: nothing is revealed then.
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    let o = run_bounded(&r, &["check"], &[]);
    assert!(
        stderr(&o).contains(&format!("`{SECRET}`")),
        "{}",
        stderr(&o)
    );
}

// --- nothing that is not a regular file is read; nothing hangs ---

#[test]
fn a_descriptor_fifo_is_refused_at_once() {
    let r = Device::download();
    let d = r.host(&format!("{ETC}/descriptor.env"));
    fs::remove_file(&d).unwrap();
    mkfifo(&d);
    for args in [&["check"][..], &[]] {
        let e = refused(&run_bounded(&r, args, &[]), 74);
        assert!(e.contains("FIFO"), "{e}");
    }
}

#[test]
fn a_fragment_fifo_is_refused_at_once() {
    let r = Device::download();
    mkfifo(&r.host(&format!("{ETC}/40-fifo")));
    let e = refused(&run_bounded(&r, &["check"], &[]), 74);
    assert!(e.contains("40-fifo") && e.contains("FIFO"), "{e}");
}

#[test]
fn an_environment_file_fifo_is_refused_at_once() {
    let r = Device::download();
    let f = r.host("/etc/default/swupdate");
    fs::remove_file(&f).unwrap();
    mkfifo(&f);
    refused(&run_bounded(&r, &["check"], &[]), 74);
}

#[test]
fn a_symlink_to_a_device_is_never_opened_for_reading() {
    let r = Device::download();
    // Climbing out of the root stops at its top: this is the device's /dev/zero, not the host's.
    r.symlink(
        "../../../../../../../../dev/zero",
        &format!("{ETC}/50-zero"),
    );
    refused(&run_bounded(&r, &["check"], &[]), 74);
    // And without --root the walk refuses a device outright (rootfs unit tests: /dev/zero).
}

#[test]
fn a_huge_fragment_is_refused_without_being_read_whole() {
    let r = Device::download();
    let f = fs::File::create(r.host("/usr/lib/swupdate/conf.d/60-huge")).unwrap();
    f.set_len(100 * 1024 * 1024).unwrap();
    let t = Instant::now();
    let e = refused(&run_bounded(&r, &["check"], &[]), 65);
    assert!(e.contains("60-huge") && e.contains("larger than"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_huge_descriptor_is_refused() {
    let r = Device::download();
    r.etc(
        "descriptor.env",
        &format!("URL=https://a.example/{}\n", "a".repeat(70 * 1024)),
    );
    let e = refused(&run_bounded(&r, &["check"], &[]), 65);
    assert!(e.contains("larger than"), "{e}");
}

// --- bounded work for every fragment ---

#[test]
fn doubling_expansions_in_a_fragment_are_stopped_with_file_and_line() {
    let r = Device::download();
    r.lib(
        "20-double",
        &("A=x\n".to_string() + &"A=$A$A\n".repeat(540)),
    );
    let e = refused(&run_bounded(&r, &["check"], &[]), 65);
    assert!(e.contains("20-double:"), "{e}");
}

#[test]
fn doubling_expansions_in_the_descriptor_are_refused_as_expansions() {
    let r = Device::download();
    r.etc("descriptor.env", &"URL=$URL$URL\n".repeat(540));
    let e = refused(&run_bounded(&r, &["check"], &[]), 65);
    assert!(e.contains("descriptor.env:1:"), "{e}");
}

#[test]
fn deeply_nested_defaults_are_an_error_not_a_crash() {
    let r = Device::download();
    r.lib(
        "20-deep",
        &("A=".to_string() + &"${A:-".repeat(100_000) + "\n"),
    );
    let e = refused(&run_bounded(&r, &["check"], &[]), 65);
    assert!(e.contains("20-deep:1:"), "{e}");
}

#[test]
fn megabytes_of_lookups_are_refused_promptly() {
    let r = Device::download();
    // 2 MB of `URL=$U` took 100 s of CPU; now the file bound refuses it before parsing.
    r.lib("20-many", &"URL=$U\n".repeat(2 * 1024 * 1024 / 7));
    let e = refused(&run_bounded(&r, &["check"], &[]), 65);
    assert!(e.contains("20-many"), "{e}");
    // Just under the file bound, the assignment bound stops it at a line.
    r.lib("20-many", &"URL=$U\n".repeat(140_000));
    let e = refused(&run_bounded(&r, &["check"], &[]), 65);
    assert!(e.contains("20-many:10001:"), "{e}");
}

// --- bounded listings, one descriptor at a time ---

/// The bound on the entries of one conf.d directory (`config::load::limits::ENTRIES`).
const ENTRIES: usize = 4096;

/// `count` empty hidden files in the directory `dir` of the device, as an agent that never
/// cleans up its temporary files leaves them.
fn hidden_files(r: &Device, dir: &str, count: usize) {
    for i in 0..count {
        fs::File::create(r.host(&format!("{dir}/.descriptor.env.{i}"))).unwrap();
    }
}

#[test]
fn an_etc_directory_with_more_entries_than_the_bound_is_refused_before_anything_is_read() {
    let r = Device::download();
    // At the bound it is read (the Device has a few entries of its own, descriptor.env too).
    let own = fs::read_dir(r.host(ETC)).unwrap().count();
    hidden_files(&r, ETC, ENTRIES - own);
    let o = run_bounded(&r, &["check"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // One more and it is refused, in every mode.
    fs::File::create(r.host(&format!("{ETC}/.one-more"))).unwrap();
    for args in [&["check"][..], &["--print-argv"], &[]] {
        let e = refused(&run_bounded(&r, args, &[]), 65);
        assert!(
            e.contains(ETC) && e.contains(&format!("more than {ENTRIES} entries")),
            "{e}"
        );
    }
    // The run gave the descriptor back: the next start, in a tidy directory, still has it.
    assert!(r.host(&format!("{ETC}/descriptor.env")).exists());
}

#[test]
fn a_lib_directory_with_more_entries_than_the_bound_is_refused() {
    let r = Device::download();
    hidden_files(&r, "/usr/lib/swupdate/conf.d", ENTRIES + 1);
    let e = refused(&run_bounded(&r, &["check"], &[]), 65);
    assert!(
        e.contains("usr/lib/swupdate/conf.d") && e.contains("entries"),
        "{e}"
    );
}

#[test]
fn more_fragments_than_the_descriptor_limit_are_read_one_at_a_time() {
    let r = Device::download();
    for i in 0..200 {
        r.lib(&format!("{i:03}-lib"), &format!("LIB_{i}=x\n"));
        r.etc(&format!("{i:03}-etc"), &format!("ETC_{i}=y\n"));
    }
    r.etc("999-last", "SWUPDATE_EXTRA_ARGS=\"-l 5\"\n");
    let mut cmd = r.command(&["--print-argv"], &[]);
    // SAFETY: setrlimit only, between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            let lim = libc::rlimit {
                rlim_cur: 64,
                rlim_max: 64,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = support::run_within(cmd, Duration::from_secs(20));
    assert_eq!(o.code(), Some(0), "{}", o.stderr);
    assert!(o.stdout.contains("-l 5"), "{}", o.stdout);
}

// --- the agent changes nothing but the URL ---

#[test]
#[ignore = "needs root (chown to another uid); run by scripts/test"]
fn an_agent_owned_etc_directory_may_hold_only_the_descriptor() {
    let r = Device::download();
    r.lib("50-verify", "SWUPDATE_ALLOW_HTTP=no\n");
    let agent = [("SWUPDATE_AGENT_UID", "4242")];
    chown(&r.host(ETC), 4242);
    chown(&r.host(&format!("{ETC}/descriptor.env")), 4242);
    assert_eq!(run_bounded(&r, &["check"], &agent).status.code(), Some(0));
    // A rename over a lib fragment's name (here of a file the agent made) shadows it: refused.
    r.etc("50-verify", "SWUPDATE_ALLOW_HTTP=yes\n");
    let e = refused(&run_bounded(&r, &["check"], &agent), 65);
    assert!(
        e.contains("50-verify") && e.contains("belongs to the agent"),
        "{e}"
    );
    // Even an empty one (a mask) or a /dev/null link.
    fs::remove_file(r.host(&format!("{ETC}/50-verify"))).unwrap();
    r.symlink("/dev/null", &format!("{ETC}/50-verify"));
    refused(&run_bounded(&r, &["check"], &agent), 65);
    // Hidden temp files (the agent's own, while it writes) are fine.
    fs::remove_file(r.host(&format!("{ETC}/50-verify"))).unwrap();
    r.etc(".descriptor.env.tmp", "garbage");
    assert_eq!(run_bounded(&r, &["check"], &agent).status.code(), Some(0));
}

#[test]
fn a_separate_descriptor_directory_leaves_the_etc_directory_to_the_image() {
    let r = Device::download();
    fs::remove_file(r.host(&format!("{ETC}/descriptor.env"))).unwrap();
    r.write(
        "/var/lib/swupdate/agent/descriptor.env",
        "URL=https://a.example/fw.swu\n",
    );
    r.etc("20-args", "SWUPDATE_EXTRA_ARGS=\"-l 4\"\n");
    r.write(
        "/etc/default/swupdate",
        "SWUPDATE_PUBLIC_KEY=/etc/swupdate/public.pem\nSWUPDATE_DESCRIPTOR_DIR=/var/lib/swupdate/agent\n",
    );
    let o = run_bounded(&r, &["--print-argv"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("https://a.example/fw.swu") && out.contains("-l 4"),
        "{out}"
    );
    // The old place is refused: a leftover there would otherwise be replayed forever.
    r.etc("descriptor.env", "URL=https://old.example/fw.swu\n");
    let e = refused(&run_bounded(&r, &["check"], &[]), 65);
    assert!(e.contains("SWUPDATE_DESCRIPTOR_DIR"), "{e}");
}

#[test]
fn the_descriptor_is_read_after_every_fragment() {
    let r = Device::download();
    r.etc("zz-late", "URL=https://image.example/default.swu\n");
    let o = run_bounded(&r, &["--print-argv"], &[]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("updates.example.com"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_descriptor_in_the_lib_directory_is_refused() {
    let r = Device::download();
    r.lib("descriptor.env", "URL=https://a.example/x.swu\n");
    refused(&run_bounded(&r, &["check"], &[]), 65);
}

// --- StrictModes over the whole path ---

#[test]
fn a_group_writable_directory_on_the_way_is_refused() {
    let r = Device::download();
    let d = r.host("/usr/lib/swupdate");
    fs::set_permissions(&d, fs::Permissions::from_mode(0o775)).unwrap();
    let e = refused(&run_bounded(&r, &["check"], &[]), 65);
    assert!(
        e.contains("usr/lib/swupdate:") && e.contains("directory"),
        "{e}"
    );
}

#[test]
#[ignore = "needs root (chown to another uid); run by scripts/test"]
fn a_symlink_in_the_middle_of_a_chain_owned_by_another_user_is_refused() {
    let r = Device::download();
    r.lib("70-real", "SWUPDATE_EXTRA_ARGS=\"-l 3\"\n");
    r.symlink("/usr/lib/swupdate/conf.d/70-real", "/usr/share/mid");
    r.symlink("/usr/share/mid", &format!("{ETC}/70-link"));
    assert_eq!(run_bounded(&r, &["check"], &[]).status.code(), Some(0));
    chown(&r.host("/usr/share/mid"), 4242);
    let e = refused(&run_bounded(&r, &["check"], &[]), 65);
    assert!(e.contains("usr/share/mid") && e.contains("4242"), "{e}");
}

#[test]
fn a_writable_swupdate_binary_key_or_version_file_is_refused() {
    for device in [
        "/usr/bin/swupdate",
        "/etc/swupdate/public.pem",
        "/etc/os-release",
    ] {
        let r = Device::download();
        fs::set_permissions(r.host(device), fs::Permissions::from_mode(0o777)).unwrap();
        let e = refused(&run_bounded(&r, &["check"], &[]), 65);
        assert!(e.contains(device), "{device}: {e}");
    }
}

#[test]
fn under_root_an_absolute_directory_symlink_stays_inside_the_root() {
    // /etc/swupdate -> <a directory of the build host>: the kernel would follow it there.
    let host = tempfile::tempdir().unwrap();
    fs::create_dir_all(host.path().join("conf.d")).unwrap();
    fs::write(
        host.path().join("conf.d/10-host"),
        "SWUPDATE_EXTRA_ARGS=\"-l 9\"\n",
    )
    .unwrap();
    let r = Device::download();
    fs::remove_dir_all(r.host("/etc/swupdate")).unwrap();
    r.symlink(host.path().to_str().unwrap(), "/etc/swupdate");
    r.write(
        "/etc/default/swupdate",
        "SWUPDATE_PUBLIC_KEY=/usr/share/public.pem\n",
    )
    .write("/usr/share/public.pem", "key");
    let o = run_bounded(&r, &["explain"], &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("-l 9"), "read the build host's file: {out}");
    // The same path inside the root is what counts.
    r.write(
        &format!("{}/conf.d/10-host", host.path().display()),
        "SWUPDATE_EXTRA_ARGS=\"-l 2\"\n",
    );
    r.write(
        &format!("{}/conf.d/descriptor.env", host.path().display()),
        "URL=https://inside.example/fw.swu\n",
    );
    let o = run_bounded(&r, &["--print-argv"], &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("-l 2") && out.contains("inside.example"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_relative_symlink_to_dev_null_masks() {
    let r = Device::download();
    r.lib("90-start-progress", "exec /usr/bin/swupdate-progress &\n");
    r.symlink("../../../dev/null", &format!("{ETC}/90-start-progress"));
    let o = run_bounded(&r, &["check"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

// --- the handoff: claimed first, never lost or replayed ---

#[test]
fn a_run_claims_the_descriptor_before_swupdate_starts() {
    let r = Device::download();
    // The stub swupdate reports what it sees: the claimed descriptor, no descriptor.env.
    r.write_executable(
        "/usr/bin/swupdate",
        &format!(
            "#!/bin/sh\nls -a {}{ETC} > {}/seen\n",
            r.path().display(),
            r.path().display()
        ),
    );
    let o = run_bounded(&r, &[], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let seen = fs::read_to_string(r.host("/seen")).unwrap();
    assert!(seen.contains(".descriptor.env.last"), "{seen}");
    assert!(!seen.lines().any(|l| l == "descriptor.env"), "{seen}");
}

#[test]
fn a_start_refused_by_the_lock_leaves_the_descriptor_for_the_next_one() {
    let r = Device::download();
    let lock = r.host("/run/swupdate-launcher.lock");
    fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let f = fs::File::create(&lock).unwrap();
    // SAFETY: flock on a descriptor we own.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&f), libc::LOCK_EX) },
        0
    );
    let o = run_bounded(&r, &[], &[]);
    assert_eq!(o.status.code(), Some(75), "{}", stderr(&o));
    assert!(
        r.host(&format!("{ETC}/descriptor.env")).exists(),
        "the handoff was lost"
    );
}

#[test]
fn a_lock_path_that_is_a_symlink_is_refused() {
    let r = Device::download();
    r.write("/etc/precious", "keep\n");
    r.symlink(
        r.host("/etc/precious").to_str().unwrap(),
        "/run/swupdate-launcher.lock",
    );
    let o = run_bounded(&r, &[], &[]);
    assert_eq!(o.status.code(), Some(74), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(r.host("/etc/precious")).unwrap(),
        "keep\n"
    );
}

#[test]
#[ignore = "needs root (chown to another uid); run by scripts/test"]
fn an_environment_file_cannot_vouch_for_itself() {
    // Owned by uid 4242 and trusting uid 4242: judged before it is read, against root (or the
    // environment's SWUPDATE_TRUSTED_UID), so it is refused.
    let r = Device::download();
    r.write(
        "/etc/default/swupdate",
        "SWUPDATE_PUBLIC_KEY=/etc/swupdate/public.pem\nSWUPDATE_TRUSTED_UID=4242\nSWUPDATE_STRICT_MODES=no\n",
    );
    chown(&r.host("/etc/default/swupdate"), 4242);
    let e = refused(&run_bounded(&r, &["check"], &[]), 65);
    assert!(
        e.contains("etc/default/swupdate") && e.contains("4242"),
        "{e}"
    );
}

/// README: nobody but root may take the update lock. A lock file others could open (as an
/// older launcher left it, 0644) held by an unprivileged user does not stop an update: the
/// launcher replaces it by a private one.
#[test]
#[ignore = "needs root (runs the holder as uid 64999); run by scripts/test"]
fn a_lock_held_by_an_unprivileged_user_does_not_stop_updates() {
    let r = Device::file_mode();
    let lock = r.host("/run/swupdate-launcher.lock");
    fs::create_dir_all(lock.parent().unwrap()).unwrap();
    fs::write(&lock, "").unwrap();
    for p in [lock.clone(), r.host("/run"), r.path().to_path_buf()] {
        let mode = if p == lock { 0o644 } else { 0o755 };
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }
    let mut holder = std::process::Command::new("setpriv")
        .args(["--reuid=64999", "--regid=64999", "--clear-groups", "--"])
        .args(["flock", "--nonblock"])
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
        .expect("setpriv and flock (util-linux) run the unprivileged holder");
    let held = Instant::now();
    let probe = fs::File::open(&lock).unwrap();
    // SAFETY: flock on a descriptor the test owns.
    while unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&probe),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    } == 0
    {
        // SAFETY: as above.
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&probe), libc::LOCK_UN) };
        assert!(
            holder.try_wait().unwrap().is_none(),
            "the holder could not lock"
        );
        assert!(
            held.elapsed() < Duration::from_secs(10),
            "the holder never locked"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = run_bounded(&r, &[], &[]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = fs::metadata(&lock).unwrap();
    assert_eq!(m.permissions().mode() & 0o777, 0o600);
}

// --- the agent has no other role (issue #19 point 2) ---

/// A file-mode device with a verification stage run as `user`.
fn verifying_device(user: &str) -> Device {
    let r = Device::file_mode();
    r.write_executable("/usr/libexec/unpack", "#!/bin/sh\ncat\n");
    r.lib(
        "40-verify",
        &format!("SWUPDATE_VERIFY_PROGRAM=/usr/libexec/unpack\nSWUPDATE_VERIFY_USER={user}\n"),
    );
    r
}

#[test]
fn an_agent_that_is_the_verification_user_is_refused_at_image_build_and_at_start() {
    let r = verifying_device("4242:4242");
    for args in [&["check", "--static"][..], &["check"], &[]] {
        let o = run_bounded(&r, args, &[("SWUPDATE_AGENT_UID", "4242")]);
        let e = refused(&o, 65);
        assert!(e.contains("SWUPDATE_VERIFY_USER"), "{e}");
    }
}

#[test]
fn an_agent_that_is_nobody_is_refused_with_the_default_verification_user() {
    let r = Device::file_mode();
    r.write_executable("/usr/libexec/unpack", "#!/bin/sh\ncat\n");
    r.lib("40-verify", "SWUPDATE_VERIFY_PROGRAM=/usr/libexec/unpack\n");
    let o = run_bounded(
        &r,
        &["check", "--static"],
        &[("SWUPDATE_AGENT_UID", "65534")],
    );
    refused(&o, 65);
}

#[test]
fn an_agent_that_is_the_images_owner_is_refused() {
    let r = Device::download();
    let uid = support::verification_user();
    let own = uid.split(':').next().unwrap();
    // SAFETY: getuid has no preconditions.
    let trusted = unsafe { libc::getuid() }.to_string();
    let o = run_bounded(&r, &["check"], &[("SWUPDATE_AGENT_UID", &trusted)]);
    let e = refused(&o, 65);
    assert!(e.contains("SWUPDATE_AGENT_UID"), "{e}");
    // An agent of its own is fine.
    let o = run_bounded(&r, &["check"], &[("SWUPDATE_AGENT_UID", own)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
#[ignore = "needs root (chown to another uid); run by scripts/test"]
fn a_verification_directory_inside_the_agents_directory_is_refused() {
    let r = verifying_device(&support::verification_user());
    r.lib(
        "41-verify-dir",
        "SWUPDATE_VERIFY_DIR=/var/lib/agent/verify\n",
    );
    fs::create_dir_all(r.host("/var/lib/agent/verify")).unwrap();
    chown(&r.host("/var/lib/agent"), 4242);
    let o = run_bounded(&r, &["check"], &[("SWUPDATE_AGENT_UID", "4242")]);
    let e = refused(&o, 65);
    assert!(e.contains("/var/lib/agent"), "{e}");
}

/// Names of files the agent controls reach stderr and explain escaped: a line break or a
/// terminal escape sequence in a name cannot forge a line or repaint the screen.
#[test]
fn file_names_with_control_characters_are_shown_escaped() {
    let r = Device::download();
    r.etc("x\n\u{1b}[2Jforged", "SWUPDATE_ANTI_ROLLBACK=no\n");
    for args in [&["check"][..], &["explain"]] {
        let o = run_bounded(&r, args, &[]);
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert!(!all.contains('\u{1b}'), "{all}");
        assert!(
            !all.contains("\nforged") && !all.contains("\n\u{1b}"),
            "{all}"
        );
    }
}

/// Root does not read for the unprivileged verification program: an update file that is a
/// symlink to a root-only file is refused before the program sees a byte of it.
#[test]
#[ignore = "needs root (a root-only file the verification user cannot read); run by scripts/test"]
fn an_update_file_the_verification_user_cannot_read_is_not_read_for_it() {
    let r = verifying_device(&support::verification_user());
    shadow(&r);
    fs::remove_file(r.host("/data/update.swu")).unwrap();
    r.symlink("/etc/shadow", "/data/update.swu");
    let seen = r.host("/seen-by-the-program");
    r.write_executable(
        "/usr/libexec/unpack",
        &format!("#!/bin/sh\ncat > {}\n", seen.display()),
    );
    let e = refused(&run_bounded(&r, &[], &[]), 66);
    assert!(e.contains("not readable by the verification user"), "{e}");
    assert!(!seen.exists(), "the program was not started");
}
