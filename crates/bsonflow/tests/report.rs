//! `convert --report FILE` (the run as JSON, for pipelines) and `--atlas-prefix` (the
//! export under Atlas's `exported_snapshots/…` path).

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// A mongodump folder written by pymongo: `shop.orders` (700 documents), `shop.users` (40),
/// and `admin.system.users` (skipped by rule). Returns the folder, or `None` without pymongo.
const DUMP: &str = r#"
import os, sys, random
import bson
root = sys.argv[1]
rng = random.Random(5)
for db, coll, n in [("shop", "orders", 700), ("shop", "users", 40), ("admin", "system.users", 2)]:
    os.makedirs(os.path.join(root, db), exist_ok=True)
    with open(os.path.join(root, db, coll + ".bson"), "wb") as f:
        for i in range(n):
            f.write(bson.encode({"_id": i, "pad": "x" * rng.randint(0, 300), "v": rng.random()}))
"#;

fn dump(root: &Path) -> Option<PathBuf> {
    let py = python(&["bson"])?;
    let dir = root.join("dump");
    run_python(&py, DUMP, &[dir.to_str().unwrap()]);
    Some(dir)
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn gunzip_len(p: &Path) -> u64 {
    use std::io::Read;
    let mut n = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_end(&mut n)
        .unwrap();
    n.len() as u64
}

#[test]
fn the_report_states_what_was_written_per_collection() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(input) = dump(tmp.path()) else {
        return;
    };
    let out = tmp.path().join("out");
    let report = tmp.path().join("report.json");
    let o = convert(
        &input,
        &out,
        &["--chunk-bytes", "50K", "--report", report.to_str().unwrap()],
    );
    assert_status(&o, 0);
    let r = read_json(&report);
    assert_eq!(r["report_version"], 1);
    assert_eq!(r["exit_status"], 0);
    assert_eq!(r["outcome"], "complete");
    assert_eq!(r["complete_written"], true);
    assert_eq!(r["inputs"][0]["shard"], "bsonflow-shard-0");
    assert!(
        r["format"].as_str().unwrap().contains("BSON"),
        "{}",
        r["format"]
    );
    assert_eq!(
        r["skipped"][0]["ns"], "admin.system.users",
        "skipped: {}",
        r["skipped"]
    );
    assert!(!r["skipped"][0]["reason"].as_str().unwrap().is_empty());

    let mut files_total = 0;
    for (coll, docs) in [("orders", 700), ("users", 40)] {
        let c = r["collections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["ns"] == format!("shop.{coll}"))
            .unwrap_or_else(|| panic!("shop.{coll} in {}", r["collections"]));
        assert_eq!(c["documents"], docs);
        let bson_len = std::fs::metadata(input.join(format!("shop/{coll}.bson")))
            .unwrap()
            .len();
        assert_eq!(c["bson_bytes"], bson_len);
        let dir = out.join("shop").join(coll);
        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
            .collect();
        assert_eq!(c["chunks"], files.len() as u64);
        let gz: u64 = files
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        let json: u64 = files.iter().map(|p| gunzip_len(p)).sum();
        assert_eq!(c["gzip_bytes"], gz);
        assert_eq!(c["json_bytes"], json);
        assert!(c["seconds"].as_f64().unwrap() >= 0.0);
        files_total += files.len() as u64;
    }
    assert!(files_total > 2, "several chunks");
    assert_eq!(r["totals"]["files"], files_total);
    assert_eq!(r["totals"]["documents"], 740);
    assert_eq!(read_json(&out.join(".complete"))["totalFiles"], files_total);
}

#[test]
fn the_report_lists_every_corrupt_document_skipped_and_failed_runs_too() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(input) = dump(tmp.path()) else {
        return;
    };
    // Damage the type byte of the first element of three documents of shop.users.
    let users = input.join("shop/users.bson");
    let mut bytes = std::fs::read(&users).unwrap();
    let mut starts = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        starts.push(at);
        at += u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    }
    for &s in &[starts[3], starts[10], starts[30]] {
        bytes[s + 4] = 0x7e;
    }
    std::fs::write(&users, bytes).unwrap();

    let report = tmp.path().join("r.json");
    let o = convert(
        &input,
        &tmp.path().join("out"),
        &["--skip-corrupt", "--report", report.to_str().unwrap()],
    );
    assert_status(&o, 3);
    let r = read_json(&report);
    assert_eq!(r["exit_status"], 3);
    assert_eq!(r["outcome"], "complete_with_skips");
    let listed = r["corrupt_documents"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    for (d, start) in listed.iter().zip([starts[3], starts[10], starts[30]]) {
        assert_eq!(d["ns"], "shop.users");
        assert!(d["file"].as_str().unwrap().ends_with("users.bson"), "{d}");
        assert_eq!(d["offset"], (start + 4) as u64, "{d}");
    }
    assert_eq!(r["corrupt_unlisted"], 0);

    // Without --skip-corrupt: the run fails, and the report says so and why.
    let o = convert(
        &input,
        &tmp.path().join("out2"),
        &["--report", report.to_str().unwrap()],
    );
    assert_status(&o, 1);
    let r = read_json(&report);
    assert_eq!(
        (r["exit_status"].clone(), r["outcome"].clone()),
        (1.into(), "failed".into())
    );
    assert_eq!(r["complete_written"], false);
    let failure = &r["failures"][0];
    assert_eq!(failure["ns"], "shop.users");
    assert!(
        failure["message"].as_str().unwrap().contains("users.bson"),
        "{failure}"
    );

    // An input that cannot be read at all: still a report.
    let o = convert(
        &tmp.path().join("nothing-here"),
        &tmp.path().join("out3"),
        &["--report", report.to_str().unwrap()],
    );
    assert_status(&o, 1);
    let r = read_json(&report);
    assert_eq!(r["exit_status"], 1);
    assert!(r["error"].as_str().unwrap().contains("nothing-here"), "{r}");
}

#[test]
fn atlas_prefix_writes_where_atlas_puts_an_export() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(input) = dump(tmp.path()) else {
        return;
    };
    let out = tmp.path().join("bucket");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let o = convert(
        &input,
        &out,
        &[
            "--atlas-prefix",
            "--org-name",
            "My Org/../x",
            "--group-name",
            "Project (prod)",
            "--cluster-name",
            "Cluster0",
            "--snapshot-date",
            "2020-04-03T05:50:29.321Z",
        ],
    );
    assert_status(&o, 0);
    let base = out.join("exported_snapshots/My_Org..x/Project_(prod)/Cluster0/2020-04-03T0550");
    let epochs: Vec<PathBuf> = std::fs::read_dir(&base)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", base.display(), stdout(&o)))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(epochs.len(), 1);
    let epoch: u64 = epochs[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(epoch >= before && epoch <= before + 600, "{epoch}");
    let root = &epochs[0];
    assert!(root.join(".complete").exists());
    assert!(root.join("shop/orders/metadata.json").exists());
    let marker = read_json(&root.join(".complete"));
    assert_eq!(marker["orgName"], "My Org/../x");
    assert_eq!(marker["snapshotInitiationDate"], "2020-04-03T05:50:29.321Z");

    let ids = tmp.path().join("ids");
    let o = convert(
        &input,
        &ids,
        &[
            "--atlas-prefix",
            "ids",
            "--org-id",
            "62fba96d8e949e4b845c9867",
            "--group-id",
            "6308d553c10c0b62832b4a6e",
            "--cluster-name",
            "s2-prod",
            "--snapshot-date",
            "2026-03-04T11:03:00Z",
        ],
    );
    assert_status(&o, 0);
    assert!(ids
        .join("exported_snapshots/62fba96d8e949e4b845c9867/6308d553c10c0b62832b4a6e/s2-prod/2026-03-04T1103")
        .is_dir());

    // Names that leave nothing, or none at all: refused before anything is written.
    for extra in [
        &["--atlas-prefix", "--org-name", "..", "--group-name", "p"][..],
        &[
            "--atlas-prefix",
            "ids",
            "--org-name",
            "o",
            "--group-name",
            "p",
        ][..],
    ] {
        let none = tmp.path().join("refused");
        let o = convert(&input, &none, extra);
        assert_status(&o, 1);
        assert!(stderr(&o).contains("--atlas-prefix"), "{}", stderr(&o));
        assert!(!none.exists());
    }
}

/// Checks `value` against the subset of JSON Schema that `docs/report.schema.json` uses
/// (`type`, `required`, `properties`, `additionalProperties: false`, `items`, `enum`,
/// `const`), so that the documented schema and the reports written cannot drift apart.
fn check_schema(schema: &serde_json::Value, value: &serde_json::Value, at: &str) {
    use serde_json::Value;
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap()).collect(),
            _ => panic!("{at}: bad type in schema"),
        };
        let ok = types.iter().any(|t| match *t {
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            "null" => value.is_null(),
            other => panic!("{at}: type {other} in schema"),
        });
        assert!(ok, "{at}: {value} is not {types:?}");
    }
    if let Some(allowed) = schema.get("enum") {
        assert!(
            allowed.as_array().unwrap().contains(value),
            "{at}: {value} not in {allowed}"
        );
    }
    if let Some(c) = schema.get("const") {
        assert_eq!(value, c, "{at}");
    }
    if let Some(required) = schema.get("required") {
        for key in required.as_array().unwrap() {
            assert!(
                value.get(key.as_str().unwrap()).is_some(),
                "{at}: {key} missing"
            );
        }
    }
    if let (Some(props), Some(obj)) = (schema.get("properties"), value.as_object()) {
        for (k, v) in obj {
            match props.get(k) {
                Some(s) => check_schema(s, v, &format!("{at}.{k}")),
                None => assert!(
                    schema.get("additionalProperties") != Some(&Value::Bool(false)),
                    "{at}.{k} is not in the schema"
                ),
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            check_schema(items, v, &format!("{at}[{i}]"));
        }
    }
}

#[test]
fn reports_follow_the_documented_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(input) = dump(tmp.path()) else {
        return;
    };
    let schema = read_json(&bsonflow_testkit::workspace_root().join("docs/report.schema.json"));
    // A clean run, a run with a corrupt document skipped, a failed run, a run that stops early.
    let report = tmp.path().join("r.json");
    let r = report.to_str().unwrap();
    let o = convert(&input, &tmp.path().join("a"), &["--report", r]);
    assert_status(&o, 0);
    check_schema(&schema, &read_json(&report), "clean");

    let users = input.join("shop/users.bson");
    let mut bytes = std::fs::read(&users).unwrap();
    bytes[4] = 0x7e;
    std::fs::write(&users, bytes).unwrap();
    let o = convert(
        &input,
        &tmp.path().join("b"),
        &["--report", r, "--skip-corrupt"],
    );
    assert_status(&o, 3);
    let skipped = read_json(&report);
    assert_eq!(skipped["corrupt_documents"].as_array().unwrap().len(), 1);
    check_schema(&schema, &skipped, "skipped");

    let o = convert(&input, &tmp.path().join("c"), &["--report", r]);
    assert_status(&o, 1);
    let failed = read_json(&report);
    assert!(!failed["failures"].as_array().unwrap().is_empty());
    check_schema(&schema, &failed, "failed");

    let o = convert(
        &tmp.path().join("absent"),
        &tmp.path().join("d"),
        &["--report", r],
    );
    assert_status(&o, 1);
    check_schema(&schema, &read_json(&report), "early");
}
