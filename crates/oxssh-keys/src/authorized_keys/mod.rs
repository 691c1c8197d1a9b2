//! authorized_keys files (sshd(8) "AUTHORIZED_KEYS FILE FORMAT"): each line is parsed
//! once into an [`AuthorizedKey`] (typed [`KeyOptions`], the key, the comment), with the
//! rules of OpenSSH's `auth_check_authkey_line`:
//!
//! - blank lines and lines whose first non-blank character is `#` are skipped;
//! - a line that starts with a key (`type base64 [comment]`) has no options; otherwise
//!   the options field runs to the first blank outside double quotes and the key
//!   follows it;
//! - a line whose key or options do not parse is an error for that line only: sshd logs
//!   it and goes on with the next line, and so should the caller;
//! - a `cert-authority` line names a CA for user certificates; it never authorizes its
//!   own key as a plain key ([`AuthorizedKey::authorizes`]).
//!
//! What the options *mean* for a session (matching `from=` against the client, the
//! expiry clock and zone, `PermitUserEnvironment`) is the server's business: this module
//! only parses, and does no I/O. Lines are bounded by [`MAX_LINE_LEN`], the limit
//! sshd(8) documents.

mod cert;
mod expiry;
mod options;
mod permit;

pub use cert::{CertOptionError, CertRestrictions};
pub use expiry::ExpiryTime;
pub use options::{split_options, KeyOptions, OptionsError, Permission};
pub use permit::{PermitPort, PermitTarget, Tunnel};

use crate::public::{KeyError, PublicKey};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use oxssh_wire::names::key;

/// Longest line accepted, in bytes (without its newline): sshd(8) says lines go "up to
/// a limit of 8 kilobytes, which permits RSA keys up to 16 kilobits". (OpenSSH 9 reads
/// lines of any length; a longer line here is an error for that line.)
pub const MAX_LINE_LEN: usize = 8 * 1024;

/// Most characters of file text quoted in an error, so a hostile line cannot flood logs.
const EXCERPT_CHARS: usize = 50;

/// Key type words this crate can read: the names in the blob, RSA's signature names
/// (OpenSSH accepts them as the type word of an RSA key).
const SUPPORTED_TYPES: &[&str] = &[
    key::SSH_ED25519,
    key::ECDSA_SHA2_NISTP256,
    key::ECDSA_SHA2_NISTP384,
    key::ECDSA_SHA2_NISTP521,
    key::SSH_RSA,
    key::RSA_SHA2_256,
    key::RSA_SHA2_512,
];

/// Key type words OpenSSH 9 reads that this crate does not (sshkey.c `keyimpls`): lines
/// with them are reported as [`AuthorizedKeysError::UnsupportedKeyType`], not as
/// garbage.
const UNSUPPORTED_TYPES: &[&str] = &[
    "ssh-dss",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "ssh-dss-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
];

/// Short type names OpenSSH also accepts as the type word, in any case.
const SHORT_TYPES: &[&str] = &["ED25519", "ED25519-SK", "RSA", "DSA", "ECDSA", "ECDSA-SK"];

/// Why one line is not a usable entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizedKeysError {
    /// Longer than [`MAX_LINE_LEN`].
    #[error("line longer than {MAX_LINE_LEN} bytes")]
    LineTooLong,
    /// The options field does not parse (OpenSSH: "bad key options: ...").
    #[error("bad key options: {0}")]
    Options(#[from] OptionsError),
    /// Only an options field, no key after it.
    #[error("no key after the options")]
    MissingKey,
    /// The word where the key type belongs is not a key type (holds its start).
    #[error("unknown key type {0:?}")]
    UnknownKeyType(String),
    /// A key type OpenSSH knows but this crate does not handle (DSA, FIDO security
    /// keys, certificates).
    #[error("unsupported key type {0}")]
    UnsupportedKeyType(String),
    /// The key type with nothing after it.
    #[error("missing key data after the key type")]
    MissingKeyData,
    /// The key data is not base64.
    #[error("key data is not valid base64")]
    BadBase64,
    /// The type word names another type than the key data holds.
    #[error("key type {word} does not match the key data ({blob})")]
    TypeMismatch {
        /// The type word on the line.
        word: String,
        /// The type inside the key data.
        blob: String,
    },
    /// The key data does not decode to a valid key.
    #[error("invalid key: {0}")]
    InvalidKey(KeyError),
}

/// One usable authorized_keys line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedKey {
    /// Its options ([`KeyOptions::default`] when it has none).
    pub options: KeyOptions,
    /// The key (for a `cert-authority` line, the CA's key).
    pub key: PublicKey,
    /// The comment after the key, blanks trimmed (empty when none).
    pub comment: String,
}

impl AuthorizedKey {
    /// Whether this line lets `key` in as a plain public key: the same key, on a line
    /// without `cert-authority` (OpenSSH ignores CA lines for plain keys). The server
    /// still has to apply the options (`from=`, `expiry-time`, ...).
    pub fn authorizes(&self, key: &PublicKey) -> bool {
        !self.options.is_cert_authority() && self.key == *key
    }

    /// Whether this line trusts `ca` to sign user certificates (`cert-authority` and the
    /// same key).
    pub fn trusts_ca(&self, ca: &PublicKey) -> bool {
        self.options.is_cert_authority() && self.key == *ca
    }
}

/// Parses one line (with or without its `\n`). `Ok(None)` for a blank or comment line.
pub fn parse_line(line: &str) -> Result<Option<AuthorizedKey>, AuthorizedKeysError> {
    if line.len() > MAX_LINE_LEN {
        return Err(AuthorizedKeysError::LineTooLong);
    }
    let text = line
        .trim_start_matches(is_blank)
        .trim_end_matches(['\n', '\r']);
    if text.is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    let (first_word, _) = split_word(text);
    // sshd first tries to read a key at the start of the line and only looks for options
    // when that fails; no option name is a key type, so the first word decides.
    let (field, key_text) = if is_key_type(first_word) {
        ("", text)
    } else {
        let (field, rest) = split_options(text)?;
        (field, rest.trim_start_matches(is_blank))
    };
    if key_text.is_empty() {
        return Err(AuthorizedKeysError::MissingKey);
    }
    // As sshd: the key is read before the options are, so a line with no usable key is
    // reported for its key.
    let (key, comment) = read_key(key_text)?;
    let options = KeyOptions::parse(field)?;
    Ok(Some(AuthorizedKey {
        options,
        key,
        comment: comment.trim_end_matches(is_blank).to_owned(),
    }))
}

/// Parses a whole file's text: every line that is not blank or a comment, with its
/// 1-based line number, in file order. Bad lines come out as errors among the good
/// ones, for the caller to log ("file:line: reason") and skip. The file is text; a
/// caller reading bytes converts with `String::from_utf8_lossy`, so that a stray byte in
/// one comment spoils nothing.
pub fn parse_file(
    text: &str,
) -> impl Iterator<Item = (usize, Result<AuthorizedKey, AuthorizedKeysError>)> + '_ {
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| parse_line(line).transpose().map(|r| (index + 1, r)))
}

/// The first entry that authorizes `key` as a plain key (see
/// [`AuthorizedKey::authorizes`]).
///
/// sshd goes on to the next matching line when a line's options refuse the login (an
/// expired entry, a `from=` that does not match); a server doing the same filters with
/// [`AuthorizedKey::authorizes`] and checks each candidate in turn.
pub fn find_key<'a, I>(entries: I, key: &PublicKey) -> Option<&'a AuthorizedKey>
where
    I: IntoIterator<Item = &'a AuthorizedKey>,
{
    entries.into_iter().find(|entry| entry.authorizes(key))
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The first blank-separated word and the text after the blanks that follow it.
fn split_word(text: &str) -> (&str, &str) {
    match text.find(is_blank) {
        Some(end) => {
            let (word, rest) = text.split_at(end);
            (word, rest.trim_start_matches(is_blank))
        }
        None => (text, ""),
    }
}

/// Whether OpenSSH reads `word` as a key type (sshkey.c `sshkey_type_from_name`).
fn is_key_type(word: &str) -> bool {
    SUPPORTED_TYPES.contains(&word)
        || UNSUPPORTED_TYPES.contains(&word)
        || SHORT_TYPES.iter().any(|s| s.eq_ignore_ascii_case(word))
}

/// Whether the type word `word` may introduce `key` (sshkey.c `sshkey_read`: same key
/// type, and for ECDSA the same curve, which a short name does not give).
fn word_names_key(word: &str, key: &PublicKey) -> bool {
    match key {
        PublicKey::Ed25519(_) => word == key::SSH_ED25519 || word.eq_ignore_ascii_case("ED25519"),
        PublicKey::Rsa { .. } => {
            [key::SSH_RSA, key::RSA_SHA2_256, key::RSA_SHA2_512].contains(&word)
                || word.eq_ignore_ascii_case("RSA")
        }
        PublicKey::Ecdsa { curve, .. } => word == curve.key_type(),
    }
}

/// Reads `type base64 [comment]`; returns the key and the comment text.
fn read_key(text: &str) -> Result<(PublicKey, &str), AuthorizedKeysError> {
    let (word, rest) = split_word(text);
    if !is_key_type(word) {
        return Err(AuthorizedKeysError::UnknownKeyType(excerpt(word)));
    }
    let (data, comment) = split_word(rest);
    if data.is_empty() {
        return Err(AuthorizedKeysError::MissingKeyData);
    }
    let blob = STANDARD
        .decode(data)
        .map_err(|_| AuthorizedKeysError::BadBase64)?;
    let key = match PublicKey::from_blob(&blob) {
        Ok(key) => key,
        Err(KeyError::UnknownType(blob_type)) if blob_type == word => {
            return Err(AuthorizedKeysError::UnsupportedKeyType(excerpt(word)));
        }
        Err(KeyError::UnknownType(blob_type)) => {
            return Err(AuthorizedKeysError::TypeMismatch {
                word: excerpt(word),
                blob: excerpt(&blob_type),
            });
        }
        Err(e) => return Err(AuthorizedKeysError::InvalidKey(e)),
    };
    if !word_names_key(word, &key) {
        return Err(AuthorizedKeysError::TypeMismatch {
            word: excerpt(word),
            blob: key.key_type().to_owned(),
        });
    }
    Ok((key, comment))
}

/// The start of some file text, for an error message.
fn excerpt(text: &str) -> String {
    text.chars().take(EXCERPT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxssh_wire::Writer;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDFizRxMOhLdaFb+sPqvhwUtDRErfHbGOLDyU8SdzMXU";

    fn ed_key() -> PublicKey {
        PublicKey::from_openssh(ED).unwrap()
    }

    fn entry(line: &str) -> AuthorizedKey {
        parse_line(line)
            .unwrap_or_else(|e| panic!("{line:?}: {e}"))
            .unwrap_or_else(|| panic!("{line:?}: skipped"))
    }

    #[test]
    fn blank_and_comment_lines_are_skipped() {
        for line in [
            "",
            "   ",
            "\t",
            "# comment",
            "  # indented comment",
            "\r",
            "\n",
        ] {
            assert_eq!(parse_line(line), Ok(None), "{line:?}");
        }
    }

    #[test]
    fn plain_line_has_default_options_and_comment() {
        let e = entry(&format!("{ED} user@host  extra words \r\n"));
        assert_eq!(e.key, ed_key());
        assert_eq!(e.options, KeyOptions::default());
        assert_eq!(e.comment, "user@host  extra words");
        assert_eq!(entry(&format!("  {ED}")).comment, "");
    }

    #[test]
    fn options_come_before_the_key() {
        let e = entry(&format!(r#"command="echo \"hi, there\"",no-pty {ED} c"#));
        assert_eq!(e.options.forced_command(), Some(r#"echo "hi, there""#));
        assert!(!e.options.pty_allowed());
        assert_eq!(e.key, ed_key());
        assert_eq!(e.comment, "c");
    }

    #[test]
    fn short_and_signature_type_words_are_accepted() {
        let short = ED.replace("ssh-ed25519", "ED25519");
        assert_eq!(entry(&short).key, ed_key());
        let wrong = ED.replace("ssh-ed25519", "ssh-rsa");
        assert!(matches!(
            parse_line(&wrong),
            Err(AuthorizedKeysError::TypeMismatch { .. })
        ));
    }

    #[test]
    fn bad_key_lines_are_errors() {
        assert_eq!(
            parse_line("ssh-ed25519"),
            Err(AuthorizedKeysError::MissingKeyData)
        );
        assert_eq!(
            parse_line("ssh-ed25519 !!!notbase64"),
            Err(AuthorizedKeysError::BadBase64)
        );
        assert_eq!(parse_line("no-pty"), Err(AuthorizedKeysError::MissingKey));
        assert_eq!(
            parse_line("no-pty   "),
            Err(AuthorizedKeysError::MissingKey)
        );
        assert_eq!(
            parse_line("no-pty foo AAAA"),
            Err(AuthorizedKeysError::UnknownKeyType("foo".into()))
        );
        assert!(matches!(
            parse_line("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAAQ=="),
            Err(AuthorizedKeysError::InvalidKey(_))
        ));
    }

    #[test]
    fn option_errors_are_reported_after_the_key_parses() {
        assert_eq!(
            parse_line(&format!("bogus {ED}")),
            Err(AuthorizedKeysError::Options(OptionsError::UnknownOption(
                "bogus".into()
            )))
        );
        assert_eq!(
            parse_line(&format!("command=\"x {ED}")),
            Err(AuthorizedKeysError::Options(
                OptionsError::UnterminatedQuote
            ))
        );
    }

    #[test]
    fn unsupported_but_known_types_are_named() {
        let mut blob = Vec::new();
        Writer::new(&mut blob).string(b"ssh-dss").string(&[1; 8]);
        let line = format!("ssh-dss {}", STANDARD.encode(&blob));
        assert_eq!(
            parse_line(&line),
            Err(AuthorizedKeysError::UnsupportedKeyType("ssh-dss".into()))
        );
    }

    #[test]
    fn overlong_lines_are_errors() {
        let line = format!("{ED} {}", "c".repeat(MAX_LINE_LEN));
        assert_eq!(parse_line(&line), Err(AuthorizedKeysError::LineTooLong));
        let fits = format!("{ED} {}", "c".repeat(MAX_LINE_LEN - ED.len() - 1));
        assert!(parse_line(&fits).is_ok());
    }

    #[test]
    fn cert_authority_line_does_not_authorize_the_plain_key() {
        let ca = entry(&format!("cert-authority,principals=\"a\" {ED}"));
        assert!(!ca.authorizes(&ed_key()));
        assert!(ca.trusts_ca(&ed_key()));
        let plain = entry(ED);
        assert!(plain.authorizes(&ed_key()));
        assert!(!plain.trusts_ca(&ed_key()));
        let entries = [ca, plain];
        assert_eq!(
            find_key(&entries, &ed_key()).map(|e| &e.comment),
            Some(&String::new())
        );
        assert!(find_key(entries.iter().take(1), &ed_key()).is_none());
    }

    #[test]
    fn file_lines_are_numbered_and_errors_stay_per_line() {
        let text =
            format!("# keys\n\nbogus {ED}\nrestrict {ED} second\r\ncommand=\"x {ED}\n{ED} last");
        let parsed: Vec<_> = parse_file(&text).collect();
        let numbers: Vec<usize> = parsed.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [3, 4, 5, 6]);
        assert!(parsed[0].1.is_err());
        assert_eq!(
            parsed[1].1.as_ref().map(|e| e.comment.as_str()),
            Ok("second")
        );
        assert!(parsed[2].1.is_err());
        assert_eq!(parsed[3].1.as_ref().map(|e| e.comment.as_str()), Ok("last"));
    }
}
