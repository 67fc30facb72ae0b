//! What the configuration means: a typed, validated plan, or the reason there is none.
//!
//! Everything that can be decided without touching the file system is decided here, so it can
//! be tested exhaustively; every error names the variable and the file and line that set it.

pub mod argv;
pub mod swupdate_options;
pub mod url;

use std::path::{Path, PathBuf};

use crate::accounts::Accounts;
use crate::config::settings::{
    Origin, SWUPDATE_BIN, SWUPDATE_DIGEST_PROVIDER, SWUPDATE_PUBLIC_KEY, SWUPDATE_VERSION, Setting,
    Settings,
};
use crate::error::{Error, Kind, Location};
use crate::plan::swupdate_options::Release;
use crate::plan::url::Url;
use crate::rootfs::Root;

pub const SWUPDATE_SOURCE: &str = "SWUPDATE_SOURCE";
pub const UPDATE_FILE: &str = "UPDATE_FILE";
pub const URL: &str = "URL";
pub const SWUPDATE_DOWNLOAD_RETRIES: &str = "SWUPDATE_DOWNLOAD_RETRIES";
pub const SWUPDATE_DOWNLOAD_TIMEOUT: &str = "SWUPDATE_DOWNLOAD_TIMEOUT";
pub const SWUPDATE_ARGS: &str = "SWUPDATE_ARGS";
pub const SWUPDATE_EXTRA_ARGS: &str = "SWUPDATE_EXTRA_ARGS";
pub const SWUPDATE_WEBSERVER_ARGS: &str = "SWUPDATE_WEBSERVER_ARGS";
pub const SWUPDATE_SURICATTA_ARGS: &str = "SWUPDATE_SURICATTA_ARGS";
pub const SWUPDATE_ALLOW_HTTP: &str = "SWUPDATE_ALLOW_HTTP";
pub const SWUPDATE_PREFLIGHT: &str = "SWUPDATE_PREFLIGHT";
pub const SWUPDATE_CA_FILE: &str = "SWUPDATE_CA_FILE";
pub const SWUPDATE_PREFLIGHT_TIMEOUT: &str = "SWUPDATE_PREFLIGHT_TIMEOUT";
pub const SWUPDATE_PREFLIGHT_BUDGET: &str = "SWUPDATE_PREFLIGHT_BUDGET";
pub const SWUPDATE_ANTI_ROLLBACK: &str = "SWUPDATE_ANTI_ROLLBACK";
pub const SWUPDATE_VERSION_FILE: &str = "SWUPDATE_VERSION_FILE";
pub const SWUPDATE_VERSION_KEY: &str = "SWUPDATE_VERSION_KEY";
pub const SWUPDATE_REINSTALL: &str = "SWUPDATE_REINSTALL";
pub const SWUPDATE_MAX_VERSION: &str = "SWUPDATE_MAX_VERSION";
pub const SWUPDATE_VERIFY_PROGRAM: &str = "SWUPDATE_VERIFY_PROGRAM";
pub const SWUPDATE_VERIFY_USER: &str = "SWUPDATE_VERIFY_USER";
pub const SWUPDATE_VERIFY_DIR: &str = "SWUPDATE_VERIFY_DIR";
pub const SWUPDATE_VERIFY_TIMEOUT: &str = "SWUPDATE_VERIFY_TIMEOUT";

/// Where the running version is read by default, and under which key.
pub const DEFAULT_VERSION_FILE: &str = "/etc/os-release";
pub const DEFAULT_VERSION_KEY: &str = "VERSION_ID";
/// The verification program's defaults: nobody (65534:65534), a directory on persistent
/// storage, 10 minutes.
pub const DEFAULT_VERIFY_DIR: &str = "/var/lib/swupdate/verify";
pub const DEFAULT_VERIFY_TIMEOUT: u32 = 600;

/// Longest URL accepted: far beyond any real artifact URL, short of abuse.
pub const MAX_URL_LEN: usize = 4096;

/// The conf.d variables the launcher reads.
pub const VOCABULARY: [&str; 23] = [
    SWUPDATE_SOURCE,
    UPDATE_FILE,
    URL,
    SWUPDATE_DOWNLOAD_RETRIES,
    SWUPDATE_DOWNLOAD_TIMEOUT,
    SWUPDATE_ARGS,
    SWUPDATE_EXTRA_ARGS,
    SWUPDATE_WEBSERVER_ARGS,
    SWUPDATE_SURICATTA_ARGS,
    SWUPDATE_ALLOW_HTTP,
    SWUPDATE_PREFLIGHT,
    SWUPDATE_CA_FILE,
    SWUPDATE_PREFLIGHT_TIMEOUT,
    SWUPDATE_PREFLIGHT_BUDGET,
    SWUPDATE_ANTI_ROLLBACK,
    SWUPDATE_VERSION_FILE,
    SWUPDATE_VERSION_KEY,
    SWUPDATE_REINSTALL,
    SWUPDATE_MAX_VERSION,
    SWUPDATE_VERIFY_PROGRAM,
    SWUPDATE_VERIFY_USER,
    SWUPDATE_VERIFY_DIR,
    SWUPDATE_VERIFY_TIMEOUT,
];

/// Values `swupdate.sh` assigned before it read conf.d (fragments may expand them), less the
/// `${SWUPDATE_EXTRA_ARGS}` it folded into SWUPDATE_ARGS: that one is appended separately.
pub const SCRIPT_DEFAULTS: [(&str, &str); 3] = [
    (SWUPDATE_ARGS, "-v"),
    (SWUPDATE_WEBSERVER_ARGS, ""),
    (SWUPDATE_SURICATTA_ARGS, ""),
];

/// conf.d variables that the process environment provides when no fragment sets them, as a
/// shell's environment would (the rest are assigned by SCRIPT_DEFAULTS, as in swupdate.sh).
pub const FROM_ENVIRONMENT: [&str; 6] = [
    SWUPDATE_SOURCE,
    UPDATE_FILE,
    URL,
    SWUPDATE_DOWNLOAD_RETRIES,
    SWUPDATE_DOWNLOAD_TIMEOUT,
    SWUPDATE_EXTRA_ARGS,
];

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
    /// Host path of the only CA bundle trusted; `None`: the system's store.
    pub ca_file: Option<Traced<PathBuf>>,
    /// Seconds for each request.
    pub timeout: Option<Traced<u32>>,
    /// Seconds within which transient failures are retried.
    pub budget: Option<Traced<u32>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `-i`: install one file and exit.
    File { update_file: Traced<PathBuf> },
    /// `-d "-u …"`: stream one URL, install, exit. `url` is `None` only in an image-build check,
    /// before the agent has written it.
    Download {
        url: Option<Traced<Url>>,
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
    pub fn name(&self) -> &'static str {
        match self {
            Mode::File { .. } => "file",
            Mode::Download { .. } => "download",
            Mode::Daemon { .. } => "daemon",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Host path of the swupdate binary.
    pub bin: Traced<PathBuf>,
    /// Host path of the public key.
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
}

/// `-N`/`-R`/`--max-version` from the version the device runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AntiRollback {
    pub enabled: Traced<bool>,
    /// Host path of the file that holds the running version.
    pub version_file: Traced<PathBuf>,
    pub key: Traced<String>,
    pub reinstall: Traced<bool>,
    pub max_version: Option<Traced<String>>,
}

/// The verification stage (see [`crate::verify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The program (host path) and its arguments.
    pub argv: Traced<Vec<String>>,
    pub user: Traced<(u32, u32)>,
    /// Host path of the directory for the private copy.
    pub dir: Traced<PathBuf>,
    pub timeout: Traced<u32>,
}

/// When the configuration is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// On the device, about to start: every input must be there.
    Device,
    /// While the image is built: what the agent provides at run time may be missing.
    Image,
}

/// What the unit that starts the launcher can handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
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
    pub root: &'a Root,
    pub stage: Stage,
}

/// An error about a setting, located where it was set.
pub fn setting_error(name: &str, s: &Setting, message: impl Into<String>) -> Error {
    let message = message.into();
    match &s.origin {
        Origin::EnvFile { path, line } | Origin::Fragment { path, line } => {
            Error::new(Kind::Config, format!("{name}: {message}")).at(Location {
                file: path.clone(),
                line: *line,
                column: None,
            })
        }
        other => Error::new(Kind::Config, format!("{name} ({other}): {message}")),
    }
}

fn traced<T>(value: T, name: &'static str, s: &Setting) -> Traced<T> {
    Traced {
        value,
        name,
        origin: s.origin.clone(),
    }
}

/// A set, non-empty value.
fn non_empty<'a>(vars: &'a Settings, name: &str) -> Option<&'a Setting> {
    vars.get(name).filter(|s| !s.value.trim().is_empty())
}

fn absolute_path(name: &'static str, s: &Setting, root: &Root) -> Result<Traced<PathBuf>, Error> {
    let p = Path::new(&s.value);
    if !p.is_absolute() {
        return Err(setting_error(
            name,
            s,
            format!("`{}` is not an absolute path", s.value),
        ));
    }
    Ok(traced(root.host(p), name, s))
}

/// A yes/no switch; unset or empty means `default`.
pub fn yes_no(vars: &Settings, name: &'static str, default: bool) -> Result<Traced<bool>, Error> {
    match non_empty(vars, name) {
        None => Ok(Traced {
            value: default,
            name,
            origin: Origin::Default,
        }),
        Some(s) if s.value == "yes" => Ok(traced(true, name, s)),
        Some(s) if s.value == "no" => Ok(traced(false, name, s)),
        Some(s) => Err(setting_error(
            name,
            s,
            format!("`{}` is neither yes nor no", s.value),
        )),
    }
}

fn whole_number(name: &'static str, s: &Setting, min: u32) -> Result<Traced<u32>, Error> {
    match s.value.parse::<u32>() {
        Ok(n) if n >= min && !s.value.starts_with('+') => Ok(traced(n, name, s)),
        _ => Err(setting_error(
            name,
            s,
            format!("`{}` is not a whole number of at least {min}", s.value),
        )),
    }
}

/// The words of an options variable, split with shell quoting and checked against swupdate's
/// option table for the installed release (every supported release when it is unknown).
fn user_words(
    name: &'static str,
    s: &Setting,
    release: Option<Release>,
) -> Result<Traced<Vec<String>>, Error> {
    let words = shell_words::split(&s.value)
        .map_err(|_| setting_error(name, s, format!("`{}` has an unterminated quote", s.value)))?;
    swupdate_options::parse(&words, release).map_err(|e| {
        let err = setting_error(name, s, e.message);
        match e.hint {
            Some(h) => err.hint(h),
            None => err,
        }
    })?;
    Ok(traced(words, name, s))
}

/// A `-w`/`-u` string: swupdate splits it on whitespace and parses no quotes.
fn daemon_string(name: &'static str, vars: &Settings) -> Result<Option<Traced<String>>, Error> {
    let Some(s) = non_empty(vars, name) else {
        return Ok(None);
    };
    if let Some(q) = s.value.chars().find(|c| matches!(c, '\'' | '"' | '\\')) {
        return Err(setting_error(
            name,
            s,
            format!("contains `{q}`; swupdate splits this string on whitespace and does not parse quotes or escapes"),
        )
        .hint("a value with blanks cannot be passed this way: set it in swupdate's configuration file (-f) instead"));
    }
    Ok(Some(traced(
        s.value.split_whitespace().collect::<Vec<_>>().join(" "),
        name,
        s,
    )))
}

pub fn build(inputs: &Inputs) -> Result<Plan, Error> {
    let Inputs {
        topology,
        vars,
        root,
        ..
    } = inputs;

    let bin_setting = topology
        .get(SWUPDATE_BIN)
        .ok_or_else(|| Error::new(Kind::Config, "SWUPDATE_BIN is not set"))?;
    let bin = absolute_path(SWUPDATE_BIN, bin_setting, root)?;
    let public_key = match non_empty(topology, SWUPDATE_PUBLIC_KEY) {
        Some(s) => Some(absolute_path(SWUPDATE_PUBLIC_KEY, s, root)?),
        None => None,
    };

    let (release, digest_provider) = release_and_provider(topology)?;
    let known = release.as_ref().map(|r| r.value);
    let mut user_args = Vec::new();
    for name in [SWUPDATE_ARGS, SWUPDATE_EXTRA_ARGS] {
        if let Some(s) = vars.get(name) {
            let t = user_words(name, s, known)?;
            if !t.value.is_empty() {
                user_args.push(t);
            }
        }
    }

    let (source, mode_origin) = match (&inputs.update_file_override, vars.get(SWUPDATE_SOURCE)) {
        (Some(o), _) => ("file", o.origin.clone()),
        (None, Some(s)) => match s.value.as_str() {
            v @ ("file" | "download" | "daemon") => (v, s.origin.clone()),
            other => {
                return Err(setting_error(
                    SWUPDATE_SOURCE,
                    s,
                    format!("`{other}` is not a mode"),
                )
                .hint("use file, download or daemon (or leave it unset for daemon, as swupdate.sh)"));
            }
        },
        (None, None) => ("daemon", Origin::Default),
    };

    match (inputs.expect, source) {
        (Expect::OneShot, "daemon") => {
            return Err(Error::new(
                Kind::Config,
                format!("--one-shot: the configuration runs the long-lived daemon (SWUPDATE_SOURCE from {mode_origin}), which would never finish"),
            )
            .hint("set SWUPDATE_SOURCE=file or download, or start swupdate-daemon.service instead"));
        }
        (Expect::Daemon, "file" | "download") => {
            return Err(Error::new(
                Kind::Config,
                format!("--daemon: SWUPDATE_SOURCE={source} ({mode_origin}) installs one update and exits"),
            )
            .hint("the daemon unit runs swupdate for webserver/suricatta/IPC: leave SWUPDATE_SOURCE unset or set it to daemon"));
        }
        _ => {}
    }

    // The daemon variables have no meaning in a one-shot mode: refuse rather than guess,
    // unless this run was told on its command line to install one file.
    if source != "daemon" && inputs.update_file_override.is_none() {
        for name in [SWUPDATE_WEBSERVER_ARGS, SWUPDATE_SURICATTA_ARGS] {
            if let Some(s) = non_empty(vars, name) {
                return Err(setting_error(
                    name,
                    s,
                    format!("is set, but SWUPDATE_SOURCE={source} ({mode_origin}) runs swupdate once"),
                )
                .hint("a one-shot update and the long-lived webserver/suricatta exclude each other: unset one of them"));
            }
        }
    }

    let mode = match source {
        "file" => {
            let s = match &inputs.update_file_override {
                Some(o) => o,
                None => non_empty(vars, UPDATE_FILE).ok_or_else(|| {
                    Error::new(
                        Kind::Config,
                        format!("SWUPDATE_SOURCE=file ({mode_origin}) needs UPDATE_FILE, which is not set"),
                    )
                })?,
            };
            Mode::File {
                update_file: absolute_path(UPDATE_FILE, s, root)?,
            }
        }
        "download" => {
            let retries = non_empty(vars, SWUPDATE_DOWNLOAD_RETRIES)
                .map(|s| whole_number(SWUPDATE_DOWNLOAD_RETRIES, s, 0))
                .transpose()?;
            let timeout = non_empty(vars, SWUPDATE_DOWNLOAD_TIMEOUT)
                .map(|s| whole_number(SWUPDATE_DOWNLOAD_TIMEOUT, s, 1))
                .transpose()?;
            let allow_http = yes_no(vars, SWUPDATE_ALLOW_HTTP, false)?.value;
            let preflight = Box::new(Preflight {
                enabled: yes_no(vars, SWUPDATE_PREFLIGHT, true)?,
                ca_file: non_empty(vars, SWUPDATE_CA_FILE)
                    .map(|s| absolute_path(SWUPDATE_CA_FILE, s, root))
                    .transpose()?,
                timeout: non_empty(vars, SWUPDATE_PREFLIGHT_TIMEOUT)
                    .map(|s| whole_number(SWUPDATE_PREFLIGHT_TIMEOUT, s, 1))
                    .transpose()?,
                budget: non_empty(vars, SWUPDATE_PREFLIGHT_BUDGET)
                    .map(|s| whole_number(SWUPDATE_PREFLIGHT_BUDGET, s, 0))
                    .transpose()?,
            });
            let url = match non_empty(vars, URL) {
                Some(s) => {
                    if s.value.len() > MAX_URL_LEN {
                        return Err(setting_error(
                            URL,
                            s,
                            format!(
                                "is {} bytes long; at most {MAX_URL_LEN} are accepted",
                                s.value.len()
                            ),
                        ));
                    }
                    let u = Url::parse(&s.value)
                        .map_err(|e| setting_error(URL, s, format!("the URL {}", e.0)))?;
                    if u.scheme() == "http" && !allow_http {
                        return Err(setting_error(URL, s, format!("plain http ({}) is not allowed", u.redacted()))
                            .hint("use https, or set SWUPDATE_ALLOW_HTTP=yes in the image's conf.d if the artifact is verified by its signature alone"));
                    }
                    u.credentials()
                        .map_err(|e| setting_error(URL, s, format!("the URL {}", e.0)))?;
                    Some(traced(u, URL, s))
                }
                None if inputs.stage == Stage::Image => None,
                None => {
                    return Err(Error::new(
                        Kind::Config,
                        format!("SWUPDATE_SOURCE=download ({mode_origin}) needs URL, which is not set"),
                    )
                    .hint("the management agent writes URL to descriptor.env in the etc conf.d directory before it starts the service"));
                }
            };
            Mode::Download {
                url,
                retries,
                timeout,
                preflight,
            }
        }
        _ => {
            let suricatta = daemon_string(SWUPDATE_SURICATTA_ARGS, vars)?;
            if let (Some(t), Some(s)) = (&suricatta, vars.get(SWUPDATE_SURICATTA_ARGS)) {
                crate::suricatta::parse(&t.value, known)
                    .map_err(|e| setting_error(SWUPDATE_SURICATTA_ARGS, s, e))?;
            }
            Mode::Daemon {
                webserver: daemon_string(SWUPDATE_WEBSERVER_ARGS, vars)?,
                suricatta,
            }
        }
    };

    let stage = inputs.stage;
    let anti_rollback = anti_rollback(vars, root, !matches!(mode, Mode::Daemon { .. }))?;
    let verification = match (&mode, non_empty(vars, SWUPDATE_VERIFY_PROGRAM)) {
        (_, None) => None,
        (Mode::File { .. }, Some(s)) => {
            Some(Box::new(verification(vars, s, root, inputs.accounts)?))
        }
        // An image-build check judges the image's configuration, not the checker's own build
        // (the layer builds the device's launcher with streaming exactly in download mode).
        (Mode::Download { .. }, Some(s))
            if cfg!(feature = "streaming") || stage == Stage::Image =>
        {
            Some(Box::new(verification(vars, s, root, inputs.accounts)?))
        }
        (Mode::Download { .. }, Some(s)) => {
            return Err(setting_error(
                SWUPDATE_VERIFY_PROGRAM,
                s,
                "a verification stage in download mode needs the launcher to download the artifact itself, and this build has no HTTP stack (the streaming feature)",
            )
            .hint("build with the streaming feature (update-ota-streaming), use file mode, or unset SWUPDATE_VERIFY_PROGRAM"));
        }
        (Mode::Daemon { .. }, Some(s)) => {
            return Err(setting_error(
                SWUPDATE_VERIFY_PROGRAM,
                s,
                "the daemon receives updates over IPC, where the launcher cannot vet them",
            ));
        }
    };

    Ok(Plan {
        bin,
        public_key,
        release,
        digest_provider,
        user_args,
        mode,
        mode_origin,
        anti_rollback,
        verification,
    })
}

/// The verifiers swupdate registers (2025.12+, `register_dgstlib` in crypto/).
pub const DIGEST_PROVIDERS: [&str; 9] = [
    "opensslCMS",
    "opensslRSA",
    "opensslRSAPSS",
    "GPG",
    "mbedtlsRSA",
    "mbedtlsRSAPSS",
    "pkcs#7mbedtls",
    "pkcs#7WolfSSL",
    "WolfSSLRSA",
];

/// SWUPDATE_VERSION and SWUPDATE_DIGEST_PROVIDER from the EnvironmentFile.
#[allow(clippy::type_complexity)]
fn release_and_provider(
    topology: &Settings,
) -> Result<(Option<Traced<Release>>, Option<Traced<String>>), Error> {
    let release = match non_empty(topology, SWUPDATE_VERSION) {
        None => None,
        Some(s) => match Release::parse(&s.value) {
            Some(r) => Some(traced(r, SWUPDATE_VERSION, s)),
            None => {
                return Err(setting_error(
                    SWUPDATE_VERSION,
                    s,
                    format!(
                        "`{}` is not a swupdate release (YYYY.MM or YYYY.MM.P)",
                        s.value
                    ),
                ));
            }
        },
    };
    let provider = match non_empty(topology, SWUPDATE_DIGEST_PROVIDER) {
        None => None,
        Some(s) => {
            if !DIGEST_PROVIDERS.contains(&s.value.as_str()) && !s.value.starts_with("WolfSSL") {
                return Err(setting_error(
                    SWUPDATE_DIGEST_PROVIDER,
                    s,
                    format!(
                        "`{}` is not a verification provider swupdate registers",
                        s.value
                    ),
                )
                .hint(format!("one of {}", DIGEST_PROVIDERS.join(", "))));
            }
            if let Some(r) = &release {
                if r.value < swupdate_options::PROVIDERS {
                    return Err(setting_error(
                        SWUPDATE_DIGEST_PROVIDER,
                        s,
                        format!(
                            "`--digest-provider` needs swupdate {} or later; this device has {} (SWUPDATE_VERSION from {})",
                            swupdate_options::PROVIDERS, r.value, r.origin
                        ),
                    )
                    .hint("before 2025.12 the verifier is chosen when swupdate is built: unset SWUPDATE_DIGEST_PROVIDER"));
                }
            }
            Some(traced(s.value.clone(), SWUPDATE_DIGEST_PROVIDER, s))
        }
    };
    Ok((release, provider))
}

/// A default that is not a setting of the user's.
fn default_of<T>(value: T, name: &'static str) -> Traced<T> {
    Traced {
        value,
        name,
        origin: Origin::Default,
    }
}

/// On by default where the launcher installs (file, download): a device never installs an
/// older release unless its image says so. Off by default for the daemon, which reproduces
/// swupdate.sh (that never passed -N) for existing meta-swupdate configurations.
fn anti_rollback(vars: &Settings, root: &Root, one_shot: bool) -> Result<AntiRollback, Error> {
    let version_file = match non_empty(vars, SWUPDATE_VERSION_FILE) {
        Some(s) => absolute_path(SWUPDATE_VERSION_FILE, s, root)?,
        None => default_of(
            root.host(Path::new(DEFAULT_VERSION_FILE)),
            SWUPDATE_VERSION_FILE,
        ),
    };
    let key = match non_empty(vars, SWUPDATE_VERSION_KEY) {
        Some(s) => traced(s.value.clone(), SWUPDATE_VERSION_KEY, s),
        None => default_of(DEFAULT_VERSION_KEY.to_string(), SWUPDATE_VERSION_KEY),
    };
    let max_version = match non_empty(vars, SWUPDATE_MAX_VERSION) {
        Some(s) if !crate::rollback::usable(&s.value) => {
            return Err(setting_error(
                SWUPDATE_MAX_VERSION,
                s,
                format!("`{}` is not a version swupdate can take", s.value),
            ));
        }
        Some(s) => Some(traced(s.value.clone(), SWUPDATE_MAX_VERSION, s)),
        None => None,
    };
    Ok(AntiRollback {
        enabled: yes_no(vars, SWUPDATE_ANTI_ROLLBACK, one_shot)?,
        version_file,
        key,
        reinstall: yes_no(vars, SWUPDATE_REINSTALL, true)?,
        max_version,
    })
}

fn verification(
    vars: &Settings,
    program: &Setting,
    root: &Root,
    accounts: &dyn Accounts,
) -> Result<Verification, Error> {
    let mut argv = shell_words::split(&program.value).map_err(|_| {
        setting_error(
            SWUPDATE_VERIFY_PROGRAM,
            program,
            "has an unterminated quote",
        )
    })?;
    let Some(first) = argv.first_mut() else {
        return Err(setting_error(
            SWUPDATE_VERIFY_PROGRAM,
            program,
            "names no program",
        ));
    };
    if !Path::new(first.as_str()).is_absolute() {
        return Err(setting_error(
            SWUPDATE_VERIFY_PROGRAM,
            program,
            format!("`{first}` is not an absolute path"),
        ));
    }
    *first = root
        .host(Path::new(first.as_str()))
        .to_string_lossy()
        .into_owned();
    let user = match non_empty(vars, SWUPDATE_VERIFY_USER) {
        Some(s) => {
            let (u, g) = match s.value.split_once(':') {
                Some((u, g)) => (u, Some(g)),
                None => (s.value.as_str(), None),
            };
            let unknown = |what: &str, name: &str| {
                setting_error(
                    SWUPDATE_VERIFY_USER,
                    s,
                    format!("no {what} `{name}` on the device"),
                )
            };
            let (uid, primary) = match u.parse::<u32>() {
                Ok(uid) => (uid, uid),
                Err(_) => accounts.user(u).ok_or_else(|| unknown("user", u))?,
            };
            let gid = match g {
                None => primary,
                Some(g) => match g.parse::<u32>() {
                    Ok(gid) => gid,
                    Err(_) => accounts.group(g).ok_or_else(|| unknown("group", g))?,
                },
            };
            if uid == 0 || gid == 0 {
                return Err(setting_error(
                    SWUPDATE_VERIFY_USER,
                    s,
                    "is root; the verification program must run unprivileged",
                ));
            }
            traced((uid, gid), SWUPDATE_VERIFY_USER, s)
        }
        None => default_of((65534, 65534), SWUPDATE_VERIFY_USER),
    };
    let dir = match non_empty(vars, SWUPDATE_VERIFY_DIR) {
        Some(s) => absolute_path(SWUPDATE_VERIFY_DIR, s, root)?,
        None => default_of(
            root.host(Path::new(DEFAULT_VERIFY_DIR)),
            SWUPDATE_VERIFY_DIR,
        ),
    };
    let timeout = match non_empty(vars, SWUPDATE_VERIFY_TIMEOUT) {
        Some(s) => whole_number(SWUPDATE_VERIFY_TIMEOUT, s, 1)?,
        None => default_of(DEFAULT_VERIFY_TIMEOUT, SWUPDATE_VERIFY_TIMEOUT),
    };
    Ok(Verification {
        argv: traced(argv, SWUPDATE_VERIFY_PROGRAM, program),
        user,
        dir,
        timeout,
    })
}

/// For tests of the plan and the argv: a device with a few named accounts.
#[cfg(test)]
pub mod tests_support {
    use crate::accounts::Accounts;

    pub struct FewAccounts;

    impl Accounts for FewAccounts {
        fn user(&self, name: &str) -> Option<(u32, u32)> {
            (name == "verify").then_some((990, 985))
        }
        fn group(&self, name: &str) -> Option<u32> {
            (name == "updaters").then_some(977)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::FewAccounts;
    use super::*;

    fn at(line: usize) -> Origin {
        Origin::Fragment {
            path: "/etc/swupdate/conf.d/10-x".into(),
            line,
        }
    }

    struct T {
        topology: Settings,
        vars: Settings,
        over: Option<Setting>,
        stage: Stage,
        expect: Expect,
    }

    impl T {
        fn new() -> T {
            let mut topology = Settings::default();
            topology.set(SWUPDATE_BIN, "/usr/bin/swupdate", Origin::Default);
            let mut vars = Settings::default();
            for (n, v) in SCRIPT_DEFAULTS {
                vars.set(n, v, Origin::Default);
            }
            T {
                topology,
                vars,
                over: None,
                stage: Stage::Device,
                expect: Expect::Any,
            }
        }
        fn var(mut self, n: &str, v: &str) -> T {
            let line = self.vars.names().count() + 1;
            self.vars.set(n, v, at(line));
            self
        }
        fn topo(mut self, n: &str, v: &str) -> T {
            self.topology.set(n, v, Origin::Environment);
            self
        }
        fn build(&self) -> Result<Plan, Error> {
            build(&Inputs {
                accounts: &FewAccounts,
                expect: self.expect,
                topology: &self.topology,
                vars: &self.vars,
                update_file_override: self.over.clone(),
                root: &Root::default(),
                stage: self.stage,
            })
        }
        fn ok(&self) -> Plan {
            self.build().unwrap()
        }
        fn err(&self) -> Error {
            self.build().unwrap_err()
        }
    }

    fn file_mode() -> T {
        T::new()
            .var(SWUPDATE_SOURCE, "file")
            .var(UPDATE_FILE, "/data/u.swu")
    }

    fn download_mode() -> T {
        T::new()
            .var(SWUPDATE_SOURCE, "download")
            .var(URL, "https://h/u.swu")
    }

    #[test]
    fn one_shot_unit_refuses_the_daemon() {
        let mut t = T::new();
        t.expect = Expect::OneShot;
        assert!(t.err().message.contains("--one-shot"));
        let mut t = file_mode();
        t.expect = Expect::OneShot;
        assert_eq!(t.ok().mode.name(), "file");
    }

    #[test]
    fn daemon_unit_refuses_a_one_shot_configuration() {
        let mut t = download_mode();
        t.expect = Expect::Daemon;
        assert!(
            t.err()
                .message
                .contains("--daemon: SWUPDATE_SOURCE=download")
        );
        let mut t = T::new();
        t.expect = Expect::Daemon;
        assert_eq!(t.ok().mode.name(), "daemon");
    }

    fn verify_user(value: &str) -> Result<(u32, u32), Error> {
        let p = file_mode()
            .var(SWUPDATE_VERIFY_PROGRAM, "/usr/libexec/unpack")
            .var(SWUPDATE_VERIFY_USER, value)
            .build()?;
        Ok(p.verification.unwrap().user.value)
    }

    #[test]
    fn the_verification_user_may_be_numbers_or_names() {
        assert_eq!(verify_user("1000").unwrap(), (1000, 1000));
        assert_eq!(verify_user("1000:100").unwrap(), (1000, 100));
        assert_eq!(verify_user("verify").unwrap(), (990, 985));
        assert_eq!(verify_user("verify:updaters").unwrap(), (990, 977));
        assert_eq!(verify_user("1000:updaters").unwrap(), (1000, 977));
    }

    #[test]
    fn an_unknown_verification_user_is_an_error() {
        let e = verify_user("nobody").unwrap_err();
        assert!(
            e.message.contains("no user `nobody` on the device"),
            "{}",
            e.message
        );
        assert!(verify_user("verify:wheel").is_err());
    }

    #[test]
    fn root_is_never_the_verification_user() {
        assert!(
            verify_user("0")
                .unwrap_err()
                .message
                .contains("unprivileged")
        );
        assert!(verify_user("1000:0").is_err());
    }

    #[test]
    fn plain_http_is_refused_unless_allowed() {
        let e = T::new()
            .var(SWUPDATE_SOURCE, "download")
            .var(URL, "http://h/u.swu")
            .err();
        assert!(e.message.contains("plain http"), "{}", e.message);
        let p = T::new()
            .var(SWUPDATE_SOURCE, "download")
            .var(SWUPDATE_ALLOW_HTTP, "yes")
            .var(URL, "http://h/u.swu")
            .ok();
        assert_eq!(p.mode.name(), "download");
    }

    #[test]
    fn preflight_settings_are_read_and_checked() {
        let p = download_mode()
            .var(SWUPDATE_PREFLIGHT, "no")
            .var(SWUPDATE_CA_FILE, "/etc/ssl/fleet-ca.pem")
            .var(SWUPDATE_PREFLIGHT_TIMEOUT, "20")
            .var(SWUPDATE_PREFLIGHT_BUDGET, "0")
            .ok();
        let Mode::Download { preflight, .. } = p.mode else {
            panic!("download mode expected")
        };
        assert!(!preflight.enabled.value);
        assert_eq!(
            preflight.ca_file.unwrap().value,
            PathBuf::from("/etc/ssl/fleet-ca.pem")
        );
        assert_eq!(preflight.timeout.unwrap().value, 20);
        assert_eq!(preflight.budget.unwrap().value, 0);
        assert!(
            download_mode()
                .var(SWUPDATE_CA_FILE, "ca.pem")
                .build()
                .is_err()
        );
        assert!(
            download_mode()
                .var(SWUPDATE_PREFLIGHT_TIMEOUT, "0")
                .build()
                .is_err()
        );
        assert!(
            download_mode()
                .var(SWUPDATE_PREFLIGHT, "off")
                .build()
                .is_err()
        );
    }

    #[test]
    fn allow_http_takes_yes_or_no_only() {
        assert!(
            download_mode()
                .var(SWUPDATE_ALLOW_HTTP, "1")
                .build()
                .is_err()
        );
    }

    #[test]
    fn overlong_urls_are_refused() {
        let long = format!("https://h/{}", "a".repeat(MAX_URL_LEN));
        let e = T::new()
            .var(SWUPDATE_SOURCE, "download")
            .var(URL, &long)
            .err();
        assert!(e.message.contains("bytes long"));
    }

    #[test]
    fn unset_source_is_the_daemon_of_swupdate_sh() {
        let p = T::new().ok();
        assert_eq!(p.mode.name(), "daemon");
        assert_eq!(p.mode_origin, Origin::Default);
    }

    #[test]
    fn file_mode_takes_update_file() {
        let p = file_mode().ok();
        match p.mode {
            Mode::File { update_file } => {
                assert_eq!(update_file.value, PathBuf::from("/data/u.swu"));
                assert_eq!(update_file.name, UPDATE_FILE);
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn file_mode_without_update_file_is_an_error() {
        let e = T::new().var(SWUPDATE_SOURCE, "file").err();
        assert_eq!(e.kind, Kind::Config);
        assert!(e.message.contains("needs UPDATE_FILE"), "{}", e.message);
    }

    #[test]
    fn relative_update_file_is_an_error_at_its_line() {
        let e = T::new()
            .var(SWUPDATE_SOURCE, "file")
            .var(UPDATE_FILE, "u.swu")
            .err();
        assert!(e.message.contains("not an absolute path"));
        assert!(e.location.is_some());
    }

    #[test]
    fn unknown_source_is_an_error_at_its_line() {
        let e = T::new().var(SWUPDATE_SOURCE, "usb").err();
        let loc = e.location.unwrap();
        assert_eq!(loc.file, PathBuf::from("/etc/swupdate/conf.d/10-x"));
        assert!(e.message.contains("`usb` is not a mode"));
    }

    #[test]
    fn empty_source_is_an_error_not_the_daemon() {
        assert!(T::new().var(SWUPDATE_SOURCE, "").build().is_err());
    }

    #[test]
    fn download_mode_takes_the_url_and_settings() {
        let p = download_mode()
            .var(SWUPDATE_DOWNLOAD_RETRIES, "0")
            .var(SWUPDATE_DOWNLOAD_TIMEOUT, "30")
            .ok();
        match p.mode {
            Mode::Download {
                url,
                retries,
                timeout,
                preflight,
            } => {
                assert!(preflight.enabled.value, "on unless switched off");
                assert!(preflight.ca_file.is_none());
                assert_eq!(url.unwrap().value.for_downloader(), "https://h/u.swu");
                assert_eq!(retries.unwrap().value, 0);
                assert_eq!(timeout.unwrap().value, 30);
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn download_without_url_is_an_error_on_the_device() {
        let e = T::new().var(SWUPDATE_SOURCE, "download").err();
        assert!(e.message.contains("needs URL"));
        assert!(e.hint.unwrap().contains("descriptor.env"));
    }

    #[test]
    fn download_without_url_passes_an_image_build_check() {
        let mut t = T::new().var(SWUPDATE_SOURCE, "download");
        t.stage = Stage::Image;
        assert!(matches!(t.ok().mode, Mode::Download { url: None, .. }));
    }

    #[test]
    fn bad_url_is_an_error_at_its_line() {
        let e = T::new()
            .var(SWUPDATE_SOURCE, "download")
            .var(URL, "ftp://h/x")
            .err();
        assert!(e.message.starts_with("URL: the URL has the scheme"));
        assert!(e.location.is_some());
    }

    #[test]
    fn credentials_with_blanks_are_an_error() {
        let e = T::new()
            .var(SWUPDATE_SOURCE, "download")
            .var(URL, "https://u:a%20b@h/x")
            .err();
        assert!(e.message.contains("whitespace"));
    }

    #[test]
    fn retries_must_be_a_whole_number() {
        for bad in ["-1", "three", "1.5", "+3", " 3"] {
            assert!(
                download_mode()
                    .var(SWUPDATE_DOWNLOAD_RETRIES, bad)
                    .build()
                    .is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn timeout_must_be_positive() {
        assert!(
            download_mode()
                .var(SWUPDATE_DOWNLOAD_TIMEOUT, "0")
                .build()
                .is_err()
        );
    }

    #[test]
    fn daemon_takes_webserver_and_suricatta_strings() {
        let p = T::new()
            .var(SWUPDATE_WEBSERVER_ARGS, "-r /www  -p 8080 ")
            .var(SWUPDATE_SURICATTA_ARGS, "-t default -u http://h -i dev")
            .ok();
        match p.mode {
            Mode::Daemon {
                webserver,
                suricatta,
            } => {
                assert_eq!(webserver.unwrap().value, "-r /www -p 8080");
                assert_eq!(suricatta.unwrap().value, "-t default -u http://h -i dev");
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn empty_daemon_strings_are_not_passed() {
        match T::new().ok().mode {
            Mode::Daemon {
                webserver,
                suricatta,
            } => assert!(webserver.is_none() && suricatta.is_none()),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn quotes_in_a_daemon_string_are_an_error() {
        let e = T::new().var(SWUPDATE_WEBSERVER_ARGS, "-r '/tmp/a b'").err();
        assert!(e.message.contains("does not parse quotes"));
    }

    #[test]
    fn one_shot_mode_with_daemon_strings_is_an_error() {
        let e = file_mode().var(SWUPDATE_WEBSERVER_ARGS, "-r /www").err();
        assert!(e.message.contains("runs swupdate once"));
    }

    #[test]
    fn update_file_override_selects_file_mode_over_anything() {
        let mut t = download_mode().var(SWUPDATE_WEBSERVER_ARGS, "-r /www");
        t.over = Some(Setting {
            value: "/media/u.swu".into(),
            origin: Origin::CommandLine("--update-file"),
        });
        let p = t.ok();
        assert_eq!(p.mode.name(), "file");
        assert_eq!(p.mode_origin, Origin::CommandLine("--update-file"));
    }

    #[test]
    fn user_args_are_split_with_shell_quoting() {
        let p = T::new().var(SWUPDATE_EXTRA_ARGS, "-e 'stable,copy 1'").ok();
        assert_eq!(p.user_args[0].value, ["-v"]);
        assert_eq!(p.user_args[1].value, ["-e", "stable,copy 1"]);
    }

    #[test]
    fn empty_swupdate_args_drops_the_default_verbose() {
        let p = T::new().var(SWUPDATE_ARGS, "").ok();
        assert!(p.user_args.is_empty());
    }

    #[test]
    fn unterminated_quote_in_user_args_is_an_error() {
        let e = T::new().var(SWUPDATE_EXTRA_ARGS, "-e 'x").err();
        assert!(e.message.contains("unterminated quote"));
    }

    #[test]
    fn owned_option_in_user_args_is_an_error_with_the_variable_to_use() {
        let e = T::new().var(SWUPDATE_ARGS, "-v -k /other.pem").err();
        assert!(e.message.contains("set by the launcher"));
        assert!(e.hint.unwrap().contains("SWUPDATE_PUBLIC_KEY"));
    }

    #[test]
    fn public_key_is_taken_from_topology() {
        let p = T::new().topo(SWUPDATE_PUBLIC_KEY, "/etc/k.pem").ok();
        assert_eq!(p.public_key.unwrap().value, PathBuf::from("/etc/k.pem"));
    }

    #[test]
    fn empty_public_key_means_none() {
        assert!(
            T::new()
                .topo(SWUPDATE_PUBLIC_KEY, "")
                .ok()
                .public_key
                .is_none()
        );
    }

    #[test]
    fn relative_binary_is_an_error_naming_the_environment() {
        let e = T::new().topo(SWUPDATE_BIN, "swupdate").err();
        assert!(e.message.contains("(environment)"), "{}", e.message);
    }

    #[test]
    fn paths_are_placed_under_the_root() {
        let t = file_mode();
        let p = build(&Inputs {
            accounts: &FewAccounts,
            expect: Expect::Any,
            topology: &t.topology,
            vars: &t.vars,
            update_file_override: None,
            root: &Root::new(Some("/img".into())),
            stage: Stage::Device,
        })
        .unwrap();
        assert_eq!(p.bin.value, PathBuf::from("/img/usr/bin/swupdate"));
    }
}
