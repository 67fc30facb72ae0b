//! `explain`: the whole path from files to argv, for a person. Secrets (URL credentials and
//! query values, the downloader's `-a`) are redacted here as everywhere else.

use std::fmt::Write as _;

use crate::argv::Group;
use crate::confd::{Dir, Verdict};
use crate::error::Error;
use crate::load::Loaded;
use crate::plan::{Mode, Plan, Preflight, VOCABULARY};
use crate::settings::{Settings, TOPOLOGY};
use crate::url::redact_text;

fn dir_name(d: Dir) -> &'static str {
    match d {
        Dir::Lib => "lib",
        Dir::Etc => "etc",
    }
}

/// A value as it may be shown: URLs redacted.
pub fn shown(value: &str) -> String {
    redact_text(value)
}

/// Argv words as they may be shown: the downloader's credentials and URL secrets redacted.
pub fn shown_words(words: &[String]) -> Vec<String> {
    words
        .iter()
        .map(|w| {
            let mut after_a = false;
            w.split(' ')
                .map(|t| {
                    let out = if after_a {
                        "***".to_string()
                    } else {
                        redact_text(t)
                    };
                    after_a = t == "-a" && w.starts_with("-u ");
                    out
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn variables(out: &mut String, s: &Settings, only: Option<&[&str]>, used: &[&str]) {
    for name in s.names() {
        if only.is_some_and(|o| !o.contains(&name)) {
            continue;
        }
        let history = s.history(name);
        let Some(last) = history.last() else { continue };
        let note = if used.contains(&name) {
            ""
        } else {
            "   (not read by the launcher; fragments may expand it)"
        };
        let _ = writeln!(
            out,
            "  {name}={}\n      from {}{note}",
            shell_words::quote(&shown(&last.value)),
            last.origin
        );
        for earlier in history.iter().rev().skip(1) {
            let _ = writeln!(
                out,
                "      overrides {} from {}",
                shell_words::quote(&shown(&earlier.value)),
                earlier.origin
            );
        }
    }
}

#[cfg(not(feature = "streaming"))]
fn describe_preflight(_: &Preflight) -> String {
    "not compiled in (built without the `streaming` feature): swupdate's downloader does all the network work".into()
}

#[cfg(feature = "streaming")]
fn describe_preflight(p: &Preflight) -> String {
    use crate::preflight::Settings;
    if !p.enabled.value {
        return format!("off (SWUPDATE_PREFLIGHT from {})", p.enabled.origin);
    }
    let ca = p.ca_file.as_ref().map_or_else(
        || "the system's CA store".to_string(),
        |c| {
            format!(
                "only {} (SWUPDATE_CA_FILE from {})",
                c.value.display(),
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
        secs(&p.timeout, Settings::DEFAULT_REQUEST_TIMEOUT),
        secs(&p.budget, Settings::DEFAULT_BACKOFF.budget)
    )
}

/// The report; `outcome` is the plan and argv, or why there are none.
/// `inputs` is the problem with the files the plan names, if any.
pub fn render(
    loaded: &Loaded,
    outcome: &Result<(Plan, Vec<Group>), Error>,
    inputs: Option<&Error>,
) -> String {
    let mut out = String::new();
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
    let _ = writeln!(out, "\nTopology (the environment wins over the file):");
    variables(&mut out, &loaded.topology, Some(&TOPOLOGY), &TOPOLOGY);
    let others: Vec<&str> = loaded
        .topology
        .names()
        .filter(|n| !TOPOLOGY.contains(n))
        .collect();
    if !others.is_empty() {
        let _ = writeln!(out, "  ignored, not topology: {}", others.join(", "));
    }

    let _ = writeln!(out, "\nconf.d directories:");
    for (d, path, exists) in &loaded.conf_dirs {
        let _ = writeln!(
            out,
            "  {}: {}{}",
            dir_name(*d),
            path.display(),
            if *exists {
                ""
            } else {
                " (missing: nothing to read)"
            }
        );
    }
    let _ = writeln!(out, "\nconf.d files, in the order they are read:");
    if loaded.files.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for f in &loaded.files {
        let other = loaded
            .files
            .iter()
            .find(|o| o.dir != f.dir && o.path.file_name() == f.path.file_name());
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
        let _ = writeln!(out, "  {line}");
    }

    let _ = writeln!(out, "\nVariables (last assignment wins):");
    variables(&mut out, &loaded.vars, None, &VOCABULARY);

    match outcome {
        Ok((plan, groups)) => {
            let _ = writeln!(
                out,
                "\nMode: {} (from {})",
                plan.mode.name(),
                plan.mode_origin
            );
            if let Mode::Download { preflight, .. } = &plan.mode {
                let _ = writeln!(out, "Preflight: {}", describe_preflight(preflight));
            }
            if let Some(v) = &plan.verification {
                let _ = writeln!(
                    out,
                    "Verification: {} (SWUPDATE_VERIFY_PROGRAM from {}) reads the update on stdin as uid:gid {}:{}; its output, a private copy in {} removed whatever the outcome, is what swupdate installs; exit 1 = security violation; killed after {} s",
                    v.argv.value.join(" "),
                    v.argv.origin,
                    v.user.value.0,
                    v.user.value.1,
                    v.dir.value.display(),
                    v.timeout.value
                );
            }
            let ar = &plan.anti_rollback;
            let _ = writeln!(
                out,
                "Anti-rollback: {}",
                if ar.enabled.value {
                    format!(
                        "on (SWUPDATE_ANTI_ROLLBACK from {}): -N <{} in {}>{}{}",
                        ar.enabled.origin,
                        ar.key.value,
                        ar.version_file.value.display(),
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
            );
            let _ = writeln!(out, "\nswupdate argv, and why:");
            for g in groups {
                let words = shell_words::join(shown_words(&g.words));
                let why: Vec<String> = g
                    .because
                    .iter()
                    .map(|(n, o)| format!("{n} ({o})"))
                    .collect();
                let _ = writeln!(out, "  {words}\n      because {}", why.join(", "));
            }
            if let Some(e) = inputs {
                let _ = writeln!(out, "\nswupdate would not be started:\n  {e}");
            }
        }
        Err(e) => {
            let _ = writeln!(out, "\nswupdate would not be started:\n  {e}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloader_credentials_are_hidden() {
        let w = shown_words(&["-d".into(), "-u https://h/x?t=1 -r 3 -a user:pw".into()]);
        assert_eq!(w[1], "-u https://h/x?t=*** -r 3 -a ***");
    }

    #[test]
    fn words_outside_the_download_string_are_kept() {
        let w = shown_words(&["-e".into(), "a -a b".into()]);
        assert_eq!(w[1], "a -a b");
    }
}
