//! `oxssh-copy-id` flags, read with the getopt semantics of OpenSSH 9.2's `ssh-copy-id`
//! script (`getopts "i:o:p:F:fnsh?"`): options stop at the first operand, `-i`, `-o`,
//! `-p` and `-F` take a value (attached or next), anything else prints the usage and
//! exits 1. `-o`, `-p` and `-F` are passed on to `oxssh` in the order given.

use std::ffi::OsString;

/// What the command line asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `-f`: install without checking which keys are already there.
    pub forced: bool,
    /// `-n`: dry run, print what would be installed.
    pub dry_run: bool,
    /// `-s`: install through SFTP (refused until SFTP exists).
    pub sftp: bool,
    /// `-i [file]`: the identity; `None` inside means "the default file".
    pub identity: Option<IdentityArg>,
    /// A second `-i`, an error the script reports after reading the first.
    pub identity_twice: bool,
    /// `-o`, `-p`, `-F` as (flag letter, value), in order.
    pub ssh_opts: Vec<(char, String)>,
    /// The operands: exactly one (`[user@]hostname`) is valid.
    pub operands: Vec<String>,
}

/// One `-i`, with whether `-f` came before it: ssh-copy-id decides then whether the
/// private key must be readable (it is needed only to filter installed keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityArg {
    /// The file named, `None` for an empty argument (the newest `~/.ssh/id*.pub`).
    pub file: Option<String>,
    /// Whether `-f` preceded it.
    pub forced_before: bool,
}

/// Why the flags are unusable; each exits 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    /// An unknown flag, a missing value, `-h` or `-?`: print the usage.
    Usage,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Options, ArgsError> {
    use lexopt::Arg::{Long, Short, Value};
    let mut parser = lexopt::Parser::from_args(args);
    let mut opts = Options::default();
    loop {
        let arg = parser.next().map_err(|_| ArgsError::Usage)?;
        let Some(arg) = arg else { break };
        match arg {
            Short('f') => opts.forced = true,
            Short('n') => opts.dry_run = true,
            Short('s') => opts.sftp = true,
            Short('i') => {
                let value = value_of(&mut parser)?;
                if opts.identity.is_some() {
                    opts.identity_twice = true;
                    break;
                }
                opts.identity = Some(IdentityArg {
                    file: (!value.is_empty()).then_some(value),
                    forced_before: opts.forced,
                });
            }
            Short(flag @ ('o' | 'p' | 'F')) => {
                let value = value_of(&mut parser)?;
                opts.ssh_opts.push((flag, value));
            }
            Value(first) => {
                opts.operands.push(first.to_string_lossy().into_owned());
                // getopts stops at the first operand: the rest are operands too.
                let rest = parser.raw_args().map_err(|_| ArgsError::Usage)?;
                opts.operands
                    .extend(rest.map(|a| a.to_string_lossy().into_owned()));
                break;
            }
            Short(_) | Long(_) => return Err(ArgsError::Usage),
        }
    }
    Ok(opts)
}

fn value_of(parser: &mut lexopt::Parser) -> Result<String, ArgsError> {
    parser
        .value()
        .map(|v| v.to_string_lossy().into_owned())
        .map_err(|_| ArgsError::Usage)
}

/// The usage text ssh-copy-id prints (to stderr) before exiting 1.
pub fn usage(prog: &str) -> String {
    format!(
        "Usage: {prog} [-h|-?|-f|-n|-s] [-i [identity_file]] [-p port] \
         [-F alternative ssh_config file] [[-o <ssh -o options>] ...] [user@]hostname\n\
         \t-f: force mode -- copy keys without trying to check if they are already installed\n\
         \t-n: dry run    -- no keys are actually copied\n\
         \t-s: use sftp   -- use sftp instead of executing remote-commands. \
         Can be useful if the remote only allows sftp\n\
         \t-h|-?: print this help\n"
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, ArgsError> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn options_stop_at_the_host_and_keep_ssh_flags_in_order() {
        let o = p(&["-p22", "-o", "A=b", "-F", "cfg", "u@h", "-n"]).unwrap();
        assert_eq!(
            o.ssh_opts,
            vec![('p', "22".into()), ('o', "A=b".into()), ('F', "cfg".into())]
        );
        assert_eq!(o.operands, vec!["u@h".to_owned(), "-n".to_owned()]);
        assert!(!o.dry_run);
    }

    #[test]
    fn identity_remembers_whether_force_came_first() {
        let o = p(&["-f", "-i", "k", "h"]).unwrap();
        assert_eq!(
            o.identity,
            Some(IdentityArg {
                file: Some("k".into()),
                forced_before: true
            })
        );
        let o = p(&["-i", "", "-f", "h"]).unwrap();
        assert_eq!(
            o.identity,
            Some(IdentityArg {
                file: None,
                forced_before: false
            })
        );
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        assert_eq!(p(&["-x", "h"]), Err(ArgsError::Usage));
        assert_eq!(p(&["-h"]), Err(ArgsError::Usage));
        assert_eq!(p(&["h", "-i"]).unwrap().operands.len(), 2);
        assert_eq!(p(&["-i"]), Err(ArgsError::Usage));
        assert!(p(&["-i", "a", "-i", "b"]).unwrap().identity_twice);
    }
}
