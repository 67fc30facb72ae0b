//! What `/proc` says about the processes of the system: who runs as a uid, a process's uids.
//! Read by the lock (who holds it) and the verification stage (whether its user is its own).

use std::fs;

/// The uids of a `/proc/PID/status` text (`Uid: real effective saved filesystem`).
pub fn status_uids(status: &str) -> Option<[u32; 4]> {
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    let mut ids = line.split_whitespace().map(str::parse::<u32>);
    let mut next = || ids.next()?.ok();
    Some([next()?, next()?, next()?, next()?])
}

/// The uids of process `pid`; `None` when it is gone (or /proc is not there).
pub fn uids(pid: u32) -> Option<[u32; 4]> {
    status_uids(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// The effective uid of process `pid`.
pub fn effective_uid(pid: u32) -> Option<u32> {
    uids(pid).map(|ids| ids[1])
}

/// A process (other than this one) that runs as `uid` in any of its four uids, if any: it
/// could signal, trace or take the descriptors (`pidfd_getfd`) of another process of that uid.
pub fn running_as(uid: u32) -> Option<u32> {
    let me = std::process::id();
    fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .find(|pid| uids(*pid).is_some_and(|ids| ids.contains(&uid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_uids_are_read_from_the_status_text() {
        let status = "Name:\tflock\nUid:\t1000\t65534\t65533\t65532\nGid:\t0\t0\t0\t0\n";
        assert_eq!(status_uids(status), Some([1000, 65534, 65533, 65532]));
    }

    #[test]
    fn a_status_without_uids_has_none() {
        assert_eq!(status_uids("Name:\tgone\n"), None);
        assert_eq!(status_uids("Uid:\t1\t2\n"), None);
    }

    #[test]
    fn this_process_is_never_the_one_running_as_its_own_uid() {
        let me = uids(std::process::id()).expect("/proc/self");
        assert_ne!(running_as(me[1]), Some(std::process::id()));
    }
}
