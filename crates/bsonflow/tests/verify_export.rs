//! `bsonflow verify`: a fresh export passes; each kind of damage fails, naming the file (and
//! the line). Exports are made from `testdata/sample-dump` (written by pymongo's encoder,
//! see `testdata/make_sample.py`) with small chunks, so that collections span several files.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

const SHARD: &str = "bsonflow-shard-0";

/// A fresh export of the sample dump, `orders` in several chunks.
fn fresh_export(extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    let mut args = vec!["--chunk-bytes", "16K"];
    args.extend_from_slice(extra);
    let o = convert(&testdata("sample-dump"), &out, &args);
    assert_status(&o, 0);
    assert!(
        chunk(&out, 2).is_file(),
        "orders should span at least three chunks"
    );
    (dir, out)
}

fn chunk(out: &Path, n: u64) -> PathBuf {
    out.join(format!("shop/orders/{SHARD}.{n}.json.gz"))
}

fn verify(export: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["verify", export.to_str().unwrap()];
    args.extend_from_slice(extra);
    bsonflow(&args)
}

fn verify_with_input(export: &Path) -> Output {
    let input = testdata("sample-dump");
    verify(export, &["--input", input.to_str().unwrap()])
}

fn read_lines(gz: &Path) -> Vec<String> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(gz).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.lines().map(str::to_string).collect()
}

fn write_lines(gz: &Path, lines: &[String]) {
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(gz).unwrap(),
        flate2::Compression::default(),
    );
    for l in lines {
        enc.write_all(l.as_bytes()).unwrap();
        enc.write_all(b"\n").unwrap();
    }
    enc.finish().unwrap();
}

/// Asserts that verify failed and that one printed problem names `file` (and `line`).
fn assert_names(o: &Output, file: &str, line: Option<u64>) {
    assert_status(o, 1);
    let text = stdout(o);
    let wanted = match line {
        Some(l) => format!("{file} line {l}:"),
        None => file.to_string(),
    };
    assert!(
        text.lines().any(|l| l.trim_start().starts_with(&wanted)),
        "no problem names {wanted}:\n{text}"
    );
    assert!(text.contains("verify: FAILED"), "{text}");
}

#[test]
fn a_fresh_export_is_whole_with_and_without_its_input() {
    let (_dir, out) = fresh_export(&[]);
    let o = verify(&out, &[]);
    assert_status(&o, 0);
    assert!(stdout(&o).contains("verify: OK"), "{}", stdout(&o));
    let o = verify_with_input(&out);
    assert_status(&o, 0);
    let text = stdout(&o);
    assert!(text.contains("shop.orders:"), "{text}");
    assert!(text.contains("the input's documents, in order"), "{text}");

    // --json: the same facts, machine-readable; the digest is the same on both sides.
    let input = testdata("sample-dump");
    let o = verify(&out, &["--input", input.to_str().unwrap(), "--json"]);
    assert_status(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["dataFiles"], v["totalFiles"]);
    let orders = v["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["namespace"] == "shop.orders")
        .expect("shop.orders is listed");
    assert_eq!(orders["sha256"], orders["inputSha256"]);
    assert_eq!(orders["documents"], orders["inputDocuments"]);
    // The count is pymongo's, when pymongo is here to count.
    if let Some(lines) = pymongo_lines(&input.join("shop/orders.bson"), "canonical") {
        assert_eq!(orders["documents"], lines.len());
    }
    let skipped: Vec<_> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["namespace"].as_str().unwrap().to_string())
        .collect();
    assert!(
        skipped.contains(&"admin.system.version".to_string()),
        "{skipped:?}"
    );
}

#[test]
fn a_relaxed_export_is_compared_in_its_own_flavour() {
    let (_dir, out) = fresh_export(&["--format", "relaxed"]);
    assert_status(&verify_with_input(&out), 0);
}

#[test]
fn a_deleted_line_is_named() {
    let (_dir, out) = fresh_export(&[]);
    let file = chunk(&out, 1);
    let mut lines = read_lines(&file);
    lines.remove(4);
    write_lines(&file, &lines);
    let o = verify_with_input(&out);
    let name = format!("shop/orders/{SHARD}.1.json.gz");
    assert_names(&o, &name, Some(5));
    let text = stdout(&o);
    assert!(text.contains("the export holds"), "{text}");
    assert!(text.contains("is missing before this line"), "{text}");
    // One message for one dropped document, not one per later line.
    assert!(!text.contains(&format!("{name} line 6:")), "{text}");
}

#[test]
fn a_duplicated_or_altered_line_is_named() {
    let (_dir, out) = fresh_export(&[]);
    let file = chunk(&out, 0);
    let mut lines = read_lines(&file);
    let copy = lines[2].clone();
    lines.insert(3, copy);
    write_lines(&file, &lines);
    let name = format!("shop/orders/{SHARD}.0.json.gz");
    let o = verify_with_input(&out);
    assert_names(&o, &name, Some(4));
    assert!(
        stdout(&o).contains("inserted or duplicated"),
        "{}",
        stdout(&o)
    );

    let (_dir, out) = fresh_export(&[]);
    let file = chunk(&out, 2);
    let mut lines = read_lines(&file);
    assert!(lines[1].contains(r#""$numberInt""#), "{}", lines[1]);
    lines[1] = lines[1].replacen(r#"{"$numberInt":""#, r#"{"$numberInt":"9"#, 1);
    write_lines(&file, &lines);
    let o = verify_with_input(&out);
    assert_names(&o, &format!("shop/orders/{SHARD}.2.json.gz"), Some(2));
    assert!(
        stdout(&o).contains("differ from the input"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_truncated_chunk_is_named() {
    let (_dir, out) = fresh_export(&[]);
    let file = chunk(&out, 1);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let name = format!("shop/orders/{SHARD}.1.json.gz");
    // Found from the export alone…
    let o = verify(&out, &[]);
    assert_names(&o, &name, None);
    assert!(stdout(&o).contains("truncated"), "{}", stdout(&o));
    // …and with the input.
    assert_names(&verify_with_input(&out), &name, None);
}

#[test]
fn a_chunk_renamed_out_of_sequence_is_named() {
    let (_dir, out) = fresh_export(&[]);
    let last = (0..)
        .take_while(|n| chunk(&out, *n).is_file())
        .last()
        .unwrap();
    std::fs::rename(chunk(&out, 1), chunk(&out, last + 3)).unwrap();
    let o = verify(&out, &[]);
    assert_names(
        &o,
        &format!("shop/orders/{SHARD}.{}.json.gz", last + 3),
        None,
    );
    assert_names(&o, &format!("shop/orders/{SHARD}.2.json.gz"), None);
    assert!(stdout(&o).contains("out of sequence"), "{}", stdout(&o));
}

#[test]
fn a_removed_metadata_json_is_named() {
    let (_dir, out) = fresh_export(&[]);
    std::fs::remove_file(out.join("shop/orders/metadata.json")).unwrap();
    assert_names(&verify(&out, &[]), "shop/orders/metadata.json", None);

    // One that is there but not well-formed is named too.
    let (_dir, out) = fresh_export(&[]);
    std::fs::write(out.join("shop/customers/metadata.json"), b"{\"indexes\": [").unwrap();
    assert_names(&verify(&out, &[]), "shop/customers/metadata.json", None);
}

#[test]
fn a_changed_total_files_is_named() {
    let (_dir, out) = fresh_export(&[]);
    let path = out.join(".complete");
    let mut complete: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let n = complete["totalFiles"].as_u64().unwrap();
    complete["totalFiles"] = (n + 1).into();
    std::fs::write(&path, complete.to_string()).unwrap();
    let o = verify(&out, &[]);
    assert_names(&o, ".complete", None);
    assert!(
        stdout(&o).contains(&format!("totalFiles is {}", n + 1)),
        "{}",
        stdout(&o)
    );

    std::fs::remove_file(&path).unwrap();
    assert_names(&verify(&out, &[]), ".complete", None);
}

#[test]
fn swapped_documents_are_named_within_and_between_chunks() {
    // Two lines of one chunk.
    let (_dir, out) = fresh_export(&[]);
    let file = chunk(&out, 1);
    let mut lines = read_lines(&file);
    lines.swap(2, 6);
    write_lines(&file, &lines);
    assert_status(&verify(&out, &[]), 0); // every line is still a document
    let o = verify_with_input(&out);
    let name = format!("shop/orders/{SHARD}.1.json.gz");
    assert_names(&o, &name, Some(3));
    assert_names(&o, &name, Some(7));
    assert!(stdout(&o).contains("in another order"), "{}", stdout(&o));
    assert!(stdout(&o).contains("out of order"), "{}", stdout(&o));

    // The first lines of two chunks.
    let (_dir, out) = fresh_export(&[]);
    let (a, b) = (chunk(&out, 0), chunk(&out, 2));
    let (mut la, mut lb) = (read_lines(&a), read_lines(&b));
    std::mem::swap(&mut la[0], &mut lb[0]);
    write_lines(&a, &la);
    write_lines(&b, &lb);
    let o = verify_with_input(&out);
    assert_names(&o, &format!("shop/orders/{SHARD}.0.json.gz"), Some(1));
    assert_names(&o, &format!("shop/orders/{SHARD}.2.json.gz"), Some(1));

    // --json lists the same problems with file and line.
    let input = testdata("sample-dump");
    let o = verify(&out, &["--input", input.to_str().unwrap(), "--json"]);
    assert_status(&o, 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert!(v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| { p["file"] == format!("shop/orders/{SHARD}.2.json.gz") && p["line"] == 1 }));
}

#[test]
fn temporary_stray_and_broken_lines_are_named() {
    let (_dir, out) = fresh_export(&[]);
    std::fs::write(
        out.join(format!("shop/orders/.{SHARD}.9.json.gz.partial")),
        b"x",
    )
    .unwrap();
    std::fs::write(out.join("notes.txt"), b"x").unwrap();
    let o = verify(&out, &[]);
    assert_names(&o, &format!("shop/orders/.{SHARD}.9.json.gz.partial"), None);
    assert_names(&o, "notes.txt", None);

    let (_dir, out) = fresh_export(&[]);
    let file = chunk(&out, 0);
    let mut lines = read_lines(&file);
    lines[3] = "[1, 2, 3]".into();
    lines[5] = r#"{"n": {"$numberInt": "one"}}"#.into();
    write_lines(&file, &lines);
    let o = verify(&out, &[]);
    let name = format!("shop/orders/{SHARD}.0.json.gz");
    assert_names(&o, &name, Some(4));
    assert_names(&o, &name, Some(6));
}

#[test]
fn a_collection_missing_from_the_export_is_named() {
    let (_dir, out) = fresh_export(&[]);
    std::fs::remove_dir_all(out.join("shop/customers")).unwrap();
    let path = out.join(".complete");
    let mut complete: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    complete["totalFiles"] = (complete["totalFiles"].as_u64().unwrap() - 1).into();
    std::fs::write(&path, complete.to_string()).unwrap();
    // Whole by itself…
    assert_status(&verify(&out, &[]), 0);
    // …but not the input's export.
    let o = verify_with_input(&out);
    assert_names(&o, "shop/customers", None);
    assert!(
        stdout(&o).contains("missing from the export"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn an_export_of_a_tar_is_verified_against_the_tar() {
    // A .tar.gz of the sample made by Python's tarfile: read by the tar reader on both sides.
    let Some(py) = python(&["tarfile"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("sample.tar.gz");
    run_python(
        &py,
        "import sys, tarfile\nwith tarfile.open(sys.argv[1], 'w:gz') as t:\n    t.add(sys.argv[2], arcname='dump')\n",
        &[tar.to_str().unwrap(), testdata("sample-dump").to_str().unwrap()],
    );
    let out = dir.path().join("export");
    assert_status(&convert(&tar, &out, &["--chunk-bytes", "16K"]), 0);
    let o = verify(&out, &["--input", tar.to_str().unwrap()]);
    assert_status(&o, 0);
    assert!(
        stdout(&o).contains("shop.orders: 300 documents"),
        "{}",
        stdout(&o)
    );

    // The tar's documents are compared too: one line altered is found.
    let file = chunk(&out, 3);
    let mut lines = read_lines(&file);
    lines[0] = lines[0].replacen(r#"{"$numberInt":""#, r#"{"$numberInt":"7"#, 1);
    write_lines(&file, &lines);
    let o = verify(&out, &["--input", tar.to_str().unwrap()]);
    assert_names(&o, &format!("shop/orders/{SHARD}.3.json.gz"), Some(1));
}
