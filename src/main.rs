use std::process::ExitCode;

use clap::Parser;
use swupdate_launcher::{app, cli::Cli, error::Kind};

fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(cli) => ExitCode::from(app::run(cli)),
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(Kind::Usage.exit_code())
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
