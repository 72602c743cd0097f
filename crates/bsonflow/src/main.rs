//! `bsonflow`: the command line. It parses options, tells what the input is, wires the
//! matching reader to the export writer, draws progress and prints the end-of-run summary.
//! All format knowledge lives in the library crates; this crate only connects them.

#![forbid(unsafe_code)]

mod cli;
mod convert;
mod physical;
mod progress;
mod summary;
mod unpack;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Convert(args) => convert::run(*args),
        Command::Unpack(args) => unpack::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("bsonflow: error: {e:#}");
            ExitCode::from(summary::EXIT_FAILED)
        }
    }
}
