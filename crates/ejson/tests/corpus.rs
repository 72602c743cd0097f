//! The official BSON corpus (`../shared/testdata/bson-corpus`), every file.
//!
//! Assertions (bson-corpus.md, the ones that apply to a BSON → Extended JSON writer):
//! - `canonical_bson` → `canonical_extjson`, in canonical mode;
//! - `canonical_bson` → `relaxed_extjson` in relaxed mode where the case gives one; where it
//!   does not, the relaxed form derived from `canonical_extjson` with the EJSON spec's table
//!   (numbers bare, dates of 1970–9999 as ISO strings; see `common::relax`);
//! - `degenerate_bson` → the same two outputs;
//! - every `decodeErrors` case is rejected, in both modes, leaving the output buffer untouched.
//!
//! Comparison: the corpus text is tokenized (so its whitespace and its `\u00e9`-style escapes
//! do not matter) and compared token by token with ours; our output must also be compact and
//! escaped exactly like the Go writer (re-emitting its tokens gives back the same bytes). A
//! `$numberDouble` string or relaxed number may be spelled differently only if it is the same
//! f64 and keeps a fraction or exponent (the corpus says double strings are not portable).
//!
//! Not applicable, skipped: `parseErrors` and `degenerate_extjson` (Extended JSON → BSON
//! parsing); `converted_bson` / `converted_extjson` (for drivers that turn the deprecated
//! Symbol/Undefined/DBPointer into modern types; we print them as they are, which is what
//! `canonical_extjson` shows); `lossy` (only limits the JSON → BSON round trip).

mod common;

use bsonflow_ejson::{write_document, Mode};
use common::{check_compact_go_style, compare_tokens, hex, relax, tokenize};
use serde_json::Value;

#[derive(Default, Debug)]
struct Counts {
    valid: usize,
    canonical: usize,
    relaxed_given: usize,
    relaxed_derived: usize,
    degenerate: usize,
    decode_errors: usize,
    double_spellings: usize,
}

fn write(doc: &[u8], mode: Mode) -> Result<String, String> {
    let mut out = Vec::new();
    write_document(&mut out, doc, mode).map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| format!("output is not UTF-8: {e}"))
}

/// Writes `bson` in `mode` and compares with `expected` tokens.
fn check(
    bson: &[u8],
    mode: Mode,
    expected: &[common::Tok],
    counts: &mut Counts,
) -> Result<(), String> {
    let json = write(bson, mode)?;
    let toks = check_compact_go_style(&json)?;
    serde_json::from_str::<Value>(&json).map_err(|e| format!("serde_json rejects {json}: {e}"))?;
    counts.double_spellings += compare_tokens(expected, &toks)?;
    Ok(())
}

#[test]
fn bson_corpus() {
    let Some(dir) = bsonflow_testkit::shared("testdata/bson-corpus") else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "expected the whole corpus in {}",
        dir.display()
    );

    let mut failures = Vec::new();
    let mut total = Counts::default();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut c = Counts::default();
        for case in file["valid"].as_array().into_iter().flatten() {
            let desc = case["description"].as_str().unwrap();
            let cj = case["canonical_extjson"].as_str().unwrap();
            let canonical = tokenize(cj).unwrap_or_else(|e| panic!("{name}: {desc}: {e}"));
            let (relaxed, given) = match case["relaxed_extjson"].as_str() {
                Some(rj) => (tokenize(rj).unwrap(), true),
                None => (relax(&canonical), false),
            };
            let mut inputs = vec![(
                "canonical_bson",
                hex(case["canonical_bson"].as_str().unwrap()),
            )];
            if let Some(d) = case["degenerate_bson"].as_str() {
                inputs.push(("degenerate_bson", hex(d)));
            }
            c.valid += 1;
            for (which, bson) in &inputs {
                let mut run = |mode: Mode, expected: &[common::Tok], c: &mut Counts| {
                    if let Err(e) = check(bson, mode, expected, c) {
                        failures.push(format!("{name}: {desc}: {which} {mode:?}: {e}"));
                    }
                };
                run(Mode::Canonical, &canonical, &mut c);
                run(Mode::Relaxed, &relaxed, &mut c);
                c.canonical += 1;
                if given {
                    c.relaxed_given += 1;
                } else {
                    c.relaxed_derived += 1;
                }
                if *which == "degenerate_bson" {
                    c.degenerate += 1;
                }
            }
        }
        for case in file["decodeErrors"].as_array().into_iter().flatten() {
            let desc = case["description"].as_str().unwrap();
            let bson = hex(case["bson"].as_str().unwrap());
            for mode in [Mode::Canonical, Mode::Relaxed] {
                let mut out = b"kept".to_vec();
                match write_document(&mut out, &bson, mode) {
                    Ok(()) => failures.push(format!(
                        "{name}: decode error {desc:?} was accepted ({mode:?}): {}",
                        String::from_utf8_lossy(&out)
                    )),
                    Err(e) => {
                        if out != b"kept" {
                            failures.push(format!("{name}: {desc}: output not rolled back"));
                        }
                        if mode == Mode::Canonical {
                            eprintln!("  {name}: rejected {desc:?}: {e}");
                        }
                    }
                }
            }
            c.decode_errors += 1;
        }
        println!(
            "{name:28} valid {:3} (bson inputs {:3}: degenerate {:2}; relaxed given {:2}, derived {:3}) decodeErrors {:2} double respellings {}",
            c.valid, c.canonical, c.degenerate, c.relaxed_given, c.relaxed_derived, c.decode_errors, c.double_spellings
        );
        total.valid += c.valid;
        total.canonical += c.canonical;
        total.degenerate += c.degenerate;
        total.relaxed_given += c.relaxed_given;
        total.relaxed_derived += c.relaxed_derived;
        total.decode_errors += c.decode_errors;
        total.double_spellings += c.double_spellings;
    }
    println!("TOTAL {total:?}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The corpus this was written against (specifications@92b3c0b): make sure it all ran.
    assert!(total.valid >= 728 && total.decode_errors >= 75, "{total:?}");
}
