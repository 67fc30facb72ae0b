//! The built binary on temporary device trees (`--root`): what a person or the service sees.

use crate::support;

use std::fs;
use std::process::Output;

use support::Device as Root;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

#[test]
fn print_argv_prints_the_exact_argv_shell_quoted() {
    let r = Root::file_mode();
    r.etc("50-extra", "SWUPDATE_EXTRA_ARGS=\"-e 'stable,copy 1'\"\n");
    let o = r.run(&["--print-argv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let p = r.path().display();
    assert_eq!(
        stdout(&o),
        format!(
            "{p}/usr/bin/swupdate -k {p}/etc/swupdate/public.pem -v -e 'stable,copy 1' -N 1.0 -i {p}/data/update.swu\n"
        )
    );
}

#[test]
fn check_accepts_a_complete_configuration() {
    let o = Root::file_mode().run(&["check"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("ok: file mode"), "{}", stdout(&o));
}

#[test]
fn check_refuses_a_missing_update_file_with_66() {
    let r = Root::file_mode();
    fs::remove_file(r.host("/data/update.swu")).unwrap();
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 66);
    assert!(
        stderr(&o).contains("update file (UPDATE_FILE"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn static_check_accepts_a_missing_update_file() {
    let r = Root::file_mode();
    fs::remove_file(r.host("/data/update.swu")).unwrap();
    assert_eq!(code(&r.run(&["check", "--static"])), 0);
}

#[test]
fn missing_key_is_refused_with_66_naming_it() {
    let r = Root::file_mode();
    fs::remove_file(r.host("/etc/swupdate/public.pem")).unwrap();
    let o = r.run(&["--print-argv"]);
    assert_eq!(code(&o), 66);
    assert!(stderr(&o).contains("public.pem"), "{}", stderr(&o));
}

#[test]
fn check_refuses_a_missing_binary_with_127() {
    let r = Root::file_mode();
    fs::remove_file(r.host("/usr/bin/swupdate")).unwrap();
    assert_eq!(code(&r.run(&["check"])), 127);
}

#[test]
fn a_fragment_syntax_error_names_file_line_and_column_with_65() {
    let r = Root::file_mode();
    r.etc("30-bad", "A=1\nB=\"x $(date)\"\n");
    let o = r.run(&["--print-argv"]);
    assert_eq!(code(&o), 65);
    let e = stderr(&o);
    assert!(
        e.contains("etc/swupdate/conf.d/30-bad:2:6: command substitution"),
        "{e}"
    );
    assert!(o.stdout.is_empty(), "nothing printed as argv");
}

#[test]
fn meta_swupdate_start_progress_fragment_is_refused_with_advice() {
    let r = Root::file_mode();
    r.lib(
        "90-start-progress",
        "exec /usr/bin/swupdate-progress -w -p -r &\n",
    );
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 65);
    assert!(
        stderr(&o).contains("90-start-progress:1:1:"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("swupdate-progress.service"));
}

#[test]
fn a_dev_null_symlink_in_etc_masks_the_lib_fragment() {
    let r = Root::file_mode();
    r.lib(
        "90-start-progress",
        "exec /usr/bin/swupdate-progress -w -p -r &\n",
    );
    r.symlink("/dev/null", "/etc/swupdate/conf.d/90-start-progress");
    assert_eq!(code(&r.run(&["check"])), 0);
}

#[test]
fn an_empty_etc_file_masks_the_lib_fragment() {
    let r = Root::file_mode();
    r.lib("20-x", "SWUPDATE_ARGS=-q\n").etc("20-x", "");
    let o = r.run(&["--print-argv"]);
    assert!(stdout(&o).contains(" -v "), "{}", stdout(&o));
}

#[test]
fn etc_fragment_shadows_lib_fragment_of_the_same_name() {
    let r = Root::file_mode();
    r.lib("20-args", "SWUPDATE_ARGS=\"-l 2\"\n")
        .etc("20-args", "SWUPDATE_ARGS=\"-l 5\"\n");
    let o = r.run(&["--print-argv"]);
    assert!(stdout(&o).contains(" -l 5 "), "{}", stdout(&o));
    assert!(!stdout(&o).contains("-l 2"));
}

#[test]
fn later_names_override_earlier_ones_across_directories() {
    let r = Root::file_mode();
    r.etc("15-args", "SWUPDATE_ARGS=\"-l 3\"\n")
        .lib("20-args", "SWUPDATE_ARGS=\"-l 4\"\n");
    assert!(stdout(&r.run(&["--print-argv"])).contains(" -l 4 "));
}

#[test]
fn hidden_temp_files_and_leftovers_are_not_read() {
    let r = Root::file_mode();
    r.etc(".descriptor.env.XXXX", "garbage $(\n")
        .etc("10-source.dpkg-old", "garbage `\n")
        .etc("10-source~", "garbage ;\n");
    let o = r.run(&["explain"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("(hidden file)"));
    assert!(stdout(&o).contains("(dpkg leftover)"));
}

#[test]
fn an_unreadable_fragment_is_an_io_error_74() {
    let r = Root::file_mode();
    r.symlink("/nonexistent/x", "/etc/swupdate/conf.d/40-dangling");
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 74);
    assert!(stderr(&o).contains("40-dangling"), "{}", stderr(&o));
}

#[test]
fn topology_set_in_conf_d_is_refused() {
    let r = Root::file_mode();
    r.etc("50-key", "SWUPDATE_PUBLIC_KEY=/tmp/other.pem\n");
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 65);
    assert!(stderr(&o).contains("50-key:1: SWUPDATE_PUBLIC_KEY is path topology"));
}

#[test]
fn the_environment_wins_over_the_environment_file() {
    let r = Root::file_mode();
    r.write("/etc/other.pem", "k");
    let o = r.run_env(
        &["--print-argv"],
        &[("SWUPDATE_PUBLIC_KEY", "/etc/other.pem")],
    );
    assert!(stdout(&o).contains("/etc/other.pem"), "{}", stdout(&o));
}

#[test]
fn missing_default_environment_file_means_built_in_defaults() {
    let r = Root::new();
    let o = r.run(&["--print-argv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("{}/usr/bin/swupdate -v\n", r.path().display())
    );
}

#[test]
fn missing_explicit_environment_file_is_66() {
    let o = Root::new().run(&["--env-file", "/etc/nope", "check"]);
    assert_eq!(code(&o), 66);
}

#[test]
fn environment_file_syntax_error_is_65_with_its_line() {
    let r = Root::file_mode();
    r.write(
        "/etc/default/swupdate",
        "SWUPDATE_BIN=/usr/bin/swupdate\nexport X=1\n",
    );
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 65);
    assert!(
        stderr(&o).contains("etc/default/swupdate:2:1:"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn update_file_option_overrides_the_configuration() {
    let r = Root::file_mode();
    r.write("/media/other.swu", "x");
    let o = r.run(&["--update-file", "/media/other.swu", "--print-argv"]);
    assert!(
        stdout(&o).ends_with(&format!("-i {}/media/other.swu\n", r.path().display())),
        "{}",
        stdout(&o)
    );
}

#[test]
fn update_medium_installs_its_only_swu() {
    let r = Root::file_mode();
    r.write("/run/media/sda1/fw-2.0.swu", "x")
        .write("/run/media/sda1/notes.txt", "x");
    let o = r.run(&["--update-medium", "/run/media/sda1", "--print-argv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("/run/media/sda1/fw-2.0.swu"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_relative_update_medium_is_below_the_root() {
    let r = Root::file_mode();
    r.write("/run/media/sda1/fw-2.0.swu", "x");
    let o = r.run(&["--update-medium", "run/media/sda1", "--print-argv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).ends_with(&format!(
            "-i {}/run/media/sda1/fw-2.0.swu\n",
            r.path().display()
        )),
        "{}",
        stdout(&o)
    );
}

#[test]
fn update_medium_with_two_updates_is_refused() {
    let r = Root::file_mode();
    r.write("/m/a.swu", "x").write("/m/b.swu", "x");
    let o = r.run(&["--update-medium", "/m", "--print-argv"]);
    assert_eq!(code(&o), 66);
    assert!(stderr(&o).contains("a.swu, b.swu"), "{}", stderr(&o));
}

#[test]
fn download_mode_needs_the_agents_url_on_the_device_but_not_at_image_build() {
    let r = Root::file_mode();
    r.etc("10-source", "SWUPDATE_SOURCE=download\n");
    assert_eq!(code(&r.run(&["check"])), 65);
    let o = r.run(&["check", "--static"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("URL not written yet"));
}

#[test]
fn explain_says_why_each_argument_is_there() {
    let r = Root::file_mode();
    let o = r.run(&["explain"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let p = r.path().display();
    assert!(
        out.contains(&format!(
            "because SWUPDATE_SOURCE ({p}/usr/lib/swupdate/conf.d/10-source:1), UPDATE_FILE ({p}/usr/lib/swupdate/conf.d/10-source:2)"
        )),
        "{out}"
    );
    assert!(out.contains("because SWUPDATE_ARGS (default)"), "{out}");
    assert!(out.contains(&format!(
        "because SWUPDATE_PUBLIC_KEY ({p}/etc/default/swupdate:1)"
    )));
}

#[test]
fn explain_of_a_broken_configuration_says_why_and_fails() {
    let r = Root::file_mode();
    r.etc("10-source", "SWUPDATE_SOURCE=usb\n");
    let o = r.run(&["explain"]);
    assert_eq!(code(&o), 65);
    assert!(stdout(&o).contains("swupdate would not be started"));
    assert!(stdout(&o).contains("`usb` is not a mode"));
}

#[test]
fn explain_after_a_failed_precondition_shows_the_argv_with_the_running_version_unknown() {
    let r = Root::file_mode();
    fs::remove_file(r.host("/data/update.swu")).unwrap();
    let o = r.run(&["explain"]);
    assert_eq!(code(&o), 66);
    let out = stdout(&o);
    assert!(out.contains("-N '<running version, not read>'"), "{out}");
    assert!(out.contains("swupdate would not be started"), "{out}");
    assert!(out.contains("update file (UPDATE_FILE"), "{out}");
}

#[test]
fn secrets_in_the_url_never_reach_explain_or_errors() {
    let r = Root::file_mode();
    r.etc("10-source", "SWUPDATE_SOURCE=download\n").etc(
        "descriptor.env",
        "URL=https://user:secret@host/x.swu?token=abc\n",
    );
    let o = r.run(&["explain"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let all = stdout(&o) + &stderr(&o);
    assert!(!all.contains("secret") && !all.contains("abc"), "{all}");
    assert!(all.contains("-a ***"), "{all}");

    r.etc("50-bad", "SWUPDATE_DOWNLOAD_RETRIES=x\n");
    let o = r.run(&["explain"]);
    let all = stdout(&o) + &stderr(&o);
    assert!(!all.contains("secret") && !all.contains("abc"), "{all}");
}

#[test]
fn bad_command_line_is_64() {
    let o = Root::new().run(&["--frobnicate"]);
    assert_eq!(code(&o), 64);
}

#[test]
fn help_lists_the_exit_codes() {
    let o = Root::new().run(&["--help"]);
    assert_eq!(code(&o), 0);
    assert!(
        stdout(&o).contains("65   configuration error"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn version_is_printed() {
    let o = Root::new().run(&["--version"]);
    assert_eq!(
        stdout(&o),
        format!("swupdate-launcher {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn one_shot_unit_refuses_a_daemon_configuration() {
    let r = Root::new();
    r.executable("/usr/bin/swupdate");
    let o = r.run(&["--one-shot", "--print-argv"]);
    assert_eq!(code(&o), 65);
    assert!(stderr(&o).contains("would never finish"), "{}", stderr(&o));
    assert_eq!(code(&Root::file_mode().run(&["--one-shot", "check"])), 0);
}

#[test]
fn daemon_unit_refuses_a_one_shot_configuration() {
    let o = Root::file_mode().run(&["--daemon", "check"]);
    assert_eq!(code(&o), 65);
    assert!(
        stderr(&o).contains("installs one update and exits"),
        "{}",
        stderr(&o)
    );
}

fn download_device() -> Root {
    let r = Root::file_mode();
    r.lib("10-source", "SWUPDATE_SOURCE=download\n")
        .etc("descriptor.env", "URL=https://updates.example.com/fw.swu\n")
        .write("/etc/ssl/fleet-ca.pem", "ca");
    r
}

#[test]
fn explain_says_whether_a_preflight_runs() {
    let o = download_device().run(&["explain"]);
    let out = stdout(&o);
    if cfg!(feature = "streaming") {
        assert!(out.contains("Preflight: HEAD (or a one-byte GET) before swupdate starts; trusts the system's CA store"), "{out}");
    } else {
        assert!(out.contains("Preflight: not compiled in"), "{out}");
    }
}

#[test]
fn a_preflight_ca_must_also_be_swupdates_downloader_ca() {
    let r = download_device();
    r.lib("20-ca", "SWUPDATE_CA_FILE=/etc/ssl/fleet-ca.pem\n");
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 65);
    assert!(
        stderr(&o).contains("swupdate's configuration file cannot be read"),
        "{}",
        stderr(&o)
    );

    r.write(
        "/etc/swupdate.cfg",
        "globals: { };\ndownload: { cafile = \"/etc/ssl/other.pem\"; };\n",
    );
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 65);
    assert!(
        stderr(&o).contains("is told cafile /etc/ssl/other.pem"),
        "{}",
        stderr(&o)
    );

    r.write(
        "/etc/swupdate.cfg",
        "globals: { };\ndownload: { cafile = \"/etc/ssl/fleet-ca.pem\"; };\n",
    );
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn the_configuration_file_given_with_f_is_the_one_compared() {
    let r = download_device();
    r.lib(
        "20-ca",
        "SWUPDATE_CA_FILE=/etc/ssl/fleet-ca.pem\nSWUPDATE_EXTRA_ARGS=\"-f /etc/sw.cfg\"\n",
    )
    .write(
        "/etc/swupdate.cfg",
        "download: { cafile = \"/etc/ssl/other.pem\"; };\n",
    )
    .write(
        "/etc/sw.cfg",
        "download: { cafile = \"/etc/ssl/fleet-ca.pem\"; };\n",
    );
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn a_missing_preflight_ca_is_66() {
    let r = download_device();
    r.lib("20-ca", "SWUPDATE_CA_FILE=/etc/ssl/missing.pem\n");
    assert_eq!(code(&r.run(&["check"])), 66);
}

/// `explain`'s stdout and stderr together.
fn explained(r: &Root) -> String {
    let o = r.run(&["explain"]);
    stdout(&o) + &stderr(&o)
}

fn assert_not_in(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(!text.contains(p), "`{p}` shown in:\n{text}");
    }
}

fn download_with_url(url: &str) -> Root {
    let r = Root::file_mode();
    r.etc("10-source", "SWUPDATE_SOURCE=download\n")
        .etc("descriptor.env", &format!("URL='{url}'\n"));
    r
}

#[test]
fn explain_hides_a_password_with_a_blank() {
    let r = download_with_url("https://user:zq21 sec@host/x.swu");
    assert_not_in(&explained(&r), &["zq21", "sec@"]);
}

#[test]
fn explain_hides_a_password_with_a_slash() {
    let r = download_with_url("https://user:zq22/sec@host/x.swu");
    let out = explained(&r);
    assert_not_in(&out, &["zq22", "sec@"]);
    assert!(out.contains("-a ***"), "{out}");
}

#[test]
fn explain_hides_a_query_value_after_a_blank() {
    let r = download_with_url("https://host/x.swu?token=zq23 sec9&b=1");
    assert_not_in(&explained(&r), &["zq23", "sec9"]);
}

#[test]
fn explain_hides_a_url_inside_another_value() {
    let r = Root::file_mode();
    r.etc(
        "30-other",
        "SWUPDATE_MONGOOSE_EXTRA_ARGS=--proxy=https://u:zq24sec@proxy\n",
    );
    assert_not_in(&explained(&r), &["zq24sec"]);
}

#[test]
fn explain_hides_a_url_after_a_tab() {
    let r = Root::file_mode();
    r.etc("30-other", "MIRROR=\"x\thttps://u:zq25sec@h/x\"\n");
    assert_not_in(&explained(&r), &["zq25sec"]);
}

#[test]
fn explain_hides_a_url_in_parentheses() {
    let r = Root::file_mode();
    r.etc("30-other", "MIRROR=\"(https://u:zq26sec@h/x)\"\n");
    assert_not_in(&explained(&r), &["zq26sec"]);
}

#[test]
fn explain_hides_a_url_of_another_scheme() {
    let r = Root::file_mode();
    r.etc("30-other", "BROKER=mqtts://u:zq27sec@broker:8883\n");
    assert_not_in(&explained(&r), &["zq27sec"]);
}

fn suricatta_device() -> Root {
    let r = Root::file_mode();
    r.lib("10-source", "SWUPDATE_SOURCE=daemon\n").etc(
        "20-hawkbit",
        "TOKEN=zq28gw\nSWUPDATE_SURICATTA_ARGS=\"-t default -u https://hb.example -i dev1 --targettoken zq29tt -g $TOKEN\"\n",
    );
    r
}

#[test]
fn explain_hides_suricatta_tokens_and_the_variables_they_came_from() {
    let out = explained(&suricatta_device());
    assert_not_in(&out, &["zq28gw", "zq29tt"]);
    assert!(out.contains("--targettoken *** -g ***"), "{out}");
}

#[test]
fn print_argv_masks_secrets_and_says_so() {
    let o = suricatta_device().run(&["--print-argv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_not_in(&stdout(&o), &["zq28gw", "zq29tt"]);
    assert!(stderr(&o).contains("--show-secrets"), "{}", stderr(&o));
}

#[test]
fn print_argv_with_show_secrets_prints_the_exact_argv() {
    let o = suricatta_device().run(&["--print-argv", "--show-secrets"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("--targettoken zq29tt -g zq28gw"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn show_secrets_needs_print_argv() {
    assert_eq!(code(&Root::file_mode().run(&["--show-secrets"])), 64);
}

#[test]
fn explain_into_a_closed_pipe_ends_quietly() {
    let r = Root::file_mode();
    let mut fds = [0; 2];
    // SAFETY: pipe writes two descriptors into the array we own; the read end is closed at
    // once, so the launcher's first write meets a reader that went away (`explain | head`).
    let write_end = unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        libc::close(fds[0]);
        <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[1])
    };
    let o = r
        .command(&["explain"], &[])
        .stdout(write_end)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

#[test]
fn a_cafile_of_another_section_is_not_the_downloaders() {
    let r = download_device();
    r.lib("20-ca", "SWUPDATE_CA_FILE=/etc/ssl/fleet-ca.pem\n").write(
        "/etc/swupdate.cfg",
        "globals: { };\nsuricatta: { cafile = \"/etc/ssl/fleet-ca.pem\"; };\ndownload: { retries = 3; };\n",
    );
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 65);
    assert!(stderr(&o).contains("is told no cafile"), "{}", stderr(&o));
}

#[test]
fn a_setting_that_ends_in_cafile_is_not_cafile() {
    let r = download_device();
    r.lib("20-ca", "SWUPDATE_CA_FILE=/etc/ssl/fleet-ca.pem\n")
        .write(
            "/etc/swupdate.cfg",
            "globals: { };\ndownload: { mycafile = \"/etc/ssl/fleet-ca.pem\"; };\n",
        );
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 65);
    assert!(stderr(&o).contains("is told no cafile"), "{}", stderr(&o));
}

#[test]
fn a_configuration_file_that_is_not_libconfig_is_refused_with_its_line() {
    let r = download_device();
    r.lib("20-ca", "SWUPDATE_CA_FILE=/etc/ssl/fleet-ca.pem\n")
        .write(
            "/etc/swupdate.cfg",
            "globals: { };\ndownload: { cafile = \"/etc/ssl/fleet-ca.pem\";\n",
        );
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 65);
    assert!(
        stderr(&o).contains("not valid libconfig (line"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_short_option_with_equals_is_reported_as_written() {
    let r = Root::file_mode();
    r.etc("50-extra", "SWUPDATE_EXTRA_ARGS=-v=x\n");
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 65);
    let err = stderr(&o);
    assert!(
        err.contains("`-v=x`: `-=` in it is not a swupdate option"),
        "{err}"
    );
    assert!(err.contains("short options take no `=`"), "{err}");
}

#[test]
fn explain_hides_the_secrets_of_an_overridden_url() {
    let r = Root::file_mode();
    r.etc("10-source", "SWUPDATE_SOURCE=download\n").etc(
        "descriptor.env",
        "URL='https://user:zq30 old@host/x.swu?t=zq31 old'\nURL=https://host/new.swu\n",
    );
    let out = explained(&r);
    assert_not_in(&out, &["zq30", "zq31"]);
    assert!(
        out.contains("overrides 'https://***@host/x.swu?t=***'"),
        "{out}"
    );
}

/// Secrecy is decided by what a value is, not by which file won: the values a later file
/// overrides, which explain shows, are masked too (a token, a header value, download
/// credentials).
#[test]
fn secrets_that_a_later_file_overrides_are_masked_in_explain() {
    let r = Root::file_mode();
    r.lib(
        "20-suricatta",
        "SWUPDATE_SOURCE=daemon\nSWUPDATE_SURICATTA_ARGS=\"-t default -u https://hawk.example -i dev1 -k OLDTOKEN0123 -a X-Api-Key OLDHEADER0123\"\n",
    );
    r.etc(
        "30-token",
        "SWUPDATE_SURICATTA_ARGS=\"-t default -u https://hawk.example -i dev1 -k NEWTOKEN0123\"\n",
    );
    let o = r.run(&["explain"]);
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert!(out.contains("overrides '-t default"), "{out}");
    for secret in ["OLDTOKEN0123", "OLDHEADER0123", "NEWTOKEN0123"] {
        assert!(!out.contains(secret), "{secret} shown:\n{out}");
    }
}

/// A swupdate wrapper script whose interpreter is missing is there: not "swupdate not found"
/// (127), but a failed exec (126) that names the missing interpreter.
#[test]
fn a_swupdate_wrapper_without_its_interpreter_is_not_reported_as_missing() {
    let r = Root::file_mode();
    r.write_executable("/usr/bin/swupdate", "#!/nonexistent/bin/sh\nexec true\n");
    let o = r.run(&[]);
    assert_eq!(code(&o), 126, "{}", stderr(&o));
    assert!(stderr(&o).contains("/nonexistent/bin/sh"), "{}", stderr(&o));
}

#[test]
fn a_fragment_that_exports_tmpdir_is_refused_naming_the_environment_file_line_and_the_drop_in() {
    let r = Root::file_mode();
    r.etc("60-tmpdir", "export TMPDIR=/var/\n");
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 65, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("60-tmpdir:1"), "{e}");
    assert!(
        e.contains("`export TMPDIR` would reach swupdate's environment"),
        "{e}"
    );
    assert!(e.contains("`TMPDIR=...` in the EnvironmentFile"), "{e}");
    assert!(e.contains("swupdate.service.d/tmpdir.conf"), "{e}");
}

fn daemon_with_suricatta_section() -> Root {
    let r = Root::file_mode();
    r.lib("10-source", "SWUPDATE_SOURCE=daemon\n").write(
        "/etc/swupdate.cfg",
        "globals: { verbose = true; };\nsuricatta: { tenant = \"default\"; url = \"https://h\"; id = \"dev\"; };\n",
    );
    r
}

#[test]
fn a_blank_suricatta_string_starts_suricatta_with_the_configuration_files_settings() {
    let r = daemon_with_suricatta_section();
    r.lib("20-suricatta", "SWUPDATE_SURICATTA_ARGS=\" \"\n");
    let o = r.run(&["--print-argv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).ends_with(" -v -u ''\n"), "{}", stdout(&o));
}

#[test]
fn suricatta_yes_starts_suricatta_with_the_configuration_files_settings() {
    let r = daemon_with_suricatta_section();
    r.lib("20-suricatta", "SWUPDATE_SURICATTA=yes\n");
    let o = r.run(&["--print-argv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).ends_with(" -v -u ''\n"), "{}", stdout(&o));
}

#[test]
fn the_templates_swupdate_args_after_a_fragment_set_the_extra_args_passes_them_once() {
    let r = Root::file_mode();
    r.lib("20-hw", "SWUPDATE_EXTRA_ARGS=\"-H board:1.0\"\n")
        .lib("30-args", "SWUPDATE_ARGS=\"-v ${SWUPDATE_EXTRA_ARGS}\"\n");
    let o = r.run(&["--print-argv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        stdout(&o).matches("-H board:1.0").count(),
        1,
        "{}",
        stdout(&o)
    );
}

#[test]
fn explain_says_the_extra_args_are_in_swupdate_args_already() {
    let r = Root::file_mode();
    r.lib("20-hw", "SWUPDATE_EXTRA_ARGS=\"-H board:1.0\"\n")
        .lib("30-args", "SWUPDATE_ARGS=\"-v ${SWUPDATE_EXTRA_ARGS}\"\n");
    let o = r.run(&["explain"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("30-args:1 expanded it and holds its words: not appended again"),
        "{}",
        stdout(&o)
    );
}

fn with_config_files() -> Root {
    let r = Root::file_mode();
    r.write("/etc/swupdate.cfg", "globals: { verbose = true; };\n")
        .lib(
            "20-cfg",
            "SWUPDATE_CONFIG_FILES=\"/data/swupdate.cfg /etc/swupdate.cfg\"\n",
        );
    r
}

#[test]
fn the_first_configuration_file_that_exists_is_passed_as_f() {
    let r = with_config_files();
    r.write("/data/swupdate.cfg", "globals: { verbose = true; };\n");
    let o = r.run(&["--print-argv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let p = r.path().display();
    assert!(
        stdout(&o).contains(&format!(" -f {p}/data/swupdate.cfg -v ")),
        "{}",
        stdout(&o)
    );
}

#[test]
fn without_the_first_the_next_configuration_file_is_passed_and_explain_says_why() {
    let r = with_config_files();
    let o = r.run(&["--print-argv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let p = r.path().display();
    assert!(
        stdout(&o).contains(&format!(" -f {p}/etc/swupdate.cfg ")),
        "{}",
        stdout(&o)
    );
    let o = r.run(&["explain"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("swupdate's configuration file: /etc/swupdate.cfg: the first of /data/swupdate.cfg /etc/swupdate.cfg that exists (SWUPDATE_CONFIG_FILES from "),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("; /data/swupdate.cfg missing)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn no_existing_configuration_file_of_the_list_is_refused_with_66() {
    let r = with_config_files();
    fs::remove_file(r.host("/etc/swupdate.cfg")).unwrap();
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 66, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("none of /data/swupdate.cfg /etc/swupdate.cfg exists"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_chosen_configuration_file_that_others_may_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let r = with_config_files();
    r.write("/data/swupdate.cfg", "globals: { verbose = true; };\n");
    fs::set_permissions(
        r.host("/data/swupdate.cfg"),
        fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 65, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "data/swupdate.cfg: refusing a configuration file that is writable by group and others"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_key_in_a_fragment_is_refused_with_the_environment_file_line_and_the_layers_variable() {
    let r = Root::file_mode();
    r.lib("20-key", "SWUPDATE_ARGS=\"-v -k /etc/ssl/product.pem\"\n");
    let o = r.run(&["check"]);
    assert_eq!(code(&o), 65, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("20-key:1"), "{e}");
    assert!(
        e.contains("`SWUPDATE_PUBLIC_KEY=/etc/ssl/product.pem` in /etc/default/swupdate"),
        "{e}"
    );
    assert!(e.contains("SWUPDATE_LAUNCHER_PUBLIC_KEY"), "{e}");
}
