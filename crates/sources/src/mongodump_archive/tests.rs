//! Unit tests of the archive reader: its parsing helpers, and what only the detailed
//! [`ArchiveReport`] of [`read_archive`] says (the header's format version and
//! `concurrent_collections`, whether a namespace was announced in the prelude, its record's
//! kind and declared size, segment counts, the decompressed size) — checked on the same
//! inputs as the integration tests in `tests/archive.rs`: mongo-tools' real archives from
//! the shared folder, and archives written from the specification by the Python writer in
//! `tests/common/make_mongodump_archive.py`.

use std::path::{Path, PathBuf};

use bsonflow_testkit::{python, run_python, shared, MemorySink};

use super::*;

#[test]
fn crc_is_crc64_xz() {
    assert_eq!(crc64(b"123456789"), 0x995D_C9BB_DF19_39FA);
    assert_eq!(crc64(b""), 0);
    let mut d = CRC64.digest();
    d.update(b"1234");
    d.update(b"56789");
    assert_eq!(d.finalize(), 0x995D_C9BB_DF19_39FA);
    // Stored as an int64 with the same bits (alibaba-backups.md §8.3).
    assert_eq!(-7824457949569593127i64 as u64, 0x9369_F0F3_5BEC_50D9);
}

#[test]
fn errors_stay_small() {
    // Results carry them by value: keep them under clippy's `result_large_err` bound.
    assert!(std::mem::size_of::<ArchiveError>() < 128);
    assert!(std::mem::size_of::<crate::tar_set::TarError>() < 128);
}

#[test]
fn block_headers() {
    let doc = bson::rawdoc! { "db": "", "collection": "oplog", "EOF": true, "CRC": -1i64 };
    let h = parse_block_header(doc.as_bytes()).unwrap();
    assert_eq!(h.ns, Namespace::new("", "oplog"));
    assert!(h.eof);
    assert_eq!(h.crc, u64::MAX);
    let doc = bson::rawdoc! { "db": "x" };
    assert!(parse_block_header(doc.as_bytes()).is_err());
    let doc = bson::rawdoc! { "db": "x", "collection": "y", "EOF": 1 };
    assert!(parse_block_header(doc.as_bytes()).is_err());
}

#[test]
fn prelude_records_accept_int32_and_int64_sizes() {
    let a = bson::rawdoc! { "db": "d", "collection": "c", "metadata": "", "size": 5i32 };
    let b = bson::rawdoc! { "db": "d", "collection": "c", "metadata": "", "size": 5_000_000_000i64, "type": "view" };
    assert_eq!(parse_prelude_record(a.as_bytes()).unwrap().size, Some(5));
    let b = parse_prelude_record(b.as_bytes()).unwrap();
    assert_eq!(b.size, Some(5_000_000_000));
    assert_eq!(b.kind.as_deref(), Some("view"));
}

/// The integration tests' writer of archives from the specification (pymongo's `bson`).
const WRITER: &str = include_str!("../../tests/common/make_mongodump_archive.py");

fn ns(full: &str) -> Namespace {
    Namespace::parse(full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// Reads the archive file at `path` into `sink` with [`read_archive`]; it must be read to
/// its end without a failure, having consumed the whole file.
fn read_file(path: &Path, sink: &MemorySink) -> ArchiveReport {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let label = path.display().to_string();
    let (report, result) = read_archive(file, &label, sink, &Progress::new());
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(sink.failures().is_empty(), "{}", sink.failure_text());
    let size = std::fs::metadata(path).unwrap().len();
    assert_eq!(report.input_bytes, size, "{label}: every byte read");
    report
}

/// What the report says of `ns`; panics when it does not name it.
fn namespace<'r>(report: &'r ArchiveReport, ns: &Namespace) -> &'r NamespaceReport {
    report
        .namespaces
        .iter()
        .find(|n| &n.ns == ns)
        .unwrap_or_else(|| panic!("{ns} not in the report"))
}

/// Restores `tests/archive.rs` (before de884c3's port): `header.format_version == "0.1"`
/// and `header.concurrent_collections == Some(4)` (with the server and tool versions and
/// `archive_bytes == 896`) on `test.bar.archive`; the same header fields of the other two
/// readable mongo-tools archives are checked as well.
#[test]
fn real_archive_headers_give_format_0_1_and_4_concurrent_collections() {
    let Some(dir) = shared("testdata/mongo-tools") else {
        return;
    };
    let r = read_file(&dir.join("test.bar.archive"), &MemorySink::new());
    assert_eq!(
        r.header,
        ArchiveHeader {
            concurrent_collections: Some(4),
            format_version: "0.1".into(),
            server_version: "3.4.3".into(),
            tool_version: "r3.4.3".into(),
        }
    );
    assert_eq!(r.compression, Compression::None);
    assert_eq!(r.archive_bytes, 896);
    for (file, server) in [
        ("dump-w-oplog.archive", "4.0.2"),
        ("timeseries_tests-dump.archive", "5.0.0-rc0"),
    ] {
        let path = dir.join(file);
        let r = read_file(&path, &MemorySink::new());
        let h = &r.header;
        assert_eq!(h.format_version, FORMAT_VERSION, "{file}");
        assert_eq!(h.format_version, "0.1", "{file}");
        assert_eq!(h.concurrent_collections, Some(4), "{file}");
        assert_eq!(h.server_version, server, "{file}");
        assert_eq!(
            r.archive_bytes,
            std::fs::metadata(&path).unwrap().len(),
            "{file}"
        );
    }
}

/// Restores `assert!(oplog.in_prelude && !oplog.exported)` (with its 18 documents and
/// CRC) on `dump-w-oplog.archive`: mongodump `--oplog` announces the oplog pseudo-namespace
/// (`db: ""`) in the prelude, and the sink declines it.
#[test]
fn oplog_is_announced_in_the_prelude_and_not_exported() {
    let Some(dir) = shared("testdata/mongo-tools") else {
        return;
    };
    let sink = MemorySink::new();
    let r = read_file(&dir.join("dump-w-oplog.archive"), &sink);
    let oplog = namespace(&r, &Namespace::new("", "oplog"));
    assert!(oplog.in_prelude, "{oplog:?}");
    assert!(!oplog.exported, "{oplog:?}");
    assert_eq!(
        (oplog.segments, oplog.documents, oplog.crc),
        (1, 18, Some(0x803B_D1A6_2AAA_916C))
    );
    let foo = namespace(&r, &ns("test.foo"));
    assert!(foo.in_prelude && foo.exported, "{foo:?}");
    assert_eq!((foo.segments, foo.documents), (1, 25));
    let version = namespace(&r, &ns("admin.system.version"));
    assert!(version.in_prelude && !version.exported, "{version:?}");
    assert_eq!((r.exported, r.skipped), (1, 2));
}

/// Restores, on `timeseries_tests-dump.archive`: `!buckets.in_prelude` (10 documents, its
/// CRC), `ts.kind == Some("timeseries")` and `ts.segments == 0`, `(views.segments,
/// views.documents, views.crc) == (1, 0, Some(0))`, and `exported == 0`.
#[test]
fn time_series_buckets_are_not_in_the_prelude_and_views_have_one_empty_segment() {
    let Some(dir) = shared("testdata/mongo-tools") else {
        return;
    };
    let sink = MemorySink::new();
    let r = read_file(&dir.join("timeseries_tests-dump.archive"), &sink);
    let buckets = namespace(&r, &ns("timeseries_test.system.buckets.foo_ts"));
    assert!(!buckets.in_prelude, "{buckets:?}");
    assert_eq!(buckets.kind, None);
    assert_eq!(
        (buckets.documents, buckets.crc),
        (10, Some(0x401F_4FD8_8569_654F))
    );
    let ts = namespace(&r, &ns("timeseries_test.foo_ts"));
    assert!(ts.in_prelude, "{ts:?}");
    assert_eq!(ts.kind.as_deref(), Some("timeseries"));
    assert_eq!(ts.segments, 0);
    let views = namespace(&r, &ns("admin.system.views"));
    assert!(views.in_prelude, "{views:?}");
    assert_eq!(views.kind.as_deref(), Some("collection"));
    assert_eq!(
        (views.segments, views.documents, views.crc),
        (1, 0, Some(0))
    );
    assert_eq!(r.exported, 0);
    assert!(r.namespaces.iter().all(|n| !n.exported), "{r:?}");
}

/// Restores `real_archive_gzipped_in_two_members_reads_the_same`'s `a.archive_bytes ==
/// b.archive_bytes` and `a.namespaces == b.namespaces` on the detailed per-namespace
/// reports (segments, prelude, kind, size, exported), and `b.compression == Gzip`: the
/// archive gzipped by Python in two members concatenated.
#[test]
fn real_archive_gzipped_in_two_members_has_the_same_detailed_report() {
    let (Some(dir), Some(py)) = (shared("testdata/mongo-tools"), python(&["bson"])) else {
        return;
    };
    let src = dir.join("dump-w-oplog.archive");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("two-members.ar");
    // Python's gzip, two members concatenated (as `cat a.gz b.gz`).
    run_python(
        &py,
        "import gzip,sys\nd=open(sys.argv[1],'rb').read()\nopen(sys.argv[2],'wb').write(gzip.compress(d[:1000])+gzip.compress(d[1000:]))",
        &[src.to_str().unwrap(), out.to_str().unwrap()],
    );
    let a = read_file(&src, &MemorySink::new());
    let b = read_file(&out, &MemorySink::new());
    assert_eq!(a.compression, Compression::None);
    assert_eq!(b.compression, Compression::Gzip);
    assert_eq!(a.archive_bytes, std::fs::metadata(&src).unwrap().len());
    assert_eq!(b.archive_bytes, a.archive_bytes, "the decompressed size");
    assert_ne!(
        b.input_bytes, b.archive_bytes,
        "the input is the compressed file"
    );
    assert_eq!(a.namespaces, b.namespaces);
    assert_eq!(a.header, b.header);
}

/// The writer's output in a temporary folder, and its JSON manifest.
struct Written {
    dir: tempfile::TempDir,
    manifest: serde_json::Value,
}

impl Written {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn num(&self, key: &str) -> u64 {
        self.manifest[key]
            .as_u64()
            .unwrap_or_else(|| panic!("manifest has no number {key}"))
    }
}

/// Runs the Python writer (skips, or fails under `BSONFLOW_REQUIRE_SHARED=1`, without
/// pymongo).
fn write_archives() -> Option<Written> {
    let py = python(&["bson"])?;
    let dir = tempfile::tempdir().unwrap();
    let out = run_python(&py, WRITER, &[dir.path().to_str().unwrap()]);
    let manifest = serde_json::from_slice(&out).unwrap();
    Some(Written { dir, manifest })
}

/// Restores, from `archives_written_from_the_spec_equal_the_folder_export`, for the plain,
/// gzip and zstd archives: `archive_bytes == manifest.size`, the sum of `segments` equal to
/// the manifest's, `shop.empty` exported with CRC 0, `shop.recent` with no CRC and kind
/// `view`, `shop.customers.declared_size == Some(5_000_000_000)`, `empty_segments > 0`, and
/// equal detailed per-namespace reports for the three; also that the time-series buckets
/// namespace, which has no prelude record, is not marked as in the prelude.
#[test]
fn spec_archives_report_segments_kinds_sizes_and_decompressed_bytes() {
    let Some(w) = write_archives() else {
        return;
    };
    let mut files = vec![
        ("plain.archive", Compression::None),
        ("gzip.archive.gz", Compression::Gzip),
    ];
    if python(&["zstandard"]).is_some() {
        files.push(("zstd.archive.zst", Compression::Zstd));
    }
    let plain_size = std::fs::metadata(w.path("plain.archive")).unwrap().len();
    assert_eq!(plain_size, w.num("size"));
    let mut reports = Vec::new();
    for (file, compression) in files {
        let r = read_file(&w.path(file), &MemorySink::new());
        assert_eq!(r.compression, compression, "{file}");
        assert_eq!(r.archive_bytes, w.num("size"), "{file}");
        assert_eq!(r.header.format_version, "0.1", "{file}");
        assert_eq!(r.header.concurrent_collections, Some(4), "{file}");
        assert_eq!((r.exported, r.skipped), (5, 7), "{file}");
        let segments: u64 = r.namespaces.iter().map(|n| n.segments).sum();
        assert_eq!(segments, w.num("segments"), "{file}");
        // EOF-only namespace; a view without any block; a time-series record and its
        // buckets, which only the segments name.
        let empty = namespace(&r, &ns("shop.empty"));
        assert!(empty.exported && empty.crc == Some(0), "{file}: {empty:?}");
        let view = namespace(&r, &ns("shop.recent"));
        assert_eq!(
            (view.crc, view.kind.as_deref(), view.segments),
            (None, Some("view"), 0),
            "{file}"
        );
        assert!(view.in_prelude && !view.exported, "{file}: {view:?}");
        let readings = namespace(&r, &ns("weather.readings"));
        assert_eq!(readings.kind.as_deref(), Some("timeseries"), "{file}");
        assert!(readings.in_prelude, "{file}: {readings:?}");
        let buckets = namespace(&r, &ns("weather.system.buckets.readings"));
        assert!(!buckets.in_prelude, "{file}: {buckets:?}");
        assert_eq!((buckets.kind.as_deref(), buckets.documents), (None, 30));
        // The record's `size` as an int64; the others are the int32 0; no `type` field
        // before mongo-tools 100.4.
        let customers = namespace(&r, &ns("shop.customers"));
        assert_eq!(customers.declared_size, Some(5_000_000_000), "{file}");
        assert_eq!(customers.kind, None, "{file}");
        let orders = namespace(&r, &ns("shop.orders"));
        assert_eq!(orders.declared_size, Some(0), "{file}");
        assert_eq!(orders.kind.as_deref(), Some("collection"), "{file}");
        reports.push(r);
    }
    assert!(
        w.num("empty_segments") > 0,
        "the fixture has empty segments"
    );
    for r in &reports[1..] {
        assert_eq!(r.namespaces, reports[0].namespaces);
    }
}
