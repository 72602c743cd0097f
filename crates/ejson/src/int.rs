//! Decimal integers written straight into the [`Sink`], eight digits at a time.
//!
//! Eight digits are made at once in one `u64` (SIMD within a register: 4+4 digits, then
//! 2+2 in each half, then 1+1), most significant digit in the lowest byte, so that the
//! little-endian bytes of the word are the text. The leading zeros of the first group are
//! shifted out and the group written as one 8-byte block of which only the digits count: no
//! digit-by-digit loop, no intermediate buffer, no `memcpy`.

use crate::sink::Sink;

pub(crate) const ZEROS: u64 = 0x3030_3030_3030_3030;

/// The eight decimal digits of `x < 10^8` (leading zeros included) as values 0-9, the most
/// significant in the lowest byte.
#[inline(always)]
pub(crate) fn digit_values8(x: u32) -> u64 {
    debug_assert!(x < 100_000_000);
    // abcdefgh -> 32-bit lanes [abcd, efgh] (lane 0 is the low one, written first).
    let v = (x / 10_000) as u64 | ((x % 10_000) as u64) << 32;
    // Each lane y < 10^4: y / 100 = (y * 5243) >> 19 (exact below 43 699); no lane overflows
    // (10^4 * 5243 < 2^32), and the mask drops what the shift brings down from the lane above.
    let hi = ((v * 5243) >> 19) & 0x0000_007F_0000_007F;
    let v = hi | (v - hi * 100) << 16;
    // Each 16-bit lane z < 100: z / 10 = (z * 103) >> 10 (exact below 179; 100 * 103 < 2^16).
    let hi = ((v * 103) >> 10) & 0x000F_000F_000F_000F;
    hi | (v - hi * 10) << 8
}

/// Writes `x < 10^8` without leading zeros ("0" for 0).
///
/// # Safety
/// Room for 8 bytes (see [`Sink::put_unchecked`]).
#[inline(always)]
pub(crate) unsafe fn put_head_unchecked(sink: &mut Sink, x: u32) {
    let d = digit_values8(x);
    // Leading zero digits are the low zero bytes; keep at least one digit (x = 0).
    let zeros = (d.trailing_zeros() / 8).min(7);
    let text = (d + ZEROS) >> (8 * zeros);
    // SAFETY: passed on to the caller; 8 - zeros <= 8.
    unsafe { sink.put_unchecked(&text.to_le_bytes(), 8 - zeros as usize) };
}

/// Writes `x < 10^8` as exactly eight digits.
///
/// # Safety
/// Room for 8 bytes.
#[inline(always)]
unsafe fn put8_unchecked(sink: &mut Sink, x: u32) {
    // SAFETY: passed on to the caller.
    unsafe { sink.put_unchecked(&(digit_values8(x) + ZEROS).to_le_bytes(), 8) };
}

/// Writes `v` in decimal.
///
/// # Safety
/// Room for 20 bytes: up to 20 digits, in 8-byte blocks of which the first keeps at most 4
/// when there are three (`v >= 10^16`: 4 + 8 + 8), at most 8 when two (8 + 8).
#[inline(always)]
pub(crate) unsafe fn put_u64_unchecked(sink: &mut Sink, v: u64) {
    const E8: u64 = 100_000_000;
    // SAFETY: within the room the caller made, as counted above.
    unsafe {
        if v < E8 {
            put_head_unchecked(sink, v as u32);
        } else if v < E8 * E8 {
            put_head_unchecked(sink, (v / E8) as u32);
            put8_unchecked(sink, (v % E8) as u32);
        } else {
            let (top, rest) = (v / (E8 * E8), v % (E8 * E8));
            put_head_unchecked(sink, top as u32);
            put8_unchecked(sink, (rest / E8) as u32);
            put8_unchecked(sink, (rest % E8) as u32);
        }
    }
}

/// Writes `v` in decimal.
///
/// # Safety
/// Room for 10 bytes (a head of at most 2 digits, then 8, or one block of 8).
#[inline(always)]
pub(crate) unsafe fn put_u32_unchecked(sink: &mut Sink, v: u32) {
    const E8: u32 = 100_000_000;
    // SAFETY: within the room the caller made, as counted above.
    unsafe {
        if v < E8 {
            put_head_unchecked(sink, v);
        } else {
            put_head_unchecked(sink, v / E8);
            put8_unchecked(sink, v % E8);
        }
    }
}

/// Writes `v` in decimal.
///
/// # Safety
/// Room for 21 bytes (the sign, then as [`put_u64_unchecked`]).
#[inline(always)]
pub(crate) unsafe fn put_i64_unchecked(sink: &mut Sink, v: i64) {
    // SAFETY: within the room the caller made. The sign is written always and kept only when
    // negative.
    unsafe {
        sink.put_unchecked(b"-", (v < 0) as usize);
        put_u64_unchecked(sink, v.unsigned_abs());
    }
}

/// Writes `v` in decimal.
///
/// # Safety
/// Room for 11 bytes (the sign, then as [`put_u32_unchecked`]).
#[inline(always)]
pub(crate) unsafe fn put_i32_unchecked(sink: &mut Sink, v: i32) {
    // SAFETY: within the room the caller made.
    unsafe {
        sink.put_unchecked(b"-", (v < 0) as usize);
        put_u32_unchecked(sink, v.unsigned_abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Sink)) -> String {
        let mut v = Vec::new();
        let mut s = Sink::new(&mut v);
        f(&mut s);
        s.finish();
        String::from_utf8(v).unwrap()
    }

    // Each with exactly the room it documents (debug builds check every write against it).
    fn put_i64(s: &mut Sink, v: i64) {
        s.reserve(21);
        // SAFETY: the 21 bytes just reserved are the room `put_i64_unchecked` requires.
        unsafe { put_i64_unchecked(s, v) }
    }
    fn put_u64(s: &mut Sink, v: u64) {
        s.reserve(20);
        // SAFETY: the 20 bytes just reserved are the room `put_u64_unchecked` requires.
        unsafe { put_u64_unchecked(s, v) }
    }
    fn put_i32(s: &mut Sink, v: i32) {
        s.reserve(11);
        // SAFETY: the 11 bytes just reserved are the room `put_i32_unchecked` requires.
        unsafe { put_i32_unchecked(s, v) }
    }
    fn put_u32(s: &mut Sink, v: u32) {
        s.reserve(10);
        // SAFETY: the 10 bytes just reserved are the room `put_u32_unchecked` requires.
        unsafe { put_u32_unchecked(s, v) }
    }

    #[test]
    fn lanes_divide_exactly() {
        let all_small = 0..2_000_000u32;
        let sampled = (2_000_000..100_000_000u32).step_by(9_973);
        for x in all_small.chain(sampled).chain([99_999_999]) {
            let d = digit_values8(x).to_le_bytes();
            let want = format!("{x:08}");
            assert!(
                d.iter().zip(want.bytes()).all(|(&a, b)| a + b'0' == b),
                "{x}"
            );
        }
    }

    #[test]
    fn integers_match_std_formatting() {
        let mut values: Vec<i64> = vec![0, 1, -1, i64::MIN, i64::MAX, i64::MIN + 1];
        for k in 0..19 {
            let p = 10i64.pow(k);
            values.extend_from_slice(&[p, p - 1, p + 1, -p, -p + 1, -p - 1]);
        }
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for i in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push((x >> (i % 64)) as i64);
            values.push(x as i64);
        }
        for &v in &values {
            assert_eq!(text(|s| put_i64(s, v)), v.to_string());
            assert_eq!(text(|s| put_u64(s, v as u64)), (v as u64).to_string());
            let w = v as i32;
            assert_eq!(text(|s| put_i32(s, w)), w.to_string());
            assert_eq!(text(|s| put_u32(s, w as u32)), (w as u32).to_string());
        }
        for w in [i32::MIN, i32::MAX, i32::MIN + 1] {
            assert_eq!(text(|s| put_i32(s, w)), w.to_string());
        }
        assert_eq!(text(|s| put_u32(s, u32::MAX)), u32::MAX.to_string());
        assert_eq!(text(|s| put_u64(s, u64::MAX)), u64::MAX.to_string());
        // Several in a row: the blocks' uncounted bytes are overwritten by what follows.
        assert_eq!(
            text(|s| {
                put_i32(s, 7);
                s.push(b',');
                put_i64(s, -1_234_567_890_123);
                s.push(b',');
                put_u32(s, 0);
            }),
            "7,-1234567890123,0"
        );
    }
}
