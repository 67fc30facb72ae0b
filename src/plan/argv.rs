//! From the plan to swupdate's argv: a vector of words, never a string for a shell, each group
//! of words with the variables that asked for it. The plan's device paths become the paths
//! swupdate opens here, under the root.

use std::path::Path;

use crate::config::settings::Origin;
use crate::config::vocabulary::names::SWUPDATE_SOURCE;
use crate::error::{Error, Kind};
use crate::plan::url::Url;
use crate::plan::{AntiRollback, DownloadUrl, Mode, Plan, Traced};
use crate::rootfs::Root;

/// Some consecutive words of the argv and why they are there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub words: Vec<String>,
    pub because: Vec<(&'static str, Origin)>,
}

fn group<T>(words: Vec<String>, from: &[&Traced<T>]) -> Group {
    Group {
        words,
        because: from.iter().map(|t| (t.name, t.origin.clone())).collect(),
    }
}

/// The version the device runs, for anti-rollback's `-N`/`-R`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RunningVersion {
    /// Not read (anti-rollback is off): an argv that needs it is refused.
    #[default]
    NotRead,
    /// Read from the version file.
    Read(String),
    /// Unknown because a precondition failed before it was read: only `explain` builds an argv
    /// with it (to show what is known), where the words say so; a run never has one.
    Unknown,
}

/// The running A/B slot, for `-e`.
#[derive(Debug, Clone, Copy, Default)]
pub enum Slot<'a> {
    /// Not looked for: an argv of a plan with a slot table is refused.
    #[default]
    NotLooked,
    /// Identified at the edge.
    Running(&'a crate::slots::Running),
    /// Could not be identified, or not on this machine (an image-build check): only `explain`
    /// and `check --static` build an argv with it, where the words say so.
    Unknown,
}

/// The argv in groups; `argv[0]` is the binary. Order: binary, key, the user's options, the
/// A/B selection, anti-rollback, the mode. Paths are placed under `root`; `running` is the
/// version the device runs (read from it); `slot` the running A/B slot; `verified` the update
/// as swupdate opens it (`/proc/self/fd/N`) at a run: the verification stage's private copy
/// once the stage ran (before, a placeholder is shown), or in file mode the update file the
/// launcher opened and judged.
pub fn build(
    plan: &Plan,
    root: &Root,
    running: &RunningVersion,
    slot: Slot<'_>,
    verified: Option<&Path>,
) -> Result<Vec<Group>, Error> {
    let mut out = binary_and_options(plan, root);
    out.extend(selection(plan, slot)?);
    out.extend(anti_rollback(&plan.anti_rollback, running)?);
    out.extend(mode(plan, root, verified)?);
    Ok(out)
}

/// A device path where swupdate opens it, as a word.
fn placed(root: &Root, device_path: &Path) -> String {
    root.host(device_path).to_string_lossy().into_owned()
}

/// The binary, the key and verifier the image chose, then the user's own options.
fn binary_and_options(plan: &Plan, root: &Root) -> Vec<Group> {
    let mut out = vec![group(vec![placed(root, &plan.bin.value)], &[&plan.bin])];
    if let Some(k) = &plan.public_key {
        out.push(group(vec!["-k".into(), placed(root, &k.value)], &[k]));
    }
    if let Some(p) = &plan.digest_provider {
        out.push(group(
            vec!["--digest-provider".into(), p.value.clone()],
            &[p],
        ));
    }
    if let Some(c) = &plan.config_file {
        let file = match &c.chosen {
            Some(chosen) => placed(root, chosen),
            None => "<none of SWUPDATE_CONFIG_FILES exists>".to_string(),
        };
        out.push(group(vec!["-f".into(), file], &[&c.candidates]));
    }
    for a in &plan.user_args {
        out.push(group(a.value.clone(), &[a]));
    }
    out
}

/// Without the `ab` feature no slot table exists ([`crate::without_ab`]): no `-e`.
#[cfg(not(feature = "ab"))]
fn selection(plan: &Plan, slot: Slot<'_>) -> Result<Option<Group>, Error> {
    if let Slot::Running(r) = slot {
        match *r {}
    }
    Ok(plan.slots.as_deref().map(|table| match *table {}))
}

/// `-e set,mode`: the running slot's selection (`SWUPDATE_SLOTS`), in every mode.
#[cfg(feature = "ab")]
fn selection(plan: &Plan, slot: Slot<'_>) -> Result<Option<Group>, Error> {
    use crate::config::vocabulary::names::{SWUPDATE_SLOT_SOURCES, SWUPDATE_SLOTS};
    let Some(table) = &plan.slots else {
        return Ok(None);
    };
    let mut because = vec![(SWUPDATE_SLOTS, table.origin.clone())];
    let selection = match slot {
        Slot::Running(r) => {
            if let Some(s) = table.slot(&r.slot) {
                because.push((SWUPDATE_SLOT_SOURCES, table.sources_origin.clone()));
                because.push((SLOT_VARIABLE, s.origin.clone()));
            }
            r.selection.to_string()
        }
        Slot::Unknown => "<the running slot's selection, not identified>".to_string(),
        Slot::NotLooked => {
            return Err(Error::new(
                Kind::SlotUnknown,
                "SWUPDATE_SLOTS is set but the running slot was not identified",
            ));
        }
    };
    Ok(Some(Group {
        words: vec!["-e".into(), selection],
        because,
    }))
}

/// The per-slot variable, as a group's reason names it.
#[cfg(feature = "ab")]
const SLOT_VARIABLE: &str = "SWUPDATE_SLOT_<NAME>";

/// `-N`/`-R` from the running version, and `--max-version`.
fn anti_rollback(ar: &AntiRollback, running: &RunningVersion) -> Result<Vec<Group>, Error> {
    let mut out = Vec::new();
    if ar.enabled.value {
        let version = match running {
            RunningVersion::Read(v) => v.clone(),
            RunningVersion::Unknown => "<running version, not read>".to_string(),
            RunningVersion::NotRead => {
                return Err(Error::new(
                    Kind::Config,
                    "anti-rollback is on but the running version is unknown",
                ));
            }
        };
        let mut words = vec!["-N".to_string(), version.clone()];
        let mut from = vec![&ar.enabled, &ar.reinstall];
        if !ar.reinstall.value {
            words.extend(["-R".to_string(), version]);
        } else {
            from.pop();
        }
        let mut g = group(words, &from);
        g.because
            .push((ar.version_file.name, ar.version_file.origin.clone()));
        g.because.push((ar.key.name, ar.key.origin.clone()));
        out.push(g);
    }
    if let Some(m) = &ar.max_version {
        out.push(group(vec!["--max-version".into(), m.value.clone()], &[m]));
    }
    Ok(out)
}

/// The mode's words: `-i`, `-d "…"`, or the daemon's `-w`/`-u`.
fn mode(plan: &Plan, root: &Root, verified: Option<&Path>) -> Result<Vec<Group>, Error> {
    let mode_because = (SWUPDATE_SOURCE, plan.mode_origin.clone());
    let mut out = Vec::new();
    match &plan.mode {
        Mode::File { update_file } => {
            let input = match (&plan.verification, verified) {
                (Some(_), _) => verified_input(verified),
                (None, Some(opened)) => opened.to_string_lossy().into_owned(),
                (None, None) => placed(root, &update_file.value),
            };
            let mut g = group(vec!["-i".into(), input], &[update_file]);
            g.because.insert(0, mode_because);
            if let Some(v) = &plan.verification {
                g.because.push((v.program.name, v.program.origin.clone()));
            }
            out.push(g);
        }
        Mode::Download {
            url,
            retries,
            timeout,
            ..
        } => {
            let DownloadUrl::Given(url) = url else {
                return Err(Error::new(
                    Kind::Config,
                    "download mode has no URL yet: nothing to run",
                ));
            };
            out.push(download(
                plan,
                verified,
                mode_because,
                url,
                [retries, timeout],
            ));
        }
        Mode::Daemon {
            webserver,
            suricatta,
        } => {
            for (flag, s) in [("-w", webserver), ("-u", suricatta)] {
                if let Some(s) = s {
                    out.push(group(vec![flag.into(), s.value.clone()], &[s]));
                }
            }
        }
    }
    Ok(out)
}

/// `-d "-u URL [-r N] [-t N] [-a user:password]"`, or, with a verification stage, `-i` of the
/// copy the launcher downloaded and verified.
fn download(
    plan: &Plan,
    verified: Option<&Path>,
    mode_because: (&'static str, Origin),
    url: &Traced<Url>,
    [retries, timeout]: [&Option<Traced<u32>>; 2],
) -> Group {
    if let Some(v) = &plan.verification {
        // The launcher downloaded and verified the pack: swupdate installs the copy.
        return Group {
            words: vec!["-i".into(), verified_input(verified)],
            because: vec![
                mode_because,
                (url.name, url.origin.clone()),
                (v.program.name, v.program.origin.clone()),
            ],
        };
    }
    // swupdate splits this string on whitespace: every part is free of it by
    // construction (the URL is encoded, the numbers are numbers, the credentials
    // were checked by the plan).
    let mut parts = vec!["-u".to_string(), url.value.for_downloader()];
    let mut because = vec![mode_because, (url.name, url.origin.clone())];
    for (flag, n) in [("-r", retries), ("-t", timeout)] {
        if let Some(n) = n {
            parts.push(flag.into());
            parts.push(n.value.to_string());
            because.push((n.name, n.origin.clone()));
        }
    }
    if let Ok(Some(c)) = url.value.credentials() {
        parts.push("-a".into());
        parts.push(c.expose().to_string());
    }
    Group {
        words: vec!["-d".into(), parts.join(" ")],
        because,
    }
}

/// The verified copy as swupdate opens it; before the run, its placeholder.
fn verified_input(verified: Option<&Path>) -> String {
    verified.map_or_else(
        // Known only at run time: the private copy's descriptor.
        || "/proc/self/fd/N".to_string(),
        |p| p.to_string_lossy().into_owned(),
    )
}

/// The argv as one vector.
pub fn flatten(groups: &[Group]) -> Vec<String> {
    groups
        .iter()
        .flat_map(|g| g.words.iter().cloned())
        .collect()
}

/// The argv as a line a person can paste into a shell.
pub fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|w| shell_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One word quoted for a POSIX shell, on one line and unambiguous: the runs without control
/// characters quoted as `shell_words` does, each control character (CR, newline, ESC...) in
/// the `$'\r'` form of POSIX.1-2024 (bash, dash 0.5.12, busybox ash), as GNU `ls` shows names.
pub fn shell_word(word: &str) -> String {
    if !word.chars().any(char::is_control) {
        return shell_words::quote(word).into_owned();
    }
    let mut out = String::new();
    let mut run = String::new();
    for c in word.chars() {
        if c.is_control() {
            if !run.is_empty() {
                out.push_str(&shell_words::quote(&run));
                run.clear();
            }
            out.push_str("$'");
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                // Its UTF-8 bytes: `\xHH` is a byte in every shell that reads `$'...'`.
                c => {
                    for b in c.encode_utf8(&mut [0; 4]).bytes() {
                        const HEX: &[u8; 16] = b"0123456789abcdef";
                        out.push_str("\\x");
                        out.push(char::from(HEX[usize::from(b >> 4)]));
                        out.push(char::from(HEX[usize::from(b & 0xf)]));
                    }
                }
            }
            out.push('\'');
        } else {
            run.push(c);
        }
    }
    if !run.is_empty() {
        out.push_str(&shell_words::quote(&run));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::Settings;
    use crate::config::vocabulary::names::{SWUPDATE_BIN, SWUPDATE_PUBLIC_KEY};
    use crate::plan::{self, CheckAt, Inputs};

    fn plan_of(topo: &[(&str, &str)], vars: &[(&str, &str)]) -> Plan {
        let mut t = Settings::default();
        t.set(SWUPDATE_BIN, "/usr/bin/swupdate", Origin::Default);
        for (n, v) in topo {
            t.set(n, *v, Origin::Environment);
        }
        let mut s = Settings::default();
        for &(n, v) in crate::config::vocabulary::SCRIPT_DEFAULTS.iter() {
            s.set(n, v, Origin::Default);
        }
        for (n, v) in vars {
            s.set(n, *v, Origin::Environment);
        }
        plan::build(&Inputs {
            accounts: &crate::plan::tests_support::FewAccounts,
            expect: plan::Expect::Any,
            topology: &t,
            vars: &s,
            update_file_override: None,
            check_at: CheckAt::Device,
        })
        .unwrap()
    }

    /// A device running release 1.0.
    fn running() -> RunningVersion {
        RunningVersion::Read("1.0".into())
    }

    /// The argv on a device running 1.0, without `--root`.
    fn argv(topo: &[(&str, &str)], vars: &[(&str, &str)]) -> Vec<String> {
        flatten(&build(&plan_of(topo, vars), &Root::default(), &running(), Slot::NotLooked, None).unwrap())
    }

    #[test]
    fn file_mode_argv() {
        assert_eq!(
            argv(
                &[(SWUPDATE_PUBLIC_KEY, "/etc/k.pem")],
                &[
                    ("SWUPDATE_SOURCE", "file"),
                    ("UPDATE_FILE", "/data/a b.swu")
                ]
            ),
            [
                "/usr/bin/swupdate",
                "-k",
                "/etc/k.pem",
                "-v",
                "-N",
                "1.0",
                "-i",
                "/data/a b.swu"
            ]
        );
    }

    #[test]
    fn download_mode_argv_is_one_whitespace_split_string() {
        assert_eq!(
            argv(
                &[],
                &[
                    ("SWUPDATE_SOURCE", "download"),
                    ("URL", "https://u:p@h/my file.swu"),
                    ("SWUPDATE_DOWNLOAD_RETRIES", "2"),
                    ("SWUPDATE_DOWNLOAD_TIMEOUT", "60"),
                ]
            ),
            [
                "/usr/bin/swupdate",
                "-v",
                "-N",
                "1.0",
                "-d",
                "-u https://h/my%20file.swu -r 2 -t 60 -a u:p"
            ]
        );
    }

    #[test]
    fn daemon_argv_as_swupdate_sh() {
        assert_eq!(
            argv(
                &[],
                &[
                    ("SWUPDATE_WEBSERVER_ARGS", "-r /www -p 8080"),
                    ("SWUPDATE_SURICATTA_ARGS", "-t d -i x")
                ]
            ),
            [
                "/usr/bin/swupdate",
                "-v",
                "-w",
                "-r /www -p 8080",
                "-u",
                "-t d -i x"
            ]
        );
    }

    #[test]
    fn bare_daemon_argv_is_swupdate_v() {
        assert_eq!(argv(&[], &[]), ["/usr/bin/swupdate", "-v"]);
    }

    #[test]
    fn extra_args_follow_swupdate_args() {
        assert_eq!(
            argv(&[], &[("SWUPDATE_EXTRA_ARGS", "-e 'stable,copy 1'")]),
            ["/usr/bin/swupdate", "-v", "-e", "stable,copy 1"]
        );
    }

    #[test]
    fn every_group_says_why() {
        let p = plan_of(&[], &[("SWUPDATE_SOURCE", "file"), ("UPDATE_FILE", "/u")]);
        let g = build(&p, &Root::default(), &running(), Slot::NotLooked, None).unwrap();
        assert!(g.iter().all(|g| !g.because.is_empty()));
        let mode = g.last().unwrap();
        assert_eq!(mode.because[0].0, "SWUPDATE_SOURCE");
        assert_eq!(mode.because[1].0, "UPDATE_FILE");
    }

    const FILE: [(&str, &str); 2] = [("SWUPDATE_SOURCE", "file"), ("UPDATE_FILE", "/u.swu")];

    fn file_with(more: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        FILE.iter().chain(more).copied().collect()
    }

    #[test]
    fn anti_rollback_passes_the_running_version_as_n() {
        let a = argv(&[], &FILE);
        assert_eq!(a[2..4], ["-N", "1.0"]);
    }

    #[test]
    fn no_reinstall_adds_r_with_the_same_version() {
        let a = argv(&[], &file_with(&[("SWUPDATE_REINSTALL", "no")]));
        assert_eq!(a[2..6], ["-N", "1.0", "-R", "1.0"]);
    }

    #[test]
    fn max_version_is_passed() {
        let a = argv(&[], &file_with(&[("SWUPDATE_MAX_VERSION", "2.0")]));
        assert_eq!(a[4..6], ["--max-version", "2.0"]);
    }

    #[test]
    fn anti_rollback_can_be_switched_off() {
        let a = argv(&[], &file_with(&[("SWUPDATE_ANTI_ROLLBACK", "no")]));
        assert!(!a.contains(&"-N".to_string()), "{a:?}");
    }

    #[test]
    fn the_daemon_has_no_anti_rollback_unless_asked() {
        assert_eq!(argv(&[], &[]), ["/usr/bin/swupdate", "-v"]);
        let a = argv(&[], &[("SWUPDATE_ANTI_ROLLBACK", "yes")]);
        assert_eq!(a, ["/usr/bin/swupdate", "-v", "-N", "1.0"]);
    }

    #[test]
    fn an_unknown_running_version_builds_no_argv() {
        let p = plan_of(&[], &FILE);
        assert!(build(&p, &Root::default(), &RunningVersion::NotRead, Slot::NotLooked, None).is_err());
    }

    #[test]
    fn a_verified_copy_replaces_the_update_file() {
        let vars = file_with(&[("SWUPDATE_VERIFY_PROGRAM", "/usr/bin/unpack --strict")]);
        let p = plan_of(&[], &vars);
        let copy = Path::new("/proc/self/fd/7");
        let g = build(&p, &Root::default(), &running(), Slot::NotLooked, Some(copy)).unwrap();
        let mode = g.last().unwrap();
        assert_eq!(mode.words, ["-i", "/proc/self/fd/7"]);
        assert_eq!(mode.because.last().unwrap().0, "SWUPDATE_VERIFY_PROGRAM");
        let before = flatten(&build(&p, &Root::default(), &running(), Slot::NotLooked, None).unwrap());
        assert_eq!(before.last().unwrap(), "/proc/self/fd/N");
    }

    #[test]
    fn paths_are_placed_under_the_root() {
        let vars = file_with(&[("SWUPDATE_VERIFY_PROGRAM", "/usr/bin/unpack")]);
        let p = plan_of(&[(SWUPDATE_PUBLIC_KEY, "/etc/k.pem")], &FILE);
        let root = Root::new(Some("/img".into()));
        let a = flatten(&build(&p, &root, &running(), Slot::NotLooked, None).unwrap());
        assert_eq!(a[0], "/img/usr/bin/swupdate");
        assert_eq!(a[1..3], ["-k", "/img/etc/k.pem"]);
        assert_eq!(a.last().unwrap(), "/img/u.swu");
        // The verified copy is swupdate's own descriptor, never under the root.
        let p = plan_of(&[], &vars);
        let copy = Path::new("/proc/self/fd/7");
        let a = flatten(&build(&p, &root, &running(), Slot::NotLooked, Some(copy)).unwrap());
        assert_eq!(a.last().unwrap(), "/proc/self/fd/7");
    }

    #[test]
    fn control_characters_are_quoted_in_dollar_quotes_on_one_line() {
        assert_eq!(shell_word("/a\rb"), r"/a$'\r'b");
        assert_eq!(shell_word("x y\n\u{1b}[1m"), r"'x y'$'\n'$'\x1b''[1m'");
        assert_eq!(shell_word("\u{85}"), r"$'\xc2\x85'");
    }

    #[test]
    fn shell_line_quotes_for_pasting() {
        assert_eq!(
            shell_line(&["a".into(), "b c".into(), "it's".into()]),
            r#"a 'b c' 'it'\''s'"#
        );
    }
}
