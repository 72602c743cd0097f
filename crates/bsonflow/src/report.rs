//! `convert --report FILE`: the run's summary as JSON, for pipelines. The schema is in the
//! README ("Using bsonflow from a pipeline") and `docs/report.schema.json`; every field
//! comes from the exporter's [`RunSummary`], the same ledger the printed summary reads.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use bsonflow_export::{Outcome, RunSummary};
use serde_json::{json, Value};

/// The version of the report's schema; raised when a field changes meaning or goes away.
pub const REPORT_VERSION: u32 = 1;

/// One input of the run as the report names it.
pub struct InputFacts {
    /// The input as given (a URL without its query string).
    pub input: String,
    /// The shard its files are named after.
    pub shard: String,
    /// What it was told to be (`mongodump folder`, `tar.zst of a cloud BSON download`…).
    pub kind: String,
}

/// The report of a run that reached its summary.
pub fn of_summary(
    summary: &RunSummary,
    inputs: &[InputFacts],
    out: &str,
    elapsed: Duration,
    exit_status: u8,
) -> Value {
    let read = &summary.read;
    let collections: Vec<Value> = summary
        .collections
        .iter()
        .map(|c| {
            let ns =
                c.ns.as_ref()
                    .expect("a written collection has its namespace");
            json!({
                "ns": ns.to_string(),
                "db": ns.db,
                "collection": ns.collection,
                "shard": c.shard,
                "documents": c.documents,
                "bson_bytes": c.bson_bytes,
                "json_bytes": c.json_bytes,
                "gzip_bytes": c.gzip_bytes,
                "chunks": c.files,
                "seconds": seconds(c.elapsed),
                "corrupt_skipped": c.corrupt,
                "orphans_dropped": c.orphans,
                "orphan_ids": c.orphan_examples,
            })
        })
        .collect();
    let corrupt: Vec<Value> = summary
        .collections
        .iter()
        .flat_map(|c| {
            let ns = c.ns.as_ref().map(|n| n.to_string()).unwrap_or_default();
            c.corrupt_examples.iter().map(move |d| {
                json!({
                    "ns": ns,
                    "shard": c.shard,
                    "file": d.origin,
                    "offset": d.offset,
                    "detail": d.detail,
                })
            })
        })
        .collect();
    let corrupt_unlisted: u64 = summary
        .collections
        .iter()
        .map(|c| c.corrupt - c.corrupt_examples.len() as u64)
        .sum();
    let outcome = match summary.outcome() {
        Outcome::Complete => "complete",
        Outcome::CompleteWithSkips => "complete_with_skips",
        Outcome::Failed => "failed",
    };
    json!({
        "report_version": REPORT_VERSION,
        "bsonflow_version": env!("CARGO_PKG_VERSION"),
        "command": "convert",
        "exit_status": exit_status,
        "outcome": outcome,
        "complete_written": summary.complete_written,
        "error": Value::Null,
        "output": out,
        "inputs": inputs_json(inputs),
        "format": read.format,
        "notes": read.notes,
        "seconds": seconds(elapsed),
        "totals": {
            "collections": summary.collection_count(),
            "documents": summary.documents(),
            "bson_bytes": summary.bson_bytes(),
            "json_bytes": summary.json_bytes(),
            "gzip_bytes": summary.gzip_bytes(),
            "files": summary.total_files,
            "corrupt_skipped": summary.corrupt(),
            "orphans_dropped": summary.orphans(),
        },
        "collections": collections,
        "skipped": summary.skipped.iter().map(|(ns, why)| json!({
            "ns": ns.to_string(),
            "reason": why.to_string(),
        })).collect::<Vec<_>>(),
        "corrupt_documents": corrupt,
        "corrupt_unlisted": corrupt_unlisted,
        "missing_skipped": read.left_out.iter().map(|l| json!({
            "ns": l.ns.to_string(),
            "why": l.why,
        })).collect::<Vec<_>>(),
        "ignored_input": read.ignored.iter().map(|i| json!({
            "what": i.what,
            "why": i.why,
        })).collect::<Vec<_>>(),
        "ignored_unlisted": read.ignored_unlisted,
        "metadata_differences": summary.metadata_differences.iter().map(|(ns, d)| json!({
            "ns": ns.to_string(),
            "difference": d,
        })).collect::<Vec<_>>(),
        "failures": summary.failures().map(|(ns, f)| json!({
            "ns": ns.map(|n| n.to_string()),
            "kind": format!("{:?}", f.kind).to_lowercase(),
            "message": f.message,
        })).collect::<Vec<_>>(),
    })
}

/// The report of a run that stopped before it had a summary (a bad input, a refused output
/// folder): exit status 1 and the error, nothing written.
pub fn of_error(error: &str, inputs: &[InputFacts], out: &str, elapsed: Duration) -> Value {
    json!({
        "report_version": REPORT_VERSION,
        "bsonflow_version": env!("CARGO_PKG_VERSION"),
        "command": "convert",
        "exit_status": crate::summary::EXIT_FAILED,
        "outcome": "failed",
        "complete_written": false,
        "error": error,
        "output": out,
        "inputs": inputs_json(inputs),
        "seconds": seconds(elapsed),
    })
}

fn inputs_json(inputs: &[InputFacts]) -> Vec<Value> {
    inputs
        .iter()
        .map(|i| json!({"input": i.input, "shard": i.shard, "kind": i.kind}))
        .collect()
}

fn seconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Writes `report` to `path` (pretty-printed, by a temporary file and a rename, so that a
/// reader never sees half a report).
pub fn write(path: &Path, report: &Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report.json".into());
    let tmp = path.with_file_name(format!(".{name}.partial"));
    std::fs::write(&tmp, text).with_context(|| format!("--report {}", path.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("--report {}", path.display()))?;
    Ok(())
}
