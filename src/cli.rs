//! The command line. Without a command the launcher does the service's job: `run`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "swupdate-launcher",
    version,
    about = "Starts swupdate from /etc/default/swupdate and the conf.d fragments, without a shell",
    after_help = crate::error::EXIT_CODES
)]
pub struct Cli {
    /// EnvironmentFile with the path topology [default: /etc/default/swupdate]
    #[arg(long, value_name = "PATH", global = true)]
    pub env_file: Option<PathBuf>,

    /// Resolve every configured path under DIR (tests, image builds)
    #[arg(long, value_name = "DIR", global = true)]
    pub root: Option<PathBuf>,

    /// Install this file (file mode) instead of UPDATE_FILE, for this run
    #[arg(
        long,
        value_name = "PATH",
        global = true,
        conflicts_with = "update_medium"
    )]
    pub update_file: Option<PathBuf>,

    /// Install the one *.swu file at the top level of this mounted medium
    #[arg(long, value_name = "DIR", global = true)]
    pub update_medium: Option<PathBuf>,

    /// Refuse unless the configuration runs swupdate once (file or download): for the OTA unit,
    /// whose start blocks until swupdate exits
    #[arg(long, global = true, conflicts_with = "daemon")]
    pub one_shot: bool,

    /// Refuse unless the configuration runs the long-lived daemon: for the daemon unit, so a
    /// leftover one-shot configuration does not install at every boot
    #[arg(long, global = true)]
    pub daemon: bool,

    /// Print the argv, shell-quoted, and exit without exec (a dry run)
    #[arg(long)]
    pub print_argv: bool,

    /// With --print-argv: print passwords and tokens instead of *** (the exact argv)
    #[arg(long, requires = "print_argv")]
    pub show_secrets: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Exec swupdate with the configured argv (the default)
    Run,
    /// Validate the whole configuration and exit; nothing is executed
    Check {
        /// Image-build check: skip what only exists at run time (UPDATE_FILE, URL)
        #[arg(long = "static")]
        static_only: bool,
    },
    /// Show every variable, where it came from, which files were read, and why each argument
    Explain,
}
