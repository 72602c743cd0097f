//! The rules of a run, driven through the export crate's public API only: when a collection
//! counts as failed, when `.complete` is written, duplicate and filtered namespaces, the
//! `--skip-corrupt` policy and the output folder.
//!
//! Documents are real BSON made by the `bson` crate; outputs are read back with `flate2` and
//! `serde_json`.

use std::path::Path;

use bson::doc;
use bsonflow_export::{
    CompleteMarker, CorruptDocument, ExportError, ExportOptions, Exporter, Outcome, RunSummary,
    MARKER,
};
use bsonflow_model::{
    CollectionMetadata, CollectionWriter, DocumentSink, Failure, FailureKind, Namespace,
    NamespaceFilter, NamespacePattern, ReadReport, SkipReason,
};
use bsonflow_testkit::{files_under, int_ids as ids, read_chunks};

fn ns(full: &str) -> Namespace {
    Namespace::parse(full).unwrap()
}

fn meta() -> CollectionMetadata {
    CollectionMetadata::default()
}

fn options(out: &Path) -> ExportOptions {
    let mut o = ExportOptions::new(out);
    o.threads = 2;
    o
}

fn new_exporter(options: ExportOptions) -> Exporter {
    match Exporter::new(options) {
        Ok(e) => e,
        Err(e) => panic!("Exporter::new: {e}"),
    }
}

/// A reader's report for an input read to its end.
fn read_to_end() -> ReadReport {
    ReadReport {
        read_to_end: true,
        ..Default::default()
    }
}

fn marker() -> CompleteMarker {
    CompleteMarker {
        cluster_name: "cluster0".into(),
        snapshot_initiation_date: "2024-01-02T03:04:05.678Z".into(),
        ..Default::default()
    }
}

fn finish(exporter: Exporter, report: ReadReport) -> RunSummary {
    exporter
        .finish(&marker(), report)
        .unwrap_or_else(|e| panic!("Exporter::finish: {e}"))
}

/// A valid document of about 100 bytes.
fn document(i: i32) -> Vec<u8> {
    doc! {
        "_id": i,
        "name": format!("item number {i}"),
        "tags": ["red", "green"],
        "price": f64::from(i) * 1.25,
    }
    .to_vec()
    .unwrap()
}

fn documents(n: i32) -> Vec<Vec<u8>> {
    (0..n).map(document).collect()
}

/// A document whose frame is sound but whose string `s` is not UTF-8.
fn invalid_document() -> Vec<u8> {
    let mut raw = doc! {"_id": 7, "s": "abcdef"}.to_vec().unwrap();
    let at = raw.windows(6).position(|w| w == b"abcdef").unwrap();
    raw[at + 2] = 0xff;
    raw
}

/// Where in the origin the problem of [`invalid_document`] lies when the document starts at
/// byte `start`: from the first byte of its element `s` (type, key, length) to the byte that
/// is not UTF-8.
fn problem_span(start: u64) -> std::ops::RangeInclusive<u64> {
    let raw = invalid_document();
    let bad = raw.iter().position(|&b| b == 0xff).unwrap() as u64;
    let element = bad - 2 - 4 - 2 - 1;
    assert_eq!(raw[element as usize], 0x02, "the type byte of a string");
    start + element..=start + bad
}

fn origin(full: &str) -> String {
    format!("dump/{}.bson", full.replacen('.', "/", 1))
}

/// Opens `full`, writes `docs` one after the other from its origin, and finishes it.
fn export_collection(exporter: &Exporter, full: &str, docs: &[Vec<u8>]) {
    let mut w = exporter
        .open(&ns(full), &meta())
        .unwrap()
        .expect("the namespace is exported");
    w.set_origin(&origin(full));
    let mut offset = 0;
    for d in docs {
        w.write_document(d, offset).unwrap();
        offset += d.len() as u64;
    }
    w.finish().unwrap();
}

fn data_file_count(dir: &Path) -> usize {
    files_under(dir)
        .keys()
        .filter(|k| k.ends_with(".json.gz"))
        .count()
}

fn failure<'a>(summary: &'a RunSummary, full: &str) -> &'a Failure {
    summary
        .failed
        .iter()
        .find(|(n, _)| *n == ns(full))
        .map(|(_, f)| f)
        .unwrap_or_else(|| panic!("{full} is not failed: {:?}", summary.failed))
}

fn exported(summary: &RunSummary) -> Vec<String> {
    summary
        .collections
        .iter()
        .map(|c| c.ns.as_ref().unwrap().to_string())
        .collect()
}

/// Asserts the run ended without `.complete`, on disk and in the summary.
fn assert_not_complete(summary: &RunSummary, out: &Path) {
    assert!(!summary.complete_written);
    assert_eq!(summary.outcome(), Outcome::Failed);
    assert!(
        !out.join(".complete").exists(),
        ".complete was written: {:?}",
        files_under(out).keys().collect::<Vec<_>>()
    );
}

// 1. A collection dropped mid-way.

#[test]
fn a_writer_dropped_without_finish_fails_its_collection_as_incomplete() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut o = options(&out);
    o.chunk_bytes = 256;
    let exporter = new_exporter(o);
    export_collection(&exporter, "shop.users", &documents(3));
    {
        let mut w = exporter.open(&ns("shop.orders"), &meta()).unwrap().unwrap();
        w.set_origin("dump/shop/orders.bson");
        let mut offset = 0;
        for d in documents(30) {
            w.write_document(&d, offset).unwrap();
            offset += d.len() as u64;
        }
        // The reader stops here: the writer goes without finish().
    }
    let summary = finish(exporter, read_to_end());
    assert_eq!(summary.failed.len(), 1, "{:?}", summary.failed);
    let f = failure(&summary, "shop.orders");
    assert_eq!(f.kind, FailureKind::Incomplete, "{f:?}");
    assert!(f.message.contains("dump/shop/orders.bson"), "{f:?}");
    assert_eq!(exported(&summary), ["shop.users"]);
    assert!(summary.input_failures.is_empty());
    assert_not_complete(&summary, &out);
    // The collection that was finished is written in full all the same.
    assert_eq!(ids(&read_chunks(&out.join("shop/users"))), [0, 1, 2]);
    assert!(out.join("shop/users/metadata.json").is_file());
}

// 2. A failure is never overwritten by a later success.

#[test]
fn finish_after_a_failed_write_does_not_undo_the_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let exporter = new_exporter(options(&out));
    let mut w = exporter.open(&ns("shop.orders"), &meta()).unwrap().unwrap();
    w.set_origin("dump/shop/orders.bson");
    let good = document(1);
    w.write_document(&good, 0).unwrap();
    let bad = invalid_document();
    let err = w
        .write_document(&bad, good.len() as u64)
        .expect_err("invalid UTF-8 without skip_corrupt");
    // Later writes are refused, and finish reports the failure again.
    assert!(w.write_document(&document(2), 999).is_err());
    let finish_err = w.finish().expect_err("finish after a failed write");
    assert_eq!(finish_err.to_string(), err.to_string());
    let summary = finish(exporter, read_to_end());
    let f = failure(&summary, "shop.orders");
    assert_eq!(f.kind, FailureKind::Corrupt);
    assert_eq!(f.message, err.to_string());
    assert!(summary.collections.is_empty(), "{:?}", summary.collections);
    assert_not_complete(&summary, &out);
}

#[test]
fn a_reader_failure_after_a_successful_finish_fails_the_collection() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let exporter = new_exporter(options(&out));
    export_collection(&exporter, "shop.orders", &documents(5));
    export_collection(&exporter, "shop.users", &documents(2));
    let late = Failure::new(FailureKind::Corrupt, "shop.orders: bad checksum at the end");
    exporter.fail(Some(&ns("shop.orders")), late.clone());
    let summary = finish(exporter, read_to_end());
    assert_eq!(summary.failed, vec![(ns("shop.orders"), late)]);
    assert_eq!(exported(&summary), ["shop.users"]);
    assert_not_complete(&summary, &out);
}

#[test]
fn an_input_failure_prevents_complete_and_is_listed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let exporter = new_exporter(options(&out));
    export_collection(&exporter, "shop.orders", &documents(5));
    let truncated = Failure::new(FailureKind::Corrupt, "backup.tar: truncated at byte 1024");
    let header = Failure::new(FailureKind::Input, "backup.tar: unreadable");
    exporter.fail(None, truncated.clone());
    exporter.fail(None, header.clone());
    exporter.fail(None, truncated.clone());
    let summary = finish(exporter, read_to_end());
    assert_eq!(
        summary.input_failures,
        vec![truncated.clone(), header.clone()]
    );
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(exported(&summary), ["shop.orders"]);
    let listed: Vec<_> = summary.failures().collect();
    assert_eq!(listed, vec![(None, &truncated), (None, &header)]);
    assert_not_complete(&summary, &out);
}

#[test]
fn incomplete_gives_way_to_the_readers_precise_failure_and_nothing_else_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let exporter = new_exporter(options(&out));
    let precise = Failure::new(FailureKind::Corrupt, "bad crc in block 3");
    let later = Failure::new(FailureKind::Input, "a later failure");

    // Dropped first (Incomplete), then the reader says why: the reason wins.
    let w = exporter
        .open(&ns("a.dropped_first"), &meta())
        .unwrap()
        .unwrap();
    drop(w);
    exporter.fail(Some(&ns("a.dropped_first")), precise.clone());
    exporter.fail(Some(&ns("a.dropped_first")), later.clone());

    // The reader says why, then drops the writer: the reason stays.
    let mut w = exporter
        .open(&ns("a.failed_first"), &meta())
        .unwrap()
        .unwrap();
    w.write_document(&document(1), 0).unwrap();
    exporter.fail(Some(&ns("a.failed_first")), precise.clone());
    drop(w);

    // The reader says why, then (wrongly) finishes the writer: still failed.
    let mut w = exporter
        .open(&ns("a.finished_after"), &meta())
        .unwrap()
        .unwrap();
    w.write_document(&document(1), 0).unwrap();
    exporter.fail(Some(&ns("a.finished_after")), precise.clone());
    let _ = w.finish();

    let summary = finish(exporter, read_to_end());
    assert_eq!(
        summary.failed,
        vec![
            (ns("a.dropped_first"), precise.clone()),
            (ns("a.failed_first"), precise.clone()),
            (ns("a.finished_after"), precise.clone()),
        ]
    );
    assert!(summary.collections.is_empty(), "{:?}", summary.collections);
    assert_not_complete(&summary, &out);
}

// 3. `.complete` only when every input is complete.

#[test]
fn no_complete_marker_unless_the_input_was_read_to_its_end() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let exporter = new_exporter(options(&out));
    export_collection(&exporter, "shop.orders", &documents(5));
    let report = ReadReport {
        read_to_end: false,
        format: "mongodump archive".into(),
        ..Default::default()
    };
    let summary = finish(exporter, report);
    assert!(summary.failed.is_empty() && summary.input_failures.is_empty());
    assert_eq!(exported(&summary), ["shop.orders"]);
    assert_eq!(summary.read.format, "mongodump archive");
    assert_not_complete(&summary, &out);
    // What was read is still written out.
    assert!(out.join("shop/orders/metadata.json").is_file());
    assert_eq!(ids(&read_chunks(&out.join("shop/orders"))), [0, 1, 2, 3, 4]);
}

#[test]
fn the_complete_marker_counts_the_data_files_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut o = options(&out);
    o.chunk_bytes = 300;
    let exporter = new_exporter(o);
    export_collection(&exporter, "shop.orders", &documents(40));
    export_collection(&exporter, "shop.users", &documents(3));
    export_collection(&exporter, "blog.posts", &[]);
    let summary = finish(exporter, read_to_end());
    assert!(summary.complete_written);
    assert_eq!(summary.outcome(), Outcome::Complete);
    let on_disk = data_file_count(&out);
    assert!(on_disk > 3, "chunk_bytes 300 splits shop.orders: {on_disk}");
    assert_eq!(summary.total_files, on_disk as u64);
    assert_eq!(
        summary.collections.iter().map(|c| c.files).sum::<u64>(),
        on_disk as u64
    );
    let text = std::fs::read_to_string(out.join(".complete")).unwrap();
    assert_eq!(text, marker().to_json(on_disk as u64));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["totalFiles"], on_disk);
    assert_eq!(json["clusterName"], "cluster0");
    assert_eq!(json["snapshotInitiationDate"], "2024-01-02T03:04:05.678Z");
    // Every collection, the empty one included, has its metadata.json.
    for dir in ["shop/orders", "shop/users", "blog/posts"] {
        let text = std::fs::read_to_string(out.join(dir).join("metadata.json")).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["collectionName"], dir.split('/').nth(1).unwrap());
    }
}

// 4. Duplicate namespaces.

#[test]
fn a_namespace_opened_twice_is_an_error_and_ends_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let exporter = new_exporter(options(&out));

    // The first writer is still open when the namespace comes again.
    let mut first = exporter.open(&ns("shop.orders"), &meta()).unwrap().unwrap();
    first.write_document(&document(1), 0).unwrap();
    let err = match exporter.open(&ns("shop.orders"), &meta()) {
        Err(e) => e,
        Ok(_) => panic!("shop.orders opened twice"),
    };
    assert!(err.to_string().contains("shop.orders"), "{err}");
    assert!(err.to_string().contains("twice"), "{err}");
    first.write_document(&document(2), 100).unwrap();
    let _ = first.finish();

    // The first writer had finished already.
    export_collection(&exporter, "shop.users", &documents(2));
    assert!(exporter.open(&ns("shop.users"), &meta()).is_err());

    export_collection(&exporter, "shop.other", &documents(2));
    let summary = finish(exporter, read_to_end());
    for full in ["shop.orders", "shop.users"] {
        let f = failure(&summary, full);
        assert_eq!(f.kind, FailureKind::Namespace, "{f:?}");
        assert!(f.message.contains(full), "{f:?}");
    }
    assert_eq!(summary.failed.len(), 2);
    assert_eq!(exported(&summary), ["shop.other"]);
    assert_not_complete(&summary, &out);
}

// 7. The `--skip-corrupt` policy.

#[test]
fn skip_corrupt_counts_and_lists_corrupt_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut o = options(&out);
    o.skip_corrupt = true;
    let exporter = new_exporter(o);
    let mut w = exporter.open(&ns("shop.orders"), &meta()).unwrap().unwrap();
    w.set_origin("dump/shop/orders.bson");
    let bad = invalid_document();
    w.write_document(&document(1), 0).unwrap();
    w.write_document(&bad, 4096).unwrap();
    w.write_document(&document(2), 8192).unwrap();
    w.set_origin("dump/shop/orders.bson.part2");
    w.corrupt(300, "length prefix 7 is below the minimum of 5")
        .unwrap();
    w.finish().unwrap();

    // A second collection with many corrupt documents: all counted, the first few listed.
    let mut w = exporter.open(&ns("shop.users"), &meta()).unwrap().unwrap();
    w.set_origin("users.bson");
    for i in 0..25u64 {
        w.write_document(&bad, i * 1000).unwrap();
    }
    w.write_document(&document(9), 25_000).unwrap();
    w.finish().unwrap();

    let summary = finish(exporter, read_to_end());
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert!(summary.complete_written);
    assert!(out.join(".complete").is_file());
    assert_eq!(summary.outcome(), Outcome::CompleteWithSkips);
    assert_eq!(summary.corrupt(), 27);

    let orders = &summary.collections[0];
    assert_eq!(orders.ns, Some(ns("shop.orders")));
    assert_eq!(orders.documents, 2);
    assert_eq!(orders.corrupt, 2);
    assert_eq!(orders.corrupt_examples.len(), 2);
    let first = &orders.corrupt_examples[0];
    assert_eq!(first.origin, "dump/shop/orders.bson");
    assert!(problem_span(4096).contains(&first.offset), "{first:?}");
    assert!(
        first.detail.contains("document that starts at byte 4096"),
        "{first:?}"
    );
    assert_eq!(
        orders.corrupt_examples[1],
        CorruptDocument {
            origin: "dump/shop/orders.bson.part2".into(),
            offset: 300,
            detail: "length prefix 7 is below the minimum of 5".into(),
        }
    );
    // Only the good documents are in the export, in order.
    assert_eq!(ids(&read_chunks(&out.join("shop/orders"))), [1, 2]);

    let users = &summary.collections[1];
    assert_eq!(users.ns, Some(ns("shop.users")));
    assert_eq!((users.documents, users.corrupt), (1, 25));
    let listed = &users.corrupt_examples;
    assert_eq!(listed.len(), 25, "every skipped span is listed");
    for (i, c) in listed.iter().enumerate() {
        let start = i as u64 * 1000;
        assert_eq!(c.origin, "users.bson");
        assert!(problem_span(start).contains(&c.offset), "{i}: {c:?}");
    }
    assert_eq!(ids(&read_chunks(&out.join("shop/users"))), [9]);
}

/// The number after "at byte " in `message`.
fn byte_offset(message: &str) -> u64 {
    let rest = &message[message.find(" at byte ").expect(message) + 9..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect(message)
}

#[test]
fn without_skip_corrupt_a_corrupt_document_fails_the_collection_with_origin_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let exporter = new_exporter(options(&out));
    assert!(!exporter.options().skip_corrupt, "the default");

    // A document that is not valid BSON.
    let bad = invalid_document();
    let mut w = exporter.open(&ns("shop.orders"), &meta()).unwrap().unwrap();
    w.set_origin("dump/shop/orders.bson");
    w.write_document(&document(1), 0).unwrap();
    let err = w.write_document(&bad, 4096).unwrap_err().to_string();
    assert!(
        err.starts_with("shop.orders: dump/shop/orders.bson at byte "),
        "{err}"
    );
    let at = byte_offset(&err);
    assert!(problem_span(4096).contains(&at), "{err}");
    assert!(err.contains("document that starts at byte 4096"), "{err}");
    drop(w);

    // A span the reader could not frame.
    let mut w = exporter.open(&ns("shop.users"), &meta()).unwrap().unwrap();
    w.set_origin("users.bson");
    let err2 = w
        .corrupt(777, "truncated: 12 bytes left, the length says 40")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err2,
        "shop.users: users.bson at byte 777: truncated: 12 bytes left, the length says 40"
    );
    let _ = w.finish();

    let summary = finish(exporter, read_to_end());
    assert_eq!(
        summary.failed,
        vec![
            (ns("shop.orders"), Failure::new(FailureKind::Corrupt, err)),
            (ns("shop.users"), Failure::new(FailureKind::Corrupt, err2)),
        ]
    );
    assert_eq!(summary.corrupt(), 0);
    assert_not_complete(&summary, &out);
}

// 8. Filtered namespaces.

#[test]
fn filtered_namespaces_are_declined_listed_and_wants_agrees_with_open() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut o = options(&out);
    o.filter =
        NamespaceFilter::with_patterns(vec![], vec![NamespacePattern::parse("db.tmp*").unwrap()]);
    let exporter = new_exporter(o);
    let view = CollectionMetadata::from_mongodump_json(r#"{"type":"view"}"#).unwrap();
    let timeseries =
        CollectionMetadata::from_mongodump_json(r#"{"options":{"timeseries":{"timeField":"t"}}}"#)
            .unwrap();
    let cases = [
        (ns("admin.x"), meta(), Some(SkipReason::SystemDatabase)),
        (
            ns("db.system.js"),
            meta(),
            Some(SkipReason::SystemCollection),
        ),
        (ns("db.orders"), meta(), None),
        (
            ns("local.oplog.rs"),
            meta(),
            Some(SkipReason::SystemDatabase),
        ),
        (
            ns("config.chunks"),
            meta(),
            Some(SkipReason::SystemDatabase),
        ),
        (
            ns("db.system.buckets.w"),
            meta(),
            Some(SkipReason::TimeSeries),
        ),
        (ns("db.weather"), timeseries, Some(SkipReason::TimeSeries)),
        (ns("db.v"), view, Some(SkipReason::View)),
        (ns("db.a$b"), meta(), Some(SkipReason::DollarInName)),
        (ns("db.a/b"), meta(), Some(SkipReason::SlashInName)),
        (Namespace::new("", "oplog"), meta(), Some(SkipReason::Oplog)),
        (
            ns("db.tmp1"),
            meta(),
            Some(SkipReason::Excluded("db.tmp*".into())),
        ),
        (ns("db.systematic"), meta(), None),
    ];
    let mut expected_skips = Vec::new();
    for (n, m, expected) in &cases {
        let wants = exporter.wants(n, m);
        assert_eq!(wants.as_ref().err(), expected.as_ref(), "wants({n})");
        let opened = exporter.open(n, m).unwrap();
        assert_eq!(opened.is_some(), wants.is_ok(), "open({n}) vs wants");
        if let Some(mut w) = opened {
            w.write_document(&document(1), 0).unwrap();
            w.finish().unwrap();
        }
        if let Some(reason) = expected {
            expected_skips.push((n.clone(), reason.clone()));
        }
    }
    expected_skips.sort_by(|a, b| a.0.cmp(&b.0));
    let summary = finish(exporter, read_to_end());
    assert_eq!(summary.skipped, expected_skips);
    assert_eq!(exported(&summary), ["db.orders", "db.systematic"]);
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    // Declined namespaces leave nothing on disk and do not stop `.complete`.
    assert_eq!(
        files_under(&out).keys().cloned().collect::<Vec<_>>(),
        [
            MARKER,
            ".complete",
            "db/orders/bsonflow-shard-0.0.json.gz",
            "db/orders/metadata.json",
            "db/systematic/bsonflow-shard-0.0.json.gz",
            "db/systematic/metadata.json",
        ]
    );
    assert_eq!(summary.outcome(), Outcome::Complete);
}

// 9. The output folder.

#[test]
fn a_non_empty_output_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for leftover in ["notes.txt", ".complete"] {
        let out = tmp.path().join(format!("out-{leftover}"));
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join(leftover), b"from an earlier run").unwrap();
        match Exporter::new(options(&out)) {
            Err(ExportError::NotEmpty { path }) => assert_eq!(path, out),
            Err(e) => panic!("{leftover}: wrong error {e}"),
            Ok(_) => panic!("{leftover}: a non-empty folder was accepted"),
        }
        // Nothing was removed or added.
        assert_eq!(
            files_under(&out).into_iter().collect::<Vec<_>>(),
            [(leftover.to_string(), b"from an earlier run".to_vec())]
        );
    }
    // A sub-folder counts too.
    let out = tmp.path().join("out-dir");
    std::fs::create_dir_all(out.join("shop")).unwrap();
    assert!(matches!(
        Exporter::new(options(&out)),
        Err(ExportError::NotEmpty { .. })
    ));
}

#[test]
fn a_missing_output_folder_is_created_and_an_empty_one_is_used() {
    let tmp = tempfile::tempdir().unwrap();
    let deep = tmp.path().join("a/b/out");
    let exporter = new_exporter(options(&deep));
    assert!(deep.is_dir());
    export_collection(&exporter, "shop.orders", &documents(2));
    let summary = finish(exporter, read_to_end());
    assert!(summary.complete_written);
    assert!(deep.join(".complete").is_file());

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let exporter = new_exporter(options(&empty));
    export_collection(&exporter, "shop.orders", &documents(2));
    finish(exporter, read_to_end());
    assert_eq!(ids(&read_chunks(&empty.join("shop/orders"))), [0, 1]);

    // A file where the folder should be is an I/O error, not a folder.
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(matches!(
        Exporter::new(options(&file)),
        Err(ExportError::Io { .. })
    ));
}

#[test]
fn no_temporary_file_remains_after_finish() {
    for (complete, threads) in [(true, 1), (true, 4), (false, 2)] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let mut o = options(&out);
        o.chunk_bytes = 128;
        o.threads = threads;
        let exporter = new_exporter(o);
        export_collection(&exporter, "shop.orders", &documents(200));
        export_collection(&exporter, "shop.users", &documents(50));
        if !complete {
            // Chunks of a writer dropped mid-way are still in flight when finish begins.
            let mut w = exporter
                .open(&ns("shop.dropped"), &meta())
                .unwrap()
                .unwrap();
            for (i, d) in documents(200).iter().enumerate() {
                w.write_document(d, i as u64 * 100).unwrap();
            }
        }
        let summary = finish(exporter, read_to_end());
        assert_eq!(summary.complete_written, complete);
        let names = files_under(&out);
        let hidden: Vec<_> = names
            .keys()
            .filter(|k| k.ends_with(".partial") || k.rsplit('/').next().unwrap().starts_with('.'))
            .filter(|k| *k != ".complete" && *k != MARKER)
            .collect();
        assert!(hidden.is_empty(), "left behind: {hidden:?}");
        assert_eq!(names.contains_key(".complete"), complete);
        assert_eq!(
            ids(&read_chunks(&out.join("shop/orders"))),
            (0..200).collect::<Vec<_>>()
        );
    }
}

// Writing the output fails.

#[test]
fn a_chunk_that_cannot_be_written_fails_the_collection() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut o = options(&out);
    o.chunk_bytes = 100;
    let exporter = new_exporter(o);
    let mut w = exporter.open(&ns("shop.orders"), &meta()).unwrap().unwrap();
    // The collection's folder disappears under the writer.
    std::fs::remove_dir(out.join("shop/orders")).unwrap();
    std::fs::write(out.join("shop/orders"), b"not a folder").unwrap();
    let mut write_errors = 0;
    for (i, d) in documents(20).iter().enumerate() {
        write_errors += usize::from(w.write_document(d, i as u64 * 100).is_err());
    }
    let err = w.finish().expect_err("no chunk could be written");
    assert!(err.to_string().contains("shop.orders"), "{err}");
    assert!(err.to_string().contains("shop/orders"), "{err}");
    export_collection(&exporter, "shop.users", &documents(2));
    let summary = finish(exporter, read_to_end());
    let f = failure(&summary, "shop.orders");
    assert_eq!(
        f.kind,
        FailureKind::Output,
        "{f:?} ({write_errors} write errors)"
    );
    assert_eq!(f.message, err.to_string());
    assert_eq!(exported(&summary), ["shop.users"]);
    assert_not_complete(&summary, &out);
}
