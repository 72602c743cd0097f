//! Doubles in the Go driver's spelling, and Decimal128 per the Decimal128 spec.

use crate::int::{digit_values8, put_head_unchecked, ZEROS};
use crate::sink::Sink;

/// Writes a finite double as Go's `strconv.FormatFloat(f, 'G', -1, 64)`, with `.0` appended
/// when that has neither `.` nor `E` (what the Go driver's Extended JSON writer prints); the
/// layout is described at [`format_double`].
///
/// Three paths, by the magnitude of `f` (see [`format_double`] for why it decides the layout):
/// in Go's plain range, values with at most nine decimals (prices, amounts, measurements) are
/// written by [`short_decimal`] without any shortest-digit search, the others are `zmij`'s text
/// as it is; zeros are constants; exponent forms go through [`format_double`].
///
/// # Safety
/// Room for 24 bytes (see [`Sink::put_unchecked`]): the longest text (`zmij`'s, at most 24
/// bytes, or [`write_short_decimal`]'s blocks, ending at most 17 bytes in).
#[inline(always)]
pub(crate) unsafe fn write_double_unchecked(sink: &mut Sink, f: f64) {
    let a = f.abs();
    // SAFETY: every branch stays within the 24 bytes, as counted above.
    unsafe {
        if (0.0001..1e6).contains(&a) {
            if let Some(m) = short_decimal(a) {
                write_short_decimal(sink, f < 0.0, m);
            } else {
                let mut zb = zmij::Buffer::new();
                sink.put_small_unchecked(zb.format_finite(f).as_bytes());
            }
        } else if a == 0.0 {
            if f.is_sign_negative() {
                sink.put_unchecked(b"-0.0", 4);
            } else {
                sink.put_unchecked(b"0.0", 3);
            }
        } else {
            // Rare: a checked write (its room is separate).
            sink.with_vec(|out| {
                let mut buf = [0u8; 32];
                let n = format_double(f, &mut buf);
                out.extend_from_slice(&buf[..n]);
            });
        }
    }
}

/// For `a` in `[0.0001, 1e6)`: `Some(m)` if `a`'s shortest round-trip decimal is `m / 10^9`
/// (at most nine decimals), else `None` (always `None` below 2^-10: see the end).
///
/// The candidate. Let `D = m / 10^9` for an integer `m`, and `X = a * 10^9` (exact). If some
/// `D` rounds to `a` (is in `I`, below), then `|D - a| <= ulp(a) / 2 <= 2^-34` (`a < 2^20`), so
/// `|m - X| < 0.06`; `p = fl(a * 1e9)` and `fl(p + 0.5)` each round by at most 1/16 (values
/// below 2^50), so `m = trunc(p + 0.5)` is that `m`. In any case `|m - X| <= 0.625`.
///
/// The exact test. `a = M * 2^-k` with the integer significand `2^52 <= M < 2^53`; its
/// neighbours are `a ± 2^-k`, except below `M = 2^52`, where the next double down is
/// `a - 2^-(k+1)`. A real number rounds to `a` (to nearest, ties to even: what a correctly
/// rounded parse does) iff it lies within half the gap to each neighbour, a tie counting
/// only for an even `M`; let `I` be that set. With `r = m * 2^k - M * 10^9`,
/// `D - a = r / (10^9 * 2^k)`, and half a gap of `2^-k` is `5 * 10^8 / (10^9 * 2^k)`: `D` is
/// in `I` iff `-5 * 10^8 < r < 5 * 10^8` (`-2.5 * 10^8` when `M = 2^52`). No tie can occur:
/// `r = ±5 * 10^8 = ±2^8 * 5^9 * (odd)` or `-2^7 * 5^9` would make `m * 2^k` divisible by at
/// most `2^8`, and `k >= 33`. `r` is computed modulo `2^64`, which is exact when
/// `|r| < 2^63`: `|r| <= 0.625 * 2^k` holds that for `k <= 62`, i.e. `a >= 2^-10` — below,
/// this returns `None` (such values take the general path).
///
/// Why then `D` is what is printed. `I` is at most one ulp (`2^-k <= 2^-33 < 10^-9`) wide, so
/// `D` is the only point of `I` on the grid `10^-9` or on any coarser grid `10^e` (`e >= -9`).
/// Go, ryu and zmij print a decimal `S` of `I` with the fewest significant digits. Write `n(P)`
/// for the significant digits of a decimal `P` and `x(P)` for the exponent of its first one;
/// `P` lies on the grid `10^(x(P) - n(P) + 1)`. `D` is a candidate, so `n(S) <= n(D)`. If
/// `x(S) >= x(D)`, `S` lies on a grid at least as coarse as `D`'s, so `S = D`. If
/// `x(S) < x(D)`, then `S < 10^x(D) <= D` puts `10^x(D)` in `I`, on a grid coarser than
/// `10^-9` (`D >= 1e-4`): it is `D`, so `n(S) = n(D) = 1` and `S`, one digit times
/// `10^(x(D) - 1)`, is on a grid coarser than `10^-9` too: `S = D`, a contradiction. So the
/// printed number is `D`: `m`'s digits without trailing zeros, with `x(D)` in `-4..=5` (see
/// [`format_double`]), which [`write_short_decimal`] lays out.
///
/// Not inlined: in the writer's loop, the extra live values cost the other doubles more
/// (measured: coordinate-like doubles 16% slower inlined, 9% outlined, against no fast path).
#[inline(never)]
fn short_decimal(a: f64) -> Option<u64> {
    debug_assert!((0.0001..1e6).contains(&a));
    let bits = a.to_bits();
    let k = 1075 - (bits >> 52) as u32;
    if k > 62 {
        return None;
    }
    let sig = bits & ((1 << 52) - 1) | 1 << 52;
    // SAFETY: `a * 1e9 + 0.5` is finite and in [10^5, 10^15 + 1], inside i64's range.
    let m = unsafe { (a * 1e9 + 0.5).to_int_unchecked::<i64>() } as u64;
    let r = (m << k).wrapping_sub(sig.wrapping_mul(1_000_000_000)) as i64;
    let below = if sig == 1 << 52 {
        250_000_000
    } else {
        500_000_000
    };
    if -below < r && r < 500_000_000 {
        // `D` rounds to `a` in [1e-4, 1e6), so (see `format_double`) 1e-4 <= D < 1e6.
        debug_assert!((100_000..1_000_000_000_000_000).contains(&m), "{a:e} {m}");
        Some(m)
    } else {
        None
    }
}

/// Writes `m / 10^9` (`10^5 <= m < 10^15`, sign in front if `neg`) in Go's plain layout:
/// integer digits, `.`, the decimals without trailing zeros, or `.0` if there are none.
///
/// # Safety
/// Room for 17 bytes: sign (1), integer part (an 8-byte block keeping at most 6 digits),
/// `.`, an 8-byte block of decimals and a ninth decimal.
#[inline(always)]
unsafe fn write_short_decimal(sink: &mut Sink, neg: bool, m: u64) {
    let int = (m / 1_000_000_000) as u32;
    let frac = (m % 1_000_000_000) as u32;
    // SAFETY: within the 17 bytes, as counted above.
    unsafe {
        sink.put_unchecked(b"-", neg as usize);
        put_head_unchecked(sink, int);
        if frac == 0 {
            sink.put_unchecked(b".0", 2);
            return;
        }
        sink.put_unchecked(b".", 1);
        // Decimals 1-8 (most significant in the lowest byte) and decimal 9.
        let d = digit_values8(frac / 10);
        let last = frac % 10;
        if last != 0 {
            sink.put_unchecked(&(d + ZEROS).to_le_bytes(), 8);
            sink.put_unchecked(&[b'0' + last as u8], 1);
        } else {
            // Trailing zero decimals are the high zero bytes of `d` (not all: `frac / 10 > 0`).
            let keep = 8 - (d.leading_zeros() / 8) as usize;
            sink.put_unchecked(&(d + ZEROS).to_le_bytes(), keep);
        }
    }
}

/// Writes `f` (finite) into `buf` as [`write_double_unchecked`] describes; returns the length
/// (at most 24).
///
/// The shortest round-trip digits come from `zmij` (Schubfach: shortest, and the closest to
/// `f` among the shortest, like Go's and ryu's); only their layout is done here. With `x` the
/// decimal exponent of the first significant digit of those digits, Go writes exponent form
/// `d[.ddd]E±XX` (sign, at least two digits) iff `x < -4 || x >= 6`, plain decimal otherwise.
///
/// `x` follows from `f` alone: with `D` the shortest digits (a decimal that rounds to `f`),
/// `1e-4 <= |D| < 1e6` exactly when `0.0001 <= |f| < 1e6` (the literals read as doubles).
/// 10^6 is a double, so `D` = 10^6 only for `f` = 10^6 and otherwise lies on `f`'s side of it
/// (every real rounding to `f` < 10^6 is below 10^6). 10^-4 is not a double (nor a midpoint of
/// two): it rounds to `0.0001`, whose shortest digits are `1e-4` itself, and the interval of
/// every other double lies wholly on one side of it. In that range (and for zeros) `zmij`
/// prints plain decimal (it does for `-5 <= x <= 15`) in exactly Go's layout — `0.001234`,
/// `12.34`, `123400.0`, `-0.0` — so its text is kept as it is.
#[inline]
pub(crate) fn format_double(f: f64, buf: &mut [u8; 32]) -> usize {
    let mut zb = zmij::Buffer::new();
    let s = zb.format_finite(f).as_bytes();
    let a = f.abs();
    if (0.0001..1e6).contains(&a) || a == 0.0 {
        copy_small(buf, s);
        s.len()
    } else {
        exponent_form(s, buf)
    }
}

/// Copies `s` (3 to 32 bytes) to the start of `dst` with a few fixed-size moves.
#[inline(always)]
fn copy_small(dst: &mut [u8; 32], s: &[u8]) {
    let n = s.len();
    debug_assert!((3..=32).contains(&n));
    if n >= 16 {
        dst[..16].copy_from_slice(&s[..16]);
        dst[n - 16..n].copy_from_slice(&s[n - 16..]);
    } else if n >= 8 {
        dst[..8].copy_from_slice(&s[..8]);
        dst[n - 8..n].copy_from_slice(&s[n - 8..]);
    } else if n >= 4 {
        dst[..4].copy_from_slice(&s[..4]);
        dst[n - 4..n].copy_from_slice(&s[n - 4..]);
    } else {
        dst[..2].copy_from_slice(&s[..2]);
        dst[n - 2..n].copy_from_slice(&s[n - 2..]);
    }
}

/// Re-lays `zmij`'s text of a non-zero double with `x < -4 || x >= 6`
/// (`-?digits[.digits][e±digits]`) as `-?d[.ddd]E±XX` into `buf`; returns the length.
#[cold]
fn exponent_form(s: &[u8], buf: &mut [u8; 32]) -> usize {
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp) = match s.iter().position(|&c| c == b'e') {
        Some(e) => (&s[..e], parse_exp(&s[e + 1..])),
        None => (s, 0),
    };
    // Digits without the point, and how many stood before it.
    let mut digits = [0u8; 32];
    let mut nd = 0;
    let mut before_point = None;
    for &c in mantissa {
        if c == b'.' {
            before_point = Some(nd);
        } else {
            digits[nd] = c;
            nd += 1;
        }
    }
    let point = before_point.unwrap_or(nd) as i32;
    let lead = digits[..nd].iter().take_while(|&&c| c == b'0').count();
    assert!(lead < nd, "zero is laid out in plain form");
    let mut end = nd;
    while digits[end - 1] == b'0' {
        end -= 1;
    }
    let sig = &digits[lead..end];
    let x = point - 1 - lead as i32 + exp;
    debug_assert!(!(-4..6).contains(&x), "{x}");
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        buf[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    if neg {
        put(b"-");
    }
    put(&sig[..1]);
    if sig.len() > 1 {
        put(b".");
        put(&sig[1..]);
    }
    put(if x < 0 { b"E-" } else { b"E+" });
    let a = x.unsigned_abs();
    if a < 10 {
        put(&[b'0', b'0' + a as u8]);
    } else {
        let mut ib = itoa::Buffer::new();
        put(ib.format(a).as_bytes());
    }
    len
}

/// `[+-]?digits` as an i32.
fn parse_exp(s: &[u8]) -> i32 {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = digits
        .iter()
        .fold(0i32, |acc, &c| acc * 10 + (c - b'0') as i32);
    if neg {
        -v
    } else {
        v
    }
}

/// 10^34 - 1, the largest coefficient of a canonical Decimal128.
const MAX_COEFFICIENT: u128 = 9_999_999_999_999_999_999_999_999_999_999_999;

/// Writes the 16 little-endian bytes of a Decimal128 as the Decimal128 spec's string
/// (IEEE 754-2008 BID encoding; "to-scientific-string" of the General Decimal Arithmetic).
///
/// Every NaN prints `NaN` (sign and payload are lost, as the corpus expects); a coefficient
/// above 10^34 - 1 (non-canonical, including the `11` combination-field form) is 0, printed
/// with its exponent.
pub(crate) fn write_decimal128(out: &mut Vec<u8>, bytes: &[u8; 16]) {
    let low = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    let high = u64::from_le_bytes(bytes[8..].try_into().unwrap());
    let neg = high >> 63 == 1;
    let combination = (high >> 58) & 0x1f;
    if combination == 0x1f {
        out.extend_from_slice(b"NaN");
        return;
    }
    if combination == 0x1e {
        out.extend_from_slice(if neg { b"-Infinity" } else { b"Infinity" });
        return;
    }
    let (biased, coefficient) = if (high >> 61) & 3 == 3 {
        // Implied leading bits 100: the coefficient is at least 2^113 > 10^34 - 1.
        ((high >> 47) & 0x3fff, 0)
    } else {
        let c = (((high & ((1 << 49) - 1)) as u128) << 64) | low as u128;
        (
            (high >> 49) & 0x3fff,
            if c > MAX_COEFFICIENT { 0 } else { c },
        )
    };
    let exponent = biased as i32 - 6176;
    let mut ib = itoa::Buffer::new();
    let digits = ib.format(coefficient).as_bytes();
    let nd = digits.len() as i32;
    let adjusted = exponent + nd - 1;
    if neg {
        out.push(b'-');
    }
    if exponent <= 0 && adjusted >= -6 {
        if exponent == 0 {
            out.extend_from_slice(digits);
        } else {
            let frac = (-exponent) as usize;
            if digits.len() > frac {
                let int_len = digits.len() - frac;
                out.extend_from_slice(&digits[..int_len]);
                out.push(b'.');
                out.extend_from_slice(&digits[int_len..]);
            } else {
                out.extend_from_slice(b"0.");
                out.resize(out.len() + (frac - digits.len()), b'0');
                out.extend_from_slice(digits);
            }
        }
    } else {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.extend_from_slice(if adjusted < 0 { b"E-" } else { b"E+" });
        out.extend_from_slice(ib.format(adjusted.unsigned_abs()).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the writer prints for `f`, checked to be what [`format_double`] prints.
    fn go(f: f64) -> String {
        let mut out = b"x".to_vec();
        let mut sink = Sink::new(&mut out);
        sink.reserve(24);
        // SAFETY: with the room it documents (debug builds check every write against it).
        unsafe { write_double_unchecked(&mut sink, f) };
        sink.finish();
        let mut buf = [0u8; 32];
        let n = format_double(f, &mut buf);
        assert_eq!(out[1..], buf[..n], "{f:e}: write_double vs format_double");
        String::from_utf8(out[1..].to_vec()).unwrap()
    }

    #[test]
    fn double_layout_matches_the_go_examples() {
        // The examples of atlas-export.md §6.3, checked against Go there.
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (4.01, "4.01"),
            (2.5, "2.5"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (100000.0, "100000.0"),
            (123456.0, "123456.0"),
            (1e6, "1E+06"),
            (1234567.0, "1.234567E+06"),
            (12345678.9, "1.23456789E+07"),
            (1.2345678921232e18, "1.2345678921232E+18"),
            (1e21, "1E+21"),
            (1e100, "1E+100"),
            (0.0001, "0.0001"),
            (1e-5, "1E-05"),
            (1e-7, "1E-07"),
            (5e-324, "5E-324"),
            (f64::MAX, "1.7976931348623157E+308"),
        ];
        for &(f, want) in cases {
            assert_eq!(go(f), want, "{f:e}");
            if f != 0.0 {
                assert_eq!(go(-f), format!("-{want}"), "-{f:e}");
            }
        }
    }

    #[test]
    fn double_layout_edges() {
        assert_eq!(go(999999.0), "999999.0");
        assert_eq!(go(999999.5), "999999.5");
        assert_eq!(go(0.00012345), "0.00012345");
        assert_eq!(go(0.000012345), "1.2345E-05");
        assert_eq!(go(1.0001220703125), "1.0001220703125");
        assert_eq!(go(f64::MIN_POSITIVE), "2.2250738585072014E-308");
        // The largest subnormal.
        assert_eq!(
            go(f64::from_bits(0x000f_ffff_ffff_ffff)),
            "2.225073858507201E-308"
        );
        assert_eq!(go(1e16), "1E+16");
        assert_eq!(go(123.456), "123.456");
        assert_eq!(go(1e-4 * 9.5), "0.00095");
        assert_eq!(go(9.999999999999999e-5), "9.999999999999999E-05");
        assert_eq!(go(0.3), "0.3");
        assert_eq!(go(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(go(17.76), "17.76");
    }

    #[test]
    fn double_layout_round_trips_and_has_fraction_or_exponent() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if !f.is_finite() {
                continue;
            }
            let s = go(f);
            let back: f64 = s.parse().unwrap();
            assert_eq!(back.to_bits(), f.to_bits(), "{s}");
            assert!(s.contains('.') || s.contains('E'), "{s}");
            // Same digits as ryu (no digit was invented or dropped).
            let ours: String = s
                .split('E')
                .next()
                .unwrap()
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            let mut rb = ryu::Buffer::new();
            let theirs: String = rb
                .format_finite(f)
                .split('e')
                .next()
                .unwrap()
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            assert_eq!(
                ours.trim_matches('0'),
                theirs.trim_matches('0'),
                "{s} vs {theirs}"
            );
        }
    }

    /// The layout as first written (and checked against Go): ryu's shortest digits re-laid
    /// digit by digit. An independent oracle for [`format_double`].
    fn reference(f: f64) -> String {
        let mut rb = ryu::Buffer::new();
        let s = rb.format_finite(f);
        let (neg, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (mantissa, exp) = match s.split_once('e') {
            Some((m, e)) => (m, e.parse::<i32>().unwrap()),
            None => (s, 0),
        };
        let point = mantissa.find('.').unwrap_or(mantissa.len()) as i32;
        let digits: String = mantissa.chars().filter(|&c| c != '.').collect();
        let lead = digits.chars().take_while(|&c| c == '0').count();
        let mut out = String::from(if neg { "-" } else { "" });
        if lead == digits.len() {
            return out + "0.0";
        }
        let sig = digits[lead..].trim_end_matches('0');
        let x = point - 1 - lead as i32 + exp;
        if !(-4..6).contains(&x) {
            out += &sig[..1];
            if sig.len() > 1 {
                out += ".";
                out += &sig[1..];
            }
            out += &format!("E{}{:02}", if x < 0 { '-' } else { '+' }, x.unsigned_abs());
        } else if x >= 0 {
            let int_len = x as usize + 1;
            if sig.len() <= int_len {
                out += sig;
                out += &"0".repeat(int_len - sig.len());
                out += ".0";
            } else {
                out += &sig[..int_len];
                out += ".";
                out += &sig[int_len..];
            }
        } else {
            out += "0.";
            out += &"0".repeat((-x - 1) as usize);
            out += sig;
        }
        out
    }

    fn check_against_reference(f: f64) {
        assert_eq!(go(f), reference(f), "{f:e} ({:#018x})", f.to_bits());
    }

    #[test]
    fn doubles_agree_with_the_ryu_reference_on_random_bit_patterns() {
        random_bit_patterns(1_000_000);
    }

    /// Many more: `EJSON_DOUBLES=100000000 cargo test --release -p bsonflow-ejson -- --ignored`.
    #[test]
    #[ignore]
    fn doubles_agree_with_the_ryu_reference_on_many_random_bit_patterns() {
        let n = std::env::var("EJSON_DOUBLES").map_or(50_000_000, |v| v.parse().unwrap());
        random_bit_patterns(n);
    }

    fn random_bit_patterns(n: usize) {
        let mut x = 0x2545_F491_4F6C_DD1Du64 ^ n as u64;
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if f.is_finite() {
                check_against_reference(f);
            }
        }
    }

    /// Each value, its two neighbours, and the negatives of all three (`f >= 0`).
    fn with_neighbours(f: f64, check: &mut impl FnMut(f64)) {
        let bits = f.to_bits();
        let below = if bits == 0 { 0 } else { bits - 1 };
        for g in [f, f64::from_bits(below), f64::from_bits(bits + 1)] {
            if g.is_finite() {
                check(g);
                check(-g);
            }
        }
    }

    #[test]
    fn doubles_agree_with_the_ryu_reference_on_decimal_shaped_values() {
        let mut check = check_against_reference;
        // Powers of ten and the layout boundaries, with their neighbours.
        for e in -324..=308 {
            with_neighbours(format!("1e{e}").parse().unwrap(), &mut check);
            with_neighbours(
                format!("9.999999999999999e{e}").parse().unwrap(),
                &mut check,
            );
            with_neighbours(format!("5e{e}").parse().unwrap(), &mut check);
        }
        for f in [
            0.0,
            f64::MIN_POSITIVE,
            f64::MAX,
            5e-324,
            0.1 + 0.2,
            1e15 / 3.0,
            1e6 / 3.0,
            1e-4 / 3.0,
            2e-5,
            9007199254740992.0,
            9007199254740993.0,
            4503599627370496.5,
            123456.789,
            999999.9999999999,
            0.00009999999999999999,
        ] {
            with_neighbours(f, &mut check);
        }
        // k / 10^d and k * 10^d: prices, amounts, coordinates, counters.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..300_000 {
            let r = next();
            let k = (next() >> (r % 64)) as f64;
            let d = (r >> 8) % 24;
            let f = if r >> 40 & 1 == 0 {
                k / 10f64.powi(d as i32)
            } else {
                k * 10f64.powi(d as i32 - 12)
            };
            with_neighbours(f, &mut check);
            // Uniform in ranges (16-17 digit coordinates).
            let u = (next() >> 11) as f64 / (1u64 << 53) as f64;
            check(u * 360.0 - 180.0);
            check(u * 1e-3);
        }
    }

    #[test]
    fn short_decimal_fast_path_agrees_with_zmij_and_ryu() {
        // go() checks write_double_unchecked (fast path when it applies) against format_double
        // (zmij only); check_against_reference checks that against ryu.
        let mut hits = 0;
        let mut check = |f: f64| {
            let a = f.abs();
            if (0.0001..1e6).contains(&a) && short_decimal(a).is_some() {
                hits += 1;
            }
            check_against_reference(f);
        };
        // Every number of decimals 0-12 across the plain range, with neighbours: k / 10^d.
        let mut x = 0xD1B5_4A32_D192_ED03u64;
        for _ in 0..400_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = (x % 13) as i32;
            let digits = 1 + (x >> 8) % 16;
            let k = (x >> 16) % 10u64.pow(digits as u32);
            with_neighbours(k as f64 / 10f64.powi(d), &mut check);
        }
        // The edges of the range and of the nine decimals, and classic sums.
        for f in [
            0.0001,
            0.00010000000000000002,
            0.000123456789,
            0.0001234567891,
            999999.999999999,
            999999.9999999999,
            999999.0,
            100000.0,
            1.0,
            0.1 + 0.2,
            0.1 + 0.7,
            1.1 * 1.1,
            1e15 / 3.0 / 1e10,
            1.0 / 3.0,
            2.0 / 3.0,
            123.456,
            8921.8,
            117.1,
            0.5,
            0.25,
            0.125,
            0.0625,
            0.001953125,
        ] {
            with_neighbours(f, &mut check);
        }
        assert!(hits > 300_000, "{hits}");
        assert_eq!(go(-0.0), "-0.0");
        assert_eq!(go(0.0), "0.0");
        assert_eq!(go(-117.1), "-117.1");
        assert_eq!(go(100000.0), "100000.0");
        assert_eq!(go(0.000123456789), "0.000123456789");
        assert_eq!(go(999999.999999999), "999999.999999999");
        assert_eq!(go(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn short_decimal_agrees_with_the_division_test() {
        // The IEEE division decides the same thing: m / 10^9 (both exact doubles, quotient
        // correctly rounded) == a iff m / 10^9 rounds to a.
        let by_division = |a: f64| {
            let m = (a * 1e9).round();
            (m / 1e9 == a).then_some(m as u64)
        };
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut hits = 0;
        for i in 0..2_000_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let a = if i % 2 == 0 {
                // Decimal-shaped: up to 15 digits, up to 12 decimals.
                let digits = 1 + (x >> 4) % 15;
                ((x >> 10) % 10u64.pow(digits as u32)) as f64 / 10f64.powi((x % 13) as i32)
            } else {
                // Any bit pattern in the range, and its neighbours' spacing at the ends.
                f64::from_bits(
                    0x3F1A_36E2_EB1C_432D + x % (0x412E_8480_0000_0000 - 0x3F1A_36E2_EB1C_432D),
                )
            };
            if !(0.0001..1e6).contains(&a) {
                continue;
            }
            let got = short_decimal(a);
            if a >= 1.0 / 1024.0 {
                assert_eq!(got, by_division(a), "{a:e}");
            } else {
                assert_eq!(got, None);
            }
            hits += got.is_some() as u32;
        }
        assert!(hits > 400_000, "{hits}");
    }

    fn dec(high: u64, low: u64) -> String {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&low.to_le_bytes());
        b[8..].copy_from_slice(&high.to_le_bytes());
        let mut out = Vec::new();
        write_decimal128(&mut out, &b);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn decimal128_basics() {
        // exponent bias 6176 at bit 49: 0x3040... is exponent 0.
        assert_eq!(dec(0x3040_0000_0000_0000, 0), "0");
        assert_eq!(dec(0xB040_0000_0000_0000, 0), "-0");
        assert_eq!(dec(0x3040_0000_0000_0000, 1), "1");
        assert_eq!(dec(0x303E_0000_0000_0000, 1), "0.1");
        assert_eq!(dec(0x3034_0000_0000_0000, 1), "0.000001");
        assert_eq!(dec(0x3032_0000_0000_0000, 1), "1E-7");
        assert_eq!(dec(0x3042_0000_0000_0000, 1), "1E+1");
        assert_eq!(dec(0x303E_0000_0000_0000, 12345), "1234.5");
        assert_eq!(dec(0x7C00_0000_0000_0000, 0), "NaN");
        assert_eq!(dec(0xFC00_0000_0000_0000, 0), "NaN");
        assert_eq!(dec(0x7E00_0000_0000_0000, 12), "NaN");
        assert_eq!(dec(0x7800_0000_0000_0000, 0), "Infinity");
        assert_eq!(dec(0xF800_0000_0000_0000, 0), "-Infinity");
        // Coefficient above 10^34 - 1: treated as zero.
        assert_eq!(dec(0x3041_ED09_BEAD_87C0, 0x378D_8E64_0000_0000), "0");
        // The 11 combination form: zero with the exponent from bits 47..60.
        assert_eq!(dec(0x6C11_8000_0000_0000, 0), "0E+3");
    }
}
