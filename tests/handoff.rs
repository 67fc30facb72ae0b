//! The management agent's handoff: what descriptor.env may say, who may have written the
//! configuration, and what happens to a descriptor once it was used.

use crate::support;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use support::{Device, stderr};

#[test]
fn a_descriptor_with_only_the_url_is_accepted() {
    let o = Device::download().run(&["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_descriptor_setting_anything_else_is_refused() {
    for var in [
        "SWUPDATE_PUBLIC_KEY=/tmp/k.pem",
        "SWUPDATE_EXTRA_ARGS=-v",
        "SWUPDATE_ARGS=",
        "SWUPDATE_BIN=/tmp/evil",
        "SWUPDATE_SOURCE=file",
        "UPDATE_FILE=/tmp/x.swu",
        "SWUPDATE_ALLOW_HTTP=yes",
        "SWUPDATE_STRICT_MODES=no",
    ] {
        let r = Device::download();
        r.etc(
            "descriptor.env",
            &format!("URL=https://updates.example.com/fw.swu\n{var}\n"),
        );
        let o = r.run(&["--print-argv"]);
        assert_eq!(o.status.code(), Some(65), "{var}");
        let name = var.split('=').next().unwrap();
        assert!(
            stderr(&o).contains(&format!(
                "descriptor.env:2: descriptor.env may only set URL, not {name}"
            )),
            "{var}: {}",
            stderr(&o)
        );
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn plain_http_from_the_agent_is_refused_unless_the_image_allows_it() {
    let r = Device::download();
    r.etc("descriptor.env", "URL=http://updates.example.com/fw.swu\n");
    let o = r.run(&["check"]);
    assert_eq!(o.status.code(), Some(65));
    assert!(stderr(&o).contains("plain http"), "{}", stderr(&o));
    r.lib("20-http", "SWUPDATE_ALLOW_HTTP=yes\n");
    assert_eq!(r.run(&["check"]).status.code(), Some(0));
}

#[test]
fn a_group_writable_fragment_is_refused_naming_file_and_mode() {
    let r = Device::download();
    let f = r.host("/usr/lib/swupdate/conf.d/10-source");
    fs::set_permissions(&f, fs::Permissions::from_mode(0o664)).unwrap();
    let o = r.run(&["check"]);
    assert_eq!(o.status.code(), Some(65));
    assert!(
        stderr(&o).contains(&format!(
            "{}: refusing a configuration file that is writable by group (mode 0664)",
            f.display()
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_world_writable_conf_directory_is_refused() {
    let r = Device::download();
    let d = r.host("/etc/swupdate/conf.d");
    fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
    let o = r.run(&["check"]);
    assert_eq!(o.status.code(), Some(65));
    assert!(
        stderr(&o).contains(
            "refusing a configuration directory that is writable by group and others (mode 0777)"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_world_writable_environment_file_is_refused() {
    let r = Device::download();
    let f = r.host("/etc/default/swupdate");
    fs::set_permissions(&f, fs::Permissions::from_mode(0o646)).unwrap();
    assert_eq!(r.run(&["check"]).status.code(), Some(65));
}

/// Makes `device` look owned by someone else: chown as root; otherwise trust another uid.
fn owned_by_another_user(r: &Device, device: &str) -> Vec<(&'static str, String)> {
    let p = r.host(device);
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: chown on a path we created.
    if unsafe { libc::chown(c.as_ptr(), 4242, 4242) } == 0 {
        Vec::new()
    } else {
        // Not root: the test's files are "another user's" when another uid is trusted.
        // SAFETY: getuid has no preconditions.
        vec![(
            "SWUPDATE_TRUSTED_UID",
            (unsafe { libc::getuid() } + 1).to_string(),
        )]
    }
}

#[test]
fn a_fragment_owned_by_another_user_is_refused() {
    let r = Device::download();
    let env = owned_by_another_user(&r, "/usr/lib/swupdate/conf.d/10-source");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let o = r.run_env(&["check"], &env);
    assert_eq!(o.status.code(), Some(65));
    assert!(stderr(&o).contains("is owned by uid"), "{}", stderr(&o));
}

#[test]
#[ignore = "needs root (chown to another uid); run by scripts/test"]
fn the_agent_user_may_own_the_descriptor_only() {
    let r = Device::download();
    let p = r.host("/etc/swupdate/conf.d/descriptor.env");
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: chown on a path we created.
    if unsafe { libc::chown(c.as_ptr(), 4242, 4242) } != 0 {
        panic!("this test needs root (scripts/test runs as root in CI)");
    }
    assert_eq!(
        r.run(&["check"]).status.code(),
        Some(65),
        "no agent configured"
    );
    let agent = [("SWUPDATE_AGENT_UID", "4242")];
    let o = r.run_env(&["check"], &agent);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let p = r.host("/usr/lib/swupdate/conf.d/10-source");
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: as above.
    unsafe { libc::chown(c.as_ptr(), 4242, 4242) };
    assert_eq!(r.run_env(&["check"], &agent).status.code(), Some(65));
}

#[test]
fn strict_modes_can_be_turned_off_in_the_environment_file_only() {
    let r = Device::download();
    let f = r.host("/usr/lib/swupdate/conf.d/10-source");
    fs::set_permissions(&f, fs::Permissions::from_mode(0o666)).unwrap();
    r.write(
        "/etc/default/swupdate",
        "SWUPDATE_PUBLIC_KEY=/etc/swupdate/public.pem\nSWUPDATE_STRICT_MODES=no\n",
    );
    assert_eq!(r.run(&["check"]).status.code(), Some(0));
}

#[test]
fn a_used_descriptor_is_moved_aside_so_a_restart_does_not_repeat_it() {
    let r = Device::download();
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!r.host("/etc/swupdate/conf.d/descriptor.env").exists());
    assert_eq!(
        fs::read_to_string(r.host("/etc/swupdate/conf.d/.descriptor.env.last")).unwrap(),
        "URL=https://updates.example.com/fw.swu\n"
    );
    let again = r.run(&[]);
    assert_eq!(again.status.code(), Some(65));
    assert!(stderr(&again).contains("needs URL"), "{}", stderr(&again));
}

#[test]
fn check_and_print_argv_leave_the_descriptor_in_place() {
    let r = Device::download();
    r.run(&["check"]);
    r.run(&["--print-argv"]);
    r.run(&["explain"]);
    assert!(r.host("/etc/swupdate/conf.d/descriptor.env").exists());
}

#[test]
fn strict_modes_takes_yes_or_no_only() {
    let r = Device::download();
    r.write(
        "/etc/default/swupdate",
        "SWUPDATE_PUBLIC_KEY=/etc/swupdate/public.pem\nSWUPDATE_STRICT_MODES=off\n",
    );
    let o = r.run(&["check"]);
    assert_eq!(o.status.code(), Some(65));
    assert!(
        stderr(&o).contains("SWUPDATE_STRICT_MODES: `off` is neither yes nor no"),
        "{}",
        stderr(&o)
    );
}

/// The race of the old design, made deterministic: the agent writes the next descriptor while
/// this start is past its read (the preflight or verification runs). The claim (a rename
/// before the read) leaves the new one for the next start; nothing is lost or replayed.
#[test]
fn a_descriptor_written_while_a_start_runs_is_left_for_the_next_start() {
    use swupdate_launcher::config::load::{self, Request};
    use swupdate_launcher::rootfs;
    let r = Device::download();
    let root = rootfs::Root::new(Some(r.path().to_path_buf()));
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() }.to_string();
    let env = move |n: &str| (n == "SWUPDATE_TRUSTED_UID").then(|| uid.clone());
    let start = || {
        load::load(&Request {
            env_file: None,
            root: &root,
            env: &env,
            claim: true,
            local_update: false,
        })
        .unwrap()
        .vars
        .value("URL")
        .map(str::to_string)
    };
    assert_eq!(
        start().as_deref(),
        Some("https://updates.example.com/fw.swu")
    );
    // Between the claim and the exec of the first start:
    r.etc(
        "descriptor.env",
        "URL=https://updates.example.com/next.swu\n",
    );
    assert_eq!(
        fs::read_to_string(r.host("/etc/swupdate/conf.d/.descriptor.env.last")).unwrap(),
        "URL=https://updates.example.com/fw.swu\n",
        "the used descriptor is kept aside"
    );
    assert_eq!(
        start().as_deref(),
        Some("https://updates.example.com/next.swu")
    );
    assert_eq!(start(), None, "a used descriptor is never replayed");
}

#[test]
fn each_start_installs_its_own_descriptor_end_to_end() {
    let r = Device::download();
    // The stub swupdate records its -d string, then the agent's next write lands.
    r.write_executable(
        "/usr/bin/swupdate",
        &format!(
            "#!/bin/sh\nfor a; do echo \"$a\"; done | grep '^-u ' >> {}/installed\n",
            r.path().display()
        ),
    );
    assert_eq!(r.run(&[]).status.code(), Some(0));
    r.etc(
        "descriptor.env",
        "URL=https://updates.example.com/second.swu\n",
    );
    assert_eq!(r.run(&[]).status.code(), Some(0));
    assert_eq!(r.run(&[]).status.code(), Some(65), "nothing left to replay");
    let got = fs::read_to_string(r.host("/installed")).unwrap();
    let urls: Vec<&str> = got
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            "https://updates.example.com/fw.swu",
            "https://updates.example.com/second.swu"
        ]
    );
}

#[test]
fn a_start_that_fails_before_swupdate_gives_the_descriptor_back() {
    let r = Device::download();
    // The key is gone: refused (66) after the claim, swupdate never ran.
    fs::remove_file(r.host("/etc/swupdate/public.pem")).unwrap();
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(r.host("/etc/swupdate/conf.d/descriptor.env")).unwrap(),
        "URL=https://updates.example.com/fw.swu\n",
        "an unused handoff is not lost"
    );
}

#[test]
fn a_newer_descriptor_wins_over_one_given_back() {
    use swupdate_launcher::config::load::{self, Request};
    use swupdate_launcher::rootfs;
    let r = Device::download();
    let root = rootfs::Root::new(Some(r.path().to_path_buf()));
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() }.to_string();
    let env = move |n: &str| (n == "SWUPDATE_TRUSTED_UID").then(|| uid.clone());
    let loaded = load::load(&Request {
        env_file: None,
        root: &root,
        env: &env,
        claim: true,
        local_update: false,
    })
    .unwrap();
    r.etc(
        "descriptor.env",
        "URL=https://updates.example.com/newer.swu\n",
    );
    loaded.release_claim();
    assert_eq!(
        fs::read_to_string(r.host("/etc/swupdate/conf.d/descriptor.env")).unwrap(),
        "URL=https://updates.example.com/newer.swu\n"
    );
}

#[test]
fn a_claimed_descriptor_that_is_refused_is_given_back_unchanged() {
    let r = Device::download();
    r.etc(
        "descriptor.env",
        "URL=https://a.example/x\nSWUPDATE_BIN=/evil\n",
    );
    let o = r.run(&[]);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(r.host("/etc/swupdate/conf.d/descriptor.env").exists());
}

// --- the descriptor is the OTA path's alone (issue #19 point 6) ---

const DESCRIPTOR: &str = "/etc/swupdate/conf.d/descriptor.env";

#[test]
fn a_local_update_leaves_the_pending_ota_descriptor_for_its_own_start() {
    let r = Device::download();
    let o = r.outcome(&["--update-file", "/data/update.swu"]);
    o.assert_code(0);
    assert_eq!(
        std::fs::read_to_string(r.host(DESCRIPTOR)).unwrap(),
        "URL=https://updates.example.com/fw.swu\n",
        "the OTA handoff is still there, unclaimed"
    );
}

#[test]
fn a_malformed_descriptor_does_not_stop_a_local_update() {
    let r = Device::download();
    r.etc("descriptor.env", "SWUPDATE_PUBLIC_KEY=/tmp/agents.pem\n");
    r.outcome(&["--update-file", "/data/update.swu"])
        .assert_code(0);
    // The OTA path still refuses it, with its reason.
    r.outcome(&["check"])
        .assert_code(65)
        .assert_stderr_contains("descriptor.env");
}

#[test]
fn a_malformed_descriptor_does_not_stop_the_daemon() {
    let r = Device::download();
    r.lib("10-source", "SWUPDATE_SOURCE=daemon\n");
    r.etc("descriptor.env", "URL=\"unterminated\n");
    r.outcome(&["check"]).assert_code(0);
}
