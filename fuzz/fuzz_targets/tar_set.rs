//! `bsonflow_sources::tar_set::read_into`: a BSON set in a tar (plain, gzip or zstd; ustar,
//! GNU long names, pax, sizes, the end-of-archive marker) into a `MemorySink`, with the spill
//! folder in a private temporary folder and at most two cloud collections open at once, so
//! that out-of-order parts spill. No panic; every document framed; a read that stopped early
//! says why; no spill file left behind.
#![no_main]

use std::io::Cursor;

use bsonflow_fuzz::{any_corrupt, assert_documents_framed, limit_file_size, scratch};
use bsonflow_model::{Progress, ReadOptions};
use bsonflow_sources::{tar_set, Input};
use bsonflow_testkit::MemorySink;
use libfuzzer_sys::fuzz_target;

fn read(data: &[u8], sink: &MemorySink) {
    let spill = scratch("tar_set").join("spill");
    let options = ReadOptions {
        spill_dir: Some(spill.clone()),
        max_open_writers: 2,
        ..ReadOptions::default()
    };
    let input = Input::from_reader(
        Cursor::new(data.to_vec()),
        "fuzz.tar",
        Some(data.len() as u64),
    );
    let report = tar_set::read_into(input, sink, &Progress::new(), &options);
    if !report.read_to_end {
        assert!(!sink.failures().is_empty(), "stopped early without a failure: {report:?}");
    }
    let _ = sink.failure_text();
    assert_documents_framed(sink);
    if let Ok(entries) = std::fs::read_dir(&spill) {
        let left: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        assert!(left.is_empty(), "spill files left behind: {left:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    limit_file_size();
    let lenient = MemorySink::skipping_corrupt();
    read(data, &lenient);
    if any_corrupt(&lenient) {
        read(data, &MemorySink::new());
    }
});
