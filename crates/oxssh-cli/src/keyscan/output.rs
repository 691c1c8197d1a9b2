//! What `oxssh-keyscan` prints, byte for byte as OpenSSH 9.2's ssh-keyscan:
//! known_hosts lines on stdout (`host keytype base64`), `# host:port version` comments
//! and errors on stderr. Hashed names (`-H`) are known_hosts `|1|salt|hash` entries.

use std::io::Write;

use aws_lc_rs::{hmac, rand};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::args::DEFAULT_PORT;

/// Length of a hashed-host salt: one SHA-1 output, as OpenSSH's `host_hash()` uses.
pub const SALT_LEN: usize = 20;
/// Marks a hashed host name in known_hosts (`HASH_MAGIC` in OpenSSH's hostfile.h).
const HASH_MAGIC: &str = "|1|";

/// `host` on the default port, else `[host]:port` (OpenSSH's `put_host_port()`).
pub fn host_port(host: &str, port: u16) -> String {
    if port == DEFAULT_PORT {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    }
}

/// The known_hosts hashed form of `host` with `salt`: `|1|base64(salt)|base64(HMAC-SHA1)`.
pub fn hash_host_with_salt(host: &str, salt: &[u8; SALT_LEN]) -> String {
    // HMAC-SHA1 is what the known_hosts format fixes; it hides names, it does not
    // authenticate anything, so SHA-1's collision weakness does not matter here.
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, salt);
    let tag = hmac::sign(&key, host.as_bytes());
    format!(
        "{HASH_MAGIC}{}|{}",
        BASE64.encode(salt),
        BASE64.encode(tag.as_ref())
    )
}

/// Hashes `host` with a fresh random salt.
pub fn hash_host(host: &str) -> Result<String, HashError> {
    let mut salt = [0u8; SALT_LEN];
    rand::fill(&mut salt).map_err(|_| HashError)?;
    Ok(hash_host_with_salt(host, &salt))
}

/// The system random generator failed (OpenSSH: `host_hash failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashError;

impl std::fmt::Display for HashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("host_hash failed")
    }
}

/// The stdout lines for one key: ssh-keyscan's `keyprint()`.
///
/// On port 22 without `-H` the whole namelist is one line (`a,b keytype blob`);
/// otherwise each name gets its own line, as `[name]:port` and/or hashed. Names are
/// lowercased, as known_hosts matching expects.
pub fn key_lines(
    output_names: &str,
    port: u16,
    hash: bool,
    key: &str,
) -> Result<Vec<String>, HashError> {
    if !hash && port == DEFAULT_PORT {
        return Ok(vec![format!("{} {key}", output_names.to_ascii_lowercase())]);
    }
    output_names
        .split(',')
        .map(|name| {
            let name = host_port(name, port).to_ascii_lowercase();
            let name = if hash { hash_host(&name)? } else { name };
            Ok(format!("{name} {key}"))
        })
        .collect()
}

/// The stderr comment naming the server, printed once per connection that got a
/// version line: `# name:port SSH-2.0-...` (the name as connected, not lowercased).
pub fn comment_line(name: &str, port: u16, server_version: &str) -> String {
    let version = server_version.trim_end_matches(['\r', '\n']);
    format!("# {name}:{port} {version}")
}

/// Serialises whole lines to stdout and stderr from concurrent scans.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// Suppress comment lines (`-q`).
    pub quiet: bool,
    /// Number of `-v`.
    pub verbosity: u8,
}

impl Printer {
    /// Known_hosts lines, flushed at once so a pipeline sees results as they arrive.
    pub fn keys(&self, lines: &[String]) {
        let mut out = std::io::stdout().lock();
        // A closed stdout (e.g. `| head`) is not an error worth reporting per line.
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }

    /// The `# name:port version` comment, unless quiet.
    pub fn comment(&self, line: &str) {
        if !self.quiet {
            self.error(line);
        }
    }

    /// One line on stderr.
    pub fn error(&self, line: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// A `debugN:` line when `-v` was given at least `level` times.
    pub fn debug(&self, level: u8, message: &str) {
        if self.verbosity >= level {
            self.error(&format!("debug{level}: {message}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDFizRxMOhLdaFb+sPqvhwUtDRErfHbGOLDyU8SdzMXU";

    #[test]
    fn port_22_keeps_the_namelist_on_one_line() {
        assert_eq!(
            key_lines("10.0.0.1,Sad.Example.org", 22, false, KEY).unwrap(),
            [format!("10.0.0.1,sad.example.org {KEY}")]
        );
    }

    #[test]
    fn other_ports_split_names_and_bracket_them() {
        assert_eq!(
            key_lines("127.0.0.1,Foo", 2222, false, KEY).unwrap(),
            [
                format!("[127.0.0.1]:2222 {KEY}"),
                format!("[foo]:2222 {KEY}")
            ]
        );
        assert_eq!(host_port("::1", 2222), "[::1]:2222");
        assert_eq!(host_port("::1", 22), "::1");
    }

    #[test]
    fn hashed_names_match_ssh_keygen() {
        // Produced by OpenSSH 9.2: `ssh-keyscan -H -p 42022 127.0.0.1`.
        let salt = BASE64.decode("7uLo+/56ikC5nfcY846UyWvQB3A=").unwrap();
        let salt: [u8; SALT_LEN] = salt.try_into().unwrap();
        assert_eq!(
            hash_host_with_salt("[127.0.0.1]:42022", &salt),
            "|1|7uLo+/56ikC5nfcY846UyWvQB3A=|GljFV9+wkYxKc7mqjZgrIGjt1To="
        );
    }

    #[test]
    fn hashing_splits_names_even_on_port_22() {
        let lines = key_lines("a,b", 22, true, KEY).unwrap();
        assert_eq!(lines.len(), 2);
        assert!(lines
            .iter()
            .all(|l| l.starts_with("|1|") && l.ends_with(KEY)));
        assert_ne!(lines.first(), lines.get(1), "each name gets its own salt");
    }

    #[test]
    fn comment_line_has_name_port_and_version() {
        assert_eq!(
            comment_line(
                "localhost",
                22,
                "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n"
            ),
            "# localhost:22 SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10"
        );
    }
}
