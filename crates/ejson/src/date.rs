//! Relaxed-mode dates: ISO-8601 UTC for years 1970 to 9999; the one civil-date rule of the
//! workspace (the binary's `.complete` date uses [`iso_utc_millis`] too).

use crate::sink::Sink;

/// First millisecond that is not in year 9999 (10000-01-01T00:00:00Z).
pub(crate) const RELAXED_END_MS: i64 = 253_402_300_800_000;

const MS_PER_DAY: i64 = 86_400_000;

/// (year, month 1-12, day 1-31) of `days` days after 1970-01-01 (`days >= 0`).
///
/// Counts in 400-year cycles of the proleptic Gregorian calendar (146 097 days each), with the
/// year taken to start on 1 March so that the leap day is the last day of the year.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    debug_assert!(days >= 0);
    // Days since 0000-03-01: 1970-01-01 is day 719 468 of that count.
    let z = days + 719_468;
    let cycle = z / 146_097;
    let day_of_cycle = z % 146_097; // 0..=146_096
                                    // Years into the cycle: remove the leap days (one per 4 years, none per 100, one per 400)
                                    // before dividing by 365.
    let year_of_cycle = (day_of_cycle - day_of_cycle / 1_460 + day_of_cycle / 36_524
        - day_of_cycle / 146_096)
        / 365; // 0..=399
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100); // 0..=365
                                                                                        // Months from March, 153 days per 5 months (31 30 31 30 31).
    let month_from_march = (5 * day_of_year + 2) / 153; // 0..=11
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = cycle * 400 + year_of_cycle + i64::from(month <= 2);
    (year, month, day)
}

/// "00" to "99".
static PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// Writes `ms` (milliseconds since the epoch, in `0..RELAXED_END_MS`) as
/// `YYYY-MM-DDTHH:MM:SS[.mmm]Z`: the milliseconds as exactly three digits when non-zero,
/// omitted when zero (the Extended JSON spec and pymongo; Go would trim trailing zeros).
///
/// # Safety
/// Room for 24 bytes (see [`Sink::put_unchecked`]).
#[inline(always)]
pub(crate) unsafe fn write_iso_unchecked(sink: &mut Sink, ms: i64) {
    debug_assert!((0..RELAXED_END_MS).contains(&ms));
    let days = ms / MS_PER_DAY;
    let in_day = (ms % MS_PER_DAY) as u32;
    let (year, month, day) = civil_from_days(days);
    let secs = in_day / 1000;
    let millis = (in_day % 1000) as usize;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let y = year as usize;
    let p = |v: usize| PAIRS[v];
    let (y1, y2, mo, d, hh, mm, ss) = (
        p(y / 100),
        p(y % 100),
        p(month as usize),
        p(day as usize),
        p(h as usize),
        p(m as usize),
        p(s as usize),
    );
    let ms2 = p(millis % 100);
    let mut b = [
        y1[0],
        y1[1],
        y2[0],
        y2[1],
        b'-',
        mo[0],
        mo[1],
        b'-',
        d[0],
        d[1],
        b'T',
        hh[0],
        hh[1],
        b':',
        mm[0],
        mm[1],
        b':',
        ss[0],
        ss[1],
        b'.',
        b'0' + (millis / 100) as u8,
        ms2[0],
        ms2[1],
        b'Z',
    ];
    if millis == 0 {
        b[19] = b'Z';
    }
    // SAFETY: 24 bytes, within the caller's room.
    unsafe { sink.put_unchecked(&b, if millis == 0 { 20 } else { 24 }) };
}

/// `ms` milliseconds since the epoch (`ms >= 0`) as `YYYY-MM-DDTHH:MM:SS.mmmZ`, always with
/// three digits of milliseconds: the form of `.complete`'s `snapshotInitiationDate`.
pub fn iso_utc_millis(ms: i64) -> String {
    let ms = ms.max(0);
    let (year, month, day) = civil_from_days(ms / MS_PER_DAY);
    let rem = ms % MS_PER_DAY;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_marker_dates_keep_their_milliseconds() {
        assert_eq!(iso_utc_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso_utc_millis(1_585_893_029_321),
            "2020-04-03T05:50:29.321Z"
        );
        assert_eq!(iso_utc_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    fn iso(ms: i64) -> String {
        let mut out = Vec::new();
        let mut sink = Sink::new(&mut out);
        sink.reserve(24);
        // SAFETY: with the room it documents (debug builds check every write against it).
        unsafe { write_iso_unchecked(&mut sink, ms) };
        sink.finish();
        String::from_utf8(out).unwrap()
    }

    fn is_leap(y: i64) -> bool {
        y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
    }

    #[test]
    fn civil_dates_agree_with_counting_days_one_by_one() {
        // Walk every day from 1970-01-01 to 9999-12-31 with a naive calendar.
        let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
        let month_len = |y: i64, m: u32| match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            _ if is_leap(y) => 29,
            _ => 28,
        };
        let mut days = 0i64;
        while y < 10_000 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            days += 1;
            d += 1;
            if d > month_len(y, m) {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
        assert_eq!(days * MS_PER_DAY, RELAXED_END_MS);
    }

    #[test]
    fn iso_layout() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1), "1970-01-01T00:00:00.001Z");
        assert_eq!(iso(500), "1970-01-01T00:00:00.500Z");
        assert_eq!(iso(1_356_351_330_501), "2012-12-24T12:15:30.501Z");
        assert_eq!(iso(1_356_351_330_001), "2012-12-24T12:15:30.001Z");
        assert_eq!(iso(1_356_351_330_000), "2012-12-24T12:15:30Z");
        // Leap days: 2000 (divisible by 400) has one, 2100 (by 100) does not.
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso(951_868_800_000), "2000-03-01T00:00:00Z");
        assert_eq!(iso(4_107_456_000_000), "2100-02-28T00:00:00Z");
        assert_eq!(iso(4_107_542_400_000), "2100-03-01T00:00:00Z");
        assert_eq!(iso(1_709_164_800_000), "2024-02-29T00:00:00Z");
        assert_eq!(iso(RELAXED_END_MS - 1), "9999-12-31T23:59:59.999Z");
        assert_eq!(iso(RELAXED_END_MS - 1000), "9999-12-31T23:59:59Z");
    }
}
