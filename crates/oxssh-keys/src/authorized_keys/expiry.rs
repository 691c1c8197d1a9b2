//! The `expiry-time="timespec"` value: `YYYYMMDD[Z]` or `YYYYMMDDHHMM[SS][Z]` (OpenSSH
//! misc.c `parse_absolute_time`).
//!
//! OpenSSH reads the time in the system time zone unless it ends in `Z` (or `UTC`, which
//! OpenSSH also accepts), and converts it once with `mktime`. This crate does no I/O and
//! reads no clock or zone database, so the parsed broken-down time is kept and the caller
//! (the server) supplies the UTC offset when converting to Unix seconds.

use std::fmt;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// A parsed `expiry-time` value, as written (no normalisation).
///
/// Fields hold the written values; `day` may exceed the month's length (`20230231`), as
/// OpenSSH's `strptime` accepts any day from 1 to 31 and `mktime` carries the excess into
/// the next month. [`ExpiryTime::to_unix`] does the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExpiryTime {
    /// Year, 1970 or later.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of the month, 1 to 31.
    pub day: u8,
    /// Hour, 0 to 23 (0 when only a date was written).
    pub hour: u8,
    /// Minute, 0 to 59.
    pub minute: u8,
    /// Second, 0 to 61 (glibc's `strptime` range; leap seconds carry over).
    pub second: u8,
    /// Whether the value ended in `Z` (or `UTC`): it is UTC, not local time.
    pub utc: bool,
}

impl ExpiryTime {
    /// Parses `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, optionally followed by `Z`
    /// or `UTC` (either case). Returns `None` for anything else, including years before
    /// 1970 (OpenSSH refuses times before the epoch) and the epoch itself in UTC
    /// (OpenSSH treats a zero expiry as invalid).
    pub fn parse(text: &str) -> Option<Self> {
        let (digits, utc) = strip_utc_suffix(text);
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let field =
            |from: usize, len: usize| -> Option<u16> { digits.get(from..from + len)?.parse().ok() };
        let (hour, minute, second) = match digits.len() {
            8 => (0, 0, 0),
            12 => (field(8, 2)?, field(10, 2)?, 0),
            14 => (field(8, 2)?, field(10, 2)?, field(12, 2)?),
            _ => return None,
        };
        let year = field(0, 4)?;
        let month = field(4, 2)?;
        let day = field(6, 2)?;
        let time = Self {
            year,
            month: u8::try_from(month).ok().filter(|m| (1..=12).contains(m))?,
            day: u8::try_from(day).ok().filter(|d| (1..=31).contains(d))?,
            hour: u8::try_from(hour).ok().filter(|h| *h <= 23)?,
            minute: u8::try_from(minute).ok().filter(|m| *m <= 59)?,
            second: u8::try_from(second).ok().filter(|s| *s <= 61)?,
            utc,
        };
        if year < 1970 || (utc && time.to_unix(0) <= 0) {
            return None;
        }
        Some(time)
    }

    /// Unix seconds for this time. `utc_offset` is the local zone's offset east of UTC in
    /// seconds (UTC+2 is 7200) at that time, as the server's zone rules give it; it is
    /// ignored when the value was written with `Z`.
    pub fn to_unix(&self, utc_offset: i32) -> i64 {
        let days =
            days_from_civil(i64::from(self.year), i64::from(self.month)) + i64::from(self.day) - 1;
        let local = days * DAY
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        if self.utc {
            local
        } else {
            local - i64::from(utc_offset)
        }
    }
}

impl fmt::Display for ExpiryTime {
    /// ISO 8601 (`2030-01-02T03:04:05`, with `Z` for UTC), for log messages such as
    /// OpenSSH's "entry expired at ...".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            if self.utc { "Z" } else { "" }
        )
    }
}

/// Splits off a trailing `Z` or `UTC` (any case) as `parse_absolute_time` does, which
/// only looks for them in values longer than the suffix (`l > 1`, `l > 3`).
fn strip_utc_suffix(text: &str) -> (&str, bool) {
    let len = text.len();
    if len > 1 {
        if let Some(rest) = text.strip_suffix(['Z', 'z']) {
            return (rest, true);
        }
    }
    if len > 3 {
        if let Some((rest, suffix)) = text.split_at_checked(len - 3) {
            if suffix.eq_ignore_ascii_case("UTC") {
                return (rest, true);
            }
        }
    }
    (text, false)
}

/// Days from 1970-01-01 to the first day of `month` in `year` (proleptic Gregorian;
/// H. Hinnant's `days_from_civil`). Total for any input: out-of-range months still give
/// a number, never a panic.
fn days_from_civil(year: i64, month: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ExpiryTime {
        ExpiryTime::parse(text).unwrap_or_else(|| panic!("{text} should parse"))
    }

    #[test]
    fn date_only_is_midnight_local() {
        let t = parse("20300102");
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2030, 1, 2, 0, 0, 0)
        );
        assert!(!t.utc);
        // 2030-01-02T00:00:00Z is 1893542400.
        assert_eq!(t.to_unix(0), 1_893_542_400);
        // Local midnight in UTC+2 is two hours earlier in UTC.
        assert_eq!(t.to_unix(7200), 1_893_542_400 - 7200);
        assert_eq!(t.to_unix(-3600), 1_893_542_400 + 3600);
    }

    #[test]
    fn trailing_z_means_utc_and_ignores_the_offset() {
        let t = parse("203001020304Z");
        assert!(t.utc);
        assert_eq!((t.hour, t.minute, t.second), (3, 4, 0));
        assert_eq!(t.to_unix(7200), 1_893_542_400 + 3 * 3600 + 4 * 60);
        assert_eq!(
            parse("20300102030405z").to_unix(-500),
            1_893_542_400 + 11_045
        );
        assert!(parse("20300102utc").utc);
        assert!(parse("20300102UTC").utc);
    }

    #[test]
    fn known_epochs() {
        assert_eq!(parse("19700102Z").to_unix(0), DAY);
        assert_eq!(parse("20000229Z").to_unix(0), 951_782_400);
        assert_eq!(parse("20380119031408Z").to_unix(0), 2_147_483_648);
    }

    #[test]
    fn day_overflow_carries_into_next_month_like_mktime() {
        assert_eq!(parse("20230231Z").to_unix(0), parse("20230303Z").to_unix(0));
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in [
            "",
            "Z",
            "2030",
            "2030010",
            "203001021",
            "20300102030",
            "2030010203040",
            "x0300102",
            "20301302",
            "20300100",
            "20300132",
            "203001022400",
            "203001020360",
            "20300102030462",
            "19691231",
            "19700101Z",
            "20300102 ",
            "+0300102",
            "20300102ZZ",
            "2030-01-02",
            "٢٠٣٠٠١٠٢",
        ] {
            assert_eq!(ExpiryTime::parse(bad), None, "{bad:?} should be rejected");
        }
    }

    #[test]
    fn displays_as_iso_8601() {
        assert_eq!(parse("20300102030405Z").to_string(), "2030-01-02T03:04:05Z");
        assert_eq!(parse("20300102").to_string(), "2030-01-02T00:00:00");
    }
}
