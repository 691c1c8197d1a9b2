//! scp's `-X sftp_option`: `buffer=SIZE`, the bytes per READ or WRITE (a number with an
//! optional `K`/`M`/... unit, at most 256 KiB), and `nrequests=N`, the requests in
//! flight (1 to 262144); anything else is refused in scp's words.

use oxssh_config::values::scan_scaled;

/// The most either option takes (scp's 256 KiB).
const MOST: u64 = 256 * 1024;

/// One `-X` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SftpOption {
    Buffer(u32),
    Requests(usize),
}

/// Reads `-X text`; `Err` is scp's fatal message.
pub(super) fn parse(text: &str) -> Result<SftpOption, String> {
    if let Some(value) = text.strip_prefix("buffer=") {
        let size = scan_scaled(value).and_then(|n| match u32::try_from(n) {
            Ok(n) if n > 0 && u64::from(n) <= MOST => Ok(n),
            _ => Err(INVALID),
        });
        return size
            .map(SftpOption::Buffer)
            .map_err(|why| format!("Invalid buffer size \"{value}\": {why}"));
    }
    if let Some(value) = text.strip_prefix("nrequests=") {
        return in_range(value)
            .map(SftpOption::Requests)
            .map_err(|why| format!("Invalid number of requests \"{value}\": {why}"));
    }
    Err("Invalid -X option".into())
}

/// strerror(EINVAL).
const INVALID: &str = "Invalid argument";

/// OpenBSD's `strtonum(text, 1, 262144)`: its error words.
fn in_range(text: &str) -> Result<usize, &'static str> {
    let trimmed = text.trim_start();
    let body = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid");
    }
    match trimmed.parse::<i128>() {
        Ok(n) if n < 1 => Err("too small"),
        Ok(n) if n > i128::from(MOST) => Err("too large"),
        Ok(n) => usize::try_from(n).map_err(|_| "too large"),
        Err(_) if trimmed.starts_with('-') => Err("too small"),
        Err(_) => Err("too large"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn options_and_refusals_read_as_scp_reads_them() {
        assert_eq!(parse("buffer=1k"), Ok(SftpOption::Buffer(1024)));
        assert_eq!(parse("buffer=65536"), Ok(SftpOption::Buffer(65536)));
        assert_eq!(parse("buffer=1.5K"), Ok(SftpOption::Buffer(1536)));
        assert_eq!(parse("nrequests=4"), Ok(SftpOption::Requests(4)));
        let refused = |t: &str| parse(t).unwrap_err();
        assert_eq!(
            refused("buffer=0"),
            "Invalid buffer size \"0\": Invalid argument"
        );
        assert_eq!(
            refused("buffer=300000"),
            "Invalid buffer size \"300000\": Invalid argument"
        );
        assert_eq!(
            refused("buffer=abc"),
            "Invalid buffer size \"abc\": Invalid argument"
        );
        assert_eq!(
            refused("nrequests=0"),
            "Invalid number of requests \"0\": too small"
        );
        assert_eq!(
            refused("nrequests=x"),
            "Invalid number of requests \"x\": invalid"
        );
        assert_eq!(
            refused("nrequests=300000"),
            "Invalid number of requests \"300000\": too large"
        );
        assert_eq!(refused("foo=1"), "Invalid -X option");
    }
}
