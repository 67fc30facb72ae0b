//! The imperative shell: match the action, load, plan, check the preconditions, then print or
//! exec.
//!
//! Everything the launcher does to the system is started from here, in this order: the update
//! lock (a run only, [`crate::lock`]), the configuration files ([`crate::config::load`]), the
//! files the plan names and, for `check`, the swupdate binary run briefly
//! ([`crate::preconditions`], [`crate::compat`]), a removable medium's directory
//! ([`crate::medium`]), the network ([`crate::net`]: preflight or the verified download), the
//! verification program ([`crate::verify`]), the bootloader environment and the health checks
//! (`confirm`: [`crate::confirm`]), stdout/stderr or the journal ([`crate::logging`]),
//! the service manager's notify socket ([`crate::notify`]), then exec. What lies between is
//! data: [`crate::plan`] and [`crate::explain`] touch nothing.
//!
//! The plan holds device paths; the edges started from here place them under `--root`
//! ([`Root::host`]) where they open, run or show a file.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::cli::{Action, Options, Update};
use crate::config::confd::Verdict;
use crate::config::load::{self, Loaded, Request};
use crate::config::settings::{Origin, Setting};
use crate::confirm;
use crate::error::{Error, Kind};
use crate::exec;
use crate::explain;
use crate::lock;
use crate::logging::{self, Level, Logger};
use crate::medium;
use crate::net;
use crate::notify;
use crate::plan::argv::{self, Group, RunningVersion, Slot};
use crate::plan::{self, CheckAt, DownloadUrl, Inputs, Mode, Plan};
use crate::preconditions::{self, Checked};
use crate::rootfs::Root;
use crate::secret;
use crate::slots;
use crate::verify;

/// Runs the action the command line asked for (the one place it is matched); reports any
/// failure (stderr or journal, and STATUS/ERRNO for the service) and returns the exit code.
pub fn run(action: Action) -> u8 {
    // A value that is not UTF-8 is kept (lossily) rather than dropped: dropping it would let the
    // file's value win silently; this way the path does not exist and says so.
    let env = |n: &str| std::env::var_os(n).map(|v| v.to_string_lossy().into_owned());
    let terminal = Logger::for_terminal();
    let outcome = match &action {
        Action::Print(text) => return logging::print(text).map_or_else(|e| e.exit_code(), |()| 0),
        Action::Run(options) => return service_run(options, &env),
        Action::Confirm(options) => return service_confirm(options, &env),
        Action::PrintArgv {
            options,
            show_secrets,
        } => print_argv(options, *show_secrets, &env, &terminal),
        Action::Check { options, at } => check(options, *at, &env),
        Action::Explain(options) => explain(options, &env),
    };
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            terminal.log(Level::Error, &e.to_string(), &[]);
            e.exit_code()
        }
    }
}

/// What every action works from: the root, the configuration read, and the options.
struct Configured<'a> {
    options: &'a Options,
    root: Root,
    loaded: Loaded,
}

impl<'a> Configured<'a> {
    /// Reads the configuration; from here on every secret its variables carry is masked
    /// (before anything is shown or logged). Only a run `claim`s the agent's descriptor.
    fn load(
        options: &'a Options,
        root: Root,
        env: &dyn Fn(&str) -> Option<String>,
        claim: bool,
    ) -> Result<Self, Error> {
        let loaded = load::load(&Request {
            env_file: options.env_file.as_deref(),
            root: &root,
            env,
            claim,
            local_update: options.update.is_some(),
        })?;
        crate::swupdate::secrets::mark_settings(&loaded.topology);
        crate::swupdate::secrets::mark_settings(&loaded.vars);
        Ok(Configured {
            options,
            root,
            loaded,
        })
    }

    /// `--update-file` or `--update-medium`, as a device path with its origin. A medium that
    /// names no single update is refused here, before any plan.
    fn update_file_override(&self) -> Result<Option<Setting>, Error> {
        let (device, option) = match &self.options.update {
            None => return Ok(None),
            Some(Update::File(f)) => (f.clone(), "--update-file"),
            Some(Update::Medium(m)) => {
                let name = medium::pick(&self.root.host(m))?;
                (on_device(m, &self.root)?.join(name), "--update-medium")
            }
        };
        let value = device
            .to_str()
            .map(str::to_string)
            .ok_or_else(|| Error::new(Kind::Usage, format!("{option}: the path is not UTF-8")))?;
        Ok(Some(Setting {
            value,
            origin: Origin::CommandLine(option),
            expanded: Vec::new(),
        }))
    }

    /// The plan, or why there is none (kept: `explain` shows what is known either way).
    fn plan(&self, over: Option<Setting>, check_at: CheckAt) -> Result<Plan, Error> {
        let accounts = crate::accounts::Files { root: &self.root };
        let mut plan = plan::build(&Inputs {
            accounts: &accounts,
            expect: self.options.expect,
            topology: &self.loaded.topology,
            vars: &self.loaded.vars,
            update_file_override: over,
            check_at,
        })?;
        preconditions::choose_config_file(&mut plan, &self.root);
        Ok(plan)
    }

    /// The running A/B slot, when the plan has a slot table: observed on the device (under the
    /// root) and identified; `None` without a table.
    fn slot(&self, plan: &Plan) -> Result<Option<slots::Running>, Error> {
        let Some(table) = &plan.slots else {
            return Ok(None);
        };
        let topology = slots::Topology::from_topology(&self.loaded.topology, &self.root)?;
        slots::running(table, &topology, &self.root).map(Some)
    }

    /// The files the plan names, checked; `with_binary`: swupdate itself too (`check`).
    fn preconditions(
        &self,
        plan: &Plan,
        check_at: CheckAt,
        with_binary: bool,
    ) -> Result<Checked, Error> {
        let policy = self.loaded.policy.as_ref();
        preconditions::check(plan, check_at, with_binary, &self.root, policy)
    }
}

/// A path given on the command line as a device path: a relative one is relative to the
/// working directory, as a shell user means it, or, under `--root`, to the root.
fn on_device(given: &Path, root: &Root) -> Result<PathBuf, Error> {
    if given.is_absolute() {
        return Ok(given.to_path_buf());
    }
    match root.dir() {
        Some(_) => Ok(Path::new("/").join(given)),
        None => std::env::current_dir().map(|d| d.join(given)).map_err(|e| {
            Error::new(Kind::Io, format!("cannot find the working directory: {e}")).on(given)
        }),
    }
}

/// The service's run: the lock, then the configuration (claiming the agent's descriptor), the
/// plan and its preconditions, then exec. A refusal is logged (the journal under systemd) and
/// told to the service manager.
fn service_run(options: &Options, env: &dyn Fn(&str) -> Option<String>) -> u8 {
    let logger = Logger::for_service(&env);
    match locked_run(options, env, &logger) {
        Ok(()) => 0,
        Err(e) => service_refusal(&e, "not started", env, &logger),
    }
}

/// A service's refusal: logged (the journal under systemd, with the fields that locate it) and
/// told to the service manager (STATUS= after `what`, ERRNO=); the exit code.
fn service_refusal(
    e: &Error,
    what: &str,
    env: &dyn Fn(&str) -> Option<String>,
    logger: &Logger,
) -> u8 {
    let summary = secret::redact(&e.summary());
    if logger.is_journal() {
        logger.log(Level::Error, &summary, &error_fields(e));
    } else {
        logger.log(Level::Error, &e.to_string(), &[]);
    }
    let _ = notify::send(
        env("NOTIFY_SOCKET").as_deref(),
        &notify::failure(&format!("{what}: {summary}"), e.kind),
    );
    e.exit_code()
}

/// `confirm` (swupdate-confirm.service): under the update lock (an install may be writing the
/// bootloader environment), the configuration, then [`confirm::run`]; what it did, or why not,
/// in the journal and STATUS=.
fn service_confirm(options: &Options, env: &dyn Fn(&str) -> Option<String>) -> u8 {
    let logger = Logger::for_service(&env);
    let done = (|| {
        let root = Root::new(options.root.clone());
        let _held = lock::acquire(&root.host(Path::new(lock::LOCK_FILE)))?;
        let c = Configured::load(options, root, env, false)?;
        confirm::run(&c.loaded, &c.root, &logger)
    })();
    match done {
        Ok(what) => {
            logger.log(Level::Info, &what, &[]);
            let _ = notify::send(env("NOTIFY_SOCKET").as_deref(), &notify::status(&what));
            0
        }
        Err(e) => service_refusal(&e, "confirm", env, &logger),
    }
}

/// The lock, then everything else: the only place the lock is taken.
fn locked_run(
    options: &Options,
    env: &dyn Fn(&str) -> Option<String>,
    logger: &Logger,
) -> Result<(), Error> {
    let root = Root::new(options.root.clone());
    // The lock before the agent's descriptor is claimed: a start refused because another
    // update runs must leave the handoff for the next one.
    let held = lock::acquire(&root.host(Path::new(lock::LOCK_FILE)))?;
    let c = Configured::load(options, root, env, true)?;
    let started = start(&c, held, env, logger);
    // Until swupdate runs, a claimed descriptor is unused: any refusal gives it back.
    if started.is_err() {
        c.loaded.release_claim();
    }
    started
}

/// A run: the plan and its preconditions, the preflight or the verification stage, then exec
/// (which returns only on failure). It needs the lock, which swupdate inherits with the exec.
fn start(
    c: &Configured,
    held: lock::Held,
    env: &dyn Fn(&str) -> Option<String>,
    logger: &Logger,
) -> Result<(), Error> {
    let plan = c.plan(c.update_file_override()?, CheckAt::Device)?;
    let checked = c.preconditions(&plan, CheckAt::Device, false)?;
    let slot = c.slot(&plan)?;
    let root = &c.root;
    if plan.verification.is_none() {
        net::preflight(&plan, root, env, logger)?;
    }
    let verified = match verify_update(&plan, root, env, logger)? {
        Some(copy) => Some(copy),
        None => preconditions::hand_over_update_file(&plan, root)?,
    };
    let groups = argv::build(
        &plan,
        root,
        &checked.running,
        slot_of(slot.as_ref()),
        verified.as_deref(),
    )?;
    let argv = argv::flatten(&groups);
    let what = announcement(&plan, root);
    logger.log(Level::Info, &what, &plan_fields(&plan, root));
    let _ = notify::send(env("NOTIFY_SOCKET").as_deref(), &notify::status(&what));
    held.hand_over();
    Err(exec::exec(&argv))
}

/// `--print-argv`: the argv a person can paste; its secrets masked unless `--show-secrets`
/// (the output ends up in tickets and chat; the masked line says where the secrets were).
fn print_argv(
    options: &Options,
    show_secrets: bool,
    env: &dyn Fn(&str) -> Option<String>,
    logger: &Logger,
) -> Result<(), Error> {
    let c = Configured::load(options, Root::new(options.root.clone()), env, false)?;
    let plan = c.plan(c.update_file_override()?, CheckAt::Device)?;
    let checked = c.preconditions(&plan, CheckAt::Device, false)?;
    let slot = c.slot(&plan)?;
    let argv = argv::flatten(&argv::build(
        &plan,
        &c.root,
        &checked.running,
        slot_of(slot.as_ref()),
        None,
    )?);
    let shown: Vec<String> = if show_secrets {
        argv.clone()
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

/// `check`: every precondition, swupdate itself included; the warnings, then one line that
/// says what would start.
fn check(
    options: &Options,
    at: CheckAt,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), Error> {
    let c = Configured::load(options, Root::new(options.root.clone()), env, false)?;
    let plan = c.plan(c.update_file_override()?, at)?;
    let checked = c.preconditions(&plan, at, true)?;
    // On the device the running slot is identified as a run would; while the image is built
    // there is no running slot, and the table alone is checked.
    let slot = match at {
        CheckAt::Device => c.slot(&plan)?,
        CheckAt::Image => None,
    };
    let slot_arg = match (&slot, at) {
        (Some(r), _) => Slot::Running(r),
        (None, CheckAt::Image) => Slot::Unknown,
        (None, CheckAt::Device) => Slot::NotLooked,
    };
    let groups = groups_for(&plan, &c.root, &checked.running, slot_arg, at)?;
    let slot_notes = plan.slots.as_deref().map(slots::check_notes);
    let confirm_notes = confirm::check_notes(&c.loaded, &c.root)?;
    for n in checked
        .notes
        .iter()
        .chain(slot_notes.iter().flatten())
        .chain(&confirm_notes)
    {
        eprintln!("warning: {n}");
    }
    let files = c
        .loaded
        .files
        .iter()
        .filter(|f| f.verdict == Verdict::Read)
        .count();
    let slot_note = slot_note(slot.as_ref(), plan.slots.as_deref());
    logging::print(&format!(
        "ok: {} mode (from {}), {files} fragment(s) read{slot_note}{}\n",
        plan.mode.name(),
        plan.mode_origin,
        if groups.is_empty() {
            ", URL not written yet"
        } else {
            ""
        }
    ))
}

/// `check`'s word on A/B: the running slot and its selection, or the table's size.
#[cfg(feature = "ab")]
fn slot_note(slot: Option<&slots::Running>, table: Option<&slots::Table>) -> String {
    match (slot, table) {
        (Some(r), _) => format!(", running slot {} (-e {})", r.slot, r.selection),
        (None, Some(t)) => format!(", {} A/B slots", t.slots.len()),
        (None, None) => String::new(),
    }
}

/// Without the `ab` feature no slot table exists ([`crate::without_ab`]): no word.
#[cfg(not(feature = "ab"))]
fn slot_note(slot: Option<&slots::Running>, table: Option<&slots::Table>) -> String {
    match (slot, table) {
        (Some(r), _) => match *r {},
        (None, Some(t)) => match *t {},
        (None, None) => String::new(),
    }
}

/// `explain`: the report, shown even when the plan or an input is missing, with what is known.
fn explain(options: &Options, env: &dyn Fn(&str) -> Option<String>) -> Result<(), Error> {
    let c = Configured::load(options, Root::new(options.root.clone()), env, false)?;
    let plan = c.plan(c.update_file_override()?, CheckAt::Device);
    let checked = match &plan {
        Ok(p) => c.preconditions(p, CheckAt::Device, false),
        Err(_) => Ok(Checked::default()),
    };
    // After a failed precondition no running version was read: the argv is shown with it as
    // unknown (in the words, said so), and the failure after it.
    let running = match &checked {
        Ok(ch) => ch.running.clone(),
        Err(_) => RunningVersion::Unknown,
    };
    // The running slot, or why it is unknown (shown, and the exit code, as a run would).
    let slot = match &plan {
        Ok(p) => c.slot(p).transpose(),
        Err(_) => None,
    };
    let slot_arg = match &slot {
        Some(Ok(r)) => Slot::Running(r),
        Some(Err(_)) => Slot::Unknown,
        None => Slot::NotLooked,
    };
    let outcome = plan.and_then(|p| {
        groups_for(&p, &c.root, &running, slot_arg, CheckAt::Device).map(|g| (p, g))
    });
    let report = explain::render(
        &c.loaded,
        &c.root,
        &outcome,
        checked.as_ref().err(),
        slot.as_ref(),
    );
    logging::print(&report)?;
    outcome.and(checked)?;
    match slot {
        Some(Err(e)) => Err(e),
        _ => Ok(()),
    }
}

/// The argv's view of the running slot.
fn slot_of(slot: Option<&slots::Running>) -> Slot<'_> {
    slot.map_or(Slot::NotLooked, Slot::Running)
}

/// The argv for a plan, or none yet in an image-build check of download mode (the agent
/// writes URL at run time).
fn groups_for(
    plan: &Plan,
    root: &Root,
    running: &RunningVersion,
    slot: Slot<'_>,
    check_at: CheckAt,
) -> Result<Vec<Group>, Error> {
    match (&plan.mode, check_at) {
        (
            Mode::Download {
                url: DownloadUrl::WrittenAtStart,
                ..
            },
            CheckAt::Image,
        ) => Ok(Vec::new()),
        _ => argv::build(plan, root, running, slot, None),
    }
}

/// Runs the verification stage, if any; returns the private copy as swupdate will open it. In
/// download mode the launcher first downloads the pack itself (the program must see all of it).
fn verify_update(
    plan: &Plan,
    root: &Root,
    env: &dyn Fn(&str) -> Option<String>,
    logger: &Logger,
) -> Result<Option<PathBuf>, Error> {
    let Some(v) = &plan.verification else {
        return Ok(None);
    };
    let dir = root.host(&v.dir.value);
    verify::prepare(&dir)?;
    let (input, shown) = match &plan.mode {
        Mode::File { update_file } => {
            let path = root.host(&update_file.value);
            let f = crate::preconditions::open_regular(&path).map_err(|m| {
                Error::new(Kind::MissingInput, format!("the update file: {m}")).on(&path)
            })?;
            // Root opens it, the unprivileged program reads it: never what it could not read
            // itself (a symlink to a root-only file, /proc/self/environ).
            if let Ok(m) = f.metadata() {
                let (uid, gid) = (v.user.value.uid, v.user.value.gid);
                if !verify::may_read(m.mode(), m.uid(), m.gid(), uid, gid) {
                    return Err(Error::new(
                        Kind::MissingInput,
                        format!("the update file is not readable by the verification user ({uid}:{gid}): the launcher does not read for it"),
                    )
                    .on(&path)
                    .hint("make the update readable by SWUPDATE_VERIFY_USER (a .swu is not secret: it is signed, or encrypted for the program)"));
                }
            }
            (f, path)
        }
        Mode::Download {
            url: DownloadUrl::Given(url),
            preflight: config,
            ..
        } => (
            net::fetch(&url.value, config, root, &dir, env, logger)?,
            PathBuf::from(url.value.redacted()),
        ),
        _ => return Ok(None),
    };
    let program = &v.program.value;
    let what = format!(
        "verifying {} with {}",
        shown.display(),
        program.line(&root.host(&program.path))
    );
    logger.log(Level::Info, &what, &plan_fields(plan, root));
    let _ = notify::send(env("NOTIFY_SOCKET").as_deref(), &notify::status(&what));
    let copy = verify::run(v, root, input, &shown)?;
    Ok(Some(verify::hand_over(copy)))
}

/// One line for the journal / terminal about what is about to start.
fn announcement(plan: &Plan, root: &Root) -> String {
    let bin = root.host(&plan.bin.value);
    match &plan.mode {
        Mode::File { update_file } => format!(
            "file mode: installing {} with {}",
            root.host(&update_file.value).display(),
            bin.display()
        ),
        Mode::Download { url, .. } => format!(
            "download mode: streaming {} with {}",
            url.given()
                .map_or_else(|| "(no URL)".to_string(), |u| u.value.redacted()),
            bin.display()
        ),
        Mode::Daemon { .. } => format!("daemon mode: starting {}", bin.display()),
    }
}

/// Journal fields that say what the launcher is about to do.
fn plan_fields(plan: &Plan, root: &Root) -> Vec<(&'static str, String)> {
    let mut f = vec![("SWUPDATE_MODE", plan.mode.name().to_string())];
    match &plan.mode {
        Mode::File { update_file } => f.push((
            "SWUPDATE_UPDATE_FILE",
            root.host(&update_file.value).display().to_string(),
        )),
        Mode::Download {
            url: DownloadUrl::Given(u),
            ..
        } => f.push(("SWUPDATE_URL", u.value.redacted())),
        _ => {}
    }
    f
}

/// Journal fields that locate an error (docs/service.md lists them): `EXIT_CODE`; where in the
/// configuration, `CONFIG_FILE`, `CONFIG_LINE` and `CONFIG_COLUMN`; or, for a file without a
/// line (the update file, the key, the swupdate binary), `FILE`; and `HINT`.
fn error_fields(e: &Error) -> Vec<(&'static str, String)> {
    let mut f = vec![("EXIT_CODE", e.exit_code().to_string())];
    if let Some(l) = &e.location {
        f.push(("CONFIG_FILE", l.file.display().to_string()));
        f.push(("CONFIG_LINE", l.line.to_string()));
        if let Some(c) = l.column {
            f.push(("CONFIG_COLUMN", c.to_string()));
        }
    } else if let Some(p) = &e.file {
        f.push(("FILE", p.display().to_string()));
    }
    if let Some(h) = &e.hint {
        f.push(("HINT", h.clone()));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Location;

    fn names(e: &Error) -> Vec<&'static str> {
        error_fields(e).into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn a_configuration_error_is_located_by_file_line_and_column() {
        let e = Error::new(Kind::Config, "bad")
            .at(Location {
                file: "/etc/swupdate/conf.d/50-local".into(),
                line: 2,
                column: Some(21),
            })
            .hint("do this");
        assert_eq!(
            error_fields(&e),
            [
                ("EXIT_CODE", "65".to_string()),
                ("CONFIG_FILE", "/etc/swupdate/conf.d/50-local".into()),
                ("CONFIG_LINE", "2".into()),
                ("CONFIG_COLUMN", "21".into()),
                ("HINT", "do this".into()),
            ]
        );
    }

    #[test]
    fn a_missing_update_file_is_file_not_config_file() {
        let e = Error::new(Kind::MissingInput, "missing").on(Path::new("/data/update.swu"));
        assert_eq!(names(&e), ["EXIT_CODE", "FILE"]);
        assert_eq!(error_fields(&e)[1].1, "/data/update.swu");
    }
}
