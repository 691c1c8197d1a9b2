//! Certificate validity: ssh-keygen's `-V` forms (`parse_cert_times`) and the text it
//! prints for a validity interval (`sshkey_format_cert_validity`).
//!
//! `-V` is `+TIME` (from a minute ago, rounded down, to now + TIME), or `FROM:TO` where
//! FROM is `[+-]TIME`, `YYYYMMDD[HHMM[SS]][Z]` or `always` and TO is `[+-]TIME`, a date
//! or `forever`. TIME is OpenSSH's `convtime` (`1h30m`, `52w`, plain seconds).

use oxssh_keys::authorized_keys::ExpiryTime;

use super::super::time::format_time;
use super::super::Failure;

/// `valid_before` for "forever".
pub const FOREVER: u64 = u64::MAX;

/// OpenSSH's `convtime`: `NUMBER[smhdw]...`, summed; `None` when malformed.
fn convtime(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (number, after) = rest.split_at(digits);
        let value: u64 = number.parse().ok()?;
        let mut chars = after.chars();
        let multiplier = match chars.next() {
            None => 1,
            Some('s' | 'S') => 1,
            Some('m' | 'M') => 60,
            Some('h' | 'H') => 3600,
            Some('d' | 'D') => 86_400,
            Some('w' | 'W') => 604_800,
            Some(_) => return None,
        };
        total = total.checked_add(value.checked_mul(multiplier)?)?;
        rest = chars.as_str();
    }
    i32::try_from(total).ok()?;
    Some(total)
}

fn relative(text: &str, now: u64) -> Result<u64, Failure> {
    let invalid = || Failure::fatal(format!("Invalid relative certificate time {text}"));
    let secs = text.get(1..).and_then(convtime).ok_or_else(invalid)?;
    if text.starts_with('-') {
        now.checked_sub(secs)
            .ok_or_else(|| Failure::fatal(format!("Certificate time {text} cannot be represented")))
    } else {
        Ok(now.saturating_add(secs))
    }
}

fn absolute(text: &str) -> Option<u64> {
    ExpiryTime::parse(text)
        .and_then(|t| u64::try_from(t.to_unix(0)).ok())
        .filter(|t| *t != 0)
}

/// Parses a `-V` value at time `now` into (`valid_after`, `valid_before`).
///
/// # Errors
/// ssh-keygen's fatal messages.
pub fn parse(spec: &str, now: u64) -> Result<(u64, u64), Failure> {
    if spec.starts_with('+') && !spec.contains(':') {
        let secs = spec
            .get(1..)
            .and_then(convtime)
            .ok_or_else(|| Failure::fatal(format!("Invalid relative certificate life {spec}")))?;
        // Backdated by up to two minutes (to a whole minute), as ssh-keygen does, for hosts
        // with poorly synchronised clocks.
        let from = now.saturating_sub(59) / 60 * 60;
        return Ok((from, now.saturating_add(secs)));
    }
    let Some((from, to)) = spec
        .split_once(':')
        .filter(|(f, t)| !f.is_empty() && !t.is_empty())
    else {
        return Err(Failure::fatal(format!(
            "Invalid certificate life specification {spec}"
        )));
    };
    let valid_after = if from.starts_with(['+', '-']) {
        relative(from, now)?
    } else if from == "always" {
        0
    } else {
        absolute(from).ok_or_else(|| Failure::fatal(format!("Invalid from time \"{from}\"")))?
    };
    let valid_before = if to.starts_with(['+', '-']) {
        relative(to, now)?
    } else if to == "forever" {
        FOREVER
    } else {
        absolute(to).ok_or_else(|| Failure::fatal(format!("Invalid to time \"{to}\"")))?
    };
    if valid_before <= valid_after {
        return Err(Failure::fatal("Empty certificate validity interval"));
    }
    Ok((valid_after, valid_before))
}

/// `sshkey_format_cert_validity`: `forever`, `before T`, `after T` or `from T to T`.
pub fn describe(valid_after: u64, valid_before: u64) -> String {
    match (valid_after, valid_before) {
        (0, FOREVER) => "forever".into(),
        (0, to) => format!("before {}", format_time(to)),
        (from, FOREVER) => format!("after {}", format_time(from)),
        (from, to) => format!("from {} to {}", format_time(from), format_time(to)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_796_188_794; // 2026-12-02T05:19:54

    #[test]
    fn relative_life_is_backdated_to_the_minute() {
        assert_eq!(
            parse("+52w", NOW).unwrap(),
            (1_796_188_680, NOW + 52 * 604_800)
        );
        assert_eq!(parse("+1h30m", NOW).unwrap().1, NOW + 5400);
    }

    #[test]
    fn intervals_take_relative_absolute_and_open_ends() {
        assert_eq!(parse("-1d:+1d", NOW).unwrap(), (NOW - 86_400, NOW + 86_400));
        assert_eq!(parse("always:forever", NOW).unwrap(), (0, FOREVER));
        assert_eq!(
            parse("20240101:20300101123456", NOW).unwrap(),
            (1_704_067_200, 1_893_501_296)
        );
        assert_eq!(describe(0, FOREVER), "forever");
        assert_eq!(describe(0, 1_704_067_200), "before 2024-01-01T00:00:00");
        assert_eq!(
            describe(1_704_067_200, 1_893_501_296),
            "from 2024-01-01T00:00:00 to 2030-01-01T12:34:56"
        );
    }

    #[test]
    fn malformed_specifications_get_ssh_keygen_messages() {
        let msg = |spec: &str| parse(spec, NOW).unwrap_err().message;
        assert_eq!(msg("bogus"), "Invalid certificate life specification bogus");
        assert_eq!(msg("+5x"), "Invalid relative certificate life +5x");
        assert_eq!(
            msg("20300101:20200101"),
            "Empty certificate validity interval"
        );
        assert_eq!(msg("-5d:x"), "Invalid to time \"x\"");
        assert_eq!(msg("x:+1d"), "Invalid from time \"x\"");
        assert_eq!(msg(":+1d"), "Invalid certificate life specification :+1d");
    }
}
