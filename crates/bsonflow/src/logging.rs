//! The log: `tracing` events on stderr, so that stdout keeps only results (`plan`'s JSON,
//! `verify --json`, summaries). `-v` shows what each step does, `-vv` details; `RUST_LOG`,
//! when set, replaces both (`RUST_LOG=bsonflow=debug`). Warnings are on by default.
//!
//! Only bsonflow's own events are shown unless `RUST_LOG` asks for others: the libraries
//! below (object_store, reqwest) may log request URLs, and bsonflow never logs credentials.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The filter for `-v` given `verbose` times.
fn directives(verbose: u8) -> String {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    format!("off,bsonflow={level}")
}

/// Installs the subscriber for the run.
pub fn init(verbose: u8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(text) if !text.trim().is_empty() => EnvFilter::try_new(&text).unwrap_or_else(|e| {
            eprintln!("bsonflow: RUST_LOG={text} is not a filter ({e}); using -v's");
            EnvFilter::new(directives(verbose))
        }),
        _ => EnvFilter::new(directives(verbose)),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::directives;

    #[test]
    fn verbosity_raises_bsonflow_only() {
        assert_eq!(directives(0), "off,bsonflow=warn");
        assert_eq!(directives(1), "off,bsonflow=info");
        assert_eq!(directives(2), "off,bsonflow=debug");
        assert_eq!(directives(9), "off,bsonflow=trace");
        for v in 0..4 {
            assert!(tracing_subscriber::EnvFilter::try_new(directives(v)).is_ok());
        }
    }
}
