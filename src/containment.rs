//! A product's program, run contained: the verification program ([`crate::verify`]) and the
//! health checks (`crate::health`, with the `ab` feature) share these rules, so they are
//! written once.
//!
//! - its user is its own ([`dedicated`]): never root, and no other process runs as it (such a
//!   process could take the program's descriptors or trace it while it runs);
//! - the launcher is the subreaper of everything it starts ([`Reaping`]), so a descendant that
//!   left the program's process group and lost its parent can still be found;
//! - at its end, or at its timeout, its process group and every other descendant are killed and
//!   reaped ([`contain`]): when that returns, nothing the program started is alive.
//!
//! - it starts with no supplementary groups, an empty environment but PATH, in `/`, in a
//!   process group of its own, confined between fork and exec ([`command`]).

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::plan::Account;
use crate::system::process::{self, Reaped};

/// The only variable a contained program gets.
const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// `program`, to be run contained as `user`: no supplementary groups, an empty environment
/// but PATH, working directory `/`, its own process group, and, between fork and exec,
/// [`process::confine`]d (dies with the launcher, writes no file beyond `max_file` bytes,
/// inherits no descriptor above stderr). The caller adds arguments and standard streams.
pub fn command(program: &Path, user: Account, max_file: u64) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", PATH)
        .current_dir("/")
        .gid(user.gid)
        .uid(user.uid)
        .process_group(0);
    process::confine(&mut cmd, max_file);
    cmd
}

/// The program's user must be the program's alone: another process of that uid could take
/// the program's descriptors (`pidfd_getfd`) or trace it while it runs. Not checked where the
/// launcher runs unprivileged as that uid itself (a developer's run: no separation to keep).
/// `program` names it in the refusal ("the verification program").
pub fn dedicated(uid: u32, program: &str) -> Result<(), String> {
    if uid == 0 {
        return Err(format!("{program} would run as root"));
    }
    if crate::procfs::effective_uid(std::process::id()) == Some(uid) {
        return Ok(());
    }
    match crate::procfs::running_as(uid) {
        Some(pid) => Err(format!(
            "its user (uid {uid}) is not its own: process {pid} runs as it and could take the program's descriptors while it runs; nothing was started"
        )),
        None => Ok(()),
    }
}

/// The launcher as the "init" of the program's descendants while this lives: a process that
/// leaves the program's process group (`setsid`, `setpgid`) and loses its parent is re-parented
/// to the launcher, which can then still find and kill it. Undone on drop, before swupdate is
/// exec'd (the attribute survives exec).
#[must_use = "the launcher stops reaping when this is dropped"]
pub struct Reaping(());

impl Reaping {
    /// Starts reaping; `program` names it in the error ("the verification program").
    pub fn start(program: &str) -> Result<Reaping, String> {
        process::set_child_subreaper(true)
            .map(|()| Reaping(()))
            .map_err(|e| format!("cannot become the subreaper of {program}: {e}"))
    }
}

impl Drop for Reaping {
    fn drop(&mut self) {
        let _ = process::set_child_subreaper(false);
    }
}

/// The launcher's living children, from /proc (their parent field); portable to kernels
/// without CONFIG_PROC_CHILDREN.
fn children() -> Vec<libc::pid_t> {
    let me = std::process::id().to_string();
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|pid| {
            // `pid (comm) state ppid …`; comm may hold anything but the last `)` ends it.
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let after = &s[s.rfind(')')? + 1..];
                    after.split_whitespace().nth(1).map(|p| p == me)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// How long containment may take before the launcher gives up (and refuses).
const CONTAIN_LIMIT: Duration = Duration::from_secs(10);

/// Kills the program's process group and every other descendant, and reaps them all: when
/// this returns Ok, no process the program started is alive, so none holds a descriptor the
/// launcher gave it. The launcher is their subreaper ([`Reaping`]), so a descendant outside
/// the group becomes a child of the launcher as soon as its own parent is killed: the loop
/// kills children until there are none. `program` names it in the error.
pub fn contain(pgid: libc::pid_t, program: &str) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let _ = process::kill_group(pgid);
        loop {
            match process::reap_any() {
                Reaped::One => continue,
                Reaped::NoChildren => return Ok(()),
                Reaped::NoneEnded | Reaped::Failed => break,
            }
        }
        for pid in children() {
            let _ = process::kill(pid);
        }
        if started.elapsed() > CONTAIN_LIMIT {
            return Err(format!(
                "processes {program} started are still alive after {} s",
                CONTAIN_LIMIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contained_program_never_runs_as_root() {
        let why = dedicated(0, "the verification program").unwrap_err();
        assert_eq!(why, "the verification program would run as root");
    }

}
