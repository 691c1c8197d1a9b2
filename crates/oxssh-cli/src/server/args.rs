//! Command line, as sshd's getopt reads it: `-4 -6 -D -d -e -i -q -t -T` flags (bundled
//! or apart), `-f config`, `-h host_key`, `-p port`, `-C spec`, `-E log_file`, `-o option`,
//! `-g login_grace_time` (value glued or next), plus our `--log-format json`. sshd flags we do not implement yet are refused
//! by name.

use std::ffi::OsString;

/// The parsed command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// `-f`: the configuration file (system-daemon mode).
    pub config_file: Option<String>,
    /// `-p`: ports replacing the configuration's (repeatable).
    pub ports: Vec<u16>,
    /// `-h`: host key files, loaded before the configuration's `HostKey`s.
    pub host_keys: Vec<String>,
    /// `-D`: stay in the foreground.
    pub foreground: bool,
    /// `-d` (count): debug logging to stderr, in the foreground.
    pub debug: u8,
    /// `-e`: log to stderr.
    pub log_stderr: bool,
    /// `-E file`: append the log to `file`.
    pub log_file: Option<String>,
    /// `-q`: quiet.
    pub quiet: bool,
    /// `-i`: one connection on stdin/stdout (inetd mode).
    pub inetd: bool,
    /// `-t`: check the configuration and host keys, then exit.
    pub test: bool,
    /// `-T`: print the effective configuration, then exit.
    pub dump: bool,
    /// `-C spec`: connection parameters for `-T`'s `Match` evaluation.
    pub connection_spec: Vec<String>,
    /// `--log-format json`: structured log lines.
    pub json_log: bool,
    /// `-o option`, and `-4`, `-6`, `-g` as the options they stand for: configuration
    /// lines read before the file, so they win.
    pub options: Vec<String>,
}

/// A command line `oxsshd` does not accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    /// A flag of sshd's that this version does not implement.
    NotSupported(String),
    /// A flag sshd does not have, or a stray argument.
    Unknown(String),
    /// A flag's value is missing.
    MissingValue(char),
    /// `-p` without a valid port.
    BadPort(String),
}

impl std::fmt::Display for ArgsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotSupported(flag) => write!(f, "option {flag} is not supported yet"),
            Self::Unknown(arg) => write!(f, "unknown option {arg}\n{USAGE}"),
            Self::MissingValue(flag) => write!(f, "option requires an argument -- {flag}\n{USAGE}"),
            Self::BadPort(p) => write!(f, "Bad port number '{p}'"),
        }
    }
}

impl std::error::Error for ArgsError {}

/// The usage line, as sshd prints it for the flags we take.
pub const USAGE: &str = "usage: oxsshd [-46DdeiqTt] [-C connection_spec] [-E log_file] \
                         [-f config_file]\n              [-g login_grace_time] \
                         [-h host_key_file] [-o option] [-p port]\n              \
                         [--log-format text|json]";

/// sshd's flags we do not implement yet (`c`, `E`... with values marked `:`).
const LATER: &str = "Gc:k:u:";

/// Parses the arguments after the program name.
pub fn parse_args(argv: Vec<OsString>) -> Result<Args, ArgsError> {
    let mut args = Args::default();
    let mut it = argv.into_iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = it.next() {
        if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some(("log-format", v)) => args.json_log = log_format(v)?,
                None if long == "log-format" => {
                    let v = it.next().ok_or(ArgsError::Unknown(arg.clone()))?;
                    args.json_log = log_format(&v)?;
                }
                _ => return Err(ArgsError::Unknown(arg)),
            }
            continue;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            return Err(ArgsError::Unknown(arg));
        };
        for (i, c) in flags.char_indices() {
            let takes_value = matches!(c, 'f' | 'h' | 'p' | 'C' | 'E' | 'o' | 'g');
            if takes_value {
                let rest = flags.get(i + c.len_utf8()..).unwrap_or_default();
                let value = if rest.is_empty() {
                    it.next().ok_or(ArgsError::MissingValue(c))?
                } else {
                    rest.to_owned()
                };
                apply_value(&mut args, c, value)?;
                break;
            }
            match c {
                'D' => args.foreground = true,
                'd' => args.debug = args.debug.saturating_add(1),
                'e' => args.log_stderr = true,
                'i' => args.inetd = true,
                'q' => args.quiet = true,
                't' => args.test = true,
                'T' => args.dump = true,
                // sshd sets these directly, over `-o` and the file: first wins here.
                '4' => args.options.insert(0, "AddressFamily inet".into()),
                '6' => args.options.insert(0, "AddressFamily inet6".into()),
                c if LATER.contains(c) => return Err(ArgsError::NotSupported(format!("-{c}"))),
                c => return Err(ArgsError::Unknown(format!("-{c}"))),
            }
        }
    }
    Ok(args)
}

fn apply_value(args: &mut Args, flag: char, value: String) -> Result<(), ArgsError> {
    match flag {
        'f' => args.config_file = Some(value),
        'h' => args.host_keys.push(value),
        'C' => args.connection_spec.push(value),
        'E' => args.log_file = Some(value),
        'o' => args.options.push(value),
        'g' => args.options.insert(0, format!("LoginGraceTime {value}")),
        _ => {
            let port = value
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or(ArgsError::BadPort(value))?;
            args.ports.push(port);
        }
    }
    Ok(())
}

fn log_format(value: &str) -> Result<bool, ArgsError> {
    match value {
        "json" => Ok(true),
        "text" => Ok(false),
        other => Err(ArgsError::Unknown(format!("--log-format {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, ArgsError> {
        parse_args(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn flags_bundle_and_values_glue_or_follow() {
        let a = parse(&[
            "-Dde", "-p", "2200", "-p2201", "-f/etc/x", "-h", "k", "-C", "user=u",
        ]);
        assert_eq!(
            a,
            Ok(Args {
                config_file: Some("/etc/x".into()),
                ports: vec![2200, 2201],
                host_keys: vec!["k".into()],
                foreground: true,
                debug: 1,
                log_stderr: true,
                connection_spec: vec!["user=u".into()],
                ..Args::default()
            })
        );
        assert_eq!(parse(&["-tT"]).map(|a| (a.test, a.dump)), Ok((true, true)));
        assert_eq!(parse(&["-i"]).map(|a| a.inetd), Ok(true));
        assert_eq!(
            parse(&["--log-format", "json"]).map(|a| a.json_log),
            Ok(true)
        );
        assert_eq!(parse(&["--log-format=text"]).map(|a| a.json_log), Ok(false));
        assert_eq!(
            parse(&["-4", "-oPort=2200", "-o", "UseDNS no", "-g30"]).map(|a| a.options),
            Ok(vec![
                "LoginGraceTime 30".to_owned(),
                "AddressFamily inet".to_owned(),
                "Port=2200".to_owned(),
                "UseDNS no".to_owned(),
            ])
        );
    }

    #[test]
    fn refuses_what_is_not_implemented_and_bad_values() {
        assert_eq!(
            parse(&["-c", "x"]),
            Err(ArgsError::NotSupported("-c".into()))
        );
        assert_eq!(parse(&["-p", "0"]), Err(ArgsError::BadPort("0".into())));
        assert_eq!(parse(&["-p"]), Err(ArgsError::MissingValue('p')));
        assert_eq!(parse(&["-Z"]), Err(ArgsError::Unknown("-Z".into())));
        assert_eq!(parse(&["x"]), Err(ArgsError::Unknown("x".into())));
    }
}
