//! Extended JSON v2 written straight from raw BSON bytes.
//!
//! **Job.** Turn one BSON document (the bytes from its int32 length to its trailing 0x00)
//! into one line of compact MongoDB Extended JSON v2, canonical or relaxed, the way the Go
//! driver behind `bsondump` and `mongoexport` spells it, while checking that the BSON is valid.
//! This is the hot path of bsonflow: one pass, no intermediate tree, no allocation per element.
//!
//! **Boundary.** No I/O and no framing of streams: callers hand over one whole document at a
//! time and get bytes appended to their own buffer (they add the `\n`, compress, roll files
//! over). Nothing here knows about collections, files or Atlas.
//!
//! **Map.**
//! - [`write_document`] — the entry point: validates `doc`, appends its JSON to `out`, and on
//!   error leaves `out` exactly as it was.
//! - [`Mode`] — [`Mode::Canonical`] (what Atlas exports and bsondump print; the default) or
//!   [`Mode::Relaxed`] (what mongoexport prints by default).
//! - [`Error`] — the byte offset within the document and an [`ErrorKind`]; [`Part`] names
//!   the part of the document an error is about (key, string, array, scope…).
//!
//! Inside: `writer` walks the document with an explicit stack (any depth, no recursion) and
//! appends through `sink` (a cursor kept in registers, one capacity check per element for
//! the fixed-size parts, short copies as 8/16/32-byte blocks); `string` escapes JSON strings
//! (16 bytes per step — SSE2 on x86_64, word arithmetic elsewhere — to find the end of plain
//! ASCII, UTF-8 validated only where there is non-ASCII); `int` writes integers eight digits
//! per `u64`; `number` lays out doubles as Go's `FormatFloat(f, 'G', -1, 64)` (a proven
//! exact shortcut for up to nine decimals, else `zmij`'s shortest digits), and Decimal128 per
//! its spec; `date` formats relaxed dates (own calendar arithmetic).
//!
//! **Speed.** 0.8-1.2 GB/s of BSON per core on realistic documents (`benches/benches/ejson.rs`,
//! and a 256 MiB pymongo-made collection), i.e. 1.2-1.8 GB/s of canonical JSON (AMD EPYC, a
//! noisy 2-core VM): 1.9-2.4 times the first version, measured side by side in one process.
//! Relaxed mode runs at about the same speed. Callers that reuse `out` across documents
//! allocate nothing.
//!
//! **Decisions worth knowing** (atlas-export.md §6):
//! - Doubles: `1.0`, `1E+06`, `1.234567E+06`, `5E-324`, `-0.0`; `NaN`, `Infinity`,
//!   `-Infinity` (every NaN payload prints `NaN`). Relaxed: the same text as a bare number;
//!   non-finite values stay wrapped.
//! - Relaxed dates for years 1970–9999 are `YYYY-MM-DDTHH:MM:SS[.mmm]Z`, milliseconds as three
//!   digits when non-zero (the spec and pymongo; Go would print `.5Z` for 500 ms). Other dates
//!   stay `{"$date":{"$numberLong":"…"}}`.
//! - Strings escape `"` `\` and control characters like Go (`\n`, `\u001f`…), and U+2028 /
//!   U+2029 as `\u2028` / `\u2029`; everything else is raw UTF-8.
//! - **Invalid UTF-8 is an error** in strings, code, symbols, DBPointer namespaces, regex
//!   patterns and options, **and in keys**. The corpus makes it an error for the first four
//!   (`string.json`, `code.json`, `symbol.json`, `dbpointer.json`) and has no case for keys; a key
//!   is output as a JSON string just the same, and output that is not UTF-8 is not JSON, so keys
//!   follow the same rule (Go would substitute U+FFFD). Array keys are not written and, like
//!   bsondump's `--objcheck`, not checked beyond their terminating 0x00.
//! - Keys are written as they are, in BSON order (`$`-prefixed and dotted keys included).
//! - Regex options are sorted; binary subtype is two lowercase hex digits; old binary
//!   (subtype 0x02) prints the bytes after its inner length, which must be the outer length − 4.
//! - DBPointer namespaces are escaped (Go does not).
//!
//! # Example
//!
//! ```
//! use bsonflow_ejson::{write_document, Mode};
//!
//! // {"a": 1 (int32), "b": "x\n"}
//! let doc = b"\x16\x00\x00\x00\x10a\x00\x01\x00\x00\x00\x02b\x00\x03\x00\x00\x00x\n\x00\x00";
//! let mut out = Vec::new();
//! write_document(&mut out, doc, Mode::Canonical)?;
//! assert_eq!(out, br#"{"a":{"$numberInt":"1"},"b":"x\n"}"#);
//!
//! out.clear();
//! write_document(&mut out, doc, Mode::Relaxed)?;
//! assert_eq!(out, br#"{"a":1,"b":"x\n"}"#);
//!
//! // A corrupt document: nothing is appended, the error says where and what.
//! let err = write_document(&mut out, &doc[..20], Mode::Relaxed).unwrap_err();
//! assert_eq!(err.offset, 0);
//! assert_eq!(out, br#"{"a":1,"b":"x\n"}"#);
//! # Ok::<(), bsonflow_ejson::Error>(())
//! ```

#![deny(missing_docs)]

mod date;
mod error;
mod int;
mod number;
mod sink;
mod string;
mod writer;

pub use date::iso_utc_millis;
pub use error::{Error, ErrorKind, Part};

/// Which flavour of Extended JSON v2 to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Type-preserving: numbers and dates wrapped (`{"$numberInt":"1"}`). What Atlas exports.
    #[default]
    Canonical,
    /// Numbers bare, dates of years 1970–9999 as ISO-8601 strings; everything else canonical.
    Relaxed,
}

/// Appends one document as compact Extended JSON (no trailing newline) to `out`.
///
/// `doc` is one whole BSON document (int32 length prefix .. trailing 0x00) and must be exactly
/// as long as its prefix says. All of it is validated: nested lengths, element types, key and
/// regex cstrings, string lengths and terminators, UTF-8 of strings, code, symbols, DBPointer
/// namespaces, regex parts and keys, booleans 0/1, the inner length of old binary, the lengths
/// inside code with scope. On error `out` is truncated back to its length at entry.
pub fn write_document(out: &mut Vec<u8>, doc: &[u8], mode: Mode) -> Result<(), Error> {
    let start = out.len();
    let result = match mode {
        Mode::Canonical => writer::write::<false>(out, doc),
        Mode::Relaxed => writer::write::<true>(out, doc),
    };
    if result.is_err() {
        out.truncate(start);
    }
    result
}

#[cfg(test)]
mod tests;
