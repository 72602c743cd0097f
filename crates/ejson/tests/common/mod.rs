//! Helpers shared by the integration tests: an independent JSON tokenizer, a reference
//! implementation of the Go writer's string escaping, an ordered structural comparison with
//! the double-spelling allowance, and small BSON utilities.
//!
//! Nothing here calls the crate under test, so a bug in the crate cannot hide in its checks.

#![allow(dead_code)]

use std::fmt::Write as _;

/// Decodes a hex string (either case).
pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// One JSON token.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// `{ } [ ] : ,`
    Punct(u8),
    /// A string, decoded.
    Str(String),
    /// A number, as written.
    Num(String),
    /// `true`, `false`, `null`.
    Lit(&'static str),
}

/// Splits JSON text into tokens (no recursion, so any depth works). Rejects what is not JSON:
/// raw control characters in strings, bad escapes, unknown literals. Structure (balanced
/// brackets, commas) is left to the comparison against expected tokens.
pub fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\n' | b'\r' | b'\t' => i += 1,
            b'{' | b'}' | b'[' | b']' | b':' | b',' => {
                out.push(Tok::Punct(c));
                i += 1;
            }
            b'"' => {
                i += 1;
                let mut text = String::new();
                loop {
                    let c = *b.get(i).ok_or("unterminated string")?;
                    match c {
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\\' => {
                            let e = *b.get(i + 1).ok_or("bad escape")?;
                            i += 2;
                            match e {
                                b'"' => text.push('"'),
                                b'\\' => text.push('\\'),
                                b'/' => text.push('/'),
                                b'b' => text.push('\u{8}'),
                                b'f' => text.push('\u{c}'),
                                b'n' => text.push('\n'),
                                b'r' => text.push('\r'),
                                b't' => text.push('\t'),
                                b'u' => {
                                    let unit = |at: usize| {
                                        s.get(at..at + 4)
                                            .and_then(|h| u32::from_str_radix(h, 16).ok())
                                            .ok_or_else(|| format!("bad \\u escape at {at}"))
                                    };
                                    let hi = unit(i)?;
                                    i += 4;
                                    let cp = if (0xD800..0xDC00).contains(&hi) {
                                        if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
                                            return Err("lone high surrogate".into());
                                        }
                                        let lo = unit(i + 2)?;
                                        i += 6;
                                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                    } else {
                                        hi
                                    };
                                    text.push(char::from_u32(cp).ok_or("bad code point")?);
                                }
                                _ => return Err(format!("bad escape \\{}", e as char)),
                            }
                        }
                        0..=0x1f => return Err(format!("raw control byte {c:#04x} in a string")),
                        _ => {
                            let ch = s[i..].chars().next().unwrap();
                            text.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                out.push(Tok::Str(text));
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < b.len() && matches!(b[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    i += 1;
                }
                out.push(Tok::Num(s[start..i].to_string()));
            }
            _ => {
                let lit = ["true", "false", "null"]
                    .into_iter()
                    .find(|l| s[i..].starts_with(l))
                    .ok_or_else(|| {
                        format!("unexpected {:?} at {i}", &s[i..(i + 10).min(s.len())])
                    })?;
                out.push(Tok::Lit(lit));
                i += lit.len();
            }
        }
    }
    Ok(out)
}

/// The Go driver's string escaping (atlas-export.md §6.3), char by char.
pub fn go_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Compact JSON text of `toks`, strings escaped like Go.
pub fn emit(toks: &[Tok]) -> String {
    let mut out = String::new();
    for t in toks {
        match t {
            Tok::Punct(c) => out.push(*c as char),
            Tok::Str(s) => out.push_str(&go_escape(s)),
            Tok::Num(n) => out.push_str(n),
            Tok::Lit(l) => out.push_str(l),
        }
    }
    out
}

/// True when `s` spells a double with a fraction or an exponent (so it cannot be read back
/// as an integer).
pub fn has_fraction_or_exponent(s: &str) -> bool {
    s.contains(['.', 'e', 'E'])
}

/// Whether two spellings of a double are the same f64 (bit for bit, so -0.0 ≠ 0.0) and the
/// actual one keeps a fraction or exponent. Non-finite spellings must be identical.
pub fn same_double(expected: &str, actual: &str) -> bool {
    if expected == actual {
        return true;
    }
    let special = ["NaN", "Infinity", "-Infinity"];
    if special.contains(&expected) || special.contains(&actual) {
        return false;
    }
    match (expected.parse::<f64>(), actual.parse::<f64>()) {
        (Ok(e), Ok(a)) => e.to_bits() == a.to_bits() && has_fraction_or_exponent(actual),
        _ => false,
    }
}

/// Compares token streams: equal, except that a `$numberDouble` string or a number with a
/// fraction/exponent may be spelled differently if it is the same double. Returns how many
/// times that allowance was used.
pub fn compare_tokens(expected: &[Tok], actual: &[Tok]) -> Result<usize, String> {
    let mut allowed = 0;
    let mismatch = |i: usize| {
        let from = i.saturating_sub(8);
        format!(
            "token {i} differs:\n expected …{}\n actual   …{}",
            emit(&expected[from..(i + 4).min(expected.len())]),
            emit(&actual[from..(i + 4).min(actual.len())])
        )
    };
    for i in 0..expected.len().max(actual.len()) {
        let (Some(e), Some(a)) = (expected.get(i), actual.get(i)) else {
            return Err(format!(
                "{} tokens expected, {} written\n expected {}\n actual   {}",
                expected.len(),
                actual.len(),
                emit(expected),
                emit(actual)
            ));
        };
        if e == a {
            continue;
        }
        let ok = match (e, a) {
            (Tok::Str(x), Tok::Str(y))
                if i >= 2
                    && expected[i - 2] == Tok::Str("$numberDouble".into())
                    && expected[i - 1] == Tok::Punct(b':') =>
            {
                same_double(x, y)
            }
            (Tok::Num(x), Tok::Num(y)) => {
                has_fraction_or_exponent(x) && has_fraction_or_exponent(y) && same_double(x, y)
            }
            _ => false,
        };
        if !ok {
            return Err(mismatch(i));
        }
        allowed += 1;
    }
    Ok(allowed)
}

/// Checks that `actual` is compact JSON whose strings are escaped exactly like Go's writer:
/// re-emitting its tokens must give back the same bytes.
pub fn check_compact_go_style(actual: &str) -> Result<Vec<Tok>, String> {
    let toks = tokenize(actual)?;
    let again = emit(&toks);
    if again != actual {
        let at = again
            .bytes()
            .zip(actual.bytes())
            .position(|(x, y)| x != y)
            .unwrap_or(again.len().min(actual.len()));
        return Err(format!(
            "not compact Go-style JSON at byte {at}:\n written {}\n re-emitted {}",
            &actual[at.saturating_sub(20)..(at + 20).min(actual.len())],
            &again[at.saturating_sub(20)..(at + 20).min(again.len())]
        ));
    }
    Ok(toks)
}

/// Milliseconds from 1970 to 10000-01-01: relaxed dates are ISO strings below this.
pub const RELAXED_END_MS: i64 = 253_402_300_800_000;

/// ISO-8601 text of `ms` (in `0..RELAXED_END_MS`), by walking years and months (slow, simple).
pub fn naive_iso(ms: i64) -> String {
    let leap = |y: i64| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let mut days = ms / 86_400_000;
    let rem = ms % 86_400_000;
    let mut year = 1970;
    while days >= if leap(year) { 366 } else { 365 } {
        days -= if leap(year) { 366 } else { 365 };
        year += 1;
    }
    let lens = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut month = 0;
    while days >= lens[month] {
        days -= lens[month];
        month += 1;
    }
    let (s, millis) = (rem / 1000, rem % 1000);
    let frac = if millis == 0 {
        String::new()
    } else {
        format!(".{millis:03}")
    };
    format!(
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}{frac}Z",
        month + 1,
        days + 1,
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The relaxed form of canonical tokens: `{"$numberInt":"n"}`, `{"$numberLong":"n"}` and
/// finite `{"$numberDouble":"x"}` become bare numbers, `{"$date":{"$numberLong":"ms"}}` of
/// years 1970–9999 becomes `{"$date":"<ISO>"}` (the EJSON spec's conversion table).
pub fn relax(toks: &[Tok]) -> Vec<Tok> {
    let s = |x: &str| Tok::Str(x.to_string());
    let (open, close, colon) = (Tok::Punct(b'{'), Tok::Punct(b'}'), Tok::Punct(b':'));
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let w = &toks[i..];
        if w.len() >= 5 && w[0] == open && w[2] == colon && w[4] == close {
            if let (Tok::Str(k), Tok::Str(v)) = (&w[1], &w[3]) {
                let number = match k.as_str() {
                    "$numberInt" | "$numberLong" => true,
                    "$numberDouble" => !["NaN", "Infinity", "-Infinity"].contains(&v.as_str()),
                    _ => false,
                };
                if number {
                    out.push(Tok::Num(v.clone()));
                    i += 5;
                    continue;
                }
            }
        }
        if w.len() >= 9
            && w[0] == open
            && w[1] == s("$date")
            && w[2] == colon
            && w[3] == open
            && w[4] == s("$numberLong")
            && w[5] == colon
            && w[7] == close
            && w[8] == close
        {
            if let Tok::Str(ms) = &w[6] {
                let ms: i64 = ms.parse().expect("$numberLong");
                if (0..RELAXED_END_MS).contains(&ms) {
                    out.extend([
                        open.clone(),
                        s("$date"),
                        colon.clone(),
                        s(&naive_iso(ms)),
                        close.clone(),
                    ]);
                } else {
                    out.extend_from_slice(&w[..9]); // other years stay canonical
                }
                i += 9;
                continue;
            }
        }
        out.push(toks[i].clone());
        i += 1;
    }
    out
}

/// Splits a file of concatenated BSON documents by their int32 length prefixes, the way a
/// validating reader frames a `.bson` file (bsondump's maximum size: 16 MiB + 16 KiB).
/// On a framing error returns the documents framed so far and (offset, reason).
pub fn frame(data: &[u8]) -> (Vec<&[u8]>, Option<(usize, String)>) {
    const MAX: usize = 16 * 1024 * 1024 + 16 * 1024;
    let mut docs = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let left = data.len() - at;
        if left < 4 {
            return (
                docs,
                Some((at, format!("{left} trailing bytes cannot hold a length"))),
            );
        }
        let len = i32::from_le_bytes(data[at..at + 4].try_into().unwrap());
        if len < 5 || len as usize > MAX {
            return (docs, Some((at, format!("invalid document length {len}"))));
        }
        if len as usize > left {
            return (
                docs,
                Some((
                    at,
                    format!("document of {len} bytes truncated: {left} left in the file"),
                )),
            );
        }
        docs.push(&data[at..at + len as usize]);
        at += len as usize;
    }
    (docs, None)
}
