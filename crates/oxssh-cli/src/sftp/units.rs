//! Sizes and rates written the way OpenSSH's sftp and scp write them: `ls -h` and
//! `df -h` use OpenBSD's `fmt_scaled` (`512B`, `1.5K`, `30.0M`, `252G`), the progress
//! meter its own fixed-width columns (`1000  `, ` 156MB`, `  2.9MB`).

/// Unit letters of `fmt_scaled`, one per power of 1024.
const SCALED_UNITS: &[u8] = b"BKMGTPE";

/// Unit letters of the progress meter (a space for plain bytes), up to terabytes.
const METER_UNITS: &[u8] = b" KMGT";

/// The meter's unit letter number `unit` (a space for bytes).
fn meter_unit(unit: usize) -> char {
    char::from(METER_UNITS.get(unit).copied().unwrap_or(b'T'))
}

/// `bytes` as OpenBSD's `fmt_scaled`: plain bytes below 1 KiB (`512B`), otherwise the
/// largest binary unit with one decimal below 100 (`1.5K`, `30.0M`) and none from
/// 100 up (`512M`), the tenth rounded half up into the whole part when it reaches ten.
pub fn fmt_scaled(bytes: u64) -> String {
    let mut unit = 0;
    let mut scale = 1u64;
    while unit + 1 < SCALED_UNITS.len() && bytes / 1024 >= scale {
        scale *= 1024;
        unit += 1;
    }
    let mut whole = bytes / scale;
    let rest = if unit == 0 {
        0
    } else {
        (bytes % scale) / (scale / 1024)
    };
    let mut tenth = (10 * rest + 512) / 1024;
    if tenth >= 10 {
        whole += 1;
        tenth = 0;
    }
    let letter = char::from(SCALED_UNITS.get(unit).copied().unwrap_or(b'E'));
    if whole == 0 {
        "0B".to_owned()
    } else if unit == 0 || whole >= 100 {
        if tenth >= 5 {
            whole += 1;
        }
        format!("{whole}{letter}")
    } else {
        format!("{whole}.{tenth}{letter}")
    }
}

/// The meter's amount column, six wide: four digits and a unit (`1000  `, `  20KB`,
/// ` 156MB`), each step dividing by 1024 with rounding while the number has five digits.
pub fn meter_size(bytes: u64) -> String {
    let mut value = bytes;
    let mut unit = 0;
    while value >= 10_000 && unit + 1 < METER_UNITS.len() {
        value = value.saturating_add(512) / 1024;
        unit += 1;
    }
    let letter = meter_unit(unit);
    let suffix = if unit > 0 { "B" } else { " " };
    format!("{value:>4}{letter}{suffix}")
}

/// The meter's rate column, seven wide with one decimal and at least kilobytes
/// (`  0.0KB`, `156.4MB`), to which the meter adds `/s`.
pub fn meter_rate(bytes_per_sec: u64) -> String {
    let mut hundredths = bytes_per_sec.saturating_mul(100);
    let mut unit = 0;
    while hundredths >= 100_000 && unit + 1 < METER_UNITS.len() {
        hundredths = hundredths.saturating_add(512) / 1024;
        unit += 1;
    }
    if unit == 0 {
        unit = 1;
        hundredths = hundredths.saturating_add(512) / 1024;
    }
    let rounded = hundredths.saturating_add(5);
    let letter = meter_unit(unit);
    format!("{:>3}.{}{letter}B", rounded / 100, rounded / 10 % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmt_scaled_writes_what_sftp_ls_h_and_df_h_write() {
        // Figures seen from OpenSSH 9.2's sftp (`ls -lh`, `df -h`) on this machine.
        assert_eq!(fmt_scaled(512), "512B");
        assert_eq!(fmt_scaled(1000), "1000B");
        assert_eq!(fmt_scaled(1536), "1.5K");
        assert_eq!(fmt_scaled(30 << 20), "30.0M");
        assert_eq!(fmt_scaled(512 << 20), "512M");
        assert_eq!(fmt_scaled(264_212_084 * 1024), "252G");
        assert_eq!(fmt_scaled(40_272_448 * 1024), "38.4G");
        assert_eq!(fmt_scaled(0), "0B");
        // The tenth rounds into the whole part: 1.96 KiB is 2.0K, 99.97 MiB 100M.
        assert_eq!(fmt_scaled(2007), "2.0K");
        assert_eq!(fmt_scaled(104_826_000), "100M");
        assert_eq!(fmt_scaled(u64::MAX), "16.0E");
    }

    #[test]
    fn meter_columns_match_scp_lines() {
        // From scp 9.2 lines: "   0%    0     0.0KB/s", " 100% 1000     2.9MB/s",
        // "  30%  156MB 156.4MB/s".
        assert_eq!(meter_size(0), "   0  ");
        assert_eq!(meter_size(1000), "1000  ");
        assert_eq!(meter_size(9999), "9999  ");
        assert_eq!(meter_size(10_000), "  10KB");
        assert_eq!(meter_size(163_577_856), " 156MB");
        assert_eq!(meter_size(512 << 20), " 512MB");
        assert_eq!(meter_size(u64::MAX), "16777216TB", "terabytes at most");
        assert_eq!(meter_rate(0), "  0.0KB");
        assert_eq!(meter_rate(3_040_870), "  2.9MB");
        assert_eq!(meter_rate(164_000_000), "156.4MB");
        assert_eq!(meter_rate(46), "  0.0KB");
        assert_eq!(meter_rate(47), "  0.1KB");
        assert_eq!(meter_rate(150_000), "146.5KB");
    }
}
