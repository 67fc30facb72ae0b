//! Which slot runs (pure): the table and what each source saw -> the running slot, or a
//! refusal that says what each source saw. Every listed source must name exactly one slot and
//! all must name the same one; a source that could not look, no match, two matches or a
//! disagreement is `SlotUnknown` (67). Never a default slot. Then the running slot's `writes`
//! must not be the booted root or one of its dm parents: `SlotIsBooted` (68).

use super::device::DevNum;
use super::{Selection, Slot, Source, Table};
use crate::error::{Error, Kind};

/// A block device as a source saw it: how it was found, its number, and (a device-mapper
/// device: dm-verity, LUKS) the partitions under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// How it was named (`/dev/...`, `root=PARTLABEL=...`, or `/` for the root's own device).
    pub shown: String,
    pub number: DevNum,
    /// The partitions a device-mapper device is built on (sysfs `slaves/`, traced down); empty
    /// for a partition.
    pub parents: Vec<(String, DevNum)>,
}

impl Device {
    /// Whether `n` is this device or one it is built on.
    pub fn is_or_sits_on(&self, n: DevNum) -> bool {
        self.number == n || self.parents.iter().any(|(_, p)| *p == n)
    }

    fn describe(&self) -> String {
        let mut s = format!("{} ({})", self.shown, self.number);
        if !self.parents.is_empty() {
            let parents: Vec<String> = self
                .parents
                .iter()
                .map(|(name, n)| format!("{name} ({n})"))
                .collect();
            s.push_str(&format!(" on {}", parents.join(", ")));
        }
        s
    }
}

/// What one source saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// `root-device`, `cmdline-root`: a block device.
    Device(Device),
    /// `cmdline:KEY`, `bootenv:VAR`: the value (`None`: not set).
    Value(Option<String>),
}

/// What the edge saw, in the table's order; an `Err` says why it could not look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observations {
    /// Per source.
    pub sources: Vec<Result<Seen, String>>,
    /// Per slot: the number its `device=` resolves to.
    pub devices: Vec<Result<DevNum, String>>,
    /// Per slot: the number its `writes=` resolves to (`None`: no `writes=`).
    pub writes: Vec<Option<Result<DevNum, String>>>,
    /// The booted root (`/`'s device and its dm parents), looked at when a slot has `writes=`.
    pub booted: Option<Result<Device, String>>,
}

/// The running slot, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub slot: String,
    pub bootname: Option<String>,
    /// swupdate's `-e`.
    pub selection: Selection,
    /// Per source: its name, and what it saw.
    pub sources: Vec<(String, String)>,
    /// The device the selection writes, when the table names it, and its number.
    pub writes: Option<(String, DevNum)>,
}

/// The running slot, or the refusal.
pub fn identify(table: &Table, seen: &Observations) -> Result<Running, Error> {
    let mut lines = Vec::new();
    let mut named: Vec<Option<&Slot>> = Vec::new();
    for (source, saw) in table.sources.iter().zip(&seen.sources) {
        let (line, slot) = judge(table, seen, source, saw);
        lines.push((source.to_string(), line));
        named.push(slot);
    }
    let first = named.first().copied().flatten();
    let agreed = match first {
        Some(slot) if named.iter().all(|n| n.is_some_and(|s| s.name == slot.name)) => slot,
        _ => {
            let why = if named.iter().all(Option::is_some) {
                "the sources disagree"
            } else {
                "not every source names exactly one slot"
            };
            return Err(unknown(why, &lines));
        }
    };
    let writes = writes(table, seen, agreed)?;
    Ok(Running {
        slot: agreed.name.clone(),
        bootname: agreed.bootname.clone(),
        selection: agreed.selection.clone(),
        sources: lines,
        writes,
    })
}

fn unknown(why: &str, lines: &[(String, String)]) -> Error {
    let saw: Vec<String> = lines.iter().map(|(s, l)| format!("{s}: {l}")).collect();
    Error::new(
        Kind::SlotUnknown,
        format!("the running slot is unknown ({why}): {}", saw.join("; ")),
    )
    .hint("nothing was started: the launcher never picks a default slot; fix the sources or SWUPDATE_SLOT_<NAME> (`swupdate-launcher explain` shows each source)")
}

/// What a source's sight says, as a line, and the one slot it names (if exactly one).
fn judge<'t>(
    table: &'t Table,
    seen: &Observations,
    source: &Source,
    saw: &Result<Seen, String>,
) -> (String, Option<&'t Slot>) {
    match saw {
        Err(why) => (format!("could not be read: {why}"), None),
        Ok(Seen::Device(device)) => {
            let matching: Vec<&Slot> = table
                .slots
                .iter()
                .zip(&seen.devices)
                .filter(|(_, n)| n.as_ref().is_ok_and(|n| device.is_or_sits_on(*n)))
                .map(|(s, _)| s)
                .collect();
            let line = match matching.as_slice() {
                [one] => format!("{} is slot {}'s device", device.describe(), one.name),
                [] => format!(
                    "{} is no slot's device ({})",
                    device.describe(),
                    slot_devices(table, seen)
                ),
                many => format!("{} is the device of slots {}", device.describe(), names(many)),
            };
            (line, only(&matching))
        }
        Ok(Seen::Value(value)) => {
            let label = match source {
                Source::Cmdline(k) => format!("{k}="),
                Source::BootEnv(v) => format!("{v}="),
                Source::RootDevice | Source::CmdlineRoot => String::new(),
            };
            let Some(value) = value else {
                return (format!("{label} is not set"), None);
            };
            let matching: Vec<&Slot> = table
                .slots
                .iter()
                .filter(|s| s.bootname.as_deref() == Some(value.as_str()))
                .collect();
            let shown = crate::error::printable(value);
            let line = match matching.as_slice() {
                [one] => format!("{label}{shown}: slot {}", one.name),
                [] => format!("{label}{shown}: no slot has bootname={shown}"),
                many => format!("{label}{shown}: slots {}", names(many)),
            };
            (line, only(&matching))
        }
    }
}

fn only<'t>(slots: &[&'t Slot]) -> Option<&'t Slot> {
    match slots {
        [one] => Some(*one),
        _ => None,
    }
}

fn names(slots: &[&Slot]) -> String {
    slots.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(" and ")
}

/// Each slot's device and what it resolved to, for a refusal.
fn slot_devices(table: &Table, seen: &Observations) -> String {
    table
        .slots
        .iter()
        .zip(&seen.devices)
        .map(|(s, n)| match n {
            Ok(n) => format!("{}: {} is {n}", s.name, s.device),
            Err(why) => format!("{}: {} {why}", s.name, s.device),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The running slot's `writes=`: never the booted root or a partition under it.
fn writes(
    table: &Table,
    seen: &Observations,
    running: &Slot,
) -> Result<Option<(String, DevNum)>, Error> {
    let Some(spelling) = &running.writes else {
        return Ok(None);
    };
    let index = table.slots.iter().position(|s| s.name == running.name);
    let target = index.and_then(|i| seen.writes.get(i)).cloned().flatten();
    let why = match target {
        Some(Ok(n)) => Ok(n),
        Some(Err(why)) => Err(why),
        None => Err("was not looked at".to_string()),
    };
    let number = why.map_err(|why| {
        Error::new(
            Kind::MissingInput,
            format!(
                "slot {}'s writes={spelling} does not resolve to a block device, so it cannot be checked against the booted root: {why}",
                running.name
            ),
        )
    })?;
    let booted = match &seen.booted {
        Some(Ok(b)) => b,
        Some(Err(why)) => {
            return Err(Error::new(
                Kind::SlotUnknown,
                format!("the booted root could not be found, so writes={spelling} cannot be checked against it: {why}"),
            ));
        }
        None => {
            return Err(Error::new(
                Kind::SlotUnknown,
                format!("the booted root was not looked at, so writes={spelling} cannot be checked against it"),
            ));
        }
    };
    if booted.is_or_sits_on(number) {
        return Err(Error::new(
            Kind::SlotIsBooted,
            format!(
                "slot {}'s selection {} writes {spelling} ({number}), which is the booted root {}",
                running.name,
                running.selection,
                booted.describe()
            ),
        )
        .hint("nothing was started: the slot table's writes= and selection= must name the other slot"));
    }
    Ok(Some((spelling.to_string(), number)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::vocabulary::names::{SWUPDATE_SLOT_SOURCES, SWUPDATE_SLOTS};
    use crate::slots::tests::{A, B, vars};

    const N_A: DevNum = DevNum { major: 259, minor: 1 };
    const N_B: DevNum = DevNum { major: 259, minor: 2 };
    const DM: DevNum = DevNum { major: 253, minor: 0 };

    fn table(sources: &'static str) -> Table {
        let v = vars(&[
            (SWUPDATE_SLOTS, "A B"),
            (SWUPDATE_SLOT_SOURCES, sources),
            ("SWUPDATE_SLOT_A", A),
            ("SWUPDATE_SLOT_B", B),
        ]);
        Table::from_settings(&v).unwrap().unwrap()
    }

    fn device(shown: &str, number: DevNum) -> Device {
        Device {
            shown: shown.into(),
            number,
            parents: vec![],
        }
    }

    /// Slot A on 259:1, B on 259:2; each writes the other; booted from `booted`.
    fn seen(sources: Vec<Result<Seen, String>>, booted: Device) -> Observations {
        Observations {
            sources,
            devices: vec![Ok(N_A), Ok(N_B)],
            writes: vec![Some(Ok(N_B)), Some(Ok(N_A))],
            booted: Some(Ok(booted)),
        }
    }

    fn value(v: &str) -> Result<Seen, String> {
        Ok(Seen::Value(Some(v.into())))
    }

    #[test]
    fn agreeing_sources_name_the_running_slot_and_its_selection() {
        let root = device("/dev/nvme0n1p1", N_A);
        let obs = seen(vec![Ok(Seen::Device(root.clone())), value("A")], root);
        let r = identify(&table("root-device cmdline:rauc.slot"), &obs).unwrap();
        assert_eq!(r.slot, "A");
        assert_eq!(r.selection.to_string(), "stable,copy2");
        assert_eq!(r.writes, Some(("PARTLABEL=rootfs-b".into(), N_B)));
        assert_eq!(
            r.sources,
            [
                ("root-device".into(), "/dev/nvme0n1p1 (259:1) is slot A's device".into()),
                ("cmdline:rauc.slot".into(), "rauc.slot=A: slot A".into()),
            ]
        );
    }

    #[test]
    fn a_dm_root_is_its_partitions_slot() {
        let root = Device {
            shown: "/ on /dev/dm-0".into(),
            number: DM,
            parents: vec![("/dev/nvme0n1p2".into(), N_B)],
        };
        let obs = seen(vec![Ok(Seen::Device(root.clone()))], root);
        assert_eq!(identify(&table("root-device"), &obs).unwrap().slot, "B");
    }

    #[test]
    fn sources_that_disagree_are_refused_saying_what_each_saw() {
        let root = device("/dev/nvme0n1p1", N_A);
        let obs = seen(vec![Ok(Seen::Device(root.clone())), value("B")], root);
        let e = identify(&table("root-device bootenv:boot_part"), &obs).unwrap_err();
        assert_eq!(e.kind, Kind::SlotUnknown);
        assert!(e.message.contains("the sources disagree"), "{e}");
        assert!(e.message.contains("root-device: /dev/nvme0n1p1 (259:1) is slot A's device"), "{e}");
        assert!(e.message.contains("bootenv:boot_part: boot_part=B: slot B"), "{e}");
    }

    #[test]
    fn a_root_that_is_no_slots_device_is_refused_listing_the_slots_devices() {
        let root = device("/dev/sda1", DevNum { major: 8, minor: 1 });
        let obs = seen(vec![Ok(Seen::Device(root.clone()))], root);
        let e = identify(&table("root-device"), &obs).unwrap_err();
        assert_eq!(e.kind, Kind::SlotUnknown);
        assert!(e.message.contains("is no slot's device (A: PARTLABEL=rootfs-a is 259:1, B: PARTLABEL=rootfs-b is 259:2)"), "{e}");
    }

    #[test]
    fn a_device_of_two_slots_is_refused() {
        let root = device("/dev/nvme0n1p1", N_A);
        let mut obs = seen(vec![Ok(Seen::Device(root.clone()))], root);
        obs.devices = vec![Ok(N_A), Ok(N_A)];
        let e = identify(&table("root-device"), &obs).unwrap_err();
        assert!(e.message.contains("is the device of slots A and B"), "{e}");
    }

    #[test]
    fn an_unset_or_unknown_value_is_refused() {
        let root = device("/dev/nvme0n1p1", N_A);
        let obs = seen(vec![Ok(Seen::Value(None))], root.clone());
        let e = identify(&table("cmdline:rauc.slot"), &obs).unwrap_err();
        assert!(e.message.contains("rauc.slot= is not set"), "{e}");
        let obs = seen(vec![value("C")], root);
        let e = identify(&table("cmdline:rauc.slot"), &obs).unwrap_err();
        assert!(e.message.contains("rauc.slot=C: no slot has bootname=C"), "{e}");
    }

    #[test]
    fn a_source_that_could_not_look_is_refused_with_its_reason() {
        let root = device("/dev/nvme0n1p1", N_A);
        let obs = seen(vec![Ok(Seen::Device(root.clone())), Err("fw_printenv exited 1".into())], root);
        let e = identify(&table("root-device bootenv:boot_part"), &obs).unwrap_err();
        assert_eq!(e.kind, Kind::SlotUnknown);
        assert!(e.message.contains("bootenv:boot_part: could not be read: fw_printenv exited 1"), "{e}");
    }

    #[test]
    fn a_selection_that_writes_the_booted_root_is_refused() {
        // Identified as A by the command line, but / is really on B's partition (under dm).
        let root = Device {
            shown: "/ on /dev/dm-0".into(),
            number: DM,
            parents: vec![("/dev/nvme0n1p2".into(), N_B)],
        };
        let obs = seen(vec![value("A")], root);
        let e = identify(&table("cmdline:rauc.slot"), &obs).unwrap_err();
        assert_eq!(e.kind, Kind::SlotIsBooted);
        assert!(e.message.contains("writes PARTLABEL=rootfs-b (259:2), which is the booted root"), "{e}");
    }

    #[test]
    fn a_writes_device_that_does_not_resolve_is_refused() {
        let root = device("/dev/nvme0n1p1", N_A);
        let mut obs = seen(vec![value("A")], root);
        obs.writes[0] = Some(Err("/dev/disk/by-partlabel/rootfs-b does not exist".into()));
        let e = identify(&table("cmdline:rauc.slot"), &obs).unwrap_err();
        assert_eq!(e.kind, Kind::MissingInput);
    }
}
