//! `inn`: the command-line tool — fit an invertible network to a table of simulation runs,
//! sample posteriors `p(x | y)` for observations, evaluate, check calibration, plot, and describe
//! saved models.
//!
//! Exit codes: 0 success, 1 runtime failure (bad data, model file or training), 2 usage error.

mod args;
mod check;
mod columns;
mod evaluate;
mod fit;
mod info;
mod model;
mod plot;
mod sample;
mod scaler;

use clap::Parser;
use inn_cli::{error, table};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let result = match &cli.command {
        args::Command::Fit(a) => fit::run(a),
        args::Command::Sample(a) => sample::run(a),
        args::Command::Eval(a) => evaluate::run(a),
        args::Command::Info(a) => info::run(a),
        args::Command::Check(a) => check::run(a),
        args::Command::Plot(a) => plot::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
