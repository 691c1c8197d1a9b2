//! `oxssh-keyscan` flags, parsed with `ssh-keyscan`'s getopt semantics into [`Options`].
//!
//! Same option letters, same messages and exit codes as OpenSSH 9.2: usage errors exit 1,
//! `fatal()` errors (unknown key type, too many `-v`) exit 255. Options stop at the first
//! host argument (OpenSSH's getopt does not permute). Flags we do not implement are
//! refused, never ignored.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::keytype::KeyType;
use crate::option_value::{utf8, value, ValueError};

/// The default `-T`: seconds of silence before a connection is given up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The SSH port, which ssh-keyscan leaves out of printed host names.
pub const DEFAULT_PORT: u16 = 22;
/// OpenSSH allows `-v` up to three times (debug1..debug3).
const MAX_VERBOSITY: u8 = 3;

const USAGE: &str = "usage: oxssh-keyscan [-46cHqv] [-f file] [-p port] [-T timeout] [-t type]\n\
                     \t\t     [host | addrlist namelist]\n";

/// Which address family to connect over (`-4`, `-6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// Whatever the name resolves to.
    #[default]
    Any,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

/// Where `-f` reads host lines from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostFile {
    /// `-f -`
    Stdin,
    /// `-f path`
    Path(PathBuf),
}

/// Validated command-line options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-4` / `-6`
    pub family: Family,
    /// `-p`
    pub port: u16,
    /// `-t`, as a set iterated in ssh-keyscan's scan order. May be empty (`-t ,`).
    pub key_types: BTreeSet<KeyType>,
    /// `-T`
    pub timeout: Duration,
    /// `-H`
    pub hash_hosts: bool,
    /// `-c`: fetch host certificates instead of plain keys.
    pub certificates: bool,
    /// `-q`: no `# host:port version` comment lines (as later OpenSSH releases).
    pub quiet: bool,
    /// Number of `-v`.
    pub verbosity: u8,
    /// `-f`, in order; read before the host arguments, as ssh-keyscan does.
    pub files: Vec<HostFile>,
    /// Host arguments: `host`, `addrlist namelist` or a CIDR range.
    pub hosts: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            family: Family::Any,
            port: DEFAULT_PORT,
            key_types: KeyType::ALL.into_iter().collect(),
            timeout: DEFAULT_TIMEOUT,
            hash_hosts: false,
            certificates: false,
            quiet: false,
            verbosity: 0,
            files: Vec::new(),
            hosts: Vec::new(),
        }
    }
}

/// A command line that cannot be run; `Display` is the whole text for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    /// Print an optional message, then the usage text; exit 1.
    Usage(Option<String>),
    /// Print the message alone; exit 1 (e.g. `Bad port '0'`).
    Invalid(String),
    /// OpenSSH's `fatal()`: print the message; exit 255.
    Fatal(String),
}

impl From<ValueError> for ArgsError {
    fn from(err: ValueError) -> Self {
        err.into_error(|m| Self::Usage(Some(m)), Self::Invalid)
    }
}

impl ArgsError {
    /// The process exit status ssh-keyscan uses for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::Invalid(_) => 1,
            Self::Fatal(_) => 255,
        }
    }
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) => {
                if let Some(message) = message {
                    writeln!(f, "{message}")?;
                }
                f.write_str(USAGE)
            }
            Self::Invalid(message) | Self::Fatal(message) => writeln!(f, "{message}"),
        }
    }
}

impl std::error::Error for ArgsError {}

/// Parses the arguments after the program name.
pub fn parse<I>(args: I) -> Result<Options, ArgsError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if args.is_empty() {
        return Err(ArgsError::Usage(None));
    }
    let mut parser = lexopt::Parser::from_args(args);
    let mut opts = Options::default();
    loop {
        let arg = parser.next().map_err(ValueError::from)?;
        match arg {
            None => break,
            Some(lexopt::Arg::Short(flag)) => apply_flag(&mut opts, flag, &mut parser)?,
            Some(lexopt::Arg::Long(name)) => {
                return Err(ArgsError::Usage(Some(format!("unknown option -- -{name}"))));
            }
            Some(lexopt::Arg::Value(first)) => {
                // getopt stops at the first operand: everything after it is a host,
                // even words that look like flags (ssh-keyscan then fails to resolve them).
                opts.hosts.push(utf8(first)?);
                for rest in parser.raw_args().map_err(ValueError::from)? {
                    opts.hosts.push(utf8(rest)?);
                }
                break;
            }
        }
    }
    if opts.hosts.is_empty() && opts.files.is_empty() {
        return Err(ArgsError::Usage(None));
    }
    Ok(opts)
}

fn apply_flag(
    opts: &mut Options,
    flag: char,
    parser: &mut lexopt::Parser,
) -> Result<(), ArgsError> {
    match flag {
        '4' => opts.family = Family::V4,
        '6' => opts.family = Family::V6,
        'H' => opts.hash_hosts = true,
        'q' => opts.quiet = true,
        'v' => {
            if opts.verbosity >= MAX_VERBOSITY {
                return Err(ArgsError::Fatal("Too high debugging level.".into()));
            }
            opts.verbosity += 1;
        }
        'p' => {
            let value = value(parser, flag)?;
            opts.port = parse_port(&value)
                .ok_or_else(|| ArgsError::Invalid(format!("Bad port '{value}'")))?;
        }
        'T' => {
            let value = value(parser, flag)?;
            opts.timeout = parse_time(&value)
                .filter(|t| !t.is_zero())
                .ok_or_else(|| ArgsError::Usage(Some(format!("Bad timeout '{value}'"))))?;
        }
        't' => {
            let value = value(parser, flag)?;
            opts.key_types = parse_key_types(&value)?;
        }
        'f' => {
            let value = value(parser, flag)?;
            opts.files.push(if value == "-" {
                HostFile::Stdin
            } else {
                HostFile::Path(PathBuf::from(value))
            });
        }
        'c' => opts.certificates = true,
        'D' => return Err(unsupported("-D (print SSHFP records)")),
        'O' => return Err(unsupported("-O (options)")),
        other => return Err(ArgsError::Usage(Some(format!("unknown option -- {other}")))),
    }
    Ok(())
}

fn unsupported(what: &str) -> ArgsError {
    ArgsError::Fatal(format!("oxssh-keyscan: {what} is not supported yet"))
}

/// `-p`: a port number 1..=65535 (OpenSSH's `a2port()`, without service names).
pub fn parse_port(value: &str) -> Option<u16> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<u16>().ok().filter(|&port| port != 0)
}

/// `-T`: OpenSSH's `convtime()`: a sequence of numbers each with an optional unit
/// (`s`, `m`, `h`, `d`, `w`, either case), e.g. `90`, `1m30s`. Bounded by `i32::MAX` seconds.
pub fn parse_time(value: &str) -> Option<Duration> {
    if value.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut rest = value;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let (number, tail) = rest.split_at(digits);
        let number: u64 = number.parse().ok()?;
        let mut chars = tail.chars();
        let multiplier = match chars.next() {
            None | Some('s' | 'S') => 1,
            Some('m' | 'M') => 60,
            Some('h' | 'H') => 60 * 60,
            Some('d' | 'D') => 24 * 60 * 60,
            Some('w' | 'W') => 7 * 24 * 60 * 60,
            Some(_) => return None,
        };
        rest = chars.as_str();
        total = total.checked_add(number.checked_mul(multiplier)?)?;
        if total > i32::MAX as u64 {
            return None;
        }
    }
    Some(Duration::from_secs(total))
}

/// `-t`: comma-separated key types; empty items are skipped as `strtok()` does.
pub fn parse_key_types(value: &str) -> Result<BTreeSet<KeyType>, ArgsError> {
    value
        .split(',')
        .filter(|name| !name.is_empty())
        .map(|name| KeyType::from_name(name).map_err(|e| ArgsError::Fatal(e.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> Options {
        parse(args.iter().copied()).unwrap()
    }

    #[test]
    fn defaults_scan_all_three_types_on_port_22() {
        let opts = parse_ok(&["example.org"]);
        assert_eq!(opts.port, 22);
        assert_eq!(opts.timeout, Duration::from_secs(5));
        assert_eq!(
            opts.key_types.into_iter().collect::<Vec<_>>(),
            [KeyType::Rsa, KeyType::Ecdsa, KeyType::Ed25519]
        );
        assert_eq!(opts.hosts, ["example.org"]);
    }

    #[test]
    fn accepts_getopt_forms() {
        let opts = parse_ok(&["-p2222", "-HT", "3", "-t", "ed25519,RSA", "-4vv", "-q", "h"]);
        assert_eq!(opts.port, 2222);
        assert!(opts.hash_hosts && opts.quiet);
        assert_eq!(opts.timeout, Duration::from_secs(3));
        assert_eq!(opts.family, Family::V4);
        assert_eq!(opts.verbosity, 2);
        assert_eq!(
            opts.key_types.into_iter().collect::<Vec<_>>(),
            [KeyType::Rsa, KeyType::Ed25519]
        );
    }

    #[test]
    fn options_stop_at_the_first_host() {
        let opts = parse_ok(&["-t", "rsa", "a", "-p", "22", "b c"]);
        assert_eq!(opts.hosts, ["a", "-p", "22", "b c"]);
        assert_eq!(opts.port, 22);
    }

    #[test]
    fn reads_files_and_stdin() {
        let opts = parse_ok(&["-f", "-", "-f", "hosts.txt"]);
        assert_eq!(
            opts.files,
            [HostFile::Stdin, HostFile::Path("hosts.txt".into())]
        );
        assert!(opts.hosts.is_empty());
    }

    #[test]
    fn errors_match_ssh_keyscan() {
        let err = |args: &[&str]| parse(args.iter().copied()).unwrap_err();
        assert_eq!(err(&[]), ArgsError::Usage(None));
        assert_eq!(err(&["-H"]), ArgsError::Usage(None));
        assert_eq!(
            err(&["-p", "0", "h"]),
            ArgsError::Invalid("Bad port '0'".into())
        );
        assert_eq!(err(&["-p", "70000", "h"]).exit_code(), 1);
        assert_eq!(
            err(&["-T", "0", "h"]),
            ArgsError::Usage(Some("Bad timeout '0'".into()))
        );
        let unknown = err(&["-t", "foo", "h"]);
        assert_eq!(unknown.to_string(), "Unknown key type \"foo\"\n");
        assert_eq!(unknown.exit_code(), 255);
        assert_eq!(err(&["-t", "dsa", "h"]).exit_code(), 255);
        assert_eq!(err(&["-vvvv", "h"]).exit_code(), 255);
        assert_eq!(err(&["-x", "h"]).exit_code(), 1);
        assert_eq!(err(&["-p"]).exit_code(), 1);
        assert!(parse_ok(&["-c", "h"]).certificates);
        assert!(err(&["-D", "h"]).to_string().contains("not supported"));
    }

    #[test]
    fn empty_type_list_scans_nothing() {
        assert!(parse_ok(&["-t", ",", "h"]).key_types.is_empty());
    }

    #[test]
    fn times_use_openssh_units() {
        assert_eq!(parse_time("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_time("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_time("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_time("1w"), Some(Duration::from_secs(604_800)));
        for bad in ["", "s", "1x", "-1", "1.5", "99999999999"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn ports_are_1_to_65535() {
        assert_eq!(parse_port("22"), Some(22));
        assert_eq!(parse_port("65535"), Some(65535));
        for bad in ["0", "65536", "", "+22", "ssh"] {
            assert_eq!(parse_port(bad), None, "{bad}");
        }
    }
}
