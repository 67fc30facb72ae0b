//! `explain`: the whole path from files to argv, for a person. Secrets (URL credentials and
//! query values, the downloader's `-a`, suricatta tokens) are masked here as everywhere else:
//! each value before it is quoted, and the whole report once more (see [`crate::secret`]).
//!
//! Pure: it renders what was loaded and planned into a string; [`crate::app`] prints it. Paths
//! are shown where this machine finds them (under `--root`), as the files read are.

use std::fmt::Write as _;

use crate::config::confd::{Dir, Verdict};
use crate::config::load::Loaded;
use crate::config::settings::Settings;
use crate::config::vocabulary::{self, CONF_D, TOPOLOGY, names};
use crate::error::Error;
use crate::plan::argv::Group;
use crate::plan::{Mode, Plan, Preflight};
use crate::rootfs::Root;
use crate::secret::redact;

fn dir_name(d: Dir) -> &'static str {
    match d {
        Dir::Lib => "lib",
        Dir::Etc => "etc",
    }
}

/// A variable's value as it may be shown: `URL` masked as one whole URL (so an earlier,
/// overridden URL with a blank in its password is masked too), then as any value.
fn shown_var(name: &str, value: &str) -> String {
    if name == names::URL {
        redact(&crate::plan::url::redact_whole(value))
    } else {
        redact(value)
    }
}

/// Argv words as they may be shown: each word masked of the secrets recorded when they
/// entered (never re-split to guess where a password is).
pub fn shown_words(words: &[String]) -> Vec<String> {
    words.iter().map(|w| redact(w)).collect()
}

fn variables(out: &mut String, s: &Settings, only: Option<&[&str]>, used: &[&str]) {
    for name in s.names() {
        if only.is_some_and(|o| !o.contains(&name)) {
            continue;
        }
        let history = s.history(name);
        let Some(last) = history.last() else { continue };
        let in_args = (name == names::SWUPDATE_EXTRA_ARGS)
            .then(|| crate::plan::extra_args_in_args(s))
            .flatten();
        let note = match in_args {
            Some(args) => format!(
                "   (SWUPDATE_ARGS from {} expanded it and holds its words: not appended again)",
                args.origin
            ),
            None if used.contains(&name) || vocabulary::slot_of_variable(name).is_some() => {
                String::new()
            }
            None => "   (not read by the launcher; fragments may expand it)".into(),
        };
        let _ = writeln!(
            out,
            "  {name}={}\n      from {}{note}",
            crate::plan::argv::shell_word(&shown_var(name, &last.value)),
            last.origin
        );
        for earlier in history.iter().rev().skip(1) {
            let _ = writeln!(
                out,
                "      overrides {} from {}",
                crate::plan::argv::shell_word(&shown_var(name, &earlier.value)),
                earlier.origin
            );
        }
    }
}

#[cfg(not(feature = "streaming"))]
fn describe_preflight(_: &Preflight, _: &Root) -> String {
    "not compiled in (built without the `streaming` feature): swupdate's downloader does all the network work".into()
}

#[cfg(feature = "streaming")]
fn describe_preflight(p: &Preflight, root: &Root) -> String {
    use crate::net::policy::Exchange;
    if !p.enabled.value {
        return format!("off (SWUPDATE_PREFLIGHT from {})", p.enabled.origin);
    }
    let ca = p.ca_file.as_ref().map_or_else(
        || "the system's CA store".to_string(),
        |c| {
            format!(
                "only {} (SWUPDATE_CA_FILE from {})",
                root.host(&c.value).display(),
                c.origin
            )
        },
    );
    let secs = |t: &Option<crate::plan::Traced<u32>>, default: std::time::Duration| {
        t.as_ref()
            .map_or_else(|| default.as_secs(), |t| t.value.into())
    };
    format!(
        "HEAD (or a one-byte GET) before swupdate starts; trusts {ca}; {} s per request; transient failures retried for {} s",
        secs(&p.timeout, Exchange::DEFAULT_REQUEST_TIMEOUT),
        secs(&p.budget, Exchange::DEFAULT_BACKOFF.budget)
    )
}

/// For each `(name, dir)`, the index of the first entry with the same name in another
/// directory (the file it shadows, masks, or is shadowed by). One pass to index the names,
/// one to look them up: linear in the number of fragments (a search per file made `explain`
/// quadratic: 19 s at 100,000 fragments).
pub fn partners<K: std::hash::Hash + Eq, D: PartialEq + Copy>(
    keys: &[(K, D)],
) -> Vec<Option<usize>> {
    let mut by_name: std::collections::HashMap<&K, Vec<usize>> =
        std::collections::HashMap::with_capacity(keys.len());
    for (i, (k, _)) in keys.iter().enumerate() {
        by_name.entry(k).or_default().push(i);
    }
    keys.iter()
        .map(|(k, d)| {
            by_name
                .get(k)
                .and_then(|same| same.iter().copied().find(|&j| keys[j].1 != *d))
        })
        .collect()
}

/// The report; `outcome` is the plan and argv, or why there are none.
/// `inputs` is the problem with the files the plan names, if any.
pub fn render(
    loaded: &Loaded,
    root: &Root,
    outcome: &Result<(Plan, Vec<Group>), Error>,
    inputs: Option<&Error>,
    slot: Option<&Result<crate::slots::Running, Error>>,
) -> String {
    let mut out = String::new();
    env_file_section(&mut out, loaded);
    topology_section(&mut out, loaded);
    conf_dirs_section(&mut out, loaded);
    conf_files_section(&mut out, loaded);
    variables_section(&mut out, loaded);
    match outcome {
        Ok((plan, groups)) => {
            plan_section(&mut out, plan, root);
            if let Some(table) = &plan.slots {
                slots_section(&mut out, table, slot);
            }
            argv_section(&mut out, groups);
            if let Some(e) = inputs {
                not_started(&mut out, e);
            }
        }
        Err(e) => not_started(&mut out, e),
    }
    // Line by line: whatever a section quoted, no control character but the line ends.
    let lines: Vec<String> = out.split('\n').map(crate::error::printable).collect();
    redact(&lines.join("\n"))
}

/// The title, and whether the EnvironmentFile was there.
fn env_file_section(out: &mut String, loaded: &Loaded) {
    let _ = writeln!(
        out,
        "swupdate-launcher {}: what it does, and why\n",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "EnvironmentFile {}: {}",
        loaded.env_file.path.display(),
        if loaded.env_file.found {
            "read"
        } else {
            "not found, built-in defaults"
        }
    );
}

fn topology_section(out: &mut String, loaded: &Loaded) {
    let _ = writeln!(out, "\nTopology (the environment wins over the file):");
    variables(out, &loaded.topology, Some(TOPOLOGY.as_slice()), &TOPOLOGY);
    let others: Vec<&str> = loaded
        .topology
        .names()
        .filter(|n| !TOPOLOGY.contains(n))
        .collect();
    if !others.is_empty() {
        let _ = writeln!(out, "  ignored, not topology: {}", others.join(", "));
    }
}

fn conf_dirs_section(out: &mut String, loaded: &Loaded) {
    let _ = writeln!(out, "\nconf.d directories:");
    for d in loaded.conf_dirs() {
        let _ = writeln!(
            out,
            "  {}: {}{}",
            dir_name(d.which),
            d.path.display(),
            if d.exists() {
                ""
            } else {
                " (missing: nothing to read)"
            }
        );
    }
}

/// Every conf.d file in merge order, with what became of it and which file decided that.
fn conf_files_section(out: &mut String, loaded: &Loaded) {
    let _ = writeln!(out, "\nconf.d files, in the order they are read:");
    if loaded.files.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    let keys: Vec<(Option<&std::ffi::OsStr>, Dir)> = loaded
        .files
        .iter()
        .map(|f| (f.path.file_name(), f.dir))
        .collect();
    for (f, other) in loaded.files.iter().zip(partners(&keys)) {
        let other = other.map(|i| &loaded.files[i]);
        let by = other
            .map(|o| o.path.display().to_string())
            .unwrap_or_default();
        let line = match f.verdict {
            Verdict::Read => format!("read      {}", f.path.display()),
            Verdict::Shadowed => format!("shadowed  {}  by {by}", f.path.display()),
            Verdict::Masked => format!("masked    {}  by {by}", f.path.display()),
            Verdict::Mask if other.is_some() => format!(
                "mask      {}  (empty or /dev/null: hides the {} file)",
                f.path.display(),
                dir_name(Dir::Lib)
            ),
            Verdict::Mask => format!("empty     {}", f.path.display()),
            Verdict::Skipped(why) => format!("skipped   {}  ({why})", f.path.display()),
        };
        // File names are anybody's to choose (the agent's directory): no raw control character.
        let _ = writeln!(out, "  {}", crate::error::printable(&line));
    }
}

fn variables_section(out: &mut String, loaded: &Loaded) {
    let _ = writeln!(out, "\nVariables (last assignment wins):");
    variables(out, &loaded.vars, None, &CONF_D);
    for why in crate::swupdate::secrets::unreadable(&loaded.vars) {
        let _ = writeln!(out, "  masked: {why}");
    }
}

/// Without the `ab` feature no slot table exists ([`crate::without_ab`]).
#[cfg(not(feature = "ab"))]
fn slots_section(
    _out: &mut String,
    table: &crate::slots::Table,
    _slot: Option<&Result<crate::slots::Running, Error>>,
) {
    match *table {}
}

/// "A/B slots": the table, what each source saw, the running slot and the selection passed.
#[cfg(feature = "ab")]
fn slots_section(
    out: &mut String,
    table: &crate::slots::Table,
    slot: Option<&Result<crate::slots::Running, Error>>,
) {
    let names: Vec<&str> = table.slots.iter().map(|s| s.name.as_str()).collect();
    let sources: Vec<String> = table.sources.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        out,
        "\nA/B slots: {} (SWUPDATE_SLOTS from {})\n  sources, in order: {} (SWUPDATE_SLOT_SOURCES from {})",
        names.join(" "),
        table.origin,
        sources.join(", "),
        table.sources_origin
    );
    for s in &table.slots {
        let mut words = vec![format!("device={}", s.device)];
        if let Some(b) = &s.bootname {
            words.push(format!("bootname={b}"));
        }
        words.push(format!("selection={}", s.selection));
        if let Some(w) = &s.writes {
            words.push(format!("writes={w}"));
        }
        let _ = writeln!(out, "  slot {}: {} (from {})", s.name, words.join(" "), s.origin);
    }
    match slot {
        Some(Ok(r)) => {
            for (source, saw) in &r.sources {
                let _ = writeln!(out, "  {source}: {saw}");
            }
            let agree: Vec<&str> = r.sources.iter().map(|(s, _)| s.as_str()).collect();
            let verb = if agree.len() == 1 { "says so" } else { "agree" };
            let writes = r
                .writes
                .as_ref()
                .map(|(w, n)| format!(" writes {w} ({n}), not the booted root"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  running slot {} ({} {verb}) -> -e {}{writes}",
                r.slot,
                agree.join(", "),
                r.selection
            );
        }
        Some(Err(e)) => {
            let _ = writeln!(out, "  running slot not identified: {}", e.summary());
        }
        None => {}
    }
}

/// What the variables mean: the mode, and the stages around swupdate.
fn plan_section(out: &mut String, plan: &Plan, root: &Root) {
    let _ = writeln!(
        out,
        "\nMode: {} (from {})",
        plan.mode.name(),
        plan.mode_origin
    );
    if let Mode::Download { preflight, .. } = &plan.mode {
        let _ = writeln!(out, "Preflight: {}", describe_preflight(preflight, root));
    }
    if let Some(v) = &plan.verification {
        let _ = writeln!(
            out,
            "Verification: {} (SWUPDATE_VERIFY_PROGRAM from {}) reads the update on stdin as uid:gid {}:{}; its output, a private copy in {} removed whatever the outcome, is what swupdate installs; exit 1 = security violation; killed after {} s",
            v.program.value.line(&root.host(&v.program.value.path)),
            v.program.origin,
            v.user.value.uid,
            v.user.value.gid,
            root.host(&v.dir.value).display(),
            v.timeout.value
        );
    }
    if let Some(c) = &plan.config_file {
        let _ = writeln!(
            out,
            "swupdate's configuration file: {}",
            crate::preconditions::config_file_reason(c)
        );
    }
    let _ = writeln!(out, "Anti-rollback: {}", describe_anti_rollback(plan, root));
}

fn describe_anti_rollback(plan: &Plan, root: &Root) -> String {
    let ar = &plan.anti_rollback;
    if ar.enabled.value {
        format!(
            "on (SWUPDATE_ANTI_ROLLBACK from {}): -N <{} in {}>{}{}",
            ar.enabled.origin,
            ar.key.value,
            root.host(&ar.version_file.value).display(),
            if ar.reinstall.value {
                ""
            } else {
                ", -R (no reinstall of the running release)"
            },
            ar.max_version
                .as_ref()
                .map_or_else(String::new, |m| format!(", --max-version {}", m.value))
        )
    } else {
        format!(
            "off (SWUPDATE_ANTI_ROLLBACK from {}): older releases install",
            ar.enabled.origin
        )
    }
}

/// Each argv group with the variables it comes from.
fn argv_section(out: &mut String, groups: &[Group]) {
    let _ = writeln!(out, "\nswupdate argv, and why:");
    for g in groups {
        let words = crate::plan::argv::shell_line(&shown_words(&g.words));
        let why: Vec<String> = g
            .because
            .iter()
            .map(|(n, o)| format!("{n} ({o})"))
            .collect();
        let _ = writeln!(out, "  {words}\n      because {}", why.join(", "));
    }
}

fn not_started(out: &mut String, e: &Error) {
    let _ = writeln!(out, "\nswupdate would not be started:\n  {e}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        static OPS: Cell<u64> = const { Cell::new(0) };
    }

    /// A file name that counts how often it is hashed or compared.
    #[derive(Clone, Copy)]
    struct Counted(u64);

    impl std::hash::Hash for Counted {
        fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
            OPS.with(|o| o.set(o.get() + 1));
            self.0.hash(h);
        }
    }

    impl PartialEq for Counted {
        fn eq(&self, other: &Self) -> bool {
            OPS.with(|o| o.set(o.get() + 1));
            self.0 == other.0
        }
    }

    impl Eq for Counted {}

    /// Operations to match `n` names, half of them in both directories.
    fn ops_for(n: u64) -> u64 {
        let keys: Vec<(Counted, Dir)> = (0..n)
            .flat_map(|i| {
                let both = i % 2 == 0;
                [(Counted(i), Dir::Lib)]
                    .into_iter()
                    .chain(both.then_some((Counted(i), Dir::Etc)))
            })
            .collect();
        OPS.with(|o| o.set(0));
        let p = partners(&keys);
        assert_eq!(p[0], Some(1), "lib 0 pairs with etc 0");
        assert_eq!(p[2], None, "1 is only in lib");
        OPS.with(Cell::get)
    }

    #[test]
    fn matching_fragments_across_directories_is_linear() {
        let (small, large) = (ops_for(2_000), ops_for(20_000));
        // Linear: about 10 times the work; a search per file would be about 100 times.
        assert!(
            large < small * 20,
            "{small} operations for 2,000 names, {large} for 20,000"
        );
    }

    #[test]
    fn words_are_shown_with_their_recorded_secrets_masked() {
        crate::secret::record("user:pw-explain-1");
        let w = shown_words(&[
            "-d".into(),
            "-u https://h/x?t=1 -r 3 -a user:pw-explain-1".into(),
        ]);
        assert_eq!(w[1], "-u https://h/x?t=*** -r 3 -a ***");
    }

    #[test]
    fn words_without_secrets_are_kept() {
        let w = shown_words(&["-e".into(), "a -a b".into()]);
        assert_eq!(w[1], "a -a b");
    }
}
