//! Times as ssh-keygen shows them (`format_absolute_time`: `YYYY-MM-DDTHH:MM:SS`) and the
//! current time.
//!
//! OpenSSH formats and parses in the local zone. oxssh-keygen reads no zone database
//! (that would need libc's `localtime`, which is `unsafe` to call), so local time is UTC
//! here: the same output on the UTC machines where packages are built and CI runs, and a
//! documented difference elsewhere.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `format_absolute_time`: `2024-01-02T03:04:05`.
pub fn format_time(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or(i64::MAX / 2);
    let secs = unix % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Unix seconds of a calendar date and time (proleptic Gregorian, UTC); `None` before
/// the epoch.
pub fn unix_from_civil(year: i64, month: u32, day: u32, hms: (u32, u32, u32)) -> Option<u64> {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + i64::from(hms.0) * 3600 + i64::from(hms.1) * 60 + i64::from(hms.2);
    u64::try_from(secs).ok()
}

/// H. Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_as_ssh_keygen_prints_them() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00");
        assert_eq!(format_time(1_577_836_800), "2020-01-01T00:00:00");
        assert_eq!(format_time(951_782_400 + 3661), "2000-02-29T01:01:01");
    }

    #[test]
    fn civil_dates_round_trip() {
        for unix in [0, 951_782_400, 1_700_000_000, 4_102_444_800] {
            let text = format_time(unix);
            let y = text[0..4].parse().unwrap();
            let m = text[5..7].parse().unwrap();
            let d = text[8..10].parse().unwrap();
            let hms = (
                text[11..13].parse().unwrap(),
                text[14..16].parse().unwrap(),
                text[17..19].parse().unwrap(),
            );
            assert_eq!(unix_from_civil(y, m, d, hms), Some(unix));
        }
    }
}
