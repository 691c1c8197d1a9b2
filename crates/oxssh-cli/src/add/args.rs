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

/// Parses argv (without the program name); `Err`: print the usage, exit 1.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Options, String> {
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
        let arg = parser.next().map_err(|e| e.to_string())?;
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
                let value = parser.value().map_err(|e| e.to_string())?;
                let value = value.to_string_lossy();
                opts.hash = HashAlg::from_option(&value)
                    .ok_or_else(|| format!("Invalid hash algorithm \"{value}\""))?;
                continue;
            }
            Some(Short('t')) => {
                let value = parser.value().map_err(|e| e.to_string())?;
                let value = value.to_string_lossy();
                let life = crate::keyscan::args::parse_time(&value)
                    .ok_or_else(|| "Invalid lifetime".to_owned())?;
                opts.lifetime = Some(life);
                continue;
            }
            Some(Short(flag @ ('K' | 'k' | 'v' | 'H' | 'h' | 'S' | 's' | 'e' | 'T'))) => {
                return Err(format!("-{flag} is not supported yet"));
            }
            Some(Value(file)) => {
                opts.files.push(PathBuf::from(file));
                continue;
            }
            Some(other) => return Err(other.unexpected().to_string()),
        };
        opts.mode = mode;
    }
    Ok(opts)
}
