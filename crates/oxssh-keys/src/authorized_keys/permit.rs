//! Values of the `permitopen`, `permitlisten` and `tunnel` options, checked as OpenSSH
//! checks them when it reads the file (auth-options.c `handle_permit`, misc.c
//! `hpdelim2` and `a2tun`); matching a forwarding request against them is the server's.

use super::excerpt;
use super::options::OptionsError;

/// Longest host in a permission (OpenSSH checks against `NI_MAXHOST`).
const MAX_HOST_LEN: usize = 1024;
/// Largest tun device number (OpenSSH `SSH_TUNID_MAX`).
const TUNID_MAX: u32 = 0x7fff_fffd;

/// The `tunnel="n"` device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tunnel {
    /// `tunnel="any"`: the next free device.
    Any,
    /// A device number.
    Device(u32),
}

/// The port of a `permitopen`/`permitlisten` target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PermitPort {
    /// `*`: any port.
    Any,
    /// One port, 1 to 65535.
    Port(u16),
}

/// A `permitopen="host:port"` or `permitlisten="[host:]port"` target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PermitTarget {
    /// The host, without the `[...]` an IPv6 address is written in; `*` for a
    /// `permitlisten` given as a bare port (OpenSSH rewrites `port` to `*:port`). Empty
    /// when written so (`":80"`), which OpenSSH also accepts.
    pub host: String,
    /// The port.
    pub port: PermitPort,
}

/// OpenSSH `handle_permit`: `host:port`, `[v6]:port`, `host/port`, port `*` or 1 to
/// 65535; for `permitlisten` a value without `:` is a port on any host.
pub(super) fn parse_permit(
    value: &str,
    bare_port_allowed: bool,
) -> Result<PermitTarget, OptionsError> {
    if bare_port_allowed && !value.contains(':') {
        return Ok(PermitTarget {
            host: "*".to_owned(),
            port: parse_permit_port(value)?,
        });
    }
    let bad_host = || OptionsError::InvalidPermitHost(excerpt(value));
    // misc.c `hpdelim2`: a bracketed host ends at `]`; otherwise at the first `:` or `/`.
    let (host, port) = match value.strip_prefix('[') {
        Some(inner) => {
            let (host, after) = inner.split_once(']').ok_or_else(bad_host)?;
            match after.chars().next() {
                None => (host, None),
                Some(':' | '/') => (host, after.get(1..)),
                Some(_) => return Err(bad_host()),
            }
        }
        None => match value.find([':', '/']) {
            Some(i) => (value.get(..i).unwrap_or_default(), value.get(i + 1..)),
            None => (value, None),
        },
    };
    if host.len() > MAX_HOST_LEN {
        return Err(bad_host());
    }
    let port = port.ok_or_else(|| OptionsError::InvalidPermitPort(excerpt(value)))?;
    Ok(PermitTarget {
        host: host.to_owned(),
        port: parse_permit_port(port)?,
    })
}

fn parse_permit_port(text: &str) -> Result<PermitPort, OptionsError> {
    if text == "*" {
        return Ok(PermitPort::Any);
    }
    parse_decimal(text)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&n| n != 0)
        .map(PermitPort::Port)
        .ok_or_else(|| OptionsError::InvalidPermitPort(excerpt(text)))
}

/// misc.c `a2tun` without a remote part: `any` (any case) or 0 to `SSH_TUNID_MAX`.
pub(super) fn parse_tunnel(text: &str) -> Result<Tunnel, OptionsError> {
    if text.eq_ignore_ascii_case("any") {
        return Ok(Tunnel::Any);
    }
    parse_decimal(text)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n <= TUNID_MAX)
        .map(Tunnel::Device)
        .ok_or_else(|| OptionsError::InvalidTunnel(excerpt(text)))
}

/// A decimal number as OpenSSH's `strtonum` reads it: leading C-locale white space, an
/// optional sign, then digits and nothing else (so `+80` and `-0` are numbers, as sshd
/// accepts them). Out-of-range values are left to the caller's bounds.
fn parse_decimal(text: &str) -> Option<i64> {
    let text = text.trim_start_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']);
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    // Twelve digits are more than any bound here and cannot overflow an i64.
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = digits.parse().ok()?;
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, port: PermitPort) -> PermitTarget {
        PermitTarget {
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn permit_forms() {
        let open = |v| parse_permit(v, false);
        assert_eq!(open("db:5432"), Ok(target("db", PermitPort::Port(5432))));
        assert_eq!(open("[::1]:*"), Ok(target("::1", PermitPort::Any)));
        assert_eq!(open("h/22"), Ok(target("h", PermitPort::Port(22))));
        assert_eq!(open(":80"), Ok(target("", PermitPort::Port(80))));
        assert_eq!(open("h:+80"), Ok(target("h", PermitPort::Port(80))));
        let listen = |v| parse_permit(v, true);
        assert_eq!(listen("8080"), Ok(target("*", PermitPort::Port(8080))));
        assert_eq!(listen("*"), Ok(target("*", PermitPort::Any)));
        assert_eq!(
            listen("localhost:*"),
            Ok(target("localhost", PermitPort::Any))
        );
    }

    #[test]
    fn bad_permits_are_refused() {
        for (bad, listen, host_error) in [
            ("db", false, false),
            ("db:0", false, false),
            ("db:65536", false, false),
            ("db:x", false, false),
            ("db:-22", false, false),
            ("db:22 ", false, false),
            ("db:22:33", false, false),
            ("[::1]", false, false),
            ("[::1", false, true),
            ("[::1]x:22", false, true),
            ("0", true, false),
            ("h/80", true, false),
        ] {
            match parse_permit(bad, listen) {
                Err(OptionsError::InvalidPermitHost(_)) if host_error => {}
                Err(OptionsError::InvalidPermitPort(_)) if !host_error => {}
                other => panic!("{bad}: {other:?}"),
            }
        }
        let long = format!("{}:22", "h".repeat(MAX_HOST_LEN + 1));
        assert!(matches!(
            parse_permit(&long, false),
            Err(OptionsError::InvalidPermitHost(_))
        ));
    }

    #[test]
    fn tunnel_is_any_or_a_device_number() {
        assert_eq!(parse_tunnel("0"), Ok(Tunnel::Device(0)));
        assert_eq!(parse_tunnel("ANY"), Ok(Tunnel::Any));
        assert_eq!(parse_tunnel("2147483645"), Ok(Tunnel::Device(TUNID_MAX)));
        // strtonum's leniency, which sshd accepts.
        assert_eq!(parse_tunnel(" +1"), Ok(Tunnel::Device(1)));
        assert_eq!(parse_tunnel("-0"), Ok(Tunnel::Device(0)));
        for bad in [
            "",
            "-1",
            "x",
            "2147483646",
            "1 ",
            "+",
            "99999999999",
            "9999999999999",
        ] {
            assert!(
                matches!(parse_tunnel(bad), Err(OptionsError::InvalidTunnel(_))),
                "{bad:?}"
            );
        }
    }
}
