//! Local time for the `Last login:` line, without libc's `localtime` (which would need
//! `unsafe`): a time zone read from a TZif file (`/etc/localtime`, `TZ=:file`, or the
//! zoneinfo directory) or a POSIX `TZ` rule, and `ctime`-style formatting with proleptic
//! Gregorian calendar arithmetic.

use std::path::{Path, PathBuf};

/// `time` as C's `ctime` writes it, without the newline: `Wed Dec  2 04:52:25 2026`.
/// Times are clamped to about a million years either side of 1970.
pub fn ctime(time: i64, tz: &TimeZone) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let time = clamp_time(time);
    let local = time + i64::from(tz.offset_at(time));
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS.get(weekday(days) as usize).unwrap_or(&"???");
    let month = MONTHS
        .get((month as usize).wrapping_sub(1))
        .unwrap_or(&"???");
    format!(
        "{weekday} {month} {day:>2} {:02}:{:02}:{:02} {year}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// A time zone read from a TZif file (RFC 8536, versions 1 to 4) or a POSIX `TZ` string:
/// enough to turn a UTC time into local time as glibc's `localtime` does (leap-second
/// `right/` zones are read as if they had none; before 1970 a bare POSIX rule applies its
/// daylight time where glibc applies none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeZone {
    /// Transition times, ascending.
    transitions: Vec<i64>,
    /// For each transition, the index of its type in `offsets`.
    types: Vec<u8>,
    /// Each type's offset from UTC in seconds (east positive).
    offsets: Vec<i32>,
    /// The rule after the last transition (the TZif footer), if any.
    rule: Option<PosixTz>,
}

impl TimeZone {
    /// UTC.
    pub fn utc() -> Self {
        Self::from_rule(PosixTz { std: 0, dst: None })
    }

    /// The process's local time zone as glibc finds it: `TZ` unset means
    /// `/etc/localtime`; empty means UTC; otherwise (without a leading `:`) a TZif file,
    /// absolute or under `/usr/share/zoneinfo`, else a POSIX rule such as
    /// `CET-1CEST,M3.5.0,M10.5.0/3`. Anything unreadable falls back to UTC.
    pub fn local() -> Self {
        let Some(tz) = std::env::var_os("TZ") else {
            return Self::from_file(Path::new("/etc/localtime")).unwrap_or_else(Self::utc);
        };
        let tz = tz.to_string_lossy();
        let name = tz.strip_prefix(':').unwrap_or(&tz);
        if name.is_empty() {
            return Self::utc();
        }
        let path = if name.starts_with('/') {
            PathBuf::from(name)
        } else {
            Path::new("/usr/share/zoneinfo").join(name)
        };
        Self::from_file(&path)
            .or_else(|| Self::from_posix(name))
            .unwrap_or_else(Self::utc)
    }

    /// Reads a TZif file; `None` when it cannot be read or parsed.
    pub fn from_file(path: &Path) -> Option<Self> {
        let data = std::fs::read(path).ok()?;
        Self::from_tzif(&data)
    }

    /// Parses TZif data (RFC 8536); `None` when malformed.
    pub fn from_tzif(data: &[u8]) -> Option<Self> {
        let mut input = Bytes(data);
        let header = TzifHeader::read(&mut input)?;
        if header.version == 0 {
            return header.read_body(&mut input, 4);
        }
        input.skip(header.body_len(4)?)?;
        let header = TzifHeader::read(&mut input)?;
        header.read_body(&mut input, 8)
    }

    /// A zone from a POSIX `TZ` rule string; `None` when malformed.
    pub fn from_posix(rule: &str) -> Option<Self> {
        PosixTz::parse(rule.as_bytes()).map(Self::from_rule)
    }

    fn from_rule(rule: PosixTz) -> Self {
        Self {
            transitions: Vec::new(),
            types: Vec::new(),
            offsets: Vec::new(),
            rule: Some(rule),
        }
    }

    /// The offset from UTC in seconds (east positive) at `time`.
    pub fn offset_at(&self, time: i64) -> i32 {
        let time = clamp_time(time);
        let after = self.transitions.partition_point(|&t| t <= time);
        if after == 0 {
            // Before the first transition: type 0 (RFC 8536 §3.2), or the rule alone.
            return match (&self.rule, self.offsets.first()) {
                (Some(rule), _) if self.transitions.is_empty() => rule.offset_at(time),
                (_, Some(&offset)) => offset,
                _ => 0,
            };
        }
        if after == self.transitions.len() {
            if let Some(rule) = &self.rule {
                return rule.offset_at(time);
            }
        }
        self.types
            .get(after - 1)
            .and_then(|&ty| self.offsets.get(usize::from(ty)))
            .copied()
            .unwrap_or(0)
    }
}

/// A POSIX `TZ` rule: standard offset and optionally daylight saving time.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PosixTz {
    /// Standard time's offset from UTC, seconds east.
    std: i32,
    dst: Option<Dst>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Dst {
    /// Daylight time's offset from UTC, seconds east.
    offset: i32,
    /// When it starts, in local standard time.
    start: Rule,
    /// When it ends, in local daylight time.
    end: Rule,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rule {
    date: RuleDate,
    /// Seconds after the day's local midnight (may be negative or beyond a day).
    time: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RuleDate {
    /// `Jn`: day 1 to 365, February 29 never counted.
    Julian1(i64),
    /// `n`: day 0 to 365, February 29 counted.
    Julian0(i64),
    /// `Mm.w.d`: weekday `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    MonthWeekDay(i64, i64, i64),
}

impl PosixTz {
    fn parse(s: &[u8]) -> Option<Self> {
        let mut p = Bytes(s);
        p.tz_name()?;
        let std = -p.tz_time(24)?;
        if p.0.is_empty() {
            return Some(Self { std, dst: None });
        }
        p.tz_name()?;
        let offset = match p.0.first() {
            Some(b',') | None => std + 3600,
            Some(_) => -p.tz_time(24)?,
        };
        let (start, end) = if p.0.is_empty() {
            // glibc's default: the US rules.
            let rule = |m, w| Rule {
                date: RuleDate::MonthWeekDay(m, w, 0),
                time: 7200,
            };
            (rule(3, 2), rule(11, 1))
        } else {
            p.byte(b',')?;
            let start = p.tz_rule()?;
            p.byte(b',')?;
            (start, p.tz_rule()?)
        };
        if !p.0.is_empty() {
            return None;
        }
        let dst = Dst { offset, start, end };
        Some(Self {
            std,
            dst: Some(dst),
        })
    }

    fn offset_at(&self, time: i64) -> i32 {
        let Some(dst) = &self.dst else {
            return self.std;
        };
        let (year, _, _) = civil_from_days((time + i64::from(self.std)).div_euclid(86_400));
        let start = dst.start.at(year) - i64::from(self.std);
        let end = dst.end.at(year) - i64::from(dst.offset);
        let in_dst = if start <= end {
            start <= time && time < end
        } else {
            !(end <= time && time < start)
        };
        if in_dst {
            dst.offset
        } else {
            self.std
        }
    }
}

impl Rule {
    /// The rule's moment in `year`, as seconds since the epoch in the rule's local time.
    fn at(&self, year: i64) -> i64 {
        let jan1 = days_from_civil(year, 1, 1);
        let leap = is_leap(year);
        let day = match self.date {
            RuleDate::Julian1(n) => jan1 + n - 1 + i64::from(leap && n >= 60),
            RuleDate::Julian0(n) => jan1 + n,
            RuleDate::MonthWeekDay(m, w, d) => {
                let first = days_from_civil(year, m, 1);
                let len = days_in_month(year, m);
                let mut day = first + (d - weekday(first)).rem_euclid(7) + (w - 1) * 7;
                while day >= first + len {
                    day -= 7;
                }
                day
            }
        };
        day * 86_400 + i64::from(self.time)
    }
}

/// A cursor over bytes, for TZif files and `TZ` strings; every read is checked.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(drop)
    }

    fn be_u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn be_time(&mut self, width: usize) -> Option<i64> {
        let bytes = self.take(width)?;
        Some(match width {
            4 => i64::from(i32::from_be_bytes(bytes.try_into().ok()?)),
            _ => i64::from_be_bytes(bytes.try_into().ok()?),
        })
    }

    fn byte(&mut self, want: u8) -> Option<()> {
        (self.take(1)? == [want]).then_some(())
    }

    fn peek_is(&self, f: impl Fn(u8) -> bool) -> bool {
        self.0.first().is_some_and(|&b| f(b))
    }

    fn number(&mut self) -> Option<i64> {
        let digits = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 6 {
            return None;
        }
        let text = std::str::from_utf8(self.take(digits)?).ok()?;
        text.parse().ok()
    }

    /// A zone abbreviation: `<...>` or at least three letters.
    fn tz_name(&mut self) -> Option<()> {
        if self.peek_is(|b| b == b'<') {
            let len = self.0.iter().position(|&b| b == b'>')?;
            return self.skip(len + 1);
        }
        let len = self
            .0
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        (len >= 3).then(|| self.skip(len))?
    }

    /// `[+-]hh[:mm[:ss]]` in seconds, hours at most `max_hours`.
    fn tz_time(&mut self, max_hours: i64) -> Option<i32> {
        let sign = match self.0.first() {
            Some(b'-') => -1,
            Some(b'+') => 1,
            _ => 0,
        };
        if sign != 0 {
            self.skip(1)?;
        }
        let hours = self.number()?;
        let mut secs = hours * 3600;
        for unit in [60, 1] {
            if !self.peek_is(|b| b == b':') {
                break;
            }
            self.skip(1)?;
            let n = self.number()?;
            if n > 59 {
                return None;
            }
            secs += n * unit;
        }
        if hours > max_hours {
            return None;
        }
        i32::try_from(if sign < 0 { -secs } else { secs }).ok()
    }

    /// `Jn`, `n` or `Mm.w.d`, then an optional `/time` (RFC 8536 allows -167 to 167 h).
    fn tz_rule(&mut self) -> Option<Rule> {
        let date = if self.peek_is(|b| b == b'J') {
            self.skip(1)?;
            let n = self.number()?;
            (1..=365).contains(&n).then_some(RuleDate::Julian1(n))?
        } else if self.peek_is(|b| b == b'M') {
            self.skip(1)?;
            let m = self.number()?;
            self.byte(b'.')?;
            let w = self.number()?;
            self.byte(b'.')?;
            let d = self.number()?;
            let valid = (1..=12).contains(&m) && (1..=5).contains(&w) && (0..=6).contains(&d);
            valid.then_some(RuleDate::MonthWeekDay(m, w, d))?
        } else {
            let n = self.number()?;
            (0..=365).contains(&n).then_some(RuleDate::Julian0(n))?
        };
        let time = if self.peek_is(|b| b == b'/') {
            self.skip(1)?;
            self.tz_time(167)?
        } else {
            7200
        };
        Some(Rule { date, time })
    }
}

/// A TZif header's version and counts.
struct TzifHeader {
    version: u8,
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

impl TzifHeader {
    fn read(input: &mut Bytes<'_>) -> Option<Self> {
        if input.take(4)? != b"TZif" {
            return None;
        }
        let version = match input.take(1)? {
            [0] => 0,
            [v] if v.is_ascii_digit() => *v - b'0',
            _ => return None,
        };
        input.skip(15)?;
        let mut count = || input.be_u32().and_then(|n| usize::try_from(n).ok());
        Some(Self {
            version,
            isutcnt: count()?,
            isstdcnt: count()?,
            leapcnt: count()?,
            timecnt: count()?,
            typecnt: count()?,
            charcnt: count()?,
        })
    }

    /// Bytes of the data block after the header, with `width`-byte times.
    fn body_len(&self, width: usize) -> Option<usize> {
        let parts = [
            self.timecnt.checked_mul(width + 1)?,
            self.typecnt.checked_mul(6)?,
            self.charcnt,
            self.leapcnt.checked_mul(width + 4)?,
            self.isstdcnt,
            self.isutcnt,
        ];
        parts.iter().try_fold(0usize, |sum, &n| sum.checked_add(n))
    }

    fn read_body(&self, input: &mut Bytes<'_>, width: usize) -> Option<TimeZone> {
        if self.typecnt == 0 || self.body_len(width)? > input.0.len() {
            return None;
        }
        let transitions = (0..self.timecnt)
            .map(|_| input.be_time(width))
            .collect::<Option<Vec<_>>>()?;
        let types = input.take(self.timecnt)?.to_vec();
        if types.iter().any(|&ty| usize::from(ty) >= self.typecnt) {
            return None;
        }
        let offsets = (0..self.typecnt)
            .map(|_| {
                let offset = input.be_u32()? as i32;
                input.skip(2)?;
                Some(offset)
            })
            .collect::<Option<Vec<_>>>()?;
        let rest = self.charcnt + self.leapcnt * (width + 4) + self.isstdcnt + self.isutcnt;
        input.skip(rest)?;
        // Version 2+: a footer line holding the POSIX rule for later times.
        let rule = if width == 8 {
            input.byte(b'\n')?;
            let len = input.0.iter().position(|&b| b == b'\n')?;
            let footer = input.take(len)?;
            if footer.is_empty() {
                None
            } else {
                Some(PosixTz::parse(footer)?)
            }
        } else {
            None
        };
        Some(TimeZone {
            transitions,
            types,
            offsets,
            rule,
        })
    }
}

/// Keeps calendar arithmetic far from overflow: about a million years either side.
fn clamp_time(time: i64) -> i64 {
    time.clamp(-(1 << 45), 1 << 45)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// 0 = Sunday.
fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01: (year, month 1-12, day 1-31).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}
