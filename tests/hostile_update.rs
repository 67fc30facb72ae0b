//! The update file in file mode is the agent's to place (docs/handoff.md): whatever it swaps in
//! after the launcher's check, swupdate installs the file the launcher opened and judged, never
//! what a name says a moment later (issue #19, the `-i PATH` gap).

use crate::support;

use std::fs;
use std::time::Duration;

use support::Device;

/// A file-mode device whose swupdate first lets the "agent" swap the update file (the stand-in
/// renames `/data/other.swu` over `/data/update.swu`), then copies what its `-i` names to
/// /received and its argv to /argv.
fn swapping_device() -> Device {
    let r = Device::file_mode();
    r.write("/data/update.swu", "the file the launcher checked\n");
    r.write("/data/other.swu", "swapped in after the check\n");
    let (data, received, argv) = (r.host("/data"), r.host("/received"), r.host("/argv"));
    r.write_executable(
        "/usr/bin/swupdate",
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {argv}\nmv {data}/other.swu {data}/update.swu\nwhile [ \"$1\" != -i ]; do shift; done\ncat \"$2\" > {received}\n",
            argv = argv.display(),
            data = data.display(),
            received = received.display()
        ),
    );
    r
}

#[test]
fn an_update_file_swapped_after_the_check_is_not_what_swupdate_installs() {
    let r = swapping_device();
    let o = support::run_within(r.command(&[], &[]), Duration::from_secs(20));
    o.assert_code(0);
    assert_eq!(
        fs::read_to_string(r.host("/received")).unwrap(),
        "the file the launcher checked\n"
    );
    let argv = fs::read_to_string(r.host("/argv")).unwrap();
    assert!(argv.contains("-i\n/proc/self/fd/"), "{argv}");
}

#[test]
fn a_local_update_file_swapped_after_the_check_is_not_what_swupdate_installs() {
    let r = swapping_device();
    let o = support::run_within(
        r.command(&["--update-file", "/data/update.swu"], &[]),
        Duration::from_secs(20),
    );
    o.assert_code(0);
    assert_eq!(
        fs::read_to_string(r.host("/received")).unwrap(),
        "the file the launcher checked\n"
    );
}

#[test]
fn print_argv_still_names_the_update_file() {
    // Only a run opens the file for swupdate; what a person pastes names the path.
    let r = swapping_device();
    let o = support::run_within(r.command(&["--print-argv"], &[]), Duration::from_secs(20));
    o.assert_code(0);
    let want = format!("-i {}", r.host("/data/update.swu").display());
    assert!(o.stdout.contains(&want), "{}", o.stdout);
}
