//! One known_hosts line, split the way OpenSSH's `hostkeys_foreach_file` splits it:
//! optional marker, host column, key type, base64 blob, comment. Reading, finding and
//! removing all go through here so that what counts as a bad line is the same
//! everywhere, and the same as OpenSSH.

use super::hostname::HostField;
use crate::public::{KeyError, PublicKey};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use oxssh_wire::Reader;

/// A line marker (`@cert-authority`, `@revoked`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Marker {
    /// A plain host key line.
    None,
    /// `@cert-authority`: the key signs host certificates for the matching hosts.
    CertAuthority,
    /// `@revoked`: the key must never be accepted for the matching hosts.
    Revoked,
}

/// `@cert-authority`.
pub const CA_MARKER: &str = "@cert-authority";
/// `@revoked`.
pub const REVOKE_MARKER: &str = "@revoked";

/// Why a line was skipped; the text OpenSSH logs for it, near enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadReason {
    /// An unknown marker, or more than one.
    InvalidMarker,
    /// A `|`-column that is not a usable `|1|salt|hash`.
    BadHash,
    /// Nothing after the host column.
    TruncatedBeforeKeyType,
    /// A key type OpenSSH does not know, or nothing after it.
    BadKeyType,
    /// The base64 blob does not decode to a key of the stated type.
    BadKey,
}

impl BadReason {
    /// A short description for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidMarker => "invalid marker",
            Self::BadHash => "bad host hash",
            Self::TruncatedBeforeKeyType => "truncated before key type",
            Self::BadKeyType => "invalid key type",
            Self::BadKey => "invalid key",
        }
    }
}

/// A line cut into its columns; nothing is validated past the host column yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawLine<'a> {
    /// Empty, blank or a `#` comment.
    Blank,
    /// A bad marker; nothing else can be trusted.
    BadMarker,
    /// Marker, host column, and everything after the host column's whitespace.
    Entry {
        marker: Marker,
        hosts: &'a str,
        rest: &'a str,
    },
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Splits one line (without its `\n`).
pub(crate) fn split(line: &str) -> RawLine<'_> {
    let cp = line.trim_start_matches(is_ws);
    if cp.is_empty() || cp.starts_with('#') {
        return RawLine::Blank;
    }
    let Some((marker, cp)) = markers(cp) else {
        return RawLine::BadMarker;
    };
    let end = cp.find(is_ws).unwrap_or(cp.len());
    let (hosts, rest) = cp.split_at(end);
    RawLine::Entry {
        marker,
        hosts,
        rest: rest.trim_start_matches(is_ws),
    }
}

/// hostfile.c `check_markers`: at most one marker, ended by whitespace. Like OpenSSH it
/// looks for the first space anywhere on the line before trying a tab.
fn markers(mut cp: &str) -> Option<(Marker, &str)> {
    let mut marker = Marker::None;
    while cp.starts_with('@') {
        if marker != Marker::None {
            return None;
        }
        let end = cp.find(' ').or_else(|| cp.find('\t'))?;
        if end <= 1 || end >= 32 {
            return None;
        }
        marker = match cp.get(..end)? {
            CA_MARKER => Marker::CertAuthority,
            REVOKE_MARKER => Marker::Revoked,
            _ => return None,
        };
        cp = cp.get(end..)?.trim_start_matches(is_ws);
    }
    Some((marker, cp))
}

/// The host column parsed, or why it is bad.
pub(crate) fn host_field(hosts: &str) -> Result<HostField, BadReason> {
    HostField::parse(hosts).ok_or(BadReason::BadHash)
}

/// The key of a line, when it is one this crate can compare, or its raw blob when it is
/// a type OpenSSH reads but we do not (DSA, FIDO security keys, certificates): such a
/// line still counts as "a different key is known" for the host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KnownKey {
    /// Ed25519, ECDSA or RSA.
    Key(PublicKey),
    /// Any other key type OpenSSH knows.
    Other {
        /// The type name inside the blob.
        key_type: String,
        /// The blob.
        blob: Vec<u8>,
    },
}

impl KnownKey {
    /// The key type name inside the blob.
    pub fn key_type(&self) -> &str {
        match self {
            Self::Key(key) => key.key_type(),
            Self::Other { key_type, .. } => key_type,
        }
    }

    /// The key, when it is one this crate handles.
    pub fn public_key(&self) -> Option<&PublicKey> {
        match self {
            Self::Key(key) => Some(key),
            Self::Other { .. } => None,
        }
    }
}

/// Key type names OpenSSH 9.2 reads (sshkey.c `keyimpls`), with the family it maps each
/// to: a line's type word must name the same family as its blob.
const KEY_TYPES: &[(&str, &str)] = &[
    ("ssh-ed25519", "ed25519"),
    ("ssh-ed25519-cert-v01@openssh.com", "ed25519-cert"),
    ("sk-ssh-ed25519@openssh.com", "ed25519-sk"),
    ("sk-ssh-ed25519-cert-v01@openssh.com", "ed25519-sk-cert"),
    ("ssh-rsa", "rsa"),
    ("rsa-sha2-256", "rsa"),
    ("rsa-sha2-512", "rsa"),
    ("ssh-rsa-cert-v01@openssh.com", "rsa-cert"),
    ("rsa-sha2-256-cert-v01@openssh.com", "rsa-cert"),
    ("rsa-sha2-512-cert-v01@openssh.com", "rsa-cert"),
    ("ssh-dss", "dsa"),
    ("ssh-dss-cert-v01@openssh.com", "dsa-cert"),
    ("ecdsa-sha2-nistp256", "ecdsa"),
    ("ecdsa-sha2-nistp384", "ecdsa"),
    ("ecdsa-sha2-nistp521", "ecdsa"),
    ("ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-cert"),
    ("ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-cert"),
    ("ecdsa-sha2-nistp521-cert-v01@openssh.com", "ecdsa-cert"),
    ("sk-ecdsa-sha2-nistp256@openssh.com", "ecdsa-sk"),
    ("webauthn-sk-ecdsa-sha2-nistp256@openssh.com", "ecdsa-sk"),
    (
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ecdsa-sk-cert",
    ),
];

/// Short names OpenSSH also accepts for plain key types, in any case.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("ED25519", "ed25519"),
    ("ED25519-SK", "ed25519-sk"),
    ("RSA", "rsa"),
    ("DSA", "dsa"),
    ("ECDSA", "ecdsa"),
    ("ECDSA-SK", "ecdsa-sk"),
];

/// sshkey.c `sshkey_type_from_name`: the family of a type word, if OpenSSH knows it.
fn family(name: &str) -> Option<&'static str> {
    KEY_TYPES
        .iter()
        .find(|(n, _)| *n == name)
        .or_else(|| {
            SHORT_NAMES
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
        })
        .map(|(_, family)| *family)
}

/// The check `ssh-keygen -F`/`-R` make without decoding the key: a known type word
/// followed by something that is not a comment.
pub(crate) fn key_type_ok(rest: &str) -> Result<(), BadReason> {
    if rest.is_empty() || rest.starts_with('#') {
        return Err(BadReason::TruncatedBeforeKeyType);
    }
    let end = rest.find(is_ws).ok_or(BadReason::BadKeyType)?;
    let (word, after) = rest.split_at(end);
    if word.len() <= 1 || word.len() >= 128 || family(word).is_none() {
        return Err(BadReason::BadKeyType);
    }
    let after = after.trim_start_matches(is_ws);
    if after.is_empty() || after.starts_with('#') {
        return Err(BadReason::BadKeyType);
    }
    Ok(())
}

/// sshkey.c `sshkey_read` as used for known_hosts: type word, base64 blob whose type
/// agrees with the word, then the comment (everything after the blob's whitespace).
pub(crate) fn parse_key(rest: &str) -> Result<(KnownKey, &str), BadReason> {
    if rest.is_empty() || rest.starts_with('#') {
        return Err(BadReason::TruncatedBeforeKeyType);
    }
    let end = rest.find(is_ws).ok_or(BadReason::BadKeyType)?;
    let (word, after) = rest.split_at(end);
    let word_family = family(word).ok_or(BadReason::BadKeyType)?;
    let after = after.trim_start_matches(is_ws);
    if after.is_empty() {
        return Err(BadReason::BadKeyType);
    }
    let end = after.find(is_ws).unwrap_or(after.len());
    let (b64, comment) = after.split_at(end);
    let blob = STANDARD.decode(b64).map_err(|_| BadReason::BadKey)?;
    let blob_type = Reader::new(&blob)
        .utf8()
        .map_err(|_| BadReason::BadKey)?
        .to_owned();
    if family(&blob_type) != Some(word_family) {
        return Err(BadReason::BadKey);
    }
    // ECDSA also needs the same curve; OpenSSH compares the curve of the word with the
    // blob's, so a short name (no curve) or another curve fails.
    if word_family.starts_with("ecdsa") && word_family != "ecdsa-sk" && word != blob_type {
        return Err(BadReason::BadKey);
    }
    let key = match PublicKey::from_blob(&blob) {
        Ok(key) => KnownKey::Key(key),
        Err(KeyError::UnknownType(_)) => KnownKey::Other {
            key_type: blob_type,
            blob,
        },
        Err(_) => return Err(BadReason::BadKey),
    };
    Ok((key, comment.trim_start_matches(is_ws)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDFizRxMOhLdaFb+sPqvhwUtDRErfHbGOLDyU8SdzMXU";

    #[test]
    fn splits_markers_hosts_and_rest() {
        assert_eq!(split("  # c"), RawLine::Blank);
        assert_eq!(split(""), RawLine::Blank);
        assert_eq!(
            split("@cert-authority\t *.ex key"),
            RawLine::BadMarker // the first space comes after the tab: OpenSSH rejects it
        );
        assert_eq!(
            split("@cert-authority  *.ex key"),
            RawLine::Entry {
                marker: Marker::CertAuthority,
                hosts: "*.ex",
                rest: "key"
            }
        );
        assert_eq!(split("@revoked @revoked h k"), RawLine::BadMarker);
        assert_eq!(split("@bogus h k"), RawLine::BadMarker);
        assert_eq!(split("@revoked"), RawLine::BadMarker);
        assert_eq!(
            split("host"),
            RawLine::Entry {
                marker: Marker::None,
                hosts: "host",
                rest: ""
            }
        );
    }

    #[test]
    fn parses_key_and_comment() {
        let text = format!("{ED}  my comment");
        let (key, comment) = parse_key(&text).unwrap();
        assert_eq!(key.key_type(), "ssh-ed25519");
        assert_eq!(comment, "my comment");
        let (_, comment) = parse_key(ED).unwrap();
        assert_eq!(comment, "");
        let short = ED.replace("ssh-ed25519", "ed25519");
        assert!(parse_key(&short).is_ok());
    }

    #[test]
    fn rejects_mismatched_or_broken_keys() {
        let wrong_word = ED.replace("ssh-ed25519", "ssh-rsa");
        assert_eq!(parse_key(&wrong_word).unwrap_err(), BadReason::BadKey);
        assert_eq!(parse_key("ssh-ed25519").unwrap_err(), BadReason::BadKeyType);
        assert_eq!(
            parse_key("ssh-foo AAAA").unwrap_err(),
            BadReason::BadKeyType
        );
        assert_eq!(
            parse_key("ssh-ed25519 !!!!").unwrap_err(),
            BadReason::BadKey
        );
        assert_eq!(
            parse_key("# ssh-ed25519 AAAA").unwrap_err(),
            BadReason::TruncatedBeforeKeyType
        );
    }

    #[test]
    fn type_only_check_is_lenient_about_the_blob() {
        assert!(key_type_ok("ssh-ed25519 garbage").is_ok());
        assert!(key_type_ok("ssh-ed25519 #x").is_err());
        assert!(key_type_ok("1024 35 1234").is_err());
        assert!(key_type_ok("x AAAA").is_err());
    }
}
