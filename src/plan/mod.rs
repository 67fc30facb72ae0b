//! What the configuration means: a typed, validated plan, or the reason there is none.
//!
//! Everything that can be decided without touching the file system is decided here, so it can
//! be tested exhaustively; every error names the variable and the file and line that set it.
//!
//! The flow: the raw [`Settings`](crate::config::settings::Settings) (each value with the file
//! and line that set it) go through [`build()`] into a [`Plan`] (`types.rs`: the mode, the inputs,
//! anti-rollback, the verification stage, each value [`Traced`] to its variable), and
//! [`argv::build`] turns the plan into swupdate's argv, in groups that keep those origins.
//! `values.rs` holds the small typed readers every setting goes through, `verification.rs` the
//! verification stage's part of the plan; [`url`] is the download URL, checked here. swupdate's
//! own command line (every release's getopt table) is [`crate::swupdate::options`].

pub(crate) mod argv;
mod build;
mod types;
pub mod url;
mod values;
mod verification;

pub use build::{DIGEST_PROVIDERS, build, extra_args_in_args};
pub use types::{
    Account, AntiRollback, CheckAt, ConfigFile, DownloadUrl, Expect, Inputs, Mode, Plan, Preflight, Program,
    Source, Traced, Verification,
};
pub use values::{setting_error, yes_no};
// Read outside the plan by `confirm` alone (the `ab` feature).
#[cfg_attr(not(feature = "ab"), allow(unused_imports))]
pub(crate) use values::or_default;
pub use verification::verification_user;

/// Longest URL accepted: far beyond any real artifact URL, short of abuse.
pub const MAX_URL_LEN: usize = 4096;

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
