//! What swupdate inherits from the launcher's exec: under systemd the launcher is the service's
//! main process, so swupdate must be that same process, with the socket-activation descriptors
//! (and no other descriptor of the launcher's but the lock), the environment systemd set, the
//! argv `--print-argv` shows, and SIGPIPE and the signal mask as they were given.
//!
//! `SWUPDATE_BIN` is a probe script that reports what it got. It is started the way systemd
//! starts a socket-activated, notify-type service: a listening socket on fd 3, LISTEN_FDS=1,
//! LISTEN_PID, NOTIFY_SOCKET.

use crate::support;

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use support::{Device, Outcome};

const PROBE_BIN: &str = "/usr/bin/swupdate-probe";

/// Reports one `key=value` per line; the argv as one `arg=` line per word, `$0` first (the path
/// the program was exec'd with, which is argv[0] as the launcher passes it).
const PROBE: &str = r#"#!/bin/sh
echo "pid=$$"
echo "fd3=$(readlink /proc/$$/fd/3)"
echo "LISTEN_PID=${LISTEN_PID-<unset>}"
echo "LISTEN_FDS=${LISTEN_FDS-<unset>}"
echo "NOTIFY_SOCKET=${NOTIFY_SOCKET-<unset>}"
printf 'arg=%s\n' "$0" "$@"
sed -n 's/^SigIgn:[[:space:]]*/sigign=/p; s/^SigBlk:[[:space:]]*/sigblk=/p' /proc/$$/status
for f in /proc/$$/fd/*; do echo "fd:${f##*/}=$(readlink "$f")"; done
exit 0
"#;

/// Stand-in values: socket activation sets LISTEN_PID to the service's PID, which is only
/// known after the spawn, so a fixed value shows that it is passed on unchanged.
const LISTEN_PID: &str = "4242";
const NOTIFY_SOCKET: &str = "/run/test.sock";

/// File mode with a dummy update file and no key; `SWUPDATE_BIN` is the probe. The paths and
/// the extra options have blanks, so the argv comparison covers quoting.
fn probe_device(dir: &Path) -> Device {
    let mut d = Device::configured(dir);
    d.write_executable(PROBE_BIN, PROBE);
    d.set("SWUPDATE_BIN", PROBE_BIN);
    d.write("/var/lib/swupdate/update 1.swu", "not a real update");
    d.lib(
        "10-source",
        "SWUPDATE_SOURCE=file\nUPDATE_FILE='/var/lib/swupdate/update 1.swu'\n\
         SWUPDATE_EXTRA_ARGS=\"-H board:1.0 --forced-signer-name 'Test Signer'\"\n",
    );
    d
}

/// How the launcher is started.
#[derive(Clone, Copy)]
struct Start {
    /// SIGPIPE ignored (systemd's IgnoreSIGPIPE=yes, the default) or default.
    sigpipe_ignored: bool,
    /// A signal blocked in the launcher's mask, if any (systemd starts with none).
    blocked: Option<libc::c_int>,
}

/// As systemd starts a service by default.
const SYSTEMD: Start = Start {
    sigpipe_ignored: true,
    blocked: None,
};

/// What the probe reported.
struct Probe {
    lines: Vec<(String, String)>,
}

impl Probe {
    fn parse(o: &Outcome) -> Probe {
        o.assert_code(0);
        let lines = o
            .stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Probe { lines }
    }

    fn get(&self, key: &str) -> &str {
        self.lines
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("the probe did not report {key}: {:?}", self.lines))
    }

    fn argv(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter(|(k, _)| k == "arg")
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn mask(&self, key: &str) -> u64 {
        u64::from_str_radix(self.get(key), 16).expect("a hex signal mask")
    }

    fn sigpipe_ignored(&self) -> bool {
        self.mask("sigign") & bit(libc::SIGPIPE) != 0
    }

    /// Every open descriptor but stdin, stdout and stderr: number and what it is.
    fn descriptors(&self) -> Vec<(u32, String)> {
        self.lines
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("fd:")?.parse().ok()?, v.clone())))
            .filter(|(n, _)| *n > 2)
            .collect()
    }
}

/// A signal's bit in the masks of /proc/PID/status.
fn bit(signal: libc::c_int) -> u64 {
    1 << (signal - 1)
}

/// The kernel's name of the object behind `fd`, as /proc/PID/fd/N shows it.
fn socket_name(fd: RawFd) -> String {
    // SAFETY: fstat writes only into the zeroed struct we own.
    let st = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        assert_eq!(libc::fstat(fd, &mut st), 0);
        st
    };
    format!("socket:[{}]", st.st_ino)
}

/// Runs `cmd` as systemd would start a socket-activated service: a listening socket on fd 3,
/// LISTEN_FDS, LISTEN_PID, NOTIFY_SOCKET, and `start`'s signal setup. Returns the run, what the
/// probe saw, and the name of the socket on fd 3.
fn activated(mut cmd: Command, dir: &Path, start: Start) -> (Outcome, Probe, String) {
    let listener = UnixListener::bind(dir.join("activation.sock")).unwrap();
    let fd = listener.as_raw_fd();
    cmd.env("LISTEN_FDS", "1")
        .env("LISTEN_PID", LISTEN_PID)
        .env("NOTIFY_SOCKET", NOTIFY_SOCKET);
    let disposition = if start.sigpipe_ignored {
        libc::SIG_IGN
    } else {
        libc::SIG_DFL
    };
    // SAFETY: between fork and exec only async-signal-safe calls (dup2, fcntl, signal,
    // sigprocmask) and no allocation.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                // Already in place: only clear close-on-exec, as dup2 would have.
                let flags = libc::fcntl(3, libc::F_GETFD);
                if flags < 0 || libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::signal(libc::SIGPIPE, disposition) == libc::SIG_ERR {
                return Err(io::Error::last_os_error());
            }
            if let Some(signal) = start.blocked {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, signal);
                if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let outcome = support::run(cmd);
    let probe = Probe::parse(&outcome);
    (outcome, probe, socket_name(fd))
}

/// [`activated`] the launcher on `device`.
fn activated_run_on(device: &Device, start: Start) -> (Outcome, Probe, String) {
    activated(device.command(&[], &[]), &device.dir, start)
}

/// [`activated_run_on`] a fresh probe device.
fn activated_run(start: Start) -> (Outcome, Probe, String) {
    let tmp = tempfile::tempdir().unwrap();
    activated_run_on(&probe_device(tmp.path()), start)
}

#[test]
fn swupdate_runs_in_the_launchers_process() {
    let (outcome, probe, _) = activated_run(SYSTEMD);
    assert_eq!(probe.get("pid"), outcome.pid.to_string());
}

#[test]
fn the_socket_on_fd_3_reaches_swupdate() {
    let (_, probe, socket) = activated_run(SYSTEMD);
    assert_eq!(probe.get("fd3"), socket);
}

#[test]
fn socket_activation_and_notify_variables_reach_swupdate_unchanged() {
    let (_, probe, _) = activated_run(SYSTEMD);
    assert_eq!(probe.get("LISTEN_PID"), LISTEN_PID);
    assert_eq!(probe.get("LISTEN_FDS"), "1");
    assert_eq!(probe.get("NOTIFY_SOCKET"), NOTIFY_SOCKET);
}

/// The argv `--print-argv` prints, word for word, but for the update file: at a run swupdate
/// gets the descriptor the launcher opened and judged (`-i /proc/self/fd/N`), which is that
/// file, so nothing renamed onto the path after the check is installed.
#[test]
fn swupdate_gets_the_argv_that_print_argv_prints_with_the_checked_update_file_as_a_descriptor() {
    let tmp = tempfile::tempdir().unwrap();
    let device = probe_device(tmp.path());
    let printed = device.outcome(&["--print-argv"]);
    printed.assert_code(0);
    let line = printed.stdout.strip_suffix('\n').unwrap_or(&printed.stdout);
    let printed = shell_words::split(line).expect("--print-argv prints shell words");
    let (_, probe, _) = activated_run_on(&device, SYSTEMD);
    let mut got = probe.argv();
    let i = got.iter().position(|w| w == "-i").expect("an -i") + 1;
    let fd: u32 = got[i]
        .strip_prefix("/proc/self/fd/")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("-i {}: not a descriptor", got[i]));
    let opened = probe.descriptors().into_iter().find(|(n, _)| *n == fd);
    assert_eq!(opened.map(|(_, what)| what), Some(printed[i].clone()));
    got[i] = printed[i].clone();
    assert_eq!(got, printed);
    // Words with blanks arrive whole (a comparison of two equally wrong splits would pass).
    assert!(printed.iter().any(|w| w == "Test Signer"), "{printed:?}");
    assert!(
        printed.iter().any(|w| w.ends_with("/update 1.swu")),
        "{printed:?}"
    );
}

#[test]
fn ignored_sigpipe_stays_ignored_for_swupdate() {
    let (_, probe, _) = activated_run(SYSTEMD);
    assert!(probe.sigpipe_ignored(), "SigIgn={}", probe.get("sigign"));
}

#[test]
fn default_sigpipe_stays_default_for_swupdate() {
    let (_, probe, _) = activated_run(Start {
        sigpipe_ignored: false,
        ..SYSTEMD
    });
    assert!(!probe.sigpipe_ignored(), "SigIgn={}", probe.get("sigign"));
}

/// Open descriptors beyond stdin, stdout and stderr, by kind (pipe and socket numbers left
/// out), sorted.
fn descriptor_kinds(p: &Probe) -> Vec<String> {
    let mut kinds: Vec<String> = p
        .descriptors()
        .into_iter()
        .map(|(_, what)| match what.split_once(":[") {
            Some((kind, _)) => kind.to_string(),
            None => what,
        })
        .collect();
    kinds.sort();
    kinds
}

/// docs/service.md: "Descriptors the launcher opens itself are close-on-exec, but for the lock
/// and the update swupdate installs." The probe started directly, the same way, is the
/// baseline: the shell and the test harness have descriptors of their own.
#[test]
fn swupdate_inherits_no_descriptor_of_the_launchers_but_the_lock_and_the_update_file() {
    let tmp = tempfile::tempdir().unwrap();
    let device = probe_device(tmp.path());
    let (_, through_launcher, _) = activated_run_on(&device, SYSTEMD);

    let direct_dir = tmp.path().join("direct");
    std::fs::create_dir(&direct_dir).unwrap();
    let mut direct = Command::new(device.host(PROBE_BIN));
    direct
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    let (_, directly, _) = activated(direct, &direct_dir, SYSTEMD);

    let lock = device.host("/run/swupdate-launcher.lock");
    let mut expected = descriptor_kinds(&directly);
    expected.push(lock.display().to_string());
    let update = device.host("/var/lib/swupdate/update 1.swu");
    expected.push(update.display().to_string());
    expected.sort();
    assert_eq!(descriptor_kinds(&through_launcher), expected);
}

/// Reports the blocked-signal mask. Not a shell: dash clears its mask when it starts, so a
/// `/bin/sh` probe would see an empty mask whatever it inherited. Python leaves it alone.
const MASK_PROBE: &str = r#"#!/usr/bin/python3
for line in open("/proc/self/status"):
    if line.startswith("SigBlk:"):
        print("sigblk=" + line.split()[1])
"#;

/// README: "The blocked-signal mask passes through exec untouched."
#[test]
fn a_blocked_signal_stays_blocked_for_swupdate() {
    let tmp = tempfile::tempdir().unwrap();
    let device = probe_device(tmp.path());
    device.write_executable(PROBE_BIN, MASK_PROBE);
    let (_, probe, _) = activated_run_on(
        &device,
        Start {
            blocked: Some(libc::SIGUSR1),
            ..SYSTEMD
        },
    );
    assert!(
        probe.mask("sigblk") & bit(libc::SIGUSR1) != 0,
        "SigBlk={}",
        probe.get("sigblk")
    );
}
