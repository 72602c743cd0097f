//! `bsonflow_ejson::write_document`, canonical and relaxed: no panic; on error the output
//! buffer is left exactly as it was; on success the appended bytes are one line of valid
//! UTF-8 JSON (checked with serde_json), and both modes accept the same documents.
#![no_main]

use bsonflow_ejson::{write_document, Mode};
use libfuzzer_sys::fuzz_target;

/// What the caller already had in its buffer: must survive both success and failure.
const PREFIX: &[u8] = b"{\"previous\":1}\n";

fn check(doc: &[u8], mode: Mode) -> bool {
    let mut out = PREFIX.to_vec();
    let result = write_document(&mut out, doc, mode);
    assert!(out.starts_with(PREFIX), "{mode:?}: the caller's bytes were changed");
    match result {
        Err(e) => {
            assert_eq!(out, PREFIX, "{mode:?}: output left behind after an error");
            assert!(e.offset as usize <= doc.len(), "{mode:?}: error offset past the document");
            let _ = e.to_string();
            false
        }
        Ok(()) => {
            let json = &out[PREFIX.len()..];
            if let Err(e) = std::str::from_utf8(json) {
                panic!("{mode:?}: output is not UTF-8: {e}");
            }
            assert!(!json.contains(&b'\n'), "{mode:?}: a newline in a one-line document");
            assert!(json.starts_with(b"{") && json.ends_with(b"}"));
            match serde_json::from_slice::<serde::de::IgnoredAny>(json) {
                Ok(_) => {}
                // serde_json stops at 128 levels; deeper documents are checked for UTF-8 only.
                Err(e) if e.to_string().starts_with("recursion limit exceeded") => {}
                Err(e) => panic!(
                    "{mode:?}: output is not JSON ({e}): {}",
                    String::from_utf8_lossy(json)
                ),
            }
            true
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let canonical = check(data, Mode::Canonical);
    let relaxed = check(data, Mode::Relaxed);
    assert_eq!(canonical, relaxed, "the modes disagree on whether the document is valid");
});
