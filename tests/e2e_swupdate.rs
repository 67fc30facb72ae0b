//! The launcher exec'ing Debian's real swupdate on real signed `.swu` files: what an update
//! does to its target, and which exit code the caller sees.
//!
//! Every test runs on a device tree of its own (`--root`), with its own `TMPDIR`; a failure
//! test also checks swupdate's message, so that it cannot pass for the wrong reason (the
//! success tests are the control: the same fixture installs when nothing is wrong).
//!
//! Every test here needs Debian's swupdate and openssl, so `cargo test` ignores them;
//! `scripts/test` installs both and runs them (`-- --ignored e2e_swupdate::`). Without them a
//! test fails naming what is missing ([`support::require_tools`]).

use crate::support;

use std::fs;
use std::path::PathBuf;
use std::thread;

use support::{Device, HttpServer, IMAGE_LEN, Pki, Swu, SwuBuilder, prefill};

/// Where the device keeps its public key and the update file.
const KEY: &str = "/etc/swupdate/public.pem";
const UPDATE_FILE: &str = "/var/lib/swupdate/update.swu";

/// The `-H` swupdate needs for the test sw-description.
const HW: &str = "SWUPDATE_EXTRA_ARGS=\"-H board:1.0\"\n";

/// What swupdate prints first when it starts (stdout).
const SWUPDATE_BANNER: &str = "SWUpdate v";

/// A device with the real swupdate and a signing key; a target file pre-filled with known
/// bytes; a signed `.swu` whose raw image goes into that target.
struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    device: Device,
    pki: Pki,
    target: PathBuf,
    untouched: Vec<u8>,
    swu: Swu,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut device = Device::with_swupdate(&dir);
        let pki = Pki::generate(&dir.join("pki"), "signer");
        device.install(KEY, &pki.cert);
        device.set("SWUPDATE_PUBLIC_KEY", KEY);
        let target = dir.join("target.img");
        let untouched = prefill(&target, IMAGE_LEN);
        let swu = SwuBuilder::new(&target).build(&dir.join("update.swu"), &pki);
        Fixture {
            _dir: tmp,
            dir,
            device,
            pki,
            target,
            untouched,
            swu,
        }
    }

    /// File mode: the update file in place, `SWUPDATE_SOURCE=file`.
    fn file_mode() -> Fixture {
        let f = Fixture::new();
        f.device.install(UPDATE_FILE, &f.swu.path);
        f.device.lib(
            "10-source",
            &format!("SWUPDATE_SOURCE=file\nUPDATE_FILE={UPDATE_FILE}\n{HW}"),
        );
        f
    }

    /// Download mode, with the agent's descriptor naming `url`.
    fn download_mode(url: &str, extra: &str) -> Fixture {
        let f = Fixture::new();
        f.device.lib(
            "10-source",
            &format!(
                "SWUPDATE_SOURCE=download\nSWUPDATE_ALLOW_HTTP=yes\n\
                 SWUPDATE_DOWNLOAD_RETRIES=1\nSWUPDATE_DOWNLOAD_TIMEOUT=10\n{HW}{extra}"
            ),
        );
        f.device.etc("descriptor.env", &format!("URL={url}\n"));
        f
    }

    fn target(&self) -> Vec<u8> {
        fs::read(&self.target).unwrap()
    }

    fn assert_target_untouched(&self) {
        assert!(
            self.target() == self.untouched,
            "the target was written to, although the update must have been refused"
        );
    }

    fn assert_target_installed(&self) {
        assert!(
            self.target() == self.swu.image,
            "the target does not hold the image after the update"
        );
    }
}

/// Download mode against a loopback server that serves the fixture's `.swu` as `update.swu`;
/// the descriptor names `requested`. The directory and the server live as long as the tuple.
fn served(requested: &str, extra: &str) -> (Fixture, HttpServer, tempfile::TempDir) {
    let www = tempfile::tempdir().unwrap();
    let server = HttpServer::serve(www.path());
    let f = Fixture::download_mode(&server.url(requested), extra);
    fs::copy(&f.swu.path, www.path().join("update.swu")).unwrap();
    (f, server, www)
}

/// The launcher stopped before the exec: no announcement, no swupdate.
fn assert_swupdate_not_started(o: &support::Outcome) {
    assert!(
        !o.stdout.contains(SWUPDATE_BANNER),
        "swupdate ran:\n{}",
        o.stdout
    );
    assert!(
        !o.stderr.contains("file mode: installing"),
        "the launcher announced the exec:\n{}",
        o.stderr
    );
}

fn assert_output_contains(o: &support::Outcome, needle: &str) {
    assert!(
        o.output().contains(needle),
        "expected {needle:?} in the output\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.stdout,
        o.stderr
    );
}

/// The archive the `.swu` builder writes is `cpio -o -H crc`'s, byte for byte, for the same
/// files: the tests install what a user packs with the documented command (scripts/test
/// installs cpio for this test only).
#[test]
#[ignore = "needs Debian's swupdate, openssl and cpio; run by scripts/test"]
fn the_swu_builder_writes_the_archive_cpio_writes() {
    let f = Fixture::new();
    let parts = f.dir.join("update.swu.parts");
    let names = ["sw-description", "sw-description.sig", support::IMAGE_NAME];
    let cpio = std::process::Command::new("cpio")
        .args(["-o", "-H", "crc", "--quiet"])
        .current_dir(&parts)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let mut cpio = cpio.expect("cpio is installed (scripts/test installs it)");
    let list = names.map(|n| format!("{n}\n")).concat();
    std::io::Write::write_all(&mut cpio.stdin.take().unwrap(), list.as_bytes()).unwrap();
    let packed = cpio.wait_with_output().unwrap();
    assert!(packed.status.success(), "cpio failed: {}", packed.status);
    let written = support::newc_archive(&parts, &names);
    assert!(
        written.bytes == packed.stdout,
        "the builder's archive differs from cpio's"
    );
    assert_eq!(fs::read(&f.swu.path).unwrap(), packed.stdout);
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn file_mode_installs_the_raw_image_into_the_target() {
    let f = Fixture::file_mode();
    let o = f.device.launch();
    o.assert_code(0);
    assert_output_contains(&o, SWUPDATE_BANNER);
    f.assert_target_installed();
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn download_mode_streams_the_swu_from_the_server_and_installs_it() {
    let (f, server, _www) = served("update.swu", "");
    let o = f.device.launch();
    o.assert_code(0);
    f.assert_target_installed();
    assert!(
        server.count("GET", "/update.swu") >= 1,
        "swupdate did not GET the update: {:?}",
        server.requests()
    );
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn tampered_image_fails_with_exit_1_and_leaves_the_target_untouched() {
    let f = Fixture::file_mode();
    let tampered = f.swu.tampered(&f.dir.join("tampered.swu"));
    f.device.install(UPDATE_FILE, &tampered);
    let o = f.device.launch();
    o.assert_code(1);
    assert_output_contains(&o, "HASH mismatch");
    f.assert_target_untouched();
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn image_signed_with_another_key_fails_with_exit_1_and_leaves_the_target_untouched() {
    let f = Fixture::file_mode();
    let other = Pki::generate(&f.dir.join("other"), "other");
    assert_ne!(
        fs::read(&other.cert).unwrap(),
        fs::read(&f.pki.cert).unwrap()
    );
    f.device.install(KEY, &other.cert);
    let o = f.device.launch();
    o.assert_code(1);
    assert_output_contains(&o, "Authentication of all signatures failed");
    f.assert_target_untouched();
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn download_of_a_missing_url_fails_with_exit_1_and_leaves_the_target_untouched() {
    // Without the launcher's own preflight (`streaming` builds), so swupdate's downloader meets
    // the 404 and its failure is what the caller sees.
    let (f, server, _www) = served("missing.swu", "SWUPDATE_PREFLIGHT=no\n");
    let o = f.device.launch();
    o.assert_code(1);
    assert_output_contains(&o, SWUPDATE_BANNER);
    assert!(
        server.count("GET", "/missing.swu") >= 1,
        "swupdate did not ask for the URL: {:?}",
        server.requests()
    );
    f.assert_target_untouched();
}

/// With the `streaming` feature the launcher asks the server first and starts nothing.
#[cfg(feature = "streaming")]
#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn download_of_a_missing_url_is_refused_by_the_preflight_with_85_before_swupdate() {
    let (f, server, _www) = served("missing.swu", "SWUPDATE_PREFLIGHT_BUDGET=0\n");
    let o = f.device.launch();
    o.assert_code(85);
    assert_swupdate_not_started(&o);
    assert_eq!(
        server.count("GET", "/missing.swu"),
        0,
        "{:?}",
        server.requests()
    );
    assert!(
        server.count("HEAD", "/missing.swu") >= 1,
        "{:?}",
        server.requests()
    );
    f.assert_target_untouched();
}

/// Anti-rollback (on by default in file mode): the launcher passes the running version as `-N`,
/// and swupdate refuses a release older than it.
#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn an_older_release_is_refused_by_anti_rollback_with_exit_1_and_the_target_untouched() {
    let f = Fixture::file_mode();
    let older = SwuBuilder::new(&f.target)
        .version("0.5.0")
        .build(&f.dir.join("older.swu"), &f.pki);
    f.device.install(UPDATE_FILE, &older.path);
    let o = f.device.launch();
    o.assert_code(1);
    assert_output_contains(&o, "No downgrading allowed");
    f.assert_target_untouched();
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn a_configured_key_that_does_not_exist_exits_66_and_swupdate_never_starts() {
    let f = Fixture::file_mode();
    fs::remove_file(f.device.host(KEY)).unwrap();
    let o = f.device.launch();
    o.assert_code(66);
    let key = f.device.host(KEY);
    assert!(
        o.stderr.contains(&key.display().to_string()),
        "the error does not name the key {}:\n{}",
        key.display(),
        o.stderr
    );
    assert_swupdate_not_started(&o);
    f.assert_target_untouched();
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn a_missing_update_file_exits_66_naming_it() {
    let f = Fixture::file_mode();
    fs::remove_file(f.device.host(UPDATE_FILE)).unwrap();
    let o = f.device.launch();
    o.assert_code(66);
    let update = f.device.host(UPDATE_FILE).display().to_string();
    o.assert_stderr_contains(&update);
    assert_swupdate_not_started(&o);
    f.assert_target_untouched();
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn a_missing_swupdate_binary_exits_127() {
    let mut f = Fixture::file_mode();
    f.device
        .set("SWUPDATE_BIN", "/usr/bin/swupdate-not-installed");
    let o = f.device.launch();
    o.assert_code(127);
    let bin = f.device.host("/usr/bin/swupdate-not-installed");
    o.assert_stderr_contains(&bin.display().to_string());
    f.assert_target_untouched();
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn a_swupdate_binary_without_execute_permission_exits_126() {
    let mut f = Fixture::file_mode();
    let bin = f
        .device
        .write("/usr/bin/swupdate-noexec", "#!/bin/sh\nexit 0\n")
        .host("/usr/bin/swupdate-noexec");
    f.device.set("SWUPDATE_BIN", "/usr/bin/swupdate-noexec");
    let o = f.device.launch();
    o.assert_code(126);
    o.assert_stderr_contains(&bin.display().to_string());
    f.assert_target_untouched();
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn a_command_substitution_in_a_fragment_exits_65_at_its_file_line_and_column() {
    let f = Fixture::file_mode();
    let line = "SWUPDATE_EXTRA_ARGS=\"-H board:$(cat /etc/hwrevision)\"";
    let fragment = f
        .device
        .etc("50-hwrevision", &format!("# read at boot\n{line}\n"))
        .host("/etc/swupdate/conf.d/50-hwrevision");
    let column = line.find("$(").unwrap() + 1;
    let o = f.device.launch();
    o.assert_code(65);
    let at = format!("{}:2:{column}", fragment.display());
    assert!(
        o.stderr.contains(&at),
        "the error is not located at {at}:\n{}",
        o.stderr
    );
    assert_swupdate_not_started(&o);
    f.assert_target_untouched();
}

/// swupdate's sockets live in `$TMPDIR`: with one directory per device, two updates at once
/// both succeed (with a shared one, one of them fails and the other hangs).
#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn two_updates_at_once_with_their_own_tmpdir_both_succeed() {
    let fixtures = [Fixture::file_mode(), Fixture::file_mode()];
    assert_ne!(fixtures[0].device.tmpdir, fixtures[1].device.tmpdir);
    let outcomes: Vec<support::Outcome> = thread::scope(|s| {
        let runs: Vec<_> = fixtures
            .iter()
            .map(|f| s.spawn(|| f.device.launch()))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for (f, o) in fixtures.iter().zip(&outcomes) {
        o.assert_code(0);
        f.assert_target_installed();
    }
}

// --- anti-rollback with the real swupdate: the device runs RUNNING_VERSION (0.9) ---

fn with_release(f: &Fixture, version: &str) {
    let swu = SwuBuilder::new(&f.target)
        .version(version)
        .build(&f.dir.join(format!("release-{version}.swu")), &f.pki);
    f.device.install(UPDATE_FILE, &swu.path);
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn the_running_release_installs_again_by_default() {
    let f = Fixture::file_mode();
    with_release(&f, support::RUNNING_VERSION);
    f.device.launch().assert_code(0);
    f.assert_target_installed();
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn the_running_release_is_refused_when_reinstalling_is_off() {
    let f = Fixture::file_mode();
    with_release(&f, support::RUNNING_VERSION);
    f.device.lib("30-rollback", "SWUPDATE_REINSTALL=no\n");
    let o = f.device.launch();
    o.assert_code(1);
    assert_output_contains(
        &o,
        "No reinstalling allowed: new version 0.9 == installed 0.9",
    );
    f.assert_target_untouched();
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn an_older_release_installs_when_the_image_allows_downgrades() {
    let f = Fixture::file_mode();
    with_release(&f, "0.5.0");
    f.device.lib("30-rollback", "SWUPDATE_ANTI_ROLLBACK=no\n");
    f.device.launch().assert_code(0);
    f.assert_target_installed();
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn a_release_above_the_maximum_is_refused() {
    let f = Fixture::file_mode();
    with_release(&f, "3.0.0");
    f.device.lib("30-rollback", "SWUPDATE_MAX_VERSION=2.0.0\n");
    let o = f.device.launch();
    o.assert_code(1);
    f.assert_target_untouched();
}

// --- a verification stage with the real swupdate ---

/// A whole-pack format of the tests: the `.swu` wrapped in a CMS signature (DER, content
/// embedded), as a company-wide signing service would produce it.
fn pack(swu: &std::path::Path, signer: &Pki, out: &std::path::Path) {
    let st = std::process::Command::new("openssl")
        .args([
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-outform",
            "DER",
            "-in",
        ])
        .arg(swu)
        .arg("-signer")
        .arg(&signer.cert)
        .arg("-inkey")
        .arg(&signer.key)
        .arg("-out")
        .arg(out)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Unwraps the pack after checking its signature against the pack CA; exit 1 when it does not
/// verify (the security-violation convention). `ca` is where the CA is on this machine.
fn unpack(ca: &std::path::Path) -> String {
    format!(
        "#!/bin/sh\nopenssl cms -verify -inform DER -binary -purpose any -CAfile {} 2>/dev/null || exit 1\n",
        ca.display()
    )
}

/// The unprivileged user the program runs as: nobody under root (CI); ourselves otherwise.
fn verify_user() -> String {
    // SAFETY: getuid/getgid have no preconditions.
    unsafe {
        if libc::getuid() == 0 {
            "65534:65534".to_string()
        } else {
            format!("{}:{}", libc::getuid(), libc::getgid())
        }
    }
}

/// Installs the pack CA and the unpacking program on `f`'s device; returns the pack signer.
fn add_verification_stage(f: &Fixture, extra: &str) -> Pki {
    let packer = Pki::generate(&f.dir.join("pack-pki"), "packer");
    let ca = f
        .device
        .install("/etc/pack-ca.pem", &packer.cert)
        .host("/etc/pack-ca.pem");
    f.device
        .write_executable("/usr/libexec/unpack", &unpack(&ca));
    f.device.lib(
        "40-verify",
        &format!(
            "SWUPDATE_VERIFY_PROGRAM=/usr/libexec/unpack\nSWUPDATE_VERIFY_USER={}\n{extra}",
            verify_user()
        ),
    );
    packer
}

fn verifying_fixture() -> (Fixture, Pki) {
    let f = Fixture::file_mode();
    let packer = add_verification_stage(&f, "");
    (f, packer)
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn a_pack_that_verifies_is_unwrapped_and_installed() {
    let (f, packer) = verifying_fixture();
    let p = f.dir.join("update.pack");
    pack(&f.swu.path, &packer, &p);
    f.device.install(UPDATE_FILE, &p);
    let o = f.device.launch();
    o.assert_code(0);
    f.assert_target_installed();
    let dir = f.device.host("/var/lib/swupdate/verify");
    assert_eq!(
        fs::read_dir(dir).unwrap().count(),
        0,
        "no private copy left"
    );
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn a_pack_with_a_bad_signature_is_a_security_violation_and_nothing_is_installed() {
    let (f, packer) = verifying_fixture();
    let p = f.dir.join("update.pack");
    pack(&f.swu.path, &packer, &p);
    let mut bytes = fs::read(&p).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    f.device.write_bytes(UPDATE_FILE, &bytes);
    let o = f.device.launch();
    o.assert_code(90);
    assert_output_contains(&o, "security violation");
    assert_swupdate_not_started(&o);
    f.assert_target_untouched();
}

#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn a_pack_signed_by_someone_else_is_a_security_violation() {
    let (f, _) = verifying_fixture();
    let stranger = Pki::generate(&f.dir.join("stranger"), "stranger");
    let p = f.dir.join("update.pack");
    pack(&f.swu.path, &stranger, &p);
    f.device.install(UPDATE_FILE, &p);
    f.device.launch().assert_code(90);
    f.assert_target_untouched();
}

/// Download mode with a verification stage: the launcher downloads the pack itself (the
/// program must see all of it), verifies it, and swupdate installs the verified copy.
#[cfg(feature = "streaming")]
fn download_and_verify(
    pack_signer: fn(&Fixture, &Pki) -> Pki,
) -> (Fixture, support::Outcome, HttpServer) {
    let www = tempfile::tempdir().unwrap();
    let server = HttpServer::serve(www.path());
    let f = Fixture::download_mode(&server.url("update.pack"), "");
    let packer = add_verification_stage(&f, "SWUPDATE_PREFLIGHT_BUDGET=0\n");
    let signer = pack_signer(&f, &packer);
    pack(&f.swu.path, &signer, &www.path().join("update.pack"));
    let o = f.device.launch();
    (f, o, server)
}

#[cfg(feature = "streaming")]
#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn download_mode_with_a_verification_stage_downloads_verifies_and_installs() {
    let (f, o, server) = download_and_verify(|_, packer| Pki {
        key: packer.key.clone(),
        cert: packer.cert.clone(),
    });
    o.assert_code(0);
    f.assert_target_installed();
    assert_eq!(
        server.count("GET", "/update.pack"),
        1,
        "{:?}",
        server.requests()
    );
    let dir = f.device.host("/var/lib/swupdate/verify");
    assert_eq!(
        fs::read_dir(dir).unwrap().count(),
        0,
        "no private copy left"
    );
}

#[cfg(feature = "streaming")]
#[test]
#[ignore = "needs Debian's swupdate and openssl; run by scripts/test"]
fn a_downloaded_pack_from_a_foreign_signer_is_a_security_violation() {
    let (f, o, _) = download_and_verify(|f, _| Pki::generate(&f.dir.join("stranger"), "stranger"));
    o.assert_code(90);
    assert_swupdate_not_started(&o);
    f.assert_target_untouched();
}
