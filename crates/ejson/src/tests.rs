//! Whole-document unit tests: error offsets and kinds, output left untouched on error,
//! nesting depth, relaxed-mode boundaries.

use crate::{write_document, ErrorKind, Mode, Part};

/// A minimal BSON builder for tests: elements are appended raw, `finish` adds the framing.
#[derive(Default)]
struct Doc(Vec<u8>);

impl Doc {
    fn el(mut self, t: u8, key: &[u8], value: &[u8]) -> Self {
        self.0.push(t);
        self.0.extend_from_slice(key);
        self.0.push(0);
        self.0.extend_from_slice(value);
        self
    }
    fn string(self, key: &[u8], s: &[u8]) -> Self {
        let mut v = ((s.len() + 1) as i32).to_le_bytes().to_vec();
        v.extend_from_slice(s);
        v.push(0);
        self.el(0x02, key, &v)
    }
    fn int32(self, key: &[u8], i: i32) -> Self {
        self.el(0x10, key, &i.to_le_bytes())
    }
    fn date(self, key: &[u8], ms: i64) -> Self {
        self.el(0x09, key, &ms.to_le_bytes())
    }
    fn doc(self, key: &[u8], d: &[u8]) -> Self {
        self.el(0x03, key, d)
    }
    fn finish(self) -> Vec<u8> {
        let mut out = ((self.0.len() + 5) as i32).to_le_bytes().to_vec();
        out.extend_from_slice(&self.0);
        out.push(0);
        out
    }
}

fn json(doc: &[u8], mode: Mode) -> String {
    let mut out = Vec::new();
    write_document(&mut out, doc, mode).unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8(out).unwrap()
}

fn err(doc: &[u8]) -> (usize, ErrorKind) {
    let mut out = b"previous line\n".to_vec();
    let e = write_document(&mut out, doc, Mode::Canonical).unwrap_err();
    assert_eq!(
        out, b"previous line\n",
        "output must be rolled back on error"
    );
    let mut out = Vec::new();
    let e2 = write_document(&mut out, doc, Mode::Relaxed).unwrap_err();
    assert_eq!(e, e2, "both modes validate alike");
    assert!(out.is_empty());
    (e.offset, e.kind)
}

#[test]
fn top_level_framing_errors() {
    assert_eq!(err(b""), (0, ErrorKind::TooShort { len: 0 }));
    assert_eq!(
        err(b"\x05\x00\x00\x00"),
        (0, ErrorKind::TooShort { len: 4 })
    );
    assert_eq!(
        err(b"\x06\x00\x00\x00\x00"),
        (
            0,
            ErrorKind::LengthMismatch {
                declared: 6,
                actual: 5
            }
        )
    );
    assert_eq!(
        err(b"\x05\x00\x00\x00\x01"),
        (
            4,
            ErrorKind::MissingTerminator {
                part: Part::Document
            }
        )
    );
    assert_eq!(json(b"\x05\x00\x00\x00\x00", Mode::Canonical), "{}");
}

#[test]
fn error_offsets_point_at_the_problem() {
    // Unknown type byte: offset of the type byte.
    let d = Doc::default().int32(b"a", 1).el(0x1a, b"b", b"").finish();
    assert_eq!(err(&d), (11, ErrorKind::UnknownType(0x1a)));
    // String length running past the document: offset of the length field.
    let mut d = Doc::default().int32(b"a", 1).string(b"s", b"abc").finish();
    d[14] = 9; // 4 + 7 (int32 element) + type + "s\0" = length at 14
    assert_eq!(
        err(&d),
        (
            14,
            ErrorKind::Overrun {
                part: Part::String,
                len: 9
            }
        )
    );
    // Invalid UTF-8 inside a nested document: offset of the bad byte.
    let inner = Doc::default().string(b"k", b"ok\xffno").finish();
    let d = Doc::default().doc(b"x", &inner).finish();
    // outer: 4 + type + "x\0" = 7 = inner start; inner: 4 + type + "k\0" + len(4) = 11; "ok" = 2.
    assert_eq!(err(&d), (7 + 11 + 2, ErrorKind::InvalidUtf8(Part::String)));
    // Invalid UTF-8 in a key: offset of the bad byte.
    let d = Doc::default().int32(b"ab\xc3(", 1).finish();
    assert_eq!(err(&d), (7, ErrorKind::InvalidUtf8(Part::Key)));
    // Boolean 2: offset of the value.
    let d = Doc::default().el(0x08, b"b", &[2]).finish();
    assert_eq!(err(&d), (7, ErrorKind::InvalidBoolean(2)));
    // Key without a terminator before the end: offset of the key.
    let d = b"\x08\x00\x00\x00\x10ab\x00";
    assert_eq!(err(d), (5, ErrorKind::UnterminatedCString(Part::Key)));
    // Fixed-size value cut short by the terminator.
    let d = Doc::default().el(0x12, b"n", &[1, 2, 3]).finish();
    assert_eq!(
        err(&d),
        (
            7,
            ErrorKind::Truncated {
                part: Part::Int64,
                need: 8,
                left: 3
            }
        )
    );
    // Embedded document whose length is too small.
    let d = Doc::default().el(0x03, b"d", &[4, 0, 0, 0]).finish();
    assert_eq!(
        err(&d),
        (
            7,
            ErrorKind::InvalidLength {
                part: Part::EmbeddedDocument,
                len: 4
            }
        )
    );
    // An array that ends (0x00) before its declared length.
    let d = Doc::default().el(0x04, b"a", &[6, 0, 0, 0, 0, 0]).finish();
    assert_eq!(
        err(&d),
        (11, ErrorKind::EarlyTerminator { part: Part::Array })
    );
    // Old binary with a wrong inner length: offset of the inner length.
    let d = Doc::default()
        .el(0x05, b"b", &[6, 0, 0, 0, 2, 3, 0, 0, 0, 0xff, 0xff])
        .finish();
    assert_eq!(
        err(&d),
        (12, ErrorKind::OldBinaryLength { inner: 3, outer: 6 })
    );
}

#[test]
fn code_with_scope_lengths_must_agree() {
    // total = 4 + (4 + "c\0") + empty scope (5) + one stray byte = 16, contents take 15.
    let mut v = 16i32.to_le_bytes().to_vec();
    v.extend_from_slice(b"\x02\x00\x00\x00c\x00\x05\x00\x00\x00\x00\x00");
    let d = Doc::default().el(0x0f, b"f", &v).finish();
    assert_eq!(
        err(&d),
        (
            7,
            ErrorKind::CodeWithScopeLength {
                declared: 16,
                actual: 15
            }
        )
    );
    // Without the stray byte it is fine.
    let mut v = 15i32.to_le_bytes().to_vec();
    v.extend_from_slice(b"\x02\x00\x00\x00c\x00\x05\x00\x00\x00\x00");
    let d = Doc::default().el(0x0f, b"f", &v).finish();
    assert_eq!(
        json(&d, Mode::Canonical),
        r#"{"f":{"$code":"c","$scope":{}}}"#
    );
}

#[test]
fn error_messages_read_well() {
    let d = Doc::default().el(0x1a, b"b", b"").finish();
    let mut out = Vec::new();
    let e = write_document(&mut out, &d, Mode::Canonical).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid BSON at byte 4: unknown element type 0x1a"
    );
    let mut d = Doc::default().string(b"s", b"abc").finish();
    d[7] = 123;
    let e = write_document(&mut out, &d, Mode::Canonical).unwrap_err();
    assert_eq!(
        e.kind.to_string(),
        "string length 123 runs past the end of the enclosing document"
    );
}

/// `depth` embedded documents {"a":{"a":…{}}}, built in one pass (size(k) = 5 + 8k).
fn nested(depth: usize) -> Vec<u8> {
    let mut d = Vec::with_capacity(5 + 8 * depth);
    for k in (1..=depth).rev() {
        d.extend_from_slice(&((5 + 8 * k) as i32).to_le_bytes());
        d.extend_from_slice(b"\x03a\x00");
    }
    d.extend_from_slice(&[5, 0, 0, 0, 0]);
    d.resize(d.len() + depth, 0);
    d
}

#[test]
fn deep_nesting_uses_no_call_stack() {
    // 200 000 levels would overflow the stack of any recursive writer.
    let depth = 200_000;
    let out = json(&nested(depth), Mode::Canonical);
    assert_eq!(out.len(), depth * 6 + 2);
    assert!(out.starts_with(r#"{"a":{"a":{"#));
    assert!(out.ends_with(&format!("{{}}{}", "}".repeat(depth))));
    // A wrong length deep down is still found, at its offset.
    let mut d = nested(1000);
    let at = 7 * 600; // each level starts with 7 bytes: length, 0x03, "a\0"
    d[at] += 1;
    assert_eq!(
        err(&d).0,
        at,
        "the length of level 600 now runs into its parent's terminator"
    );
}

#[test]
fn nested_arrays_and_scopes_close_correctly() {
    // Alternately wrap the document's elements in an array and the document in a
    // code-with-scope, tracking the expected JSON of its members and of its values.
    let mut d = Doc::default().int32(b"x", 1).finish();
    let (mut members, mut values) = (String::from(r#""x":1"#), String::from("1"));
    for i in 0..1_000 {
        if i % 2 == 0 {
            d = Doc::default().el(0x04, b"0", &d).finish();
            members = format!(r#""0":[{values}]"#);
            values = format!("[{values}]");
        } else {
            let code = b"\x02\x00\x00\x00c\x00";
            let mut v = ((4 + code.len() + d.len()) as i32).to_le_bytes().to_vec();
            v.extend_from_slice(code);
            v.extend_from_slice(&d);
            d = Doc::default()
                .el(0x0f, b"f", &v)
                .int32(b"after", 2)
                .finish();
            let cws = format!(r#"{{"$code":"c","$scope":{{{members}}}}}"#);
            members = format!(r#""f":{cws},"after":2"#);
            values = format!("{cws},2");
        }
    }
    assert_eq!(json(&d, Mode::Relaxed), format!("{{{members}}}"));
}

#[test]
fn relaxed_dates_follow_the_year_range() {
    let d = Doc::default()
        .date(b"epoch", 0)
        .date(b"neg", -1)
        .date(b"last", 253_402_300_799_999)
        .date(b"y10k", 253_402_300_800_000)
        .date(b"min", i64::MIN)
        .finish();
    assert_eq!(
        json(&d, Mode::Relaxed),
        concat!(
            r#"{"epoch":{"$date":"1970-01-01T00:00:00Z"},"#,
            r#""neg":{"$date":{"$numberLong":"-1"}},"#,
            r#""last":{"$date":"9999-12-31T23:59:59.999Z"},"#,
            r#""y10k":{"$date":{"$numberLong":"253402300800000"}},"#,
            r#""min":{"$date":{"$numberLong":"-9223372036854775808"}}}"#
        )
    );
    assert_eq!(
        json(&d, Mode::Canonical),
        concat!(
            r#"{"epoch":{"$date":{"$numberLong":"0"}},"#,
            r#""neg":{"$date":{"$numberLong":"-1"}},"#,
            r#""last":{"$date":{"$numberLong":"253402300799999"}},"#,
            r#""y10k":{"$date":{"$numberLong":"253402300800000"}},"#,
            r#""min":{"$date":{"$numberLong":"-9223372036854775808"}}}"#
        )
    );
}

#[test]
fn keys_are_escaped_and_array_keys_dropped() {
    let arr = Doc::default().int32(b"0", 1).int32(b"9", 2).finish(); // bad index keys are fine
    let d = Doc::default()
        .int32("quote\"back\\slash\nnl é \u{2028}".as_bytes(), 1)
        .el(0x04, b"arr", &arr)
        .int32(b"$dollar.dot", 2)
        .finish();
    assert_eq!(
        json(&d, Mode::Relaxed),
        "{\"quote\\\"back\\\\slash\\nnl é \\u2028\":1,\"arr\":[1,2],\"$dollar.dot\":2}"
    );
}

#[test]
fn output_is_appended() {
    let d = Doc::default().int32(b"a", 7).finish();
    let mut out = b"x".to_vec();
    write_document(&mut out, &d, Mode::Relaxed).unwrap();
    write_document(&mut out, &d, Mode::Canonical).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"x{"a":7}{"a":{"$numberInt":"7"}}"#
    );
}

#[test]
fn regex_options_are_sorted_and_escaped() {
    let d = Doc::default().el(0x0b, b"r", b"a\"b\0xsmi\0").finish();
    assert_eq!(
        json(&d, Mode::Canonical),
        r#"{"r":{"$regularExpression":{"pattern":"a\"b","options":"imsx"}}}"#
    );
    let d = Doc::default().el(0x0b, b"r", b"p\0\xff\0").finish();
    assert_eq!(err(&d).1, ErrorKind::InvalidUtf8(Part::RegexOptions));
}

#[test]
fn widest_fixed_size_values_after_the_longest_short_keys() {
    // Keys of 15 bytes (the longest written as one block) and of 100 (written the slow way),
    // each before the longest spelling of every fixed-size value; debug builds check each
    // unchecked write against the room reserved for its element.
    for key in [&b"abcdefghijklmno"[..], &[b'k'; 100][..]] {
        let k = std::str::from_utf8(key).unwrap();
        let d = Doc::default()
            .date(key, i64::MIN)
            .el(0x12, key, &i64::MIN.to_le_bytes())
            .el(0x11, key, &[0xff; 8])
            .el(0x10, key, &i32::MIN.to_le_bytes())
            .el(0x01, key, &f64::MIN_POSITIVE.to_bits().to_le_bytes())
            .el(0x01, key, &(-2.2250738585072014e-300f64).to_le_bytes())
            .el(0x01, key, &f64::NEG_INFINITY.to_le_bytes())
            .el(0x07, key, &[0xab; 12])
            .el(0x06, key, b"")
            .el(0xff, key, b"")
            .finish();
        let want = [
            r#"{"$date":{"$numberLong":"-9223372036854775808"}}"#,
            r#"{"$numberLong":"-9223372036854775808"}"#,
            r#"{"$timestamp":{"t":4294967295,"i":4294967295}}"#,
            r#"{"$numberInt":"-2147483648"}"#,
            r#"{"$numberDouble":"2.2250738585072014E-308"}"#,
            r#"{"$numberDouble":"-2.2250738585072014E-300"}"#,
            r#"{"$numberDouble":"-Infinity"}"#,
            r#"{"$oid":"abababababababababababab"}"#,
            r#"{"$undefined":true}"#,
            r#"{"$minKey":1}"#,
        ]
        .map(|v| format!(r#""{k}":{v}"#))
        .join(",");
        assert_eq!(json(&d, Mode::Canonical), format!("{{{want}}}"));
    }
}
