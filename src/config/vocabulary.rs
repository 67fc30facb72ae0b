//! Every variable the launcher reads, in one table: its name, where it may be set, its default,
//! whether the process environment provides it, and what it means.
//!
//! The code takes all of these facts from here: the name constants ([`names`]), the topology
//! list and its built-in defaults ([`TOPOLOGY`], [`topology_default`]), the conf.d variables
//! ([`CONF_D`]), what `swupdate.sh` assigned before it read conf.d ([`SCRIPT_DEFAULTS`]), what the
//! environment provides ([`FROM_ENVIRONMENT`]), what the agent's `descriptor.env` may set
//! ([`HANDOFF`]), and the values the plan takes for an unset variable ([`default_of`]). The
//! reference `docs/variables.md` is rendered from it ([`render_markdown`]) and a test fails when
//! the committed file differs, so adding a variable means adding one entry here.

use std::fmt::Write as _;
use std::sync::LazyLock;

/// Where a variable may be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The EnvironmentFile (`/etc/default/swupdate`) or the environment systemd loaded it into:
    /// paths and trust, which a fragment must never be able to change.
    Topology,
    /// The conf.d fragments (lib, then etc).
    ConfD,
    /// The conf.d fragments, and the management agent's `descriptor.env`: the only variables
    /// the agent may hand over.
    Handoff,
    /// Only the process environment: knobs of the launcher itself, never read from a file.
    Environment,
}

impl Scope {
    const ALL: [Scope; 4] = [
        Scope::Topology,
        Scope::ConfD,
        Scope::Handoff,
        Scope::Environment,
    ];

    /// The heading and the paragraph that introduce the scope's table.
    fn intro(self) -> (&'static str, &'static str) {
        match self {
            Scope::Topology => (
                "EnvironmentFile (`/etc/default/swupdate`): path topology and trust",
                "Read from the EnvironmentFile and from the environment, which wins (under systemd \
                 it holds what systemd loaded from the same file, plus what an operator overrode). \
                 The trust settings live here, not in conf.d, because a fragment must never be able \
                 to relax the check that vets fragments: setting any of these in conf.d is an error. \
                 Other variables in the file are ignored (`explain` lists them).",
            ),
            Scope::ConfD => (
                "conf.d fragments",
                "Set in the fragments of the lib and etc conf.d directories (etc shadows lib). \
                 Any other variable may be set and used in expansions (`SWUPDATE_MONGOOSE_EXTRA_ARGS`, \
                 say); `explain` marks it as not read by the launcher.",
            ),
            Scope::Handoff => (
                "The management agent's handoff (`descriptor.env`)",
                "What the agent writes to `descriptor.env` before it starts the service: what to \
                 install, nothing about how. Any other variable there is refused. A fragment may \
                 set it too. The protocol: [handoff.md](handoff.md).",
            ),
            Scope::Environment => (
                "The launcher's own environment",
                "Read from the process environment only, never from a file.",
            ),
        }
    }
}

/// What an unset variable means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// Assigned before any file is read (as `swupdate.sh` assigned it; for topology, the
    /// built-in layout): fragments see it and may expand it, and `explain` shows it.
    Assigned(&'static str),
    /// What the launcher takes when the variable is unset or empty, read as a value of the
    /// user's would be; never assigned, so fragments do not see it.
    WhenUnset(&'static str),
    /// Nothing is assigned or passed: this says, for a person, what happens then (swupdate's
    /// own default, the system's store, a default that depends on the mode).
    Described(&'static str),
}

/// One variable of the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    pub scope: Scope,
    /// `None`: unset means not given (no option passed, nothing configured).
    pub default: Option<DefaultValue>,
    /// Whether the process environment provides it when no file sets it, as a shell's
    /// environment would for `swupdate.sh`.
    pub from_environment: bool,
}

impl Variable {
    /// What it means, in Markdown. Not a field: the launcher reads the table when it runs, and
    /// only the reference and the tests read the docs, which so stay out of the binary.
    pub fn doc(&self) -> &'static str {
        doc_of(self.name)
    }
}

/// The table, and a constant per name (in [`names`]), from one list: a variable cannot have a
/// constant and no entry, or an entry and a misspelt constant.
macro_rules! vocabulary {
    ($( $(#[doc = $doc:literal])+ $name:ident: $scope:ident, $default:expr, env: $env:literal; )+) => {
        /// The variables' names: a misspelt name does not compile.
        pub mod names {
            $( $(#[doc = $doc])+ pub const $name: &str = stringify!($name); )+
        }

        /// Every variable the launcher reads, in the order of the reference.
        pub const VARIABLES: &[Variable] = &[ $( Variable {
            name: names::$name,
            scope: Scope::$scope,
            default: $default,
            from_environment: $env,
        }, )+ ];

        fn doc_of(name: &str) -> &'static str {
            match name {
                $( stringify!($name) => concat!($($doc, "\n"),+), )+
                _ => "",
            }
        }
    };
}

use DefaultValue::{Assigned, Described, WhenUnset};

vocabulary! {
    /// the swupdate binary to exec (absolute path)
    SWUPDATE_BIN: Topology, Some(Assigned("/usr/bin/swupdate")), env: true;
    /// public key or certificate for signed images; when set, `-k` is always passed and the
    /// file must exist; empty means none
    SWUPDATE_PUBLIC_KEY: Topology, None, env: true;
    /// the installed swupdate release, `YYYY.MM` or `YYYY.MM.P` (`2025.12`, `2026.05.1`; a
    /// product writes it, the layer does not yet: the launcher's recipe cannot see swupdate's
    /// PV): options are checked against it, and an option of a later release is refused naming
    /// both. Unset: every option of 2022.12–2026.05.x is accepted and `check` warns. `check`
    /// compares it with `swupdate --version`
    SWUPDATE_VERSION: Topology, None, env: true;
    /// swupdate 2025.12+: passed as `--digest-provider` (`opensslCMS` for a certificate,
    /// `opensslRSA`/`opensslRSAPSS` for a public key); refused with an older
    /// `SWUPDATE_VERSION`. When it is required, and why: [the verifier](swupdate-releases.md)
    SWUPDATE_DIGEST_PROVIDER: Topology, None, env: true;
    /// fragments shipped by the image (packages)
    SWUPDATE_CONF_DIR_LIB: Topology, Some(Assigned("/usr/lib/swupdate/conf.d")), env: true;
    /// fragments of the device: local overrides (and the agent's `descriptor.env` unless
    /// `SWUPDATE_DESCRIPTOR_DIR` is set)
    SWUPDATE_CONF_DIR_ETC: Topology, Some(Assigned("/etc/swupdate/conf.d")), env: true;
    /// where the agent writes `descriptor.env`; empty or unset: the etc conf.d directory.
    /// Recommended: a directory of the agent's own (`/var/lib/swupdate/agent`), so the etc
    /// directory stays root's ([threat model](threat-model.md))
    SWUPDATE_DESCRIPTOR_DIR: Topology, Some(Described("the etc directory")), env: true;
    /// `yes`: refuse configuration that someone other than the image could have written;
    /// `no`: don't check
    SWUPDATE_STRICT_MODES: Topology, Some(Assigned("yes")), env: true;
    /// the owner of the image's files, a numeric uid (tests running unprivileged set their
    /// own)
    SWUPDATE_TRUSTED_UID: Topology, Some(Assigned("0")), env: true;
    /// the management agent's numeric uid, allowed to own `descriptor.env` and its directory
    /// (an etc directory it owns may then hold nothing else)
    SWUPDATE_AGENT_UID: Topology, None, env: true;
    /// A/B: the kernel command line the `cmdline-root` and `cmdline:KEY` slot sources read
    /// (absolute path; tests point it at a file of their own)
    SWUPDATE_KERNEL_CMDLINE: Topology, Some(Assigned("/proc/cmdline")), env: true;
    /// A/B: libubootenv-tool's `fw_printenv`, the only reader of the bootloader environment
    /// (the `bootenv:VAR` slot source, `confirm`)
    SWUPDATE_FW_PRINTENV: Topology, Some(Assigned("/usr/bin/fw_printenv")), env: true;
    /// A/B: libubootenv-tool's `fw_setenv`, the only writer of the bootloader environment
    /// (`confirm`: one call, so a redundant environment is switched atomically)
    SWUPDATE_FW_SETENV: Topology, Some(Assigned("/usr/bin/fw_setenv")), env: true;
    /// A/B: where the bootloader environment is, passed to both tools as `-c FILE`
    SWUPDATE_FW_ENV_CONFIG: Topology, Some(Assigned("/etc/fw_env.config")), env: true;
    /// A/B: `confirm`'s health checks: executables in `required/` (must pass) and `wanted/`
    /// (only warn), run in byte order of their names
    SWUPDATE_HEALTH_DIR: Topology, Some(Assigned("/usr/lib/swupdate/health.d")), env: true;

    /// `file`: install `UPDATE_FILE` once; `download`: stream `URL` once; `daemon`: long-lived
    /// swupdate (webserver, suricatta, IPC) as `swupdate.sh` did. Set but empty is an error
    SWUPDATE_SOURCE: ConfD, Some(WhenUnset("daemon")), env: true;
    /// file mode: absolute path of the `.swu`; must be a readable regular file.
    /// `--update-file` overrides it and selects file mode
    UPDATE_FILE: ConfD, None, env: true;
    /// download mode: absolute `https` URL (`http` only with `SWUPDATE_ALLOW_HTTP=yes`), at
    /// most 4096 bytes, no control characters; written by the management agent to
    /// `descriptor.env`. Whitespace and non-ASCII are percent-encoded; credentials in the
    /// userinfo are passed as the downloader's `-a user:password` and redacted everywhere else
    /// (logs, STATUS, `explain`)
    URL: Handoff, None, env: true;
    /// download mode: `-r`, a whole number, 0 = retry forever
    SWUPDATE_DOWNLOAD_RETRIES: ConfD, Some(Described("swupdate's: 3")), env: true;
    /// download mode: `-t`, seconds, a positive whole number
    SWUPDATE_DOWNLOAD_TIMEOUT: ConfD, Some(Described("swupdate's: 300")), env: true;
    /// swupdate options, split with shell quoting (as `swupdate.sh` started it: set it to `""`
    /// to drop `-v`)
    SWUPDATE_ARGS: ConfD, Some(Assigned("-v")), env: false;
    /// more swupdate options, split with shell quoting, after `SWUPDATE_ARGS`; not again when
    /// `SWUPDATE_ARGS` expanded its value (meta-swupdate's `SWUPDATE_ARGS="-v
    /// ${SWUPDATE_EXTRA_ARGS}"`: its words are there once, as swupdate.sh passed them)
    SWUPDATE_EXTRA_ARGS: ConfD, None, env: true;
    /// daemon mode: the string given to `-w` (swupdate splits it on whitespace and parses no
    /// quotes: a quote or backslash in it is an error). Set in file or download mode it is an
    /// error, unless `--update-file` chose file mode for this run; the same holds for
    /// `SWUPDATE_SURICATTA_ARGS`
    SWUPDATE_WEBSERVER_ARGS: ConfD, Some(Assigned("")), env: false;
    /// daemon mode: the string given to `-u`, read as suricatta's hawkBit module reads it:
    /// `-t`, `-u`, `-i` required (or `tenant`/`url`/`id` in swupdate's `suricatta` section),
    /// unknown options, positional words and options of later releases refused; `check` warns
    /// without `-S hawkbit` (needed by builds with several modules, 2023.05+; an error when
    /// `swupdate -h` lists several) and when a token (`-k`/`-g`) is on the command line,
    /// readable in /proc: put `targettoken`/`gatewaytoken` in the configuration file's
    /// `suricatta` section
    SWUPDATE_SURICATTA_ARGS: ConfD, Some(Assigned("")), env: false;
    /// daemon mode: `yes` starts the webserver (`-w`), with the options of
    /// `SWUPDATE_WEBSERVER_ARGS` or, when that is empty, with every setting from the
    /// `webserver` section of swupdate's configuration file; `no`: no webserver (a
    /// `SWUPDATE_WEBSERVER_ARGS` set then is an error). Unset: started when
    /// `SWUPDATE_WEBSERVER_ARGS` is set; a blank value (`" "`, meta-swupdate's template for
    /// "settings from swupdate.cfg") starts it with no options, as swupdate.sh's `-w " "` did
    SWUPDATE_WEBSERVER: ConfD,
        Some(Described("on when SWUPDATE_WEBSERVER_ARGS is set, blank too")), env: false;
    /// daemon mode: `yes` starts suricatta (`-u`), with the options of
    /// `SWUPDATE_SURICATTA_ARGS` or, when that is empty, with every setting from the
    /// `suricatta` section of swupdate's configuration file; `no`: no suricatta (a
    /// `SWUPDATE_SURICATTA_ARGS` set then is an error). Unset: started when
    /// `SWUPDATE_SURICATTA_ARGS` is set; a blank value (`" "`) starts it with no options, as
    /// swupdate.sh's `-u " "` did
    SWUPDATE_SURICATTA: ConfD,
        Some(Described("on when SWUPDATE_SURICATTA_ARGS is set, blank too")), env: false;
    /// swupdate's configuration file (`-f`) from a list: absolute paths separated by blanks,
    /// the first that exists is passed ("the copy on /data if present, else the image's":
    /// `/data/swupdate.cfg /etc/swupdate.cfg`). The chosen file must pass the ownership checks
    /// (`SWUPDATE_STRICT_MODES`) as the image's; none existing is an error (66); `-f` in
    /// `SWUPDATE_ARGS`/`SWUPDATE_EXTRA_ARGS` as well is an error; `explain` says which was
    /// chosen and why
    SWUPDATE_CONFIG_FILES: ConfD,
        Some(Described("-f in SWUPDATE_ARGS, else swupdate's /etc/swupdate.cfg when it exists")),
        env: false;
    /// download mode: `yes` accepts a plain `http` URL (the artifact is then protected by its
    /// signature alone)
    SWUPDATE_ALLOW_HTTP: ConfD, Some(WhenUnset("no")), env: false;
    /// download mode, `streaming` builds: `no` skips the launcher's own check that the
    /// artifact is there
    SWUPDATE_PREFLIGHT: ConfD, Some(WhenUnset("yes")), env: false;
    /// download mode: the only CA bundle the preflight trusts (absolute path); must also be
    /// the `cafile` of swupdate's configuration file (`-f`, else `/etc/swupdate.cfg`), which
    /// `check` verifies, so both trust the same CAs
    SWUPDATE_CA_FILE: ConfD, Some(Described("the system store")), env: false;
    /// seconds for each preflight request (connect 10 s within it), a positive whole number
    SWUPDATE_PREFLIGHT_TIMEOUT: ConfD, Some(Described("30")), env: false;
    /// seconds within which transient preflight failures are retried; `0`: no retries
    SWUPDATE_PREFLIGHT_BUDGET: ConfD, Some(Described("120")), env: false;
    /// pass `-N <running version>`: swupdate refuses older releases
    SWUPDATE_ANTI_ROLLBACK: ConfD,
        Some(Described("`yes` for file/download, `no` for daemon")), env: false;
    /// where the running version is read (absolute path): `KEY=value` lines (os-release) or
    /// `name version` lines (sw-versions)
    SWUPDATE_VERSION_FILE: ConfD, Some(WhenUnset("/etc/os-release")), env: false;
    /// the key (or sw-versions name) of the running version
    SWUPDATE_VERSION_KEY: ConfD, Some(WhenUnset("VERSION_ID")), env: false;
    /// `no` adds `-R <running version>`: the release that runs is not installed again
    SWUPDATE_REINSTALL: ConfD, Some(WhenUnset("yes")), env: false;
    /// `--max-version`: newer releases than this are refused (a version swupdate can take)
    SWUPDATE_MAX_VERSION: ConfD, None, env: false;
    /// file mode (and download mode in `streaming` builds, which download the artifact for
    /// it): the product's verification program (absolute path, and arguments split with shell
    /// quoting) run before swupdate, which installs its output
    SWUPDATE_VERIFY_PROGRAM: ConfD, None, env: false;
    /// `user[:group]` it runs as, numbers or names of the device's `/etc/passwd` and
    /// `/etc/group` (a user's primary group when none is given); root is refused
    SWUPDATE_VERIFY_USER: ConfD, Some(WhenUnset("65534:65534")), env: false;
    /// where its private output lives (absolute path; created if missing; room for the update
    /// is checked first)
    SWUPDATE_VERIFY_DIR: ConfD, Some(WhenUnset("/var/lib/swupdate/verify")), env: false;
    /// seconds before it is killed, a positive whole number
    SWUPDATE_VERIFY_TIMEOUT: ConfD, Some(WhenUnset("600")), env: false;
    /// A/B: the slot names (`[A-Za-z0-9]+`, at least two, no repeats; `SOURCES` is
    /// reserved). Each has its `SWUPDATE_SLOT_<NAME>`. Set: the running slot is identified at
    /// every start and its selection passed as `-e`, and `-e`/`--select` in the options
    /// variables is an error. Unset: no A/B handling ([ab.md](ab.md))
    SWUPDATE_SLOTS: ConfD, None, env: false;
    /// A/B: how the running slot is recognised, in order, each opt-in, at least one:
    /// `root-device` (the device of `/`, dm-verity/LUKS traced to their partition),
    /// `cmdline-root` (the command line's `root=`), `cmdline:KEY` (a command-line key matched
    /// to `bootname`), `bootenv:VAR` (a bootloader variable matched to `bootname`, only one the
    /// bootloader sets to the slot it booted). All must name the same slot
    SWUPDATE_SLOT_SOURCES: ConfD, None, env: false;
    /// A/B: what `confirm` writes when it confirms: words of `ustate` (swupdate's and
    /// suricatta's state: 2 confirmed, 3 failed) and `bootcount` (U-Boot's
    /// `upgrade_available=0 bootcount=0`)
    SWUPDATE_CONFIRM: ConfD, Some(WhenUnset("ustate")), env: false;
    /// A/B: a bootloader variable naming (by `bootname`) the slot the bootloader was told to
    /// boot; when it differs from the running slot with an update pending, the bootloader fell
    /// back and `confirm` records the update as failed
    SWUPDATE_CONFIRM_PRIMARY: ConfD, None, env: false;
    /// A/B: seconds each health check of `confirm` may take, a whole number 1..3600
    SWUPDATE_HEALTH_TIMEOUT: ConfD, Some(WhenUnset("60")), env: false;

    /// lowest level that is logged: `error`, `warning`, `info` or `debug` (anything else:
    /// `info`)
    SWUPDATE_LAUNCHER_LOG_LEVEL: Environment, Some(Described("info")), env: true;
    /// the journal's socket, for tests
    SWUPDATE_LAUNCHER_JOURNAL_SOCKET: Environment,
        Some(Described("/run/systemd/journal/socket")), env: true;
}

impl Variable {
    /// Read from the conf.d fragments (the handoff's variables too).
    fn in_conf_d(&self) -> bool {
        matches!(self.scope, Scope::ConfD | Scope::Handoff)
    }

    /// The value assigned before any file is read, if any.
    fn assigned(&self) -> Option<&'static str> {
        match self.default {
            Some(Assigned(value)) => Some(value),
            _ => None,
        }
    }
}

/// The names of the variables `keep` selects, in the table's order.
fn names_where(keep: fn(&Variable) -> bool) -> Vec<&'static str> {
    VARIABLES
        .iter()
        .filter(|v| keep(v))
        .map(|v| v.name)
        .collect()
}

/// The EnvironmentFile's variables: the paths, and who is trusted to write configuration.
pub static TOPOLOGY: LazyLock<Vec<&str>> =
    LazyLock::new(|| names_where(|v| v.scope == Scope::Topology));

/// The conf.d variables the launcher reads.
pub static CONF_D: LazyLock<Vec<&str>> = LazyLock::new(|| names_where(Variable::in_conf_d));

/// What the agent may set in `descriptor.env`: what to install, nothing about how.
pub static HANDOFF: LazyLock<Vec<&str>> =
    LazyLock::new(|| names_where(|v| v.scope == Scope::Handoff));

/// conf.d variables that the process environment provides when no fragment sets them, as a
/// shell's environment would (the rest are assigned by [`SCRIPT_DEFAULTS`], as in swupdate.sh).
pub static FROM_ENVIRONMENT: LazyLock<Vec<&str>> =
    LazyLock::new(|| names_where(|v| v.in_conf_d() && v.from_environment));

/// The topology variables the environment provides (and overrides the file with).
pub static TOPOLOGY_FROM_ENVIRONMENT: LazyLock<Vec<&str>> =
    LazyLock::new(|| names_where(|v| v.scope == Scope::Topology && v.from_environment));

/// Values `swupdate.sh` assigned before it read conf.d (fragments may expand them), less the
/// `${SWUPDATE_EXTRA_ARGS}` it folded into SWUPDATE_ARGS: that one is appended separately.
pub static SCRIPT_DEFAULTS: LazyLock<Vec<(&str, &str)>> = LazyLock::new(|| {
    VARIABLES
        .iter()
        .filter(|v| v.in_conf_d())
        .filter_map(|v| Some((v.name, v.assigned()?)))
        .collect()
});

/// The per-slot variables: `SWUPDATE_SLOT_<NAME>` for each name of `SWUPDATE_SLOTS`.
pub const SLOT_VARIABLE_PREFIX: &str = "SWUPDATE_SLOT_";

/// The slot a per-slot variable is for (`SWUPDATE_SLOT_A` -> `A`); `None` for any other name,
/// `SWUPDATE_SLOT_SOURCES` included.
pub fn slot_of_variable(name: &str) -> Option<&str> {
    let slot = name.strip_prefix(SLOT_VARIABLE_PREFIX)?;
    (!slot.is_empty() && slot != "SOURCES" && slot.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(slot)
}

/// The per-slot variables' row of the reference (they have no fixed name, so no entry).
const SLOT_VARIABLE_DOC: &str = "A/B: one slot, whitespace-separated `key=value` words: \
    `device=` (required: the slot's root file system, `/dev/...`, `PARTUUID=`, `PARTLABEL=`, \
    `UUID=` or `LABEL=`), `selection=` (required: swupdate's `-e set,mode` while THIS slot \
    runs, which selects the image for the other one), `bootname=` (required with a \
    `cmdline:KEY` or `bootenv:VAR` source or `SWUPDATE_CONFIRM_PRIMARY`), `writes=` \
    (optional: the device that selection writes; refused at start when it is the booted root)";

/// Whether the launcher reads `name` from conf.d: a vocabulary entry or a per-slot variable.
pub fn read_from_conf_d(name: &str) -> bool {
    CONF_D.contains(&name) || slot_of_variable(name).is_some()
}

/// The entry of a variable the launcher reads.
pub fn lookup(name: &str) -> Option<&'static Variable> {
    VARIABLES.iter().find(|v| v.name == name)
}

/// Built-in topology for a device without an EnvironmentFile; the public key and the agent
/// have none.
pub fn topology_default(name: &str) -> Option<&'static str> {
    lookup(name)
        .filter(|v| v.scope == Scope::Topology)
        .and_then(Variable::assigned)
}

/// The value the launcher takes for an unset (or empty) variable: an assigned default or a
/// [`DefaultValue::WhenUnset`] one; `None` when unset means not given.
pub fn default_of(name: &str) -> Option<&'static str> {
    match lookup(name)?.default? {
        Assigned(value) | WhenUnset(value) => Some(value),
        Described(_) => None,
    }
}

/// A table cell: the doc's lines joined, pipes escaped.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// `docs/variables.md`: the reference, one table per scope.
pub fn render_markdown() -> String {
    let mut out = String::from(
        "# Configuration reference: every variable the launcher reads\n\n\
         <!-- Generated from src/config/vocabulary.rs by \
         `SWUPDATE_LAUNCHER_BLESS=1 cargo test --test integration generated_docs`; do not edit. -->\n\n\
         A default in `code` is the value in force when nothing sets the variable; *italics* say \
         what happens then without a value being set. \"From the environment\": the process \
         environment provides the variable when no file sets it (topology: the environment wins \
         over the EnvironmentFile).\n",
    );
    for scope in Scope::ALL {
        let (heading, intro) = scope.intro();
        let _ = write!(
            out,
            "\n## {heading}\n\n{intro}\n\n| variable | default | from the environment | meaning |\n|---|---|---|---|\n"
        );
        for v in VARIABLES.iter().filter(|v| v.scope == scope) {
            let default = match v.default {
                None => "*(unset)*".to_string(),
                Some(Assigned(d) | WhenUnset(d)) if d.is_empty() => "*(empty)*".to_string(),
                Some(Assigned(d) | WhenUnset(d)) => format!("`{d}`"),
                Some(Described(d)) => format!("*({})*", d.replace('`', "")),
            };
            let _ = writeln!(
                out,
                "| `{}` | {default} | {} | {} |",
                v.name,
                if v.from_environment { "yes" } else { "no" },
                cell(v.doc())
            );
        }
        if scope == Scope::ConfD {
            let _ = writeln!(
                out,
                "| `{SLOT_VARIABLE_PREFIX}<NAME>` | *(unset)* | no | {} |",
                cell(SLOT_VARIABLE_DOC)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::names::*;
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, v) in VARIABLES.iter().enumerate() {
            assert!(
                VARIABLES[i + 1..].iter().all(|w| w.name != v.name),
                "{} twice",
                v.name
            );
        }
    }

    #[test]
    fn the_derived_lists_are_what_the_launcher_read_before_the_table() {
        assert_eq!(
            *TOPOLOGY,
            [
                SWUPDATE_BIN,
                SWUPDATE_PUBLIC_KEY,
                SWUPDATE_VERSION,
                SWUPDATE_DIGEST_PROVIDER,
                SWUPDATE_CONF_DIR_LIB,
                SWUPDATE_CONF_DIR_ETC,
                SWUPDATE_DESCRIPTOR_DIR,
                SWUPDATE_STRICT_MODES,
                SWUPDATE_TRUSTED_UID,
                SWUPDATE_AGENT_UID,
                SWUPDATE_KERNEL_CMDLINE,
                SWUPDATE_FW_PRINTENV,
                SWUPDATE_FW_SETENV,
                SWUPDATE_FW_ENV_CONFIG,
                SWUPDATE_HEALTH_DIR,
            ]
        );
        assert_eq!(CONF_D.len(), 31);
        assert_eq!(*HANDOFF, [URL]);
        assert_eq!(
            *FROM_ENVIRONMENT,
            [
                SWUPDATE_SOURCE,
                UPDATE_FILE,
                URL,
                SWUPDATE_DOWNLOAD_RETRIES,
                SWUPDATE_DOWNLOAD_TIMEOUT,
                SWUPDATE_EXTRA_ARGS,
            ]
        );
        assert_eq!(
            *SCRIPT_DEFAULTS,
            [
                (SWUPDATE_ARGS, "-v"),
                (SWUPDATE_WEBSERVER_ARGS, ""),
                (SWUPDATE_SURICATTA_ARGS, ""),
            ]
        );
    }

    #[test]
    fn topology_defaults_are_the_built_in_layout() {
        assert_eq!(topology_default(SWUPDATE_BIN), Some("/usr/bin/swupdate"));
        assert_eq!(
            topology_default(SWUPDATE_CONF_DIR_LIB),
            Some("/usr/lib/swupdate/conf.d")
        );
        assert_eq!(
            topology_default(SWUPDATE_CONF_DIR_ETC),
            Some("/etc/swupdate/conf.d")
        );
        assert_eq!(topology_default(SWUPDATE_STRICT_MODES), Some("yes"));
        assert_eq!(topology_default(SWUPDATE_TRUSTED_UID), Some("0"));
        for none in [
            SWUPDATE_PUBLIC_KEY,
            SWUPDATE_AGENT_UID,
            SWUPDATE_DESCRIPTOR_DIR,
            SWUPDATE_ARGS,
        ] {
            assert_eq!(topology_default(none), None, "{none}");
        }
    }

    #[test]
    fn defaults_are_the_tables() {
        for v in VARIABLES {
            let expected = match v.default {
                Some(Assigned(d) | WhenUnset(d)) => Some(d),
                Some(Described(_)) | None => None,
            };
            assert_eq!(default_of(v.name), expected, "{}", v.name);
        }
        assert_eq!(*TOPOLOGY_FROM_ENVIRONMENT, *TOPOLOGY);
    }

    #[test]
    fn environment_knobs_are_never_read_from_a_file() {
        for v in VARIABLES.iter().filter(|v| v.scope == Scope::Environment) {
            assert!(v.from_environment, "{}", v.name);
            assert!(!TOPOLOGY.contains(&v.name) && !CONF_D.contains(&v.name));
        }
    }

    #[test]
    fn every_entry_has_a_doc() {
        for v in VARIABLES {
            assert!(!v.doc().trim().is_empty(), "{}", v.name);
        }
    }

    /// The reference states facts kept elsewhere in the code: they must agree.
    #[test]
    fn the_documented_facts_agree_with_the_code() {
        let doc = |n: &str| lookup(n).map_or(String::new(), |v| cell(v.doc()));
        assert!(doc(URL).contains(&format!("at most {} bytes", crate::plan::MAX_URL_LEN)));
        let described = |n: &str| match lookup(n).and_then(|v| v.default) {
            Some(Described(d)) => d,
            _ => "",
        };
        assert_eq!(
            described(SWUPDATE_LAUNCHER_JOURNAL_SOCKET),
            crate::logging::JOURNAL_SOCKET
        );
        {
            use crate::net::policy::Exchange;
            assert_eq!(
                described(SWUPDATE_PREFLIGHT_TIMEOUT),
                Exchange::DEFAULT_REQUEST_TIMEOUT.as_secs().to_string()
            );
            assert_eq!(
                described(SWUPDATE_PREFLIGHT_BUDGET),
                Exchange::DEFAULT_BACKOFF.budget.as_secs().to_string()
            );
            assert!(doc(SWUPDATE_PREFLIGHT_TIMEOUT).contains(&format!(
                "connect {} s",
                Exchange::DEFAULT_CONNECT_TIMEOUT.as_secs()
            )));
        }
    }

    #[test]
    fn every_variable_the_option_table_names_is_in_the_vocabulary() {
        use crate::swupdate::getopt::Role;
        use crate::swupdate::options::OPTIONS;
        for opt in OPTIONS {
            let Role::Owned(by) = opt.role else { continue };
            let words = by.split(|c: char| !(c.is_ascii_uppercase() || c == '_' || c == '*'));
            for word in words.filter(|w| w.len() > 2 && !w.ends_with('*')) {
                assert!(
                    VARIABLES.iter().any(|v| v.name == word),
                    "the option table names {word}, which the vocabulary does not have"
                );
            }
        }
    }

    #[test]
    fn a_per_slot_variable_names_its_slot_and_sources_is_not_one() {
        assert_eq!(slot_of_variable("SWUPDATE_SLOT_A"), Some("A"));
        assert_eq!(slot_of_variable("SWUPDATE_SLOT_b2"), Some("b2"));
        assert_eq!(slot_of_variable(SWUPDATE_SLOT_SOURCES), None);
        assert_eq!(slot_of_variable(SWUPDATE_SLOTS), None);
        assert_eq!(slot_of_variable("SWUPDATE_SLOT_"), None);
        assert_eq!(slot_of_variable("SWUPDATE_SLOT_A_B"), None);
        assert!(read_from_conf_d("SWUPDATE_SLOT_A") && read_from_conf_d(SWUPDATE_CONFIRM));
        assert!(!read_from_conf_d("SWUPDATE_SLOTX"));
    }

    #[test]
    fn the_reference_has_a_row_per_variable() {
        let md = render_markdown();
        for v in VARIABLES {
            assert!(md.contains(&format!("| `{}` |", v.name)), "{}", v.name);
        }
    }
}
