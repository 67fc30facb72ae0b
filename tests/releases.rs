//! The option table against the real swupdate binaries: Debian bookworm's 2022.12 on this host,
//! trixie's 2024.12.1 and sid's 2026.05.1(+git) in the Debian roots that
//! `SWUPDATE_LAUNCHER_RELEASE_ROOTS="trixie=/root/a sid=/root/b"` names. Every test here is
//! ignored by `cargo test`: `scripts/test-releases` builds the roots, sets the variable and runs
//! them (as root, for chroot); without a root a test fails naming what is missing. Every
//! spelling of every option is tried on every binary: the table must say exactly which ones
//! each release accepts, and the result is `docs/compatibility.md`, which must match the
//! committed file (`SWUPDATE_LAUNCHER_WRITE_DOCS=1` rewrites it).

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use swupdate_launcher::swupdate::Release;
use swupdate_launcher::swupdate::getopt::{Arg, Opt, Role};
use swupdate_launcher::swupdate::options::OPTIONS;

/// One real swupdate: its Debian release name, the root it lives in (`None`: this host).
struct Binary {
    suite: String,
    root: Option<PathBuf>,
    release: Release,
}

fn command(b: &Binary, args: &[&str]) -> Command {
    let mut c = Command::new("timeout");
    c.arg("20");
    match &b.root {
        Some(r) => {
            c.arg("chroot").arg(r).arg("/usr/bin/swupdate");
        }
        None => {
            c.arg(support::SWUPDATE);
        }
    }
    c.args(args).env("TMPDIR", std::env::temp_dir());
    c
}

fn package_version(root: Option<&Path>) -> String {
    let mut c = match root {
        Some(r) => {
            let mut c = Command::new("chroot");
            c.arg(r).arg("dpkg-query");
            c
        }
        None => Command::new("dpkg-query"),
    };
    let out = c
        .args(["-W", "-f", "${Version}", "swupdate"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Debian releases whose binaries are checked, in the order of docs/compatibility.md's
/// columns: this host's, then the roots `SWUPDATE_LAUNCHER_RELEASE_ROOTS` names.
const SUITES: [&str; 3] = ["bookworm", "trixie", "sid"];

/// What a test that found no binary of a release says.
fn missing_roots() -> String {
    format!(
        "these tests need the Debian roots of trixie and sid, named by \
         SWUPDATE_LAUNCHER_RELEASE_ROOTS=\"trixie=DIR sid=DIR\" (it is {:?}): \
         run scripts/test-releases, which builds them and sets it",
        std::env::var("SWUPDATE_LAUNCHER_RELEASE_ROOTS").ok()
    )
}

/// Every binary of [`SUITES`]; fails the test, naming what is missing, unless all are there.
fn binaries() -> Vec<Binary> {
    support::require_tools();
    let mut v = vec![Binary {
        suite: "bookworm".into(),
        root: None,
        release: Release::parse(&package_version(None)).expect("bookworm's swupdate version"),
    }];
    let spec = std::env::var("SWUPDATE_LAUNCHER_RELEASE_ROOTS")
        .unwrap_or_else(|_| panic!("{}", missing_roots()));
    for item in spec.split_whitespace() {
        let (suite, root) = item.split_once('=').expect("SUITE=ROOT");
        let root = PathBuf::from(root);
        let release = Release::parse(&package_version(Some(&root))).unwrap_or_else(|| {
            panic!(
                "no swupdate package in {suite}'s root {}; {}",
                root.display(),
                missing_roots()
            )
        });
        v.push(Binary {
            suite: suite.into(),
            root: Some(root),
            release,
        });
    }
    let suites: Vec<&str> = v.iter().map(|b| b.suite.as_str()).collect();
    assert!(suites == SUITES, "found {suites:?}; {}", missing_roots());
    v
}

/// Whether the binary's getopt_long takes this spelling: swupdate is run with it and `-h`
/// after it (which prints the help and exits once every option before it was read).
fn accepts(b: &Binary, o: &Opt, spelling: &str) -> bool {
    let mut args = vec![spelling];
    if o.arg == Arg::Required {
        args.push("/nonexistent");
    }
    args.push("-h");
    let out = command(b, &args).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    !(text.contains("invalid option")
        || text.contains("unrecognized option")
        || text.contains("ambiguous"))
}

#[test]
#[ignore = "needs Debian's swupdate and openssl, the trixie and sid roots, and root (chroot); run by scripts/test-releases"]
fn each_real_binary_accepts_exactly_the_options_of_its_release() {
    let bins = binaries();
    let mut seen: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for o in OPTIONS {
        for (s, since) in o.spellings_since() {
            for b in &bins {
                let real = accepts(b, o, &s);
                seen.entry(s.clone()).or_default().push(real);
                let expected = since <= b.release;
                // A build option may leave an option out; never in.
                if real && !expected || !real && expected && o.build.is_none() {
                    wrong.push(format!(
                        "{s} on {} ({}): swupdate {} it, the table says {}",
                        b.suite,
                        b.release,
                        if real { "accepts" } else { "refuses" },
                        since
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the table disagrees with real swupdate:\n{}",
        wrong.join("\n")
    );

    let doc = compatibility_doc(&bins, &seen);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/compatibility.md");
    if std::env::var_os("SWUPDATE_LAUNCHER_WRITE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &doc).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == doc,
        "docs/compatibility.md differs from what the real binaries say; rerun scripts/test-releases with SWUPDATE_LAUNCHER_WRITE_DOCS=1 and commit it:\n{doc}"
    );
}

/// A fact read from a binary's `--version` and `-h` output.
type Fact = fn(&str, &str) -> String;

fn compatibility_doc(bins: &[Binary], seen: &BTreeMap<String, Vec<bool>>) -> String {
    let mut d = String::from(
        "# swupdate releases and their options\n\n\
         Generated by `tests/releases.rs` (`scripts/test-releases`) from Debian's real binaries; do not edit.\n\
         ✓: the binary's getopt_long accepts it; ✗: \"invalid/unrecognized option\". \"since\" is the\n\
         release that introduced it (core/swupdate.c of each tag); \"launcher\" is what the launcher\n\
         does with it in `SWUPDATE_ARGS`: passed on, refused because a variable sets it, or refused\n\
         because it makes swupdate print and exit. An option of a later release than `SWUPDATE_VERSION`\n\
         is refused naming both. Where a build option compiles it in, a build (Debian's or\n\
         meta-swupdate's) may lack it.\n\n",
    );
    d.push_str(&facts_table(bins));
    d.push_str(&options_table(bins, seen));
    d
}

/// What each binary says about itself (`--version`, `-h`): one row a [`Fact`].
fn facts_table(bins: &[Binary]) -> String {
    let mut d = String::new();
    d.push_str("## What each binary says about itself\n\n| | ");
    d.push_str(
        &bins
            .iter()
            .map(|b| format!("{} {}", b.suite, b.release))
            .collect::<Vec<_>>()
            .join(" | "),
    );
    d.push_str(" |\n|---|");
    for _ in bins {
        d.push_str("---|");
    }
    d.push('\n');
    let facts: [(&str, Fact); 3] = [
        ("`--version` prints", |v, _| {
            format!("`{}`", v.lines().next().unwrap_or("").trim())
        }),
        (
            "suricatta modules in `-h` (several: `-S` needed)",
            |_, h| {
                let names: Vec<&str> = h
                    .lines()
                    .filter_map(|l| l.trim().strip_prefix("Options for suricatta module '"))
                    .filter_map(|l| l.split('\'').next())
                    .collect();
                if names.is_empty() {
                    "one (not named)".into()
                } else {
                    names.join(", ")
                }
            },
        ),
        ("`--digest-provider` in `-h`", |_, h| {
            if h.contains("--digest-provider") {
                "yes".into()
            } else {
                "no".into()
            }
        }),
    ];
    for (what, f) in facts {
        d.push_str(&format!("| {what} |"));
        for b in bins {
            let v = command(b, &["--version"]).output().unwrap();
            let h = command(b, &["-h"]).output().unwrap();
            let text = |o: &std::process::Output| {
                String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr)
            };
            d.push_str(&format!(" {} |", f(&text(&v), &text(&h))));
        }
        d.push('\n');
    }
    d
}

/// Each option's spellings: since when, which binary takes it, what the launcher does with it.
fn options_table(bins: &[Binary], seen: &BTreeMap<String, Vec<bool>>) -> String {
    let mut d = String::new();
    d.push_str("\n## Options\n\n");
    d.push_str("| option | since | build option |");
    for b in bins {
        d.push_str(&format!(" {} {} |", b.suite, b.release));
    }
    d.push_str(" launcher |\n|---|---|---|");
    for _ in bins {
        d.push_str("---|");
    }
    d.push_str("---|\n");
    for o in OPTIONS {
        for (s, since) in o.spellings_since() {
            let since_text = if since == swupdate_launcher::swupdate::release::AFTER_2026_05_1 {
                "after 2026.05.1".to_string()
            } else {
                since.to_string()
            };
            d.push_str(&format!(
                "| `{s}` | {since_text} | {} |",
                o.build.unwrap_or("")
            ));
            for ok in &seen[&s] {
                d.push_str(if *ok { " ✓ |" } else { " ✗ |" });
            }
            let role = match o.role {
                Role::Free => "passed on".to_string(),
                Role::Owned(v) => format!("refused: set {v}"),
                Role::Exits => "refused: prints and exits".to_string(),
            };
            d.push_str(&format!(" {role} |\n"));
        }
    }
    d
}

/// Runs the launcher's argv in the root, with the test directory bound at /mnt in a private
/// mount namespace (the cached root itself is not changed).
fn run_in_root(root: &Path, dir: &Path, argv: &[String]) -> std::process::Output {
    let dir_s = dir.to_str().unwrap();
    let mut words: Vec<String> = argv.iter().map(|w| w.replace(dir_s, "/mnt")).collect();
    words[0] = "/usr/bin/swupdate".into();
    let script = format!(
        "mount --bind {} {r}/mnt && mount -t tmpfs none {r}/tmp && mount -t tmpfs none {r}/run && mkdir {r}/run/swupdate && exec chroot {r} env TMPDIR=/tmp RUNTIME_DIRECTORY=/tmp {}",
        dir_s,
        words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        r = root.display(),
    );
    Command::new("timeout")
        .args([
            "60",
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .unwrap()
}

/// A device in `dir` with the host's real swupdate, the vendor's certificate in place (not yet
/// configured) and a prefilled target, `/var/target.img`, for a `.swu` to install into.
fn vendor_device(dir: &Path) -> (support::Device, support::Pki, PathBuf) {
    let pki = support::Pki::generate(&dir.join("pki"), "vendor");
    let device = support::Device::with_swupdate(dir);
    device.install("/etc/swupdate/vendor.cert.pem", &pki.cert);
    let target = device.write("/var/target.img", "").host("/var/target.img");
    support::prefill(&target, support::IMAGE_LEN);
    (device, pki, target)
}

fn launcher_argv(device: &support::Device) -> Vec<String> {
    let out = device.outcome(&["--print-argv"]);
    out.assert_code(0);
    shell_words::split(out.stdout.trim()).unwrap()
}

#[test]
#[ignore = "needs Debian's swupdate and openssl, the trixie and sid roots, and root (chroot); run by scripts/test-releases"]
fn sid_verifies_a_cms_image_with_the_argv_the_launcher_builds() {
    let sid = binary("sid");
    let root = sid.root.clone().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (mut device, pki, target) = vendor_device(dir);
    let swu = support::SwuBuilder::new(target.clone()).build(&device.host("/var/update.swu"), &pki);
    let _ = swu;
    device.set("SWUPDATE_PUBLIC_KEY", "/etc/swupdate/vendor.cert.pem");
    device.set("SWUPDATE_VERSION", &sid.release.to_string());
    device.lib(
        "10-file",
        &format!(
            "SWUPDATE_SOURCE=file\nUPDATE_FILE=/var/update.swu\nSWUPDATE_ARGS=\"-v -c -H {}\"\n",
            format_args!("board:{}", support::HW_REVISION)
        ),
    );
    // Without a provider the launcher refuses, as sid's swupdate would fail.
    let refused = device.outcome(&["check"]);
    refused.assert_code(65);
    assert!(
        refused
            .output()
            .contains("SWUPDATE_DIGEST_PROVIDER=opensslCMS"),
        "{}",
        refused.output()
    );
    device.set("SWUPDATE_DIGEST_PROVIDER", "opensslCMS");
    let argv = launcher_argv(&device);
    assert!(
        argv.windows(2)
            .any(|w| w == ["--digest-provider", "opensslCMS"]),
        "{argv:?}"
    );
    let real = run_in_root(&root, dir, &argv);
    assert!(
        real.status.success(),
        "sid's swupdate refused the launcher's argv {argv:?}: {}{}",
        String::from_utf8_lossy(&real.stdout),
        String::from_utf8_lossy(&real.stderr)
    );
    // And the same argv without the provider fails on sid, as the launcher said it would.
    let at = argv.iter().position(|w| w == "--digest-provider").unwrap();
    let mut bare = argv.clone();
    bare.drain(at..at + 2);
    let real = run_in_root(&root, dir, &bare);
    assert!(
        !real.status.success(),
        "sid's swupdate verified a CMS image without --digest-provider: {bare:?}"
    );
}

#[test]
#[ignore = "needs Debian's swupdate and openssl, the trixie and sid roots, and root (chroot); run by scripts/test-releases"]
fn sid_judges_a_typed_update_by_its_type_so_the_launcher_requires_the_floor_there() {
    let sid = binary("sid");
    let root = sid.root.clone().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (mut device, pki, target) = vendor_device(dir);
    // Older than the running release (support::RUNNING_VERSION), declaring its type.
    support::SwuBuilder::new(target.clone())
        .version("0.5")
        .update_type("OS")
        .build(&device.host("/var/update.swu"), &pki);
    device.set("SWUPDATE_PUBLIC_KEY", "/etc/swupdate/vendor.cert.pem");
    device.set("SWUPDATE_VERSION", &sid.release.to_string());
    device.set("SWUPDATE_DIGEST_PROVIDER", "opensslCMS");
    device.lib(
        "10-file",
        &format!(
            "SWUPDATE_SOURCE=file\nUPDATE_FILE=/var/update.swu\nSWUPDATE_ARGS=\"-v -c -f /etc/product.cfg -H board:{}\"\n",
            support::HW_REVISION
        ),
    );
    let with_floor = format!(
        "globals: {{ verbose = true; }};\nupdate-types: ( {{ name = \"OS\"; no-downgrading = \"{}\"; }} );\n",
        support::RUNNING_VERSION
    );
    let without_floor = "globals: { verbose = true; };\nupdate-types: ( { name = \"OS\"; } );\n";
    let cfg = device
        .write("/etc/product.cfg", &with_floor)
        .host("/etc/product.cfg");
    let argv: Vec<String> = launcher_argv(&device)
        .into_iter()
        .map(|w| {
            if w == "/etc/product.cfg" {
                cfg.to_string_lossy().into_owned()
            } else {
                w
            }
        })
        .collect();
    assert!(argv.windows(2).any(|w| w[0] == "-N"), "{argv:?}");
    // With the floor in its type, sid refuses the older release.
    let real = run_in_root(&root, dir, &argv);
    assert!(
        !real.status.success(),
        "sid installed an older typed update despite its type's floor"
    );

    // Without it, -N does not hold for the typed .swu: sid takes it...
    std::fs::write(&cfg, without_floor).unwrap();
    let real = run_in_root(&root, dir, &argv);
    assert!(
        real.status.success(),
        "sid refused the typed update without a floor in its type (so -N would cover it): {}{}",
        String::from_utf8_lossy(&real.stdout),
        String::from_utf8_lossy(&real.stderr)
    );
    // ...so the launcher refuses to start with that configuration.
    let refused = device.outcome(&["check"]);
    refused.assert_code(65);
    refused.assert_stderr_contains("update type `OS`");
}

/// The binary of `suite`; fails the test, naming what is missing, when no root holds it.
fn binary(suite: &str) -> Binary {
    binaries()
        .into_iter()
        .find(|b| b.suite == suite)
        .unwrap_or_else(|| panic!("{}", missing_roots()))
}

/// A device whose SWUPDATE_BIN runs the real binary of `b` (in its root, through chroot), for
/// what `check` asks of it (`--version`, `-h`, probes).
fn device_for(b: &Binary) -> support::Device {
    let d = support::Device::configured_in_temp();
    let run = match &b.root {
        Some(r) => format!("exec chroot {} /usr/bin/swupdate \"$@\"", r.display()),
        None => format!("exec {} \"$@\"", support::SWUPDATE),
    };
    d.write_executable(
        "/usr/bin/swupdate",
        &format!("#!/bin/sh\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\n{run}\n"),
    );
    d.write("/var/update.swu", "swu");
    d
}

#[test]
#[ignore = "needs Debian's swupdate and openssl, the trixie and sid roots, and root (chroot); run by scripts/test-releases"]
fn check_refuses_an_option_that_trixies_build_leaves_out() {
    let trixie = binary("trixie");
    let mut d = device_for(&trixie);
    d.set("SWUPDATE_VERSION", &trixie.release.to_string());
    d.lib(
        "10-file",
        "SWUPDATE_SOURCE=file\nUPDATE_FILE=/var/update.swu\nSWUPDATE_ARGS=\"-v --forced-signer-name vendor\"\n",
    );
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    o.assert_stderr_contains("is not compiled into");
}

#[test]
#[ignore = "needs Debian's swupdate and openssl, the trixie and sid roots, and root (chroot); run by scripts/test-releases"]
fn check_refuses_suricatta_without_server_where_the_real_binary_has_several_modules() {
    for suite in ["trixie", "sid"] {
        let b = binary(suite);
        let mut d = device_for(&b);
        d.set("SWUPDATE_VERSION", &b.release.to_string());
        d.lib(
            "10-daemon",
            "SWUPDATE_SOURCE=daemon\nSWUPDATE_SURICATTA_ARGS=\"-t DEFAULT -u http://127.0.0.1:1 -i dev01\"\n",
        );
        let o = d.outcome(&["check"]);
        o.assert_code(65);
        assert!(o.stderr.contains("add -S hawkbit"), "{suite}: {}", o.stderr);
        d.lib(
            "10-daemon",
            "SWUPDATE_SOURCE=daemon\nSWUPDATE_SURICATTA_ARGS=\"-S hawkbit -t DEFAULT -u http://127.0.0.1:1 -i dev01\"\n",
        );
        d.outcome(&["check"]).assert_code(0);
    }
}

#[test]
#[ignore = "needs Debian's swupdate and openssl, the trixie and sid roots, and root (chroot); run by scripts/test-releases"]
fn check_refuses_a_stated_release_that_sids_binary_contradicts() {
    let sid = binary("sid");
    let mut d = device_for(&sid);
    d.lib(
        "10-file",
        "SWUPDATE_SOURCE=file\nUPDATE_FILE=/var/update.swu\nSWUPDATE_ANTI_ROLLBACK=no\n",
    );
    d.set("SWUPDATE_VERSION", "2025.12");
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    o.assert_stderr_contains("reports 2026.05.1");
    d.set("SWUPDATE_VERSION", &sid.release.to_string());
    d.outcome(&["check"]).assert_code(0);
}

/// Issue 21.3 on sid's real binary: with U-Boot as its bootloader interface (`-B uboot`; a
/// meta-swupdate build has it as its default) and no `/etc/fw_env.config`, swupdate installs
/// the image and then fails; `check` refuses that device and says to add `-m`, with which the
/// same install succeeds.
#[test]
#[ignore = "needs Debian's swupdate and openssl, the sid root, and root (chroot); run by scripts/test-releases"]
fn sid_without_a_uboot_environment_fails_after_installing_so_check_refuses_it() {
    let sid = binary("sid");
    let root = sid.root.clone().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (mut device, pki, target) = vendor_device(dir);
    // The image is installed in the root, where the test directory is /mnt.
    let in_root = Path::new("/mnt").join(target.strip_prefix(dir).unwrap());
    support::SwuBuilder::new(in_root).build(&device.host("/var/update.swu"), &pki);
    device.set("SWUPDATE_PUBLIC_KEY", "/etc/swupdate/vendor.cert.pem");
    device.set("SWUPDATE_VERSION", &sid.release.to_string());
    device.set("SWUPDATE_DIGEST_PROVIDER", "opensslCMS");
    let args = |extra: &str| {
        format!(
            "SWUPDATE_SOURCE=file\nUPDATE_FILE=/var/update.swu\nSWUPDATE_ARGS=\"-v -H board:{} -B uboot{extra}\"\n",
            support::HW_REVISION
        )
    };
    device.lib("10-file", &args(""));
    let refused = device.outcome(&["check"]);
    refused.assert_code(65);
    refused.assert_stderr_contains("no /etc/fw_env.config");
    refused.assert_stderr_contains("add -m");
    let real = run_in_root(&root, dir, &launcher_argv(&device));
    let said =
        String::from_utf8_lossy(&real.stdout).into_owned() + &String::from_utf8_lossy(&real.stderr);
    assert!(!real.status.success(), "sid's swupdate succeeded: {said}");
    // It installs first, and fails where it stores the state.
    assert!(said.contains("Installation in progress"), "{said}");
    assert!(
        said.contains("Cannot persistently store INSTALLED update state"),
        "{said}"
    );
    device.lib("10-file", &args(" -m"));
    device.outcome(&["check"]).assert_code(0);
    let real = run_in_root(&root, dir, &launcher_argv(&device));
    assert!(
        real.status.success(),
        "sid's swupdate with -m: {}{}",
        String::from_utf8_lossy(&real.stdout),
        String::from_utf8_lossy(&real.stderr)
    );
}
