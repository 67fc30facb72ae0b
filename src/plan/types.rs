//! The plan's types: what the configuration means, each value with the variable that set it.
//!
//! Every path in a plan is a path on the device, as the configuration wrote it; none depends
//! on `--root`. The edges that open, run or show a file place it under the root
//! ([`crate::rootfs::Root::host`]).

use std::path::PathBuf;

use crate::accounts::Accounts;
use crate::config::settings::{Origin, Setting, Settings};
use crate::plan::url::Url;
use crate::swupdate::Release;

/// A value and the variable (with its origin) that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traced<T> {
    pub value: T,
    pub name: &'static str,
    pub origin: Origin,
}

/// The launcher's own check that the artifact is there, before swupdate starts streaming it
/// (with the `streaming` feature; configured the same way without it, so a configuration does
/// not depend on how the binary was built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    pub enabled: Traced<bool>,
    /// `SWUPDATE_ALLOW_HTTP`: whether plain http is allowed, for the URL and every redirect.
    pub allow_http: Traced<bool>,
    /// The only CA bundle trusted (a device path); `None`: the system's store.
    pub ca_file: Option<Traced<PathBuf>>,
    /// Seconds for each request.
    pub timeout: Option<Traced<u32>>,
    /// Seconds within which transient failures are retried.
    pub budget: Option<Traced<u32>>,
}

/// What SWUPDATE_SOURCE (or this run's command line) chose: parsed once, matched exhaustively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    File,
    Download,
    Daemon,
}

impl Source {
    /// The value SWUPDATE_SOURCE names it by; anything else is not a mode.
    pub fn parse(value: &str) -> Option<Source> {
        match value {
            "file" => Some(Source::File),
            "download" => Some(Source::Download),
            "daemon" => Some(Source::Daemon),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Source::File => "file",
            Source::Download => "download",
            Source::Daemon => "daemon",
        }
    }
}

/// Download mode's URL: given by the configuration, or, only in an image-build check, still to
/// be written by the agent (on the device a download without a URL is an error, so a plan
/// built there always has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownloadUrl {
    /// Set by a fragment or the agent's `descriptor.env`.
    Given(Traced<Url>),
    /// Image-build check (`check --static`): the agent writes it to `descriptor.env` before
    /// it starts the service.
    WrittenAtStart,
}

impl DownloadUrl {
    /// The URL, when the configuration gave one.
    pub fn given(&self) -> Option<&Traced<Url>> {
        match self {
            DownloadUrl::Given(url) => Some(url),
            DownloadUrl::WrittenAtStart => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `-i`: install one file and exit.
    File { update_file: Traced<PathBuf> },
    /// `-d "-u …"`: stream one URL, install, exit.
    Download {
        url: DownloadUrl,
        retries: Option<Traced<u32>>,
        timeout: Option<Traced<u32>>,
        preflight: Box<Preflight>,
    },
    /// Long-lived swupdate, as `swupdate.sh` ran it: IPC, and the webserver and suricatta if set.
    Daemon {
        webserver: Option<Traced<String>>,
        suricatta: Option<Traced<String>>,
    },
}

impl Mode {
    pub fn source(&self) -> Source {
        match self {
            Mode::File { .. } => Source::File,
            Mode::Download { .. } => Source::Download,
            Mode::Daemon { .. } => Source::Daemon,
        }
    }

    pub fn name(&self) -> &'static str {
        self.source().name()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The swupdate binary (a device path).
    pub bin: Traced<PathBuf>,
    /// The public key (a device path).
    pub public_key: Option<Traced<PathBuf>>,
    /// The installed swupdate release (SWUPDATE_VERSION), when the image says.
    pub release: Option<Traced<Release>>,
    /// `--digest-provider` (SWUPDATE_DIGEST_PROVIDER): the verifier for the signature.
    pub digest_provider: Option<Traced<String>>,
    /// The words of SWUPDATE_ARGS and SWUPDATE_EXTRA_ARGS, each list with its variable.
    pub user_args: Vec<Traced<Vec<String>>>,
    pub mode: Mode,
    /// The SWUPDATE_SOURCE setting (or the command-line option) that chose the mode.
    pub mode_origin: Origin,
    pub anti_rollback: AntiRollback,
    /// File mode only: the product's program that vets the update before swupdate sees it.
    pub verification: Option<Box<Verification>>,
    /// swupdate's configuration file (`-f`) from a first-existing list, when one is configured.
    pub config_file: Option<ConfigFile>,
    /// A/B (`SWUPDATE_SLOTS`): the slot table; the running slot, found at the edge, chooses
    /// `-e`.
    pub slots: Option<Box<crate::slots::Table>>,
}

/// `SWUPDATE_CONFIG_FILES`: swupdate's configuration file is the first of these device paths
/// that exists ("the copy on /data if present, else the image's").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub candidates: Traced<Vec<PathBuf>>,
    /// The first that exists, chosen at the edge
    /// ([`crate::preconditions::choose_config_file`]); `None`: none does, or not looked yet.
    pub chosen: Option<PathBuf>,
}

/// `-N`/`-R`/`--max-version` from the version the device runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AntiRollback {
    pub enabled: Traced<bool>,
    /// The file that holds the running version (a device path).
    pub version_file: Traced<PathBuf>,
    pub key: Traced<String>,
    pub reinstall: Traced<bool>,
    pub max_version: Option<Traced<String>>,
}

/// The verification stage, as [`crate::verify`] runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub program: Traced<Program>,
    /// Who it runs as: never root.
    pub user: Traced<Account>,
    /// The directory for the private copy (a device path).
    pub dir: Traced<PathBuf>,
    /// Seconds it may take.
    pub timeout: Traced<u32>,
}

/// A program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// An absolute device path.
    pub path: PathBuf,
    pub args: Vec<String>,
}

impl Program {
    /// The command as one line for a person, with the program at `path` (where this machine
    /// finds it).
    pub fn line(&self, path: &std::path::Path) -> String {
        std::iter::once(path.to_string_lossy())
            .chain(self.args.iter().map(|a| a.as_str().into()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A user and group id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
}

/// When the configuration is checked: on the device, or while the image is built (`check
/// --static`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckAt {
    /// On the device, about to start: every input must be there.
    Device,
    /// While the image is built: what the agent provides at run time may be missing.
    Image,
}

/// What the unit that starts the launcher can handle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Expect {
    #[default]
    Any,
    /// `--one-shot`: file or download.
    OneShot,
    /// `--daemon`: the long-lived daemon.
    Daemon,
}

/// Everything the plan is made from.
pub struct Inputs<'a> {
    /// The device's user and group names (read only if a name is used).
    pub accounts: &'a dyn Accounts,
    pub expect: Expect,
    pub topology: &'a Settings,
    pub vars: &'a Settings,
    /// `--update-file`/`--update-medium`: file mode with this device path, for this run.
    pub update_file_override: Option<Setting>,
    pub check_at: CheckAt,
}
