//! bsondump's own fixtures (`../shared/testdata/bsondump`, from mongo-tools).
//!
//! The files are streams of concatenated documents; the test frames them itself by their
//! int32 length prefixes (`common::frame`, what a validating reader does) and hands each
//! document to `write_document`. Where a corrupt file is rejected is part of the assertion:
//!
//! | file | rejected by | why |
//! |---|---|---|
//! | `bad_cstring.bson` | the writer, document 0 | key `b\x01\x0e` swallows the string's length; what is left is read as a string length of 0x20490000 that runs past the document |
//! | `bad_type.bson` | the writer, document 0 | element type 0xaa |
//! | `invalid_field_name.bson` | the framing, at byte 283 | a stray byte (0x0a) after the last document. Its key `a.d` is valid BSON (corpus `document.json`/`top.json` "Dotted key") and is written as it is |
//! | `partial_file.bson` | the framing | the last document is cut off |
//! | `random_bytes.bson` | the framing, at byte 0 | the first "length" is not a plausible document length |
//!
//! `broken_array.bson` (array index keys out of sequence) is accepted, as by bsondump
//! `--objcheck`; so are `all_types.bson`, `deep_nested.bson` (500 levels) and
//! `all_in_one_doc.bson`.

mod common;

use std::path::Path;

use bsonflow_ejson::{write_document, ErrorKind, Mode};
use common::{check_compact_go_style, frame};

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Converts every framed document in both modes; returns the canonical lines.
fn convert_all(dir: &Path, name: &str) -> Vec<String> {
    let data = read(dir, name);
    let (docs, err) = frame(&data);
    assert_eq!(err, None, "{name} frames cleanly");
    let mut lines = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        for mode in [Mode::Canonical, Mode::Relaxed] {
            let mut out = Vec::new();
            write_document(&mut out, doc, mode)
                .unwrap_or_else(|e| panic!("{name}: document {i} ({mode:?}): {e}"));
            let json = String::from_utf8(out).expect("UTF-8");
            check_compact_go_style(&json).unwrap_or_else(|e| panic!("{name}: document {i}: {e}"));
            if mode == Mode::Canonical {
                lines.push(json);
            }
        }
    }
    println!("{name}: {} documents converted in both modes", docs.len());
    lines
}

#[test]
fn sample_prints_exactly_like_bsondump() {
    let Some(dir) = bsonflow_testkit::shared("testdata/bsondump") else {
        return;
    };
    let data = read(&dir, "sample.bson");
    let (docs, err) = frame(&data);
    assert_eq!(err, None);
    let mut out = Vec::new();
    for doc in &docs {
        write_document(&mut out, doc, Mode::Canonical).unwrap();
        out.push(b'\n');
    }
    let want = read(&dir, "sample.json");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        String::from_utf8(want).unwrap(),
        "sample.bson must print exactly the lines of sample.json"
    );
    println!("sample.bson: {} documents, byte-exact", docs.len());
}

#[test]
fn corrupt_files_are_rejected() {
    let Some(dir) = bsonflow_testkit::shared("testdata/bsondump") else {
        return;
    };

    // Rejected by the writer: the framing is fine, document 0 is not.
    for (name, check) in [
        ("bad_cstring.bson", None),
        ("bad_type.bson", Some(ErrorKind::UnknownType(0xaa))),
    ] {
        let data = read(&dir, name);
        let (docs, err) = frame(&data);
        assert_eq!(err, None, "{name}: framing is intact");
        let mut out = Vec::new();
        let e = write_document(&mut out, docs[0], Mode::Canonical)
            .expect_err(&format!("{name}: document 0 must be rejected"));
        assert!(out.is_empty());
        if let Some(kind) = check {
            assert_eq!(e.kind, kind, "{name}");
        }
        println!("{name}: document 0 rejected by the writer: {e}");
        // The documents after the bad one are fine (bsondump without --objcheck skips it).
        for (i, doc) in docs.iter().enumerate().skip(1) {
            write_document(&mut out, doc, Mode::Canonical)
                .unwrap_or_else(|e| panic!("{name}: document {i}: {e}"));
        }
    }

    // Rejected by the framing.
    for (name, at) in [
        ("invalid_field_name.bson", Some(283)),
        ("partial_file.bson", None),
        ("random_bytes.bson", Some(0)),
    ] {
        let data = read(&dir, name);
        let (docs, err) = frame(&data);
        let (offset, why) = err.unwrap_or_else(|| panic!("{name}: framing must fail"));
        if let Some(at) = at {
            assert_eq!(offset, at, "{name}: {why}");
        }
        println!("{name}: framing fails at byte {offset}: {why}");
        // Whatever was framed before the break converts (invalid_field_name's `a.d` key too).
        let mut out = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            write_document(&mut out, doc, Mode::Canonical)
                .unwrap_or_else(|e| panic!("{name}: document {i}: {e}"));
            out.push(b'\n');
        }
        if name == "invalid_field_name.bson" {
            assert_eq!(docs.len(), 4);
            let text = String::from_utf8(out).unwrap();
            assert!(
                text.contains(r#"{"a.d":{"$oid":"546651f74bf6e4cb017c5313"}"#),
                "{text}"
            );
        }
    }
}

#[test]
fn other_fixtures_convert() {
    let Some(dir) = bsonflow_testkit::shared("testdata/bsondump") else {
        return;
    };
    let broken = convert_all(&dir, "broken_array.bson");
    let all_types = convert_all(&dir, "all_types.bson");
    // broken_array differs from all_types only in an array index key ("9" for "2"), which
    // is not part of the output.
    assert_eq!(broken, all_types);
    assert_eq!(all_types.len(), 20);
    assert_eq!(convert_all(&dir, "all_in_one_doc.bson").len(), 1);

    let deep = convert_all(&dir, "deep_nested.bson");
    assert_eq!(deep.len(), 1);
    let levels = deep[0].matches(r#""sub":{"#).count();
    assert_eq!(levels, 500, "deep_nested.bson nests 500 documents");
}
