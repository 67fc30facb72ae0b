//! What the configuration means: a typed, validated plan, or the reason there is none.
//!
//! Everything that can be decided without touching the file system is decided here, so it can
//! be tested exhaustively; every error names the variable and the file and line that set it.
//!
//! The flow: the raw [`Settings`](crate::config::settings::Settings) (each value with the file
//! and line that set it) go through [`build`] into a [`Plan`] ([`types`]: the mode, the inputs,
//! anti-rollback, the verification stage, each value [`Traced`] to its variable), and
//! [`argv::build`] turns the plan into swupdate's argv, in groups that keep those origins.
//! [`values`] holds the small typed readers every setting goes through, [`verification`] the
//! verification stage's part of the plan; [`swupdate_options`] is swupdate's own command line
//! (every release's getopt table) and [`url`] the download URL, both checked here.

pub mod argv;
mod build;
pub mod swupdate_options;
mod types;
pub mod url;
mod values;
mod verification;

pub use build::{DIGEST_PROVIDERS, build};
pub use types::{AntiRollback, Expect, Inputs, Mode, Plan, Preflight, Stage, Traced, Verification};
pub use values::{setting_error, yes_no};

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
