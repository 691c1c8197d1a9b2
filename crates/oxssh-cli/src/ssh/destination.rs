//! The `destination` argument of `ssh` and the small parsers that go with it: `[user@]host`,
//! `ssh://[user[;params]@]host[:port][/]` URIs, port numbers (`a2port()`), and the name checks
//! OpenSSH applies to command-line user and host names.
//!
//! Everything here follows OpenSSH 9.2 as shipped by Debian 12 (`misc.c` `parse_uri()`,
//! `urldecode()`, `hpdelim2()`, `valid_domain()`, `a2port()`, and the `valid_hostname()` /
//! `valid_ruser()` checks backported for CVE-2023-51385), checked against the real `ssh -G`.

use std::path::Path;

/// What the destination argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `user@` part, if any (URI user names are percent-decoded).
    pub user: Option<String>,
    /// The host as written (brackets of a URI's `[addr]` removed).
    pub host: String,
    /// A URI's `:port`.
    pub port: Option<u16>,
}

/// Why a destination was refused; `ssh` prints its usage text for every one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationError {
    /// `@host`: an empty user before the last `@`.
    EmptyUser,
    /// An `ssh://` URI OpenSSH rejects (bad port, path, IPv6 literal, bad escape, ...).
    BadUri,
}

/// Parses the destination argument: an `ssh://` URI, or `[user@]host` split at the last `@`.
///
/// `lookup_service` resolves a non-numeric URI port such as `ssh` (see [`parse_port_with`]).
pub fn parse_destination_with(
    arg: &str,
    lookup_service: &dyn Fn(&str) -> Option<u16>,
) -> Result<Destination, DestinationError> {
    if let Some(rest) = arg.strip_prefix("ssh://") {
        return parse_ssh_uri(rest, lookup_service).ok_or(DestinationError::BadUri);
    }
    // strrchr(): user names may contain '@' (`a@b@host` is user `a@b`).
    match arg.rsplit_once('@') {
        Some(("", _)) => Err(DestinationError::EmptyUser),
        Some((user, host)) => Ok(Destination {
            user: Some(user.to_owned()),
            host: host.to_owned(),
            port: None,
        }),
        None => Ok(Destination {
            user: None,
            host: arg.to_owned(),
            port: None,
        }),
    }
}

/// [`parse_destination_with`] resolving service names through `/etc/services`.
pub fn parse_destination(arg: &str) -> Result<Destination, DestinationError> {
    parse_destination_with(arg, &system_service_port)
}

/// OpenSSH's `parse_uri("ssh", ...)` after the scheme, plus `parse_ssh_uri()`'s refusal of paths.
fn parse_ssh_uri(rest: &str, lookup_service: &dyn Fn(&str) -> Option<u16>) -> Option<Destination> {
    // The user part ends at the first '@' (unlike the plain form); ';' starts connection
    // parameters (e.g. a fingerprint), which OpenSSH ignores.
    let (user, hostport) = match rest.split_once('@') {
        Some((info, hostport)) => {
            let user = info.split_once(';').map_or(info, |(user, _)| user);
            if user.is_empty() {
                return None;
            }
            (Some(url_decode(user)?), hostport)
        }
        None => (None, rest),
    };

    // hpdelim2(): a bracketed host runs to ']', otherwise to the first ':' or '/'.
    let (host, delim, tail) = split_host(hostport)?;
    if host.is_empty() {
        return None;
    }
    let host = clean_hostname(host);
    let host = valid_domain(host)?;

    let mut port = None;
    let mut path = tail;
    if let Some(tail) = tail.filter(|t| !t.is_empty()) {
        path = Some(tail);
        if delim == Some(':') {
            let (port_text, after) = match tail.split_once('/') {
                Some((p, after)) => (p, Some(after)),
                None => (tail, None),
            };
            port = Some(parse_port_with(port_text, lookup_service)?);
            path = after;
        }
    }
    // ssh:// URIs may end in '/' but may not name a path.
    if path.is_some_and(|p| !p.is_empty()) {
        return None;
    }
    Some(Destination { user, host, port })
}

/// `hpdelim2()`: splits `host[:/]rest`; returns the host, the delimiter and the rest.
fn split_host(s: &str) -> Option<(&str, Option<char>, Option<&str>)> {
    let end = if s.starts_with('[') {
        s.find(']')? + 1
    } else {
        s.find([':', '/']).unwrap_or(s.len())
    };
    let (host, rest) = s.split_at(end);
    let mut chars = rest.chars();
    match chars.next() {
        None => Some((host, None, None)),
        Some(delim @ (':' | '/')) => Some((host, Some(delim), Some(chars.as_str()))),
        // Text right after a ']' that is not a delimiter.
        Some(_) => None,
    }
}

/// `cleanhostname()`: `[addr]` loses its brackets.
fn clean_hostname(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// `valid_domain(name, 0)`: letters, digits, `-`, `_` and single dots, starting with a letter
/// or digit; one trailing dot is dropped. This is why OpenSSH refuses IPv6 literals in URIs.
fn valid_domain(name: &str) -> Option<String> {
    let first = name.bytes().next()?;
    if !first.is_ascii_alphanumeric() {
        return None;
    }
    let mut last = 0u8;
    for b in name.bytes() {
        if last == b'.' && b == b'.' {
            return None;
        }
        if b != b'.' && b != b'-' && b != b'_' && !b.is_ascii_alphanumeric() {
            return None;
        }
        last = b;
    }
    Some(name.strip_suffix('.').unwrap_or(name).to_owned())
}

/// `urldecode()`: `%XX` escapes and `+` for space. A decoded NUL ends the string, as in C.
fn url_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex_value(bytes.next()?)?;
                let lo = hex_value(bytes.next()?)?;
                out.push((hi << 4) | lo);
            }
            other => out.push(other),
        }
    }
    if let Some(nul) = out.iter().position(|&b| b == 0) {
        out.truncate(nul);
    }
    String::from_utf8(out).ok()
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// OpenSSH's `a2port()` as its callers use it: a decimal number 1..=65535 (C `strtol`
/// syntax: leading white space and a sign allowed), else a TCP service name. `None` for
/// anything else, and for 0, which every caller refuses.
pub fn parse_port_with(value: &str, lookup_service: &dyn Fn(&str) -> Option<u16>) -> Option<u16> {
    match strtonum_port(value) {
        Some(port) => Some(port),
        None => lookup_service(value),
    }
    .filter(|&port| port != 0)
}

/// [`parse_port_with`] resolving service names through `/etc/services`.
pub fn parse_port(value: &str) -> Option<u16> {
    parse_port_with(value, &system_service_port)
}

/// `strtonum(s, 0, 65535)`.
fn strtonum_port(value: &str) -> Option<u16> {
    let trimmed = value.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, trimmed.get(1..)?),
        Some(b'+') => (false, trimmed.get(1..)?),
        _ => (false, trimmed),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Leading zeros are fine for strtoll; a long string of them must not overflow here.
    let significant = digits.trim_start_matches('0');
    if significant.len() > 5 {
        return None;
    }
    let number: u32 = if significant.is_empty() {
        0
    } else {
        significant.parse().ok()?
    };
    if negative {
        // "-0" is 0; any other negative number is out of range.
        return (number == 0).then_some(0);
    }
    u16::try_from(number).ok()
}

/// Looks a TCP service name up in `/etc/services` (what `getservbyname(name, "tcp")` reads
/// with the usual `services: files` NSS configuration).
pub fn system_service_port(name: &str) -> Option<u16> {
    let text = std::fs::read_to_string(Path::new("/etc/services")).ok()?;
    service_port(&text, name)
}

/// Finds `name` (or an alias) with protocol `tcp` in `services(5)` text.
pub fn service_port(services: &str, name: &str) -> Option<u16> {
    services.lines().find_map(|line| {
        let line = line.split_once('#').map_or(line, |(before, _)| before);
        let mut fields = line.split_whitespace();
        let service = fields.next()?;
        let (port, proto) = fields.next()?.split_once('/')?;
        if proto != "tcp" || !(service == name || fields.any(|alias| alias == name)) {
            return None;
        }
        port.parse().ok()
    })
}

/// The host-name check OpenSSH applies to the destination's host (CVE-2023-51385): no
/// leading `-`, no white space or control characters, none of `` '`"$\;&<>|(){}, ``.
pub fn valid_hostname(host: &str) -> bool {
    !host.starts_with('-')
        && !host.chars().any(|c| {
            c.is_ascii_whitespace() || c.is_ascii_control() || "'`\"$\\;&<>|(){},".contains(c)
        })
}

/// The user-name check OpenSSH applies to a user given on the command line (`-l`, `user@`,
/// `-o User`): no leading `-`, no control characters, none of `` '`";&<>|(){} ``, no `-`
/// right after white space, no trailing `\`. Empty names pass, as in OpenSSH.
pub fn valid_remote_user(user: &str) -> bool {
    if user.starts_with('-') || user.ends_with('\\') {
        return false;
    }
    let bytes = user.as_bytes();
    !bytes.iter().enumerate().any(|(i, &b)| {
        b.is_ascii_control()
            || b"'`\";&<>|(){}".contains(&b)
            || (b.is_ascii_whitespace() && bytes.get(i + 1) == Some(&b'-'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services(name: &str) -> Option<u16> {
        service_port("ssh 22/tcp\nhttp 80/tcp www # web\nsyslog 514/udp\n", name)
    }

    fn dest(arg: &str) -> Result<Destination, DestinationError> {
        parse_destination_with(arg, &services)
    }

    fn ok(arg: &str) -> (Option<String>, String, Option<u16>) {
        let d = dest(arg).unwrap();
        (d.user, d.host, d.port)
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn plain_destinations_split_at_the_last_at_sign() {
        assert_eq!(ok("host"), (None, "host".into(), None));
        assert_eq!(ok("u@host"), (some("u"), "host".into(), None));
        assert_eq!(ok("a@b@host"), (some("a@b"), "host".into(), None));
        // Neither ports nor brackets mean anything outside a URI.
        assert_eq!(ok("host:22"), (None, "host:22".into(), None));
        assert_eq!(ok("[::1]"), (None, "[::1]".into(), None));
        // `ssh user@` is accepted with an empty host, as by ssh -G.
        assert_eq!(ok("user@"), (some("user"), String::new(), None));
        // The scheme is case-sensitive: this is user "SSH://u".
        assert_eq!(ok("SSH://u@h"), (some("SSH://u"), "h".into(), None));
        assert_eq!(dest("@host"), Err(DestinationError::EmptyUser));
    }

    #[test]
    fn ssh_uris_follow_openssh() {
        assert_eq!(ok("ssh://h"), (None, "h".into(), None));
        assert_eq!(ok("ssh://u@h:2200"), (some("u"), "h".into(), Some(2200)));
        assert_eq!(ok("ssh://u@h:"), (some("u"), "h".into(), None));
        assert_eq!(ok("ssh://u@h/"), (some("u"), "h".into(), None));
        assert_eq!(ok("ssh://u@h:22/"), (some("u"), "h".into(), Some(22)));
        assert_eq!(ok("ssh://u@h:ssh"), (some("u"), "h".into(), Some(22)));
        assert_eq!(ok("ssh://u;fp=abc@h"), (some("u"), "h".into(), None));
        assert_eq!(ok("ssh://u%20x@h"), (some("u x"), "h".into(), None));
        assert_eq!(ok("ssh://a+b@h"), (some("a b"), "h".into(), None));
        assert_eq!(ok("ssh://a%00b@h"), (some("a"), "h".into(), None));
        assert_eq!(
            ok("ssh://Host.Example."),
            (None, "Host.Example".into(), None)
        );
        assert_eq!(ok("ssh://u@[h]:7"), (some("u"), "h".into(), Some(7)));
        for bad in [
            "ssh://",
            "ssh://u@",
            "ssh://@h",
            "ssh://u@h:x",
            "ssh://h:0",
            "ssh://h:65536",
            "ssh://u@h/path",
            "ssh://u@h:22/path",
            "ssh://[::1]",
            "ssh://[::1]:2222",
            "ssh://u@[fe80::1]:22",
            "ssh://-h",
            "ssh://a..b",
            "ssh://h%zz",
            "ssh://u%2@h",
            "ssh://[h]x",
        ] {
            assert_eq!(dest(bad), Err(DestinationError::BadUri), "{bad}");
        }
    }

    #[test]
    fn ports_follow_a2port() {
        let port = |s: &str| parse_port_with(s, &services);
        assert_eq!(port("22"), Some(22));
        assert_eq!(port("+22"), Some(22));
        assert_eq!(port(" 23"), Some(23));
        assert_eq!(port("0000000000022"), Some(22));
        assert_eq!(port("65535"), Some(65535));
        assert_eq!(port("ssh"), Some(22));
        assert_eq!(port("www"), Some(80));
        for bad in [
            "0",
            "-0",
            "-22",
            "65536",
            "22x",
            "",
            " ",
            "syslog",
            "=22",
            "99999999999",
        ] {
            assert_eq!(port(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn services_file_lookup_handles_aliases_and_protocols() {
        let text = "# comment\nssh\t\t22/tcp\t\t\t# SSH\nhttp 80/tcp www\nntp 123/udp\n";
        assert_eq!(service_port(text, "ssh"), Some(22));
        assert_eq!(service_port(text, "www"), Some(80));
        assert_eq!(service_port(text, "ntp"), None);
        assert_eq!(service_port(text, "SSH"), None);
    }

    #[test]
    fn host_names_are_checked_like_openssh() {
        for good in [
            "host",
            "",
            "h!*?[]~#%",
            "a%b",
            "a=b",
            "a+b",
            "a/b",
            "a^b",
            "hé",
        ] {
            assert!(valid_hostname(good), "{good:?}");
        }
        for bad in [
            "-a", "a,b", "a\x7f", "a b", "a\\b", "a$b", "a'b", "ho\tst", "h\x01", "a;b",
        ] {
            assert!(!valid_hostname(bad), "{bad:?}");
        }
    }

    #[test]
    fn user_names_are_checked_like_openssh() {
        for good in ["", "a b", "a\\b", "a,b", "a$b", "a%b", "a-b"] {
            assert!(valid_remote_user(good), "{good:?}");
        }
        for bad in [
            "-a", "a\x01b", "a{b", "a -b", "a\\", "a'b", "a`b", "a\"b", "a(b", "a}b", "a>b",
            "a\x7f", "a\tb", "a\n-b", "a;b", "a|b",
        ] {
            assert!(!valid_remote_user(bad), "{bad:?}");
        }
    }
}
