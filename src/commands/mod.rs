//! One file per command.

mod clean;
mod compile;
mod debug;
mod deps;
mod docs;
mod freshness;
mod init;
mod local;
mod ls;
mod parse;
mod retry;
mod run;
mod run_operation;
mod run_report;
mod show;

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
        Command::Run(args) => run::run(&args, run::Kind::Run, printer),
        Command::Seed(args) => run::run(&args, run::Kind::Seed, printer),
        Command::Snapshot(args) => run::run(&args, run::Kind::Snapshot, printer),
        Command::Test(args) => run::run(&args, run::Kind::Test, printer),
        Command::Build(args) => run::run(&args, run::Kind::Build, printer),
        Command::Source(crate::cli::SourceCommand::Freshness(args)) => {
            freshness::run(&args, printer)
        }
        Command::Docs(crate::cli::DocsCommand::Generate(args)) => docs::generate(&args, printer),
        Command::Retry(args) => retry::run(&args, printer),
        Command::RunOperation(args) => run_operation::run(&args, printer),
        Command::Debug(args) => debug::run(&args, printer),
        Command::Local(args) => local::run(&args, printer),
        Command::Show(args) => show::run(&args, printer),
        Command::Init(args) => init::run(&args, printer),
    }
}

/// Seconds with two decimals, as dbt prints them.
pub fn seconds(duration: std::time::Duration) -> String {
    format!("{:.2}s", duration.as_secs_f64())
}
