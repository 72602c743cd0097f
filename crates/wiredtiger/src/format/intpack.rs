//! WiredTiger's order-preserving variable-length integers (`vpack`).
//!
//! Used everywhere on disk: address cookies, cell lengths, validity windows and the keys of
//! `key_format=q` tables (MongoDB RecordIds). Multi-byte payloads are big-endian so that packed
//! values sort like the integers they encode.
//!
//! | first byte  | extra bytes | value |
//! |-------------|-------------|-------|
//! | `0001 llll` | `8 − llll`  | negative: all-ones u64 with the bytes shifted in |
//! | `001x xxxx` | 1           | `((b0 & 0x1f) << 8 \| b1) − 8256` |
//! | `01xx xxxx` | 0           | `(b0 & 0x3f) − 64` |
//! | `10xx xxxx` | 0           | `b0 & 0x3f` |
//! | `110x xxxx` | 1           | `((b0 & 0x1f) << 8 \| b1) + 64` |
//! | `1110 llll` | `llll`      | big-endian `llll`-byte value + 8256 |
//!
//! Everything else is invalid. Unsigned values accept only the last three forms.

use std::fmt;

const POS_1BYTE_MAX: u64 = (1 << 6) - 1; // 63
const POS_2BYTE_MAX: u64 = (1 << 13) + POS_1BYTE_MAX; // 8255
const NEG_1BYTE_MIN: i64 = -(1 << 6); // -64
const NEG_2BYTE_MIN: i64 = -(1 << 13) + NEG_1BYTE_MIN; // -8256

/// Why bytes do not hold a packed integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntPackError {
    /// The input ended inside the integer.
    Truncated,
    /// The first byte is not a valid marker for this kind of integer.
    BadMarker(u8),
    /// The value does not fit in 64 bits.
    Overflow,
    /// Bytes follow the integer where none should.
    Trailing(usize),
}

impl fmt::Display for IntPackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntPackError::Truncated => f.write_str("packed integer truncated"),
            IntPackError::BadMarker(b) => write!(f, "invalid packed-integer marker byte {b:#04x}"),
            IntPackError::Overflow => f.write_str("packed integer overflows 64 bits"),
            IntPackError::Trailing(n) => write!(f, "{n} bytes follow the packed integer"),
        }
    }
}

impl std::error::Error for IntPackError {}

/// Reads `len` big-endian bytes after the marker byte, starting from `init`.
fn shift_in(buf: &[u8], len: usize, init: u64) -> Result<u64, IntPackError> {
    if len > 8 {
        return Err(IntPackError::Overflow);
    }
    let bytes = buf.get(1..1 + len).ok_or(IntPackError::Truncated)?;
    Ok(bytes.iter().fold(init, |x, &b| (x << 8) | u64::from(b)))
}

/// Decodes an unsigned packed integer at the start of `buf`: `(value, bytes used)`.
pub fn unpack_uint(buf: &[u8]) -> Result<(u64, usize), IntPackError> {
    let b0 = *buf.first().ok_or(IntPackError::Truncated)?;
    match b0 & 0xf0 {
        0x80..=0xb0 => Ok((u64::from(b0 & 0x3f), 1)),
        0xc0 | 0xd0 => {
            let b1 = *buf.get(1).ok_or(IntPackError::Truncated)?;
            Ok((
                (u64::from(b0 & 0x1f) << 8 | u64::from(b1)) + POS_1BYTE_MAX + 1,
                2,
            ))
        }
        0xe0 => {
            let len = usize::from(b0 & 0x0f);
            let x = shift_in(buf, len, 0)?;
            let x = x
                .checked_add(POS_2BYTE_MAX + 1)
                .ok_or(IntPackError::Overflow)?;
            Ok((x, 1 + len))
        }
        _ => Err(IntPackError::BadMarker(b0)),
    }
}

/// Decodes a signed packed integer at the start of `buf`: `(value, bytes used)`.
pub fn unpack_int(buf: &[u8]) -> Result<(i64, usize), IntPackError> {
    let b0 = *buf.first().ok_or(IntPackError::Truncated)?;
    match b0 & 0xf0 {
        0x10 => {
            let len = 8usize.saturating_sub(usize::from(b0 & 0x0f));
            let x = shift_in(buf, len, u64::MAX)?;
            Ok((x as i64, 1 + len))
        }
        0x20 | 0x30 => {
            let b1 = *buf.get(1).ok_or(IntPackError::Truncated)?;
            let x = (i64::from(b0 & 0x1f) << 8) | i64::from(b1);
            Ok((x + NEG_2BYTE_MIN, 2))
        }
        0x40..=0x70 => Ok((NEG_1BYTE_MIN + i64::from(b0 & 0x3f), 1)),
        0x80..=0xe0 => {
            let (x, n) = unpack_uint(buf)?;
            Ok((x as i64, n))
        }
        _ => Err(IntPackError::BadMarker(b0)),
    }
}

/// Decodes a whole buffer as exactly one signed packed integer (a `key_format=q` key).
pub fn unpack_int_exact(buf: &[u8]) -> Result<i64, IntPackError> {
    let (x, n) = unpack_int(buf)?;
    if n != buf.len() {
        return Err(IntPackError::Trailing(buf.len() - n));
    }
    Ok(x)
}

/// Appends the last `len` big-endian bytes of `x`.
fn push_tail(out: &mut Vec<u8>, x: u64, len: usize) {
    out.extend_from_slice(&x.to_be_bytes()[8 - len..]);
}

/// Appends the packed form of an unsigned integer.
pub fn pack_uint(out: &mut Vec<u8>, x: u64) {
    if x <= POS_1BYTE_MAX {
        out.push(0x80 | x as u8);
    } else if x <= POS_2BYTE_MAX {
        let x = x - (POS_1BYTE_MAX + 1);
        out.push(0xc0 | (x >> 8) as u8);
        out.push(x as u8);
    } else if x == POS_2BYTE_MAX + 1 {
        // WiredTiger writes 8256 as `e1 00`, not `e0`, to keep the encoding length monotonic.
        out.extend_from_slice(&[0xe1, 0x00]);
    } else {
        let x = x - (POS_2BYTE_MAX + 1);
        let len = 8 - (x.leading_zeros() / 8) as usize;
        out.push(0xe0 | len as u8);
        push_tail(out, x, len);
    }
}

/// Appends the packed form of a signed integer.
pub fn pack_int(out: &mut Vec<u8>, x: i64) {
    if x < NEG_2BYTE_MIN {
        let ux = x as u64;
        let lz = ((!ux).leading_zeros() / 8) as usize;
        out.push(0x10 | lz as u8);
        push_tail(out, ux, 8 - lz);
    } else if x < NEG_1BYTE_MIN {
        let x = (x - NEG_2BYTE_MIN) as u64;
        out.push(0x20 | (x >> 8) as u8);
        out.push(x as u8);
    } else if x < 0 {
        out.push(0x40 | (x - NEG_1BYTE_MIN) as u8);
    } else {
        pack_uint(out, x as u64);
    }
}

/// A cursor over a byte slice that reads packed integers one after another.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The bytes not consumed yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Reads an unsigned packed integer and moves past it; on error the position does not
    /// move.
    pub fn uint(&mut self) -> Result<u64, IntPackError> {
        let (x, n) = unpack_uint(self.rest())?;
        self.pos += n;
        Ok(x)
    }

    /// Reads a signed packed integer and moves past it; on error the position does not move.
    pub fn int(&mut self) -> Result<i64, IntPackError> {
        let (x, n) = unpack_int(self.rest())?;
        self.pos += n;
        Ok(x)
    }

    /// Reads one raw byte (a version, prefix or descriptor byte);
    /// [`IntPackError::Truncated`] at the end of the buffer.
    pub fn byte(&mut self) -> Result<u8, IntPackError> {
        let b = *self.rest().first().ok_or(IntPackError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed_u(x: u64) -> Vec<u8> {
        let mut v = Vec::new();
        pack_uint(&mut v, x);
        v
    }

    fn packed_i(x: i64) -> Vec<u8> {
        let mut v = Vec::new();
        pack_int(&mut v, x);
        v
    }

    #[test]
    fn documented_unsigned_encodings() {
        let cases: &[(u64, &[u8])] = &[
            (0, &[0x80]),
            (63, &[0xbf]),
            (64, &[0xc0, 0x00]),
            (8255, &[0xdf, 0xff]),
            (8256, &[0xe1, 0x00]),
            (8257, &[0xe1, 0x01]),
            (1 << 20, &[0xe3, 0x0f, 0xdf, 0xc0]),
        ];
        for &(x, bytes) in cases {
            assert_eq!(packed_u(x), bytes, "pack {x}");
            assert_eq!(unpack_uint(bytes), Ok((x, bytes.len())), "unpack {x}");
        }
        // `e0` alone is another spelling of 8256.
        assert_eq!(unpack_uint(&[0xe0]), Ok((8256, 1)));
    }

    #[test]
    fn documented_signed_encodings() {
        let cases: &[(i64, &[u8])] = &[
            (-1, &[0x7f]),
            (-64, &[0x40]),
            (-65, &[0x3f, 0xff]),
            (-8256, &[0x20, 0x00]),
            (-8257, &[0x16, 0xdf, 0xbf]),
            (1, &[0x81]),
            (1000, &[0xc3, 0xa8]),
        ];
        for &(x, bytes) in cases {
            assert_eq!(packed_i(x), bytes, "pack {x}");
            assert_eq!(unpack_int(bytes), Ok((x, bytes.len())), "unpack {x}");
        }
    }

    #[test]
    fn round_trips_and_order() {
        let mut values: Vec<i64> = vec![
            i64::MIN,
            i64::MIN + 1,
            -(1 << 40),
            -70000,
            -8257,
            -8256,
            -8255,
            -100,
            -65,
            -64,
            -63,
            -1,
            0,
            1,
            63,
            64,
            8255,
            8256,
            8257,
            1_000_000,
            1 << 40,
            i64::MAX - 1,
            i64::MAX,
        ];
        for shift in 0..63 {
            values.push(1 << shift);
            values.push(-(1 << shift));
            values.push((1 << shift) + 1);
        }
        values.sort_unstable();
        values.dedup();
        let mut prev: Option<Vec<u8>> = None;
        for &x in &values {
            let p = packed_i(x);
            assert_eq!(unpack_int(&p), Ok((x, p.len())), "{x}");
            assert_eq!(unpack_int_exact(&p), Ok(x));
            if let Some(prev) = &prev {
                assert!(prev < &p, "packed order breaks at {x}");
            }
            prev = Some(p);
        }
        for x in [
            0u64,
            1,
            63,
            64,
            8255,
            8256,
            8257,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let p = packed_u(x);
            assert_eq!(unpack_uint(&p), Ok((x, p.len())), "{x}");
        }
    }

    #[test]
    fn invalid_input() {
        assert_eq!(unpack_uint(&[]), Err(IntPackError::Truncated));
        assert_eq!(unpack_uint(&[0x7f]), Err(IntPackError::BadMarker(0x7f)));
        assert_eq!(unpack_uint(&[0xf0]), Err(IntPackError::BadMarker(0xf0)));
        assert_eq!(unpack_int(&[0x05]), Err(IntPackError::BadMarker(0x05)));
        assert_eq!(unpack_uint(&[0xc0]), Err(IntPackError::Truncated));
        assert_eq!(unpack_uint(&[0xe4, 1, 2]), Err(IntPackError::Truncated));
        assert_eq!(unpack_uint(&[0xe9]), Err(IntPackError::Overflow));
        assert_eq!(
            unpack_uint(&[0xe8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(IntPackError::Overflow)
        );
        assert!(unpack_int_exact(&[0x81, 0x00]).is_err());
    }

    #[test]
    fn reader_reads_a_sequence() {
        let mut r = Reader::new(&[0x83, 0x81, 0xe4, 0x43, 0xd8, 0xde, 0xc4, 0x7f]);
        assert_eq!(r.uint(), Ok(3));
        assert_eq!(r.uint(), Ok(1));
        assert_eq!(r.uint(), Ok(0x43D8_DEC4 + 8256));
        assert_eq!(r.int(), Ok(-1));
        assert_eq!(r.pos(), 8);
        assert!(r.rest().is_empty());
    }
}
