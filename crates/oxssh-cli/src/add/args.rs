//! `oxssh-add` flags with ssh-add 9.2's getopt string; the ones we do not implement are
//! refused by name.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use oxssh_keys::HashAlg;

/// ssh-add 9.2's usage text, with our program name.
pub const USAGE: &str = "\
usage: oxssh-add [-cDdKkLlqvXx] [-E fingerprint_hash] [-H hostkey_file]
               [-h destination_constraint] [-S provider] [-t life]
               [file ...]
       oxssh-add -s pkcs11
       oxssh-add -e pkcs11
       oxssh-add -T pubkey ...
";

/// What to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Add keys (no mode flag).
    #[default]
    Add,
    /// `-l`
    List,
    /// `-L`
    ListPublic,
    /// `-d`
    Delete,
    /// `-D`
    DeleteAll,
    /// `-x`
    Lock,
    /// `-X`
    Unlock,
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The mode.
    pub mode: Mode,
    /// `-c`
    pub confirm: bool,
    /// `-t`
    pub lifetime: Option<Duration>,
    /// `-E`
    pub hash: HashAlg,
    /// Key files.
    pub files: Vec<PathBuf>,
}

/// A command line ssh-add would refuse: what it prints (usage included) and its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgsError {
    /// Everything printed on stderr.
    pub text: String,
    /// The exit code.
    pub code: u8,
}

impl std::fmt::Display for ArgsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

fn usage(message: &str) -> ArgsError {
    ArgsError {
        // getopt's complaint goes through OpenSSH's logger (CR LF), the usage does not.
        text: format!("{message}\r\n{USAGE}"),
        code: 1,
    }
}

fn value(parser: &mut lexopt::Parser, flag: char) -> Result<String, ArgsError> {
    parser
        .value()
        .map(|v| v.to_string_lossy().into_owned())
        .map_err(|_| usage(&format!("option requires an argument -- {flag}")))
}

/// Parses argv (without the program name) as ssh-add 9.2 does.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Options, ArgsError> {
    use lexopt::Arg::{Short, Value};
    let mut parser = lexopt::Parser::from_args(args);
    let mut opts = Options {
        mode: Mode::Add,
        confirm: false,
        lifetime: None,
        hash: HashAlg::Sha256,
        files: Vec::new(),
    };
    loop {
        let arg = parser.next().map_err(|e| usage(&e.to_string()))?;
        let mode = match arg {
            None => break,
            Some(Short('l')) => Mode::List,
            Some(Short('L')) => Mode::ListPublic,
            Some(Short('d')) => Mode::Delete,
            Some(Short('D')) => Mode::DeleteAll,
            Some(Short('x')) => Mode::Lock,
            Some(Short('X')) => Mode::Unlock,
            Some(Short('c')) => {
                opts.confirm = true;
                continue;
            }
            Some(Short('q')) => continue,
            Some(Short('E')) => {
                let value = value(&mut parser, 'E')?;
                // ssh-add's fatal(): CR LF, exit 255.
                opts.hash = HashAlg::from_option(&value).ok_or_else(|| ArgsError {
                    text: format!("Invalid hash algorithm \"{value}\"\r\n"),
                    code: 255,
                })?;
                continue;
            }
            Some(Short('t')) => {
                let value = value(&mut parser, 't')?;
                // ssh-add prints no usage here.
                let life = crate::keyscan::args::parse_time(&value).ok_or_else(|| ArgsError {
                    text: "Invalid lifetime\n".into(),
                    code: 1,
                })?;
                opts.lifetime = Some(life);
                continue;
            }
            Some(Short(flag @ ('K' | 'k' | 'v' | 'H' | 'h' | 'S' | 's' | 'e' | 'T'))) => {
                return Err(ArgsError {
                    text: format!("oxssh-add: -{flag} is not supported yet\n"),
                    code: 1,
                });
            }
            Some(Value(file)) => {
                opts.files.push(PathBuf::from(file));
                continue;
            }
            // OpenSSH's getopt wording.
            Some(Short(flag)) => return Err(usage(&format!("unknown option -- {flag}"))),
            Some(_) => return Err(usage("unknown option -- -")),
        };
        opts.mode = mode;
    }
    Ok(opts)
}
