//! known_hosts files (OpenSSH sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): reading them and
//! answering "is this the key of this host?" exactly as OpenSSH's client does
//! (hostfile.c `check_key_in_hostkeys`), plus the edits ssh and ssh-keygen make
//! ([`append_entry`], `-F` [`find`], `-R` [`remove`]).
//!
//! A host is looked up by its *name*: the lowercased host, or `[host]:port` for a port
//! other than 22 ([`host_key_name`]). Every file line whose host column matches the name
//! contributes; lines that do not parse are skipped and kept in
//! [`KnownHosts::bad_lines`] with their `file:line`, as OpenSSH skips them with a debug
//! message.
//!
//! Verdicts follow OpenSSH 9.2, including one that surprises: a known key of a *different
//! type* for the host is a changed key (OpenSSH prints "REMOTE HOST IDENTIFICATION HAS
//! CHANGED" and names it as the offending key), not an unknown host. OpenSSH avoids
//! the case by preferring the host key algorithms it already knows for the host
//! ([`KnownHosts::known_keys`] gives the client that list).

mod edit;
mod hostname;
mod line;

pub use edit::{
    append_entry, entry_line, find, find_in, hash_file, hash_host, remove, FoundLine, HashOutcome,
    RemoveOutcome,
};
pub use hostname::{hash_name, match_hostname, HostField, PatternMatch, HASH_MAGIC, SALT_LEN};
pub use line::{BadReason, KnownKey, Marker, CA_MARKER, REVOKE_MARKER};

use crate::public::PublicKey;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The default SSH port: names on it are written without `[...]:port`.
pub const DEFAULT_PORT: u16 = 22;

/// The name a host is known by: `host` lowercased, or `[host]:port` when the port is
/// neither 22 nor 0 (OpenSSH misc.c `put_host_port`, with ssh's lowercasing).
pub fn host_key_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 0 || port == DEFAULT_PORT {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// Where a line came from, shown as `file:line`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file, as it was named when loaded.
    pub path: Arc<Path>,
    /// 1-based line number.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

/// A line that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// Where.
    pub location: Location,
    /// Why.
    pub reason: BadReason,
}

/// One usable known_hosts line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownHostEntry {
    location: Location,
    marker: Marker,
    hosts: HostField,
    key: KnownKey,
    comment: String,
    line: String,
}

impl KnownHostEntry {
    /// Where the line is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Its marker.
    pub fn marker(&self) -> Marker {
        self.marker
    }

    /// The host column.
    pub fn hosts(&self) -> &HostField {
        &self.hosts
    }

    /// The host column as OpenSSH shows it to users: `[hashed name]` for a hashed one.
    pub fn display_hosts(&self) -> &str {
        if self.hosts.is_hashed() {
            "[hashed name]"
        } else {
            self.hosts.as_str()
        }
    }

    /// The key on the line.
    pub fn key(&self) -> &KnownKey {
        &self.key
    }

    /// The comment after the key (empty when none).
    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// The whole line as read (invalid UTF-8 replaced).
    pub fn line(&self) -> &str {
        &self.line
    }

    /// Whether the line's host column matches `name`.
    pub fn matches(&self, name: &str) -> bool {
        self.hosts.matches(name)
    }

    fn holds(&self, key: &PublicKey) -> bool {
        self.key.public_key() == Some(key)
    }
}

/// The verdict on a host key (OpenSSH's `HostStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostKeyMatch<'a> {
    /// The key is known for this host (the first line holding it).
    Found(&'a KnownHostEntry),
    /// Other keys are known for this host and this one is not among them.
    Changed {
        /// The line OpenSSH names as "Offending KEYTYPE key in file:line" (the last
        /// non-matching one it met).
        offending: &'a KnownHostEntry,
        /// Every plain key known for the host, in file order.
        known: Vec<&'a KnownHostEntry>,
    },
    /// No plain key is known for this host.
    NotFound,
    /// The key is marked `@revoked` for this host; this overrides every other verdict.
    Revoked(&'a KnownHostEntry),
}

/// The contents of one or more known_hosts files, in the order they were loaded
/// (`UserKnownHostsFile` entries, then `GlobalKnownHostsFile` ones).
#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    entries: Vec<KnownHostEntry>,
    bad_lines: Vec<BadLine>,
}

impl KnownHosts {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the contents of one file; `path` only labels the entries.
    pub fn parse(path: &Path, bytes: &[u8]) -> Self {
        let mut known = Self::new();
        known.add_bytes(path, bytes);
        known
    }

    /// Adds the lines of a file's contents; `path` only labels the entries.
    pub fn add_bytes(&mut self, path: &Path, bytes: &[u8]) {
        let path: Arc<Path> = Arc::from(path);
        for (index, raw) in lines(bytes).enumerate() {
            let location = Location {
                path: Arc::clone(&path),
                line: index + 1,
            };
            let text = String::from_utf8_lossy(raw);
            match parse_entry(&text) {
                Ok(None) => {}
                Ok(Some((marker, hosts, key, comment))) => self.entries.push(KnownHostEntry {
                    location,
                    marker,
                    hosts,
                    key,
                    comment: comment.to_owned(),
                    line: text.into_owned(),
                }),
                Err(reason) => self.bad_lines.push(BadLine { location, reason }),
            }
        }
    }

    /// Adds a file; a missing file adds nothing, as in OpenSSH.
    ///
    /// # Errors
    /// Any I/O error other than the file not existing.
    pub fn add_file(&mut self, path: &Path) -> io::Result<()> {
        match std::fs::read(path) {
            Ok(bytes) => {
                self.add_bytes(path, &bytes);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Loads one file (missing = empty).
    ///
    /// # Errors
    /// As [`KnownHosts::add_file`].
    pub fn load(path: &Path) -> io::Result<Self> {
        let mut known = Self::new();
        known.add_file(path)?;
        Ok(known)
    }

    /// Every usable line.
    pub fn entries(&self) -> &[KnownHostEntry] {
        &self.entries
    }

    /// The lines that were skipped, with `file:line`.
    pub fn bad_lines(&self) -> &[BadLine] {
        &self.bad_lines
    }

    /// The lines whose host column matches `name` (any marker).
    pub fn matching(&self, name: &str) -> Vec<&KnownHostEntry> {
        self.entries.iter().filter(|e| e.matches(name)).collect()
    }

    /// Checks the key `host` presented on `port` ([`host_key_name`] builds the name).
    pub fn check(&self, host: &str, port: u16, key: &PublicKey) -> HostKeyMatch<'_> {
        self.check_name(&host_key_name(host, port), key)
    }

    /// Checks `key` for an already-built name (a `HostKeyAlias`, or the address for
    /// `CheckHostIP`). The name is used as given.
    pub fn check_name(&self, name: &str, key: &PublicKey) -> HostKeyMatch<'_> {
        let matching = self.matching(name);
        if let Some(revoked) = matching
            .iter()
            .find(|e| e.marker == Marker::Revoked && e.holds(key))
        {
            return HostKeyMatch::Revoked(revoked);
        }
        let known: Vec<&KnownHostEntry> = matching
            .into_iter()
            .filter(|e| e.marker == Marker::None)
            .collect();
        if let Some(found) = known.iter().find(|e| e.holds(key)) {
            return HostKeyMatch::Found(found);
        }
        match known.last() {
            Some(&offending) => HostKeyMatch::Changed { offending, known },
            None => HostKeyMatch::NotFound,
        }
    }

    /// The plain keys known for `name`, in file order: the key types a client should
    /// prefer for this host (OpenSSH's `order_hostkeyalgs`), and what its "keys of a
    /// different type are already known" note lists.
    pub fn known_keys(&self, name: &str) -> Vec<&KnownHostEntry> {
        self.matching(name)
            .into_iter()
            .filter(|e| e.marker == Marker::None)
            .collect()
    }

    /// The `@cert-authority` keys trusted for `name` (for host certificates, later).
    pub fn cert_authorities(&self, name: &str) -> Vec<&KnownHostEntry> {
        self.matching(name)
            .into_iter()
            .filter(|e| e.marker == Marker::CertAuthority)
            .collect()
    }

    /// Plain lines holding `key` under names that do *not* match `name`: what OpenSSH
    /// lists as "This host key is known by the following other names/addresses".
    pub fn other_names<'a>(&'a self, name: &str, key: &PublicKey) -> Vec<&'a KnownHostEntry> {
        self.entries
            .iter()
            .filter(|e| e.marker == Marker::None && e.holds(key) && !e.matches(name))
            .collect()
    }
}

/// A parsed line: marker, host column, key, comment.
type Parsed<'a> = (Marker, HostField, KnownKey, &'a str);

/// Parses one line fully; `Ok(None)` for blank and comment lines.
fn parse_entry(text: &str) -> Result<Option<Parsed<'_>>, BadReason> {
    match line::split(text) {
        line::RawLine::Blank => Ok(None),
        line::RawLine::BadMarker => Err(BadReason::InvalidMarker),
        line::RawLine::Entry {
            marker,
            hosts,
            rest,
        } => {
            let hosts = line::host_field(hosts)?;
            let (key, comment) = line::parse_key(rest)?;
            Ok(Some((marker, hosts, key, comment)))
        }
    }
}

/// The file's lines without their `\n` (getline semantics: a last line without a
/// newline still counts; `\r` is kept, as OpenSSH keeps it).
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let empty = bytes.is_empty();
    body.split(|&b| b == b'\n').filter(move |_| !empty)
}

/// Why a known_hosts file could not be changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KnownHostsError {
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// `remove` found lines it cannot parse and left the file alone, as `ssh-keygen -R`
    /// refuses with "FILE is not a valid known_hosts file.".
    #[error("{} is not a valid known_hosts file.", path.display())]
    InvalidFile {
        /// The file.
        path: PathBuf,
        /// The 1-based numbers of the invalid lines.
        lines: Vec<usize>,
    },
    /// The key could not be encoded.
    #[error(transparent)]
    Key(#[from] crate::public::KeyError),
    /// The system random generator failed (salt for a hashed name).
    #[error("random number generator failure")]
    Random,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDFizRxMOhLdaFb+sPqvhwUtDRErfHbGOLDyU8SdzMXU";

    fn ed(byte: u8) -> PublicKey {
        PublicKey::Ed25519([byte; 32])
    }

    fn line(host: &str, key: &PublicKey) -> String {
        format!("{host} {}\n", key.to_openssh().unwrap())
    }

    fn known(text: &str) -> KnownHosts {
        KnownHosts::parse(Path::new("kh"), text.as_bytes())
    }

    #[test]
    fn names_use_brackets_only_off_port_22() {
        assert_eq!(host_key_name("Example.COM", 22), "example.com");
        assert_eq!(host_key_name("example.com", 0), "example.com");
        assert_eq!(host_key_name("::1", 2222), "[::1]:2222");
    }

    #[test]
    fn finds_the_key_among_several_lines_and_keys() {
        let text = format!(
            "{}{}{}",
            line("other", &ed(1)),
            line("a,b", &ed(2)),
            line("b", &ed(3))
        );
        let kh = known(&text);
        match kh.check("b", 22, &ed(3)) {
            HostKeyMatch::Found(e) => assert_eq!(e.location().to_string(), "kh:3"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(kh.check("a", 22, &ed(2)), HostKeyMatch::Found(_)));
        assert_eq!(kh.check("c", 22, &ed(2)), HostKeyMatch::NotFound);
        // The same key for the same host on port 2222 is another name.
        assert_eq!(kh.check("b", 2222, &ed(3)), HostKeyMatch::NotFound);
    }

    #[test]
    fn a_different_key_is_a_change_naming_the_last_offender() {
        let rsa = PublicKey::Rsa {
            e: vec![1, 0, 1],
            n: vec![0xc5; 256],
        };
        let text = format!("{}{}", line("h", &ed(1)), line("h", &rsa));
        let kh = known(&text);
        match kh.check("h", 22, &ed(9)) {
            HostKeyMatch::Changed { offending, known } => {
                assert_eq!(offending.location().line, 2);
                assert_eq!(known.len(), 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn revoked_overrides_found_and_ca_lines_are_not_host_keys() {
        let text = format!(
            "{}@revoked * {}\n@cert-authority *.ex {}\n",
            line("h", &ed(1)),
            ed(1).to_openssh().unwrap(),
            ed(5).to_openssh().unwrap()
        );
        let kh = known(&text);
        assert!(
            matches!(kh.check("h", 22, &ed(1)), HostKeyMatch::Revoked(e) if e.location().line == 2)
        );
        assert_eq!(kh.check("a.ex", 22, &ed(5)), HostKeyMatch::NotFound);
        assert_eq!(kh.cert_authorities("a.ex").len(), 1);
        assert_eq!(
            kh.cert_authorities("a.ex")[0].marker(),
            Marker::CertAuthority
        );
    }

    #[test]
    fn negated_patterns_exclude() {
        let kh = known(&line("*.ex,!bad.ex", &ed(1)));
        assert!(matches!(
            kh.check("good.ex", 22, &ed(1)),
            HostKeyMatch::Found(_)
        ));
        assert_eq!(kh.check("bad.ex", 22, &ed(1)), HostKeyMatch::NotFound);
    }

    #[test]
    fn bad_lines_are_skipped_with_their_location() {
        let text = format!(
            "# comment\n\ngarbage\nh ssh-ed25519\n@bogus h {ED_A}\n|1|AAAA|BBBB {ED_A}\nh ssh-ed25519 AAAA\nh {ED_A}"
        );
        let kh = known(&text);
        let bad: Vec<(usize, BadReason)> = kh
            .bad_lines()
            .iter()
            .map(|b| (b.location.line, b.reason))
            .collect();
        assert_eq!(
            bad,
            [
                (3, BadReason::TruncatedBeforeKeyType),
                (4, BadReason::BadKeyType),
                (5, BadReason::InvalidMarker),
                (6, BadReason::BadHash),
                (7, BadReason::BadKey),
            ]
        );
        assert_eq!(kh.entries().len(), 1);
        assert_eq!(kh.entries()[0].location().line, 8);
    }

    #[test]
    fn other_key_types_count_as_known_keys() {
        // A DSA key: its blob type is one OpenSSH reads, so it is a known (different) key.
        let mut blob = Vec::new();
        oxssh_wire::Writer::new(&mut blob)
            .string(b"ssh-dss")
            .mpint_unsigned(&[7; 20]);
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&blob);
        let kh = known(&format!("h ssh-dss {b64}\n"));
        assert!(matches!(
            kh.check("h", 22, &ed(1)),
            HostKeyMatch::Changed { offending, .. } if offending.key().key_type() == "ssh-dss"
        ));
    }

    #[test]
    fn other_names_lists_the_same_key_elsewhere() {
        let text = format!(
            "{}{}{}",
            line("alias", &ed(1)),
            line("h", &ed(1)),
            line("x", &ed(2))
        );
        let kh = known(&text);
        let names: Vec<&str> = kh
            .other_names("h", &ed(1))
            .iter()
            .map(|e| e.display_hosts())
            .collect();
        assert_eq!(names, ["alias"]);
    }

    #[test]
    fn line_splitting_follows_getline() {
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"\n").collect::<Vec<_>>(), [b""]);
        assert_eq!(lines(b"a\nb").collect::<Vec<_>>(), [&b"a"[..], b"b"]);
        assert_eq!(lines(b"a\nb\n").collect::<Vec<_>>(), [&b"a"[..], b"b"]);
    }
}
