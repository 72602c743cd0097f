//! `bsonflow`: the command line. It parses options, tells what the input is, wires the
//! matching reader to the export writer, draws progress and prints the end-of-run summary.
//! All format knowledge lives in the library crates; this crate only connects them.

#![forbid(unsafe_code)]

mod cli;
mod convert;
mod physical;
mod progress;
mod remote;
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
            eprintln!("bsonflow: error: {}", one_cause_once(&e));
            ExitCode::from(summary::EXIT_FAILED)
        }
    }
}

/// The error and its causes joined by `: `, each said once: library errors already name
/// their cause in their own message, so a cause whose text is already there is left out.
fn one_cause_once(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::one_cause_once;

    #[test]
    fn causes_are_said_once() {
        let inner = std::io::Error::other("corrupt deflate stream");
        let lib =
            anyhow::Error::new(inner).context("x.tar.gz: tar: corrupt deflate stream (at byte 7)");
        let e = lib.context("unpacking into out");
        assert_eq!(
            one_cause_once(&e),
            "unpacking into out: x.tar.gz: tar: corrupt deflate stream (at byte 7)"
        );
    }
}
