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
//! still get whole 16-byte loads. Strings of fewer than 32 plain bytes are written inline by
//! [`write_str`] as one 16- or 32-byte block (no `memcpy` call). The others go to a general
//! path that copies plain runs as blocks and handles escapes and non-ASCII between them: a
//! short non-ASCII tail is validated character by character as it is copied, a long one (64
//! bytes or more) first with `simdutf8`, then copied in runs that only stop at escapes and at
//! 0xE2 (the lead byte of U+2028 and U+2029).

use crate::error::{Error, ErrorKind, Part};
use crate::sink::Sink;

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

/// Length of the plain prefix of `block` (as [`plain_prefix`]), 16 if it is all plain.
#[inline(always)]
pub(crate) fn plain_len16(block: &[u8; 16]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8,
            _mm_or_si128, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of the x86_64 baseline; the load reads the 16 bytes of `block`.
        let bits = unsafe {
            let v = _mm_loadu_si128(block.as_ptr() as *const __m128i);
            let m = _mm_or_si128(
                _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                _mm_or_si128(
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
                ),
            );
            _mm_movemask_epi8(m) as u32
        };
        (bits | 1 << 16).trailing_zeros() as usize
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        plain_prefix(block)
    }
}

/// Length of the leading run of `s` that is copied unchanged inside a string known to be
/// valid UTF-8: everything but bytes below 0x20, `"`, `\` and 0xE2 (the lead byte of U+2028
/// and U+2029, which are escaped).
#[inline]
fn verbatim_prefix(s: &[u8]) -> usize {
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8, _mm_setzero_si128, _mm_subs_epu8,
        };
        // SAFETY: SSE2 is part of the x86_64 baseline; every load reads 16 bytes inside `s`.
        unsafe {
            while i + 16 <= s.len() {
                let v = _mm_loadu_si128(s.as_ptr().add(i) as *const __m128i);
                // Unsigned v <= 0x1f: saturating v - 0x1f is zero.
                let ctrl =
                    _mm_cmpeq_epi8(_mm_subs_epu8(v, _mm_set1_epi8(0x1f)), _mm_setzero_si128());
                let m = _mm_or_si128(
                    _mm_or_si128(ctrl, _mm_cmpeq_epi8(v, _mm_set1_epi8(0xE2u8 as i8))),
                    _mm_or_si128(
                        _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
                        _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
                    ),
                );
                let bits = _mm_movemask_epi8(m) as u32;
                if bits != 0 {
                    return i + bits.trailing_zeros() as usize;
                }
                i += 16;
            }
        }
    }
    while i < s.len() && VERBATIM[s[i] as usize] {
        i += 1;
    }
    i
}

/// Bytes [`verbatim_prefix`] passes over.
static VERBATIM: [bool; 256] = {
    let mut t = [true; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = false;
        i += 1;
    }
    t[b'"' as usize] = false;
    t[b'\\' as usize] = false;
    t[0xE2] = false;
    t
};

/// Writes the string `hay[..len]` as a quoted JSON string. `hay` must continue past the
/// string with its 0x00 terminator, which ends every scan (more document bytes after it make
/// the scans and the copies faster). `offset`
/// is where the string starts in the document (for errors).
#[inline(always)]
pub(crate) fn write_str(
    sink: &mut Sink,
    hay: &[u8],
    len: usize,
    offset: usize,
    part: Part,
) -> Result<(), Error> {
    debug_assert!(hay.len() > len && hay[len] == 0);
    // Short plain ASCII (most strings): one or two 16-byte looks, one block.
    if len < 16 && hay.len() >= 16 {
        let block: &[u8; 16] = hay[..16].try_into().unwrap();
        if plain_len16(block) >= len {
            sink.reserve(18);
            // SAFETY: 1 + 16 (keeping len < 16) + 1 bytes, just reserved.
            unsafe {
                sink.put_unchecked(b"\"", 1);
                sink.put_unchecked(block, len);
                sink.put_unchecked(b"\"", 1);
            }
            return Ok(());
        }
    } else if len < 32 && hay.len() >= 32 {
        let block: &[u8; 32] = hay[..32].try_into().unwrap();
        if plain_len16(block[..16].try_into().unwrap()) == 16
            && 16 + plain_len16(block[16..].try_into().unwrap()) >= len
        {
            sink.reserve(34);
            // SAFETY: 1 + 32 (keeping len < 32) + 1 bytes, just reserved.
            unsafe {
                sink.put_unchecked(b"\"", 1);
                sink.put_unchecked(block, len);
                sink.put_unchecked(b"\"", 1);
            }
            return Ok(());
        }
    }
    sink.with_vec(|out| write_str_general(out, hay, len, offset, part))
}

/// [`write_str`] for strings that are long or need more than a copy. (It takes the `Vec`, not
/// the caller's [`Sink`], so that the caller's cursor can stay in registers.)
///
/// Escapes and non-ASCII are handled one at a time between runs of plain ASCII copied as
/// blocks. Short tails (from the first byte that is not plain ASCII) are validated as they are
/// copied, character by character; long ones are validated first with `simdutf8` and then
/// copied in runs that only stop at escapes and at 0xE2 (U+2028 and U+2029 start with it).
/// On invalid UTF-8 the error is returned with partial output (the caller rolls it back).
#[inline(never)]
fn write_str_general(
    out: &mut Vec<u8>,
    hay: &[u8],
    len: usize,
    offset: usize,
    part: Part,
) -> Result<(), Error> {
    let mut sink = Sink::new(out);
    sink.push(b'"');
    let n = plain_prefix(hay);
    sink.copy_prefix(hay, n.min(len));
    if n < len {
        if len - n < 64 {
            write_tail_validating(&mut sink, hay, n, len)
                .map_err(|at| Error::new(offset + at, ErrorKind::InvalidUtf8(part)))?;
        } else {
            let tail = &hay[n..len];
            if !tail.is_ascii() {
                check_utf8(tail, offset + n, part)?;
            }
            write_escaped_tail(&mut sink, hay, n, len);
        }
    }
    sink.push(b'"');
    sink.finish();
    Ok(())
}

/// Writes the escape of the ASCII byte `b` (below 0x20, `"` or `\`).
#[inline(always)]
fn write_escape(sink: &mut Sink, b: u8) {
    match b {
        b'"' => sink.put(b"\\\""),
        b'\\' => sink.put(b"\\\\"),
        b'\n' => sink.put(b"\\n"),
        b'\r' => sink.put(b"\\r"),
        b'\t' => sink.put(b"\\t"),
        0x08 => sink.put(b"\\b"),
        0x0c => sink.put(b"\\f"),
        _ => {
            debug_assert!(b < 0x20);
            sink.put(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ]);
        }
    }
}

/// Length of the UTF-8 character starting with the byte `hay[i] >= 0x80`, if it is a valid
/// one that ends by `len` — the rules of `std::str::from_utf8`: no overlong forms (C0, C1,
/// E0 80-9F, F0 80-8F), no surrogates (ED A0-BF), nothing above U+10FFFF (F4 90-BF, F5-FF),
/// no stray continuation bytes. `hay[len]` is 0x00, never a continuation byte, so a sequence
/// cut short by the end of the string fails at its first missing byte without reading past it.
#[inline(always)]
fn utf8_char_len(hay: &[u8], i: usize) -> Option<usize> {
    let cont = |b: u8| (0x80..=0xBF).contains(&b);
    let b = hay[i];
    let (n, second) = match b {
        0xC2..=0xDF => (2, 0x80..=0xBF),
        0xE0 => (3, 0xA0..=0xBF),
        0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80..=0xBF),
        0xED => (3, 0x80..=0x9F),
        0xF0 => (4, 0x90..=0xBF),
        0xF1..=0xF3 => (4, 0x80..=0xBF),
        0xF4 => (4, 0x80..=0x8F),
        _ => return None,
    };
    if !second.contains(&hay[i + 1]) {
        return None;
    }
    // A continuation byte at i + 1 is inside the string, so i + 2 <= len is readable.
    if n >= 3 && !cont(hay[i + 2]) {
        return None;
    }
    if n == 4 && !cont(hay[i + 3]) {
        return None;
    }
    Some(n)
}

/// Escapes and copies `hay[from..len]` (`hay[len]` is 0x00), validating UTF-8 as it goes;
/// `Err(at)` for the first invalid sequence at `hay[at]` (what `from_utf8`'s `valid_up_to`
/// gives, since all before it is valid).
#[inline(always)]
fn write_tail_validating(
    sink: &mut Sink,
    hay: &[u8],
    from: usize,
    len: usize,
) -> Result<(), usize> {
    let mut i = from;
    while i < len {
        let b = hay[i];
        if b < 0x80 {
            if PLAIN[b as usize] {
                // Stops at `len` at the latest.
                let run = plain_prefix(&hay[i..]);
                sink.copy_prefix(&hay[i..], run);
                i += run;
            } else {
                write_escape(sink, b);
                i += 1;
            }
            continue;
        }
        let n = utf8_char_len(hay, i).ok_or(i)?;
        if n == 3 && b == 0xE2 && hay[i + 1] == 0x80 && (hay[i + 2] | 1) == 0xA9 {
            sink.put(if hay[i + 2] == 0xA8 {
                b"\\u2028"
            } else {
                b"\\u2029"
            });
        } else {
            // The 4-byte block may reach past the string (its bytes are not kept) but not
            // past `hay`.
            match hay.get(i..i + 4) {
                Some(block) => sink.put_keep::<4>(block.try_into().unwrap(), n),
                None => sink.extend(&hay[i..i + n]),
            }
        }
        i += n;
    }
    Ok(())
}

/// Escapes `hay[from..len]`, known to be valid UTF-8 and followed by a byte below 0x20.
#[inline(always)]
fn write_escaped_tail(sink: &mut Sink, hay: &[u8], from: usize, len: usize) {
    let mut i = from;
    loop {
        // Stops at `len` at the latest (the byte there is below 0x20).
        let run = verbatim_prefix(&hay[i..]);
        sink.copy_prefix(&hay[i..], run);
        i += run;
        if i >= len {
            debug_assert_eq!(i, len);
            return;
        }
        let b = hay[i];
        i += 1;
        if b != 0xE2 {
            write_escape(sink, b);
        } else if i + 1 < len && hay[i] == 0x80 && (hay[i + 1] | 1) == 0xA9 {
            // U+2028 (E2 80 A8) and U+2029 (E2 80 A9); other characters led by E2 are
            // copied (valid UTF-8: a lead byte E2 has two continuation bytes in the string).
            sink.put(if hay[i + 1] == 0xA8 {
                b"\\u2028"
            } else {
                b"\\u2029"
            });
            i += 2;
        } else {
            sink.push(b);
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
            let mut sink = Sink::new(&mut out);
            write_str(&mut sink, &hay, s.len(), 0, Part::String)?;
            sink.finish();
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

    /// The escaping of valid UTF-8 text, char by char, as the Go writer does it.
    fn reference(s: &str) -> String {
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
        want
    }

    #[test]
    fn random_bytes_are_validated_like_std_and_escaped_like_the_reference() {
        // Bytes drawn to make valid and invalid UTF-8 of every kind likely: ASCII (plain and
        // escaped), continuation bytes, every class of lead byte, U+2028/U+2029 pieces.
        let alphabet: Vec<u8> = [
            &b"aZ ~\"\\\n\x00\x1f\x7f"[..],
            &[0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xa8, 0xa9, 0xbf],
            &[
                0xc0, 0xc1, 0xc2, 0xc3, 0xdf, 0xe0, 0xe1, 0xe2, 0xe2, 0xec, 0xed, 0xee, 0xef,
            ],
            &[0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xff],
        ]
        .concat();
        let mut x = 0x853C_49E6_748F_EA9Bu64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut valid, mut invalid) = (0, 0);
        for _ in 0..200_000 {
            let r = next();
            let len = (r % 100) as usize;
            // One string in two has raw bytes, one in sixteen of its pieces (errors late).
            let raw = if r >> 40 & 1 == 0 { 0 } else { 1 };
            let mut s: Vec<u8> = Vec::with_capacity(len);
            while s.len() < len {
                let r = next();
                match r % 16 {
                    k if k >= raw => s.extend_from_slice(
                        [
                            "é", "☆", "😀", "\u{2028}", "\u{2029}", "\u{2027}", "abc", "\"",
                        ][(r >> 8) as usize % 8]
                            .as_bytes(),
                    ),
                    _ => s.push(alphabet[(r >> 8) as usize % alphabet.len()]),
                }
            }
            for extra in [&b""[..], b"\x10more document bytes after the string"] {
                let mut hay = s.clone();
                hay.push(0);
                hay.extend_from_slice(extra);
                let mut out = b"prefix".to_vec();
                let mut sink = Sink::new(&mut out);
                let got = write_str(&mut sink, &hay, s.len(), 1000, Part::Symbol);
                match std::str::from_utf8(&s) {
                    Ok(text) => {
                        got.unwrap();
                        sink.finish();
                        assert_eq!(std::str::from_utf8(&out[6..]).unwrap(), reference(text));
                        valid += 1;
                    }
                    Err(e) => {
                        let e2 = got.unwrap_err();
                        assert_eq!(e2.offset, 1000 + e.valid_up_to(), "{s:x?}");
                        assert_eq!(e2.kind, ErrorKind::InvalidUtf8(Part::Symbol));
                        invalid += 1;
                    }
                }
            }
        }
        assert!(valid > 100_000 && invalid > 100_000, "{valid} {invalid}");
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
            assert_eq!(esc(s.as_bytes()).unwrap(), reference(&s), "input {s:?}");
        }
    }
}
