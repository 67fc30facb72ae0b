//! `confirm`: once per boot, after the system is up, say in the bootloader's environment
//! whether the release the device runs is good ([docs/confirm.md](../docs/confirm.md)).
//!
//! The decision is pure ([`decide`]): the variables read from the U-Boot environment, the
//! schemes the image configured, the primary variable and the running slot's bootname, and the
//! outcome of the health checks, give the assignments to write (in one `fw_setenv` call) and
//! the outcome. The edge ([`run`]) reads, identifies the running slot, runs the health checks
//! ([`crate::health`]) and writes, in that order, each only when the decision needs it.

use std::collections::BTreeMap;

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

/// How one health check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckEnd {
    Passed,
    /// Exited non-zero, killed by a signal, timed out or could not run: what happened.
    Failed(String),
}

/// One health check's name (`required/10-network`) and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub name: String,
    pub required: bool,
    pub end: CheckEnd,
}

/// What the health checks said, in the order they ran; empty when there are none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub results: Vec<CheckResult>,
}

impl Health {
    /// `name: why` of each failed check, required (`true`) or wanted.
    fn failed(&self, required: bool) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| r.required == required)
            .filter_map(|r| match &r.end {
                CheckEnd::Passed => None,
                CheckEnd::Failed(why) => Some(format!("{}: {why}", r.name)),
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
