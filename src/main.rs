use std::process::ExitCode;

use clap::Parser;
use swupdate_launcher::{app, cli::Cli, error::Kind};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(Kind::Usage.exit_code())
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("swupdate-launcher: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
