//! Helpers for the end-to-end tests of the `bsonflow` binary.
#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use bsonflow_testkit::{ejson_difference, python, read_chunks, run_python, shared};

/// Runs the built `bsonflow` binary.
pub fn bsonflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bsonflow"))
        .args(args)
        .arg("--quiet")
        .output()
        .expect("bsonflow runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The built `bsonflow` binary with no `AWS_*` or `OSS_*` variable of the caller's
/// environment: object-storage tests give it exactly the credentials they mean.
pub fn bsonflow_without_credentials() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsonflow"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("OSS_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Copies the folder `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// Runs GNU tar with `args` in `cwd`; false when it is missing or fails.
pub fn gnu_tar(args: &[&str], cwd: &Path) -> bool {
    Command::new("tar")
        .args(args)
        .current_dir(cwd)
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `bsonflow unpack INPUT --out DIR` and returns the output.
pub fn unpack(input: &Path, dir: &Path) -> Output {
    bsonflow(&[
        "unpack",
        input.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ])
}

/// Runs `bsonflow convert INPUT --out OUT EXTRA…` and returns the output.
pub fn convert(input: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "convert",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    bsonflow(&args)
}

/// Asserts the exit status, printing both streams when it differs.
pub fn assert_status(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit status\n--- stdout\n{}\n--- stderr\n{}",
        stdout(o),
        stderr(o)
    );
}

/// Every file under `dir` (relative path → bytes), except `.complete`.
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.file_name().unwrap() != ".complete" {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// pymongo's reading of a BSON file as Extended JSON lines (`canonical` or `relaxed`),
/// through `bson.json_util` — an encoder and printer that bsonflow shares no code with.
pub const PYMONGO_DUMP: &str = r#"
import sys
import bson
from bson import json_util
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.binary import UuidRepresentation
path, mode = sys.argv[1], sys.argv[2]
opts = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO,
                    uuid_representation=UuidRepresentation.UNSPECIFIED, tz_aware=True)
jopts = json_util.CANONICAL_JSON_OPTIONS if mode == "canonical" else json_util.RELAXED_JSON_OPTIONS
jopts = jopts.with_options(datetime_conversion=DatetimeConversion.DATETIME_AUTO,
                           uuid_representation=UuidRepresentation.UNSPECIFIED, tz_aware=True)
data = open(path, "rb").read()
for doc in bson.decode_all(data, opts):
    print(json_util.dumps(doc, json_options=jopts))
"#;

/// pymongo's Extended JSON lines for a BSON file, or `None` (skipped) without pymongo.
pub fn pymongo_lines(bson_file: &Path, mode: &str) -> Option<Vec<String>> {
    let py = python(&["bson"])?;
    let out = run_python(&py, PYMONGO_DUMP, &[bson_file.to_str().unwrap(), mode]);
    Some(
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

/// Asserts that two lists of Extended JSON lines say the same (see
/// [`ejson_difference`]).
pub fn assert_same_lines(actual: &[String], expected: &[String], what: &str) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: {} lines, expected {}",
        actual.len(),
        expected.len()
    );
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        if let Some(diff) = ejson_difference(a, e) {
            panic!(
                "{what}, line {}: {diff}\n  actual:   {a}\n  expected: {e}",
                i + 1
            );
        }
    }
}

/// The workspace's `testdata/` folder.
pub fn testdata(rel: &str) -> PathBuf {
    bsonflow_testkit::workspace_root()
        .join("testdata")
        .join(rel)
}

/// The WiredTiger oracle's `catalog.json` beside a fixture's dbpath (`expected/`).
pub fn catalog(expected: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(expected.join("catalog.json")).unwrap()).unwrap()
}

/// Whether bsonflow's rules export this catalog entry.
pub fn exported(c: &serde_json::Value) -> bool {
    let db = c["db"].as_str().unwrap();
    let coll = c["collection"].as_str().unwrap();
    !matches!(db, "admin" | "local" | "config")
        && !coll.starts_with("system.")
        && !db.contains('/')
        && !coll.contains('/')
        && c["options"].get("timeseries").is_none()
        && c["is_view"] != true
}
