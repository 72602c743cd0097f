//! `bsonflow unpack`: a physical backup into a data directory.

use anyhow::Result;
use bsonflow_model::ByteSize;

use crate::cli::UnpackArgs;
use crate::physical;

pub fn run(args: UnpackArgs) -> Result<u8> {
    let threads = args.threads.map(|t| t as usize).unwrap_or(0);
    // Only a new or empty folder is unpacked into; what a failed unpack wrote there is
    // removed, so that no file that failed its check is left looking finished.
    let ours = std::fs::read_dir(&args.out).map_or(true, |mut d| d.next().is_none());
    let report = match physical::unpack_into(&args.input, &args.out, threads, args.quiet) {
        Ok(report) => report,
        Err(e) if ours && args.out.exists() => {
            let removed = remove_contents(&args.out);
            return Err(e.context(match removed {
                Ok(()) => format!(
                    "nothing is left in {}: what was unpacked before the failure was removed",
                    args.out.display()
                ),
                Err(r) => format!(
                    "removing what was unpacked into {} failed too: {r}",
                    args.out.display()
                ),
            }));
        }
        Err(e) => return Err(e),
    };
    println!(
        "bsonflow: unpacked {} ({}) into {}",
        args.input.display(),
        report.format.describe(),
        args.out.display()
    );
    println!(
        "  {} files, {} directories, {} written from {} of input in {:.2} s ({:.0} MB/s of input, {:.0} MB/s written)",
        report.files,
        report.directories,
        ByteSize(report.bytes_written),
        ByteSize(report.input_bytes),
        report.elapsed.as_secs_f64(),
        report.input_mb_per_s(),
        report.output_mb_per_s()
    );
    for s in &report.skipped {
        println!(
            "  not created: {} ({}{})",
            s.path,
            s.kind,
            s.target
                .as_ref()
                .map(|t| format!(" -> {t}"))
                .unwrap_or_default()
        );
    }
    for w in &report.warnings {
        println!("  warning: {w}");
        tracing::warn!("{w}");
    }
    Ok(crate::summary::EXIT_OK)
}

/// Removes everything inside `dir`, keeping `dir`.
fn remove_contents(dir: &std::path::Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}
