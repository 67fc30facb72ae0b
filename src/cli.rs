//! The command line, parsed into one [`Action`] with its own options. Without a command the
//! launcher does the service's job: `run`.
//!
//! Parsed by hand rather than with clap: the binary ships on small devices with a budget of
//! 700,000 bytes (without the streaming feature), clap was about 100 KB of it, and clap's
//! features cannot be trimmed further without losing what a person needs (without
//! `error-context` an error no longer names the argument; without `usage` the help has an
//! empty `Usage:` line). What clap gave is kept: `--opt value` and `--opt=value`, options of
//! the whole program after the command too, `-h`/`--help` at every level and the `help`
//! command, `-V`/`--version`, errors that name the argument with the usage and exit code 64,
//! duplicates, conflicts and requirements refused.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::plan::{CheckAt, Expect};

/// What the command line asks for: one action, each with its own options (as sudo-rs's
/// `SudoAction` and ripgrep's `Mode`), matched once, in [`crate::app`]. A new verb is a new
/// variant, a row of [`COMMANDS`] and an arm in `finish`. The help text of each option and
/// command (`--help`, the man page) says what it does; it is not repeated here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `run`, or no command: the service's job. The only action that takes the update lock
    /// and execs swupdate.
    Run(Options),
    /// `--print-argv` (before `run` or no command): the argv, and exit without exec.
    PrintArgv {
        options: Options,
        /// `--show-secrets`: it exists only with `--print-argv`.
        show_secrets: bool,
    },
    /// `check`; `--static` checks at image build ([`CheckAt::Image`]).
    Check { options: Options, at: CheckAt },
    /// `explain`
    Explain(Options),
    /// `confirm`: once per boot on an A/B device ([`crate::confirm`]); only `--env-file` and
    /// `--root` apply.
    Confirm(Options),
    /// `--help`, `help [COMMAND]` or `--version`: this text on stdout, exit 0.
    Print(String),
}

/// The options every action that reads the configuration takes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Options {
    /// `--env-file`
    pub env_file: Option<PathBuf>,
    /// `--root`
    pub root: Option<PathBuf>,
    /// `--update-file` or `--update-medium` (they exclude each other).
    pub update: Option<Update>,
    /// `--one-shot` or `--daemon` (they exclude each other), or neither.
    pub expect: Expect,
}

/// What this run installs instead of the configuration's choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// `--update-file PATH`
    File(PathBuf),
    /// `--update-medium DIR`
    Medium(PathBuf),
}

/// A bad command line: the message, usage and hint to print on stderr (exit code 64).
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

const NAME: &str = "swupdate-launcher";
const ABOUT: &str =
    "Starts swupdate from /etc/default/swupdate and the conf.d fragments, without a shell";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Id {
    EnvFile,
    Root,
    UpdateFile,
    UpdateMedium,
    OneShot,
    Daemon,
    PrintArgv,
    ShowSecrets,
    Static,
}

/// Where an option may be given.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Before or after any command.
    Global,
    /// Only before the command.
    Top,
    /// Only after `check`.
    Check,
}

struct Opt {
    id: Id,
    long: &'static str,
    value: Option<&'static str>,
    scope: Scope,
    help: &'static str,
}

const OPTIONS: [Opt; 9] = [
    Opt {
        id: Id::EnvFile,
        long: "env-file",
        value: Some("PATH"),
        scope: Scope::Global,
        help: "EnvironmentFile with the path topology [default: /etc/default/swupdate]",
    },
    Opt {
        id: Id::Static,
        long: "static",
        value: None,
        scope: Scope::Check,
        help: "Image-build check: skip what only exists at run time (UPDATE_FILE, URL)",
    },
    Opt {
        id: Id::Root,
        long: "root",
        value: Some("DIR"),
        scope: Scope::Global,
        help: "Resolve every configured path under DIR (tests, image builds)",
    },
    Opt {
        id: Id::UpdateFile,
        long: "update-file",
        value: Some("PATH"),
        scope: Scope::Global,
        help: "Install this file (file mode) instead of UPDATE_FILE, for this run",
    },
    Opt {
        id: Id::UpdateMedium,
        long: "update-medium",
        value: Some("DIR"),
        scope: Scope::Global,
        help: "Install the one *.swu file at the top level of this mounted medium",
    },
    Opt {
        id: Id::OneShot,
        long: "one-shot",
        value: None,
        scope: Scope::Global,
        help: "Refuse unless the configuration runs swupdate once (file or download): for the OTA unit, whose start blocks until swupdate exits",
    },
    Opt {
        id: Id::Daemon,
        long: "daemon",
        value: None,
        scope: Scope::Global,
        help: "Refuse unless the configuration runs the long-lived daemon: for the daemon unit, so a leftover one-shot configuration does not install at every boot",
    },
    Opt {
        id: Id::PrintArgv,
        long: "print-argv",
        value: None,
        scope: Scope::Top,
        help: "Print the argv, shell-quoted, and exit without exec (a dry run)",
    },
    Opt {
        id: Id::ShowSecrets,
        long: "show-secrets",
        value: None,
        scope: Scope::Top,
        help: "With --print-argv: print passwords and tokens instead of *** (the exact argv)",
    },
];

const COMMANDS: [(&str, &str); 4] = [
    (
        "run",
        "Exec swupdate with the configured argv (the default)",
    ),
    (
        "check",
        "Validate the whole configuration and exit; nothing is executed",
    ),
    (
        "explain",
        "Show every variable, where it came from, which files were read, and why each argument",
    ),
    (
        "confirm",
        "A/B (cargo feature `ab`): when an update waits for confirmation, run the health checks and write the outcome to the bootloader environment (once per boot: swupdate-confirm.service)",
    ),
];

/// Options that say what to install, which mean nothing to `confirm`.
const NOT_FOR_CONFIRM: [Id; 4] = [Id::UpdateFile, Id::UpdateMedium, Id::OneShot, Id::Daemon];

/// The `help` command, which `--help` and the man page list after [`COMMANDS`].
const HELP_COMMAND: (&str, &str) = (
    "help",
    "Print this message or the help of the given subcommand(s)",
);
const HELP_FLAG: &str = "Print help";
const VERSION_FLAG: &str = "Print version";

/// `--name <VALUE>` or `--name`, as messages show an option.
fn shown(o: &Opt) -> String {
    match o.value {
        Some(v) => format!("--{} <{v}>", o.long),
        None => format!("--{}", o.long),
    }
}

fn usage_line(command: Option<&str>) -> String {
    match command {
        None => format!("Usage: {NAME} [OPTIONS] [COMMAND]"),
        Some(c) => format!("Usage: {NAME} {c} [OPTIONS]"),
    }
}

fn error(message: String, command: Option<&str>) -> UsageError {
    UsageError(format!(
        "error: {message}\n\n{}\n\nFor more information, try '--help'.\n",
        usage_line(command)
    ))
}

fn in_scope(o: &Opt, command: Option<&str>) -> bool {
    if command == Some("confirm") && NOT_FOR_CONFIRM.contains(&o.id) {
        return false;
    }
    matches!(
        (o.scope, command),
        (Scope::Global, _) | (Scope::Top, None) | (Scope::Check, Some("check"))
    )
}

/// The help of the program (`None`) or of one command.
pub fn help(command: Option<&str>) -> String {
    let mut out = String::new();
    let about = command
        .and_then(|c| COMMANDS.iter().find(|(n, _)| *n == c))
        .map_or(ABOUT, |(_, a)| a);
    let _ = writeln!(out, "{about}\n\n{}\n", usage_line(command));
    if command.is_none() {
        out.push_str("Commands:\n");
        for (name, about) in COMMANDS.iter().chain([&HELP_COMMAND]) {
            let _ = writeln!(out, "  {name:<8} {about}");
        }
        out.push('\n');
    }
    out.push_str("Options:\n");
    let rows: Vec<(String, &str)> = OPTIONS
        .iter()
        .filter(|o| in_scope(o, command))
        .map(|o| (format!("      {}", shown(o)), o.help))
        .chain([("  -h, --help".to_string(), HELP_FLAG)])
        .chain(
            command
                .is_none()
                .then(|| ("  -V, --version".to_string(), VERSION_FLAG)),
        )
        .collect();
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 2;
    for (left, text) in rows {
        let _ = writeln!(out, "{left:<width$}{text}");
    }
    if command.is_none() {
        let _ = write!(out, "\n{}", crate::error::exit_codes_text());
    }
    out
}

/// What the man page says about the program, beyond [`ABOUT`]: the one paragraph that is not
/// generated from a table.
const DESCRIPTION: &str = "Without a command it does the service's job (run): it reads the \
EnvironmentFile (path topology, parsed with systemd's rules), merges the conf.d fragments of \
the lib and etc directories (parsed as a subset of POSIX shell, never executed), builds \
swupdate's argv as a vector and execs swupdate in place, keeping the PID, the inherited file \
descriptors and the environment. A configuration it does not fully understand never starts \
swupdate: it stops with file:line:column, what it found, what to do instead, and an exit code \
of its own.";

/// Text for roff: backslashes and dashes escaped, and a line that would start with a control
/// character (`.` or `'`) protected.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// `--name VALUE` in bold and italics, for a `.TP` tag.
fn roff_option(o: &Opt) -> String {
    let name = format!("\\fB\\-\\-{}\\fR", roff(o.long));
    match o.value {
        Some(v) => format!("{name} \\fI{v}\\fR"),
        None => name,
    }
}

/// The man page, `docs/swupdate-launcher.1` (man(7) macros), generated from the same tables
/// as `--help` and the exit-code list, so it cannot drift from them
/// (`tests/generated_docs.rs`).
pub fn man_page() -> String {
    let mut out = String::new();
    let version = env!("CARGO_PKG_VERSION");
    let _ = writeln!(
        out,
        ".\\\" Generated from src/cli.rs and src/error.rs by tests/generated_docs.rs; do not edit.\n\
         .\\\" Rewrite it with: SWUPDATE_LAUNCHER_BLESS=1 cargo test --test integration generated_docs\n\
         .TH SWUPDATE\\-LAUNCHER 1 \"\" \"{NAME} {version}\" \"User Commands\"\n\
         .SH NAME\n{} \\- {}\n\
         .SH SYNOPSIS\n.B {}\n[\\fIOPTIONS\\fR] [\\fICOMMAND\\fR]\n\
         .SH DESCRIPTION\n{}",
        roff(NAME),
        roff(ABOUT),
        roff(NAME),
        roff(DESCRIPTION)
    );
    out.push_str(".SH COMMANDS\n");
    for (name, about) in COMMANDS.iter().chain([&HELP_COMMAND]) {
        let _ = writeln!(out, ".TP\n.B {}\n{}", roff(name), roff(about));
    }
    out.push_str(".SH OPTIONS\n");
    for o in OPTIONS.iter().filter(|o| o.scope != Scope::Check) {
        let place = match o.scope {
            Scope::Top => ". Only before the command.",
            _ => "",
        };
        let _ = writeln!(out, ".TP\n{}\n{}{place}", roff_option(o), roff(o.help));
    }
    let _ = writeln!(
        out,
        ".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\n{}\n\
         .TP\n\\fB\\-V\\fR, \\fB\\-\\-version\\fR\n{}",
        roff(HELP_FLAG),
        roff(VERSION_FLAG)
    );
    out.push_str(".SS \"Options of check\"\n");
    for o in OPTIONS.iter().filter(|o| o.scope == Scope::Check) {
        let _ = writeln!(out, ".TP\n{}\n{}", roff_option(o), roff(o.help));
    }
    out.push_str(".SH EXIT STATUS\n");
    for (code, doc) in crate::error::exit_code_rows() {
        let _ = writeln!(out, ".TP\n.B {}\n{}", roff(&code), roff(doc));
    }
    out.push_str(
        ".SH SEE ALSO\n\
         .BR swupdate (1),\n.BR systemd.exec (5),\n.BR sd_notify (3).\n\
         The project's docs/reference.md lists the variables, the file formats and the handoff.\n",
    );
    out
}

impl Action {
    /// Parses the arguments after the program name.
    pub fn parse_from<I: IntoIterator<Item = OsString>>(args: I) -> Result<Action, UsageError> {
        let mut p = Parser::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let Some(text) = arg.to_str() else {
                return Err(error(
                    format!("unexpected argument '{}' found", arg.to_string_lossy()),
                    p.command,
                ));
            };
            if let Some(print) = p.print_request(text) {
                return Ok(Action::Print(print));
            }
            if let Some(long) = text.strip_prefix("--").filter(|l| !l.is_empty()) {
                p.option(text, long, &mut args)?;
            } else if p.command.is_none() && !text.starts_with('-') {
                if let Some(print) = p.word(text, &mut args)? {
                    return Ok(Action::Print(print));
                }
            } else {
                return Err(error(
                    format!("unexpected argument '{text}' found"),
                    p.command,
                ));
            }
        }
        p.finish()
    }
}

/// The state of one parse: the options given so far, with their values, and the command once
/// it was named.
#[derive(Default)]
struct Parser {
    command: Option<&'static str>,
    given: Vec<(Id, Option<OsString>)>,
}

impl Parser {
    /// `-h`/`--help` (at every level) and `-V`/`--version` (before a command): text to print.
    fn print_request(&self, text: &str) -> Option<String> {
        match text {
            "-h" | "--help" => Some(help(self.command)),
            "-V" | "--version" if self.command.is_none() => {
                Some(format!("{NAME} {}\n", env!("CARGO_PKG_VERSION")))
            }
            _ => None,
        }
    }

    fn has(&self, id: Id) -> bool {
        self.given.iter().any(|(i, _)| *i == id)
    }

    /// The value of an option that takes one, as a path.
    fn path(&self, id: Id) -> Option<PathBuf> {
        self.given
            .iter()
            .find(|(i, _)| *i == id)
            .and_then(|(_, v)| v.clone())
            .map(PathBuf::from)
    }

    /// `--name`, `--name value` or `--name=value` (`long` is `text` without the dashes).
    fn option(
        &mut self,
        text: &str,
        long: &str,
        args: &mut impl Iterator<Item = OsString>,
    ) -> Result<(), UsageError> {
        let command = self.command;
        let (name, inline) = match long.split_once('=') {
            Some((n, v)) => (n, Some(OsString::from(v))),
            None => (long, None),
        };
        let Some(o) = OPTIONS
            .iter()
            .find(|o| o.long == name && in_scope(o, command))
        else {
            return Err(error(
                format!("unexpected argument '{text}' found"),
                command,
            ));
        };
        if self.has(o.id) {
            return Err(error(
                format!("the argument '{}' cannot be used multiple times", shown(o)),
                command,
            ));
        }
        let value = match (o.value, inline) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(error(
                    format!("unexpected value for '{}' in '{text}'", shown(o)),
                    command,
                ));
            }
            (Some(_), Some(v)) => Some(v),
            (Some(_), None) => match args.next() {
                Some(v) if !v.as_encoded_bytes().starts_with(b"-") => Some(v),
                _ => {
                    return Err(error(
                        format!(
                            "a value is required for '{}' but none was supplied",
                            shown(o)
                        ),
                        command,
                    ));
                }
            },
        };
        self.given.push((o.id, value));
        Ok(())
    }

    /// A word before any command: the command, or `help [COMMAND]` (text to print).
    fn word(
        &mut self,
        text: &str,
        args: &mut impl Iterator<Item = OsString>,
    ) -> Result<Option<String>, UsageError> {
        if text == "help" {
            let topic = args.next();
            let topic = topic.as_deref().and_then(OsStr::to_str);
            return match topic {
                None => Ok(Some(help(None))),
                Some(t) => match COMMANDS.iter().find(|(n, _)| *n == t) {
                    Some((n, _)) => Ok(Some(help(Some(n)))),
                    None => Err(error(format!("unrecognized subcommand '{t}'"), None)),
                },
            };
        }
        let Some((name, _)) = COMMANDS.iter().find(|(n, _)| *n == text) else {
            return Err(error(format!("unrecognized subcommand '{text}'"), None));
        };
        self.command = Some(name);
        Ok(None)
    }

    /// What only the whole command line can tell (conflicts, requirements), then the action.
    fn finish(self) -> Result<Action, UsageError> {
        let command = self.command;
        for (a, b) in [
            (Id::UpdateFile, Id::UpdateMedium),
            (Id::OneShot, Id::Daemon),
        ] {
            if self.has(a) && self.has(b) {
                let name = |id| OPTIONS.iter().find(|o| o.id == id).map(shown);
                return Err(error(
                    format!(
                        "the argument '{}' cannot be used with '{}'",
                        name(a).unwrap_or_default(),
                        name(b).unwrap_or_default()
                    ),
                    command,
                ));
            }
        }
        let print_argv = self.has(Id::PrintArgv);
        if self.has(Id::ShowSecrets) && !print_argv {
            return Err(error(
                "the following required arguments were not provided:\n  --print-argv".into(),
                command,
            ));
        }
        let update = match (self.path(Id::UpdateFile), self.path(Id::UpdateMedium)) {
            (Some(f), _) => Some(Update::File(f)),
            (None, Some(m)) => Some(Update::Medium(m)),
            (None, None) => None,
        };
        let expect = if self.has(Id::OneShot) {
            Expect::OneShot
        } else if self.has(Id::Daemon) {
            Expect::Daemon
        } else {
            Expect::Any
        };
        let options = Options {
            env_file: self.path(Id::EnvFile),
            root: self.path(Id::Root),
            update,
            expect,
        };
        if command == Some("confirm") {
            if let Some(o) = OPTIONS
                .iter()
                .find(|o| NOT_FOR_CONFIRM.contains(&o.id) && self.has(o.id))
            {
                return Err(error(
                    format!(
                        "the argument '{}' cannot be used with 'confirm': it confirms what the device runs",
                        shown(o)
                    ),
                    command,
                ));
            }
        }
        // `--print-argv` is an option of the program, not of a command: before `check`,
        // `explain` or `confirm` it has no effect (as when clap parsed the command line).
        Ok(match command {
            Some("check") => Action::Check {
                options,
                at: if self.has(Id::Static) {
                    CheckAt::Image
                } else {
                    CheckAt::Device
                },
            },
            Some("explain") => Action::Explain(options),
            Some("confirm") => {
                crate::confirm::available().map_err(|why| error(why, command))?;
                Action::Confirm(options)
            }
            _ if print_argv => Action::PrintArgv {
                options,
                show_secrets: self.has(Id::ShowSecrets),
            },
            _ => Action::Run(options),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Action, UsageError> {
        Action::parse_from(args.iter().map(OsString::from))
    }

    fn action(args: &[&str]) -> Action {
        match parse(args) {
            Ok(a) => a,
            Err(e) => panic!("{args:?}: {e:?}"),
        }
    }

    /// The options of an action that reads the configuration.
    fn options(args: &[&str]) -> Options {
        match action(args) {
            Action::Run(o)
            | Action::PrintArgv { options: o, .. }
            | Action::Check { options: o, .. }
            | Action::Explain(o)
            | Action::Confirm(o) => o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn refused(args: &[&str]) -> String {
        match parse(args) {
            Err(UsageError(m)) => m,
            other => panic!("{args:?} accepted: {other:?}"),
        }
    }

    #[test]
    fn no_arguments_is_the_service_run() {
        assert_eq!(action(&[]), Action::Run(Options::default()));
        assert_eq!(action(&["run"]), Action::Run(Options::default()));
    }

    #[test]
    fn values_come_as_the_next_word_or_after_equals() {
        let c = options(&["--root", "/r", "--env-file=/e"]);
        assert_eq!(c.root, Some("/r".into()));
        assert_eq!(c.env_file, Some("/e".into()));
    }

    #[test]
    fn options_of_the_whole_program_may_follow_the_command() {
        let Action::Check { options, at } = action(&["check", "--static", "--root", "/r"]) else {
            panic!("not check");
        };
        assert_eq!(at, CheckAt::Image);
        assert_eq!(options.root, Some("/r".into()));
    }

    #[test]
    fn a_command_option_before_the_command_is_refused() {
        assert!(refused(&["--static", "check"]).contains("unexpected argument '--static'"));
    }

    #[test]
    fn print_argv_belongs_before_the_command() {
        assert!(refused(&["check", "--print-argv"]).contains("'--print-argv'"));
        assert!(matches!(
            action(&["--print-argv", "run"]),
            Action::PrintArgv { .. }
        ));
    }

    #[test]
    fn update_file_or_medium_is_what_this_run_installs() {
        assert_eq!(
            options(&["--update-file", "/u.swu"]).update,
            Some(Update::File("/u.swu".into()))
        );
        assert_eq!(
            options(&["check", "--update-medium=/m"]).update,
            Some(Update::Medium("/m".into()))
        );
        assert_eq!(options(&[]).update, None);
    }

    #[test]
    fn one_shot_and_daemon_say_what_the_unit_expects() {
        assert_eq!(options(&["--one-shot"]).expect, Expect::OneShot);
        assert_eq!(options(&["explain", "--daemon"]).expect, Expect::Daemon);
        assert_eq!(options(&[]).expect, Expect::Any);
    }

    #[test]
    fn check_without_static_checks_the_device() {
        assert!(matches!(
            action(&["check"]),
            Action::Check {
                at: CheckAt::Device,
                ..
            }
        ));
    }

    #[test]
    fn print_argv_before_check_or_explain_leaves_the_command_as_it_is() {
        assert!(matches!(
            action(&["--print-argv", "check"]),
            Action::Check { .. }
        ));
        assert!(matches!(
            action(&["--print-argv", "explain"]),
            Action::Explain(_)
        ));
    }

    #[test]
    #[cfg(feature = "ab")]
    fn confirm_reads_the_configuration_like_the_other_commands() {
        assert_eq!(
            action(&["confirm", "--env-file", "/e", "--root=/r"]),
            Action::Confirm(Options {
                env_file: Some("/e".into()),
                root: Some("/r".into()),
                ..Options::default()
            })
        );
    }

    #[test]
    fn confirm_refuses_the_options_that_say_what_to_install() {
        for args in [&["--update-medium", "/m", "confirm"][..], &["--daemon", "confirm"]] {
            assert!(
                refused(args).contains("cannot be used with 'confirm'"),
                "{args:?}"
            );
        }
        for args in [&["confirm", "--update-file", "/u.swu"][..], &["confirm", "--one-shot"]] {
            assert!(refused(args).contains("unexpected argument"), "{args:?}");
        }
    }

    #[test]
    #[cfg(not(feature = "ab"))]
    fn confirm_without_the_ab_feature_is_a_usage_error_that_says_so() {
        assert!(refused(&["confirm"]).contains("'confirm' is not available: this swupdate-launcher was built without A/B support"));
    }

    #[test]
    fn confirms_help_lists_only_its_own_options() {
        let Ok(Action::Print(h)) = parse(&["confirm", "--help"]) else {
            panic!()
        };
        assert!(h.starts_with("A/B (cargo feature `ab`): when an update waits"), "{h}");
        assert!(h.contains("--env-file") && h.contains("--root"), "{h}");
        assert!(!h.contains("--update-file") && !h.contains("--daemon"), "{h}");
    }

    #[test]
    fn a_missing_value_names_the_option() {
        assert!(
            refused(&["--root"])
                .starts_with("error: a value is required for '--root <DIR>' but none was supplied")
        );
        assert!(refused(&["--root", "--daemon"]).contains("'--root <DIR>'"));
    }

    #[test]
    fn an_unknown_argument_is_named_with_the_usage() {
        let m = refused(&["--frobnicate"]);
        assert!(
            m.starts_with("error: unexpected argument '--frobnicate' found"),
            "{m}"
        );
        assert!(
            m.contains("Usage: swupdate-launcher [OPTIONS] [COMMAND]"),
            "{m}"
        );
        assert!(refused(&["check", "x"]).contains("Usage: swupdate-launcher check [OPTIONS]"));
    }

    #[test]
    fn an_unknown_command_is_named() {
        assert!(refused(&["frob"]).contains("unrecognized subcommand 'frob'"));
    }

    #[test]
    fn an_option_twice_is_refused() {
        assert!(refused(&["--root", "a", "--root", "b"]).contains("cannot be used multiple times"));
    }

    #[test]
    fn conflicting_options_are_refused() {
        assert!(
            refused(&["--update-file", "a", "--update-medium", "b"]).contains(
                "the argument '--update-file <PATH>' cannot be used with '--update-medium <DIR>'"
            )
        );
        assert!(refused(&["--daemon", "--one-shot"]).contains("'--one-shot' cannot be used with"));
    }

    #[test]
    fn show_secrets_requires_print_argv() {
        assert!(refused(&["--show-secrets"]).contains("--print-argv"));
        assert!(matches!(
            action(&["--print-argv", "--show-secrets"]),
            Action::PrintArgv {
                show_secrets: true,
                ..
            }
        ));
    }

    #[test]
    fn a_flag_takes_no_value() {
        assert!(refused(&["--daemon=yes"]).contains("unexpected value"));
    }

    #[test]
    fn help_lists_commands_options_and_exit_codes() {
        let Ok(Action::Print(h)) = parse(&["--help"]) else {
            panic!()
        };
        for part in [
            "Usage: swupdate-launcher [OPTIONS] [COMMAND]",
            "  check    Validate",
            "      --update-medium <DIR>  Install",
            "  -V, --version",
            "Exit codes:",
        ] {
            assert!(h.contains(part), "{part}\n{h}");
        }
    }

    #[test]
    fn a_commands_help_shows_its_own_options() {
        for args in [&["check", "--help"][..], &["help", "check"]] {
            let Ok(Action::Print(h)) = parse(args) else {
                panic!("{args:?}")
            };
            assert!(h.starts_with("Validate the whole configuration"), "{h}");
            assert!(h.contains("--static"), "{h}");
            assert!(!h.contains("--print-argv"), "{h}");
        }
    }

    #[test]
    fn the_man_page_lists_every_option_command_and_exit_code() {
        let page = man_page();
        for o in &OPTIONS {
            assert!(page.contains(&roff_option(o)), "--{}", o.long);
        }
        for (name, _) in COMMANDS.iter().chain([&HELP_COMMAND]) {
            assert!(page.contains(&format!(".B {name}\n")), "{name}");
        }
        for k in crate::error::Kind::ALL {
            assert!(page.contains(&format!(".B {}\n", k.exit_code())), "{k:?}");
        }
    }

    #[test]
    fn roff_escapes_dashes_backslashes_and_leading_dots() {
        assert_eq!(roff("--a\\b"), "\\-\\-a\\eb");
        assert_eq!(roff(".x"), "\\&.x");
    }

    #[test]
    fn version_is_the_package_version() {
        assert_eq!(
            parse(&["-V"]),
            Ok(Action::Print(format!(
                "swupdate-launcher {}\n",
                env!("CARGO_PKG_VERSION")
            )))
        );
    }
}
