//! JSON string output with the Go driver's escaping, and UTF-8 validation.
//!
//! Escapes (what `writeStringWithEscapes` in the Go driver writes with `escapeHTML=false`):
//! `\"` `\\` `\n` `\r` `\t` `\b` `\f`, every other byte below 0x20 as `\u00xx` (lowercase hex),
//! U+2028 and U+2029 as `\u2028` / `\u2029`; everything else (including DEL, `<`, `>`, `&` and
//! all other non-ASCII) is copied as raw UTF-8. Invalid UTF-8 is an error, never U+FFFD.
//!
//! Speed: the common string is short printable ASCII. [`plain_prefix`] finds the first byte
//! that needs attention 16 bytes per step (SSE2 on x86_64, word arithmetic elsewhere). It scans
//! the document bytes from the string's start onwards, not just the string: the string's 0x00
//! terminator is itself such a byte, so the scan stops there at the latest, and short strings
//! still get whole 16-byte loads. Short runs are then copied as fixed 16/32-byte moves (no
//! `memcpy` call). Only a string with something to escape or with non-ASCII bytes goes to the
//! slow path, and only then is `simdutf8` run, over the tail that is not plain ASCII.

use crate::error::{Error, ErrorKind, Part};

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of each byte of the result is set where the byte of `w` is below 0x20, is `"`, is
/// `\`, or is non-ASCII. The lowest set bit is exact (borrows only run upwards from a byte
/// that is itself flagged), which is all [`plain_prefix`] needs.
#[inline(always)]
fn special(w: u64) -> u64 {
    let high = w & HI;
    let ctrl = w.wrapping_sub(LO * 0x20) & !w;
    let q = w ^ (LO * b'"' as u64);
    let quote = q.wrapping_sub(LO) & !q;
    let b = w ^ (LO * b'\\' as u64);
    let bslash = b.wrapping_sub(LO) & !b;
    high | ((ctrl | quote | bslash) & HI)
}

/// Bytes that go through unchanged (printable ASCII other than `"` and `\`).
static PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0x20;
    while i < 0x80 {
        t[i] = i != b'"' as usize && i != b'\\' as usize;
        i += 1;
    }
    t
};

/// Length of the leading run of `s` that is printable ASCII other than `"` and `\` (i.e. the
/// index of the first byte below 0x20, non-ASCII, `"` or `\`; `s.len()` if none).
#[inline]
pub(crate) fn plain_prefix(s: &[u8]) -> usize {
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8,
            _mm_or_si128, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of the x86_64 baseline; every load reads 16 bytes inside `s`
        // (`i + 16 <= s.len()`), unaligned loads are allowed.
        unsafe {
            let below = _mm_set1_epi8(0x20);
            let quote = _mm_set1_epi8(b'"' as i8);
            let bslash = _mm_set1_epi8(b'\\' as i8);
            while i + 16 <= s.len() {
                let v = _mm_loadu_si128(s.as_ptr().add(i) as *const __m128i);
                // Signed compare: bytes >= 0x80 are negative, so "< 0x20" also flags them.
                let m = _mm_or_si128(
                    _mm_cmplt_epi8(v, below),
                    _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                );
                let bits = _mm_movemask_epi8(m) as u32;
                if bits != 0 {
                    return i + bits.trailing_zeros() as usize;
                }
                i += 16;
            }
        }
    }
    while i + 8 <= s.len() {
        let m = special(u64::from_le_bytes(s[i..i + 8].try_into().unwrap()));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < s.len() && PLAIN[s[i] as usize] {
        i += 1;
    }
    i
}

/// Appends `src[..n]`; short runs are copied as one or two fixed 16-byte moves (reading past
/// `n` inside `src`, then cutting `out` back), which avoids a `memcpy` call per key and string.
#[inline(always)]
pub(crate) fn copy_prefix(out: &mut Vec<u8>, src: &[u8], n: usize) {
    let len = out.len();
    if n <= 16 && src.len() >= 16 {
        out.extend_from_slice(&src[..16]);
        out.truncate(len + n);
    } else if n <= 32 && src.len() >= 32 {
        out.extend_from_slice(&src[..32]);
        out.truncate(len + n);
    } else {
        out.extend_from_slice(&src[..n]);
    }
}

/// Checks `s` (which starts at byte `offset` of the document) is UTF-8.
#[inline]
pub(crate) fn check_utf8(s: &[u8], offset: usize, part: Part) -> Result<(), Error> {
    if simdutf8::basic::from_utf8(s).is_ok() {
        return Ok(());
    }
    let at = match simdutf8::compat::from_utf8(s) {
        Ok(_) => 0,
        Err(e) => e.valid_up_to(),
    };
    Err(Error::new(offset + at, ErrorKind::InvalidUtf8(part)))
}

static HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes the string `hay[..len]` as a quoted JSON string. `hay` must continue past the
/// string with at least one byte that [`plain_prefix`] stops at (the string's 0x00
/// terminator; more document bytes after it make the scan faster). `offset` is where the
/// string starts in the document (for errors).
#[inline]
pub(crate) fn write_str(
    out: &mut Vec<u8>,
    hay: &[u8],
    len: usize,
    offset: usize,
    part: Part,
) -> Result<(), Error> {
    debug_assert!(hay.len() > len && !PLAIN[hay[len] as usize]);
    let n = plain_prefix(hay);
    if n >= len {
        out.push(b'"');
        copy_prefix(out, hay, len);
        out.push(b'"');
        return Ok(());
    }
    // Validate what may hold non-ASCII before writing anything of it.
    let s = &hay[..len];
    let tail = &s[n..];
    if !tail.is_ascii() {
        check_utf8(tail, offset + n, part)?;
    }
    out.reserve(len + 8);
    out.push(b'"');
    out.extend_from_slice(&s[..n]);
    write_escaped_tail(out, tail);
    out.push(b'"');
    Ok(())
}

/// Escapes `s`, known to be valid UTF-8.
fn write_escaped_tail(out: &mut Vec<u8>, s: &[u8]) {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b < 0x80 {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                0x00..=0x1f => out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 15) as usize],
                ]),
                _ => {
                    let run = plain_prefix(&s[i..]);
                    out.extend_from_slice(&s[i..i + run]);
                    i += run;
                    continue;
                }
            }
            i += 1;
        } else {
            // A run of non-ASCII bytes (whole characters: the input is valid UTF-8), in which
            // only U+2028 (E2 80 A8) and U+2029 (E2 80 A9) need escaping.
            let mut pending = i;
            while i < s.len() && s[i] >= 0x80 {
                if s[i] == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] | 1) == 0xA9 {
                    out.extend_from_slice(&s[pending..i]);
                    out.extend_from_slice(if s[i + 2] == 0xA8 {
                        b"\\u2028"
                    } else {
                        b"\\u2029"
                    });
                    i += 3;
                    pending = i;
                } else {
                    i += 1;
                }
            }
            out.extend_from_slice(&s[pending..i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &[u8]) -> Result<String, Error> {
        // As in a document: the string, its 0x00, then (sometimes) more bytes.
        let mut out = Vec::new();
        for extra in [&b""[..], b"\x10more document bytes after the string"] {
            let mut hay = s.to_vec();
            hay.push(0);
            hay.extend_from_slice(extra);
            let before = out.len();
            write_str(&mut out, &hay, s.len(), 0, Part::String)?;
            if before > 0 {
                assert_eq!(out[..before], out[before..], "same output whatever follows");
                out.truncate(before);
            }
        }
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn special_flags_exactly_the_first_special_byte() {
        for len in 0..40 {
            for pos in 0..len {
                for bad in [0u8, 0x01, 0x1f, b'"', b'\\', 0x80, 0xff, 0xe2] {
                    let mut s = vec![b'a'; len];
                    s[pos] = bad;
                    // A second special byte after the first must not change the answer.
                    if pos + 1 < len {
                        s[pos + 1] = 0;
                    }
                    assert_eq!(plain_prefix(&s), pos, "len {len} pos {pos} byte {bad:#x}");
                }
            }
            assert_eq!(plain_prefix(&vec![b'~'; len]), len);
            assert_eq!(plain_prefix(&vec![b' '; len]), len);
        }
        // Boundary bytes that are plain.
        let all_plain: Vec<u8> = (0x20u8..0x80)
            .filter(|&b| b != b'"' && b != b'\\')
            .collect();
        assert_eq!(plain_prefix(&all_plain), all_plain.len());
    }

    #[test]
    fn escapes_like_the_go_writer() {
        assert_eq!(esc(b"").unwrap(), r#""""#);
        assert_eq!(esc(b"plain text").unwrap(), r#""plain text""#);
        assert_eq!(esc(b"a\"b\\c").unwrap(), r#""a\"b\\c""#);
        assert_eq!(esc(b"\n\r\t\x08\x0c").unwrap(), r#""\n\r\t\b\f""#);
        assert_eq!(
            esc(b"\x00\x01\x0b\x1f\x7f").unwrap(),
            "\"\\u0000\\u0001\\u000b\\u001f\x7f\""
        );
        assert_eq!(esc(b"<>&/'").unwrap(), r#""<>&/'""#);
        assert_eq!(esc("é☆😀".as_bytes()).unwrap(), "\"é☆😀\"");
        assert_eq!(
            esc("a\u{2028}b\u{2029}c\u{2027}\u{202a}".as_bytes()).unwrap(),
            "\"a\\u2028b\\u2029c\u{2027}\u{202a}\""
        );
        assert_eq!(
            esc("\u{2028}\u{2028}é\u{2029}".as_bytes()).unwrap(),
            "\"\\u2028\\u2028é\\u2029\""
        );
        assert_eq!(
            esc(
                "long ascii run before the escape, longer than sixteen bytes\n and after"
                    .as_bytes()
            )
            .unwrap(),
            "\"long ascii run before the escape, longer than sixteen bytes\\n and after\""
        );
    }

    #[test]
    fn invalid_utf8_is_an_error_at_the_bad_byte() {
        let e = esc(b"abc\xe9").unwrap_err();
        assert_eq!(e.offset, 3);
        assert_eq!(e.kind, ErrorKind::InvalidUtf8(Part::String));
        let e = esc(b"ok \xc3\xa9 then \xed\xa0\x80 (a surrogate)").unwrap_err();
        assert_eq!(e.offset, 11); // "ok " + é (2 bytes) + " then "
        let e = esc(b"\n\xff").unwrap_err();
        assert_eq!(e.offset, 1);
        // Truncated sequence at the end.
        let e = esc(b"xx\xe2\x80").unwrap_err();
        assert_eq!(e.offset, 2);
    }

    #[test]
    fn agrees_with_a_char_by_char_reference() {
        // Every char class, combined in many orders, against a simple reference.
        let pieces = [
            "a",
            "\"",
            "\\",
            "\n",
            "\u{0}",
            "\u{1f}",
            "\u{7f}",
            "é",
            "☆",
            "😀",
            "\u{2028}",
            "\u{2029}",
            "0123456789abcdefg",
        ];
        let mut seed = 12345u64;
        for _ in 0..3000 {
            let mut s = String::new();
            let n = (seed % 12) as usize;
            for _ in 0..n {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut want = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => want.push_str("\\\""),
                    '\\' => want.push_str("\\\\"),
                    '\n' => want.push_str("\\n"),
                    '\r' => want.push_str("\\r"),
                    '\t' => want.push_str("\\t"),
                    '\u{8}' => want.push_str("\\b"),
                    '\u{c}' => want.push_str("\\f"),
                    '\u{2028}' => want.push_str("\\u2028"),
                    '\u{2029}' => want.push_str("\\u2029"),
                    c if (c as u32) < 0x20 => want.push_str(&format!("\\u{:04x}", c as u32)),
                    c => want.push(c),
                }
            }
            want.push('"');
            assert_eq!(esc(s.as_bytes()).unwrap(), want, "input {s:?}");
        }
    }
}
