//! The product's health checks, as `confirm` runs them ([docs/confirm.md](../docs/confirm.md)):
//! the programs in `SWUPDATE_HEALTH_DIR/required/` (each must pass) and `wanted/` (a failure
//! only warns), in byte order of their names, required first.
//!
//! The directory and every program in it must be the image's ([`crate::trust`], as for the
//! verification program: a check someone else could replace would decide the release). Each
//! check runs contained as the verification program does ([`crate::containment`]): the
//! verification user (its own, checked as for verification), no supplementary groups, an
//! empty environment but PATH, stdin from /dev/null, no descriptors above stderr, its own
//! process group, dies with the launcher; at its end or at the timeout its group and every
//! descendant are killed and reaped. Its stdout and stderr (one pipe) are relayed to the
//! journal with its name, bounded.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::containment::{self, Reaping};
use crate::error::{Error, Kind};
use crate::plan::Account;
use crate::rootfs::{Hop, Root, Stat};
use crate::system::{process, signals};

/// How one health check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckEnd {
    Passed,
    /// Exited non-zero, killed by a signal, timed out or could not run: what happened.
    Failed(String),
}

/// One health check's name (`required/10-network`) and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub name: String,
    pub required: bool,
    pub end: CheckEnd,
}

/// What the health checks said, in the order they ran; empty when there are none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub results: Vec<CheckResult>,
}

impl Health {
    /// `name: why` of each failed check, required (`true`) or wanted.
    pub(crate) fn failed(&self, required: bool) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| r.required == required)
            .filter_map(|r| match &r.end {
                CheckEnd::Passed => None,
                CheckEnd::Failed(why) => Some(format!("{}: {why}", r.name)),
            })
            .collect()
    }
}
use crate::trust::{self, Policy, Role};

/// How messages name a check's program.
const PROGRAM: &str = "the health check";

/// The two kinds of check, as their subdirectories are named; required first.
const KINDS: [(&str, bool); 2] = [("required", true), ("wanted", false)];

/// The most of a check's output relayed; the rest is read (so the check never blocks on a
/// full pipe) and counted.
pub const OUTPUT_BOUND: usize = 8 << 10;

/// How long the output pipe may stay open after the check and everything it started are gone.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// A check found in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `required/10-network`: the name the journal and the outcome use.
    pub name: String,
    pub required: bool,
    /// Its path on the device.
    pub path: PathBuf,
}

/// Who the checks run as, and how long each may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub user: Account,
    pub timeout: Duration,
}

/// The checks in `dir` (a device path), required then wanted, each in byte order of names;
/// names starting with `.` are left out, a name that is not UTF-8 is refused. A missing directory or subdirectory holds none. With
/// a `policy`, the way to every check and the check itself must be the image's.
pub fn find(root: &Root, dir: &Path, policy: Option<&Policy>) -> Result<Vec<Check>, Error> {
    let mut checks = Vec::new();
    for (kind, required) in KINDS {
        let sub = dir.join(kind);
        let judge = &mut |p: &Path, st: &Stat, h: Hop| match policy {
            Some(policy) => trust::hop(p, st, h, Role::Image, policy),
            None => Ok(()),
        };
        let handle = match root.open_dir(&sub, judge) {
            Ok(h) => h,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(trust::walk_error(e, "health check directory")),
        };
        let listed: Vec<OsString> = handle.list().map_err(|e| {
            Error::new(
                Kind::Io,
                format!("cannot list the health check directory: {e}"),
            )
            .on(&root.host(&sub))
        })?;
        let mut names = Vec::with_capacity(listed.len());
        for n in &listed {
            let Some(name) = n.to_str() else {
                return Err(Error::new(
                    Kind::Config,
                    "refusing a health check whose name is not UTF-8",
                )
                .on(&root.host(&sub.join(n))));
            };
            if !name.starts_with('.') {
                names.push(name);
            }
        }
        // Byte order: `str`'s order is its bytes'.
        names.sort_unstable();
        for n in names {
            let path = sub.join(n);
            if let Some(policy) = policy {
                trust::check_file(root, &path, "health check", policy)?;
            }
            checks.push(Check {
                name: format!("{kind}/{}", crate::error::printable(n)),
                required,
                path,
            });
        }
    }
    Ok(checks)
}

/// What a check wrote (at most [`OUTPUT_BOUND`] bytes of it) and how much more there was.
#[derive(Debug, Default)]
pub struct Output {
    pub kept: Vec<u8>,
    pub more: u64,
}

impl Output {
    fn take(&mut self, chunk: &[u8]) {
        let room = OUTPUT_BOUND.saturating_sub(self.kept.len());
        let n = chunk.len().min(room);
        self.kept.extend_from_slice(&chunk[..n]);
        self.more += (chunk.len() - n) as u64;
    }

    /// The lines to relay (control characters escaped), and a last one saying what was cut.
    pub fn lines(&self) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.kept);
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(crate::error::printable)
            .collect();
        if self.more > 0 {
            lines.push(format!("({} more bytes not shown)", self.more));
        }
        lines
    }
}

/// Runs every check, one after the other, and gives each one's lines to `relay` (its name,
/// a line) as it ends. Refused before any runs when the user is not the checks' own
/// ([`containment::dedicated`]) or the launcher cannot be their subreaper.
pub fn run(
    checks: &[Check],
    root: &Root,
    limits: &Limits,
    relay: &mut dyn FnMut(&Check, &str),
) -> Result<Health, String> {
    if checks.is_empty() {
        return Ok(Health::default());
    }
    containment::dedicated(limits.user.uid, PROGRAM)?;
    let reaping = Reaping::start(PROGRAM)?;
    let mut results = Vec::new();
    for check in checks {
        let (end, output) = run_one(&root.host(&check.path), limits);
        for line in output.lines() {
            relay(check, &line);
        }
        results.push(CheckResult {
            name: check.name.clone(),
            required: check.required,
            end,
        });
    }
    drop(reaping);
    Ok(Health { results })
}

/// One check, contained, within the timeout; how it ended and what it wrote.
fn run_one(program: &Path, limits: &Limits) -> (CheckEnd, Output) {
    let mut output = Output::default();
    let (mut pipe, child) = match spawn(program, limits.user) {
        Ok(p) => p,
        Err(e) => return (CheckEnd::Failed(format!("cannot execute it: {e}")), output),
    };
    let (end, pgid) = wait(child, &mut pipe, &mut output, limits.timeout);
    let contained = containment::contain(pgid, PROGRAM);
    signals::forget_group();
    if let Err(why) = contained {
        return (CheckEnd::Failed(why), output);
    }
    if !drain(&mut pipe, &mut output) {
        return (
            CheckEnd::Failed(format!(
                "its output was still open {} s after it and everything it started had ended: another process holds it",
                DRAIN_LIMIT.as_secs()
            )),
            output,
        );
    }
    (end, output)
}

/// Starts the check with its stdout and stderr on one pipe; the launcher keeps only the
/// pipe's read end.
fn spawn(program: &Path, user: Account) -> std::io::Result<(File, Child)> {
    let (read, write) = process::pipe()?;
    // No bound on the files a check writes: it is the product's own program, run by the image.
    let mut cmd = containment::command(program, user, u64::MAX);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(write.try_clone()?))
        .stderr(Stdio::from(write));
    // A stop of the launcher (systemd's SIGTERM to `confirm`) from the spawn on kills the
    // check's whole group, as for the verification program.
    let child = signals::group_killed_on_stop(|| {
        let child = cmd.spawn()?;
        let group = child.id();
        Ok((child, group))
    })?;
    // `cmd` holds the write end: dropped here, so the pipe ends with the check's processes.
    drop(cmd);
    Ok((read, child))
}

/// Reads what is there within `wait`; false once the pipe ended.
fn pump(pipe: &mut File, output: &mut Output, wait: Duration) -> bool {
    if !process::readable_within(&*pipe, wait) {
        return true;
    }
    let mut buf = [0u8; 4096];
    match pipe.read(&mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            output.take(&buf[..n]);
            true
        }
    }
}

/// Waits for the check within `timeout`, relaying its output meanwhile; its ending and its
/// process group.
fn wait(
    mut child: Child,
    pipe: &mut File,
    output: &mut Output,
    timeout: Duration,
) -> (CheckEnd, libc::pid_t) {
    // Its own group: the group's id is its pid.
    let pgid = child.id() as libc::pid_t;
    let started = Instant::now();
    let mut open = true;
    let end = loop {
        match child.try_wait() {
            Ok(Some(status)) => break ending(status),
            Ok(None) if started.elapsed() >= timeout => {
                break CheckEnd::Failed(format!(
                    "did not finish within {} s; killed with everything it started",
                    timeout.as_secs()
                ));
            }
            Ok(None) if open => open = pump(pipe, output, Duration::from_millis(10)),
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => break CheckEnd::Failed(format!("cannot wait for it: {e}")),
        }
    };
    (end, pgid)
}

fn ending(status: std::process::ExitStatus) -> CheckEnd {
    match (status.code(), status.signal()) {
        (Some(0), _) => CheckEnd::Passed,
        (Some(code), _) => CheckEnd::Failed(format!("exit {code}")),
        (None, sig) => CheckEnd::Failed(format!("killed by signal {}", sig.unwrap_or(0))),
    }
}

/// Reads the pipe to its end once everything the check started is gone; false when it is
/// still open after [`DRAIN_LIMIT`].
fn drain(pipe: &mut File, output: &mut Output) -> bool {
    let contained = Instant::now();
    while contained.elapsed() < DRAIN_LIMIT {
        if !pump(pipe, output, Duration::from_millis(50)) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_beyond_the_bound_is_counted_not_kept() {
        let mut o = Output::default();
        o.take(&vec![b'x'; OUTPUT_BOUND - 1]);
        o.take(b"yz\n");
        assert_eq!(o.kept.len(), OUTPUT_BOUND);
        assert_eq!(o.more, 2);
        assert_eq!(
            o.lines().last().map(String::as_str),
            Some("(2 more bytes not shown)")
        );
    }

    #[test]
    fn relayed_lines_are_printable_and_blank_ones_left_out() {
        let mut o = Output::default();
        o.take(b"disk ok\n\n  \nnet \x1b[31mdown\r\n");
        assert_eq!(o.lines(), ["disk ok", "net \\u{1b}[31mdown"]);
    }

    #[test]
    fn an_exit_code_other_than_0_and_a_signal_are_failures() {
        use std::os::unix::process::ExitStatusExt;
        let st = std::process::ExitStatus::from_raw;
        assert_eq!(ending(st(0)), CheckEnd::Passed);
        assert_eq!(ending(st(3 << 8)), CheckEnd::Failed("exit 3".into()));
        assert_eq!(ending(st(9)), CheckEnd::Failed("killed by signal 9".into()));
    }

    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn policy() -> Policy {
        Policy {
            trusted_uid: process::effective_uid(),
            agent_uid: None,
        }
    }

    /// A root with these files (0755) below the health directory `/h`.
    fn root_with(files: &[&str]) -> (tempfile::TempDir, Root) {
        let t = tempfile::tempdir().unwrap();
        fs::set_permissions(t.path(), fs::Permissions::from_mode(0o755)).unwrap();
        for f in files {
            let p = t.path().join("h").join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, "#!/bin/sh\n").unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let root = Root::new(Some(t.path().to_path_buf()));
        (t, root)
    }

    fn names(checks: &[Check]) -> Vec<(&str, bool)> {
        checks.iter().map(|c| (c.name.as_str(), c.required)).collect()
    }

    #[test]
    fn required_checks_come_first_each_kind_in_byte_order_of_names() {
        let (_t, root) = root_with(&["wanted/a", "required/b", "required/B", "required/10", "wanted/.hidden"]);
        let checks = find(&root, Path::new("/h"), Some(&policy())).unwrap();
        assert_eq!(
            names(&checks),
            [("required/10", true), ("required/B", true), ("required/b", true), ("wanted/a", false)]
        );
        assert_eq!(checks[0].path, Path::new("/h/required/10"));
    }

    #[test]
    fn a_missing_directory_holds_no_checks() {
        let (_t, root) = root_with(&[]);
        assert_eq!(find(&root, Path::new("/h"), Some(&policy())).unwrap(), []);
    }

    #[test]
    fn a_check_others_may_write_is_refused() {
        let (t, root) = root_with(&["required/10-net"]);
        let p = t.path().join("h/required/10-net");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o775)).unwrap();
        let e = find(&root, Path::new("/h"), Some(&policy())).unwrap_err();
        assert!(e.message.contains("writable by group"), "{}", e.message);
    }

    #[test]
    fn a_check_directory_others_may_write_is_refused() {
        let (t, root) = root_with(&["wanted/10-ui"]);
        fs::set_permissions(t.path().join("h/wanted"), fs::Permissions::from_mode(0o777)).unwrap();
        let e = find(&root, Path::new("/h"), Some(&policy())).unwrap_err();
        assert!(e.message.contains("writable by group and others"), "{}", e.message);
    }


    #[test]
    fn a_check_whose_name_is_not_utf8_is_refused() {
        use std::os::unix::ffi::OsStrExt;
        let (t, root) = root_with(&["required/10-ok"]);
        let odd = t.path().join("h/required").join(std::ffi::OsStr::from_bytes(b"20-\xff"));
        fs::write(odd, "#!/bin/sh\n").unwrap();
        let e = find(&root, Path::new("/h"), Some(&policy())).unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        assert!(e.message.contains("not UTF-8"), "{}", e.message);
    }
}
