//! mongodump archives: the real ones from mongo-tools' test data, and archives written from
//! the specification by an independent Python writer, plain, gzipped and zstd-compressed,
//! compared with the export of the same collections as a mongodump folder; then corrupt
//! variants.

#[path = "common/archived_sets.rs"]
mod archived_sets;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use archived_sets::{assert_same_export, folder_export};
use bsonflow_model::{Namespace, Progress, SkipReason};
use bsonflow_sources::archive::{self, ArchiveError, ArchiveReport};
use bsonflow_testkit::{python, run_python, shared, MemorySink};

const WRITER: &str = include_str!("common/make_mongodump_archive.py");

/// An independent reader (Python + pymongo): every namespace's documents, hex-encoded.
const PY_DOCUMENTS: &str = r#"
import json, struct, sys
data = open(sys.argv[1], 'rb').read()
pos = 4
def item():
    global pos
    n = struct.unpack_from('<i', data, pos)[0]
    if n == -1:
        pos += 4
        return None
    d = data[pos:pos + n]
    pos += n
    return d
import bson
item()
while item() is not None:
    pass
out = {}
while pos < len(data):
    h = bson.decode(item())
    ns = h['db'] + '.' + h['collection']
    docs = out.setdefault(ns, [])
    while True:
        d = item()
        if d is None:
            break
        docs.append(d.hex())
print(json.dumps(out))
"#;

fn ns(s: &str) -> Namespace {
    match s.split_once('.') {
        Some((db, coll)) => Namespace::new(db, coll),
        None => panic!("{s}"),
    }
}

fn export_bytes(bytes: Vec<u8>, sink: &MemorySink) -> Result<ArchiveReport, ArchiveError> {
    archive::export_archive(Cursor::new(bytes), "test.archive", &sink, &Progress::new())
}

fn export_file(path: &Path, sink: &MemorySink) -> ArchiveReport {
    let progress = Progress::new();
    let report = archive::export_archive_file(path, &sink, &progress)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let size = std::fs::metadata(path).unwrap().len();
    assert_eq!(progress.total(), size);
    assert_eq!(progress.consumed(), size, "progress reaches the file size");
    assert_eq!(report.input_bytes, size);
    report
}

fn skipped(sink: &MemorySink) -> BTreeMap<String, SkipReason> {
    sink.skipped()
        .into_iter()
        .map(|(n, r)| (n.to_string(), r))
        .collect()
}

/// The documents of each namespace as the independent Python reader sees them.
fn python_documents(py: &Path, path: &Path) -> BTreeMap<String, Vec<Vec<u8>>> {
    let out = run_python(py, PY_DOCUMENTS, &[path.to_str().unwrap()]);
    let map: BTreeMap<String, Vec<String>> = serde_json::from_slice(&out).unwrap();
    map.into_iter()
        .map(|(k, v)| {
            let docs = v
                .iter()
                .map(|h| {
                    (0..h.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                        .collect()
                })
                .collect();
            (k, docs)
        })
        .collect()
}

fn crc_of(report: &ArchiveReport, name: &str) -> Option<u64> {
    report
        .namespace(&ns(name))
        .unwrap_or_else(|| panic!("{name} not in the report"))
        .crc
}

#[test]
fn real_archives_from_mongo_tools() {
    let Some(dir) = shared("testdata/mongo-tools") else {
        return;
    };
    let py = python(&["bson"]);

    // 3.4, legacy metadata.
    let sink = MemorySink::new();
    let r = export_file(&dir.join("test.bar.archive"), &sink);
    assert_eq!(r.header.server_version, "3.4.3");
    assert_eq!(r.header.tool_version, "r3.4.3");
    assert_eq!(r.header.format_version, "0.1");
    assert_eq!(r.header.concurrent_collections, Some(4));
    assert_eq!(r.archive_bytes, 896);
    let bar = sink.collection("test.bar");
    assert_eq!(bar.documents.len(), 1);
    assert!(bar.finished);
    assert_eq!(bar.metadata.indexes.len(), 1);
    assert_eq!(bar.metadata.kind, None);
    assert_eq!(crc_of(&r, "test.bar"), Some(0x9369_F0F3_5BEC_50D9));
    assert_eq!(
        crc_of(&r, "admin.system.version"),
        Some(0xF685_812F_D02A_263E)
    );
    assert_eq!((r.exported, r.skipped, r.documents), (1, 1, 1));
    assert_eq!(
        skipped(&sink),
        BTreeMap::from([("admin.system.version".into(), SkipReason::SystemDatabase)])
    );

    // 4.0 with --oplog: the pseudo-namespace db "" is offered and skipped.
    let sink = MemorySink::new();
    let path = dir.join("dump-w-oplog.archive");
    let r = export_file(&path, &sink);
    assert_eq!(r.header.server_version, "4.0.2");
    let foo = sink.collection("test.foo");
    assert_eq!(foo.documents.len(), 25);
    assert_eq!(crc_of(&r, "test.foo"), Some(0x9CC6_A0E4_7A6D_6D82));
    assert_eq!(
        crc_of(&r, "admin.system.version"),
        Some(0x0CB0_EF0E_A1D1_6E0D)
    );
    let oplog = r.namespace(&Namespace::new("", "oplog")).unwrap();
    assert_eq!(
        (oplog.documents, oplog.crc),
        (18, Some(0x803B_D1A6_2AAA_916C))
    );
    assert!(oplog.in_prelude && !oplog.exported);
    assert_eq!(skipped(&sink)[".oplog"], SkipReason::Oplog);
    assert_eq!(
        skipped(&sink)["admin.system.version"],
        SkipReason::SystemDatabase
    );
    if let Some(py) = &py {
        let docs = python_documents(py, &path);
        assert_eq!(
            foo.documents, docs["test.foo"],
            "the same 25 documents in order"
        );
    }

    // 5.0 time-series: metadata names foo_ts, segments name system.buckets.foo_ts; an empty
    // segment for admin.system.views.
    let sink = MemorySink::new();
    let r = export_file(&dir.join("timeseries_tests-dump.archive"), &sink);
    assert_eq!(r.header.server_version, "5.0.0-rc0");
    let buckets = r
        .namespace(&ns("timeseries_test.system.buckets.foo_ts"))
        .unwrap();
    assert_eq!(buckets.documents, 10);
    assert_eq!(buckets.crc, Some(0x401F_4FD8_8569_654F));
    assert!(!buckets.in_prelude);
    let ts = r.namespace(&ns("timeseries_test.foo_ts")).unwrap();
    assert_eq!(ts.kind.as_deref(), Some("timeseries"));
    assert_eq!(ts.segments, 0);
    let views = r.namespace(&ns("admin.system.views")).unwrap();
    assert_eq!(
        (views.segments, views.documents, views.crc),
        (1, 0, Some(0))
    );
    assert_eq!(r.exported, 0);
    let s = skipped(&sink);
    assert_eq!(s["timeseries_test.foo_ts"], SkipReason::TimeSeries);
    assert_eq!(
        s["timeseries_test.system.buckets.foo_ts"],
        SkipReason::TimeSeries
    );
    assert_eq!(s.len(), 4, "{s:?}");

    // 4.0.14 / r4.2.2: framing is sound (an empty segment, CRC 0) but mongodump wrote an
    // index key unescaped, so the metadata text is not JSON; mongorestore's own test expects
    // an error, and so do we, naming the namespace.
    let sink = MemorySink::new();
    let path = dir.join("bad-format.archive");
    match archive::export_archive_file(&path, &&sink, &Progress::new()) {
        Err(e @ ArchiveError::Metadata { .. }) => {
            let text = e.to_string();
            assert!(text.contains("bad-format.archive"), "{text}");
            assert!(text.contains("test.ixtest"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert!(sink.collections().is_empty());
}

#[test]
fn real_archive_gzipped_in_two_members_reads_the_same() {
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
    let plain = MemorySink::new();
    let a = export_file(&src, &plain);
    let packed = MemorySink::new();
    let b = export_file(&out, &packed);
    assert_eq!(
        b.compression,
        bsonflow_sources::compression::Compression::Gzip
    );
    assert_same_export(&packed, &plain, "gzip of dump-w-oplog.archive");
    assert_eq!(a.namespaces, b.namespaces);
    assert_eq!(a.archive_bytes, b.archive_bytes);
}

struct Written {
    dir: tempfile::TempDir,
    manifest: serde_json::Value,
}

impl Written {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn plain(&self) -> Vec<u8> {
        std::fs::read(self.path("plain.archive")).unwrap()
    }
    fn num(&self, key: &str) -> u64 {
        self.manifest[key].as_u64().unwrap()
    }
    fn first_doc(&self, name: &str) -> usize {
        self.manifest["first_doc"][name].as_u64().unwrap() as usize
    }
}

fn write_archives(args: &[&str]) -> Option<Written> {
    let py = python(&["bson"])?;
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![dir.path().to_str().unwrap()];
    all.extend(args);
    let out = run_python(&py, WRITER, &all);
    let manifest = serde_json::from_slice(&out).unwrap();
    Some(Written { dir, manifest })
}

#[test]
fn archives_written_from_the_spec_equal_the_folder_export() {
    let Some(w) = write_archives(&[]) else {
        return;
    };
    let expected = folder_export(&w.path("dump"));
    let mut files = vec!["plain.archive", "gzip.archive.gz"];
    if python(&["zstandard"]).is_some() {
        files.push("zstd.archive.zst");
    }
    let mut reports = Vec::new();
    for file in files {
        let sink = MemorySink::new();
        let r = export_file(&w.path(file), &sink);
        assert_same_export(&sink, &expected, file);
        assert_eq!(r.archive_bytes, w.num("size"), "{file}");
        assert_eq!(r.exported, 5, "{file}");
        assert_eq!(r.skipped, 7, "{file}");
        assert_eq!(r.documents, 1500 + 400 + 120 + 1, "{file}");
        // Every EOF block's CRC, as the Python writer computed it.
        let crcs = w.manifest["crc"].as_object().unwrap();
        assert_eq!(crcs.len(), 10);
        for (name, crc) in crcs {
            assert_eq!(crc_of(&r, name), crc.as_u64(), "{file}: CRC of {name}");
        }
        let segments: u64 = r.namespaces.iter().map(|n| n.segments).sum();
        assert_eq!(segments, w.num("segments"), "{file}");
        // EOF-only namespace; a view without any block; a time-series record.
        let empty = r.namespace(&ns("shop.empty")).unwrap();
        assert!(empty.exported && empty.crc == Some(0));
        let view = r.namespace(&ns("shop.recent")).unwrap();
        assert_eq!((view.crc, view.kind.as_deref()), (None, Some("view")));
        assert_eq!(
            r.namespace(&ns("shop.customers")).unwrap().declared_size,
            Some(5_000_000_000)
        );
        let orders = sink.collection("shop.orders");
        assert_eq!(orders.metadata.indexes.len(), 2);
        assert_eq!(
            orders.metadata.uuid.as_deref(),
            Some("342c40a937c34c478bab03de8ce44f3e")
        );
        // Legacy metadata (no `type` field in the record) keeps its `ns`.
        let customers = sink.collection("shop.customers");
        assert!(customers.metadata.indexes[0].contains_key("ns"));
        assert_eq!(customers.metadata.kind, None);
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

fn expect_err(bytes: Vec<u8>, what: &str) -> ArchiveError {
    let sink = MemorySink::new();
    match export_bytes(bytes, &sink) {
        Ok(r) => panic!("{what}: no error ({} namespaces)", r.namespaces.len()),
        Err(e) => {
            let text = e.to_string();
            assert!(text.starts_with("test.archive: "), "{what}: {text}");
            e
        }
    }
}

#[test]
fn truncated_archives_fail_wherever_they_are_cut() {
    let Some(w) = write_archives(&[]) else {
        return;
    };
    let full = w.plain();
    let size = full.len();
    let mut cuts: Vec<usize> = (0..size).step_by(size / 200).collect();
    cuts.extend([1, 3, 4, 5, 20, w.num("prelude_end") as usize]);
    let first = w.first_doc("shop.orders");
    cuts.extend([first + 1, first + 4, first + 30, size - 1, size - 4]);
    // Exactly at block boundaries: every terminator is there, but namespaces are unfinished.
    let ends: Vec<usize> = w.manifest["block_ends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(*ends.last().unwrap(), size);
    cuts.extend(&ends[..ends.len() - 1]);
    for cut in cuts {
        let e = expect_err(full[..cut].to_vec(), &format!("cut at {cut}"));
        match (&e, cut) {
            (ArchiveError::BadMagic { found, .. }, 0) => assert!(found.is_empty()),
            (ArchiveError::Truncated { pos, .. }, _) => {
                assert!(pos.offset <= cut as u64, "cut at {cut}: {e}");
                assert!(pos.compressed.is_none());
            }
            _ => panic!("cut at {cut}: {e:?}"),
        }
    }
    // Inside a document of shop.orders: the namespace and the offset are named.
    let e = expect_err(full[..first + 30].to_vec(), "mid-document");
    let text = e.to_string();
    assert!(text.contains("shop.orders"), "{text}");
    assert!(text.contains(&format!("byte {first}")), "{text}");

    // The gzipped archive cut short: the decompressor's error, with compressed bytes read.
    let gz = std::fs::read(w.path("gzip.archive.gz")).unwrap();
    for cut in [10, gz.len() / 3, gz.len() / 2, gz.len() - 9, gz.len() - 1] {
        let e = expect_err(gz[..cut].to_vec(), &format!("gzip cut at {cut}"));
        match &e {
            ArchiveError::Read { pos, .. } | ArchiveError::Truncated { pos, .. } => {
                assert!(pos.compressed.is_some(), "{e}")
            }
            _ => panic!("gzip cut at {cut}: {e:?}"),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("pattern present")
}

#[test]
fn corrupt_archives_are_refused_with_the_namespace_and_offset() {
    let Some(w) = write_archives(&[]) else {
        return;
    };
    let full = w.plain();
    let orders_crc = w.manifest["crc"]["shop.orders"].as_u64().unwrap();

    // A flipped byte inside a document: the CRC of its namespace no longer matches.
    let mut bytes = full.clone();
    let at = find(&bytes, b"FLIPME00042");
    bytes[at + 6] ^= 0x01;
    match expect_err(bytes, "flipped byte") {
        ArchiveError::Crc {
            ns, expected, pos, ..
        } => {
            assert_eq!(ns.to_string(), "shop.orders");
            assert_eq!(expected, orders_crc);
            assert!(pos.offset > at as u64);
        }
        e => panic!("{e:?}"),
    }

    // The CRC stored in the EOF block altered.
    let eof = bson::rawdoc! { "db": "shop", "collection": "orders", "EOF": true, "CRC": orders_crc as i64 };
    let mut bytes = full.clone();
    let at = find(&bytes, eof.as_bytes());
    let n = eof.as_bytes().len();
    bytes[at + n - 3] ^= 0x40; // inside the int64 value
    let e = expect_err(bytes, "altered CRC");
    assert!(
        matches!(&e, ArchiveError::Crc { ns, pos, .. } if ns.to_string() == "shop.orders" && pos.offset == at as u64),
        "{e:?}"
    );
    assert!(e
        .to_string()
        .contains("CRC mismatch for namespace shop.orders"));

    // Bad magic.
    let mut bytes = full.clone();
    bytes[0] ^= 0x01;
    assert!(matches!(
        expect_err(bytes, "bad magic"),
        ArchiveError::BadMagic { .. }
    ));

    // Two consecutive terminators: a block without a header right after the prelude.
    let prelude_end = w.num("prelude_end") as usize;
    let mut bytes = full[..prelude_end].to_vec();
    bytes.extend([0xff; 4]);
    bytes.extend(&full[prelude_end..]);
    match expect_err(bytes, "consecutive terminators") {
        ArchiveError::Corrupt { pos, what, .. } => {
            assert_eq!(pos.offset, prelude_end as u64);
            assert!(what.contains("consecutive terminators"), "{what}");
        }
        e => panic!("{e:?}"),
    }

    // Oversized lengths: in a block header, and for a document of shop.orders.
    for (at, len, in_ns) in [
        (prelude_end, i32::MAX, None),
        (
            w.first_doc("shop.orders"),
            16 * 1024 * 1024 + 16 * 1024 + 1,
            Some("shop.orders"),
        ),
        (w.first_doc("shop.orders"), 3, Some("shop.orders")),
    ] {
        let mut bytes = full.clone();
        bytes[at..at + 4].copy_from_slice(&len.to_le_bytes());
        match expect_err(bytes, "oversized length") {
            ArchiveError::Corrupt { pos, ns, what, .. } => {
                assert_eq!(pos.offset, at as u64);
                assert_eq!(ns.map(|n| n.to_string()).as_deref(), in_ns);
                assert!(what.contains(&len.to_string()), "{what}");
            }
            e => panic!("{e:?}"),
        }
    }

    // A segment for a namespace after its EOF block.
    let mut bytes = full.clone();
    bytes.extend(
        bson::rawdoc! { "db": "shop", "collection": "empty", "EOF": false, "CRC": 0i64 }.as_bytes(),
    );
    bytes.extend([0xff; 4]);
    match expect_err(bytes, "segment after EOF") {
        ArchiveError::Corrupt { ns, what, pos, .. } => {
            assert_eq!(ns.unwrap().to_string(), "shop.empty");
            assert!(what.contains("after the namespace's EOF"), "{what}");
            assert_eq!(pos.offset, full.len() as u64);
        }
        e => panic!("{e:?}"),
    }

    // Trailing bytes that do not form a block.
    let mut bytes = full.clone();
    bytes.extend([1, 2, 3]);
    assert!(matches!(
        expect_err(bytes, "trailing bytes"),
        ArchiveError::Truncated { .. }
    ));
}

#[test]
fn a_document_without_its_final_zero_goes_to_the_sink() {
    let Some(w) = write_archives(&["--unterminated"]) else {
        return;
    };
    let bytes = w.plain();
    // The default policy fails the collection, naming it.
    let sink = MemorySink::new();
    match export_bytes(bytes.clone(), &sink) {
        Err(ArchiveError::Sink { ns, source, .. }) => {
            assert_eq!(ns.to_string(), "shop.orders");
            assert!(source.to_string().contains("0x00"), "{source}");
        }
        other => panic!("{other:?}"),
    }
    // A sink that skips corrupt data records it and the rest is read.
    let sink = MemorySink::skipping_corrupt();
    let r = export_bytes(bytes, &sink).unwrap();
    assert_eq!(r.corrupt_documents, 1);
    let orders = sink.collection("shop.orders");
    assert_eq!(orders.documents.len(), 1499);
    assert_eq!(orders.corrupt.len(), 1);
    assert_eq!(sink.collection("shop.customers").documents.len(), 400);
}
