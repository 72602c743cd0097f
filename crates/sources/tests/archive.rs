//! mongodump archives: the real ones from mongo-tools' test data, and archives written from
//! the specification by an independent Python writer, plain, gzipped and zstd-compressed,
//! compared with the export of the same collections as a mongodump folder; then corrupt
//! variants.

#[path = "common/archived_sets.rs"]
mod archived_sets;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use archived_sets::{
    assert_same_export, compression_of, container_of, corrupt_count, outcome, read_folder, Failed,
};
use bsonflow_model::{
    FailureKind, Namespace, NamespaceRead, Progress, ReadOptions, ReadReport, SkipReason,
};
use bsonflow_sources::input::Input;
use bsonflow_sources::layers::compression::Compression;
use bsonflow_sources::mongodump_archive;
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

fn read_bytes(bytes: Vec<u8>, sink: &MemorySink) -> Result<ReadReport, Failed> {
    let size = bytes.len() as u64;
    let input = Input::from_reader(Cursor::new(bytes), "test.archive", Some(size));
    let report =
        mongodump_archive::read_into(input, sink, &Progress::new(), &ReadOptions::default());
    outcome(report, sink)
}

/// Reads an archive file into `sink`: the report, or the one failure recorded.
fn read_path(path: &Path, sink: &MemorySink, progress: &Progress) -> Result<ReadReport, Failed> {
    let input = Input::open(path).unwrap_or_else(|e| panic!("{e}"));
    let report = mongodump_archive::read_into(input, sink, progress, &ReadOptions::default());
    outcome(report, sink)
}

/// Reads an archive file that must be read to its end without a failure.
fn read_file(path: &Path, sink: &MemorySink) -> ReadReport {
    let progress = Progress::new();
    let report =
        read_path(path, sink, &progress).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
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

/// Collections the sink received and finished.
fn finished(sink: &MemorySink) -> usize {
    sink.collections().values().filter(|c| c.finished).count()
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

/// What the report counted of `ns`.
fn namespace<'r>(report: &'r ReadReport, ns: &Namespace) -> Option<&'r NamespaceRead> {
    report.namespaces.iter().find(|n| &n.ns == ns)
}

/// The verified CRC of a namespace's EOF block (`None`: it had no EOF block), from the
/// report's `crc64 0x…` spelling.
fn crc_of(report: &ReadReport, name: &str) -> Option<u64> {
    namespace(report, &ns(name))
        .unwrap_or_else(|| panic!("{name} not in the report"))
        .checksum
        .as_deref()
        .map(parse_crc)
}

fn parse_crc(text: &str) -> u64 {
    let hex = text
        .strip_prefix("crc64 0x")
        .unwrap_or_else(|| panic!("not a crc64 checksum: {text}"));
    assert_eq!(hex.len(), 16, "{text}");
    u64::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Where a failure message says something happened: `byte N` of the (decompressed)
/// stream, and for a compressed input the compressed bytes read by then.
#[derive(Debug, PartialEq)]
struct Pos {
    offset: u64,
    compressed: Option<u64>,
}

/// A stopped archive read, taken apart as the former error enum was: the variant is told by
/// the message's wording, and the namespace the message names must be the one the failure
/// was recorded against, with the kind that variant is recorded as.
#[derive(Debug)]
enum Stop {
    BadMagic {
        found: String,
    },
    /// Its namespace, when it names one, is checked by [`stop`].
    Read {
        pos: Pos,
    },
    /// Its namespace, when it names one, is checked by [`stop`].
    Truncated {
        pos: Pos,
    },
    Corrupt {
        pos: Pos,
        ns: Option<String>,
        what: String,
    },
    Crc {
        ns: String,
        pos: Pos,
        expected: u64,
    },
    Metadata {
        ns: String,
    },
    Sink {
        ns: String,
        source: String,
    },
}

/// `byte N[ of the decompressed stream (C compressed bytes read)]`, and what follows.
fn parse_pos(text: &str) -> (Pos, &str) {
    let s = text
        .strip_prefix("byte ")
        .unwrap_or_else(|| panic!("no position: {text}"));
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let offset = s[..digits].parse().unwrap();
    let rest = &s[digits..];
    match rest.strip_prefix(" of the decompressed stream (") {
        Some(r) => {
            let (n, rest) = r
                .split_once(" compressed bytes read)")
                .unwrap_or_else(|| panic!("{text}"));
            let compressed = Some(n.parse().unwrap());
            (Pos { offset, compressed }, rest)
        }
        None => (
            Pos {
                offset,
                compressed: None,
            },
            rest,
        ),
    }
}

/// `[ in namespace NS]: what`.
fn parse_ns_what(text: &str) -> (Option<String>, String) {
    match text.strip_prefix(" in namespace ") {
        Some(r) => {
            let (ns, what) = r.split_once(": ").unwrap_or_else(|| panic!("{text}"));
            (Some(ns.to_string()), what.to_string())
        }
        None => {
            let what = text.strip_prefix(": ").unwrap_or_else(|| panic!("{text}"));
            (None, what.to_string())
        }
    }
}

/// [`stop_in`] for an input labelled `test.archive`.
fn stop(f: &Failed) -> Stop {
    stop_in(f, "test.archive")
}

/// The failure of a read of the archive labelled `label`, taken apart.
fn stop_in(f: &Failed, label: &str) -> Stop {
    let rest = f
        .message
        .strip_prefix(label)
        .and_then(|r| r.strip_prefix(": "))
        .unwrap_or_else(|| panic!("the message does not start with {label:?}: {f:?}"));
    let (stop, ns, kinds): (Stop, Option<String>, &[FailureKind]) =
        if let Some(r) = rest.strip_prefix("not a mongodump archive: it starts with ") {
            let found = r
                .strip_suffix(", not 6d e2 99 81")
                .unwrap_or_else(|| panic!("{f:?}"))
                .to_string();
            (Stop::BadMagic { found }, None, &[FailureKind::Corrupt])
        } else if let Some(r) = rest.strip_prefix("read error at ") {
            let (pos, r) = parse_pos(r);
            let (ns, _) = parse_ns_what(r);
            (
                Stop::Read { pos },
                ns,
                &[FailureKind::Corrupt, FailureKind::Input],
            )
        } else if let Some(r) = rest.strip_prefix("truncated at ") {
            let (pos, r) = parse_pos(r);
            let (ns, _) = parse_ns_what(r);
            (Stop::Truncated { pos }, ns, &[FailureKind::Corrupt])
        } else if let Some(r) = rest.strip_prefix("corrupt archive at ") {
            let (pos, r) = parse_pos(r);
            let (ns, what) = parse_ns_what(r);
            (
                Stop::Corrupt {
                    pos,
                    ns: ns.clone(),
                    what,
                },
                ns,
                &[FailureKind::Corrupt],
            )
        } else if let Some(r) = rest.strip_prefix("CRC mismatch for namespace ") {
            let (ns, r) = r
                .split_once(": its EOF block at ")
                .unwrap_or_else(|| panic!("{f:?}"));
            let (pos, r) = parse_pos(r);
            let expected = r
                .strip_prefix(" says ")
                .and_then(|r| r.split_once(", its documents give "))
                .unwrap_or_else(|| panic!("{f:?}"))
                .0;
            let expected = parse_crc(&format!("crc64 {expected}"));
            let crc = Stop::Crc {
                ns: ns.to_string(),
                pos,
                expected,
            };
            (crc, Some(ns.to_string()), &[FailureKind::Corrupt])
        } else if let Some(r) = rest.strip_prefix("metadata of ") {
            let (ns, _) = r.split_once(": ").unwrap_or_else(|| panic!("{f:?}"));
            let meta = Stop::Metadata { ns: ns.to_string() };
            (meta, Some(ns.to_string()), &[FailureKind::Corrupt])
        } else {
            // The sink refused something: `<ns>: <the sink's message>`.
            let (ns, source) = rest.split_once(": ").unwrap_or_else(|| panic!("{f:?}"));
            let sink = Stop::Sink {
                ns: ns.to_string(),
                source: source.to_string(),
            };
            (sink, Some(ns.to_string()), &[FailureKind::Incomplete])
        };
    assert_eq!(
        f.ns_text(),
        ns,
        "the namespace the failure is recorded against: {f:?}"
    );
    assert!(kinds.contains(&f.kind), "{stop:?} recorded as {:?}", f.kind);
    stop
}

#[test]
fn real_archives_from_mongo_tools() {
    let Some(dir) = shared("testdata/mongo-tools") else {
        return;
    };
    let py = python(&["bson"]);

    // 3.4, legacy metadata.
    let sink = MemorySink::new();
    let r = read_file(&dir.join("test.bar.archive"), &sink);
    // Server and tool versions; the format version ("0.1") and concurrent_collections (4)
    // are not in the report any more.
    assert_eq!(
        r.format,
        "mongodump archive from server 3.4.3 (mongodump r3.4.3), 2 namespaces"
    );
    // Uncompressed: the archive's bytes are the input's.
    assert_eq!(compression_of(&r), Compression::None);
    assert_eq!(r.input_bytes, 896);
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
    assert_eq!(
        (finished(&sink), sink.skipped().len(), r.documents),
        (1, 1, 1)
    );
    assert_eq!(
        skipped(&sink),
        BTreeMap::from([("admin.system.version".into(), SkipReason::SystemDatabase)])
    );

    // 4.0 with --oplog: the pseudo-namespace db "" is offered and skipped.
    let sink = MemorySink::new();
    let path = dir.join("dump-w-oplog.archive");
    let r = read_file(&path, &sink);
    assert!(
        r.format
            .starts_with("mongodump archive from server 4.0.2 ("),
        "{}",
        r.format
    );
    let foo = sink.collection("test.foo");
    assert_eq!(foo.documents.len(), 25);
    assert_eq!(crc_of(&r, "test.foo"), Some(0x9CC6_A0E4_7A6D_6D82));
    assert_eq!(
        crc_of(&r, "admin.system.version"),
        Some(0x0CB0_EF0E_A1D1_6E0D)
    );
    let oplog = namespace(&r, &Namespace::new("", "oplog")).unwrap();
    assert_eq!(
        (oplog.documents, oplog.checksum.as_deref().map(parse_crc)),
        (18, Some(0x803B_D1A6_2AAA_916C))
    );
    // Whether it was in the prelude is not in the report any more.
    assert!(!sink
        .collections()
        .contains_key(&Namespace::new("", "oplog")));
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
    let r = read_file(&dir.join("timeseries_tests-dump.archive"), &sink);
    assert!(
        r.format
            .starts_with("mongodump archive from server 5.0.0-rc0 ("),
        "{}",
        r.format
    );
    let buckets = namespace(&r, &ns("timeseries_test.system.buckets.foo_ts")).unwrap();
    assert_eq!(buckets.documents, 10);
    assert_eq!(
        crc_of(&r, "timeseries_test.system.buckets.foo_ts"),
        Some(0x401F_4FD8_8569_654F)
    );
    // The record's kind is seen in the skip reason below (the report no longer says
    // whether a namespace was in the prelude, nor its kind). No segment: a read to the end
    // has an EOF block (a checksum) for every namespace that had a segment.
    let ts = namespace(&r, &ns("timeseries_test.foo_ts")).unwrap();
    assert_eq!((ts.documents, ts.checksum.as_deref()), (0, None));
    // One empty segment (the report no longer counts segments) and its EOF block.
    let views = namespace(&r, &ns("admin.system.views")).unwrap();
    assert_eq!(
        (views.documents, crc_of(&r, "admin.system.views")),
        (0, Some(0))
    );
    assert_eq!(finished(&sink), 0);
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
    let label = path.display().to_string();
    match read_path(&path, &sink, &Progress::new()) {
        Err(e) => match stop_in(&e, &label) {
            Stop::Metadata { ns } => {
                let text = &e.message;
                assert!(text.contains("bad-format.archive"), "{text}");
                assert!(text.contains("test.ixtest"), "{text}");
                assert_eq!(ns, "test.ixtest", "{text}");
            }
            other => panic!("{other:?}: {e:?}"),
        },
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
    let a = read_file(&src, &plain);
    let packed = MemorySink::new();
    let b = read_file(&out, &packed);
    assert_eq!(compression_of(&a), Compression::None);
    assert_eq!(compression_of(&b), Compression::Gzip);
    assert_same_export(&packed, &plain, "gzip of dump-w-oplog.archive");
    assert_eq!(a.namespaces, b.namespaces);
    // The same archive inside (the decompressed size is not in the report any more).
    assert_eq!(container_of(&b), a.format);
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
    let expected = read_folder(&w.path("dump"));
    let mut files = vec![
        ("plain.archive", Compression::None),
        ("gzip.archive.gz", Compression::Gzip),
    ];
    if python(&["zstandard"]).is_some() {
        files.push(("zstd.archive.zst", Compression::Zstd));
    }
    let mut reports = Vec::new();
    for (file, compression) in files {
        let sink = MemorySink::new();
        let r = read_file(&w.path(file), &sink);
        assert_same_export(&sink, &expected, file);
        assert_eq!(compression_of(&r), compression, "{file}");
        assert_eq!(
            container_of(&r),
            "mongodump archive from server 4.2.24 (mongodump bsonflow-test-writer), 12 namespaces",
            "{file}"
        );
        // The decompressed size is not in the report any more: it is the input's size
        // only when the input is not compressed.
        if compression == Compression::None {
            assert_eq!(r.input_bytes, w.num("size"), "{file}");
        }
        assert_eq!(finished(&sink), 5, "{file}");
        assert_eq!(sink.skipped().len(), 7, "{file}");
        assert_eq!(r.documents, 1500 + 400 + 120 + 1, "{file}");
        // Every EOF block's CRC, as the Python writer computed it.
        let crcs = w.manifest["crc"].as_object().unwrap();
        assert_eq!(crcs.len(), 10);
        for (name, crc) in crcs {
            assert_eq!(crc_of(&r, name), crc.as_u64(), "{file}: CRC of {name}");
        }
        // (The report no longer counts segments, nor keeps a record's declared size.)
        // EOF-only namespace; a view without any block.
        assert!(sink.collection("shop.empty").finished);
        assert_eq!(crc_of(&r, "shop.empty"), Some(0));
        assert_eq!(crc_of(&r, "shop.recent"), None);
        assert_eq!(skipped(&sink)["shop.recent"], SkipReason::View, "{file}");
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

fn expect_err(bytes: Vec<u8>, what: &str) -> Failed {
    let sink = MemorySink::new();
    match read_bytes(bytes, &sink) {
        Ok(r) => panic!("{what}: no error ({} namespaces)", r.namespaces.len()),
        Err(e) => {
            let text = &e.message;
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
        match (stop(&e), cut) {
            (Stop::BadMagic { found }, 0) => assert_eq!(found, "[]", "{e:?}"),
            (Stop::Truncated { pos, .. }, _) => {
                assert!(pos.offset <= cut as u64, "cut at {cut}: {e:?}");
                assert!(pos.compressed.is_none());
            }
            _ => panic!("cut at {cut}: {e:?}"),
        }
    }
    // Inside a document of shop.orders: the namespace and the offset are named.
    let e = expect_err(full[..first + 30].to_vec(), "mid-document");
    let text = &e.message;
    assert!(text.contains("shop.orders"), "{text}");
    assert!(text.contains(&format!("byte {first}")), "{text}");

    // The gzipped archive cut short: the decompressor's error, with compressed bytes read.
    let gz = std::fs::read(w.path("gzip.archive.gz")).unwrap();
    for cut in [10, gz.len() / 3, gz.len() / 2, gz.len() - 9, gz.len() - 1] {
        let e = expect_err(gz[..cut].to_vec(), &format!("gzip cut at {cut}"));
        match stop(&e) {
            Stop::Read { pos, .. } | Stop::Truncated { pos, .. } => {
                assert!(pos.compressed.is_some(), "{e:?}")
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
    match stop(&expect_err(bytes, "flipped byte")) {
        Stop::Crc { ns, expected, pos } => {
            assert_eq!(ns, "shop.orders");
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
        matches!(stop(&e), Stop::Crc { ns, pos, .. } if ns == "shop.orders" && pos.offset == at as u64),
        "{e:?}"
    );
    assert!(e.message.contains("CRC mismatch for namespace shop.orders"));

    // Bad magic.
    let mut bytes = full.clone();
    bytes[0] ^= 0x01;
    assert!(matches!(
        stop(&expect_err(bytes, "bad magic")),
        Stop::BadMagic { .. }
    ));

    // Two consecutive terminators: a block without a header right after the prelude.
    let prelude_end = w.num("prelude_end") as usize;
    let mut bytes = full[..prelude_end].to_vec();
    bytes.extend([0xff; 4]);
    bytes.extend(&full[prelude_end..]);
    match stop(&expect_err(bytes, "consecutive terminators")) {
        Stop::Corrupt { pos, what, .. } => {
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
        match stop(&expect_err(bytes, "oversized length")) {
            Stop::Corrupt { pos, ns, what } => {
                assert_eq!(pos.offset, at as u64);
                assert_eq!(ns.as_deref(), in_ns);
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
    match stop(&expect_err(bytes, "segment after EOF")) {
        Stop::Corrupt { ns, what, pos } => {
            assert_eq!(ns.unwrap(), "shop.empty");
            assert!(what.contains("after the namespace's EOF"), "{what}");
            assert_eq!(pos.offset, full.len() as u64);
        }
        e => panic!("{e:?}"),
    }

    // Trailing bytes that do not form a block.
    let mut bytes = full.clone();
    bytes.extend([1, 2, 3]);
    assert!(matches!(
        stop(&expect_err(bytes, "trailing bytes")),
        Stop::Truncated { .. }
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
    match read_bytes(bytes.clone(), &sink).as_ref().map_err(stop) {
        Err(Stop::Sink { ns, source }) => {
            assert_eq!(ns, "shop.orders");
            assert!(source.contains("0x00"), "{source}");
        }
        other => panic!("{other:?}"),
    }
    // A sink that skips corrupt data records it and the rest is read.
    let sink = MemorySink::skipping_corrupt();
    let r = read_bytes(bytes, &sink).unwrap();
    assert_eq!(corrupt_count(&sink), 1, "{r:?}");
    let orders = sink.collection("shop.orders");
    assert_eq!(orders.documents.len(), 1499);
    assert_eq!(orders.corrupt.len(), 1);
    assert_eq!(sink.collection("shop.customers").documents.len(), 400);
}
