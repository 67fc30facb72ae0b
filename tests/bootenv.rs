//! The bootloader environment through the real libubootenv-tool (`fw_printenv`/`fw_setenv` on
//! an environment file of the test's own, described by its own `fw_env.config`): what the
//! launcher reads and writes is what the tools and U-Boot see. Needs libubootenv-tool, so the
//! tests are ignored by `cargo test` and run by scripts/test, which installs it.
#![cfg(feature = "ab")]

use std::fs;
use std::path::Path;
use std::process::Command;

use swupdate_launcher::bootenv::{self, Tools};
use swupdate_launcher::error::Kind;

const ENV_SIZE: usize = 0x4000;

/// An environment of `copies` (1, or 2 for a redundant one) files, never written yet.
fn fresh_env(dir: &Path, copies: usize) -> Tools {
    let mut config = String::new();
    for i in 0..copies {
        let file = dir.join(format!("uboot-env-{i}"));
        fs::write(&file, vec![0u8; ENV_SIZE]).unwrap();
        config.push_str(&format!("{} 0x0 0x{ENV_SIZE:x}\n", file.display()));
    }
    let config_file = dir.join("fw_env.config");
    fs::write(&config_file, config).unwrap();
    Tools {
        printenv: "/usr/bin/fw_printenv".into(),
        setenv: "/usr/bin/fw_setenv".into(),
        config: config_file,
    }
}

/// An environment as U-Boot leaves it after its first `saveenv`: valid, with `vars`.
fn env_with(dir: &Path, copies: usize, vars: &str) -> Tools {
    let tools = fresh_env(dir, copies);
    let mut setenv = Command::new(&tools.setenv);
    let default = dir.join("default-env");
    fs::write(&default, vars).unwrap();
    // Fixture only: the tool itself writes the first valid environment from a default file.
    let status = setenv
        .arg("-c")
        .arg(&tools.config)
        .arg("-f")
        .arg(&default)
        .args(["-s", "/dev/null"])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("fw_setenv (libubootenv-tool) is installed");
    assert!(status.success());
    tools
}

fn printenv_all(tools: &Tools) -> String {
    let out = Command::new(&tools.printenv)
        .arg("-c")
        .arg(&tools.config)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn set_variables_are_read_and_unset_ones_are_none() {
    let dir = tempfile::tempdir().unwrap();
    let tools = env_with(dir.path(), 1, "ustate=1\nboot_part=B\nbootcmd=run a b\n");
    let got = bootenv::read(&tools, &["ustate", "boot_part", "bootcount", "bootcmd"]).unwrap();
    assert_eq!(got["ustate"].as_deref(), Some("1"));
    assert_eq!(got["boot_part"].as_deref(), Some("B"));
    assert_eq!(got["bootcount"], None);
    assert_eq!(got["bootcmd"].as_deref(), Some("run a b"));
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn one_write_sets_and_deletes_and_the_tool_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let tools = env_with(dir.path(), 1, "ustate=1\nbootcount=3\nkeep=me\n");
    bootenv::write(
        &tools,
        &[
            ("ustate".into(), Some("2".into())),
            ("bootcount".into(), None),
            ("note".into(), Some("two words".into())),
        ],
    )
    .unwrap();
    assert_eq!(printenv_all(&tools), "keep=me\nnote=two words\nustate=2\n");
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn a_redundant_environment_is_written_to_the_other_copy_and_read_from_the_newer() {
    let dir = tempfile::tempdir().unwrap();
    let tools = env_with(dir.path(), 2, "ustate=1\n");
    let before: Vec<Vec<u8>> = (0..2)
        .map(|i| fs::read(dir.path().join(format!("uboot-env-{i}"))).unwrap())
        .collect();
    bootenv::write(&tools, &[("ustate".into(), Some("2".into()))]).unwrap();
    let after: Vec<Vec<u8>> = (0..2)
        .map(|i| fs::read(dir.path().join(format!("uboot-env-{i}"))).unwrap())
        .collect();
    let changed = (0..2).filter(|&i| before[i] != after[i]).count();
    assert_eq!(changed, 1, "one copy written, the other kept");
    let got = bootenv::read(&tools, &["ustate"]).unwrap();
    assert_eq!(got["ustate"].as_deref(), Some("2"));
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn an_environment_never_written_is_a_boot_env_error_with_the_tools_words() {
    let dir = tempfile::tempdir().unwrap();
    let tools = fresh_env(dir.path(), 1);
    let e = bootenv::read(&tools, &["ustate"]).unwrap_err();
    assert_eq!(e.kind, Kind::BootEnv);
    assert!(e.message.starts_with("/usr/bin/fw_printenv exited "), "{e}");
    assert!(e.message.contains("Cannot read environment"), "{e}");
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn a_missing_configuration_is_a_boot_env_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut tools = env_with(dir.path(), 1, "ustate=1\n");
    tools.config = dir.path().join("missing.config");
    let e = bootenv::read(&tools, &["ustate"]).unwrap_err();
    assert_eq!(e.kind, Kind::BootEnv);
    let e = bootenv::write(&tools, &[("ustate".into(), Some("2".into()))]).unwrap_err();
    assert_eq!(e.kind, Kind::BootEnv);
    assert!(e.message.starts_with("/usr/bin/fw_setenv exited "), "{e}");
}

#[test]
#[ignore = "needs libubootenv-tool; run by scripts/test"]
fn a_value_read_is_the_one_u_boot_would_see_with_equals_signs_kept() {
    let dir = tempfile::tempdir().unwrap();
    let tools = env_with(dir.path(), 1, "bootargs=root=/dev/mmcblk0p2 rauc.slot=A\n");
    let got = bootenv::read(&tools, &["bootargs"]).unwrap();
    assert_eq!(
        got["bootargs"].as_deref(),
        Some("root=/dev/mmcblk0p2 rauc.slot=A")
    );
}
