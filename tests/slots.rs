//! A/B slots through the built binary on temporary device trees (`--root`): the running slot
//! identified from the device's kernel command line (`/proc/cmdline` under the root), its
//! selection passed as `-e` in every mode, and every refusal's code. The sources that need a
//! system part run at the end, ignored by `cargo test`: the bootloader environment
//! (libubootenv-tool) and the device of `/` on real loop devices (root).

use crate::support;

use std::process::Output;

use support::Device;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Two slots recognised by `rauc.slot=` on the command line; no `writes=` (no block devices
/// in a temp dir).
const TABLE: &str = "SWUPDATE_SLOTS=\"A B\"
SWUPDATE_SLOT_SOURCES=\"cmdline:rauc.slot\"
SWUPDATE_SLOT_A=\"device=PARTLABEL=rootfs-a bootname=A selection=stable,copy2\"
SWUPDATE_SLOT_B=\"device=PARTLABEL=rootfs-b bootname=B selection=stable,copy1\"
";

/// A file-mode device with the slot table, booted as `cmdline`.
fn ab_device(cmdline: &str) -> Device {
    let d = Device::file_mode();
    d.lib("20-slots", TABLE)
        .write("/proc/cmdline", &format!("{cmdline}\n"));
    d
}

#[test]
fn the_running_slots_selection_is_passed_as_dash_e() {
    let d = ab_device("console=ttyS0 rauc.slot=B rootwait");
    let o = d.run(&["--print-argv"]);
    assert_eq!(code(&o), 0, "{}", support::stderr(&o));
    let p = d.path().display();
    assert_eq!(
        stdout(&o),
        format!(
            "{p}/usr/bin/swupdate -k {p}/etc/swupdate/public.pem -v -e stable,copy1 -N 1.0 -i {p}/data/update.swu\n"
        )
    );
}

#[test]
fn the_selection_is_passed_in_daemon_mode_too() {
    let d = ab_device("rauc.slot=A");
    d.lib("10-source", "SWUPDATE_SOURCE=daemon\n");
    let o = d.run(&["--print-argv"]);
    assert_eq!(code(&o), 0, "{}", support::stderr(&o));
    assert!(stdout(&o).contains(" -e stable,copy2"), "{}", stdout(&o));
}

#[test]
fn a_slot_no_source_recognises_is_refused_with_67_saying_what_was_seen() {
    let d = ab_device("rauc.slot=C");
    let o = d.run(&["--print-argv"]);
    assert_eq!(code(&o), 67, "{}", support::stderr(&o));
    assert!(
        support::stderr(&o).contains("cmdline:rauc.slot: rauc.slot=C: no slot has bootname=C"),
        "{}",
        support::stderr(&o)
    );
}

#[test]
fn a_missing_command_line_file_is_refused_with_67() {
    let d = ab_device("rauc.slot=A");
    std::fs::remove_file(d.host("/proc/cmdline")).unwrap();
    let o = d.run(&["check"]);
    assert_eq!(code(&o), 67, "{}", support::stderr(&o));
    assert!(
        support::stderr(&o).contains("could not be read"),
        "{}",
        support::stderr(&o)
    );
}

#[test]
fn dash_e_in_the_users_options_is_refused_when_the_table_chooses_it() {
    let d = ab_device("rauc.slot=A");
    d.etc(
        "50-local",
        "SWUPDATE_EXTRA_ARGS=\"--select=stable,copy1\"\n",
    );
    let o = d.run(&["check"]);
    assert_eq!(code(&o), 65, "{}", support::stderr(&o));
    let err = support::stderr(&o);
    assert!(err.contains("50-local:1"), "{err}");
    assert!(err.contains("the slot table chooses -e"), "{err}");
}

#[test]
fn check_identifies_the_running_slot_on_the_device() {
    let o = ab_device("rauc.slot=A").run(&["check"]);
    assert_eq!(code(&o), 0, "{}", support::stderr(&o));
    assert!(
        stdout(&o).contains("running slot A (-e stable,copy2)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn the_image_build_check_validates_the_table_without_a_running_slot() {
    let d = ab_device("rauc.slot=C");
    let o = d.run(&["check", "--static"]);
    assert_eq!(code(&o), 0, "{}", support::stderr(&o));
    assert!(stdout(&o).contains("2 A/B slots"), "{}", stdout(&o));
    d.lib(
        "30-bad",
        "SWUPDATE_SLOT_B=\"device=/tmp/b bootname=B selection=stable,copy1\"\n",
    );
    let o = d.run(&["check", "--static"]);
    assert_eq!(code(&o), 65, "{}", support::stderr(&o));
    assert!(
        support::stderr(&o).contains("30-bad:1"),
        "{}",
        support::stderr(&o)
    );
    assert!(
        support::stderr(&o).contains("outside /dev"),
        "{}",
        support::stderr(&o)
    );
}

#[test]
fn explain_shows_each_source_the_running_slot_and_why_the_selection() {
    let o = ab_device("rauc.slot=B").run(&["explain"]);
    assert_eq!(code(&o), 0, "{}", support::stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("A/B slots: A B (SWUPDATE_SLOTS from "),
        "{out}"
    );
    assert!(
        out.contains("  cmdline:rauc.slot: rauc.slot=B: slot B\n"),
        "{out}"
    );
    assert!(
        out.contains("  running slot B (cmdline:rauc.slot says so) -> -e stable,copy1\n"),
        "{out}"
    );
}

#[test]
fn explain_shows_why_the_slot_is_unknown_and_exits_67() {
    let o = ab_device("quiet").run(&["explain"]);
    assert_eq!(code(&o), 67, "{}", support::stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("running slot not identified: "), "{out}");
    assert!(out.contains("rauc.slot= is not set"), "{out}");
}

#[test]
fn without_a_slot_table_nothing_changes() {
    let d = Device::file_mode();
    d.write("/proc/cmdline", "rauc.slot=A\n");
    let o = d.run(&["--print-argv"]);
    assert_eq!(code(&o), 0, "{}", support::stderr(&o));
    assert!(!stdout(&o).contains(" -e "), "{}", stdout(&o));
}
