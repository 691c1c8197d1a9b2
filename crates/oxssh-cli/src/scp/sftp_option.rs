//! scp's `-X sftp_option`: `buffer=SIZE`, the bytes per READ or WRITE (a number with an
//! optional `K`/`M`/... unit, at most 256 KiB), and `nrequests=N`, the requests in
//! flight (1 to 262144); anything else is refused in scp's words.

use oxssh_config::values::{parse_int, scan_scaled};

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

/// OpenBSD's `strtonum(text, 1, 262144)`: its error words (oxssh-config's
/// `strtonum(text, 0, INT_MAX)`, narrowed).
fn in_range(text: &str) -> Result<usize, &'static str> {
    match parse_int(Some(text)) {
        Err("missing") => Err("invalid"),
        Err(why) => Err(why),
        Ok(0) => Err("too small"),
        Ok(n) if u64::from(n) > MOST => Err("too large"),
        Ok(n) => usize::try_from(n).map_err(|_| "too large"),
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
