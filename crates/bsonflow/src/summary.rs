//! The end-of-run summary: what was written, skipped and failed, and the exit status.

use std::path::Path;
use std::time::Duration;

use bsonflow_export::RunSummary;

use crate::{EXIT_FAILED, EXIT_OK, EXIT_SKIPPED_DATA};

/// What the binary adds to the exporter's summary.
#[derive(Debug, Default)]
pub struct Notes {
    /// The input and what it was recognised as.
    pub input: String,
    /// What unpacking a physical backup did, when it had to.
    pub unpacked: Option<String>,
    /// Input files or members that belong to no collection, with why.
    pub ignored: Vec<(String, String)>,
    /// Errors of the reader (per collection or for the whole input).
    pub errors: Vec<String>,
    /// Collections whose data file was missing and that the user chose to skip.
    pub missing_skipped: Vec<String>,
}

/// A size in B, kB, MB or GB (powers of 1000), with one decimal.
fn mb(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..=999 => format!("{bytes} B"),
        1_000..=999_999 => format!("{:.1} kB", b / 1e3),
        1_000_000..=9_999_999_999 => format!("{:.1} MB", b / 1e6),
        _ => format!("{:.1} GB", b / 1e9),
    }
}

/// Prints the summary on stdout.
pub fn print(summary: &RunSummary, notes: &Notes, elapsed: Duration, out: &Path) {
    println!("bsonflow: {} -> {}", notes.input, out.display());
    if let Some(u) = &notes.unpacked {
        println!("{u}");
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
        for c in &summary.collections {
            let ns = c.ns.as_ref().map(|n| n.to_string()).unwrap_or_default();
            println!(
                "  {ns:<width$}  {:>10} docs  {:>10} BSON -> {:>10} JSON -> {:>10} gzip  {} file{}",
                c.documents,
                mb(c.bson_bytes),
                mb(c.json_bytes),
                mb(c.gzip_bytes),
                c.files,
                if c.files == 1 { "" } else { "s" }
            );
            if c.corrupt > 0 {
                println!("    {} corrupt document(s) skipped:", c.corrupt);
                for d in &c.corrupt_examples {
                    println!("      {} at byte {}: {}", d.origin, d.offset, d.detail);
                }
            }
        }
    }
    if !summary.skipped.is_empty() {
        println!("skipped:");
        for (ns, reason) in &summary.skipped {
            println!("  {ns}: {reason}");
        }
    }
    if !notes.ignored.is_empty() {
        println!("ignored input:");
        for (what, why) in &notes.ignored {
            println!("  {what}: {why}");
        }
    }
    if !notes.missing_skipped.is_empty() {
        println!("missing, skipped (--skip-missing):");
        for m in &notes.missing_skipped {
            println!("  {m}");
        }
    }
    if !summary.failed.is_empty() {
        println!("failed:");
        for (ns, e) in &summary.failed {
            println!("  {ns}: {e}");
        }
    }
    for e in &notes.errors {
        eprintln!("bsonflow: error: {e}");
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!(
        "total: {} collections, {} documents, {} BSON -> {} JSON -> {} gzip in {} files, {:.2} s ({:.0} MB/s of BSON)",
        summary.collections.len(),
        summary.documents(),
        mb(summary.bson_bytes()),
        mb(summary.json_bytes()),
        mb(summary.gzip_bytes()),
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
pub fn exit_code(summary: &RunSummary, notes: &Notes) -> u8 {
    if !summary.complete_written {
        EXIT_FAILED
    } else if summary.corrupt() > 0 || !notes.missing_skipped.is_empty() {
        EXIT_SKIPPED_DATA
    } else {
        EXIT_OK
    }
}

#[cfg(test)]
mod tests {
    use super::mb;

    #[test]
    fn sizes_read_well() {
        assert_eq!(mb(0), "0 B");
        assert_eq!(mb(999), "999 B");
        assert_eq!(mb(6465), "6.5 kB");
        assert_eq!(mb(268_435_897), "268.4 MB");
        assert_eq!(mb(12_300_000_000), "12.3 GB");
    }
}
