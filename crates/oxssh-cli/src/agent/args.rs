//! `oxssh-agent` flags with ssh-agent 9.2's getopt string (`cDdksE:a:O:P:t:`), stopping
//! at the first non-option (the command to run).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// ssh-agent 9.2's usage text, with our program name.
pub const USAGE: &str = "\
usage: oxssh-agent [-c | -s] [-Dd] [-a bind_address] [-E fingerprint_hash]
                   [-O option] [-P allowed_providers] [-t life]
       oxssh-agent [-a bind_address] [-E fingerprint_hash] [-O option]
                   [-P allowed_providers] [-t life] command [arg ...]
       oxssh-agent [-c | -s] -k
";

/// The parsed command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `-c`: csh syntax.
    pub csh: bool,
    /// `-s`: Bourne shell syntax.
    pub sh: bool,
    /// `-D`: foreground.
    pub foreground: bool,
    /// `-d`: foreground with debug output.
    pub debug: bool,
    /// `-k`: kill the agent in `SSH_AGENT_PID`.
    pub kill: bool,
    /// `-a`: the socket path.
    pub bind_address: Option<PathBuf>,
    /// `-t`: default key lifetime.
    pub lifetime: Option<Duration>,
    /// The command to run.
    pub command: Vec<OsString>,
}

/// Parses argv (without the program name). `Err` carries a message (may be empty) and
/// means: print the usage, exit 1.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Options, String> {
    use lexopt::Arg::{Short, Value};
    let mut parser = lexopt::Parser::from_args(args);
    let mut opts = Options::default();
    loop {
        let arg = parser.next().map_err(|e| format!("{e}\r\n"))?;
        match arg {
            None => break,
            Some(Short('c')) => {
                if opts.sh {
                    return Err(String::new());
                }
                opts.csh = true;
            }
            Some(Short('s')) => {
                if opts.csh {
                    return Err(String::new());
                }
                opts.sh = true;
            }
            Some(Short('D')) => opts.foreground = true,
            Some(Short('d')) => opts.debug = true,
            Some(Short('k')) => opts.kill = true,
            Some(Short('a')) => {
                opts.bind_address =
                    Some(PathBuf::from(parser.value().map_err(|_| {
                        "option requires an argument -- a\r\n".to_owned()
                    })?));
            }
            Some(Short('t')) => {
                let value = parser
                    .value()
                    .map_err(|_| "option requires an argument -- t\r\n".to_owned())?;
                let value = value.to_string_lossy();
                match crate::keyscan::args::parse_time(&value) {
                    Some(life) => opts.lifetime = Some(life),
                    None => return Err("Invalid lifetime\n".into()),
                }
            }
            Some(Short(flag @ ('E' | 'O' | 'P'))) => {
                return Err(format!("oxssh-agent: -{flag} is not supported yet\n"));
            }
            Some(Value(command)) => {
                opts.command.push(command);
                opts.command
                    .extend(parser.raw_args().map_err(|e| e.to_string())?);
                break;
            }
            // OpenSSH's getopt wording.
            Some(Short(flag)) => return Err(format!("unknown option -- {flag}\r\n")),
            Some(_) => return Err("unknown option -- -\r\n".to_owned()),
        }
    }
    if !opts.command.is_empty()
        && (opts.csh || opts.sh || opts.kill || opts.debug || opts.foreground)
    {
        return Err(String::new());
    }
    if opts.debug && opts.foreground {
        return Err(String::new());
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn p(args: &[&str]) -> Result<Options, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn the_command_and_its_flags_are_not_ours() {
        let opts = p(&["-t", "1h", "bash", "-c", "x"]).unwrap();
        assert_eq!(opts.lifetime, Some(Duration::from_secs(3600)));
        assert_eq!(opts.command, ["bash", "-c", "x"]);
        assert!(p(&["-c", "-s"]).is_err());
        assert!(p(&["-k", "bash"]).is_err());
        assert!(p(&["-t", "x"]).is_err());
    }
}
