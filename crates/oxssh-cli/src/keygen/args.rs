//! `oxssh-keygen` flags, read with `ssh-keygen`'s getopt semantics (OpenSSH 9.2's option
//! string, no argument permutation) into [`Options`], then resolved into one [`Mode`] with
//! ssh-keygen's precedence (`-s` before `-L`, before `-F/-R/-H`, before `-l`, ...).
//!
//! Usage errors print ssh-keygen's usage text and exit 1; `fatal()` errors exit 255.
//! Flags that ssh-keygen has and we do not implement are refused by name (exit 255),
//! never ignored.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use oxssh_keys::HashAlg;
use zeroize::Zeroizing;

use crate::option_value::{utf8, value, ValueError};

/// ssh-keygen 9.2's usage text, with our program name.
pub const USAGE: &str = "\
usage: oxssh-keygen [-q] [-a rounds] [-b bits] [-C comment] [-f output_keyfile]
                  [-m format] [-N new_passphrase] [-O option]
                  [-t dsa | ecdsa | ecdsa-sk | ed25519 | ed25519-sk | rsa]
                  [-w provider] [-Z cipher]
       oxssh-keygen -p [-a rounds] [-f keyfile] [-m format] [-N new_passphrase]
                   [-P old_passphrase] [-Z cipher]
       oxssh-keygen -i [-f input_keyfile] [-m key_format]
       oxssh-keygen -e [-f input_keyfile] [-m key_format]
       oxssh-keygen -y [-f input_keyfile]
       oxssh-keygen -c [-a rounds] [-C comment] [-f keyfile] [-P passphrase]
       oxssh-keygen -l [-v] [-E fingerprint_hash] [-f input_keyfile]
       oxssh-keygen -F hostname [-lv] [-f known_hosts_file]
       oxssh-keygen -H [-f known_hosts_file]
       oxssh-keygen -R hostname [-f known_hosts_file]
       oxssh-keygen -I certificate_identity -s ca_key [-h] [-n principals]
                  [-V validity_interval] [-z serial_number] file ...
       oxssh-keygen -L [-f input_keyfile]
       oxssh-keygen -A [-a rounds] [-f prefix_path]
       oxssh-keygen -Y find-principals -s signature_file -f allowed_signers_file
       oxssh-keygen -Y check-novalidate -n namespace -s signature_file
       oxssh-keygen -Y sign -f key_file -n namespace file ...
       oxssh-keygen -Y verify -f allowed_signers_file -I signer_identity
                  -n namespace -s signature_file
";

/// What the command line asks for, in ssh-keygen's order of precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Make a key pair (no mode flag).
    Generate,
    /// `-l`: fingerprints of the keys in a file.
    Fingerprint,
    /// `-y`: the public key of a private key file.
    PrintPublic,
    /// `-p`: change the passphrase.
    ChangePassphrase,
    /// `-c`: change the comment.
    ChangeComment,
    /// `-F host`: find a host in known_hosts (`-l` prints fingerprints instead of lines).
    FindHost(String),
    /// `-R host`: remove a host from known_hosts.
    RemoveHost(String),
    /// `-H`: hash the host names of a known_hosts file.
    HashHosts,
    /// `-A`: create the missing host keys.
    AllHostKeys,
    /// `-e`: export a public key (`-m RFC4716|PKCS8|PEM`).
    Export,
    /// `-i`: import a public key.
    Import,
    /// `-Y op`: SSHSIG operations.
    Sig(String),
    /// `-s ca_key`: sign certificates.
    SignCerts,
    /// `-L`: print certificates.
    ShowCert,
}

/// The parsed command line, close to argv.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `-t`
    pub key_type: Option<String>,
    /// `-b`
    pub bits: Option<u32>,
    /// `-f`
    pub file: Option<PathBuf>,
    /// `-N`
    pub new_passphrase: Option<Zeroizing<String>>,
    /// `-P`
    pub old_passphrase: Option<Zeroizing<String>>,
    /// `-C`
    pub comment: Option<String>,
    /// `-q`
    pub quiet: bool,
    /// `-a`
    pub rounds: Option<u32>,
    /// `-E`
    pub hash: HashAlg,
    /// Number of `-v`.
    pub verbose: u8,
    /// `-m`
    pub format: Option<String>,
    /// `-l`
    pub fingerprint: bool,
    /// `-y`
    pub print_public: bool,
    /// `-p`
    pub change_passphrase: bool,
    /// `-c`
    pub change_comment: bool,
    /// `-F`
    pub find_host: Option<String>,
    /// `-R`
    pub remove_host: Option<String>,
    /// `-H`
    pub hash_hosts: bool,
    /// `-A`
    pub all_host_keys: bool,
    /// `-e`
    pub export: bool,
    /// `-i`
    pub import: bool,
    /// `-Y`
    pub sig_op: Option<String>,
    /// `-s`: the CA key (certificates) or the signature file (`-Y`).
    pub s_file: Option<PathBuf>,
    /// `-I`: certificate identity or signer identity.
    pub identity: Option<String>,
    /// `-n`: principals (certificates) or namespace (`-Y`).
    pub n_value: Option<String>,
    /// `-V`
    pub validity: Option<String>,
    /// `-z`
    pub serial: Option<String>,
    /// `-h`
    pub host_cert: bool,
    /// `-L`
    pub show_cert: bool,
    /// Each `-O`, in order: signature (`-Y`) or certificate options.
    pub options: Vec<String>,
    /// Operands after the flags.
    pub operands: Vec<String>,
}

impl Options {
    /// The mode, with ssh-keygen's precedence when several mode flags are given.
    pub fn mode(&self) -> Mode {
        if let Some(op) = &self.sig_op {
            return Mode::Sig(op.clone());
        }
        if self.s_file.is_some() {
            return Mode::SignCerts;
        }
        if self.show_cert {
            return Mode::ShowCert;
        }
        if let Some(host) = &self.remove_host {
            return Mode::RemoveHost(host.clone());
        }
        if self.hash_hosts {
            return Mode::HashHosts;
        }
        if let Some(host) = &self.find_host {
            return Mode::FindHost(host.clone());
        }
        if self.fingerprint {
            return Mode::Fingerprint;
        }
        if self.change_passphrase {
            return Mode::ChangePassphrase;
        }
        if self.change_comment {
            return Mode::ChangeComment;
        }
        if self.export {
            return Mode::Export;
        }
        if self.import {
            return Mode::Import;
        }
        if self.print_public {
            return Mode::PrintPublic;
        }
        if self.all_host_keys {
            return Mode::AllHostKeys;
        }
        Mode::Generate
    }
}

/// A command line that cannot be run; `Display` is the whole text for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    /// Print an optional message, then the usage text; exit 1.
    Usage(Option<String>),
    /// OpenSSH's `fatal()`: print the message; exit 255.
    Fatal(String),
}

impl From<ValueError> for ArgsError {
    fn from(err: ValueError) -> Self {
        err.into_error(|m| Self::Usage(Some(m)), Self::Fatal)
    }
}

impl ArgsError {
    /// The exit status ssh-keygen uses.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 1,
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
            // `fatal()` goes through log.c, which ends lines with CR LF.
            Self::Fatal(message) => write!(f, "{message}\r\n"),
        }
    }
}

impl std::error::Error for ArgsError {}

/// Flags ssh-keygen 9.2 has that we refuse, with what they do.
const UNSUPPORTED: [(char, &str); 15] = [
    ('B', "-B (bubblebabble digests)"),
    ('D', "-D (PKCS#11 keys)"),
    ('G', "-G (moduli candidates, obsolete)"),
    ('J', "-J (moduli screening lines)"),
    ('K', "-K (FIDO resident keys)"),
    ('M', "-M (moduli generation and screening)"),
    ('Q', "-Q (KRL queries)"),
    ('U', "-U (CA keys held in ssh-agent)"),
    ('X', "-X (obsolete moduli screening)"),
    ('Z', "-Z (private key cipher)"),
    ('g', "-g (generic DNS records)"),
    ('j', "-j (moduli screening start line)"),
    ('k', "-k (key revocation lists)"),
    ('r', "-r (SSHFP records)"),
    ('w', "-w (FIDO provider library)"),
];

/// Parses the arguments after the program name.
///
/// # Errors
/// [`ArgsError`] with ssh-keygen's message and exit status.
pub fn parse<I>(args: I) -> Result<Options, ArgsError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut parser = lexopt::Parser::from_args(args.into_iter().map(Into::into));
    let mut opts = Options::default();
    loop {
        match parser.next().map_err(ValueError::from)? {
            None => break,
            Some(lexopt::Arg::Short(flag)) => apply_flag(&mut opts, flag, &mut parser)?,
            Some(lexopt::Arg::Long(name)) => {
                return Err(ArgsError::Usage(Some(format!("unknown option -- -{name}"))));
            }
            Some(lexopt::Arg::Value(first)) => {
                // getopt stops at the first operand.
                opts.operands.push(utf8(first)?);
                for rest in parser.raw_args().map_err(ValueError::from)? {
                    opts.operands.push(utf8(rest)?);
                }
                break;
            }
        }
    }
    // Only signing (-Y sign, certificates) takes operands; ssh-keygen refuses the rest.
    let takes_operands = opts.sig_op.is_some() || opts.s_file.is_some();
    if !opts.operands.is_empty() && !takes_operands {
        return Err(ArgsError::Usage(Some("Too many arguments.".into())));
    }
    Ok(opts)
}

fn apply_flag(
    opts: &mut Options,
    flag: char,
    parser: &mut lexopt::Parser,
) -> Result<(), ArgsError> {
    match flag {
        'A' => opts.all_host_keys = true,
        'H' => opts.hash_hosts = true,
        'L' => opts.show_cert = true,
        'c' => opts.change_comment = true,
        'e' => opts.export = true,
        'h' => opts.host_cert = true,
        'i' => opts.import = true,
        'l' => opts.fingerprint = true,
        'p' => opts.change_passphrase = true,
        'q' => opts.quiet = true,
        'y' => opts.print_public = true,
        'v' => opts.verbose = opts.verbose.saturating_add(1),
        'o' => {} // ssh-keygen 9.2 accepts -o and ignores it: the new format is the default.
        'C' => opts.comment = Some(value(parser, flag)?),
        'E' => {
            let v = value(parser, flag)?;
            opts.hash = match HashAlg::from_option(&v) {
                Some(alg) => alg,
                None if v.eq_ignore_ascii_case("sha1") => {
                    return Err(unsupported("-E sha1 (SHA-1 fingerprints)"))
                }
                None => return Err(ArgsError::Fatal("Invalid hash algorithm".into())),
            };
        }
        'F' => opts.find_host = Some(value(parser, flag)?),
        'I' => opts.identity = Some(value(parser, flag)?),
        'N' => opts.new_passphrase = Some(Zeroizing::new(value(parser, flag)?)),
        'P' => opts.old_passphrase = Some(Zeroizing::new(value(parser, flag)?)),
        'R' => opts.remove_host = Some(value(parser, flag)?),
        'O' => opts.options.push(value(parser, flag)?),
        'V' => opts.validity = Some(value(parser, flag)?),
        'Y' => opts.sig_op = Some(value(parser, flag)?),
        'a' => {
            let v = value(parser, flag)?;
            opts.rounds = Some(parse_number(&v, 1, i32::MAX as u64)? as u32);
        }
        'b' => {
            let v = value(parser, flag)?;
            // ssh-keygen: strtonum(optarg, 1, UINT32_MAX) with "Bits has bad value".
            let bits = parse_number(&v, 1, u64::from(u32::MAX))
                .map_err(|_| ArgsError::Fatal(format!("Bits has bad value {v} (invalid)")))?;
            opts.bits = Some(bits as u32);
        }
        'f' => opts.file = Some(PathBuf::from(value(parser, flag)?)),
        'm' => opts.format = Some(value(parser, flag)?),
        'n' => opts.n_value = Some(value(parser, flag)?),
        's' => opts.s_file = Some(PathBuf::from(value(parser, flag)?)),
        't' => opts.key_type = Some(value(parser, flag)?),
        'z' => opts.serial = Some(value(parser, flag)?),
        other => {
            if let Some((_, what)) = UNSUPPORTED.iter().find(|(f, _)| *f == other) {
                return Err(unsupported(what));
            }
            return Err(ArgsError::Usage(Some(format!("unknown option -- {other}"))));
        }
    }
    Ok(())
}

fn unsupported(what: &str) -> ArgsError {
    ArgsError::Fatal(format!("oxssh-keygen: {what} is not supported"))
}

/// OpenSSH's `strtonum`: decimal within bounds, else `Invalid number: V (invalid)`.
fn parse_number(v: &str, min: u64, max: u64) -> Result<u64, ArgsError> {
    let invalid = || ArgsError::Fatal(format!("Invalid number: {v} (invalid)"));
    let n: i128 = v.trim_start().parse().map_err(|_| invalid())?;
    if n < i128::from(min) {
        return Err(ArgsError::Fatal(format!("Invalid number: {v} (too small)")));
    }
    if n > i128::from(max) {
        return Err(ArgsError::Fatal(format!("Invalid number: {v} (too large)")));
    }
    u64::try_from(n).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> Options {
        parse(args.iter().copied()).unwrap()
    }

    fn err(args: &[&str]) -> ArgsError {
        parse(args.iter().copied()).unwrap_err()
    }

    #[test]
    fn generation_flags_in_getopt_forms() {
        let opts = parse_ok(&["-trsa", "-b", "4096", "-qf", "k", "-N", "", "-Cme", "-a32"]);
        assert_eq!(opts.mode(), Mode::Generate);
        assert_eq!(opts.key_type.as_deref(), Some("rsa"));
        assert_eq!(opts.bits, Some(4096));
        assert_eq!(opts.file, Some(PathBuf::from("k")));
        assert_eq!(opts.new_passphrase.as_deref().map(String::as_str), Some(""));
        assert_eq!(opts.comment.as_deref(), Some("me"));
        assert_eq!(opts.rounds, Some(32));
        assert!(opts.quiet);
    }

    #[test]
    fn modes_follow_ssh_keygen_precedence() {
        assert_eq!(parse_ok(&["-lf", "k"]).mode(), Mode::Fingerprint);
        assert_eq!(
            parse_ok(&["-l", "-F", "h"]).mode(),
            Mode::FindHost("h".into())
        );
        assert_eq!(parse_ok(&["-y", "-l"]).mode(), Mode::Fingerprint);
        assert_eq!(parse_ok(&["-y"]).mode(), Mode::PrintPublic);
        assert_eq!(parse_ok(&["-A"]).mode(), Mode::AllHostKeys);
        assert_eq!(
            parse_ok(&["-Y", "sign", "-n", "git", "f"]).mode(),
            Mode::Sig("sign".into())
        );
    }

    #[test]
    fn usage_errors_exit_1_and_fatal_errors_255() {
        assert_eq!(err(&["-W"]).exit_code(), 1);
        assert_eq!(err(&["-t"]).exit_code(), 1);
        assert_eq!(
            err(&["extra"]),
            ArgsError::Usage(Some("Too many arguments.".into()))
        );
        assert_eq!(
            err(&["-a", "x"]),
            ArgsError::Fatal("Invalid number: x (invalid)".into())
        );
        assert_eq!(err(&["-E", "sha512"]).exit_code(), 255);
    }

    #[test]
    fn unimplemented_flags_are_refused_by_name() {
        for flag in ["-K", "-w", "-Z", "-r", "-B", "-M", "-k"] {
            let e = err(&[flag, "x"]);
            assert_eq!(e.exit_code(), 255, "{flag}");
            assert!(e.to_string().contains("not supported"), "{flag}");
            assert!(e.to_string().contains(flag), "{flag}");
        }
    }
}
