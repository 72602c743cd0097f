//! `bsonflow unpack`: a physical backup into a data directory.

use anyhow::Result;
use bsonflow_model::ByteSize;

use crate::cli::UnpackArgs;
use crate::physical;

pub fn run(args: UnpackArgs) -> Result<u8> {
    let threads = args.threads.map(|t| t as usize).unwrap_or(0);
    let report = physical::unpack_into(&args.input, &args.out, threads, args.quiet)?;
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
    }
    Ok(crate::summary::EXIT_OK)
}
