//! One file per command.

mod clean;
mod compile;
mod deps;
mod ls;
mod parse;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::printer::Printer;

pub fn run(cli: Cli, printer: &Printer) -> Result<ExitCode> {
    match cli.command {
        Command::Compile(args) => compile::run(&args, printer),
        Command::Ls(args) => ls::run(&args, printer),
        Command::Parse(args) => parse::run(&args, printer),
        Command::Deps(args) => deps::run(&args, printer),
        Command::Clean(args) => clean::run(&args, printer),
    }
}

/// Seconds with two decimals, as dbt prints them.
pub fn seconds(duration: std::time::Duration) -> String {
    format!("{:.2}s", duration.as_secs_f64())
}
