//! The imperative shell: load, plan, check the preconditions, then print or exec.
//!
//! Everything the launcher does to the system is started from here, in this order: the update
//! lock (a run only, [`crate::lock`]), the configuration files ([`crate::config::load`]), the
//! files the plan names and, for `check`, the swupdate binary run briefly
//! ([`crate::preconditions`], [`crate::swupdate::compat`]), a removable medium's directory
//! ([`crate::medium`]), the network ([`crate::net`]: preflight or the verified download), the
//! verification program ([`crate::verify`]), stdout/stderr or the journal ([`crate::logging`]),
//! the service manager's notify socket ([`crate::notify`]), then exec. What lies between is
//! data: [`crate::plan`] and [`crate::explain`] touch nothing.

use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command};
use crate::config::load::{self, Request};
use crate::config::settings::{Origin, Setting};
use crate::error::{Error, Kind};
use crate::exec;
use crate::explain;
use crate::lock;
use crate::logging::{self, Level, Logger};
use crate::medium;
use crate::net;
use crate::notify;
use crate::plan::argv::{self, Group, RunningVersion, Runtime};
use crate::plan::{self, CheckAt, DownloadUrl, Expect, Inputs, Mode, Plan};
use crate::preconditions;
use crate::rootfs::Root;
use crate::secret;
use crate::verify;

fn utf8_path(p: &Path, option: &str) -> Result<String, Error> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::new(Kind::Usage, format!("{option}: the path is not UTF-8")))
}

/// `--update-file` or `--update-medium`, as a device path with its origin.
fn update_file_override(cli: &Cli, root: &Root) -> Result<Option<Setting>, Error> {
    if let Some(f) = &cli.update_file {
        return Ok(Some(Setting {
            value: utf8_path(f, "--update-file")?,
            origin: Origin::CommandLine("--update-file"),
        }));
    }
    let Some(m) = &cli.update_medium else {
        return Ok(None);
    };
    let picked = medium::pick(&root.host(m))?;
    // Back from this machine's path to the device's, which the plan places under the root.
    let device: PathBuf = match root.dir() {
        Some(r) => {
            let r = std::fs::canonicalize(r).unwrap_or_else(|_| r.to_path_buf());
            Path::new("/").join(picked.strip_prefix(&r).unwrap_or(&picked))
        }
        None => picked,
    };
    Ok(Some(Setting {
        value: utf8_path(&device, "--update-medium")?,
        origin: Origin::CommandLine("--update-medium"),
    }))
}

/// The argv for a plan, or none yet in an image-build check of download mode (the agent
/// writes URL at run time).
fn groups_for(plan: &Plan, runtime: &Runtime, check_at: CheckAt) -> Result<Vec<Group>, Error> {
    match (&plan.mode, check_at) {
        (
            Mode::Download {
                url: DownloadUrl::WrittenAtStart,
                ..
            },
            CheckAt::Image,
        ) => Ok(Vec::new()),
        _ => argv::build(plan, runtime),
    }
}

/// Runs the verification stage, if any, and records the private copy for the argv. In
/// download mode the launcher first downloads the pack itself (the program must see all of it).
fn verify_update(
    plan: &Plan,
    runtime: &mut Runtime,
    env: &dyn Fn(&str) -> Option<String>,
    logger: &Logger,
) -> Result<(), Error> {
    let Some(v) = &plan.verification else {
        return Ok(());
    };
    let stage = verify::Stage {
        argv: v.argv.value.clone(),
        uid: v.user.value.0,
        gid: v.user.value.1,
        dir: v.dir.value.clone(),
        timeout: std::time::Duration::from_secs(v.timeout.value.into()),
    };
    verify::prepare(&stage.dir)?;
    let (input, shown) = match &plan.mode {
        Mode::File { update_file } => {
            let f = std::fs::File::open(&update_file.value).map_err(|e| {
                Error::new(
                    Kind::MissingInput,
                    format!("cannot open the update file: {e}"),
                )
                .on(&update_file.value)
            })?;
            (f, update_file.value.clone())
        }
        Mode::Download {
            url: DownloadUrl::Given(url),
            preflight: config,
            ..
        } => (
            net::fetch(&url.value, config, &stage.dir, env, logger)?,
            PathBuf::from(url.value.redacted()),
        ),
        _ => return Ok(()),
    };
    let what = format!(
        "verifying {} with {}",
        shown.display(),
        v.argv.value.join(" ")
    );
    logger.log(Level::Info, &what, &plan_fields(plan));
    let _ = notify::send(env("NOTIFY_SOCKET").as_deref(), &notify::status(&what));
    let copy = verify::run(&stage, input, &shown)?;
    runtime.verified_input = Some(verify::hand_over(copy));
    Ok(())
}

/// One line for the journal / terminal about what is about to start.
fn announcement(plan: &Plan) -> String {
    match &plan.mode {
        Mode::File { update_file } => format!(
            "file mode: installing {} with {}",
            update_file.value.display(),
            plan.bin.value.display()
        ),
        Mode::Download { url, .. } => format!(
            "download mode: streaming {} with {}",
            url.given()
                .map_or_else(|| "(no URL)".to_string(), |u| u.value.redacted()),
            plan.bin.value.display()
        ),
        Mode::Daemon { .. } => format!("daemon mode: starting {}", plan.bin.value.display()),
    }
}

/// Journal fields that say what the launcher is about to do.
fn plan_fields(plan: &Plan) -> Vec<(&'static str, String)> {
    let mut f = vec![("SWUPDATE_MODE", plan.mode.name().to_string())];
    match &plan.mode {
        Mode::File { update_file } => f.push((
            "SWUPDATE_UPDATE_FILE",
            update_file.value.display().to_string(),
        )),
        Mode::Download {
            url: DownloadUrl::Given(u),
            ..
        } => f.push(("SWUPDATE_URL", u.value.redacted())),
        _ => {}
    }
    f
}

/// Journal fields that locate an error.
fn error_fields(e: &Error) -> Vec<(&'static str, String)> {
    let mut f = vec![("EXIT_CODE", e.exit_code().to_string())];
    if let Some(l) = &e.location {
        f.push(("CONFIG_FILE", l.file.display().to_string()));
        f.push(("CONFIG_LINE", l.line.to_string()));
        if let Some(c) = l.column {
            f.push(("CONFIG_COLUMN", c.to_string()));
        }
    } else if let Some(p) = &e.path {
        f.push(("CONFIG_FILE", p.display().to_string()));
    }
    if let Some(h) = &e.hint {
        f.push(("HINT", h.clone()));
    }
    f
}

/// Runs the command line; reports any failure (stderr or journal, and STATUS/ERRNO for the
/// service) and returns the exit code.
pub fn run(cli: Cli) -> u8 {
    // A value that is not UTF-8 is kept (lossily) rather than dropped: dropping it would let the
    // file's value win silently; this way the path does not exist and says so.
    let env = |n: &str| std::env::var_os(n).map(|v| v.to_string_lossy().into_owned());
    let service = matches!(cli.command, None | Some(Command::Run)) && !cli.print_argv;
    let logger = if service {
        Logger::for_service(&env)
    } else {
        Logger::for_terminal()
    };
    match execute(&cli, &env, &logger) {
        Ok(()) => 0,
        Err(e) => {
            let summary = secret::redact(&e.summary());
            if logger.is_journal() {
                logger.log(Level::Error, &summary, &error_fields(&e));
            } else {
                logger.log(Level::Error, &e.to_string(), &[]);
            }
            if service {
                let _ = notify::send(
                    env("NOTIFY_SOCKET").as_deref(),
                    &notify::failure(&format!("not started: {summary}"), e.kind),
                );
            }
            e.exit_code()
        }
    }
}

/// `--print-argv`: the argv a person can paste; its secrets masked unless `--show-secrets`
/// (the output ends up in tickets and chat; the masked line says where the secrets were).
fn print_argv(argv: &[String], show_secrets: bool, logger: &Logger) -> Result<(), Error> {
    let shown: Vec<String> = if show_secrets {
        argv.to_vec()
    } else {
        argv.iter().map(|w| secret::redact(w)).collect()
    };
    if shown != argv {
        logger.log(
            Level::Info,
            "secrets are shown as *** (--show-secrets prints the exact argv)",
            &[],
        );
    }
    logging::print(&format!("{}\n", argv::shell_line(&shown)))
}

fn execute(cli: &Cli, env: &dyn Fn(&str) -> Option<String>, logger: &Logger) -> Result<(), Error> {
    let root = Root::new(cli.root.clone());
    // A run takes the lock before it claims the agent's descriptor: a start refused because
    // another update runs must leave the handoff for the next one.
    let starts = matches!(cli.command, None | Some(Command::Run)) && !cli.print_argv;
    let held = if starts {
        Some(lock::acquire(&root.host(Path::new(lock::LOCK_FILE)))?)
    } else {
        None
    };
    let loaded = load::load(&Request {
        env_file: cli.env_file.as_deref(),
        root: &root,
        env,
        claim: starts,
    })?;
    // Before anything is shown or logged: every secret the variables carry is masked from here on.
    crate::swupdate::secrets::mark_settings(&loaded.topology);
    crate::swupdate::secrets::mark_settings(&loaded.vars);
    // Until swupdate runs, a claimed descriptor is unused: any refusal gives it back.
    let r = run_loaded(cli, env, logger, root, &loaded, held);
    if r.is_err() {
        loaded.release_claim();
    }
    r
}

/// After the load: the plan and its preconditions, then what the command does with them.
fn run_loaded(
    cli: &Cli,
    env: &dyn Fn(&str) -> Option<String>,
    logger: &Logger,
    root: Root,
    loaded: &load::Loaded,
    held: Option<lock::Held>,
) -> Result<(), Error> {
    let check_at = match cli.command {
        Some(Command::Check { static_only: true }) => CheckAt::Image,
        _ => CheckAt::Device,
    };
    let over = update_file_override(cli, &root)?;
    let plan = plan_for(cli, &root, loaded, over, check_at);
    let is_check = matches!(cli.command, Some(Command::Check { .. }));
    let runtime = match &plan {
        Ok(p) => preconditions::check(p, check_at, is_check, &root, loaded.policy.as_ref()),
        Err(_) => Ok(Runtime::default()),
    };
    match cli.command {
        Some(Command::Explain) => explain_plan(loaded, plan, runtime, check_at),
        Some(Command::Check { .. }) => check_plan(loaded, plan?, runtime?, check_at),
        Some(Command::Run) | None => {
            let plan = plan?;
            let runtime = runtime?;
            if cli.print_argv {
                let argv = argv::flatten(&argv::build(&plan, &runtime)?);
                return print_argv(&argv, cli.show_secrets, logger);
            }
            let Some(held) = held else {
                return Err(Error::new(Kind::Usage, "internal: a run without the lock"));
            };
            start(&plan, runtime, held, env, logger)
        }
    }
}

/// The plan, or why there is none (kept: `explain` shows what is known either way).
fn plan_for(
    cli: &Cli,
    root: &Root,
    loaded: &load::Loaded,
    over: Option<Setting>,
    check_at: CheckAt,
) -> Result<Plan, Error> {
    let expect = match (cli.one_shot, cli.daemon) {
        (true, _) => Expect::OneShot,
        (_, true) => Expect::Daemon,
        _ => Expect::Any,
    };
    let accounts = crate::accounts::Files { root };
    plan::build(&Inputs {
        accounts: &accounts,
        expect,
        topology: &loaded.topology,
        vars: &loaded.vars,
        update_file_override: over,
        root,
        check_at,
    })
}

/// `explain`: the report, shown even when an input is missing, with what is known.
fn explain_plan(
    loaded: &load::Loaded,
    plan: Result<Plan, Error>,
    runtime: Result<Runtime, Error>,
    check_at: CheckAt,
) -> Result<(), Error> {
    // After a failed precondition no runtime fact was read: the argv is shown with the running
    // version as unknown (in the words, said so), and the failure after it.
    let shown_runtime = match &runtime {
        Ok(rt) => rt.clone(),
        Err(_) => Runtime {
            current_version: RunningVersion::Unknown,
            ..Runtime::default()
        },
    };
    let outcome = plan.and_then(|p| groups_for(&p, &shown_runtime, check_at).map(|g| (p, g)));
    logging::print(&explain::render(loaded, &outcome, runtime.as_ref().err()))?;
    outcome.and(runtime).map(|_| ())
}

/// `check`: the warnings, then one line that says what would start.
fn check_plan(
    loaded: &load::Loaded,
    plan: Plan,
    runtime: Runtime,
    check_at: CheckAt,
) -> Result<(), Error> {
    let groups = groups_for(&plan, &runtime, check_at)?;
    for n in &runtime.notes {
        eprintln!("warning: {n}");
    }
    let files = loaded
        .files
        .iter()
        .filter(|f| f.verdict == crate::config::confd::Verdict::Read)
        .count();
    logging::print(&format!(
        "ok: {} mode (from {}), {files} fragment(s) read{}\n",
        plan.mode.name(),
        plan.mode_origin,
        if groups.is_empty() {
            ", URL not written yet"
        } else {
            ""
        }
    ))
}

/// A run: the preflight or the verification stage, then exec (which returns only on failure).
/// The lock is handed over to swupdate with the exec.
fn start(
    plan: &Plan,
    mut runtime: Runtime,
    held: lock::Held,
    env: &dyn Fn(&str) -> Option<String>,
    logger: &Logger,
) -> Result<(), Error> {
    if plan.verification.is_none() {
        net::preflight(plan, env, logger)?;
    }
    verify_update(plan, &mut runtime, env, logger)?;
    let argv = argv::flatten(&argv::build(plan, &runtime)?);
    let what = announcement(plan);
    logger.log(Level::Info, &what, &plan_fields(plan));
    let _ = notify::send(env("NOTIFY_SOCKET").as_deref(), &notify::status(&what));
    held.hand_over();
    Err(exec::exec(&argv))
}
