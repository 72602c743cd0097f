//! `bsonflow_sources::mongodump_archive::read_into` (plain, gzip or zstd archives) into a
//! `bsonflow_testkit::MemorySink`: no panic, no hang, every document handed to the sink framed.
//! The input is read with a sink that records corrupt spans and goes on; when it recorded any,
//! again with a sink that fails on the first one (the other error path).
#![no_main]

use std::io::Cursor;

use bsonflow_fuzz::{any_corrupt, assert_documents_framed};
use bsonflow_model::{Progress, ReadOptions};
use bsonflow_sources::{mongodump_archive, Input};
use bsonflow_testkit::MemorySink;
use libfuzzer_sys::fuzz_target;

fn read(data: &[u8], sink: &MemorySink) {
    let input = Input::from_reader(
        Cursor::new(data.to_vec()),
        "fuzz.archive",
        Some(data.len() as u64),
    );
    let progress = Progress::new();
    let report = mongodump_archive::read_into(input, sink, &progress, &ReadOptions::default());
    if !report.read_to_end {
        assert!(!sink.failures().is_empty(), "stopped early without a failure: {report:?}");
    }
    let _ = sink.failure_text();
    assert_documents_framed(sink);
}

fuzz_target!(|data: &[u8]| {
    let lenient = MemorySink::skipping_corrupt();
    read(data, &lenient);
    if any_corrupt(&lenient) {
        read(data, &MemorySink::new());
    }
});
