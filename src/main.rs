//! The binary: parses the command line into an action and hands it to
//! [`swupdate_launcher::app`], which matches it.

// No unsafe code here; the library's is all in its `system` module.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use swupdate_launcher::app;
use swupdate_launcher::cli::{Action, UsageError};
use swupdate_launcher::error::Kind;

fn main() -> ExitCode {
    match Action::parse_from(std::env::args_os().skip(1)) {
        Ok(action) => ExitCode::from(app::run(action)),
        Err(UsageError(message)) => {
            let _ = std::io::Write::write_all(&mut std::io::stderr(), message.as_bytes());
            ExitCode::from(Kind::Usage.exit_code())
        }
    }
}
