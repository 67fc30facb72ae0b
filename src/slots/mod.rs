//! A/B slots (issue 20): which slot the device runs, found declaratively, and the selection
//! swupdate gets for it ([ab.md](../../docs/ab.md)).
//!
//! - this file: the slot table, read from `SWUPDATE_SLOTS`, `SWUPDATE_SLOT_SOURCES` and each
//!   `SWUPDATE_SLOT_<NAME>` and validated (pure): every bad input is a `Config` error at the
//!   file and line that set it;
//! - `device.rs`: the device spellings (`/dev/...`, `PARTUUID=`, ...) and device numbers (pure);
//! - `identify.rs`: the table and what each source saw -> the running slot, or the refusal
//!   that says what each source saw (pure);
//! - `observe.rs`: the edge that looks (the device of `/`, sysfs, udev's links, the kernel
//!   command line, the bootloader environment), everything under `--root`.
//!
//! [`running`] is the edge's entry: observe, then identify.

mod device;
mod identify;
mod observe;

use std::fmt;
use std::path::PathBuf;

use crate::bootenv;
use crate::config::settings::{Origin, Setting, Settings, setting_error, topology_path};
use crate::config::vocabulary::names::{
    SWUPDATE_CONFIRM_PRIMARY, SWUPDATE_KERNEL_CMDLINE, SWUPDATE_SLOT_SOURCES, SWUPDATE_SLOTS,
};
use crate::config::vocabulary::{SLOT_VARIABLE_PREFIX, slot_of_variable};
use crate::error::Error;
use crate::rootfs::Root;

pub use device::{DevNum, Spelling};
pub use identify::{Device, Observations, Running, Seen, identify};
pub use observe::{booted_root, cmdline_value, observe};

/// How the running slot is recognised: one word of `SWUPDATE_SLOT_SOURCES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `root-device`: the device of `/` (`st_dev`), a device-mapper device traced to its
    /// partitions.
    RootDevice,
    /// `cmdline-root`: the kernel command line's last `root=`, as a device spelling.
    CmdlineRoot,
    /// `cmdline:KEY`: the command line's last `KEY=`, matched to a slot's `bootname`.
    Cmdline(String),
    /// `bootenv:VAR`: the bootloader's variable, matched to a slot's `bootname`.
    BootEnv(String),
}

impl Source {
    fn parse(word: &str) -> Result<Source, String> {
        let key = |k: &str, what: &str| {
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic() && b != b'=') {
                Err(format!("`{word}`: {what} must be a non-empty word without `=`"))
            } else {
                Ok(k.to_string())
            }
        };
        match word {
            "root-device" => Ok(Source::RootDevice),
            "cmdline-root" => Ok(Source::CmdlineRoot),
            _ => match word.split_once(':') {
                Some(("cmdline", k)) => Ok(Source::Cmdline(key(k, "the command-line key")?)),
                Some(("bootenv", v)) if v.starts_with(['-', '#']) => Err(format!(
                    "`{word}`: a bootloader variable does not start with - or #"
                )),
                Some(("bootenv", v)) => Ok(Source::BootEnv(key(v, "the variable")?)),
                _ => Err(format!(
                    "`{word}` is not a source: root-device, cmdline-root, cmdline:KEY or bootenv:VAR"
                )),
            },
        }
    }

    /// Whether it names slots by their `bootname`.
    fn by_bootname(&self) -> bool {
        matches!(self, Source::Cmdline(_) | Source::BootEnv(_))
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::RootDevice => f.write_str("root-device"),
            Source::CmdlineRoot => f.write_str("cmdline-root"),
            Source::Cmdline(k) => write!(f, "cmdline:{k}"),
            Source::BootEnv(v) => write!(f, "bootenv:{v}"),
        }
    }
}

/// swupdate's `-e set,mode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub set: String,
    pub mode: String,
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.set, self.mode)
    }
}

/// One slot of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub name: String,
    /// Its root file system.
    pub device: Spelling,
    /// What the bootloader and the command line call it.
    pub bootname: Option<String>,
    /// `-e` while this slot runs: the image for the other slot.
    pub selection: Selection,
    /// The device that selection writes: never the booted root.
    pub writes: Option<Spelling>,
    /// Where `SWUPDATE_SLOT_<NAME>` was set.
    pub origin: Origin,
}

/// The slot table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub slots: Vec<Slot>,
    pub sources: Vec<Source>,
    /// Where `SWUPDATE_SLOTS` was set.
    pub origin: Origin,
    /// Where `SWUPDATE_SLOT_SOURCES` was set.
    pub sources_origin: Origin,
}

/// Where the sources look, from the topology (paths on this machine, under `--root`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The kernel command line (`SWUPDATE_KERNEL_CMDLINE`).
    pub cmdline: PathBuf,
    pub bootenv: bootenv::Tools,
}

impl Topology {
    pub fn from_topology(topology: &Settings, root: &Root) -> Result<Topology, Error> {
        let cmdline = topology_path(topology, SWUPDATE_KERNEL_CMDLINE)?;
        Ok(Topology {
            cmdline: root.host(&cmdline),
            bootenv: bootenv::Tools::from_topology(topology, root)?,
        })
    }
}

/// The running slot: observed under `root`, identified by the table. `SlotUnknown` (67) when
/// it cannot be, `SlotIsBooted` (68) when its selection would write the booted root.
pub fn running(table: &Table, topology: &Topology, root: &Root) -> Result<Running, Error> {
    let seen = observe(table, topology, root);
    identify(table, &seen)
}

/// One named check `check` runs over a valid table (bootc's style: a name, its doc, a
/// function): what the table's rules accept but a person should hear about. A warning, never a
/// refusal; the refusals are the table's own rules ([`Table::from_settings`]).
pub struct Check {
    pub name: &'static str,
    pub doc: &'static str,
    run: fn(&Table) -> Option<String>,
}

/// Every check, in the order `check` prints them.
pub static CHECKS: &[Check] = &[
    Check {
        name: "booted-root-guarded",
        doc: "Every slot says which device its selection writes (`writes=`): without it nothing compares the selection with the booted root at start, and a table whose selections are swapped installs over the running slot.",
        run: |t| {
            let unguarded: Vec<&str> = t
                .slots
                .iter()
                .filter(|s| s.writes.is_none())
                .map(|s| s.name.as_str())
                .collect();
            (!unguarded.is_empty()).then(|| {
                format!(
                    "booted-root-guarded: slot(s) {} have no writes=: their selection is not checked against the booted root",
                    unguarded.join(", ")
                )
            })
        },
    },
    Check {
        name: "a-source-looks-at-the-disk",
        doc: "At least one source is `root-device` or `cmdline-root`, or every slot has `writes=`: sources that only match names (`cmdline:KEY`, `bootenv:VAR`) say what the bootloader meant to boot, and only a device number says what was booted.",
        run: |t| {
            let by_device = t
                .sources
                .iter()
                .any(|s| matches!(s, Source::RootDevice | Source::CmdlineRoot));
            let guarded = t.slots.iter().all(|s| s.writes.is_some());
            (!by_device && !guarded).then(|| {
                "a-source-looks-at-the-disk: every source matches a name, and no device number confirms it: add root-device (or writes= to every slot)".to_string()
            })
        },
    },
];

/// The warnings of [`CHECKS`] for `table`.
pub fn check_notes(table: &Table) -> Vec<String> {
    CHECKS.iter().filter_map(|c| (c.run)(table)).collect()
}

/// A value's words, blank-separated.
fn non_blank<'v>(vars: &'v Settings, name: &str) -> Option<&'v Setting> {
    vars.get(name).filter(|s| !s.value.trim().is_empty())
}

impl Table {
    /// The table, when `SWUPDATE_SLOTS` is set; `None` (no A/B handling) when it is not and no
    /// other slot variable is either.
    pub fn from_settings(vars: &Settings) -> Result<Option<Table>, Error> {
        let Some(slots_setting) = non_blank(vars, SWUPDATE_SLOTS) else {
            return no_table(vars);
        };
        let names = slot_names(slots_setting)?;
        let (sources, sources_origin) = sources(vars, slots_setting)?;
        let mut slots = Vec::new();
        for name in &names {
            let var = format!("{SLOT_VARIABLE_PREFIX}{name}");
            let Some(s) = vars.get(&var) else {
                return Err(setting_error(
                    SWUPDATE_SLOTS,
                    slots_setting,
                    format!("lists slot {name}, but {var} is not set"),
                )
                .hint(format!(
                    "set {var}=\"device=... selection=set,mode\" in a conf.d fragment"
                )));
            };
            slots.push(slot(name, &var, s)?);
        }
        unlisted_slot_variables(vars, &names)?;
        let needs_bootname = sources
            .iter()
            .find(|s| s.by_bootname())
            .map(Source::to_string)
            .or_else(|| non_blank(vars, SWUPDATE_CONFIRM_PRIMARY).map(|_| SWUPDATE_CONFIRM_PRIMARY.to_string()));
        let table = Table {
            slots,
            sources,
            origin: slots_setting.origin.clone(),
            sources_origin,
        };
        table.distinct(vars, needs_bootname.as_deref())?;
        Ok(Some(table))
    }

    /// Two slots never share a device, selection or bootname; a `bootname` is there when a
    /// source or the confirm step matches by it.
    fn distinct(&self, vars: &Settings, needs_bootname: Option<&str>) -> Result<(), Error> {
        let at = |slot: &Slot, message: String| {
            let var = format!("{SLOT_VARIABLE_PREFIX}{}", slot.name);
            let setting = vars.get(&var).cloned().unwrap_or(Setting {
                value: String::new(),
                origin: slot.origin.clone(),
                expanded: Vec::new(),
            });
            setting_error(&var, &setting, message)
        };
        for (i, slot) in self.slots.iter().enumerate() {
            if let (None, Some(why)) = (&slot.bootname, needs_bootname) {
                return Err(at(slot, format!("has no bootname=, which {why} needs")));
            }
            for other in &self.slots[..i] {
                let same = if slot.device == other.device {
                    Some(format!("device={}", slot.device))
                } else if slot.selection == other.selection {
                    Some(format!("selection={}", slot.selection))
                } else if slot.bootname.is_some() && slot.bootname == other.bootname {
                    Some(format!("bootname={}", slot.bootname.as_deref().unwrap_or_default()))
                } else {
                    None
                };
                if let Some(same) = same {
                    return Err(at(
                        slot,
                        format!("has the same {same} as slot {}", other.name),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The slot named `name`.
    pub fn slot(&self, name: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.name == name)
    }
}

/// Without `SWUPDATE_SLOTS`, no other slot variable may be set: it would be silently unused.
fn no_table(vars: &Settings) -> Result<Option<Table>, Error> {
    if let Some(s) = non_blank(vars, SWUPDATE_SLOT_SOURCES) {
        return Err(setting_error(
            SWUPDATE_SLOT_SOURCES,
            s,
            "is set, but SWUPDATE_SLOTS is not: no slot table",
        ));
    }
    if let Some(name) = vars.names().find(|n| slot_of_variable(n).is_some()) {
        if let Some(s) = vars.get(name) {
            return Err(setting_error(
                name,
                s,
                "is set, but SWUPDATE_SLOTS is not: no slot table",
            ));
        }
    }
    Ok(None)
}

/// A `SWUPDATE_SLOT_<X>` for an X that `SWUPDATE_SLOTS` does not list.
fn unlisted_slot_variables(vars: &Settings, names: &[String]) -> Result<(), Error> {
    for var in vars.names() {
        let Some(slot) = slot_of_variable(var) else {
            continue;
        };
        if !names.iter().any(|n| n == slot) {
            if let Some(s) = vars.get(var) {
                return Err(setting_error(
                    var,
                    s,
                    format!("slot {slot} is not in SWUPDATE_SLOTS"),
                ));
            }
        }
    }
    Ok(())
}

/// `SWUPDATE_SLOTS`: at least two names of `[A-Za-z0-9]+`, no repeats, not `SOURCES`.
fn slot_names(s: &Setting) -> Result<Vec<String>, Error> {
    let mut names: Vec<String> = Vec::new();
    for word in s.value.split_whitespace() {
        if !word.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(setting_error(
                SWUPDATE_SLOTS,
                s,
                format!("`{}` is not a slot name (letters and digits)", word.escape_default()),
            ));
        }
        if word == "SOURCES" {
            return Err(setting_error(
                SWUPDATE_SLOTS,
                s,
                "SOURCES is not a slot name (SWUPDATE_SLOT_SOURCES lists the sources)",
            ));
        }
        if names.iter().any(|n| n == word) {
            return Err(setting_error(
                SWUPDATE_SLOTS,
                s,
                format!("slot {word} is named twice"),
            ));
        }
        names.push(word.to_string());
    }
    if names.len() < 2 {
        return Err(setting_error(
            SWUPDATE_SLOTS,
            s,
            "names fewer than two slots",
        ));
    }
    Ok(names)
}

/// `SWUPDATE_SLOT_SOURCES`: at least one source, none twice.
fn sources(vars: &Settings, slots_setting: &Setting) -> Result<(Vec<Source>, Origin), Error> {
    let Some(s) = non_blank(vars, SWUPDATE_SLOT_SOURCES) else {
        return Err(setting_error(
            SWUPDATE_SLOTS,
            slots_setting,
            "is set, but SWUPDATE_SLOT_SOURCES is not: how is the running slot recognised?",
        )
        .hint("set SWUPDATE_SLOT_SOURCES, e.g. \"root-device\" (each source is opt-in; never a default slot)"));
    };
    let mut sources: Vec<Source> = Vec::new();
    for word in s.value.split_whitespace() {
        let source = Source::parse(word).map_err(|why| setting_error(SWUPDATE_SLOT_SOURCES, s, why))?;
        if sources.contains(&source) {
            return Err(setting_error(
                SWUPDATE_SLOT_SOURCES,
                s,
                format!("{word} is listed twice"),
            ));
        }
        sources.push(source);
    }
    Ok((sources, s.origin.clone()))
}

/// One `SWUPDATE_SLOT_<NAME>`: `key=value` words.
fn slot(name: &str, var: &str, s: &Setting) -> Result<Slot, Error> {
    let err = |message: String| setting_error(var, s, message);
    let (mut device, mut bootname, mut selection, mut writes) = (None, None, None, None);
    for word in s.value.split_whitespace() {
        let Some((key, value)) = word.split_once('=') else {
            return Err(err(format!("`{word}` is not key=value")));
        };
        let field = match key {
            "device" => &mut device,
            "bootname" => &mut bootname,
            "selection" => &mut selection,
            "writes" => &mut writes,
            _ => {
                return Err(err(format!(
                    "`{key}` is not a slot key: device, selection, bootname or writes"
                )));
            }
        };
        if field.is_some() {
            return Err(err(format!("{key}= is given twice")));
        }
        if value.is_empty() {
            return Err(err(format!("{key}= is empty")));
        }
        *field = Some(value);
    }
    let device = device.ok_or_else(|| err("has no device= (the slot's root file system)".into()))?;
    let device = Spelling::parse(device).map_err(|why| err(format!("device={why}")))?;
    let selection = selection
        .ok_or_else(|| err("has no selection= (swupdate's -e while this slot runs)".into()))?;
    let selection = match selection.split_once(',') {
        Some((set, mode)) if !set.is_empty() && !mode.is_empty() && !mode.contains(',') => {
            Selection {
                set: set.to_string(),
                mode: mode.to_string(),
            }
        }
        _ => {
            return Err(err(format!(
                "selection={selection} is not set,mode (two non-empty words, one comma)"
            )));
        }
    };
    let writes = match writes {
        Some(w) => Some(Spelling::parse(w).map_err(|why| err(format!("writes={why}")))?),
        None => None,
    };
    if writes.as_ref() == Some(&device) {
        return Err(err(format!(
            "writes={device} is the slot's own device, which runs whenever this selection is used"
        )));
    }
    if let Some(b) = bootname {
        if b.chars().any(char::is_control) {
            return Err(err("bootname= has a control character".into()));
        }
    }
    Ok(Slot {
        name: name.to_string(),
        device,
        bootname: bootname.map(str::to_string),
        selection,
        writes,
        origin: s.origin.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    /// Settings as a conf.d fragment `/f` sets them, one line each.
    pub(super) fn vars(lines: &[(&str, &str)]) -> Settings {
        let mut s = Settings::default();
        for (i, (name, value)) in lines.iter().enumerate() {
            s.set(
                name,
                *value,
                Origin::Fragment {
                    path: "/f".into(),
                    line: i + 1,
                },
            );
        }
        s
    }

    pub(super) const A: &str =
        "device=PARTLABEL=rootfs-a bootname=A selection=stable,copy2 writes=PARTLABEL=rootfs-b";
    pub(super) const B: &str =
        "device=PARTLABEL=rootfs-b bootname=B selection=stable,copy1 writes=PARTLABEL=rootfs-a";

    fn table(lines: &[(&str, &str)]) -> Result<Option<Table>, Error> {
        Table::from_settings(&vars(lines))
    }

    /// The error for a table whose line `line` is the bad one.
    fn refused_at(lines: &[(&str, &str)], line: usize) -> String {
        let e = table(lines).unwrap_err();
        assert_eq!(e.kind, Kind::Config, "{e}");
        let at = e.location.as_ref().map(|l| l.line);
        assert_eq!(at, Some(line), "{e}");
        e.message
    }

    fn good(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut lines = vec![
            (SWUPDATE_SLOTS, "A B"),
            (SWUPDATE_SLOT_SOURCES, "root-device cmdline:rauc.slot"),
            ("SWUPDATE_SLOT_A", A),
            ("SWUPDATE_SLOT_B", B),
        ];
        lines.extend_from_slice(extra);
        lines
    }

    #[test]
    fn no_slots_variable_is_no_table() {
        assert_eq!(table(&[]).unwrap(), None);
        assert_eq!(table(&[(SWUPDATE_SLOTS, "  ")]).unwrap(), None);
    }

    #[test]
    fn the_contracts_example_is_a_table_of_two_slots() {
        let t = table(&good(&[])).unwrap().unwrap();
        assert_eq!(t.sources, [Source::RootDevice, Source::Cmdline("rauc.slot".into())]);
        let a = t.slot("A").unwrap();
        assert_eq!(a.selection.to_string(), "stable,copy2");
        assert_eq!(a.bootname.as_deref(), Some("A"));
        assert_eq!(a.device.to_string(), "PARTLABEL=rootfs-a");
        assert_eq!(a.writes.as_ref().map(ToString::to_string).as_deref(), Some("PARTLABEL=rootfs-b"));
        assert_eq!(t.slot("B").unwrap().selection.to_string(), "stable,copy1");
    }

    #[test]
    fn an_unknown_source_is_refused_at_its_line() {
        let mut lines = good(&[]);
        lines[1].1 = "root-device uboot";
        assert!(refused_at(&lines, 2).contains("`uboot` is not a source"));
    }

    #[test]
    fn a_source_listed_twice_is_refused() {
        let mut lines = good(&[]);
        lines[1].1 = "root-device root-device";
        assert!(refused_at(&lines, 2).contains("twice"));
    }

    #[test]
    fn a_table_without_sources_is_refused_at_the_slots_line() {
        let mut lines = good(&[]);
        lines[1].1 = "";
        assert!(refused_at(&lines, 1).contains("SWUPDATE_SLOT_SOURCES is not"));
    }

    #[test]
    fn a_slot_named_twice_is_refused() {
        let mut lines = good(&[]);
        lines[0].1 = "A B A";
        assert!(refused_at(&lines, 1).contains("slot A is named twice"));
    }

    #[test]
    fn fewer_than_two_slots_or_a_bad_name_is_refused() {
        assert!(refused_at(&[(SWUPDATE_SLOTS, "A"), (SWUPDATE_SLOT_SOURCES, "root-device"), ("SWUPDATE_SLOT_A", A)], 1)
            .contains("fewer than two"));
        assert!(refused_at(&[(SWUPDATE_SLOTS, "A b-2")], 1).contains("not a slot name"));
        assert!(refused_at(&[(SWUPDATE_SLOTS, "A SOURCES")], 1).contains("SOURCES"));
    }

    #[test]
    fn a_listed_slot_without_its_variable_is_refused_at_the_slots_line() {
        let lines = &good(&[])[..3];
        assert!(refused_at(lines, 1).contains("SWUPDATE_SLOT_B is not set"));
    }

    #[test]
    fn a_slot_variable_for_an_unlisted_slot_is_refused() {
        let lines = good(&[("SWUPDATE_SLOT_C", A)]);
        assert!(refused_at(&lines, 5).contains("slot C is not in SWUPDATE_SLOTS"));
    }

    #[test]
    fn slot_variables_without_a_table_are_refused() {
        assert!(refused_at(&[("SWUPDATE_SLOT_A", A)], 1).contains("SWUPDATE_SLOTS is not"));
        assert!(refused_at(&[(SWUPDATE_SLOT_SOURCES, "root-device")], 1).contains("SWUPDATE_SLOTS is not"));
    }

    #[test]
    fn a_missing_selection_is_refused() {
        let mut lines = good(&[]);
        lines[3].1 = "device=PARTLABEL=rootfs-b bootname=B";
        assert!(refused_at(&lines, 4).contains("has no selection="));
    }

    #[test]
    fn a_missing_device_is_refused() {
        let mut lines = good(&[]);
        lines[3].1 = "bootname=B selection=stable,copy1";
        assert!(refused_at(&lines, 4).contains("has no device="));
    }

    #[test]
    fn a_device_path_outside_dev_is_refused() {
        let mut lines = good(&[]);
        lines[3].1 = "device=/tmp/rootfs-b bootname=B selection=stable,copy1";
        assert!(refused_at(&lines, 4).contains("outside /dev"));
    }

    #[test]
    fn a_selection_that_is_not_set_comma_mode_is_refused() {
        for bad in ["stable", "stable,", ",copy1", "a,b,c"] {
            let value = format!("device=/dev/sdb2 bootname=B selection={bad}");
            let value: &'static str = Box::leak(value.into_boxed_str());
            let mut lines = good(&[]);
            lines[3].1 = value;
            assert!(refused_at(&lines, 4).contains("is not set,mode"), "{bad}");
        }
    }

    #[test]
    fn an_unknown_key_or_a_key_twice_is_refused() {
        let mut lines = good(&[]);
        lines[3].1 = "device=/dev/sdb2 bootname=B selection=s,m slot=B";
        assert!(refused_at(&lines, 4).contains("`slot` is not a slot key"));
        lines[3].1 = "device=/dev/sdb2 device=/dev/sdb3 bootname=B selection=s,m";
        assert!(refused_at(&lines, 4).contains("device= is given twice"));
        lines[3].1 = "device=/dev/sdb2 bootname=B selection=s,m quoted";
        assert!(refused_at(&lines, 4).contains("not key=value"));
    }

    #[test]
    fn two_slots_with_the_same_device_selection_or_bootname_are_refused() {
        let mut lines = good(&[]);
        lines[3].1 = "device=PARTLABEL=rootfs-a bootname=B selection=stable,copy1";
        assert!(refused_at(&lines, 4).contains("same device=PARTLABEL=rootfs-a as slot A"));
        lines[3].1 = "device=/dev/sdb2 bootname=B selection=stable,copy2";
        assert!(refused_at(&lines, 4).contains("same selection=stable,copy2 as slot A"));
        lines[3].1 = "device=/dev/sdb2 bootname=A selection=stable,copy1";
        assert!(refused_at(&lines, 4).contains("same bootname=A as slot A"));
    }

    #[test]
    fn a_bootname_is_required_by_a_bootname_source_or_the_confirm_primary() {
        let mut lines = good(&[]);
        lines[3].1 = "device=/dev/sdb2 selection=stable,copy1";
        assert!(refused_at(&lines, 4).contains("no bootname=, which cmdline:rauc.slot needs"));
        lines[1].1 = "root-device";
        assert!(table(&lines).is_ok());
        lines.push((SWUPDATE_CONFIRM_PRIMARY, "boot_part"));
        assert!(refused_at(&lines, 4).contains("SWUPDATE_CONFIRM_PRIMARY"));
    }

    #[test]
    fn every_check_has_a_name_of_its_own_and_a_doc() {
        for (i, c) in CHECKS.iter().enumerate() {
            assert!(c.doc.len() > 40, "{}", c.name);
            assert!(!CHECKS[..i].iter().any(|d| d.name == c.name), "{}", c.name);
        }
    }

    #[test]
    fn a_table_guarded_by_writes_and_the_root_device_has_no_warning() {
        let mut lines = good(&[]);
        lines[1].1 = "root-device";
        assert_eq!(check_notes(&table(&lines).unwrap().unwrap()), Vec::<String>::new());
    }

    #[test]
    fn a_slot_without_writes_is_warned_of_and_so_are_name_sources_then() {
        let mut lines = good(&[]);
        lines[3].1 = "device=PARTLABEL=rootfs-b bootname=B selection=stable,copy1";
        let notes = check_notes(&table(&lines).unwrap().unwrap());
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("booted-root-guarded: slot(s) B have no writes="), "{notes:?}");
        lines[1].1 = "cmdline:rauc.slot";
        let notes = check_notes(&table(&lines).unwrap().unwrap());
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].starts_with("booted-root-guarded: slot(s) B have no writes="), "{notes:?}");
        assert!(notes[1].starts_with("a-source-looks-at-the-disk: "), "{notes:?}");
    }

    #[test]
    fn name_sources_alone_are_warned_of_only_without_writes() {
        let mut lines = good(&[]);
        lines[1].1 = "cmdline:rauc.slot bootenv:boot_part";
        assert_eq!(check_notes(&table(&lines).unwrap().unwrap()), Vec::<String>::new());
    }

    #[test]
    fn a_slot_that_writes_its_own_device_is_refused() {
        let mut lines = good(&[]);
        lines[3].1 = "device=/dev/sdb2 bootname=B selection=s,m writes=/dev//sdb2";
        assert!(refused_at(&lines, 4).contains("own device"));
    }
}
