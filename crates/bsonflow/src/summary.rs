//! The end-of-run summary: what was written, skipped and failed, and the exit status that
//! goes with it. Everything printed comes from the exporter's [`RunSummary`]: one ledger.

use std::path::Path;
use std::time::Duration;

use bsonflow_export::{Outcome, RunSummary};
use bsonflow_model::ByteSize;

/// Exit status: everything written in full.
pub const EXIT_OK: u8 = 0;
/// Exit status: the run failed; no `.complete` was written.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: the export is complete, but data the user asked to skip was skipped
/// (corrupt documents under `--skip-corrupt`, missing collection files under
/// `--skip-missing`). The summary lists what.
pub const EXIT_SKIPPED_DATA: u8 = 3;

/// Corrupt documents printed per collection; the report lists them all.
const PRINTED_CORRUPT: usize = 10;

/// Prints the summary on stdout and every failure on stderr.
pub fn print(summary: &RunSummary, input: &str, elapsed: Duration, out: &Path) {
    log_warnings(summary);
    let read = &summary.read;
    let several = summary.shards.len() > 1;
    println!("bsonflow: {input} -> {}", out.display());
    if !read.format.is_empty() {
        println!("read: {}", read.format);
    }
    for note in &read.notes {
        println!("{note}");
    }
    if !summary.collections.is_empty() {
        println!("exported:");
        let width = summary
            .collections
            .iter()
            .filter_map(|c| c.ns.as_ref())
            .map(|ns| ns.to_string().len())
            .max()
            .unwrap_or(0);
        let width = width
            + match several {
                true => 3 + summary.shards.iter().map(|s| s.len()).max().unwrap_or(0),
                false => 0,
            };
        for c in &summary.collections {
            let mut ns = c.ns.as_ref().map(|n| n.to_string()).unwrap_or_default();
            if several {
                ns = format!("{ns} [{}]", c.shard);
            }
            println!(
                "  {ns:<width$}  {:>10} docs  {:>10} BSON -> {:>10} JSON -> {:>10} gzip  {} file{}",
                c.documents,
                ByteSize(c.bson_bytes).to_string(),
                ByteSize(c.json_bytes).to_string(),
                ByteSize(c.gzip_bytes).to_string(),
                c.files,
                if c.files == 1 { "" } else { "s" }
            );
            if c.corrupt > 0 {
                println!("    {} corrupt document(s) skipped:", c.corrupt);
                for d in c.corrupt_examples.iter().take(PRINTED_CORRUPT) {
                    println!("      {} at byte {}: {}", d.origin, d.offset, d.detail);
                }
                if c.corrupt > PRINTED_CORRUPT as u64 {
                    println!(
                        "      … {} more (--report FILE lists every one)",
                        c.corrupt - PRINTED_CORRUPT as u64
                    );
                }
            }
        }
    }
    if summary.orphans() > 0 {
        println!("orphans dropped (owned by another shard, per the config server's chunk table):");
        for c in summary.collections.iter().filter(|c| c.orphans > 0) {
            let ns = c.ns.as_ref().map(|n| n.to_string()).unwrap_or_default();
            println!(
                "  {ns} [{}]: {} document(s), _id {}{}",
                c.shard,
                c.orphans,
                c.orphan_examples.join(", "),
                if c.orphans > c.orphan_examples.len() as u64 {
                    ", …"
                } else {
                    ""
                }
            );
        }
    }
    if !summary.metadata_differences.is_empty() {
        println!("shards differ (metadata.json holds the union):");
        for (ns, d) in &summary.metadata_differences {
            println!("  {ns}: {d}");
        }
    }
    if !summary.skipped.is_empty() {
        println!("skipped:");
        for (ns, reason) in &summary.skipped {
            println!("  {ns}: {reason}");
        }
    }
    if !read.ignored.is_empty() {
        println!("ignored input:");
        for i in &read.ignored {
            println!("  {}: {}", i.what, i.why);
        }
        if read.ignored_unlisted > 0 {
            println!("  {} more, not listed", read.ignored_unlisted);
        }
    }
    if !read.left_out.is_empty() {
        println!("missing, skipped (--skip-missing):");
        for l in &read.left_out {
            println!("  {}: {}", l.ns, l.why);
        }
    }
    if !summary.failed.is_empty() {
        println!("failed:");
        for (ns, f) in &summary.failed {
            println!("  {ns}: {f}");
        }
    }
    for (_, f) in summary.failures() {
        eprintln!("bsonflow: error: {f}");
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    if several {
        for shard in &summary.shards {
            let mine = summary.collections.iter().filter(|c| &c.shard == shard);
            let (docs, files) = mine.fold((0, 0), |(d, f), c| (d + c.documents, f + c.files));
            println!("shard {shard}: {docs} documents in {files} files");
        }
    }
    println!(
        "total: {} collections, {} documents, {} BSON -> {} JSON -> {} gzip in {} files, {:.2} s ({:.0} MB/s of BSON)",
        summary.collection_count(),
        summary.documents(),
        ByteSize(summary.bson_bytes()),
        ByteSize(summary.json_bytes()),
        ByteSize(summary.gzip_bytes()),
        summary.total_files,
        secs,
        summary.bson_bytes() as f64 / 1e6 / secs
    );
    if summary.corrupt() > 0 {
        println!(
            "{} corrupt document(s) skipped (--skip-corrupt)",
            summary.corrupt()
        );
    }
    if summary.complete_written {
        println!(".complete written: the export is complete");
    } else {
        println!(".complete NOT written: the export is incomplete (see the errors above)");
    }
}

/// 0 when everything was written, 3 when complete but with data the user asked to skip,
/// 1 when the run failed.
pub fn exit_code(summary: &RunSummary) -> u8 {
    match summary.outcome() {
        Outcome::Complete => EXIT_OK,
        Outcome::CompleteWithSkips => EXIT_SKIPPED_DATA,
        Outcome::Failed => EXIT_FAILED,
    }
}

/// Puts what the summary reports besides the data — namespaces skipped, input ignored,
/// collections left out, corrupt documents skipped — in the log as warnings, so that a
/// pipeline that keeps only the log (stderr) sees them too.
pub fn log_warnings(summary: &RunSummary) {
    let read = &summary.read;
    tracing::info!(format = %read.format, "read");
    for (ns, reason) in &summary.skipped {
        tracing::warn!("namespace {ns} skipped: {reason}");
    }
    for i in &read.ignored {
        tracing::warn!("ignored {}: {}", i.what, i.why);
    }
    if read.ignored_unlisted > 0 {
        tracing::warn!(
            "ignored {} more input items, not listed",
            read.ignored_unlisted
        );
    }
    for l in &read.left_out {
        tracing::warn!("collection {} left out (--skip-missing): {}", l.ns, l.why);
    }
    for c in &summary.collections {
        let ns = c.ns.as_ref().map(|n| n.to_string()).unwrap_or_default();
        tracing::info!("{ns}: {} documents, {} files", c.documents, c.files);
        for d in &c.corrupt_examples {
            tracing::warn!(
                "{ns}: corrupt document skipped (--skip-corrupt): {} at byte {}: {}",
                d.origin,
                d.offset,
                d.detail
            );
        }
        let unlisted = c.corrupt.saturating_sub(c.corrupt_examples.len() as u64);
        if unlisted > 0 {
            tracing::warn!("{ns}: {unlisted} more corrupt documents skipped, not listed");
        }
    }
}
