//! The installed release, the key, swupdate's configuration file and the suricatta string must
//! fit together: `check` (and a start) refuse what would make swupdate fail or let a typed
//! update past the floor. A stub stands in for swupdate where only its `--version`/`-h`
//! matter; tests/releases.rs runs the real ones.

use crate::support;

use support::Device;

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const PUBKEY: &str = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n";

/// A device with a stub swupdate that reports `version` (empty: as Debian's before 2026, none)
/// and lists `modules` suricatta modules in its help.
fn device(version: &str, modules: usize) -> Device {
    let d = Device::configured_in_temp();
    let help: String = (0..modules)
        .map(|i| format!("\tOptions for suricatta module 'm{i}':\\n"))
        .collect();
    d.write_executable(
        "/usr/bin/swupdate",
        &format!(
            "#!/bin/sh\ncase \"$1\" in\n--version) echo 'SWUpdate v{version}' ;;\n-h) printf 'Usage swupdate [OPTION]\\n{help}' ;;\nesac\n"
        ),
    );
    d.write("/var/update.swu", "swu");
    d.lib(
        "10-file",
        "SWUPDATE_SOURCE=file\nUPDATE_FILE=/var/update.swu\n",
    );
    d
}

/// A device whose stub swupdate's help names `default` as its bootloader interface, as every
/// release's `-h` does (`-B, --bootloader : bootloader interface (default: uboot)`).
fn with_bootloader_default(default: &str) -> Device {
    let d = Device::configured_in_temp();
    d.write_executable(
        "/usr/bin/swupdate",
        &format!(
            "#!/bin/sh\ncase \"$1\" in\n--version) echo 'SWUpdate v2026.05.1' ;;\n-h) printf 'Usage swupdate [OPTION]\\n -B, --bootloader               : bootloader interface (default: {default})\\n' ;;\nesac\n"
        ),
    );
    d.write("/var/update.swu", "swu");
    d.lib(
        "10-file",
        "SWUPDATE_SOURCE=file\nUPDATE_FILE=/var/update.swu\n",
    );
    d
}

fn with_key(d: &mut Device, pem: &str) {
    d.write("/etc/swupdate/key.pem", pem);
    d.set("SWUPDATE_PUBLIC_KEY", "/etc/swupdate/key.pem");
}

fn daemon(d: &Device, suricatta: &str) {
    d.lib(
        "10-file",
        &format!("SWUPDATE_SOURCE=daemon\nSWUPDATE_SURICATTA_ARGS=\"{suricatta}\"\n"),
    );
}

#[test]
fn a_certificate_with_an_rsa_provider_is_refused() {
    let mut d = device("2026.05.1", 0);
    with_key(&mut d, CERT);
    d.set("SWUPDATE_VERSION", "2026.05.1");
    d.set("SWUPDATE_DIGEST_PROVIDER", "opensslRSA");
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    o.assert_stderr_contains("is a certificate, but the digest provider `opensslRSA`");
}

#[test]
fn a_public_key_with_the_cms_provider_is_refused() {
    let mut d = device("2026.05.1", 0);
    with_key(&mut d, PUBKEY);
    d.set("SWUPDATE_VERSION", "2026.05.1");
    d.set("SWUPDATE_DIGEST_PROVIDER", "opensslCMS");
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    o.assert_stderr_contains("bare public key");
}

#[test]
fn a_certificate_on_2025_12_needs_a_provider() {
    let mut d = device("2025.12", 0);
    with_key(&mut d, CERT);
    d.set("SWUPDATE_VERSION", "2025.12");
    let o = d.outcome(&["--print-argv"]);
    o.assert_code(65);
    o.assert_stderr_contains("SWUPDATE_DIGEST_PROVIDER=opensslCMS");
}

#[test]
fn the_provider_of_the_configuration_file_counts() {
    let mut d = device("2025.12", 0);
    with_key(&mut d, CERT);
    d.set("SWUPDATE_VERSION", "2025.12");
    d.write(
        "/etc/swupdate.cfg",
        "globals: { digest-provider = \"opensslCMS\"; };\n",
    );
    d.outcome(&["check"]).assert_code(0);
}

#[test]
fn a_certificate_before_2025_12_needs_no_provider() {
    let mut d = device("", 0);
    with_key(&mut d, CERT);
    d.set("SWUPDATE_VERSION", "2024.12.1");
    d.outcome(&["check"]).assert_code(0);
}

#[test]
fn a_certificate_without_a_provider_is_a_warning_when_the_release_is_unknown() {
    let mut d = device("", 0);
    with_key(&mut d, CERT);
    let o = d.outcome(&["check"]);
    o.assert_code(0);
    o.assert_stderr_contains("warning: the public key is a certificate");
}

#[test]
fn a_digest_provider_before_2025_12_is_refused_naming_the_release() {
    let mut d = device("", 0);
    with_key(&mut d, CERT);
    d.set("SWUPDATE_VERSION", "2024.12.1");
    d.set("SWUPDATE_DIGEST_PROVIDER", "opensslCMS");
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    assert!(
        o.stderr
            .contains("needs swupdate 2025.12 or later; this device has 2024.12.1"),
        "{}",
        o.stderr
    );
}

#[test]
fn an_unknown_digest_provider_is_refused() {
    let mut d = device("", 0);
    d.set("SWUPDATE_DIGEST_PROVIDER", "rot13");
    d.outcome(&["check"]).assert_code(65);
}

#[test]
fn the_digest_provider_follows_the_key_on_the_command_line() {
    let mut d = device("2026.05.1", 0);
    with_key(&mut d, CERT);
    d.set("SWUPDATE_VERSION", "2026.05.1");
    d.set("SWUPDATE_DIGEST_PROVIDER", "opensslCMS");
    d.lib("20-ar", "SWUPDATE_ANTI_ROLLBACK=no\n");
    let o = d.outcome(&["--print-argv"]);
    o.assert_code(0);
    let key = d.host("/etc/swupdate/key.pem");
    assert!(
        o.stdout.contains(&format!(
            "-k {} --digest-provider opensslCMS",
            key.display()
        )),
        "{}",
        o.stdout
    );
}

#[test]
fn digest_provider_in_swupdate_args_is_refused_for_the_variable() {
    let d = device("", 0);
    d.lib(
        "20-args",
        "SWUPDATE_ARGS=\"-v --digest-provider=opensslCMS\"\n",
    );
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    o.assert_stderr_contains("SWUPDATE_DIGEST_PROVIDER");
}

#[test]
fn ca_path_in_extra_args_is_refused_at_its_line() {
    let d = device("", 0);
    d.lib(
        "20-args",
        "# evil\nSWUPDATE_EXTRA_ARGS=\"--ca-path /x/evil.pem\"\n",
    );
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    o.assert_stderr_contains("20-args:2");
    o.assert_stderr_contains("SWUPDATE_PUBLIC_KEY");
}

#[test]
fn an_option_of_a_later_release_is_refused_naming_both() {
    let mut d = device("", 0);
    d.set("SWUPDATE_VERSION", "2022.12");
    d.lib("20-args", "SWUPDATE_ARGS=\"-v -s /etc/sw-versions\"\n");
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    assert!(
        o.stderr
            .contains("`-s` needs swupdate 2024.05 or later; this device has 2022.12"),
        "{}",
        o.stderr
    );
}

#[test]
fn options_of_2025_12_are_accepted_when_the_release_has_them() {
    let mut d = device("2025.12", 0);
    d.set("SWUPDATE_VERSION", "2025.12");
    d.lib(
        "20-args",
        "SWUPDATE_ARGS=\"-v --hash-provider opensslSHA256 -s /etc/sw-versions -E /dev/null\"\n",
    );
    // -E prints and exits: refused even where it exists.
    d.outcome(&["check"]).assert_code(65);
    d.lib(
        "20-args",
        "SWUPDATE_ARGS=\"-v --hash-provider opensslSHA256 -s /etc/sw-versions\"\n",
    );
    d.outcome(&["check"]).assert_code(0);
}

#[test]
fn a_stated_release_that_differs_from_the_binary_is_refused() {
    let mut d = device("2026.05.1", 0);
    d.set("SWUPDATE_VERSION", "2024.12.1");
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    o.assert_stderr_contains("says 2024.12.1, but");
    o.assert_stderr_contains("reports 2026.05.1");
}

#[test]
fn an_unset_release_is_a_warning_naming_what_the_binary_reports() {
    let d = device("2026.05.1", 0);
    let o = d.outcome(&["check"]);
    o.assert_code(0);
    o.assert_stderr_contains("set SWUPDATE_VERSION=2026.05.1");
}

#[test]
fn a_malformed_release_is_refused() {
    let mut d = device("", 0);
    d.set("SWUPDATE_VERSION", "latest");
    d.outcome(&["check"]).assert_code(65);
}

fn typed(d: &Device, entry: &str) {
    d.write(
        "/etc/swupdate.cfg",
        &format!(
            "globals: {{ verbose = true; }};\nupdate-types: (\n  {{ name = \"OS\"; {entry} }}\n);\n"
        ),
    );
}

#[test]
fn an_update_type_without_a_floor_refuses_to_start() {
    let mut d = device("2025.12", 0);
    d.set("SWUPDATE_VERSION", "2025.12");
    typed(&d, "postupdatecmd = \"/bin/true\";");
    let o = d.outcome(&["--print-argv"]);
    o.assert_code(65);
    o.assert_stderr_contains("update type `OS`");
    o.assert_stderr_contains("no no-downgrading");
}

#[test]
fn an_update_type_floor_below_the_running_release_is_refused() {
    let mut d = device("2025.12", 0);
    d.set("SWUPDATE_VERSION", "2025.12");
    typed(&d, "no-downgrading = \"0.1\";");
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    o.assert_stderr_contains("below the running release");
}

#[test]
fn an_update_type_floor_at_the_running_release_is_accepted() {
    let mut d = device("2025.12", 0);
    d.set("SWUPDATE_VERSION", "2025.12");
    typed(
        &d,
        &format!("no-downgrading = \"{}\";", support::RUNNING_VERSION),
    );
    d.outcome(&["check"]).assert_code(0);
}

#[test]
fn an_update_type_must_carry_the_launchers_max_version() {
    let mut d = device("2025.12", 0);
    d.set("SWUPDATE_VERSION", "2025.12");
    d.lib("20-max", "SWUPDATE_MAX_VERSION=5.0\n");
    typed(
        &d,
        &format!("no-downgrading = \"{}\";", support::RUNNING_VERSION),
    );
    d.outcome(&["check"]).assert_code(65);
    typed(
        &d,
        &format!(
            "no-downgrading = \"{}\"; max-version = \"4.0\";",
            support::RUNNING_VERSION
        ),
    );
    d.outcome(&["check"]).assert_code(0);
}

#[test]
fn update_types_are_not_judged_before_2025_12_or_without_anti_rollback() {
    let mut d = device("", 0);
    typed(&d, "");
    d.set("SWUPDATE_VERSION", "2024.12.1");
    d.outcome(&["check"]).assert_code(0);
    d.set("SWUPDATE_VERSION", "2025.12");
    d.lib("20-ar", "SWUPDATE_ANTI_ROLLBACK=no\n");
    d.outcome(&["check"]).assert_code(0);
}

#[test]
fn update_types_are_judged_when_the_release_is_unknown() {
    let d = device("", 0);
    typed(&d, "");
    d.outcome(&["check"]).assert_code(65);
}

#[test]
fn an_update_type_in_the_file_named_by_f_is_judged() {
    let mut d = device("2025.12", 0);
    d.set("SWUPDATE_VERSION", "2025.12");
    d.write(
        "/etc/product.cfg",
        "update-types: ( { name = \"App\"; } );\n",
    );
    d.lib("20-args", "SWUPDATE_ARGS=\"-v --fi=/etc/product.cfg\"\n");
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    o.assert_stderr_contains("update type `App`");
}

#[test]
fn suricatta_without_its_mandatory_options_is_refused() {
    let d = device("", 0);
    daemon(&d, "-S hawkbit -t DEFAULT");
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    o.assert_stderr_contains("lacks -u, -i");
}

#[test]
fn suricatta_options_from_the_configuration_file_count() {
    let d = device("", 0);
    daemon(&d, "-S hawkbit -t DEFAULT");
    d.write(
        "/etc/swupdate.cfg",
        "suricatta: { url = \"http://h:8080\"; id = \"dev01\"; };\n",
    );
    d.outcome(&["check"]).assert_code(0);
}

#[test]
fn suricatta_without_server_is_refused_when_the_binary_has_several_modules() {
    let d = device("", 3);
    daemon(&d, "-t DEFAULT -u http://h:8080 -i dev01");
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    o.assert_stderr_contains("add -S hawkbit");
}

#[test]
fn suricatta_without_server_is_a_warning_with_one_module() {
    let d = device("", 1);
    daemon(&d, "-t DEFAULT -u http://h:8080 -i dev01");
    let o = d.outcome(&["check"]);
    o.assert_code(0);
    o.assert_stderr_contains("warning: SWUPDATE_SURICATTA_ARGS has no -S");
}

#[test]
fn an_unknown_suricatta_option_is_refused() {
    let d = device("", 1);
    daemon(
        &d,
        "-S hawkbit -t DEFAULT -u http://h:8080 -i dev01 --polldelai 5",
    );
    d.outcome(&["check"]).assert_code(65);
}

#[test]
fn a_token_on_the_command_line_is_a_warning_that_does_not_show_it() {
    let d = device("", 1);
    daemon(
        &d,
        "-S hawkbit -t DEFAULT -u http://h:8080 -i dev01 -k s3cret-token",
    );
    let o = d.outcome(&["check"]);
    o.assert_code(0);
    o.assert_stderr_contains("readable in /proc");
    assert!(!o.output().contains("s3cret-token"), "{}", o.output());
}

#[test]
fn a_suricatta_option_of_a_later_release_is_refused() {
    let mut d = device("", 1);
    d.set("SWUPDATE_VERSION", "2022.12");
    daemon(&d, "-S hawkbit -t DEFAULT -u http://h:8080 -i dev01");
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    assert!(
        o.stderr
            .contains("2023.05 or later; this device has 2022.12"),
        "{}",
        o.stderr
    );
}

#[test]
fn an_option_this_build_leaves_out_is_refused_by_check() {
    let d = device("", 0);
    // A build without CMS (trixie's has no --forced-signer-name): its getopt refuses it.
    d.write_executable(
        "/usr/bin/swupdate",
        "#!/bin/sh\ncase \"$1\" in\n--forced-signer-name) echo \"swupdate: unrecognized option '--forced-signer-name'\" >&2; exit 1 ;;\nesac\n",
    );
    d.lib(
        "20-args",
        "SWUPDATE_ARGS=\"-v --forced-signer-name vendor\"\n",
    );
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    o.assert_stderr_contains("is not compiled into");
    o.assert_stderr_contains("CONFIG_SIGALG_CMS");
}

#[test]
fn an_option_this_build_has_passes_check() {
    let d = device("", 0);
    d.lib(
        "20-args",
        "SWUPDATE_ARGS=\"-v --forced-signer-name vendor -H board:1.0\"\n",
    );
    d.outcome(&["check"]).assert_code(0);
}

/// The header value of a hawkBit `-a`/`--custom-http-header NAME VALUE`, in every spelling
/// swupdate's getopt_long reads as that option (issue 18's live leak): never shown by
/// `--print-argv` or `explain`.
#[test]
fn a_custom_header_value_is_masked_in_every_spelling_of_its_option() {
    for form in [
        "--custom-http-header X-Api-Key",
        "--custom-http-header=X-Api-Key",
        "-aX-Api-Key",
        "--custom X-Api-Key",
        "-xa X-Api-Key",
    ] {
        let d = device("2026.05.1", 1);
        daemon(
            &d,
            &format!("-t default -u https://hawk.example -i dev1 {form} TOPSECRETVALUE123"),
        );
        for args in [&["--print-argv"][..], &["explain"]] {
            let o = d.run(args);
            let shown = String::from_utf8_lossy(&o.stdout).into_owned() + &support::stderr(&o);
            assert!(
                o.status.success(),
                "{form}, {args:?}: {}",
                support::stderr(&o)
            );
            assert!(
                !shown.contains("TOPSECRETVALUE123"),
                "{form}, {args:?} shows the header value:\n{shown}"
            );
            assert!(shown.contains("X-Api-Key"), "{form}, {args:?}:\n{shown}");
        }
    }
}

/// A `-u` string for a module the launcher has no table for: every value word is masked, and
/// `explain` says why.
#[test]
fn another_modules_string_is_masked_whole_and_explain_says_why() {
    let d = device("2026.05.1", 1);
    daemon(
        &d,
        "-S lua -u https://wfx.example -i dev1 --token LUASECRETVALUE42",
    );
    let o = d.run(&["explain"]);
    let shown = String::from_utf8_lossy(&o.stdout).into_owned() + &support::stderr(&o);
    assert!(!shown.contains("LUASECRETVALUE42"), "{shown}");
    assert!(
        shown.contains("SWUPDATE_SURICATTA_ARGS: every value word is masked")
            && shown.contains("`lua`"),
        "{shown}"
    );
}

#[test]
fn a_uboot_swupdate_on_a_device_without_its_environment_is_refused_by_check() {
    let d = with_bootloader_default("uboot");
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    o.assert_stderr_contains("update state in the U-Boot environment");
    o.assert_stderr_contains("no /etc/fw_env.config");
    o.assert_stderr_contains("add -m to SWUPDATE_EXTRA_ARGS");
}

#[test]
fn a_uboot_swupdate_with_its_environment_is_accepted() {
    let d = with_bootloader_default("uboot");
    d.write("/etc/fw_env.config", "/dev/mtd1 0x0 0x1000 0x1000\n");
    d.outcome(&["check"]).assert_code(0);
}

#[test]
fn a_uboot_swupdate_without_state_markers_needs_no_environment() {
    let d = with_bootloader_default("uboot");
    d.etc("50-no-state", "SWUPDATE_EXTRA_ARGS=\"--no-state-marker\"\n");
    d.outcome(&["check"]).assert_code(0);
}

#[test]
fn another_bootloader_interface_needs_no_uboot_environment() {
    let d = with_bootloader_default("uboot");
    d.etc("50-none", "SWUPDATE_EXTRA_ARGS=\"-B none\"\n");
    d.outcome(&["check"]).assert_code(0);
    with_bootloader_default("none")
        .outcome(&["check"])
        .assert_code(0);
}

#[test]
fn the_uboot_environment_named_in_globals_is_the_one_looked_for() {
    let d = with_bootloader_default("none");
    d.write(
        "/etc/swupdate.cfg",
        "globals: { bootloader = \"uboot\"; fwenv-config-location = \"/data/fw_env.config\"; };\n",
    );
    let o = d.outcome(&["check"]);
    o.assert_code(65);
    o.assert_stderr_contains("no /data/fw_env.config");
    d.write("/data/fw_env.config", "/dev/mtd1 0x0 0x1000 0x1000\n");
    d.outcome(&["check"]).assert_code(0);
}

#[test]
fn a_start_does_not_ask_the_binary_about_its_bootloader() {
    // `--print-argv` runs the start's checks only: swupdate is never run before it starts.
    let d = with_bootloader_default("uboot");
    d.outcome(&["--print-argv"]).assert_code(0);
}
