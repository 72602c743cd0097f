//! The data files of an export, driven through the public API only: chunk naming, numbering
//! and boundaries, the content of every line (decoded back to BSON by the `bson` crate and
//! compared with pymongo's `bson.json_util`), `metadata.json`, and byte-identical output
//! whatever the number of compression threads.

use std::io::Read;
use std::path::Path;

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, DateTime, Decimal128, Document, JavaScriptCodeWithScope, Timestamp};
use bsonflow_ejson::Mode;
use bsonflow_export::{CompleteMarker, ExportError, ExportOptions, Exporter, RunSummary};
use bsonflow_model::{CollectionMetadata, CollectionWriter, DocumentSink, Namespace, ReadReport};
use bsonflow_testkit::files_under;

fn new_exporter(options: ExportOptions) -> Exporter {
    match Exporter::new(options) {
        Ok(e) => e,
        Err(e) => panic!("Exporter::new: {e}"),
    }
}

fn finish(exporter: Exporter) -> RunSummary {
    let marker = CompleteMarker {
        cluster_name: "cluster0".into(),
        snapshot_initiation_date: "2024-01-02T03:04:05.678Z".into(),
        ..Default::default()
    };
    let report = ReadReport {
        read_to_end: true,
        ..Default::default()
    };
    let summary = exporter
        .finish(&marker, report)
        .unwrap_or_else(|e| panic!("Exporter::finish: {e}"));
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert!(summary.complete_written);
    summary
}

/// Opens `full`, writes `docs` in order, finishes.
fn export_collection(exporter: &Exporter, full: &str, docs: &[Vec<u8>]) {
    let ns = Namespace::parse(full).unwrap();
    let mut w = exporter
        .open(&ns, &CollectionMetadata::default())
        .unwrap()
        .expect("the namespace is exported");
    w.set_origin(full);
    let mut offset = 0;
    for d in docs {
        w.write_document(d, offset).unwrap();
        offset += d.len() as u64;
    }
    w.finish().unwrap();
}

fn regex(pattern: &str, options: &str) -> Bson {
    Bson::RegularExpression(bson::Regex {
        pattern: pattern.to_string().try_into().unwrap(),
        options: options.to_string().try_into().unwrap(),
    })
}

/// Document `i` of a varied set: most BSON types, nested documents and arrays, keys out of
/// alphabetical order, strings that need escaping, sizes from about 150 bytes to several KB.
/// With `all_types`, also the deprecated types pymongo cannot give back (symbol, undefined).
fn varied_document(i: u32, all_types: bool) -> Document {
    let n = i as i32;
    let mut d = doc! {
        "_id": ObjectId::from_bytes([i as u8, (i >> 8) as u8, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]),
        "zeta": n,
        "alpha": i64::from(n) * 1_000_000_007 - 3,
        "ratio": f64::from(n) / 7.0 - 20.0,
        "text": "quote \" backslash \\ newline \n tab \t é ☆ 😀 \u{2028} ".repeat(i as usize % 4),
        "when": DateTime::from_millis(1_600_000_000_000 + i64::from(n) * 86_400_123),
        "bytes": Binary { subtype: BinarySubtype::Generic, bytes: vec![i as u8; (i % 9) as usize] },
        "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: [i as u8; 16].to_vec() },
        "nested": {
            "list": [n, "two", { "three": 3.5 }, [], { }],
            "flag": i.is_multiple_of(2),
            "nothing": null,
        },
        "re": regex("^item.*\\d+$", "im"),
        "ts": Timestamp { time: 1_700_000_000 + i, increment: i % 5 },
        "dec": format!("{i}.25").parse::<Decimal128>().unwrap(),
        "code": Bson::JavaScriptCode(format!("function() {{ return {i}; }}")),
        "scoped": Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope {
            code: "x + 1".into(),
            scope: doc! {"x": n},
        }),
        "edges": [i32::MIN, i32::MAX, i64::MIN, i64::MAX, -0.0_f64, 1e300, f64::INFINITY],
        "min": Bson::MinKey,
        "max": Bson::MaxKey,
        "pad": "x".repeat(((i * 397) % 1500) as usize),
    };
    if all_types {
        d.insert("symbol", Bson::Symbol("sym".into()));
        d.insert("undefined", Bson::Undefined);
    }
    d
}

fn varied_documents(count: u32, all_types: bool) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| varied_document(i, all_types).to_vec().unwrap())
        .collect()
}

/// Decompresses one data file, which must be a single gzip member and nothing after it.
fn gunzip(bytes: &[u8]) -> String {
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes);
    let mut text = String::new();
    decoder.read_to_string(&mut text).unwrap();
    assert!(
        decoder.into_inner().is_empty(),
        "bytes after the first gzip member"
    );
    text
}

/// A collection folder read back: its file names, and the text of each chunk in order.
/// Asserts that the data files are exactly `<shard>.0.json.gz` … `<shard>.<k-1>.json.gz`
/// next to `metadata.json`.
fn read_collection(dir: &Path, shard: &str) -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let chunks = names.iter().filter(|n| n.ends_with(".json.gz")).count();
    let mut expected: Vec<String> = (0..chunks)
        .map(|i| format!("{shard}.{i}.json.gz"))
        .chain(["metadata.json".to_string()])
        .collect();
    expected.sort();
    assert_eq!(names, expected, "files of {}", dir.display());
    (0..chunks)
        .map(|i| {
            let name = format!("{shard}.{i}.json.gz");
            let bytes = std::fs::read(dir.join(&name)).unwrap();
            (name, bytes)
        })
        .collect()
}

/// Parses one canonical Extended JSON line back into BSON with the `bson` crate.
fn decode_line(line: &str) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    match Bson::try_from(value).unwrap_or_else(|e| panic!("{e}: {line}")) {
        Bson::Document(d) => d.to_vec().unwrap(),
        other => panic!("not a document: {other:?}"),
    }
}

#[test]
fn chunks_are_numbered_from_zero_and_end_after_the_document_that_fills_them() {
    let docs = varied_documents(150, true);
    let bson_bytes: u64 = docs.iter().map(|d| d.len() as u64).sum();
    for chunk_bytes in [1, 700, 3000, 20_000, u64::MAX] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let mut o = ExportOptions::new(&out);
        o.chunk_bytes = chunk_bytes;
        o.threads = 2;
        o.shard_name = "atlas-east-shard-1".into();
        let exporter = new_exporter(o);
        export_collection(&exporter, "shop.orders", &docs);
        let summary = finish(exporter);

        let chunks = read_collection(&out.join("shop/orders"), "atlas-east-shard-1");
        let mut lines = Vec::new();
        let mut json_bytes = 0;
        for (i, (name, gz)) in chunks.iter().enumerate() {
            let text = gunzip(gz);
            assert!(text.ends_with('\n'), "{name}: no final newline");
            // The rule counts input BSON: the chunk's documents, read back.
            let sizes: Vec<u64> = text.lines().map(|l| decode_line(l).len() as u64).collect();
            let bson: u64 = sizes.iter().sum();
            let last = *sizes.last().unwrap();
            assert!(
                bson - last < chunk_bytes,
                "{name} (chunk_bytes {chunk_bytes}): full before its last document ({bson} - {last})"
            );
            if i + 1 < chunks.len() {
                assert!(
                    bson >= chunk_bytes,
                    "{name} (chunk_bytes {chunk_bytes}): ends at {bson} BSON bytes, before it is full"
                );
            }
            json_bytes += text.len() as u64;
            lines.extend(text.lines().map(str::to_string));
        }
        let expected_files = match chunk_bytes {
            1 => docs.len(),
            u64::MAX => 1,
            _ => chunks.len(),
        };
        assert_eq!(chunks.len(), expected_files, "chunk_bytes {chunk_bytes}");
        if chunk_bytes == 3000 {
            assert!(chunks.len() > 10, "{}", chunks.len());
        }

        // Every document once, in order, exactly as it was.
        assert_eq!(lines.len(), docs.len());
        for (i, (line, doc)) in lines.iter().zip(&docs).enumerate() {
            assert!(decode_line(line) == *doc, "document {i} differs: {line}");
        }

        let c = &summary.collections[0];
        assert_eq!(c.files, chunks.len() as u64);
        assert_eq!(summary.total_files, chunks.len() as u64);
        assert_eq!(c.documents, docs.len() as u64);
        assert_eq!(c.bson_bytes, bson_bytes);
        assert_eq!(c.json_bytes, json_bytes);
        assert_eq!(
            c.gzip_bytes,
            chunks.iter().map(|(_, gz)| gz.len() as u64).sum::<u64>()
        );
    }
}

#[test]
fn a_chunk_filled_exactly_ends_there_and_no_empty_chunk_follows() {
    // Nine documents of the same BSON length.
    let docs: Vec<Vec<u8>> = (1..=9)
        .map(|i| doc! {"_id": i, "v": "same"}.to_vec().unwrap())
        .collect();
    let size = docs[0].len() as u64;
    assert!(docs.iter().all(|d| d.len() as u64 == size));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut o = ExportOptions::new(&out);
    o.chunk_bytes = 3 * size;
    o.threads = 1;
    let exporter = new_exporter(o);
    export_collection(&exporter, "a.b", &docs);
    finish(exporter);
    let chunks = read_collection(&out.join("a/b"), "bsonflow-shard-0");
    let texts: Vec<String> = chunks.iter().map(|(_, gz)| gunzip(gz)).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    for (i, text) in texts.iter().enumerate() {
        let expected: String = (1..=3)
            .map(|k| {
                format!(
                    "{{\"_id\":{{\"$numberInt\":\"{}\"}},\"v\":\"same\"}}\n",
                    i * 3 + k
                )
            })
            .collect();
        assert_eq!(*text, expected);
    }
}

#[test]
fn an_empty_collection_gets_metadata_json_and_no_data_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let exporter = new_exporter(ExportOptions::new(&out));
    export_collection(&exporter, "shop.empty", &[]);
    let summary = finish(exporter);
    let names: Vec<_> = std::fs::read_dir(out.join("shop/empty"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["metadata.json"]);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("shop/empty/metadata.json")).unwrap())
            .unwrap();
    assert_eq!(
        meta,
        serde_json::json!({"indexes": [], "collectionName": "empty"})
    );
    let c = &summary.collections[0];
    assert_eq!((c.files, c.documents, c.json_bytes), (0, 0, 0));
    assert_eq!(summary.total_files, 0);
    let complete: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(".complete")).unwrap()).unwrap();
    assert_eq!(complete["totalFiles"], 0);
}

#[test]
fn metadata_json_holds_the_latest_metadata_in_canonical_extended_json() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let exporter = new_exporter(ExportOptions::new(&out));
    let ns = Namespace::parse("shop.orders").unwrap();
    let first = CollectionMetadata::from_mongodump_json(r#"{"indexes":[]}"#).unwrap();
    let later = CollectionMetadata::from_mongodump_json(
        r#"{"options":{"capped":true,"size":{"$numberLong":"4096"}},"indexes":[{"v":{"$numberInt":"2"},"key":{"b":{"$numberInt":"1"},"a":{"$numberInt":"-1"}},"name":"b_1_a_-1"}],"uuid":"342C40A937C34C478BAB03DE8CE44F3E","collectionName":"orders","type":"collection"}"#,
    )
    .unwrap();
    let mut w = exporter.open(&ns, &first).unwrap().unwrap();
    w.write_document(&doc! {"_id": 1}.to_vec().unwrap(), 0)
        .unwrap();
    w.finish().unwrap();
    exporter.update_metadata(&ns, &later).unwrap();
    finish(exporter);
    let text = std::fs::read_to_string(out.join("shop/orders/metadata.json")).unwrap();
    assert_eq!(
        text,
        r#"{"options":{"capped":true,"size":{"$numberLong":"4096"}},"indexes":[{"v":{"$numberInt":"2"},"key":{"b":{"$numberInt":"1"},"a":{"$numberInt":"-1"}},"name":"b_1_a_-1"}],"uuid":"342c40a937c34c478bab03de8ce44f3e","collectionName":"orders"}"#
    );
}

#[test]
fn bad_chunk_settings_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = ExportOptions::new(tmp.path().join("a"));
    o.chunk_bytes = 0;
    assert!(matches!(Exporter::new(o), Err(ExportError::ChunkBytes)));
    for bad in ["", "..", "a/b"] {
        let mut o = ExportOptions::new(tmp.path().join("b"));
        o.shard_name = bad.into();
        assert!(
            matches!(Exporter::new(o), Err(ExportError::ShardName { ref name, .. }) if name == bad),
            "{bad:?}"
        );
    }
    let mut o = ExportOptions::new(tmp.path().join("c"));
    o.gzip_level = 13;
    assert!(matches!(Exporter::new(o), Err(ExportError::GzipLevel(13))));
}

#[test]
fn output_is_byte_identical_whatever_the_thread_count() {
    // Level 6 is libdeflate, level 1 ISA-L (GzipEncoder::for_level).
    for level in [6, 1] {
        byte_identical_whatever_the_thread_count(level);
    }
}

fn byte_identical_whatever_the_thread_count(level: u32) {
    let orders = varied_documents(400, true);
    let users: Vec<Vec<u8>> = (0..300)
        .map(|i| {
            doc! {"_id": i, "name": format!("user {i}"), "score": f64::from(i) * 0.1}
                .to_vec()
                .unwrap()
        })
        .collect();
    let mut runs = Vec::new();
    for threads in [1, 2, 4] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let mut o = ExportOptions::new(&out);
        o.threads = threads;
        o.chunk_bytes = 4096;
        o.gzip_level = level;
        let exporter = new_exporter(o);
        // Two collections written at once from two reader threads, as parallel readers do.
        std::thread::scope(|s| {
            s.spawn(|| export_collection(&exporter, "shop.orders", &orders));
            s.spawn(|| export_collection(&exporter, "shop.users", &users));
        });
        export_collection(&exporter, "blog.posts", &users[..10]);
        let summary = finish(exporter);
        assert!(summary.total_files > 20, "{}", summary.total_files);
        runs.push((threads, files_under(&out)));
    }
    let (_, first) = &runs[0];
    assert!(first.contains_key(".complete"));
    for (threads, run) in &runs[1..] {
        assert_eq!(
            run.keys().collect::<Vec<_>>(),
            first.keys().collect::<Vec<_>>(),
            "file names with {threads} threads"
        );
        for (name, bytes) in run {
            assert!(
                *bytes == first[name],
                "level {level}: {name} differs between 1 and {threads} threads"
            );
        }
    }
}

const JSON_UTIL: &str = r#"
import sys
from bson import decode_file_iter
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.json_util import CANONICAL_JSON_OPTIONS, RELAXED_JSON_OPTIONS, dumps

json_options = CANONICAL_JSON_OPTIONS if sys.argv[2] == "canonical" else RELAXED_JSON_OPTIONS
codec = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO)
with open(sys.argv[1], "rb") as f:
    for doc in decode_file_iter(f, codec):
        print(dumps(doc, json_options=json_options))
"#;

#[test]
fn lines_match_pymongo_json_util() {
    let Some(python) = bsonflow_testkit::python(&["bson", "bson.json_util"]) else {
        return;
    };
    let docs = varied_documents(120, false);
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input.bson");
    std::fs::write(&input, docs.concat()).unwrap();
    for (mode, name) in [(Mode::Canonical, "canonical"), (Mode::Relaxed, "relaxed")] {
        let out = tmp.path().join(name);
        let mut o = ExportOptions::new(&out);
        o.mode = mode;
        o.chunk_bytes = 5000;
        o.threads = 2;
        let exporter = new_exporter(o);
        export_collection(&exporter, "shop.orders", &docs);
        finish(exporter);
        let ours: Vec<String> = read_collection(&out.join("shop/orders"), "bsonflow-shard-0")
            .iter()
            .flat_map(|(_, gz)| gunzip(gz).lines().map(str::to_string).collect::<Vec<_>>())
            .collect();
        let theirs =
            bsonflow_testkit::run_python(&python, JSON_UTIL, &[input.to_str().unwrap(), name]);
        let theirs: Vec<&str> = std::str::from_utf8(&theirs).unwrap().lines().collect();
        assert_eq!(ours.len(), docs.len(), "{name}");
        assert_eq!(theirs.len(), docs.len(), "{name}");
        for (i, (a, e)) in ours.iter().zip(&theirs).enumerate() {
            if let Some(diff) = bsonflow_testkit::ejson_difference(a, e) {
                panic!("{name} document {i}: {diff}\n ours:    {a}\n pymongo: {e}");
            }
        }
    }
}

#[test]
fn a_large_chunk_is_a_series_of_gzip_members_that_standard_readers_read_as_one() {
    // Level 6 is libdeflate, levels 1 and 2 ISA-L (GzipEncoder::for_level).
    for level in [6, 1, 2] {
        large_chunk_read_by_standard_readers(level);
    }
}

fn large_chunk_read_by_standard_readers(level: u32) {
    // About 14 MiB of JSON in one chunk: at least 3 members of 4 MiB.
    let docs: Vec<Vec<u8>> = (0..3500)
        .map(|i| {
            let text: String = (0..4000)
                .map(|k| char::from(b'a' + ((i * 7 + k) % 26) as u8))
                .collect();
            doc! {"_id": i, "text": text}.to_vec().unwrap()
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut o = ExportOptions::new(&out);
    o.chunk_bytes = u64::MAX;
    o.threads = 2;
    o.gzip_level = level;
    let exporter = new_exporter(o);
    export_collection(&exporter, "big.text", &docs);
    finish(exporter);
    let chunks = read_collection(&out.join("big/text"), "bsonflow-shard-0");
    assert_eq!(chunks.len(), 1);
    let gz = &chunks[0].1;

    // Member by member with a single-member decoder.
    let mut rest: &[u8] = gz;
    let mut members = 0;
    let mut text = Vec::new();
    while !rest.is_empty() {
        let mut d = flate2::bufread::GzDecoder::new(rest);
        d.read_to_end(&mut text).unwrap();
        rest = d.into_inner();
        members += 1;
    }
    assert!(members >= 3, "level {level}: {members} members");
    let lines: Vec<&str> = std::str::from_utf8(&text).unwrap().lines().collect();
    assert_eq!(lines.len(), docs.len());
    for (line, doc) in lines.iter().zip(&docs) {
        assert!(decode_line(line) == *doc);
    }

    // GNU gzip and Python read the file as one stream.
    let file = out.join("big/text/bsonflow-shard-0.0.json.gz");
    match std::process::Command::new("gzip")
        .arg("-t")
        .arg(&file)
        .status()
    {
        Ok(s) => assert!(s.success(), "level {level}: gzip -t"),
        Err(_) => bsonflow_testkit::skip::<()>("no gzip on PATH").unwrap_or(()),
    }
    let py = std::process::Command::new("python3")
        .args([
            "-c",
            "import gzip,sys; sys.stdout.write(str(len(gzip.open(sys.argv[1]).read())))",
        ])
        .arg(&file)
        .output();
    match py {
        Ok(o) if o.status.success() => {
            assert_eq!(String::from_utf8_lossy(&o.stdout), text.len().to_string())
        }
        _ => bsonflow_testkit::skip::<()>("no python3").unwrap_or(()),
    }

    // DuckDB, as a lake reads these files: every line of every member, as JSON.
    if let Some(py) = bsonflow_testkit::python(&["duckdb"]) {
        let query = "import duckdb, sys; print(duckdb.sql(\"select count(*), \
            sum(cast(_id['$numberInt'] as bigint)), sum(length(text)) from read_json('\" \
            + sys.argv[1] + \"', format='newline_delimited', compression='gzip')\").fetchall()[0])";
        let got = bsonflow_testkit::run_python(&py, query, &[file.to_str().unwrap()]);
        let want = format!(
            "({}, {}, {})",
            docs.len(),
            (0..docs.len()).sum::<usize>(),
            docs.len() * 4000
        );
        assert_eq!(
            String::from_utf8_lossy(&got).trim(),
            want,
            "level {level}: DuckDB"
        );
    }
}
