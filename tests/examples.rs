//! Every configuration in conf.d-examples/ passes `check`, as it would on a device that has the
//! binary, the key and (file mode) the artifact in place.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if t.is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

/// The example as a device root, with the files an image and the agent would add.
fn device(example: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conf.d-examples")
        .join(example);
    copy_tree(&src, root.path());
    let add = |p: &str, text: &str| {
        let p = root.path().join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
    };
    add("usr/bin/swupdate", "#!/bin/sh\n");
    let bin = root.path().join("usr/bin/swupdate");
    fs::set_permissions(bin, fs::Permissions::from_mode(0o755)).unwrap();
    add("etc/swupdate/public.pem", "certificate");
    add("var/lib/swupdate/update.swu", "artifact");
    add(
        "etc/os-release",
        "NAME=\"Product OS\"\nVERSION_ID=\"2026.10\"\n",
    );
    root
}

fn check(example: &str, extra: &[&str]) -> String {
    let root = device(example);
    let o = Command::new(env!("CARGO_BIN_EXE_swupdate-launcher"))
        .arg("--root")
        .arg(root.path())
        .arg("check")
        .args(extra)
        .env_remove("SWUPDATE_PUBLIC_KEY")
        .env_remove("SWUPDATE_BIN")
        .env_remove("SWUPDATE_CONF_DIR_LIB")
        .env_remove("SWUPDATE_CONF_DIR_ETC")
        .env_remove("URL")
        .env_remove("UPDATE_FILE")
        .env_remove("SWUPDATE_SOURCE")
        .env_remove("SWUPDATE_EXTRA_ARGS")
        // SAFETY: getuid has no preconditions.
        .env(
            "SWUPDATE_TRUSTED_UID",
            unsafe { libc::getuid() }.to_string(),
        )
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{example}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn file_example_passes_check_in_file_mode() {
    assert!(check("file", &[]).starts_with("ok: file mode"));
}

#[test]
fn download_example_passes_check_in_download_mode() {
    assert!(check("download", &[]).starts_with("ok: download mode"));
}

#[test]
fn daemon_example_passes_check_in_daemon_mode() {
    assert!(check("daemon", &[]).starts_with("ok: daemon mode"));
}

#[test]
fn every_example_passes_the_image_build_check() {
    for e in ["file", "download", "daemon"] {
        check(e, &["--static"]);
    }
}

#[test]
fn every_example_directory_is_tested() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf.d-examples");
    let mut found: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, ["daemon", "download", "file"]);
}
