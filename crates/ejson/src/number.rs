//! Doubles in the Go driver's spelling, and Decimal128 per the Decimal128 spec.

/// Lays out a finite double as Go's `strconv.FormatFloat(f, 'G', -1, 64)`, with `.0` appended
/// when that has neither `.` nor `E` (what the Go driver's Extended JSON writer prints).
///
/// The shortest round-trip digits come from `ryu`; only their layout is done here. With `x`
/// the decimal exponent of the first significant digit: exponent form `d[.ddd]E±XX` (sign,
/// at least two digits) iff `x < -4 || x >= 6`, plain decimal otherwise.
pub(crate) fn write_double(out: &mut Vec<u8>, f: f64) {
    let mut rb = ryu::Buffer::new();
    let mut buf = [0u8; 40];
    let n = layout_go_g(rb.format_finite(f).as_bytes(), &mut buf);
    out.extend_from_slice(&buf[..n]);
}

/// Re-lays ryu's output (`-?digits[.digits][e-?digits]`) into `buf`; returns the length.
fn layout_go_g(ryu: &[u8], buf: &mut [u8; 40]) -> usize {
    let (neg, s) = match ryu.first() {
        Some(b'-') => (true, &ryu[1..]),
        _ => (false, ryu),
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
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        buf[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    if neg {
        put(b"-");
    }
    if lead == nd {
        put(b"0.0");
        return len;
    }
    let mut end = nd;
    while digits[end - 1] == b'0' {
        end -= 1;
    }
    let sig = &digits[lead..end];
    let x = point - 1 - lead as i32 + exp;
    if !(-4..6).contains(&x) {
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
    } else if x >= 0 {
        let int_len = x as usize + 1;
        if sig.len() <= int_len {
            put(sig);
            for _ in sig.len()..int_len {
                put(b"0");
            }
            put(b".0");
        } else {
            put(&sig[..int_len]);
            put(b".");
            put(&sig[int_len..]);
        }
    } else {
        put(b"0.");
        for _ in 0..(-x - 1) {
            put(b"0");
        }
        put(sig);
    }
    len
}

fn parse_exp(s: &[u8]) -> i32 {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
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

    fn go(f: f64) -> String {
        let mut out = Vec::new();
        write_double(&mut out, f);
        String::from_utf8(out).unwrap()
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
