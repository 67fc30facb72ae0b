//! The bootloader environment (U-Boot's), read and written only through libubootenv-tool's
//! `fw_printenv` and `fw_setenv`, never by a parser of the launcher's own: the environment's
//! layout (CRC, redundant copies and their flags, MTD/UBI/eMMC boot partitions) is the
//! library's to know. This is the one place that runs those tools.
//!
//! - [`read`]: one `fw_printenv -c CONFIG -- NAME...`; each `NAME=value` line of its output is a
//!   value. libubootenv prints `NAME=` for a variable that is not set, and U-Boot cannot hold an
//!   empty one (setting it empty deletes it), so an empty value is `None`.
//! - [`write()`]: one `fw_setenv -c CONFIG -s -` with the script on stdin (`NAME=value` lines;
//!   `NAME=` deletes): every assignment in one store, which libubootenv writes to the inactive
//!   copy of a redundant environment and then flags, so a power cut leaves the old or the new
//!   environment, never half of each.
//!
//! Both run with an empty environment, no inherited descriptors, their output bounded
//! ([`MAX_VALUE`] per variable) and their time bounded ([`TIMEOUT`]); any failure is
//! [`Kind::BootEnv`] naming the tool and what it printed.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::config::settings::{Settings, topology_path};
use crate::config::vocabulary::names::{
    SWUPDATE_FW_ENV_CONFIG, SWUPDATE_FW_PRINTENV, SWUPDATE_FW_SETENV,
};
use crate::error::{Error, Kind};
use crate::rootfs::Root;
use crate::system::process::{self, Bounded, Ended};

/// Longest value read or written (bytes): U-Boot variables that name slots and counters are a
/// few bytes; a longer one is refused rather than carried.
pub const MAX_VALUE: usize = 4096;

/// Longest line of a `fw_setenv` script: libubootenv reads script lines with a 1024-byte
/// buffer (2048 in later releases) and splits a longer line silently, so the launcher refuses
/// one instead.
const MAX_SCRIPT_LINE: usize = 1000;

/// Most variables in one call.
const MAX_NAMES: usize = 64;

/// How long one tool may take (flash can be slow, a hung device node must not hang the boot).
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A tool may write a file no larger than this (`RLIMIT_FSIZE`; an environment is at most a
/// few hundred KiB, a block device is not a file).
const MAX_FILE: u64 = 64 << 20;

/// libubootenv-tool's programs and the environment's description, as this machine reaches them
/// (placed under `--root` by [`Tools::from_topology`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    pub printenv: PathBuf,
    pub setenv: PathBuf,
    /// `fw_env.config`, passed to both as `-c`.
    pub config: PathBuf,
}

impl Tools {
    /// `SWUPDATE_FW_PRINTENV`, `SWUPDATE_FW_SETENV` and `SWUPDATE_FW_ENV_CONFIG` (absolute
    /// paths; unset: the built-in ones), under `root`.
    pub fn from_topology(topology: &Settings, root: &Root) -> Result<Tools, Error> {
        let path = |name: &str| Ok::<_, Error>(root.host(&topology_path(topology, name)?));
        Ok(Tools {
            printenv: path(SWUPDATE_FW_PRINTENV)?,
            setenv: path(SWUPDATE_FW_SETENV)?,
            config: path(SWUPDATE_FW_ENV_CONFIG)?,
        })
    }
}

/// The values of `names` (`None`: not set), in one `fw_printenv` call.
pub fn read(tools: &Tools, names: &[&str]) -> Result<BTreeMap<String, Option<String>>, Error> {
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    if names.len() > MAX_NAMES {
        return Err(Error::new(
            Kind::BootEnv,
            format!("{} variables asked at once (at most {MAX_NAMES})", names.len()),
        ));
    }
    for name in names {
        check_name(name)?;
    }
    let mut cmd = Command::new(&tools.printenv);
    cmd.arg("-c").arg(&tools.config).arg("--").args(names);
    let limit = names.len() * (MAX_VALUE + 300) + 8192;
    let out = run(&mut cmd, &tools.printenv, b"", limit)?;
    parse_printenv(&String::from_utf8_lossy(&out.stdout), names)
        .map_err(|why| failed(&tools.printenv, &why, &out))
}

/// Sets (`Some`) and deletes (`None`) variables in one `fw_setenv` call.
pub fn write(tools: &Tools, assignments: &[(String, Option<String>)]) -> Result<(), Error> {
    if assignments.is_empty() {
        return Ok(());
    }
    let script = script(assignments)?;
    if script.len() > process::MAX_INPUT {
        return Err(refused(format!(
            "the assignments are {} bytes, more than one write takes ({})",
            script.len(),
            process::MAX_INPUT
        )));
    }
    let mut cmd = Command::new(&tools.setenv);
    cmd.arg("-c").arg(&tools.config).arg("-s").arg("-");
    run(&mut cmd, &tools.setenv, script.as_bytes(), 64 << 10).map(|_| ())
}

/// The `fw_setenv` script: a `NAME=value` line per assignment, `NAME=` for a deletion.
fn script(assignments: &[(String, Option<String>)]) -> Result<String, Error> {
    let mut text = String::new();
    for (i, (name, value)) in assignments.iter().enumerate() {
        check_name(name)?;
        if assignments[..i].iter().any(|(n, _)| n == name) {
            return Err(refused(format!("{name} is assigned twice in one write")));
        }
        let value = match value {
            Some(v) if v.is_empty() => {
                return Err(refused(format!(
                    "{name}: an empty value (U-Boot deletes a variable set empty: write None)"
                )));
            }
            Some(v) if v.chars().any(char::is_control) => {
                return Err(refused(format!(
                    "{name}: the value has a control character (a line break would end the script line)"
                )));
            }
            Some(v) => v.as_str(),
            None => "",
        };
        let line = format!("{name}={value}\n");
        if line.len() > MAX_SCRIPT_LINE.min(MAX_VALUE) {
            return Err(refused(format!(
                "{name}: the assignment is {} bytes, libubootenv reads at most {MAX_SCRIPT_LINE}",
                line.len()
            )));
        }
        text.push_str(&line);
    }
    Ok(text)
}

/// A variable's name as both tools take it: printable ASCII without `=` or blanks, not an
/// option (`-`), not a script comment (`#`), at most 128 bytes.
fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with(['-', '#'])
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b'=');
    if ok {
        Ok(())
    } else {
        Err(refused(format!(
            "`{}` is not a bootloader variable name (printable ASCII without `=` or blanks, not starting with - or #, at most 128 bytes)",
            crate::error::printable(name)
        )))
    }
}

fn refused(message: String) -> Error {
    Error::new(Kind::BootEnv, message)
}

/// `fw_printenv`'s output for `names`: exactly one `NAME=value` line per name, in order.
fn parse_printenv(
    stdout: &str,
    names: &[&str],
) -> Result<BTreeMap<String, Option<String>>, String> {
    let lines: Vec<&str> = stdout.lines().collect();
    if lines.len() != names.len() {
        return Err(format!(
            "printed {} lines for {} variables (a value with a line break?)",
            lines.len(),
            names.len()
        ));
    }
    let mut values = BTreeMap::new();
    for (line, name) in lines.iter().zip(names) {
        let Some(value) = line
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
        else {
            return Err(format!("printed `{}` where `{name}=` was expected", shown(line)));
        };
        if value.len() > MAX_VALUE {
            return Err(format!(
                "{name} is {} bytes long (at most {MAX_VALUE})",
                value.len()
            ));
        }
        let value = (!value.is_empty()).then(|| value.to_string());
        values.insert((*name).to_string(), value);
    }
    Ok(values)
}

/// Runs a tool with the bounds; an error unless it exited 0.
fn run(
    cmd: &mut Command,
    tool: &std::path::Path,
    input: &[u8],
    limit: usize,
) -> Result<Bounded, Error> {
    cmd.env_clear();
    process::confine(cmd, MAX_FILE);
    let out = process::run_bounded(cmd, input, limit, TIMEOUT).map_err(|e| {
        Error::new(
            Kind::BootEnv,
            format!("cannot run {}: {e}", tool.display()),
        )
        .hint("install libubootenv-tool, or point SWUPDATE_FW_PRINTENV/SWUPDATE_FW_SETENV at its programs")
    })?;
    match out.ended {
        Ended::Exited(status) if status.success() => Ok(out),
        Ended::Exited(status) => {
            let how = match (status.code(), status.signal()) {
                (Some(code), _) => format!("exited {code}"),
                (None, Some(signal)) => format!("was killed by signal {signal}"),
                (None, None) => "failed".to_string(),
            };
            Err(failed(tool, &how, &out))
        }
        Ended::TimedOut => Err(failed(
            tool,
            &format!("did not finish within {} s and was killed", TIMEOUT.as_secs()),
            &out,
        )),
        Ended::TooMuchOutput => Err(failed(
            tool,
            &format!("printed more than {limit} bytes and was killed"),
            &out,
        )),
    }
}

/// The tool's failure, with what it said on stderr (one line, bounded).
fn failed(tool: &std::path::Path, how: &str, out: &Bounded) -> Error {
    let said = String::from_utf8_lossy(&out.stderr);
    let said: Vec<&str> = said.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut message = format!("{} {how}", tool.display());
    if !said.is_empty() {
        message.push_str(": ");
        message.push_str(&shown(&said.join("; ")));
    }
    Error::new(Kind::BootEnv, message)
}

/// At most 300 characters of a tool's words, control characters escaped.
fn shown(text: &str) -> String {
    let mut s: String = text.chars().take(300).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    crate::error::printable(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
            .collect()
    }

    #[test]
    fn printenv_output_gives_each_name_its_value_and_an_empty_one_is_unset() {
        let got = parse_printenv("ustate=1\nboot_part=\nbootcmd=run a=b\n", &["ustate", "boot_part", "bootcmd"]);
        assert_eq!(
            got,
            Ok(values(&[
                ("ustate", Some("1")),
                ("boot_part", None),
                ("bootcmd", Some("run a=b"))
            ]))
        );
    }

    #[test]
    fn printenv_output_out_of_step_with_the_names_is_refused() {
        assert!(parse_printenv("a=1\n", &["a", "b"]).is_err());
        assert!(parse_printenv("b=1\na=2\n", &["a", "b"]).is_err());
        assert!(parse_printenv("ab=1\n", &["a"]).is_err());
    }

    #[test]
    fn a_value_longer_than_the_bound_is_refused() {
        let long = format!("a={}\n", "x".repeat(MAX_VALUE + 1));
        assert!(parse_printenv(&long, &["a"]).unwrap_err().contains("bytes long"));
    }

    #[test]
    fn the_script_sets_and_deletes_in_order() {
        let s = script(&[
            ("ustate".into(), Some("2".into())),
            ("bootcount".into(), None),
        ]);
        assert_eq!(s.unwrap(), "ustate=2\nbootcount=\n");
    }

    #[test]
    fn a_script_refuses_what_libubootenv_would_misread() {
        for (name, value) in [
            ("a", Some("two\nlines")),
            ("a", Some("")),
            ("a=b", Some("1")),
            ("-n", Some("1")),
            ("#c", Some("1")),
            ("a b", Some("1")),
            ("", None),
        ] {
            let e = script(&[(name.into(), value.map(str::to_string))]).unwrap_err();
            assert_eq!(e.kind, Kind::BootEnv, "{name:?}={value:?}");
        }
        let long = "x".repeat(MAX_SCRIPT_LINE);
        assert!(script(&[("a".into(), Some(long))]).is_err());
        let twice = script(&[("a".into(), Some("1".into())), ("a".into(), None)]);
        assert!(twice.unwrap_err().message.contains("twice"));
    }

    #[test]
    fn a_name_that_getopt_would_take_for_an_option_is_never_passed() {
        let tools = Tools {
            printenv: "/nonexistent/fw_printenv".into(),
            setenv: "/nonexistent/fw_setenv".into(),
            config: "/nonexistent/fw_env.config".into(),
        };
        let e = read(&tools, &["-c"]).unwrap_err();
        assert!(e.message.contains("not a bootloader variable name"), "{e}");
    }

    #[test]
    fn a_missing_tool_is_a_boot_env_error_naming_it() {
        let tools = Tools {
            printenv: "/nonexistent/fw_printenv".into(),
            setenv: "/nonexistent/fw_setenv".into(),
            config: "/nonexistent/fw_env.config".into(),
        };
        let e = read(&tools, &["ustate"]).unwrap_err();
        assert_eq!(e.kind, Kind::BootEnv);
        assert!(e.message.contains("/nonexistent/fw_printenv"), "{e}");
        let e = write(&tools, &[("ustate".into(), Some("2".into()))]).unwrap_err();
        assert!(e.message.contains("/nonexistent/fw_setenv"), "{e}");
    }

    #[test]
    fn a_tool_that_fails_is_reported_with_its_code_and_what_it_printed() {
        // /bin/sh as the "tool": `-c CONFIG -- name` runs CONFIG as a script.
        let tools = Tools {
            printenv: "/bin/sh".into(),
            setenv: "/bin/sh".into(),
            config: "echo Cannot read environment >&2; exit 3".into(),
        };
        let e = read(&tools, &["ustate"]).unwrap_err();
        assert_eq!(e.kind, Kind::BootEnv);
        assert_eq!(e.message, "/bin/sh exited 3: Cannot read environment");
    }

    #[test]
    fn topology_paths_must_be_absolute_and_are_placed_under_the_root() {
        use crate::config::settings::Origin;
        let mut t = Settings::default();
        t.set(SWUPDATE_FW_ENV_CONFIG, "/t/fw_env.config", Origin::Environment);
        let tools = Tools::from_topology(&t, &Root::new(Some("/r".into()))).unwrap();
        assert_eq!(tools.config, PathBuf::from("/r/t/fw_env.config"));
        assert_eq!(tools.printenv, PathBuf::from("/r/usr/bin/fw_printenv"));
        t.set(SWUPDATE_FW_SETENV, "fw_setenv", Origin::Environment);
        let e = Tools::from_topology(&t, &Root::new(None)).unwrap_err();
        assert_eq!(e.kind, Kind::Config);
    }
}
