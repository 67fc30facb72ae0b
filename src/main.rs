//! The binary: parses the command line and hands it to [`swupdate_launcher::app`].

// No unsafe code here; the library's few unsafe functions are listed in its docs.
#![deny(unsafe_code)]

use std::process::ExitCode;

use swupdate_launcher::cli::{Cli, Parsed, UsageError};
use swupdate_launcher::{app, error::Kind, logging};

fn main() -> ExitCode {
    match Cli::parse_from(std::env::args_os().skip(1)) {
        Ok(Parsed::Run(cli)) => ExitCode::from(app::run(cli)),
        Ok(Parsed::Print(text)) => match logging::print(&text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => ExitCode::from(e.exit_code()),
        },
        Err(UsageError(message)) => {
            let _ = std::io::Write::write_all(&mut std::io::stderr(), message.as_bytes());
            ExitCode::from(Kind::Usage.exit_code())
        }
    }
}
