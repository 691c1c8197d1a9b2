//! Protocol version exchange (RFC 4253 §4.2): our identification line, and a bounded
//! parser for the peer's.

use crate::error::PeerMisbehaved;

/// Longest identification line, CR LF included (RFC 4253 §4.2).
pub const MAX_VERSION_LINE: usize = 255;
/// Longest line we accept before the server's identification (OpenSSH uses 8 KiB too).
const MAX_PREAMBLE_LINE: usize = 8192;

/// Formats our identification line, CR LF included.
pub fn identification_line(software_version: &str) -> String {
    format!("SSH-2.0-{software_version}\r\n")
}

/// The peer's identification, once complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerVersion {
    /// The whole line without CR LF: the `V_C`/`V_S` hashed into the exchange hash.
    pub line: String,
}

impl PeerVersion {
    /// The software version field (after `SSH-2.0-`, before any comment).
    pub fn software(&self) -> &str {
        let rest = self.line.splitn(3, '-').nth(2).unwrap_or_default();
        rest.split(' ').next().unwrap_or_default()
    }
}

/// Incremental reader of the peer's identification line.
#[derive(Debug)]
pub struct VersionReader {
    allow_preamble: bool,
    max_preamble_lines: usize,
    preamble_lines: usize,
    line: Vec<u8>,
}

impl VersionReader {
    /// `allow_preamble` is true for clients: only a server may send other lines first.
    pub fn new(allow_preamble: bool, max_preamble_lines: usize) -> Self {
        Self {
            allow_preamble,
            max_preamble_lines,
            preamble_lines: 0,
            line: Vec::with_capacity(64),
        }
    }

    /// Feeds bytes; returns how many were consumed and the version once the line is complete.
    /// Bytes after the version line are not consumed: they belong to the packet layer.
    pub fn feed(&mut self, data: &[u8]) -> Result<(usize, Option<PeerVersion>), PeerMisbehaved> {
        for (i, &byte) in data.iter().enumerate() {
            if byte != b'\n' {
                self.line.push(byte);
                let limit = if self.line.starts_with(b"SSH-") || !self.allow_preamble {
                    MAX_VERSION_LINE
                } else {
                    MAX_PREAMBLE_LINE
                };
                if self.line.len() > limit {
                    return Err(PeerMisbehaved::BadVersion("identification line too long"));
                }
                continue;
            }
            if let Some(version) = self.complete_line()? {
                return Ok((i + 1, Some(version)));
            }
        }
        Ok((data.len(), None))
    }

    fn complete_line(&mut self) -> Result<Option<PeerVersion>, PeerMisbehaved> {
        let mut line = std::mem::take(&mut self.line);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if !line.starts_with(b"SSH-") {
            if !self.allow_preamble {
                return Err(PeerMisbehaved::BadVersion("not an SSH identification"));
            }
            self.preamble_lines += 1;
            if self.preamble_lines > self.max_preamble_lines {
                return Err(PeerMisbehaved::TooManyPreambleLines);
            }
            return Ok(None);
        }
        if line.len() + 2 > MAX_VERSION_LINE {
            return Err(PeerMisbehaved::BadVersion("identification line too long"));
        }
        let text = String::from_utf8(line)
            .map_err(|_| PeerMisbehaved::BadVersion("identification is not UTF-8"))?;
        if text.chars().any(|c| c.is_control()) {
            return Err(PeerMisbehaved::BadVersion(
                "control character in identification",
            ));
        }
        let mut fields = text.splitn(3, '-');
        let (_, proto, software) = (fields.next(), fields.next(), fields.next());
        if !matches!(proto, Some("2.0") | Some("1.99")) {
            return Err(PeerMisbehaved::BadVersion("protocol version not supported"));
        }
        if software.is_none_or(|s| s.is_empty() || s.starts_with(' ')) {
            return Err(PeerMisbehaved::BadVersion("missing software version"));
        }
        Ok(Some(PeerVersion { line: text }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_version_split_across_feeds_and_leaves_packet_bytes() {
        let mut r = VersionReader::new(true, 10);
        assert_eq!(r.feed(b"SSH-2.0-Open").unwrap(), (12, None));
        let (used, v) = r.feed(b"SSH_9.2p1 Debian\r\n\x00\x00").unwrap();
        assert_eq!(used, 18);
        let v = v.unwrap();
        assert_eq!(v.line, "SSH-2.0-OpenSSH_9.2p1 Debian");
        assert_eq!(v.software(), "OpenSSH_9.2p1");
    }

    #[test]
    fn client_skips_a_bounded_preamble() {
        let mut r = VersionReader::new(true, 2);
        let (_, v) = r.feed(b"hello\r\nworld\nSSH-1.99-x\r\n").unwrap();
        assert_eq!(v.unwrap().line, "SSH-1.99-x");
        let mut r = VersionReader::new(true, 2);
        assert_eq!(
            r.feed(b"a\nb\nc\nSSH-2.0-x\r\n"),
            Err(PeerMisbehaved::TooManyPreambleLines)
        );
    }

    #[test]
    fn server_rejects_preamble_and_bad_versions() {
        let mut r = VersionReader::new(false, 10);
        assert!(r.feed(b"GET / HTTP/1.1\r\n").is_err());
        for bad in [
            &b"SSH-1.5-old\r\n"[..],
            b"SSH-2.0-\r\n",
            b"SSH-2.0-a\x07b\r\n",
            b"SSH-2.0\r\n",
        ] {
            assert!(VersionReader::new(false, 0).feed(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn over_long_lines_are_refused_without_waiting_for_newline() {
        let mut r = VersionReader::new(false, 0);
        let mut long = b"SSH-2.0-".to_vec();
        long.resize(300, b'a');
        assert!(r.feed(&long).is_err());
        let mut r = VersionReader::new(true, 5);
        assert!(r.feed(&vec![b'x'; 9000]).is_err());
    }
}
