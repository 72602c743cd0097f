//! `bsonflow`: the command line. It parses options, tells what the input is, wires the
//! matching reader to the export writer, draws progress and prints the end-of-run summary.
//! `inspect` wires the same readers to a counting sink (`model::Census`, through
//! `sources::survey`) and prints what they found. All format knowledge lives in the library
//! crates; this crate only connects them.
//!
//! - `cli`: the command line (clap); `convert`, `unpack`, `scaleout` (plan, run-task,
//!   commit), `inspect`, `verify` and `completions` are its subcommands, one module each.
//! - `progress`: the bar on a terminal, plain periodic lines otherwise (`--progress`).
//! - `logging`: `tracing` on stderr, `-v`/`-vv` or `RUST_LOG`; stdout stays for results.
//! - `summary`: the end-of-run summary and exit status of `convert`; `remote` and
//!   `physical` open inputs in object storage and physical backups.

#![deny(unsafe_code)]

mod cli;
mod completions;
mod convert;
mod inspect;
mod logging;
mod physical;
mod progress;
mod remote;
mod report;
mod scaleout;
mod summary;
mod unpack;
mod verify;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, ProgressMode};

fn main() -> ExitCode {
    fixed_mmap_threshold();
    let cli = Cli::parse();
    logging::init(cli.verbose);
    let progress = match &cli.command {
        Command::Convert(a) => a.progress.mode,
        Command::Plan(a) => a.convert.progress.mode,
        Command::Unpack(a) => a.progress.mode,
        Command::RunTask(a) => a.progress.mode,
        Command::Verify(a) => a.progress.mode,
        Command::Inspect(_) | Command::Commit(_) | Command::Completions(_) => {
            ProgressMode::default()
        }
    };
    progress::configure(progress);
    let result = match cli.command {
        Command::Convert(args) => convert::run(*args),
        Command::Inspect(args) => inspect::run(*args),
        Command::Unpack(args) => unpack::run(args),
        Command::Plan(args) => scaleout::plan(*args),
        Command::RunTask(args) => scaleout::run_task(args),
        Command::Commit(args) => scaleout::commit(args),
        Command::Verify(args) => verify::run(*args),
        Command::Completions(args) => completions::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            tracing::debug!("failed: {e:?}");
            eprintln!("bsonflow: error: {}", one_cause_once(&e));
            ExitCode::from(summary::EXIT_FAILED)
        }
    }
}

/// Large buffers (chunks, ranged reads, uploads: MiBs each, freed on many threads) are
/// mapped and unmapped by glibc rather than carved from its arenas: glibc raises its mmap
/// threshold to the size of a freed mapped block (up to 32 MiB), after which such buffers
/// fragment the per-thread arenas and peak RSS grows by tens of MiB from run to run.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn fixed_mmap_threshold() {
    // SAFETY: mallopt only tunes the allocator; called first thing, before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fixed_mmap_threshold() {}

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
