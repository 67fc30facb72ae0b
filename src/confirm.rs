//! `confirm`: once per boot, after the system is up, say in the bootloader's environment
//! whether the release the device runs is good ([docs/confirm.md](../docs/confirm.md)).
//!
//! The decision is pure ([`decide`]): the variables read from the U-Boot environment, the
//! schemes the image configured, the primary variable and the running slot's bootname, and the
//! outcome of the health checks, give the assignments to write (in one `fw_setenv` call) and
//! the outcome. The edge ([`run`]) reads, identifies the running slot, runs the health checks
//! ([`crate::health`]) and writes, in that order, each only when the decision needs it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::bootenv::{self, Tools};
use crate::config::load::Loaded;
use crate::config::settings::{Settings, setting_error, topology_path};
use crate::config::vocabulary::names::{
    SWUPDATE_CONFIRM, SWUPDATE_CONFIRM_PRIMARY, SWUPDATE_HEALTH_DIR, SWUPDATE_HEALTH_TIMEOUT,
    SWUPDATE_SLOTS,
};
use crate::error::{Error, Kind};
use crate::health::{self, Check, CheckEnd, Health, Limits};
use crate::logging::{Level, Logger};
use crate::plan::{Account, or_default, verification_user};
use crate::rootfs::Root;
use crate::slots;

/// The variable swupdate's suricatta reads at start: `1` installed (testing pending), `2`
/// testing (confirmed: it reports success), `3` failed (it reports failure).
pub const USTATE: &str = "ustate";
/// U-Boot's boot counter scheme: set to 1 by the update, the bootloader counts boots in
/// `bootcount` and runs `altbootcmd` past `bootlimit`.
pub const UPGRADE_AVAILABLE: &str = "upgrade_available";
pub const BOOTCOUNT: &str = "bootcount";

/// `ustate` values (swupdate's `update_state_t`).
const USTATE_INSTALLED: &str = "1";
const USTATE_TESTING: &str = "2";
const USTATE_FAILED: &str = "3";

/// What `confirm` reads and writes (`SWUPDATE_CONFIRM`): swupdate's `ustate`, U-Boot's boot
/// counter, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schemes {
    pub ustate: bool,
    pub bootcount: bool,
}

impl Schemes {
    /// The words of `SWUPDATE_CONFIRM` (`ustate`, `bootcount`, each at most once, at least
    /// one); the word that is neither otherwise.
    pub fn parse(value: &str) -> Result<Schemes, String> {
        let mut s = Schemes {
            ustate: false,
            bootcount: false,
        };
        for word in value.split_whitespace() {
            let slot = match word {
                "ustate" => &mut s.ustate,
                "bootcount" => &mut s.bootcount,
                other => {
                    return Err(format!(
                        "`{other}` is not a confirmation scheme (ustate, bootcount)"
                    ));
                }
            };
            if *slot {
                return Err(format!("`{word}` is named twice"));
            }
            *slot = true;
        }
        if !s.ustate && !s.bootcount {
            return Err("names no scheme (ustate, bootcount)".into());
        }
        Ok(s)
    }
}

/// The bootloader variable that names the slot it was told to boot
/// (`SWUPDATE_CONFIRM_PRIMARY`), and the running slot's bootname to compare it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Primary<'a> {
    pub variable: &'a str,
    pub running: &'a str,
}

/// Everything the decision is made from, but the health checks.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The variables as `fw_printenv` gave them (a missing one is `None`).
    pub env: &'a BTreeMap<String, Option<String>>,
    pub schemes: Schemes,
    /// `None`: the product does not say which slot the bootloader tried; no fallback is seen.
    pub primary: Option<Primary<'a>>,
}

impl Facts<'_> {
    fn value(&self, name: &str) -> Option<&str> {
        self.env.get(name).and_then(|v| v.as_deref())
    }

    /// Whether the last update waits for its confirmation, by any configured scheme.
    pub fn pending(&self) -> bool {
        (self.schemes.ustate && self.value(USTATE) == Some(USTATE_INSTALLED))
            || (self.schemes.bootcount && self.value(UPGRADE_AVAILABLE) == Some("1"))
    }

    /// The slot the bootloader was told to boot, when it is not the running one.
    fn fell_back(&self) -> Option<(String, String)> {
        let p = self.primary?;
        let told = self.value(p.variable);
        (told != Some(p.running)).then(|| {
            (
                told.map_or_else(|| format!("{} unset", p.variable), |t| format!("{}={t}", p.variable)),
                p.running.to_string(),
            )
        })
    }

    /// The assignments that close the attempt with `ustate` value `ustate` (the boot counter
    /// is reset either way: the bootloader must not count further).
    fn closing(&self, ustate: &str) -> Vec<(String, Option<String>)> {
        let mut w = Vec::new();
        if self.schemes.ustate {
            w.push((USTATE.to_string(), Some(ustate.to_string())));
        }
        if self.schemes.bootcount {
            w.push((UPGRADE_AVAILABLE.to_string(), Some("0".to_string())));
            w.push((BOOTCOUNT.to_string(), Some("0".to_string())));
        }
        w
    }
}

/// What `confirm` does, and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No update waits for confirmation: nothing is written.
    NothingToConfirm,
    /// The bootloader fell back: the release it tried is recorded as failed and the running
    /// slot made primary (`told`: what the primary variable said; `running`: the bootname).
    FellBack {
        told: String,
        running: String,
        writes: Vec<(String, Option<String>)>,
    },
    /// An update is pending and the device runs it: the health checks decide.
    RunHealthChecks,
    /// A required check failed: nothing is written, the bootloader's counter decides.
    Unhealthy { failed: Vec<String> },
    /// Confirmed; `warnings`: the wanted checks that failed.
    Confirmed {
        writes: Vec<(String, Option<String>)>,
        warnings: Vec<String>,
    },
}

/// The decision, from the facts and, once they ran, the health checks. Fell back is decided
/// before any check runs: a release the device does not run is never confirmed.
pub fn decide(facts: &Facts, health: Option<&Health>) -> Decision {
    if !facts.pending() {
        return Decision::NothingToConfirm;
    }
    if let Some((told, running)) = facts.fell_back() {
        let mut writes = facts.closing(USTATE_FAILED);
        if let Some(p) = facts.primary {
            writes.push((p.variable.to_string(), Some(p.running.to_string())));
        }
        return Decision::FellBack {
            told,
            running,
            writes,
        };
    }
    let Some(health) = health else {
        return Decision::RunHealthChecks;
    };
    let failed = health.failed(true);
    if !failed.is_empty() {
        return Decision::Unhealthy { failed };
    }
    Decision::Confirmed {
        writes: facts.closing(USTATE_TESTING),
        warnings: health.failed(false),
    }
}

/// Longest a health check may be given (`SWUPDATE_HEALTH_TIMEOUT`), in seconds.
const MAX_HEALTH_TIMEOUT: u32 = 3600;

/// `confirm`'s configuration: what it writes, the primary variable, the health checks' place,
/// user and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub schemes: Schemes,
    /// `SWUPDATE_CONFIRM_PRIMARY`: a bootloader variable's name.
    pub primary: Option<String>,
    /// `SWUPDATE_HEALTH_DIR` (a device path).
    pub health_dir: PathBuf,
    pub limits: Limits,
}

impl Config {
    /// From the conf.d variables and the topology; every bad value located where it was set.
    pub fn from_settings(
        topology: &Settings,
        vars: &Settings,
        accounts: &dyn crate::accounts::Accounts,
    ) -> Result<Config, Error> {
        let s = or_default(vars, SWUPDATE_CONFIRM)?;
        let schemes =
            Schemes::parse(&s.value).map_err(|why| setting_error(SWUPDATE_CONFIRM, &s, why))?;
        let primary = match vars.get(SWUPDATE_CONFIRM_PRIMARY).filter(|s| !s.value.trim().is_empty()) {
            None => None,
            Some(s) if is_variable_name(&s.value) => Some(s.value.clone()),
            Some(s) => {
                return Err(setting_error(
                    SWUPDATE_CONFIRM_PRIMARY,
                    s,
                    format!("`{}` is not a bootloader variable's name ([A-Za-z0-9_.-]+)", s.value),
                ));
            }
        };
        let s = or_default(vars, SWUPDATE_HEALTH_TIMEOUT)?;
        let timeout = match s.value.parse::<u32>() {
            Ok(n) if (1..=MAX_HEALTH_TIMEOUT).contains(&n) && !s.value.starts_with('+') => n,
            _ => {
                return Err(setting_error(
                    SWUPDATE_HEALTH_TIMEOUT,
                    &s,
                    format!(
                        "`{}` is not a whole number of seconds from 1 to {MAX_HEALTH_TIMEOUT}",
                        s.value
                    ),
                ));
            }
        };
        let health_dir = topology_path(topology, SWUPDATE_HEALTH_DIR)?;
        let user: Account = verification_user(vars, accounts)?;
        Ok(Config {
            schemes,
            primary,
            health_dir,
            limits: Limits {
                user,
                timeout: Duration::from_secs(timeout.into()),
            },
        })
    }

    /// The variables one `fw_printenv` reads.
    fn names(&self) -> Vec<&str> {
        let mut names = vec![USTATE, UPGRADE_AVAILABLE, BOOTCOUNT];
        if let Some(p) = &self.primary {
            if !names.contains(&p.as_str()) {
                names.push(p);
            }
        }
        names
    }
}

/// A name U-Boot's environment can hold and `fw_setenv` reads back as one word.
fn is_variable_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `name=value, name unset` as the journal shows the environment.
fn shown(env: &BTreeMap<String, Option<String>>) -> String {
    env.iter()
        .map(|(n, v)| match v {
            Some(v) => format!("{n}={v}"),
            None => format!("{n} unset"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `name=value name=value`, as written.
fn shown_writes(writes: &[(String, Option<String>)]) -> String {
    writes
        .iter()
        .map(|(n, v)| format!("{n}={}", v.as_deref().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether this build has `confirm`: it has (built with the `ab` feature; without it,
/// `without_ab`'s refuses).
pub fn available() -> Result<(), String> {
    Ok(())
}

/// The health checks `check` warns about: none at all (the release would be confirmed as soon
/// as it boots). Also refuses what `confirm` would refuse: its configuration, and a check the
/// image does not own. Only on A/B devices (`SWUPDATE_SLOTS` set).
pub fn check_notes(loaded: &Loaded, root: &Root) -> Result<Vec<String>, Error> {
    if loaded.vars.get(SWUPDATE_SLOTS).is_none() {
        return Ok(Vec::new());
    }
    let accounts = crate::accounts::Files { root };
    let config = Config::from_settings(&loaded.topology, &loaded.vars, &accounts)?;
    let checks = health::find(root, &config.health_dir, loaded.policy.as_ref())?;
    Ok(if checks.is_empty() {
        vec![format!(
            "confirm: no health checks in {} (required/, wanted/): an update is confirmed as soon as it boots",
            root.host(&config.health_dir).display()
        )]
    } else {
        Vec::new()
    })
}

/// `confirm`, the edge: reads the bootloader environment (one `fw_printenv`); with nothing
/// pending, done. Otherwise identifies the running slot (67 when it cannot), sees whether the
/// bootloader fell back (recorded, 70), runs the health checks (a required one failing: 69,
/// nothing written) and writes the outcome in one `fw_setenv`. Returns what it did, for the
/// journal and STATUS=.
pub fn run(loaded: &Loaded, root: &Root, logger: &Logger) -> Result<String, Error> {
    let accounts = crate::accounts::Files { root };
    let config = Config::from_settings(&loaded.topology, &loaded.vars, &accounts)?;
    let topology = slots::Topology::from_topology(&loaded.topology, root)?;
    let tools = &topology.bootenv;
    let env = bootenv::read(tools, &config.names())?;
    let idle = Facts {
        env: &env,
        schemes: config.schemes,
        primary: None,
    };
    if !idle.pending() {
        return Ok(format!("nothing to confirm ({})", shown(&env)));
    }
    let running = identify(loaded, &topology, root, &env)?;
    let primary = match &config.primary {
        None => None,
        Some(variable) => Some(Primary {
            variable,
            running: running.bootname.as_deref().ok_or_else(|| {
                Error::new(
                    Kind::Config,
                    format!("{SWUPDATE_CONFIRM_PRIMARY} is set but slot {} has no bootname= to compare with it", running.slot),
                )
            })?,
        }),
    };
    let facts = Facts {
        env: &env,
        schemes: config.schemes,
        primary,
    };
    let decision = match decide(&facts, None) {
        Decision::RunHealthChecks => {
            let health = run_checks(&config, loaded, root, logger)?;
            decide(&facts, Some(&health))
        }
        other => other,
    };
    act(decision, tools, &running.slot)
}

/// Which slot runs, from the slot table (67 without one: a pending update on a device that
/// cannot say which slot it runs is never confirmed).
fn identify(
    loaded: &Loaded,
    topology: &slots::Topology,
    root: &Root,
    env: &BTreeMap<String, Option<String>>,
) -> Result<slots::Running, Error> {
    let table = slots::Table::from_settings(&loaded.vars)?.ok_or_else(|| {
        Error::new(
            Kind::SlotUnknown,
            format!(
                "an update waits for confirmation ({}), but no slot table says which slot runs; nothing written",
                shown(env)
            ),
        )
        .hint("set SWUPDATE_SLOTS and the SWUPDATE_SLOT_<NAME> variables in conf.d (docs/ab.md)")
    })?;
    slots::running(&table, topology, root)
}

/// Finds and runs the health checks, each line they print relayed with the check's name.
fn run_checks(
    config: &Config,
    loaded: &Loaded,
    root: &Root,
    logger: &Logger,
) -> Result<Health, Error> {
    let checks = health::find(root, &config.health_dir, loaded.policy.as_ref())?;
    if checks.is_empty() {
        logger.log(
            Level::Warning,
            &format!(
                "no health checks in {}: confirmed without checks",
                root.host(&config.health_dir).display()
            ),
            &[],
        );
    }
    let relay = &mut |c: &Check, line: &str| {
        logger.log(
            Level::Info,
            &format!("health check {}: {line}", c.name),
            &[("SWUPDATE_HEALTH_CHECK", c.name.clone())],
        );
    };
    let health = health::run(&checks, root, &config.limits, relay).map_err(|why| {
        Error::new(
            Kind::Unhealthy,
            format!("the health checks cannot run contained: {why}; nothing written, the bootloader's counter decides"),
        )
        .on(&root.host(&config.health_dir))
        .hint("give SWUPDATE_VERIFY_USER a uid of its own, which no daemon or login uses")
    })?;
    for r in &health.results {
        let (level, how) = match &r.end {
            CheckEnd::Passed => (Level::Info, "passed".to_string()),
            CheckEnd::Failed(why) if r.required => (Level::Error, format!("failed: {why}")),
            CheckEnd::Failed(why) => (Level::Warning, format!("failed (wanted, not required): {why}")),
        };
        logger.log(
            level,
            &format!("health check {} {how}", r.name),
            &[("SWUPDATE_HEALTH_CHECK", r.name.clone())],
        );
    }
    Ok(health)
}

/// Writes what the decision says, and says what was done (or why not, as the error).
fn act(decision: Decision, tools: &Tools, slot: &str) -> Result<String, Error> {
    match decision {
        Decision::NothingToConfirm => Ok("nothing to confirm".into()),
        Decision::FellBack {
            told,
            running,
            writes,
        } => {
            bootenv::write(tools, &writes)?;
            Err(Error::new(
                Kind::FellBack,
                format!(
                    "the bootloader fell back: it was told {told}, but slot {slot} (bootname {running}) runs; the update is recorded as failed ({})",
                    shown_writes(&writes)
                ),
            ))
        }
        Decision::Unhealthy { failed } => Err(Error::new(
            Kind::Unhealthy,
            format!(
                "not confirmed: required health check failed ({}); nothing written, the bootloader's counter decides",
                failed.join("; ")
            ),
        )),
        Decision::Confirmed { writes, warnings } => {
            bootenv::write(tools, &writes)?;
            let warned = if warnings.is_empty() {
                String::new()
            } else {
                format!("; wanted checks failed: {}", warnings.join("; "))
            };
            Ok(format!("confirmed slot {slot}: {}{warned}", shown_writes(&writes)))
        }
        Decision::RunHealthChecks => Err(Error::new(
            Kind::Unhealthy,
            "the health checks did not run; nothing written",
        )),
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::CheckResult;

    const USTATE_ONLY: Schemes = Schemes {
        ustate: true,
        bootcount: false,
    };
    const BOOTCOUNT_ONLY: Schemes = Schemes {
        ustate: false,
        bootcount: true,
    };
    const BOTH: Schemes = Schemes {
        ustate: true,
        bootcount: true,
    };

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, Option<String>> {
        let mut m: BTreeMap<String, Option<String>> = [USTATE, UPGRADE_AVAILABLE, BOOTCOUNT]
            .into_iter()
            .map(|n| (n.to_string(), None))
            .collect();
        for (n, v) in pairs {
            m.insert(n.to_string(), Some(v.to_string()));
        }
        m
    }

    fn w(pairs: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), Some(v.to_string())))
            .collect()
    }

    fn check(name: &str, required: bool, passed: bool) -> CheckResult {
        CheckResult {
            name: name.into(),
            required,
            end: if passed {
                CheckEnd::Passed
            } else {
                CheckEnd::Failed("exit 1".into())
            },
        }
    }

    fn health(results: Vec<CheckResult>) -> Health {
        Health { results }
    }

    const ON_B: Option<Primary> = Some(Primary {
        variable: "boot_part",
        running: "B",
    });

    #[test]
    fn nothing_pending_writes_nothing_and_runs_no_check() {
        for (schemes, e) in [
            (USTATE_ONLY, env(&[("ustate", "0")])),
            (USTATE_ONLY, env(&[("ustate", "2"), ("upgrade_available", "1")])),
            (BOOTCOUNT_ONLY, env(&[("ustate", "1"), ("upgrade_available", "0")])),
            (BOTH, env(&[])),
        ] {
            let f = Facts {
                env: &e,
                schemes,
                primary: ON_B,
            };
            assert_eq!(decide(&f, None), Decision::NothingToConfirm, "{e:?}");
        }
    }

    #[test]
    fn pending_on_the_slot_the_bootloader_tried_runs_the_health_checks() {
        let e = env(&[("ustate", "1"), ("boot_part", "B")]);
        let f = Facts {
            env: &e,
            schemes: USTATE_ONLY,
            primary: ON_B,
        };
        assert_eq!(decide(&f, None), Decision::RunHealthChecks);
    }

    #[test]
    fn pending_and_fell_back_records_failure_and_pins_the_running_slot_without_checks() {
        let e = env(&[("ustate", "1"), ("boot_part", "A")]);
        let f = Facts {
            env: &e,
            schemes: USTATE_ONLY,
            primary: ON_B,
        };
        let everything_passed = health(vec![check("required/a", true, true)]);
        assert_eq!(
            decide(&f, Some(&everything_passed)),
            Decision::FellBack {
                told: "boot_part=A".into(),
                running: "B".into(),
                writes: w(&[("ustate", "3"), ("boot_part", "B")]),
            }
        );
    }

    #[test]
    fn a_primary_variable_that_is_unset_counts_as_fallen_back() {
        let e = env(&[("ustate", "1")]);
        let f = Facts {
            env: &e,
            schemes: USTATE_ONLY,
            primary: ON_B,
        };
        let Decision::FellBack { told, .. } = decide(&f, None) else {
            panic!("not fell back")
        };
        assert_eq!(told, "boot_part unset");
    }

    #[test]
    fn without_a_primary_variable_a_pending_update_goes_to_the_health_checks() {
        let e = env(&[("ustate", "1"), ("boot_part", "A")]);
        let f = Facts {
            env: &e,
            schemes: USTATE_ONLY,
            primary: None,
        };
        assert_eq!(decide(&f, None), Decision::RunHealthChecks);
    }

    #[test]
    fn a_failing_required_check_writes_nothing() {
        let e = env(&[("ustate", "1"), ("boot_part", "B")]);
        let f = Facts {
            env: &e,
            schemes: BOTH,
            primary: ON_B,
        };
        let h = health(vec![
            check("required/10-net", true, true),
            check("required/20-app", true, false),
            check("wanted/30-ui", false, false),
        ]);
        assert_eq!(
            decide(&f, Some(&h)),
            Decision::Unhealthy {
                failed: vec!["required/20-app: exit 1".into()]
            }
        );
    }

    #[test]
    fn a_failing_wanted_check_warns_and_confirms() {
        let e = env(&[("ustate", "1"), ("boot_part", "B")]);
        let f = Facts {
            env: &e,
            schemes: USTATE_ONLY,
            primary: ON_B,
        };
        let h = health(vec![
            check("required/10-net", true, true),
            check("wanted/30-ui", false, false),
        ]);
        assert_eq!(
            decide(&f, Some(&h)),
            Decision::Confirmed {
                writes: w(&[("ustate", "2")]),
                warnings: vec!["wanted/30-ui: exit 1".into()],
            }
        );
    }

    #[test]
    fn all_checks_passing_confirms_with_ustate_2() {
        let e = env(&[("ustate", "1")]);
        let f = Facts {
            env: &e,
            schemes: USTATE_ONLY,
            primary: None,
        };
        let h = health(vec![check("required/10-net", true, true)]);
        assert_eq!(
            decide(&f, Some(&h)),
            Decision::Confirmed {
                writes: w(&[("ustate", "2")]),
                warnings: vec![],
            }
        );
    }

    #[test]
    fn no_health_checks_at_all_confirms() {
        let e = env(&[("ustate", "1")]);
        let f = Facts {
            env: &e,
            schemes: USTATE_ONLY,
            primary: None,
        };
        assert!(matches!(
            decide(&f, Some(&Health::default())),
            Decision::Confirmed { .. }
        ));
    }

    #[test]
    fn the_bootcount_scheme_confirms_by_resetting_the_counter() {
        let e = env(&[("upgrade_available", "1"), ("bootcount", "2")]);
        let f = Facts {
            env: &e,
            schemes: BOOTCOUNT_ONLY,
            primary: None,
        };
        assert_eq!(
            decide(&f, Some(&Health::default())),
            Decision::Confirmed {
                writes: w(&[("upgrade_available", "0"), ("bootcount", "0")]),
                warnings: vec![],
            }
        );
    }

    #[test]
    fn the_bootcount_scheme_falls_back_by_resetting_the_counter_too() {
        let e = env(&[("upgrade_available", "1"), ("boot_part", "A")]);
        let f = Facts {
            env: &e,
            schemes: BOOTCOUNT_ONLY,
            primary: ON_B,
        };
        let Decision::FellBack { writes, .. } = decide(&f, None) else {
            panic!("not fell back")
        };
        assert_eq!(
            writes,
            w(&[("upgrade_available", "0"), ("bootcount", "0"), ("boot_part", "B")])
        );
    }

    #[test]
    fn both_schemes_write_both_in_one_set_when_either_is_pending() {
        let e = env(&[("upgrade_available", "1")]);
        let f = Facts {
            env: &e,
            schemes: BOTH,
            primary: None,
        };
        assert_eq!(
            decide(&f, Some(&Health::default())),
            Decision::Confirmed {
                writes: w(&[("ustate", "2"), ("upgrade_available", "0"), ("bootcount", "0")]),
                warnings: vec![],
            }
        );
    }

    #[test]
    fn the_schemes_are_ustate_bootcount_or_both() {
        assert_eq!(Schemes::parse("ustate"), Ok(USTATE_ONLY));
        assert_eq!(Schemes::parse(" bootcount "), Ok(BOOTCOUNT_ONLY));
        assert_eq!(Schemes::parse("bootcount ustate"), Ok(BOTH));
    }

    #[test]
    fn an_unknown_repeated_or_missing_scheme_is_refused() {
        assert!(Schemes::parse("ustate mender").unwrap_err().contains("`mender`"));
        assert!(Schemes::parse("ustate ustate").unwrap_err().contains("twice"));
        assert!(Schemes::parse("  ").unwrap_err().contains("no scheme"));
    }

    use crate::config::settings::Origin;
    use crate::plan::tests_support::FewAccounts;

    /// The configuration from conf.d lines `(name, value)`, each on its own line of one file.
    fn config(lines: &[(&str, &str)]) -> Result<Config, Error> {
        let mut vars = Settings::default();
        for (i, (name, value)) in lines.iter().enumerate() {
            let origin = Origin::Fragment {
                path: "/usr/lib/swupdate/conf.d/50-ab".into(),
                line: i + 1,
            };
            vars.set(name, *value, origin);
        }
        Config::from_settings(&Settings::default(), &vars, &FewAccounts)
    }

    #[test]
    fn by_default_confirm_writes_ustate_and_runs_checks_as_the_verification_user() {
        let c = config(&[]).unwrap();
        assert_eq!(c.schemes, USTATE_ONLY);
        assert_eq!(c.primary, None);
        assert_eq!(c.health_dir, std::path::Path::new("/usr/lib/swupdate/health.d"));
        assert_eq!(c.limits.timeout, Duration::from_secs(60));
        assert_eq!((c.limits.user.uid, c.limits.user.gid), (65534, 65534));
        let c = config(&[(crate::config::vocabulary::names::SWUPDATE_VERIFY_USER, "verify")]).unwrap();
        assert_eq!((c.limits.user.uid, c.limits.user.gid), (990, 985));
    }

    #[test]
    fn a_bad_confirm_setting_is_refused_at_its_line() {
        for (lines, says) in [
            (&[(SWUPDATE_CONFIRM, "ustate mender")][..], "`mender` is not a confirmation scheme"),
            (&[(SWUPDATE_CONFIRM_PRIMARY, "boot part")], "not a bootloader variable's name"),
            (&[("X", "1"), (SWUPDATE_HEALTH_TIMEOUT, "0")], "from 1 to 3600"),
            (&[(SWUPDATE_HEALTH_TIMEOUT, "3601")], "from 1 to 3600"),
            (&[(SWUPDATE_HEALTH_TIMEOUT, "+5")], "from 1 to 3600"),
        ] {
            let e = config(lines).unwrap_err();
            assert_eq!(e.kind, Kind::Config);
            assert!(e.message.contains(says), "{}", e.message);
            assert_eq!(e.location.map(|l| l.line), Some(lines.len()), "{lines:?}");
        }
    }

    #[test]
    fn the_primary_variable_is_read_with_the_schemes_variables() {
        let c = config(&[(SWUPDATE_CONFIRM_PRIMARY, "boot_part"), (SWUPDATE_HEALTH_TIMEOUT, "3600")]).unwrap();
        assert_eq!(c.primary.as_deref(), Some("boot_part"));
        assert_eq!(c.names(), ["ustate", "upgrade_available", "bootcount", "boot_part"]);
        assert_eq!(c.limits.timeout, Duration::from_secs(3600));
    }

}
