//! Checks a dbpath fixture (`dbpath/` + `expected/`) against what this crate reads.
//!
//! `expected/catalog.json` lists the collections (views carry no ident and are skipped);
//! `expected/<db>/<coll>.jsonl` holds every document in canonical Extended JSON, in RecordId
//! order, and `.recordids` the keys (decimal RecordIds, hex for clustered collections).
//! Each expected line is parsed with serde_json (`preserve_order`) and the `bson` crate's
//! Extended JSON support, re-encoded to BSON and compared byte for byte with the document
//! read from the WiredTiger files.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bson::{Bson, Document};
use bsonflow_wiredtiger::format::block::BlockFile;
use bsonflow_wiredtiger::format::btree::Tree;
use bsonflow_wiredtiger::format::metadata::FileInfo;
use bsonflow_wiredtiger::{DataDir, Error};
use serde_json::Value;

/// What one fixture held, for the summary line.
#[derive(Debug, Default)]
pub struct Checked {
    pub collections: usize,
    pub documents: usize,
    pub failed_collections: Vec<String>,
    /// Entries of the index trees walked.
    pub index_entries: usize,
}

pub fn ejson_to_document(v: Value, what: &str) -> Document {
    match Bson::try_from(v) {
        Ok(Bson::Document(d)) => d,
        Ok(other) => panic!("{what}: not a document: {other:?}"),
        Err(e) => panic!("{what}: not Extended JSON: {e}"),
    }
}

pub fn bson_bytes(d: &Document) -> Vec<u8> {
    d.to_vec().expect("document encodes")
}

fn relaxed(doc: &[u8]) -> String {
    match Document::from_reader(&mut &doc[..]) {
        Ok(d) => Bson::Document(d).into_relaxed_extjson().to_string(),
        Err(e) => format!("<undecodable: {e}>"),
    }
}

/// The fixtures found under `root` (folders with `dbpath/` and `expected/`).
pub fn fixtures(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("dbpath").is_dir() && e.path().join("expected").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

pub fn check_fixture(fixture: &Path) -> Checked {
    let dbpath = fixture.join("dbpath");
    let expected_dir = fixture.join("expected");
    let catalog: Value =
        serde_json::from_slice(&std::fs::read(expected_dir.join("catalog.json")).unwrap()).unwrap();
    let dir = DataDir::open(&dbpath).unwrap_or_else(|e| panic!("open {}: {e}", dbpath.display()));
    let mut checked = Checked::default();

    let expected: Vec<&Value> = catalog["collections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["ident"].is_null())
        .collect();
    let expected_ns: BTreeSet<String> = expected
        .iter()
        .map(|c| c["ns"].as_str().unwrap().to_string())
        .collect();
    let ours_ns: BTreeSet<String> = dir.collections().iter().map(|e| e.ns.to_string()).collect();
    assert_eq!(
        ours_ns,
        expected_ns,
        "{}: namespaces of the catalog",
        fixture.display()
    );
    assert_eq!(
        dir.collections().len(),
        expected.len(),
        "duplicate namespaces"
    );

    // Catalog order is RecordId order.
    let ids: Vec<i64> = dir.collections().iter().map(|e| e.record_id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "catalog not in RecordId order: {ids:?}"
    );

    for exp in expected {
        let ns = exp["ns"].as_str().unwrap();
        let entry = dir.collection(ns).unwrap();
        let what = format!("{}: {ns}", fixture.display());
        assert_eq!(entry.ident, exp["ident"].as_str().unwrap(), "{what}: ident");
        assert_eq!(
            entry.record_id,
            exp["catalog_record_id"].as_i64().unwrap(),
            "{what}: catalog RecordId"
        );
        check_metadata(&what, entry, exp);
        checked.collections += 1;

        if let Some(err) = exp.get("error") {
            let got = dir
                .read_collection(entry, |_, _| {})
                .expect_err(&format!("{what}: the oracle failed ({err}) but we read it"));
            assert!(
                matches!(got.innermost(), Error::MissingCollectionFile { .. }),
                "{what}: expected a missing-file error, got {got}"
            );
            let msg = got.to_string();
            assert!(
                msg.contains(ns) && msg.contains(&entry.ident),
                "{what}: {msg}"
            );
            checked.failed_collections.push(ns.to_string());
            continue;
        }
        if exp["key_format"].is_string() {
            assert_eq!(
                entry.key_format.as_deref(),
                exp["key_format"].as_str(),
                "{what}: key_format"
            );
        }
        checked.documents += check_documents(&what, &dir, entry, &expected_dir, exp);
        checked.index_entries += check_index_trees(&what, &dir, exp);
    }
    checked
}

/// Index files are not exported, but they are WiredTiger row stores with prefix-compressed
/// KeyString keys and (often) empty values: walking them exercises key-prefix rebuilding on
/// real pages. Each index must give the oracle's entry count, page counts, and strictly
/// increasing keys (checked by the walk).
fn check_index_trees(what: &str, dir: &DataDir, exp: &Value) -> usize {
    let mut total = 0;
    for ix in exp["indexes"].as_array().unwrap() {
        let (Some(ident), Some(count)) = (ix["ident"].as_str(), ix["entry_count"].as_u64()) else {
            continue;
        };
        let uri = format!("file:{ident}.wt");
        let config = &dir.metadata()[&uri];
        let info = FileInfo::parse(&uri, config, Path::new("metadata")).unwrap();
        let file = BlockFile::open(
            &dir.path().join(format!("{ident}.wt")),
            info.allocation_size,
            info.compressor,
        )
        .unwrap_or_else(|e| panic!("{what}: index {ident}: {e}"));
        let mut entries = 0u64;
        let stats = Tree::new(&file, info.root())
            .scan(|_| {
                entries += 1;
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{what}: index {ident}: {e}"));
        assert_eq!(entries, count, "{what}: entries of index {ident}");
        let bt = &ix["btree_stats"];
        let internal = if stats.leaf_pages == 0 && stats.internal_pages == 0 {
            1
        } else {
            stats.internal_pages
        };
        assert_eq!(
            (stats.leaf_pages, internal, stats.overflow_pages),
            (
                bt["leaf_pages"].as_u64().unwrap(),
                bt["internal_pages"].as_u64().unwrap(),
                bt["overflow_pages"].as_u64().unwrap()
            ),
            "{what}: pages of index {ident}"
        );
        assert_eq!(
            entries + stats.deleted,
            bt["kv_pairs"].as_u64().unwrap(),
            "{what}: index {ident} kv pairs"
        );
        total += entries as usize;
    }
    total
}

fn check_metadata(what: &str, entry: &bsonflow_wiredtiger::CatalogEntry, exp: &Value) {
    let mut options = ejson_to_document(exp["options"].clone(), "options");
    let uuid = options.remove("uuid").map(|u| match u {
        Bson::Binary(b) => b
            .bytes
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>(),
        other => panic!("{what}: uuid {other:?}"),
    });
    let ours = entry.metadata.options.clone().unwrap_or_default();
    assert_eq!(bson_bytes(&ours), bson_bytes(&options), "{what}: options");
    assert_eq!(entry.metadata.uuid, uuid, "{what}: uuid");
    let indexes: Vec<Vec<u8>> = exp["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|ix| ix["ready"] == Value::Bool(true))
        .map(|ix| bson_bytes(&ejson_to_document(ix["spec"].clone(), "index spec")))
        .collect();
    let ours: Vec<Vec<u8>> = entry.metadata.indexes.iter().map(bson_bytes).collect();
    assert_eq!(ours, indexes, "{what}: ready index specs");
    let kind = if options.contains_key("timeseries") {
        "timeseries"
    } else {
        "collection"
    };
    assert_eq!(entry.metadata.kind.as_deref(), Some(kind), "{what}: kind");
}

fn check_documents(
    what: &str,
    dir: &DataDir,
    entry: &bsonflow_wiredtiger::CatalogEntry,
    expected_dir: &Path,
    exp: &Value,
) -> usize {
    let jsonl: PathBuf = expected_dir.join(exp["file"].as_str().unwrap());
    let rids: PathBuf = expected_dir.join(exp["recordids_file"].as_str().unwrap());
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let want_ids: Vec<String> = std::fs::read_to_string(&rids)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();

    let mut got: Vec<(String, Vec<u8>)> = Vec::new();
    let stats = dir
        .read_collection(entry, |key, doc| got.push((key.to_string(), doc.to_vec())))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let count = exp["count"].as_u64().unwrap() as usize;
    assert_eq!(want_ids.len(), count, "{what}: fixture .recordids vs count");
    assert_eq!(stats.documents as usize, got.len());
    assert_eq!(stats.corrupt, 0);
    // The tree walk saw the pages WiredTiger's own statistics walk saw.
    let bt = &exp["btree_stats"];
    if bt["leaf_pages"].is_u64() {
        // WiredTiger counts the in-memory root it builds for an empty tree.
        let internal = if stats.leaf_pages == 0 && stats.internal_pages == 0 {
            1
        } else {
            stats.internal_pages
        };
        let pages = (stats.leaf_pages, internal, stats.overflow_pages);
        let want = (
            bt["leaf_pages"].as_u64().unwrap(),
            bt["internal_pages"].as_u64().unwrap(),
            bt["overflow_pages"].as_u64().unwrap(),
        );
        assert_eq!(pages, want, "{what}: (leaf, internal, overflow) pages");
        assert_eq!(
            stats.documents + stats.deleted + stats.prepared,
            bt["kv_pairs"].as_u64().unwrap(),
            "{what}: key/value pairs on disk (live + deleted)"
        );
    }

    let got_ids: Vec<&String> = got.iter().map(|(k, _)| k).collect();
    let want_ids: Vec<&String> = want_ids.iter().collect();
    if got_ids != want_ids {
        let first = got_ids.iter().zip(&want_ids).position(|(a, b)| a != b);
        panic!(
            "{what}: record ids differ: {} read, {} expected, first difference at {first:?}",
            got_ids.len(),
            want_ids.len()
        );
    }
    let mut n = 0;
    for (i, (line, (key, doc))) in text.lines().zip(&got).enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        let want = bson_bytes(&ejson_to_document(v, what));
        assert!(
            &want == doc,
            "{what}: document {i} (record {key}) differs\n  expected {line}\n  read     {}",
            relaxed(doc)
        );
        n += 1;
    }
    assert_eq!(n, count, "{what}: expected lines");
    n
}
