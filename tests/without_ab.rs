//! A launcher built without the cargo feature `ab` (the default build): every A/B variable is
//! refused at the line that set it, and `confirm` on the command line, each saying that the
//! feature is missing and how the layer turns it on; nothing is started. Built with `ab`, these
//! variables and `confirm` are tests/slots.rs's and tests/confirm.rs's.
#![cfg(not(feature = "ab"))]

use crate::support;

use std::process::Output;

use support::Device;

/// What each refusal says about the build.
const ADVICE: &str = "this swupdate-launcher was built without A/B support (cargo feature `ab`; the layer's PACKAGECONFIG `ab`, on with DISTRO_FEATURES update-ab)";

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn each_ab_variable_is_a_config_error_at_its_line_naming_the_missing_feature() {
    for (name, value) in [
        ("SWUPDATE_SLOTS", "\"A B\""),
        ("SWUPDATE_SLOT_SOURCES", "root-device"),
        (
            "SWUPDATE_SLOT_A",
            "\"device=PARTLABEL=rootfs-a selection=stable,copy2\"",
        ),
        ("SWUPDATE_CONFIRM", "bootcount"),
        ("SWUPDATE_CONFIRM_PRIMARY", "boot_part"),
        ("SWUPDATE_HEALTH_TIMEOUT", "30"),
    ] {
        let d = Device::file_mode();
        d.lib(
            "30-ab",
            &format!("# the product's A/B policy\n{name}={value}\n"),
        );
        for args in [&["check"][..], &["--print-argv"]] {
            let o = d.run(args);
            let err = support::stderr(&o);
            assert_eq!(code(&o), 65, "{name} {args:?}: {err}");
            assert!(
                err.contains(&format!("conf.d/30-ab:2: {name}: {ADVICE}")),
                "{name}: {err}"
            );
        }
    }
}

#[test]
fn a_blank_ab_variable_is_unset_and_refused_by_nothing() {
    let d = Device::file_mode();
    d.lib("30-ab", "SWUPDATE_SLOTS=\"\"\nSWUPDATE_CONFIRM=\n");
    let o = d.run(&["--print-argv"]);
    assert_eq!(code(&o), 0, "{}", support::stderr(&o));
}

#[test]
fn confirm_is_a_usage_error_naming_the_missing_feature() {
    let d = Device::file_mode();
    let o = d.run(&["confirm"]);
    let err = support::stderr(&o);
    assert_eq!(code(&o), 64, "{err}");
    assert!(
        err.contains(&format!("'confirm' is not available: {ADVICE}")),
        "{err}"
    );
}

#[test]
fn the_help_lists_confirm_as_needing_the_feature() {
    let o = Device::file_mode().run(&["--help"]);
    let help = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        help.contains("confirm") && help.contains("A/B (cargo feature `ab`)"),
        "{help}"
    );
}
