//! A/B slots through the built binary on temporary device trees (`--root`): the running slot
//! identified from the device's kernel command line (`/proc/cmdline` under the root), its
//! selection passed as `-e` in every mode, and every refusal's code. The sources that need a
//! system part run at the end, ignored by `cargo test`: the bootloader environment
//! (libubootenv-tool) and the device of `/` on real loop devices (root).
#![cfg(feature = "ab")]

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
fn check_warns_of_a_table_that_nothing_checks_against_the_disk() {
    let o = ab_device("rauc.slot=A").run(&["check", "--static"]);
    assert_eq!(code(&o), 0, "{}", support::stderr(&o));
    let err = support::stderr(&o);
    assert!(
        err.contains("warning: booted-root-guarded: slot(s) A, B have no writes="),
        "{err}"
    );
    assert!(
        err.contains("warning: a-source-looks-at-the-disk: "),
        "{err}"
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

// ---- The bootloader environment (libubootenv-tool) ----

/// A device whose `fw_printenv` is the host's and whose `/etc/fw_env.config` describes an
/// environment file (a U-Boot environment U-Boot has saved) holding `vars`.
fn with_bootenv(d: &Device, vars: &str) {
    let env = d.host("/boot/uboot.env");
    std::fs::create_dir_all(env.parent().unwrap()).unwrap();
    std::fs::write(&env, vec![0u8; 0x4000]).unwrap();
    d.write(
        "/etc/fw_env.config",
        &format!("{} 0x0 0x4000\n", env.display()),
    );
    d.write("/boot/default.env", vars);
    d.symlink("/usr/bin/fw_printenv", "/usr/bin/fw_printenv");
    let status = std::process::Command::new("/usr/bin/fw_setenv")
        .arg("-c")
        .arg(d.host("/etc/fw_env.config"))
        .arg("-f")
        .arg(d.host("/boot/default.env"))
        .args(["-s", "/dev/null"])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("fw_setenv (libubootenv-tool) is installed");
    assert!(status.success());
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn a_bootloader_variable_names_the_running_slot() {
    let d = ab_device("quiet");
    d.lib("30-source", "SWUPDATE_SLOT_SOURCES=\"bootenv:boot_part\"\n");
    with_bootenv(&d, "boot_part=B\nbootcount=1\n");
    let o = d.run(&["--print-argv"]);
    assert_eq!(code(&o), 0, "{}", support::stderr(&o));
    assert!(stdout(&o).contains(" -e stable,copy1 "), "{}", stdout(&o));
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn a_bootloader_variable_that_disagrees_with_the_command_line_is_refused_with_67() {
    let d = ab_device("rauc.slot=A");
    d.lib(
        "30-source",
        "SWUPDATE_SLOT_SOURCES=\"cmdline:rauc.slot bootenv:boot_part\"\n",
    );
    with_bootenv(&d, "boot_part=B\n");
    let o = d.run(&["--print-argv"]);
    assert_eq!(code(&o), 67, "{}", support::stderr(&o));
    let err = support::stderr(&o);
    assert!(err.contains("the sources disagree"), "{err}");
    assert!(
        err.contains("cmdline:rauc.slot: rauc.slot=A: slot A"),
        "{err}"
    );
    assert!(
        err.contains("bootenv:boot_part: boot_part=B: slot B"),
        "{err}"
    );
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn an_unreadable_bootloader_environment_is_refused_with_67_naming_the_tool() {
    let d = ab_device("quiet");
    d.lib("30-source", "SWUPDATE_SLOT_SOURCES=\"bootenv:boot_part\"\n");
    with_bootenv(&d, "boot_part=B\n");
    std::fs::write(d.host("/boot/uboot.env"), vec![0u8; 0x4000]).unwrap();
    let o = d.run(&["--print-argv"]);
    assert_eq!(code(&o), 67, "{}", support::stderr(&o));
    let err = support::stderr(&o);
    assert!(
        err.contains("bootenv:boot_part: could not be read: "),
        "{err}"
    );
    assert!(err.contains("fw_printenv exited"), "{err}");
}

// ---- The device of `/` on real block devices (root) ----

/// Runs a command that must succeed; its stdout, trimmed.
fn sh(program: &str, args: &[&str]) -> String {
    let o = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Two loop devices (slot A's and B's root file systems); A mounted as the device's root.
/// Undone when dropped.
struct Booted {
    dir: tempfile::TempDir,
    loops: Vec<String>,
    mounted: bool,
}

impl Booted {
    fn new() -> Booted {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Booted {
            dir,
            loops: Vec::new(),
            mounted: false,
        };
        for name in ["a", "b"] {
            let image = b.dir.path().join(format!("{name}.img"));
            std::fs::write(&image, vec![0u8; 8 << 20]).unwrap();
            let image = image.to_str().unwrap().to_string();
            b.loops.push(sh("losetup", &["--find", "--show", &image]));
        }
        let fs_device = b.loops[0].clone();
        sh("mkfs.ext4", &["-q", "-F", &fs_device]);
        let root = b.dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        sh("mount", &[&fs_device, root.to_str().unwrap()]);
        b.mounted = true;
        b
    }

    /// The launcher's device on the mounted root: daemon mode, the table over the two loop
    /// devices by PARTLABEL (links made as udev makes them) and the host's sysfs under the root.
    fn device(&self, table: &str) -> Device {
        let d = self.device_without_sysfs(table);
        d.symlink("/sys", "/sys");
        d
    }

    /// [`Booted::device`] whose `/sys` is the test's to write.
    fn device_without_sysfs(&self, table: &str) -> Device {
        let d = Device::configured(self.dir.path());
        d.executable("/usr/bin/swupdate")
            .lib("10-source", "SWUPDATE_SOURCE=daemon\n")
            .lib("20-slots", table);
        for (label, dev) in [("rootfs a", &self.loops[0]), ("rootfs-b", &self.loops[1])] {
            let name = dev.trim_start_matches("/dev/");
            let (major, minor) = numbers(dev);
            mknod(&d, &format!("/dev/{name}"), major, minor);
            let escaped = label.replace(' ', "\\x20");
            d.symlink(
                &format!("../../{name}"),
                &format!("/dev/disk/by-partlabel/{escaped}"),
            );
        }
        d
    }
}

/// A block device's major and minor number.
fn numbers(dev: &str) -> (u32, u32) {
    let text = sh("stat", &["-c", "%t %T", dev]);
    let (major, minor) = text.split_once(' ').unwrap();
    (
        u32::from_str_radix(major, 16).unwrap(),
        u32::from_str_radix(minor, 16).unwrap(),
    )
}

/// A block device node at a device path.
fn mknod(d: &Device, device_path: &str, major: u32, minor: u32) {
    let node = d.host(device_path);
    std::fs::create_dir_all(node.parent().unwrap()).unwrap();
    let (major, minor) = (major.to_string(), minor.to_string());
    sh("mknod", &[node.to_str().unwrap(), "b", &major, &minor]);
}

impl Drop for Booted {
    fn drop(&mut self) {
        let root = self.dir.path().join("root");
        if self.mounted {
            let _ = std::process::Command::new("umount").arg(&root).status();
        }
        for l in &self.loops {
            let _ = std::process::Command::new("losetup")
                .args(["-d", l])
                .status();
        }
    }
}

/// Slot A on the label with a blank (udev writes it `\x20`), B on `rootfs-b`.
const ROOT_DEVICE_TABLE: &str = "SWUPDATE_SLOTS=\"A B\"
SWUPDATE_SLOT_SOURCES=\"root-device\"
SWUPDATE_SLOT_A=\"device=PARTLABEL=rootfs\\x20a selection=stable,copy2 writes=PARTLABEL=rootfs-b\"
SWUPDATE_SLOT_B=\"device=PARTLABEL=rootfs-b selection=stable,copy1 writes=PARTLABEL=rootfs\\x20a\"
";

#[test]
#[ignore = "needs root (loop devices, mount); run by scripts/test"]
fn the_device_of_the_root_names_the_running_slot() {
    let b = Booted::new();
    let d = b.device(ROOT_DEVICE_TABLE);
    let o = d.run(&["explain"]);
    assert_eq!(code(&o), 0, "{}", support::stderr(&o));
    let out = stdout(&o);
    let loop_a = b.loops[0].trim_start_matches("/dev/");
    assert!(
        out.contains(&format!("root-device: / on /dev/{loop_a} (7:")),
        "{out}"
    );
    assert!(out.contains("is slot A's device"), "{out}");
    assert!(
        out.contains(
            "running slot A (root-device says so) -> -e stable,copy2 writes PARTLABEL=rootfs-b (7:"
        ),
        "{out}"
    );
}

/// A device-mapper root (dm-verity, LUKS) is found through sysfs: `/sys/dev/block/MAJ:MIN/slaves/`
/// names the devices under it. The root here is a loop device and the sysfs the test's own
/// (saying that device sits on a partition node of slot A's), since device-mapper itself may be
/// missing from the kernel that runs the tests; the partition is matched by number as a real
/// one would be.
#[test]
#[ignore = "needs root (loop devices, mount, mknod); run by scripts/test"]
fn a_device_mapper_root_is_traced_through_sysfs_slaves_to_its_partition() {
    let b = Booted::new();
    let table = ROOT_DEVICE_TABLE.replace("PARTLABEL=rootfs\\x20a", "/dev/mmcblk0p2");
    let d = b.device_without_sysfs(&table);
    let (major, minor) = numbers(&b.loops[0]);
    mknod(&d, "/dev/mmcblk0p2", 179, 2);
    d.write(
        &format!("/sys/dev/block/{major}:{minor}/slaves/mmcblk0p2"),
        "",
    )
    .write("/sys/class/block/mmcblk0p2/dev", "179:2\n");
    let o = d.run(&["explain"]);
    assert_eq!(code(&o), 0, "{}", support::stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "({major}:{minor}) on /dev/mmcblk0p2 (179:2) is slot A's device"
        )),
        "{out}"
    );
    assert!(out.contains(" -e stable,copy2"), "{out}");
}

#[test]
#[ignore = "needs root (loop devices, mount); run by scripts/test"]
fn a_selection_that_writes_the_booted_root_is_refused_with_68() {
    let b = Booted::new();
    let loop_a = b.loops[0].clone();
    // Slot B's device is the booted one under another spelling: the table cannot see it, the
    // device numbers do. The command line says B runs.
    let table = format!(
        "SWUPDATE_SLOTS=\"A B\"
SWUPDATE_SLOT_SOURCES=\"cmdline:slot\"
SWUPDATE_SLOT_A=\"device=PARTLABEL=rootfs-b bootname=A selection=stable,copy2\"
SWUPDATE_SLOT_B=\"device=/dev/null-b bootname=B selection=stable,copy1 writes={loop_a}\"
"
    );
    let d = b.device(&table);
    d.write("/proc/cmdline", "slot=B\n");
    let o = d.run(&["--print-argv"]);
    assert_eq!(code(&o), 68, "{}", support::stderr(&o));
    assert!(
        support::stderr(&o).contains("which is the booted root"),
        "{}",
        support::stderr(&o)
    );
}

#[test]
#[ignore = "needs root (loop devices, mount); run by scripts/test"]
fn a_root_that_is_no_slots_device_is_refused_with_67() {
    let b = Booted::new();
    let table = ROOT_DEVICE_TABLE.replace("PARTLABEL=rootfs\\x20a", "PARTLABEL=rootfs-c");
    let d = b.device(&table);
    let o = d.run(&["--print-argv"]);
    assert_eq!(code(&o), 67, "{}", support::stderr(&o));
    let err = support::stderr(&o);
    assert!(err.contains("is no slot's device"), "{err}");
    assert!(
        err.contains("/dev/disk/by-partlabel/rootfs-c does not exist"),
        "{err}"
    );
}
