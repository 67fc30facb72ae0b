//! The edge that looks, for [`identify()`](super::identify()): the device of `/` (`st_dev`), the
//! block devices the slots' spellings resolve to (`st_rdev` through udev's `/dev/disk/by-*`
//! links), a device-mapper device's partitions (sysfs `slaves/`), the kernel command line, and
//! the bootloader environment ([`crate::bootenv`]). Every path is placed under `--root`
//! ([`Root::host`]), sysfs and `/dev` included, so tests build a device of their own. Nothing
//! here decides: what cannot be seen is an `Err` with the reason, for the refusal to show.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::device::{DevNum, Spelling};
use super::identify::{Device, Observations, Seen};
use super::{Source, Table, Topology};
use crate::bootenv;
use crate::rootfs::Root;

/// Longest kernel command line read (the kernel's own limit is at most a few KiB).
const MAX_CMDLINE: u64 = 64 << 10;

/// How deep device-mapper stacks are traced (LUKS on LVM on a partition is three).
const MAX_DM_DEPTH: usize = 8;

/// What each source of `table` sees, and what each slot's devices resolve to.
pub fn observe(table: &Table, topology: &Topology, root: &Root) -> Observations {
    let mut cmdline: Option<Result<String, String>> = None;
    let mut cmdline_text = || {
        cmdline
            .get_or_insert_with(|| read_cmdline(&topology.cmdline).map_err(|e| e.to_string()))
            .clone()
    };
    let bootenv_names: Vec<&str> = table
        .sources
        .iter()
        .filter_map(|s| match s {
            Source::BootEnv(v) => Some(v.as_str()),
            _ => None,
        })
        .collect();
    let bootenv = (!bootenv_names.is_empty())
        .then(|| bootenv::read(&topology.bootenv, &bootenv_names).map_err(|e| e.message));
    let mut root_device = None;
    let sources = table
        .sources
        .iter()
        .map(|source| match source {
            Source::RootDevice => root_device
                .get_or_insert_with(|| booted_root(root))
                .clone()
                .map(Seen::Device),
            Source::CmdlineRoot => {
                let text = cmdline_text()?;
                let Some(value) = cmdline_value(&text, "root") else {
                    return Err(format!("{} has no root=", topology.cmdline.display()));
                };
                let spelling = Spelling::parse(&value)?;
                let number = resolve(root, &spelling)?;
                Ok(Seen::Device(Device {
                    shown: format!("root={spelling}"),
                    number,
                    parents: parents(root, number),
                }))
            }
            Source::Cmdline(key) => Ok(Seen::Value(cmdline_value(&cmdline_text()?, key))),
            Source::BootEnv(var) => match &bootenv {
                Some(Ok(values)) => Ok(Seen::Value(values.get(var).cloned().flatten())),
                Some(Err(why)) => Err(why.clone()),
                None => Err("not read".to_string()),
            },
        })
        .collect();
    let devices = table
        .slots
        .iter()
        .map(|s| resolve(root, &s.device))
        .collect();
    let writes = table
        .slots
        .iter()
        .map(|s| s.writes.as_ref().map(|w| resolve(root, w)))
        .collect();
    let booted = table
        .slots
        .iter()
        .any(|s| s.writes.is_some())
        .then(|| root_device.unwrap_or_else(|| booted_root(root)));
    Observations {
        sources,
        devices,
        writes,
        booted,
    }
}

/// The device of `/` (under `--root`: of the root directory), with the partitions a
/// device-mapper device sits on.
pub fn booted_root(root: &Root) -> Result<Device, String> {
    let slash = root.host(Path::new("/"));
    let meta = fs::metadata(&slash).map_err(|e| format!("{}: {e}", slash.display()))?;
    let number = DevNum::from_dev_t(meta.dev());
    Ok(Device {
        shown: name_of(root, number).map_or_else(|| "/".to_string(), |n| format!("/ on /dev/{n}")),
        number,
        parents: parents(root, number),
    })
}

/// The block device a spelling names: the number of the device its path resolves to.
fn resolve(root: &Root, spelling: &Spelling) -> Result<DevNum, String> {
    let path = root.host(&spelling.device_path());
    match fs::metadata(&path) {
        Ok(m) if m.file_type().is_block_device() => Ok(DevNum::from_dev_t(m.rdev())),
        Ok(_) => Err(format!("{} is not a block device", spelling.device_path().display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("{} does not exist", spelling.device_path().display()))
        }
        Err(e) => Err(format!("{}: {e}", spelling.device_path().display())),
    }
}

/// The kernel's name of a block device (`/sys/dev/block/MAJ:MIN` links to its directory).
fn name_of(root: &Root, n: DevNum) -> Option<String> {
    let link = fs::read_link(root.host(Path::new(&format!("/sys/dev/block/{n}")))).ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

/// The devices a device-mapper device is built on, traced down (sysfs `slaves/`): every
/// level, so a match on the partition at the bottom counts. Empty for a partition.
fn parents(root: &Root, n: DevNum) -> Vec<(String, DevNum)> {
    let mut found = Vec::new();
    let mut level = vec![n];
    for _ in 0..MAX_DM_DEPTH {
        let mut next = Vec::new();
        for n in level {
            let slaves = root.host(Path::new(&format!("/sys/dev/block/{n}/slaves")));
            let Ok(entries) = fs::read_dir(slaves) else {
                continue;
            };
            for entry in entries.flatten().take(16) {
                let name = entry.file_name().to_string_lossy().into_owned();
                let dev = root.host(Path::new(&format!("/sys/class/block/{name}/dev")));
                if let Some(p) = fs::read_to_string(dev).ok().and_then(|t| DevNum::parse(&t)) {
                    if !found.iter().any(|(_, q)| *q == p) {
                        found.push((format!("/dev/{name}"), p));
                        next.push(p);
                    }
                }
            }
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    found
}

fn read_cmdline(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    let read = fs::File::open(path)
        .and_then(|f| f.take(MAX_CMDLINE + 1).read_to_string(&mut text))
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    if read as u64 > MAX_CMDLINE {
        return Err(std::io::Error::other(format!(
            "{} is longer than {MAX_CMDLINE} bytes",
            path.display()
        )));
    }
    Ok(text)
}

/// The last `key=` of a kernel command line, as the kernel reads it: words split at blanks
/// outside double quotes, the quotes dropped, nothing after a bare `--` (that is init's).
pub fn cmdline_value(cmdline: &str, key: &str) -> Option<String> {
    let mut last = None;
    for word in cmdline_words(cmdline) {
        if word == "--" {
            break;
        }
        if let Some(value) = word.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
            last = Some(value.to_string());
        }
    }
    last
}

fn cmdline_words(cmdline: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in cmdline.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_value_of_a_key_counts() {
        let line = "console=ttyS0 root=/dev/mmcblk0p2 rauc.slot=A rootwait root=PARTLABEL=rootfs-b\n";
        assert_eq!(cmdline_value(line, "root").as_deref(), Some("PARTLABEL=rootfs-b"));
        assert_eq!(cmdline_value(line, "rauc.slot").as_deref(), Some("A"));
        assert_eq!(cmdline_value(line, "slot"), None);
        assert_eq!(cmdline_value(line, "rootwait"), None);
    }

    #[test]
    fn a_quoted_value_keeps_its_blanks_and_loses_its_quotes() {
        let line = "root=\"PARTLABEL=root fs a\" x=\"1\"";
        assert_eq!(cmdline_value(line, "root").as_deref(), Some("PARTLABEL=root fs a"));
        assert_eq!(cmdline_value(line, "x").as_deref(), Some("1"));
    }

    #[test]
    fn words_after_a_bare_double_dash_are_inits() {
        assert_eq!(cmdline_value("slot=A -- slot=B", "slot").as_deref(), Some("A"));
    }

    #[test]
    fn a_key_that_only_starts_another_is_not_it() {
        assert_eq!(cmdline_value("rootfstype=ext4", "root"), None);
        assert_eq!(cmdline_value("root=", "root").as_deref(), Some(""));
    }
}
