//! The host-name column of a known_hosts line: comma-separated patterns with `*`, `?`
//! and `!` negation (OpenSSH match.c `match_hostname`), or one hashed name
//! `|1|base64(salt)|base64(HMAC-SHA1(salt, name))` (hostfile.c `host_hash`).
//!
//! Matching follows OpenSSH exactly, including its corners: the host is lowercased, the
//! patterns are lowercased, a negated pattern that matches wins over any positive one,
//! and a hashed entry matches only if re-hashing the name with its salt reproduces the
//! whole column text.

use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// The prefix of a hashed name (`HASH_MAGIC`).
pub const HASH_MAGIC: &str = "|1|";
/// Salt and HMAC length: SHA-1's digest size.
pub const SALT_LEN: usize = 20;
/// OpenSSH's bound on one comma-separated pattern (`sub[1024]` in match.c).
const MAX_SUBPATTERN: usize = 1023;
/// OpenSSH's bound on the base64 salt text (`extract_salt`).
const MAX_B64_SALT: usize = 1024;

/// A parsed host-name column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostField {
    /// Comma-separated patterns, as written.
    Patterns(String),
    /// A hashed name: its salt and the column text the HMAC must reproduce.
    Hashed {
        /// The HMAC key.
        salt: [u8; SALT_LEN],
        /// The whole column, `|1|salt|hash`.
        text: String,
    },
}

impl HostField {
    /// Parses the column; `None` for a hashed column OpenSSH cannot use (wrong magic,
    /// no second `|`, a salt that is not 20 bytes of base64).
    pub fn parse(column: &str) -> Option<Self> {
        if !column.starts_with('|') {
            return Some(Self::Patterns(column.to_owned()));
        }
        let rest = column.strip_prefix(HASH_MAGIC)?;
        let (b64_salt, _) = rest.split_once('|')?;
        if b64_salt.is_empty() || b64_salt.len() > MAX_B64_SALT {
            return None;
        }
        let salt = STANDARD.decode(b64_salt).ok()?;
        Some(Self::Hashed {
            salt: salt.try_into().ok()?,
            text: column.to_owned(),
        })
    }

    /// Whether `name` (a host, or `[host]:port`) matches this column.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Self::Patterns(patterns) => match_hostname(name, patterns) == PatternMatch::Positive,
            Self::Hashed { salt, text } => hash_name(name, salt) == *text,
        }
    }

    /// The column as written.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Patterns(text) | Self::Hashed { text, .. } => text,
        }
    }

    /// Whether this is a hashed (`|1|`) column.
    pub fn is_hashed(&self) -> bool {
        matches!(self, Self::Hashed { .. })
    }
}

/// The column for `name` hashed with `salt`: `|1|base64(salt)|base64(HMAC-SHA1)`.
/// The name is hashed as given; OpenSSH lowercases it first when it writes an entry.
pub fn hash_name(name: &str, salt: &[u8; SALT_LEN]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, salt);
    let tag = hmac::sign(&key, name.as_bytes());
    format!(
        "{HASH_MAGIC}{}|{}",
        STANDARD.encode(salt),
        STANDARD.encode(tag.as_ref())
    )
}

/// The outcome of matching a name against a pattern list (match.c's 1 / 0 / -1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternMatch {
    /// A positive pattern matched and no negated one did.
    Positive,
    /// Nothing matched.
    None,
    /// A negated pattern matched: the name is excluded.
    Negated,
}

/// OpenSSH's `match_hostname`: `host` lowercased against a comma-separated,
/// case-insensitive pattern list.
pub fn match_hostname(host: &str, patterns: &str) -> PatternMatch {
    let host = host.to_ascii_lowercase();
    let mut got_positive = false;
    let mut subs: Vec<&str> = patterns.split(',').collect();
    // OpenSSH's loop stops at the end of the text, so a trailing comma (or an empty
    // list) adds no empty pattern; an inner empty one (",,") matches only an empty host.
    if subs.last() == Some(&"") {
        subs.pop();
    }
    for sub in subs {
        let (negated, sub) = match sub.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, sub),
        };
        if sub.len() >= MAX_SUBPATTERN {
            return PatternMatch::None;
        }
        if match_pattern(host.as_bytes(), sub.to_ascii_lowercase().as_bytes()) {
            if negated {
                return PatternMatch::Negated;
            }
            got_positive = true;
        }
    }
    if got_positive {
        PatternMatch::Positive
    } else {
        PatternMatch::None
    }
}

/// Glob match with `*` (any run) and `?` (one byte), iteratively: OpenSSH's recursive
/// version is exponential on patterns like `*a*a*a*b`, this one is linear-ish and
/// accepts exactly the same strings.
pub fn match_pattern(s: &[u8], pattern: &[u8]) -> bool {
    let (mut si, mut pi) = (0usize, 0usize);
    // Where the last `*` was, and which string position it currently absorbs up to.
    let mut star: Option<(usize, usize)> = None;
    loop {
        match (pattern.get(pi), s.get(si)) {
            (Some(b'*'), _) => {
                star = Some((pi, si));
                pi += 1;
            }
            (Some(&p), Some(&c)) if p == b'?' || p == c => {
                pi += 1;
                si += 1;
            }
            (None, None) => return true,
            _ => match star {
                // Let the last star swallow one more byte and retry after it.
                Some((star_pi, star_si)) if star_si < s.len() => {
                    star = Some((star_pi, star_si + 1));
                    pi = star_pi + 1;
                    si = star_si + 1;
                }
                _ => return false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_openssh() {
        assert!(match_pattern(b"foo.example.com", b"*.example.com"));
        assert!(match_pattern(b"a", b"?"));
        assert!(!match_pattern(b"", b"?"));
        assert!(match_pattern(b"", b"*"));
        assert!(match_pattern(b"abc", b"a*c"));
        assert!(!match_pattern(b"abd", b"a*c"));
        assert!(match_pattern(b"aaab", b"*a*b"));
        assert!(match_pattern(b"10.0.0.1", b"10.0.?.*"));
        assert!(!match_pattern(b"host", b"hos"));
        assert!(match_pattern(
            &[b'a'; 60],
            b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*"
        ));
        assert!(!match_pattern(
            &[b'a'; 60],
            b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"
        ));
    }

    #[test]
    fn negation_wins_and_case_is_ignored() {
        assert_eq!(match_hostname("Foo", "foo,bar"), PatternMatch::Positive);
        assert_eq!(match_hostname("foo", "*,!foo"), PatternMatch::Negated);
        assert_eq!(match_hostname("foo", "!bar"), PatternMatch::None);
        assert_eq!(match_hostname("baz", "*,!foo"), PatternMatch::Positive);
        assert_eq!(
            match_hostname("[h]:2222", "[h]:2222"),
            PatternMatch::Positive
        );
        assert_eq!(match_hostname("h", "[h]:2222"), PatternMatch::None);
        assert_eq!(match_hostname("FOO", "F*"), PatternMatch::Positive);
        assert_eq!(match_hostname("", ""), PatternMatch::None);
        assert_eq!(match_hostname("", "foo,"), PatternMatch::None);
        assert_eq!(match_hostname("", ",foo"), PatternMatch::Positive);
        let long = "a".repeat(1023);
        assert_eq!(
            match_hostname(&long, &format!("*,{long}")),
            PatternMatch::None
        );
    }

    #[test]
    fn hashed_column_round_trips() {
        let salt = [3u8; SALT_LEN];
        let text = hash_name("example.com", &salt);
        let field = HostField::parse(&text).unwrap();
        assert!(field.is_hashed());
        assert!(field.matches("example.com"));
        assert!(!field.matches("Example.com"));
        assert!(!field.matches("example.org"));
    }

    #[test]
    fn malformed_hashes_are_rejected() {
        assert_eq!(HostField::parse("|2|AAAA|BBBB"), None);
        assert_eq!(HostField::parse("|1|AAAA"), None);
        assert_eq!(HostField::parse("|1||BBBB"), None);
        assert_eq!(HostField::parse("|1|AAAA|BBBB"), None); // 3-byte salt
        assert_eq!(HostField::parse("|1|!!!!|BBBB"), None);
    }
}
