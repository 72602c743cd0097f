//! The document walk: one pass over the BSON bytes that validates and writes at once.
//!
//! No recursion: open containers (embedded documents, arrays, code-with-scope scopes) live on
//! an explicit stack (32 frames inline, then the heap), so nesting depth is bounded by the
//! document's size only and hostile input cannot overflow the call stack.
//!
//! Invariant of the walk: `end` is the index of the 0x00 that terminates the innermost open
//! container; every element of that container, value included, must end at or before `end`.
//!
//! Output: each loop turn reserves `ELEMENT_ROOM` bytes in the [`Sink`], and the comma, a
//! short key and the fixed-size values are written into that room unchecked (each such write
//! says how many bytes it may use; debug builds check them all); everything of variable
//! length (strings, binary, long keys…) uses checked writes.

use base64::Engine as _;

use crate::date::{write_iso_unchecked, RELAXED_END_MS};
use crate::error::{Error, ErrorKind, Part};
use crate::int::{put_i32_unchecked, put_i64_unchecked, put_u32_unchecked};
use crate::number::{write_decimal128, write_double_unchecked};
use crate::sink::{Sink, ELEMENT_ROOM};
use crate::string::{check_utf8, plain_len16, plain_prefix, write_str};

/// What kind of container a frame is, i.e. how it is closed and what errors call it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Container {
    Top = 0,
    Embedded = 1,
    Array = 2,
    /// The scope document of a code-with-scope, closed with `}}`.
    Scope = 3,
}

impl Container {
    fn from_u8(k: u8) -> Self {
        match k {
            0 => Container::Top,
            1 => Container::Embedded,
            2 => Container::Array,
            _ => Container::Scope,
        }
    }

    fn part(self) -> Part {
        match self {
            Container::Top => Part::Document,
            Container::Embedded => Part::EmbeddedDocument,
            Container::Array => Part::Array,
            Container::Scope => Part::Scope,
        }
    }
}

const INLINE_FRAMES: usize = 32;

/// The enclosing containers: (end, kind) packed in a u64 (`end` < 2^31 since documents are).
struct Stack {
    inline: [u64; INLINE_FRAMES],
    len: usize,
    spill: Vec<u64>,
}

impl Stack {
    fn new() -> Self {
        Stack {
            inline: [0; INLINE_FRAMES],
            len: 0,
            spill: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, end: usize, kind: Container) {
        let frame = end as u64 | (kind as u64) << 32;
        if self.len < INLINE_FRAMES {
            self.inline[self.len] = frame;
        } else {
            self.spill.push(frame);
        }
        self.len += 1;
    }

    #[inline]
    fn pop(&mut self) -> Option<(usize, Container)> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        let frame = if self.len < INLINE_FRAMES {
            self.inline[self.len]
        } else {
            self.spill.pop().expect("spilled frame")
        };
        Some((
            (frame & 0xffff_ffff) as usize,
            Container::from_u8((frame >> 32) as u8),
        ))
    }
}

/// Element types BSON defines.
static KNOWN_TYPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0x01;
    while i <= 0x13 {
        t[i] = true;
        i += 1;
    }
    t[0x7f] = true;
    t[0xff] = true;
    t
};

static HEX: &[u8; 16] = b"0123456789abcdef";

#[inline(always)]
fn le_i32(doc: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(doc[at..at + 4].try_into().unwrap())
}

#[inline(always)]
fn le_u32(doc: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(doc[at..at + 4].try_into().unwrap())
}

#[inline(always)]
fn le_i64(doc: &[u8], at: usize) -> i64 {
    i64::from_le_bytes(doc[at..at + 8].try_into().unwrap())
}

/// `n` bytes at `at` must end at or before `end`.
#[inline(always)]
fn need(at: usize, n: usize, end: usize, part: Part) -> Result<(), Error> {
    if at + n <= end {
        Ok(())
    } else {
        Err(Error::new(
            at,
            ErrorKind::Truncated {
                part,
                need: n,
                left: end.saturating_sub(at),
            },
        ))
    }
}

/// Index of the 0x00 ending the cstring at `from`, which must come before `end`.
#[inline]
fn cstring_end(doc: &[u8], from: usize, end: usize, part: Part) -> Result<usize, Error> {
    match doc[from.min(end)..end].iter().position(|&b| b == 0) {
        Some(i) => Ok(from + i),
        None => Err(Error::new(from, ErrorKind::UnterminatedCString(part))),
    }
}

/// A length-prefixed string at `at`: (where its bytes start, their number without the 0x00,
/// where the element ends).
#[inline]
fn string_at(
    doc: &[u8],
    at: usize,
    end: usize,
    part: Part,
) -> Result<(usize, usize, usize), Error> {
    need(at, 4, end, part)?;
    let len = le_i32(doc, at);
    if len < 1 {
        return Err(Error::new(at, ErrorKind::InvalidLength { part, len }));
    }
    let start = at + 4;
    let stop = start + len as usize;
    if stop > end {
        return Err(Error::new(at, ErrorKind::Overrun { part, len }));
    }
    if doc[stop - 1] != 0 {
        return Err(Error::new(stop - 1, ErrorKind::UnterminatedString(part)));
    }
    Ok((start, stop - 1 - start, stop))
}

/// Writes `"key":` for the key at `key`; returns where the value starts.
///
/// # Safety
/// Room for 18 bytes (see [`Sink::put_unchecked`]); on return there is room for at least
/// `ELEMENT_ROOM - 19` bytes (a long key is written with checked writes, then a new room is
/// made).
#[inline(always)]
unsafe fn write_key(sink: &mut Sink, doc: &[u8], key: usize, end: usize) -> Result<usize, Error> {
    // Short plain keys (nearly all): one 16-byte look at the document from the key on finds
    // the key's 0x00, and one 16-byte block writes the key.
    if let Some(block) = doc.get(key..key + 16) {
        let block: &[u8; 16] = block.try_into().unwrap();
        let n = plain_len16(block);
        if n < 16 && block[n] == 0 && key + n < end {
            // SAFETY: within the element's room: `"`, 16 bytes keeping n < 16, `":`.
            unsafe {
                sink.put_unchecked(b"\"", 1);
                sink.put_unchecked(block, n);
                sink.put_unchecked(b"\":", 2);
            }
            return Ok(key + n + 1);
        }
    }
    let value = sink.with_vec(|out| write_key_general(out, doc, key, end));
    // A long key may have used up the element's room: make it anew for the value.
    sink.reserve(ELEMENT_ROOM);
    value
}

/// [`write_key`] for keys that are long, need escaping, or end near the end of the document.
#[inline(never)]
fn write_key_general(
    out: &mut Vec<u8>,
    doc: &[u8],
    key: usize,
    end: usize,
) -> Result<usize, Error> {
    let mut sink = Sink::new(out);
    // The scan may run past the key: it stops at the key's 0x00 or, at the latest, at the
    // 0x00 terminating the enclosing document (`doc[end]`).
    let hay = &doc[key..];
    let n = plain_prefix(hay);
    let stop = key + n;
    if stop < end && doc[stop] == 0 {
        sink.push(b'"');
        sink.copy_prefix(hay, n);
        sink.put(b"\":");
        sink.finish();
        return Ok(stop + 1);
    }
    let nul = cstring_end(doc, stop, end, Part::Key).map_err(|e| Error::new(key, e.kind))?;
    write_str(&mut sink, hay, nul - key, key, Part::Key)?;
    sink.push(b':');
    sink.finish();
    Ok(nul + 1)
}

/// Index of the 0x00 ending the array key at `key` (not written, not checked).
#[inline(always)]
fn skip_array_key(doc: &[u8], key: usize, end: usize) -> Result<usize, Error> {
    // Indexes 0-9 (most array elements): one digit and its 0x00.
    if key + 1 < end && doc[key] != 0 && doc[key + 1] == 0 {
        return Ok(key + 1);
    }
    cstring_end(doc, key, end, Part::Key)
}

/// The lowercase hex digits of the four bytes of `x` (as they lie in memory: `x` read
/// little-endian), as ASCII in a `u64` whose little-endian bytes are the text.
#[inline(always)]
fn hex8(x: u32) -> u64 {
    let x = x as u64;
    // Byte i to byte 2i.
    let x = (x | x << 16) & 0x0000_FFFF_0000_FFFF;
    let x = (x | x << 8) & 0x00FF_00FF_00FF_00FF;
    // Its high nibble stays at byte 2i, its low nibble goes to byte 2i + 1.
    let n = (x >> 4 & 0x000F_000F_000F_000F) | (x & 0x000F_000F_000F_000F) << 8;
    // 0-9 -> '0'-'9', 10-15 -> 'a'-'f' ('a' = '0' + 10 + 39): nibble + 6 has bit 4 set
    // exactly when the nibble is above 9 (no carries between bytes: at most 21).
    let above9 = (n + 0x0606_0606_0606_0606) >> 4 & 0x0101_0101_0101_0101;
    n + 0x3030_3030_3030_3030 + above9 * 39
}

/// Writes `{"$oid":"<24 hex digits>"}`.
///
/// # Safety
/// Room for 35 bytes.
#[inline(always)]
unsafe fn write_oid(sink: &mut Sink, oid: &[u8; 12]) {
    let word = |i: usize| u32::from_le_bytes(oid[i..i + 4].try_into().unwrap());
    // SAFETY: 9 + 8 + 8 + 8 + 2 = 35 bytes, within the caller's room.
    unsafe {
        sink.put_unchecked(b"{\"$oid\":\"", 9);
        sink.put_unchecked(&hex8(word(0)).to_le_bytes(), 8);
        sink.put_unchecked(&hex8(word(4)).to_le_bytes(), 8);
        sink.put_unchecked(&hex8(word(8)).to_le_bytes(), 8);
        sink.put_unchecked(b"\"}", 2);
    }
}

fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    out.resize(start + bytes.len().div_ceil(3) * 4, 0);
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out[start..])
        .expect("sized for padded base64");
    debug_assert_eq!(start + n, out.len());
}

/// Regex options (`doc[start..stop]`, followed by their 0x00), sorted: the spec requires
/// alphabetical order (`mix` prints as `imx`).
fn write_regex_options(
    out: &mut Vec<u8>,
    doc: &[u8],
    start: usize,
    stop: usize,
) -> Result<(), Error> {
    let mut sink = Sink::new(out);
    let opts = &doc[start..stop];
    if opts.len() <= 1 || opts.windows(2).all(|w| w[0] <= w[1]) {
        write_str(
            &mut sink,
            &doc[start..],
            opts.len(),
            start,
            Part::RegexOptions,
        )?;
        sink.finish();
        return Ok(());
    }
    check_utf8(opts, start, Part::RegexOptions)?;
    let text = std::str::from_utf8(opts).expect("checked");
    let mut chars: Vec<char> = text.chars().collect();
    chars.sort_unstable();
    let mut sorted = String::with_capacity(opts.len() + 1);
    sorted.extend(chars);
    sorted.push('\0');
    write_str(
        &mut sink,
        sorted.as_bytes(),
        opts.len(),
        start,
        Part::RegexOptions,
    )?;
    sink.finish();
    Ok(())
}

/// Writes one whole document; `out` may hold partial output when this fails.
pub(crate) fn write<const RELAXED: bool>(out: &mut Vec<u8>, doc: &[u8]) -> Result<(), Error> {
    if doc.len() < 5 {
        return Err(Error::new(0, ErrorKind::TooShort { len: doc.len() }));
    }
    let declared = le_i32(doc, 0);
    if declared < 0 || declared as usize != doc.len() {
        return Err(Error::new(
            0,
            ErrorKind::LengthMismatch {
                declared,
                actual: doc.len(),
            },
        ));
    }
    // Typical documents come out 1.1 to 1.6 times as long as they go in; the sink grows for
    // the others.
    out.reserve(doc.len() * 2 + 64);
    let mut sink = Sink::new(out);
    sink.push(b'{');
    let mut stack = Stack::new();
    let mut end = doc.len() - 1;
    let mut kind = Container::Top;
    let mut pos = 4;
    let mut first = true;
    loop {
        // Room for the unchecked writes of this element (or closer): the comma, a short key
        // and any fixed-size value, at most 19 + 49 bytes (see ELEMENT_ROOM).
        sink.reserve(ELEMENT_ROOM);
        let t = doc[pos];
        if pos == end {
            if t != 0 {
                return Err(Error::new(
                    pos,
                    ErrorKind::MissingTerminator { part: kind.part() },
                ));
            }
            // SAFETY: at most 2 bytes, within the room.
            unsafe {
                match kind {
                    Container::Top | Container::Embedded => sink.put_unchecked(b"}", 1),
                    Container::Array => sink.put_unchecked(b"]", 1),
                    Container::Scope => sink.put_unchecked(b"}}", 2),
                }
            }
            match stack.pop() {
                None => {
                    sink.finish();
                    return Ok(());
                }
                Some((e, k)) => {
                    end = e;
                    kind = k;
                }
            }
            pos += 1;
            first = false;
            continue;
        }
        if t == 0 {
            return Err(Error::new(
                pos,
                ErrorKind::EarlyTerminator { part: kind.part() },
            ));
        }
        if !KNOWN_TYPE[t as usize] {
            return Err(Error::new(pos, ErrorKind::UnknownType(t)));
        }
        // The comma is written always and kept unless this is the container's first element.
        // SAFETY: 1 byte, within the room.
        unsafe { sink.put_unchecked(b",", !first as usize) };
        first = false;
        let v = if kind == Container::Array {
            // Array keys are not written; like bsondump, their digits are not checked.
            skip_array_key(doc, pos + 1, end)? + 1
        } else {
            // SAFETY: at most 18 bytes, after the comma's 1.
            unsafe { write_key(&mut sink, doc, pos + 1, end)? }
        };
        // From here on, the fixed-size values write at most 49 bytes unchecked (the longest:
        // `{"$date":{"$numberLong":"` 25, an int64 in blocks ending within 21, `"}}` 3), and
        // at least ELEMENT_ROOM - 19 bytes of room are left.
        pos = match t {
            0x01 => {
                need(v, 8, end, Part::Double)?;
                let f = f64::from_bits(le_i64(doc, v) as u64);
                // SAFETY: at most 18 + 24 + 2 bytes.
                unsafe {
                    if f.is_finite() {
                        if RELAXED {
                            write_double_unchecked(&mut sink, f);
                        } else {
                            sink.put_unchecked(b"{\"$numberDouble\":\"", 18);
                            write_double_unchecked(&mut sink, f);
                            sink.put_unchecked(b"\"}", 2);
                        }
                    } else if f.is_nan() {
                        sink.put_unchecked(b"{\"$numberDouble\":\"NaN\"}", 23);
                    } else if f > 0.0 {
                        sink.put_unchecked(b"{\"$numberDouble\":\"Infinity\"}", 28);
                    } else {
                        sink.put_unchecked(b"{\"$numberDouble\":\"-Infinity\"}", 29);
                    }
                }
                v + 8
            }
            0x02 => {
                let (at, len, next) = string_at(doc, v, end, Part::String)?;
                write_str(&mut sink, &doc[at..], len, at, Part::String)?;
                next
            }
            0x03 | 0x04 => {
                let (part, inner, open) = if t == 0x03 {
                    (Part::EmbeddedDocument, Container::Embedded, b'{')
                } else {
                    (Part::Array, Container::Array, b'[')
                };
                need(v, 4, end, part)?;
                let len = le_i32(doc, v);
                if len < 5 {
                    return Err(Error::new(v, ErrorKind::InvalidLength { part, len }));
                }
                if v + len as usize > end {
                    return Err(Error::new(v, ErrorKind::Overrun { part, len }));
                }
                // SAFETY: 1 byte.
                unsafe { sink.put_unchecked(&[open], 1) };
                stack.push(end, kind);
                end = v + len as usize - 1;
                kind = inner;
                first = true;
                v + 4
            }
            0x05 => {
                need(v, 5, end, Part::Binary)?;
                let len = le_i32(doc, v);
                if len < 0 {
                    return Err(Error::new(
                        v,
                        ErrorKind::InvalidLength {
                            part: Part::Binary,
                            len,
                        },
                    ));
                }
                let subtype = doc[v + 4];
                let data = v + 5;
                let stop = data + len as usize;
                if stop > end {
                    return Err(Error::new(
                        v,
                        ErrorKind::Overrun {
                            part: Part::Binary,
                            len,
                        },
                    ));
                }
                let bytes = if subtype == 0x02 {
                    // Old binary: an inner int32 length, then the bytes it counts.
                    need(data, 4, stop, Part::Binary)?;
                    let inner = le_i32(doc, data);
                    if inner != len - 4 {
                        return Err(Error::new(
                            data,
                            ErrorKind::OldBinaryLength { inner, outer: len },
                        ));
                    }
                    &doc[data + 4..stop]
                } else {
                    &doc[data..stop]
                };
                sink.put(b"{\"$binary\":{\"base64\":\"");
                sink.with_vec(|out| write_base64(out, bytes));
                sink.put(b"\",\"subType\":\"");
                sink.put(&[HEX[(subtype >> 4) as usize], HEX[(subtype & 15) as usize]]);
                sink.put(b"\"}}");
                stop
            }
            0x06 => {
                // SAFETY: 19 bytes.
                unsafe { sink.put_unchecked(b"{\"$undefined\":true}", 19) };
                v
            }
            0x07 => {
                need(v, 12, end, Part::ObjectId)?;
                // SAFETY: 35 bytes.
                unsafe { write_oid(&mut sink, doc[v..v + 12].try_into().unwrap()) };
                v + 12
            }
            0x08 => {
                need(v, 1, end, Part::Boolean)?;
                match doc[v] {
                    // SAFETY: a 5-byte block, within the room left after the key.
                    0 => unsafe { sink.put_unchecked(b"false", 5) },
                    // SAFETY: a 4-byte block, within the room left after the key.
                    1 => unsafe { sink.put_unchecked(b"true", 4) },
                    b => return Err(Error::new(v, ErrorKind::InvalidBoolean(b))),
                }
                v + 1
            }
            0x09 => {
                need(v, 8, end, Part::Datetime)?;
                let ms = le_i64(doc, v);
                // SAFETY: at most 10 + 24 + 2, or 25 + 21 + 3 bytes.
                unsafe {
                    if RELAXED && (0..RELAXED_END_MS).contains(&ms) {
                        sink.put_unchecked(b"{\"$date\":\"", 10);
                        write_iso_unchecked(&mut sink, ms);
                        sink.put_unchecked(b"\"}", 2);
                    } else {
                        sink.put_unchecked(b"{\"$date\":{\"$numberLong\":\"", 25);
                        put_i64_unchecked(&mut sink, ms);
                        sink.put_unchecked(b"\"}}", 3);
                    }
                }
                v + 8
            }
            0x0A => {
                // SAFETY: 4 bytes.
                unsafe { sink.put_unchecked(b"null", 4) };
                v
            }
            0x0B => {
                let pattern_end = cstring_end(doc, v, end, Part::RegexPattern)?;
                let opts = pattern_end + 1;
                let opts_end = cstring_end(doc, opts, end, Part::RegexOptions)?;
                sink.put(b"{\"$regularExpression\":{\"pattern\":");
                write_str(&mut sink, &doc[v..], pattern_end - v, v, Part::RegexPattern)?;
                sink.put(b",\"options\":");
                sink.with_vec(|out| write_regex_options(out, doc, opts, opts_end))?;
                sink.put(b"}}");
                opts_end + 1
            }
            0x0C => {
                let (at, len, id) = string_at(doc, v, end, Part::DbPointerNamespace)?;
                need(id, 12, end, Part::DbPointerId)?;
                sink.put(b"{\"$dbPointer\":{\"$ref\":");
                write_str(&mut sink, &doc[at..], len, at, Part::DbPointerNamespace)?;
                sink.put(b",\"$id\":");
                sink.reserve(35);
                // SAFETY: 35 bytes, just reserved.
                unsafe { write_oid(&mut sink, doc[id..id + 12].try_into().unwrap()) };
                sink.put(b"}}");
                id + 12
            }
            0x0D | 0x0E => {
                let part = if t == 0x0D { Part::Code } else { Part::Symbol };
                let (at, len, next) = string_at(doc, v, end, part)?;
                if t == 0x0D {
                    sink.put(b"{\"$code\":");
                } else {
                    sink.put(b"{\"$symbol\":");
                }
                write_str(&mut sink, &doc[at..], len, at, part)?;
                sink.push(b'}');
                next
            }
            0x0F => {
                need(v, 4, end, Part::CodeWithScope)?;
                let total = le_i32(doc, v);
                // int32 total + int32 string length + at least "\0" + a scope of 5 bytes.
                if total < 14 {
                    return Err(Error::new(
                        v,
                        ErrorKind::InvalidLength {
                            part: Part::CodeWithScope,
                            len: total,
                        },
                    ));
                }
                let cws_end = v + total as usize;
                if cws_end > end {
                    return Err(Error::new(
                        v,
                        ErrorKind::Overrun {
                            part: Part::CodeWithScope,
                            len: total,
                        },
                    ));
                }
                let (at, code_len, scope) = string_at(doc, v + 4, cws_end, Part::Code)?;
                need(scope, 4, cws_end, Part::Scope)?;
                let scope_len = le_i32(doc, scope);
                if scope_len < 5 {
                    return Err(Error::new(
                        scope,
                        ErrorKind::InvalidLength {
                            part: Part::Scope,
                            len: scope_len,
                        },
                    ));
                }
                if scope as i64 + scope_len as i64 != cws_end as i64 {
                    return Err(Error::new(
                        v,
                        ErrorKind::CodeWithScopeLength {
                            declared: total,
                            actual: (scope - v) as i64 + scope_len as i64,
                        },
                    ));
                }
                sink.put(b"{\"$code\":");
                write_str(&mut sink, &doc[at..], code_len, at, Part::Code)?;
                sink.put(b",\"$scope\":{");
                stack.push(end, kind);
                end = cws_end - 1;
                kind = Container::Scope;
                first = true;
                scope + 4
            }
            0x10 => {
                need(v, 4, end, Part::Int32)?;
                let n = le_i32(doc, v);
                // SAFETY: at most 15 + 11 + 2 bytes.
                unsafe {
                    if RELAXED {
                        put_i32_unchecked(&mut sink, n);
                    } else {
                        sink.put_unchecked(b"{\"$numberInt\":\"", 15);
                        put_i32_unchecked(&mut sink, n);
                        sink.put_unchecked(b"\"}", 2);
                    }
                }
                v + 4
            }
            0x11 => {
                need(v, 8, end, Part::Timestamp)?;
                // SAFETY: at most 19 + 10 + 5 + 10 + 2 bytes.
                unsafe {
                    sink.put_unchecked(b"{\"$timestamp\":{\"t\":", 19);
                    put_u32_unchecked(&mut sink, le_u32(doc, v + 4));
                    sink.put_unchecked(b",\"i\":", 5);
                    put_u32_unchecked(&mut sink, le_u32(doc, v));
                    sink.put_unchecked(b"}}", 2);
                }
                v + 8
            }
            0x12 => {
                need(v, 8, end, Part::Int64)?;
                let n = le_i64(doc, v);
                // SAFETY: at most 16 + 21 + 2 bytes.
                unsafe {
                    if RELAXED {
                        put_i64_unchecked(&mut sink, n);
                    } else {
                        sink.put_unchecked(b"{\"$numberLong\":\"", 16);
                        put_i64_unchecked(&mut sink, n);
                        sink.put_unchecked(b"\"}", 2);
                    }
                }
                v + 8
            }
            0x13 => {
                need(v, 16, end, Part::Decimal128)?;
                sink.put(b"{\"$numberDecimal\":\"");
                sink.with_vec(|out| write_decimal128(out, doc[v..v + 16].try_into().unwrap()));
                sink.put(b"\"}");
                v + 16
            }
            0x7F => {
                // SAFETY: 13 bytes.
                unsafe { sink.put_unchecked(b"{\"$maxKey\":1}", 13) };
                v
            }
            0xFF => {
                // SAFETY: 13 bytes.
                unsafe { sink.put_unchecked(b"{\"$minKey\":1}", 13) };
                v
            }
            _ => unreachable!("KNOWN_TYPE admits only the types matched above"),
        };
    }
}
