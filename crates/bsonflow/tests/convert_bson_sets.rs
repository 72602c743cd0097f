//! End to end: BSON sets (folders and single files) through the `bsonflow` binary.

mod common;

use std::path::Path;

use common::*;

const SHOP: [&str; 4] = ["customers", "empty", "oddities", "orders"];

#[test]
fn sample_dump_becomes_the_atlas_layout() {
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("export");
    let sample = testdata("sample-dump");
    let o = convert(&sample, &dest, &["--shard-name", "atlas-abc123-shard-0"]);
    assert_status(&o, 0);

    // Exactly these files: the run marker, data files of non-empty collections, metadata
    // everywhere (and `.complete`, which `tree` leaves out).
    let files: Vec<String> = tree(&dest)
        .keys()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        [
            ".bsonflow-export",
            "shop/customers/atlas-abc123-shard-0.0.json.gz",
            "shop/customers/metadata.json",
            "shop/empty/metadata.json",
            "shop/oddities/atlas-abc123-shard-0.0.json.gz",
            "shop/oddities/metadata.json",
            "shop/orders/atlas-abc123-shard-0.0.json.gz",
            "shop/orders/metadata.json",
        ]
    );

    // Each skip is reported with its reason.
    let text = stdout(&o);
    for (ns, reason) in [
        ("admin.system.version", "system database"),
        ("shop.system.js", "system collection"),
        ("shop.big_orders", "view"),
    ] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{ns}:")))
            .unwrap_or_else(|| panic!("{ns} missing from the summary:\n{text}"));
        assert!(line.contains(reason), "{line}");
    }

    // .complete: the documented fields in order; totalFiles counts the data files.
    let complete: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dest.join(".complete")).unwrap()).unwrap();
    let keys: Vec<_> = complete.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "orgId",
            "orgName",
            "groupId",
            "groupName",
            "clusterUniqueId",
            "clusterName",
            "snapshotInitiationDate",
            "totalFiles",
            "labels",
            "customData"
        ]
    );
    assert_eq!(complete["totalFiles"], 3);
    assert_eq!(complete["clusterName"], "sample-dump");

    // metadata.json in mongodump's canonical shape: empty options and type "collection"
    // left out, uuid and index key order kept.
    let meta = std::fs::read_to_string(dest.join("shop/orders/metadata.json")).unwrap();
    let input: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sample.join("shop/orders.metadata.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        meta,
        format!(
            r#"{{"indexes":[{{"v":{{"$numberInt":"2"}},"key":{{"_id":{{"$numberInt":"1"}}}},"name":"_id_"}},{{"v":{{"$numberInt":"2"}},"key":{{"customer":{{"$numberInt":"1"}},"placed":{{"$numberInt":"-1"}}}},"name":"customer_1_placed_-1"}}],"uuid":"{}","collectionName":"orders"}}"#,
            input["uuid"].as_str().unwrap()
        )
    );
    let capped = std::fs::read_to_string(dest.join("shop/oddities/metadata.json")).unwrap();
    assert!(
        capped.starts_with(
            r#"{"options":{"capped":true,"size":{"$numberLong":"1048576"}},"indexes":"#
        ),
        "{capped}"
    );

    // The documents, compared with pymongo's json_util reading the same files.
    for coll in SHOP {
        let lines = if coll == "empty" {
            assert!(!dest.join("shop/empty").read_dir().unwrap().any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".json.gz")));
            continue;
        } else {
            read_chunks(&dest.join("shop").join(coll))
        };
        let Some(expected) = pymongo_lines(&sample.join(format!("shop/{coll}.bson")), "canonical")
        else {
            return;
        };
        assert_same_lines(&lines, &expected, coll);
    }
}

#[test]
fn relaxed_format_matches_pymongo_relaxed() {
    let out = tempfile::tempdir().unwrap();
    let sample = testdata("sample-dump");
    let o = convert(&sample, out.path(), &["--format", "relaxed"]);
    assert_status(&o, 0);
    for coll in ["customers", "oddities", "orders"] {
        let lines = read_chunks(&out.path().join("shop").join(coll));
        let Some(expected) = pymongo_lines(&sample.join(format!("shop/{coll}.bson")), "relaxed")
        else {
            return;
        };
        assert_same_lines(&lines, &expected, coll);
    }
}

#[test]
fn bsondump_sample_converts_to_exactly_bsondumps_output() {
    let Some(dir) = shared("testdata/bsondump") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &dir.join("sample.bson"),
        out.path(),
        &["--ns", "test.sample"],
    );
    assert_status(&o, 0);
    let lines = read_chunks(&out.path().join("test/sample"));
    let expected: Vec<String> = std::fs::read_to_string(dir.join("sample.json"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines, expected);
}

#[test]
fn corrupt_bsondump_files_fail_with_file_and_offset_or_are_skipped_on_request() {
    let Some(dir) = shared("testdata/bsondump") else {
        return;
    };
    for name in [
        "bad_cstring.bson",
        "bad_type.bson",
        "invalid_field_name.bson",
        "partial_file.bson",
        "random_bytes.bson",
    ] {
        let input = dir.join(name);
        let out = tempfile::tempdir().unwrap();
        let o = convert(&input, out.path(), &["--ns", "test.bad"]);
        assert_status(&o, 1);
        let err = stderr(&o) + &stdout(&o);
        assert!(err.contains(name), "{name}: no file name in:\n{err}");
        assert!(err.contains("at byte "), "{name}: no offset in:\n{err}");
        assert!(err.contains("test.bad"), "{name}: no namespace in:\n{err}");
        assert!(!out.path().join(".complete").exists(), "{name}");

        let out = tempfile::tempdir().unwrap();
        let o = convert(&input, out.path(), &["--ns", "test.bad", "--skip-corrupt"]);
        assert_status(&o, 3);
        assert!(
            stdout(&o).contains("corrupt document(s) skipped"),
            "{name}: {}",
            stdout(&o)
        );
        assert!(out.path().join(".complete").exists(), "{name}");
    }
}

#[test]
fn chunks_roll_over_at_chunk_bytes_without_changing_the_content() {
    let sample = testdata("sample-dump");
    let whole = tempfile::tempdir().unwrap();
    assert_status(&convert(&sample, whole.path(), &[]), 0);
    let split = tempfile::tempdir().unwrap();
    assert_status(&convert(&sample, split.path(), &["--chunk-bytes", "4K"]), 0);

    let dir = split.path().join("shop/orders");
    let mut chunks: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .collect();
    chunks.sort_by_key(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        name.split('.').nth(1).unwrap().parse::<u32>().unwrap()
    });
    assert!(chunks.len() > 10, "{} chunks", chunks.len());
    // The documents' BSON lengths, in input order, from the input file itself.
    let input = std::fs::read(sample.join("shop/orders.bson")).unwrap();
    let mut lengths = Vec::new();
    let mut at = 0;
    while at < input.len() {
        let len = u32::from_le_bytes(input[at..at + 4].try_into().unwrap()) as usize;
        lengths.push(len);
        at += len;
    }
    let mut next = 0;
    for (i, c) in chunks.iter().enumerate() {
        let lines = read_chunks_of(c);
        let sizes = &lengths[next..next + lines.len()];
        next += lines.len();
        let bytes: usize = sizes.iter().sum();
        let last = *sizes.last().unwrap();
        // Below 4 KiB of BSON before its last document; at least 4 KiB with it, unless it
        // is the last chunk.
        assert!(bytes - last < 4096, "chunk {i}: {bytes} BSON bytes");
        if i + 1 < chunks.len() {
            assert!(bytes >= 4096, "chunk {i}: {bytes} BSON bytes");
        }
    }
    assert_eq!(next, lengths.len());
    assert_eq!(
        read_chunks(&dir),
        read_chunks(&whole.path().join("shop/orders"))
    );
}

fn read_chunks_of(file: &Path) -> Vec<String> {
    use std::io::Read;
    let mut s = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(file).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s.lines().map(str::to_string).collect()
}

#[test]
fn output_is_byte_identical_whatever_the_thread_count() {
    let sample = testdata("sample-dump");
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    assert_status(
        &convert(&sample, one.path(), &["-j", "1", "--chunk-bytes", "8K"]),
        0,
    );
    assert_status(
        &convert(&sample, two.path(), &["-j", "2", "--chunk-bytes", "8K"]),
        0,
    );
    assert_eq!(tree(one.path()), tree(two.path()));
}

#[test]
fn include_and_exclude_patterns() {
    let sample = testdata("sample-dump");
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &sample,
        out.path(),
        &["--include", "shop.*", "--exclude", "shop.o*"],
    );
    assert_status(&o, 0);
    assert!(out.path().join("shop/customers").exists());
    assert!(!out.path().join("shop/orders").exists());
    assert!(!out.path().join("shop/oddities").exists());
    assert!(stdout(&o).contains("shop.orders: excluded by the pattern shop.o*"));
}

#[test]
fn refuses_a_non_empty_output_folder_and_a_nameless_single_file() {
    let sample = testdata("sample-dump");
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("keep.txt"), b"mine").unwrap();
    let o = convert(&sample, out.path(), &[]);
    assert_status(&o, 1);
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
    assert_eq!(std::fs::read(out.path().join("keep.txt")).unwrap(), b"mine");

    let out = tempfile::tempdir().unwrap();
    let o = convert(&sample.join("shop/orders.bson"), &out.path().join("x"), &[]);
    assert_status(&o, 1);
    assert!(stderr(&o).contains("--ns"), "{}", stderr(&o));
}

#[test]
fn cloud_download_layout_concatenates_parts_in_numeric_order() {
    let Some(py) = python(&["bson"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("download");
    // Parts of one collection, numbered so that text order differs from numeric order.
    run_python(
        &py,
        r#"
import os, sys, bson
root = sys.argv[1]
d = os.path.join(root, "appdb", "events", "data")
os.makedirs(d)
n = 0
for (N, M) in [(0, 0), (0, 1), (2, 0), (10, 0), (10, 2)]:
    with open(os.path.join(d, f"events_{N}_part{M}.bson"), "wb") as f:
        for i in range(50):
            f.write(bson.encode({"_id": n, "part": f"{N}_{M}", "payload": "x" * (i % 7)}))
            n += 1
e = os.path.join(root, "appdb", "empty", "data")
os.makedirs(e)
open(os.path.join(e, "empty_0_part0.bson"), "wb").close()
with open(os.path.join(root, "appdb", "events", "events.metadata.json"), "w") as f:
    f.write('{"indexes":[{"v":2,"key":{"_id":1},"name":"_id_"}],"uuid":"00112233445566778899aabbccddeeff"}')
"#,
        &[root.to_str().unwrap()],
    );
    let out = tempfile::tempdir().unwrap();
    let o = convert(&root, out.path(), &[]);
    assert_status(&o, 0);
    let lines = read_chunks(&out.path().join("appdb/events"));
    assert_eq!(lines.len(), 250);
    for (i, l) in lines.iter().enumerate() {
        assert!(
            l.starts_with(&format!(r#"{{"_id":{{"$numberInt":"{i}"}},"#)),
            "line {i}: {l}"
        );
    }
    assert!(out.path().join("appdb/empty/metadata.json").exists());
    assert_eq!(
        std::fs::read_to_string(out.path().join("appdb/events/metadata.json")).unwrap(),
        r#"{"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"}],"uuid":"00112233445566778899aabbccddeeff","collectionName":"events"}"#
    );
}

#[test]
fn mongo_tools_dump_folders_keep_their_index_metadata() {
    let Some(root) = shared("testdata/mongo-tools") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let o = convert(&root.join("indextestdump"), out.path(), &[]);
    assert_status(&o, 0);
    let meta = std::fs::read_to_string(out.path().join("indextest/test_collection/metadata.json"))
        .unwrap();
    // Legacy index fields (`ns`, `safe`) and odd key values stay as mongodump wrote them.
    assert_eq!(
        meta,
        r#"{"indexes":[{"v":{"$numberInt":"1"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_","ns":"indextest.test_collection"},{"v":{"$numberInt":"1"},"key":{"a":{"$numberDouble":"1.0"},"b":true,"c":{"$numberDecimal":"0"},"d":""},"name":"a_1_b_true","ns":"indextest.test_collection","safe":true}],"uuid":"d2016afbfd1048399ab39a176b1c63ce","collectionName":"test_collection"}"#
    );
    let docs = read_chunks(&out.path().join("indextest/test_collection"));
    let Some(expected) = pymongo_lines(
        &root.join("indextestdump/indextest/test_collection.bson"),
        "canonical",
    ) else {
        return;
    };
    assert_same_lines(&docs, &expected, "indextest.test_collection");
}

#[test]
fn pymongo_random_documents_round_trip_through_the_binary() {
    let Some(py) = python(&["bson"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("random.bson");
    run_python(
        &py,
        r#"
import sys, random, datetime, bson, uuid
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp, DBRef
from bson.datetime_ms import DatetimeMS
rng = random.Random(7)
def scalar(depth):
    k = rng.randrange(19)
    if k == 0: return rng.randrange(-2**31, 2**31)
    if k == 1: return Int64(rng.randrange(-2**63, 2**63))
    if k == 2: return rng.choice([0.0, -0.0, 1.5, 1e300, 5e-324, float("inf"), float("-inf"), float("nan"), rng.uniform(-1e9, 1e9), 1e21, 123456.0, 1234567.0])
    if k == 3: return "".join(rng.choice(["a", "é", "\n", "\"", "\\", "\u2028", "\x01", "\U0001F600", "<", "&", "\t", "z"]) for _ in range(rng.randrange(12)))
    if k == 4: return Binary(bytes(rng.randrange(256) for _ in range(rng.randrange(20))), rng.choice([0, 1, 3, 4, 5, 6, 0x80]))
    if k == 5: return ObjectId(bytes(rng.randrange(256) for _ in range(12)))
    if k == 6: return rng.choice([True, False])
    if k == 7: return DatetimeMS(rng.choice([0, -1, 1, 253402300799999, 253402300800000, -62135596800000, rng.randrange(-2**45, 2**45)]))
    if k == 8: return None
    if k == 9: return Regex("".join(rng.choice("ab.*\\\"/") for _ in range(5)), "".join(rng.sample("imxsul", rng.randrange(4))))
    if k == 10: return Code("function(){ return \"x\"; }")
    if k == 11: return Code("x + y", {"x": 1, "y": Int64(2)})
    if k == 12: return Timestamp(rng.randrange(2**32), rng.randrange(2**32))
    if k == 13: return Decimal128(rng.choice(["0", "-0", "1.5E+3000", "NaN", "Infinity", "-1.000", "1E-6176", "123456789012345678901234567890123"]))
    if k == 14: return MinKey()
    if k == 15: return MaxKey()
    if k == 16: return DBRef("coll", ObjectId(b"abcdefghijkl"), "db")
    if k == 17 and depth < 4: return [value(depth + 1) for _ in range(rng.randrange(4))]
    if depth < 4: return {f"k{i}": value(depth + 1) for i in range(rng.randrange(4))}
    return 1
def value(depth):
    return scalar(depth)
with open(sys.argv[1], "wb") as f:
    for n in range(2000):
        doc = {"_id": n}
        for i in range(rng.randrange(1, 8)):
            doc[rng.choice(["a", "b", "c", "d", "é", "$x", "with space", "x.y"]) + str(i)] = value(0)
        f.write(bson.encode(doc))
"#,
        &[file.to_str().unwrap()],
    );
    for mode in ["canonical", "relaxed"] {
        let out = tempfile::tempdir().unwrap();
        let o = convert(&file, out.path(), &["--ns", "rand.docs", "--format", mode]);
        assert_status(&o, 0);
        let lines = read_chunks(&out.path().join("rand/docs"));
        let expected = pymongo_lines(&file, mode).unwrap();
        assert_same_lines(&lines, &expected, mode);
    }
}
