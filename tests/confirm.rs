//! `confirm` through the built launcher, on a device root whose U-Boot environment is a file of
//! the test's own, read and written by the real libubootenv-tool (`fw_printenv`/`fw_setenv`,
//! named by the device's `/etc/fw_env.config`), with health checks as real scripts. The slot is
//! identified from the kernel command line (`cmdline:rauc.slot`, a file of the device's). The
//! tests that run the tools need libubootenv-tool, so they are ignored by `cargo test` and run
//! by scripts/test, which installs it; `check`'s part needs no tool.
#![cfg(feature = "ab")]

use crate::support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::{Device, stderr};

const ENV_SIZE: usize = 0x4000;
const PRINTENV: &str = "/usr/bin/fw_printenv";
const SETENV: &str = support::FW_SETENV;
const HEALTH: &str = "/usr/lib/swupdate/health.d";

/// A device with the slot table (A, B, recognised by `rauc.slot=` on the command line), the
/// primary variable `boot_part`, the real tools and a redundant environment (two files) that
/// holds `vars`; it booted `running`.
struct AbDevice {
    device: Device,
    copies: [PathBuf; 2],
}

impl AbDevice {
    /// The device with its slot table and the tools, and an environment (two files) never
    /// written yet: what `check --static` sees at image build.
    fn unwritten(running: &str, fragment_extra: &str) -> AbDevice {
        let mut device = Device::configured_in_temp();
        device.set("SWUPDATE_KERNEL_CMDLINE", "/proc-cmdline");
        device.write(
            "/proc-cmdline",
            &format!("console=ttyS0 root=/dev/mmcblk0p2 rauc.slot={running}\n"),
        );
        device.symlink(PRINTENV, PRINTENV).symlink(SETENV, SETENV);
        device.lib(
            "50-ab",
            &format!(
                "SWUPDATE_SLOTS=\"A B\"\n\
                 SWUPDATE_SLOT_SOURCES=cmdline:rauc.slot\n\
                 SWUPDATE_SLOT_A=\"device=/dev/mmcblk0p2 bootname=A selection=stable,copy2\"\n\
                 SWUPDATE_SLOT_B=\"device=/dev/mmcblk0p3 bootname=B selection=stable,copy1\"\n\
                 SWUPDATE_CONFIRM_PRIMARY=boot_part\n\
                 SWUPDATE_VERIFY_USER={}\n\
                 SWUPDATE_HEALTH_TIMEOUT=5\n{fragment_extra}",
                support::verification_user()
            ),
        );
        let copies = [0, 1].map(|i| device.dir.join(format!("uboot-env-{i}")));
        let mut config = String::new();
        for c in &copies {
            fs::write(c, vec![0u8; ENV_SIZE]).unwrap();
            config.push_str(&format!("{} 0x0 0x{ENV_SIZE:x}\n", c.display()));
        }
        device.write("/etc/fw_env.config", &config);
        AbDevice { device, copies }
    }

    /// [`AbDevice::unwritten`] whose environment holds `vars`, as U-Boot leaves it after its
    /// first `saveenv`; it booted `running`.
    fn new(vars: &str, running: &str, fragment_extra: &str) -> AbDevice {
        let d = AbDevice::unwritten(running, fragment_extra);
        let default = d.device.dir.join("default-env");
        fs::write(&default, vars).unwrap();
        support::first_saveenv(&d.device.host("/etc/fw_env.config"), &default);
        d
    }

    fn check(&self, name: &str, script: &str) -> &AbDevice {
        self.device
            .write_executable(&format!("{HEALTH}/{name}"), script);
        self
    }

    fn confirm(&self) -> Output {
        self.device.run(&["confirm"])
    }

    /// Both copies of the environment, byte for byte.
    fn bytes(&self) -> [Vec<u8>; 2] {
        [0, 1].map(|i| fs::read(&self.copies[i]).unwrap())
    }

    /// One variable, as the tool reads it.
    fn value(&self, name: &str) -> Option<String> {
        let out = Command::new(PRINTENV)
            .arg("-c")
            .arg(self.device.host("/etc/fw_env.config"))
            .arg(name)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.trim_end()
            .strip_prefix(&format!("{name}="))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }
}

/// How many processes run `sleep MARKER`.
fn sleeping(marker: &str) -> usize {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| fs::read(e.path().join("cmdline")).ok())
        .filter(|c| c.split(|b| *b == 0).any(|w| w == marker.as_bytes()))
        .count()
}

/// Kills what still runs `sleep MARKER` when dropped: a test that fails leaves no process
/// behind (one that outlived its check would run as the checks' user for an hour, and every
/// later contained program's user check would refuse that user).
struct Sleepers(String);

impl Drop for Sleepers {
    fn drop(&mut self) {
        for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else {
                continue;
            };
            let cmdline = fs::read(e.path().join("cmdline")).unwrap_or_default();
            if cmdline.split(|b| *b == 0).any(|w| w == self.0.as_bytes()) {
                // SAFETY: kill with plain integers, to a process this test's check started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn nothing_to_confirm_leaves_the_environment_byte_identical() {
    let d = AbDevice::new("ustate=0\nboot_part=A\n", "A", "");
    d.check("required/10-fails", "#!/bin/sh\nexit 1\n");
    let before = d.bytes();
    let o = d.confirm();
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing to confirm"), "{}", stderr(&o));
    assert_eq!(d.bytes(), before);
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn a_running_slot_that_is_not_identified_exits_67_and_writes_nothing() {
    let d = AbDevice::new("ustate=1\nboot_part=B\n", "C", "");
    let before = d.bytes();
    let o = d.confirm();
    assert_eq!(code(&o), Some(67), "{}", stderr(&o));
    assert!(stderr(&o).contains("rauc.slot=C"), "{}", stderr(&o));
    assert_eq!(d.bytes(), before);
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn a_pending_update_without_a_slot_table_exits_67_and_writes_nothing() {
    let d = AbDevice::new("ustate=1\n", "A", "");
    d.device.lib("50-ab", "SWUPDATE_CONFIRM=ustate\n");
    let before = d.bytes();
    let o = d.confirm();
    assert_eq!(code(&o), Some(67), "{}", stderr(&o));
    assert!(stderr(&o).contains("no slot table"), "{}", stderr(&o));
    assert_eq!(d.bytes(), before);
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn a_fallback_is_recorded_as_failed_and_exits_70_without_running_checks() {
    let d = AbDevice::new("ustate=1\nboot_part=B\n", "A", "");
    d.check("required/10-fails", "#!/bin/sh\nexit 1\n");
    let o = d.confirm();
    assert_eq!(code(&o), Some(70), "{}", stderr(&o));
    assert!(stderr(&o).contains("fell back"), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("10-fails"),
        "no check ran: {}",
        stderr(&o)
    );
    assert_eq!(d.value("ustate").as_deref(), Some("3"));
    assert_eq!(d.value("boot_part").as_deref(), Some("A"));
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn a_failing_required_check_writes_nothing_and_exits_69() {
    let d = AbDevice::new("ustate=1\nboot_part=B\n", "B", "");
    d.check("required/10-ok", "#!/bin/sh\necho disk fine\n")
        .check("required/20-app", "#!/bin/sh\necho app down >&2\nexit 4\n");
    let before = d.bytes();
    let o = d.confirm();
    let err = stderr(&o);
    assert_eq!(code(&o), Some(69), "{err}");
    assert!(
        err.contains("health check required/10-ok: disk fine"),
        "{err}"
    );
    assert!(
        err.contains("health check required/20-app: app down"),
        "{err}"
    );
    assert!(err.contains("required/20-app: exit 4"), "{err}");
    assert_eq!(d.bytes(), before);
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn passing_checks_confirm_with_ustate_2_in_one_write() {
    let d = AbDevice::new("ustate=1\nboot_part=B\n", "B", "");
    d.check("required/10-ok", "#!/bin/sh\nexit 0\n")
        .check("wanted/50-ui", "#!/bin/sh\nexit 1\n");
    let before = d.bytes();
    let o = d.confirm();
    let err = stderr(&o);
    assert_eq!(code(&o), Some(0), "{err}");
    assert!(
        err.contains("wanted/50-ui"),
        "the wanted failure warns: {err}"
    );
    assert_eq!(d.value("ustate").as_deref(), Some("2"));
    // One store of a redundant environment writes the inactive copy only.
    let after = d.bytes();
    let changed = (0..2).filter(|&i| after[i] != before[i]).count();
    assert_eq!(changed, 1, "one fw_setenv, one copy written");
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn the_bootcount_scheme_resets_the_counter_with_ustate_in_one_write() {
    let d = AbDevice::new(
        "ustate=1\nupgrade_available=1\nbootcount=2\nboot_part=B\n",
        "B",
        "SWUPDATE_CONFIRM=\"ustate bootcount\"\n",
    );
    let before = d.bytes();
    let o = d.confirm();
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(d.value("ustate").as_deref(), Some("2"));
    assert_eq!(d.value("upgrade_available").as_deref(), Some("0"));
    assert_eq!(d.value("bootcount").as_deref(), Some("0"));
    let after = d.bytes();
    assert_eq!((0..2).filter(|&i| after[i] != before[i]).count(), 1);
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn a_hung_check_is_killed_at_the_timeout_and_fails() {
    let d = AbDevice::new(
        "ustate=1\nboot_part=B\n",
        "B",
        "SWUPDATE_HEALTH_TIMEOUT=1\n",
    );
    // A time no other process sleeps: what is still alive afterwards is this check's.
    let marker = format!("3599.{}", std::process::id());
    let _sleepers = Sleepers(marker.clone());
    d.check(
        "required/10-hangs",
        &format!("#!/bin/sh\nsleep {marker} &\nexec sleep {marker}\n"),
    );
    let before = d.bytes();
    let started = Instant::now();
    let o = d.confirm();
    let err = stderr(&o);
    assert_eq!(code(&o), Some(69), "{err}");
    assert!(err.contains("did not finish within 1 s"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "bounded by the 1 s timeout"
    );
    assert_eq!(d.bytes(), before);
    assert_eq!(
        sleeping(&marker),
        0,
        "the check and what it started are gone"
    );
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn processes_a_check_started_do_not_survive_a_sigterm_of_confirm() {
    use std::os::unix::process::ExitStatusExt;
    let d = AbDevice::new(
        "ustate=1\nboot_part=B\n",
        "B",
        "SWUPDATE_HEALTH_TIMEOUT=60\n",
    );
    let marker = format!("3598.{}", std::process::id());
    let _sleepers = Sleepers(marker.clone());
    d.check(
        "required/10-hangs",
        &format!("#!/bin/sh\nsleep {marker} </dev/null >/dev/null 2>&1 &\nexec sleep {marker}\n"),
    );
    let before = d.bytes();
    let mut confirm = d
        .device
        .command(&["confirm"], &[])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while sleeping(&marker) < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the check did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill with plain integers, to the launcher this test started.
    unsafe { libc::kill(confirm.id() as i32, libc::SIGTERM) };
    let status = loop {
        if let Some(s) = confirm.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "confirm did not end on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let gone = Instant::now();
    while sleeping(&marker) > 0 && gone.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    assert_eq!(
        sleeping(&marker),
        0,
        "the check and what it started are gone"
    );
    assert_eq!(d.bytes(), before, "nothing written");
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn an_environment_that_cannot_be_read_exits_71_and_runs_no_check() {
    let d = AbDevice::new("ustate=1\nboot_part=B\n", "B", "");
    d.check("required/10-ok", "#!/bin/sh\necho ran\n");
    let gone = d.device.dir.join("no-such-env");
    d.device.write(
        "/etc/fw_env.config",
        &format!("{} 0x0 0x{ENV_SIZE:x}\n", gone.display()),
    );
    let o = d.confirm();
    assert_eq!(code(&o), Some(71), "{}", stderr(&o));
    assert!(!stderr(&o).contains("ran"), "{}", stderr(&o));
}

#[test]
fn check_warns_on_an_ab_device_without_health_checks() {
    let d = AbDevice::unwritten("A", "");
    d.device.executable("/usr/bin/swupdate");
    let o = d.device.run(&["check", "--static"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("confirm: no health checks in"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn check_refuses_a_health_check_others_may_write() {
    let d = AbDevice::unwritten("A", "");
    d.device.executable("/usr/bin/swupdate");
    d.check("required/10-net", "#!/bin/sh\n");
    let p = d.device.host(&format!("{HEALTH}/required/10-net"));
    fs::set_permissions(&p, fs::Permissions::from_mode(0o777)).unwrap();
    let o = d.device.run(&["check", "--static"]);
    assert_eq!(code(&o), Some(65), "{}", stderr(&o));
    assert!(stderr(&o).contains("10-net"), "{}", stderr(&o));
}

/// A datagram socket in the device's directory, standing in for systemd's notify socket or the
/// journal; what arrived, one datagram a string.
struct Listener(UnixDatagram, PathBuf);

impl Listener {
    fn at(d: &AbDevice, name: &str) -> Listener {
        let path = d.device.dir.join(name);
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_nonblocking(true).unwrap();
        Listener(sock, path)
    }

    fn received(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = self.0.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn the_service_manager_is_told_what_was_confirmed() {
    let confirmed = AbDevice::new("ustate=1\nboot_part=B\n", "B", "");
    let notify = Listener::at(&confirmed, "notify");
    let o = confirmed.device.run_env(
        &["confirm"],
        &[("NOTIFY_SOCKET", notify.1.to_str().unwrap())],
    );
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(notify.received(), ["STATUS=confirmed slot B: ustate=2"]);
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn the_service_manager_is_told_why_nothing_was_confirmed() {
    let unhealthy = AbDevice::new("ustate=1\nboot_part=B\n", "B", "");
    unhealthy.check("required/10-app", "#!/bin/sh\nexit 2\n");
    let notify = Listener::at(&unhealthy, "notify");
    let o = unhealthy.device.run_env(
        &["confirm"],
        &[("NOTIFY_SOCKET", notify.1.to_str().unwrap())],
    );
    assert_eq!(code(&o), Some(69), "{}", stderr(&o));
    let sent = notify.received();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].starts_with(
            "STATUS=confirm: not confirmed: required health check failed (required/10-app: exit 2)"
        ),
        "{sent:?}"
    );
    assert!(sent[0].contains("\nERRNO="), "{sent:?}");
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn each_line_a_check_prints_reaches_the_journal_with_its_name() {
    let d = AbDevice::new("ustate=1\nboot_part=B\n", "B", "");
    d.check(
        "required/10-net",
        "#!/bin/sh\necho link up\necho dns ok >&2\n",
    );
    let journal = Listener::at(&d, "journal");
    let o = d.device.run_env(
        &["confirm"],
        &[(
            "SWUPDATE_LAUNCHER_JOURNAL_SOCKET",
            journal.1.to_str().unwrap(),
        )],
    );
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let records = journal.received();
    for line in ["link up", "dns ok"] {
        assert!(
            records.iter().any(|r| r
                .contains(&format!("MESSAGE=health check required/10-net: {line}\n"))
                && r.contains("SWUPDATE_HEALTH_CHECK=required/10-net\n")),
            "{line}: {records:?}"
        );
    }
}

#[test]
#[ignore = "needs libubootenv-tool and root (another process as the checks' user); run by scripts/test"]
fn a_check_user_another_process_runs_as_is_refused_and_nothing_written() {
    let d = AbDevice::new("ustate=1\nboot_part=B\n", "B", "");
    d.check("required/10-ok", "#!/bin/sh\nexit 0\n");
    let user = support::verification_user();
    d.device
        .lib("60-user", &format!("SWUPDATE_VERIFY_USER={user}\n"));
    let mut other = support::another_process_as(&user);
    let before = d.bytes();
    let o = d.confirm();
    let _ = other.kill();
    let _ = other.wait();
    assert_eq!(code(&o), Some(69), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not its own"), "{}", stderr(&o));
    assert_eq!(d.bytes(), before);
}
