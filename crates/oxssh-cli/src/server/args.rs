//! Command line: `-p port`, `-D`, `-d`, `-e`; everything else is refused for now.

use std::ffi::OsString;

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Port on 127.0.0.1 (`-p`, default 2222).
    pub port: u16,
    /// `-d`: debug logging to stderr.
    pub debug: bool,
    /// `-e`: log to stderr.
    pub log_stderr: bool,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            port: 2222,
            debug: false,
            log_stderr: false,
        }
    }
}

/// A command line `oxsshd` does not accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    /// A flag of sshd's that this version does not implement.
    NotSupported(String),
    /// A flag sshd does not have, or a stray argument.
    Unknown(String),
    /// `-p` without a valid port.
    BadPort(String),
}

impl std::fmt::Display for ArgsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotSupported(flag) => write!(
                f,
                "option {flag} is not supported yet (this oxsshd runs only the embedded \
                 default: -p PORT, -D, -d, -e)"
            ),
            Self::Unknown(arg) => {
                write!(f, "unknown argument {arg}; usage: oxsshd [-Dde] [-p port]")
            }
            Self::BadPort(p) => write!(f, "Bad port number '{p}'"),
        }
    }
}

impl std::error::Error for ArgsError {}

/// sshd's flags this step does not implement yet.
const LATER: &str = "46CEGTcfghiko:qTtu";

/// Parses the arguments after the program name.
pub fn parse_args(argv: Vec<OsString>) -> Result<Args, ArgsError> {
    let mut args = Args::default();
    let mut it = argv.into_iter();
    while let Some(arg) = it.next() {
        let arg = arg.to_string_lossy().into_owned();
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            return Err(ArgsError::Unknown(arg));
        };
        for (i, c) in flags.char_indices() {
            match c {
                'D' => {}
                'd' => args.debug = true,
                'e' => args.log_stderr = true,
                'p' => {
                    let rest = flags.get(i + 1..).unwrap_or_default();
                    let value = if rest.is_empty() {
                        it.next()
                            .map(|v| v.to_string_lossy().into_owned())
                            .ok_or_else(|| ArgsError::BadPort(String::new()))?
                    } else {
                        rest.to_owned()
                    };
                    args.port = value
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p != 0)
                        .ok_or(ArgsError::BadPort(value))?;
                    break;
                }
                c if LATER.contains(c) => return Err(ArgsError::NotSupported(format!("-{c}"))),
                c => return Err(ArgsError::Unknown(format!("-{c}"))),
            }
        }
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, ArgsError> {
        parse_args(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn defaults_and_flags() {
        assert_eq!(parse(&[]), Ok(Args::default()));
        let a = parse(&["-D", "-p", "2200", "-de"]).unwrap_or_default();
        assert_eq!(
            a,
            Args {
                port: 2200,
                debug: true,
                log_stderr: true
            }
        );
        assert_eq!(parse(&["-Dp2201"]).map(|a| a.port), Ok(2201));
    }

    #[test]
    fn refuses_the_rest() {
        assert_eq!(
            parse(&["-f", "x"]),
            Err(ArgsError::NotSupported("-f".into()))
        );
        assert_eq!(parse(&["-p", "0"]), Err(ArgsError::BadPort("0".into())));
        assert_eq!(parse(&["-Z"]), Err(ArgsError::Unknown("-Z".into())));
        assert_eq!(parse(&["x"]), Err(ArgsError::Unknown("x".into())));
    }
}
