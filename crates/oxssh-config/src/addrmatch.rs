//! Address matching as OpenSSH's `addrmatch.c` and `match.c` do it: CIDR lists with negation
//! and wildcard fallback (`Match Address`, `AllowUsers user@addr`, the authorized_keys `from=`
//! option), strict CIDR lists (certificate `source-address`), and `match_host_and_ip`.
//!
//! Addresses are parsed numerically only (no DNS), as `getaddrinfo(AI_NUMERICHOST)` does.

use std::net::IpAddr;

use crate::pattern::{match_hostname, match_pattern, match_pattern_list, ListMatch};

/// The outcome of [`addr_match_list`] (OpenSSH's 1 / 0 / -1 / -2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrMatch {
    /// A positive entry matched and no negated one did.
    Match,
    /// Nothing matched (or the address itself is not an address).
    NoMatch,
    /// A negated (`!`) entry matched: this vetoes any positive match.
    Negated,
    /// The list is malformed (an empty entry, or a CIDR with a bad or inconsistent mask).
    Invalid,
}

/// Why a CIDR entry was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CidrError {
    /// Not an address (the caller may fall back to wildcard matching).
    NotAnAddress,
    /// An address with a mask that is too long or leaves host bits set.
    BadMask,
}

/// Parses `addr` or `addr/len` (OpenSSH's `addr_pton_cidr`).
fn parse_cidr(s: &str) -> Result<(IpAddr, u32), CidrError> {
    // OpenSSH copies into a 64-byte buffer first.
    if s.len() >= 64 {
        return Err(CidrError::NotAnAddress);
    }
    let (addr_s, mask) = match s.split_once('/') {
        Some((a, m)) => {
            if !m.bytes().next().is_some_and(|b| b.is_ascii_digit())
                || !m.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(CidrError::NotAnAddress);
            }
            let len: u64 = m.parse().unwrap_or(u64::MAX);
            if len > 128 {
                return Err(CidrError::NotAnAddress);
            }
            (a, u32::try_from(len).ok())
        }
        None => (s, None),
    };
    let addr: IpAddr = addr_s.parse().map_err(|_| CidrError::NotAnAddress)?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = mask.unwrap_or(max);
    if len > max || !host_bits_zero(addr, len) {
        return Err(CidrError::BadMask);
    }
    Ok((addr, len))
}

/// The address as a 128-bit number and its width.
fn bits(addr: IpAddr) -> (u128, u32) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

/// The network mask of `len` bits within a `width`-bit address.
fn mask(len: u32, width: u32) -> u128 {
    let all = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    let host = all.checked_shr(len).unwrap_or(0);
    all & !host
}

fn host_bits_zero(addr: IpAddr, len: u32) -> bool {
    let (v, w) = bits(addr);
    v & !mask(len, w) & mask(w, w) == 0
}

/// Whether `addr` lies in `net/len` (same family only, as `addr_netmatch`).
fn net_match(addr: IpAddr, net: IpAddr, len: u32) -> bool {
    let ((a, wa), (n, wn)) = (bits(addr), bits(net));
    wa == wn && (a & mask(len, wa)) == n
}

/// Matches an address against a comma-separated list of CIDR blocks or wildcard patterns,
/// each optionally negated with `!` (OpenSSH's `addr_match_list`). With `addr` = `None`
/// the list is only checked for syntax ([`AddrMatch::NoMatch`] when valid).
pub fn addr_match_list(addr: Option<&str>, list: &str) -> AddrMatch {
    let parsed = match addr {
        Some(a) => match a.parse::<IpAddr>() {
            Ok(ip) => Some((a, ip)),
            // An unparseable address matches nothing.
            Err(_) => return AddrMatch::NoMatch,
        },
        None => None,
    };
    let mut result = AddrMatch::NoMatch;
    for entry in list.split(',') {
        let (neg, entry) = match entry.strip_prefix('!') {
            Some(e) => (true, e),
            None => (false, entry),
        };
        if entry.is_empty() {
            return AddrMatch::Invalid;
        }
        let hit = match parse_cidr(entry) {
            Err(CidrError::BadMask) => return AddrMatch::Invalid,
            Ok((net, len)) => parsed.is_some_and(|(_, ip)| net_match(ip, net, len)),
            Err(CidrError::NotAnAddress) => parsed.is_some_and(|(a, _)| match_pattern(a, entry)),
        };
        if hit {
            if neg {
                return AddrMatch::Negated;
            }
            result = AddrMatch::Match;
        }
    }
    result
}

/// A malformed address list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid address list")]
pub struct InvalidAddressList;

/// Matches an address against a comma-separated list of CIDR blocks only: no negation, no
/// wildcards, every entry must be valid (OpenSSH's `addr_match_cidr_list`, used for the
/// certificate `source-address` option). With `addr` = `None` the list is only checked.
pub fn addr_match_cidr_list(addr: Option<&str>, list: &str) -> Result<bool, InvalidAddressList> {
    let ip = match addr {
        Some(a) => match a.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => return Ok(false),
        },
        None => None,
    };
    let mut found = false;
    for entry in list.split(',') {
        let allowed = |b: u8| b.is_ascii_hexdigit() || b == b'.' || b == b':' || b == b'/';
        if entry.is_empty() || entry.len() > 49 || !entry.bytes().all(allowed) {
            return Err(InvalidAddressList);
        }
        let (net, len) = parse_cidr(entry).map_err(|_| InvalidAddressList)?;
        if ip.is_some_and(|ip| net_match(ip, net, len)) {
            found = true;
        }
    }
    Ok(found)
}

/// Matches a client against a pattern list of host names and addresses (OpenSSH's
/// `match_host_and_ip`, used for the authorized_keys `from=` option): a negated address or
/// host name match denies; otherwise either matching allows. `Err` for a malformed CIDR.
/// With `host` or `ip` missing the list is only checked and the answer is `false`.
pub fn match_host_and_ip(
    host: Option<&str>,
    ip: Option<&str>,
    patterns: &str,
) -> Result<bool, InvalidAddressList> {
    let mip = addr_match_list(ip, patterns);
    if mip == AddrMatch::Invalid {
        return Err(InvalidAddressList);
    }
    let (Some(host), Some(_)) = (host, ip) else {
        return Ok(false);
    };
    if mip == AddrMatch::Negated {
        return Ok(false);
    }
    match match_hostname(host, patterns) {
        ListMatch::Negated => Ok(false),
        ListMatch::NoMatch if mip == AddrMatch::NoMatch => Ok(false),
        _ => Ok(true),
    }
}

/// Matches `user` or `user@host` patterns (OpenSSH's `match_user`, as `AllowUsers` and
/// `DenyUsers` use it). With everything `None` the pattern is only checked for syntax.
pub fn match_user(
    user: Option<&str>,
    host: Option<&str>,
    ip: Option<&str>,
    pattern: &str,
) -> Result<bool, InvalidAddressList> {
    let Some(user) = user else {
        if let Some((_, h)) = pattern.split_once('@') {
            match_host_and_ip(None, None, h)?;
        }
        return Ok(false);
    };
    match pattern.split_once('@') {
        None => Ok(match_pattern(user, pattern)),
        Some((u, h)) => {
            if !match_pattern(user, u) {
                return Ok(false);
            }
            match_host_and_ip(host, ip, h)
        }
    }
}

/// Matches a user or group name against a pattern list (`match_usergroup_pattern_list`).
pub(crate) fn match_usergroup(name: &str, list: &str) -> ListMatch {
    match_pattern_list(name, list, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_lists_with_negation_and_wildcards() {
        let m = |a, l| addr_match_list(Some(a), l);
        assert_eq!(m("127.0.0.1", "127.0.0.0/8"), AddrMatch::Match);
        assert_eq!(m("127.0.0.2", "127.0.0.0/8,!127.0.0.2"), AddrMatch::Negated);
        assert_eq!(m("10.0.0.1", "127.0.0.0/8"), AddrMatch::NoMatch);
        assert_eq!(m("192.168.1.7", "192.168.1.*"), AddrMatch::Match);
        assert_eq!(m("::1", "::1"), AddrMatch::Match);
        assert_eq!(m("2001:db8::5", "2001:db8::/32"), AddrMatch::Match);
        assert_eq!(m("2001:db8::5", "10.0.0.0/8"), AddrMatch::NoMatch);
        assert_eq!(m("not-an-ip", "*"), AddrMatch::NoMatch);
        assert_eq!(m("1.2.3.4", "0.0.0.0/0"), AddrMatch::Match);
    }

    #[test]
    fn malformed_lists_are_invalid() {
        assert_eq!(addr_match_list(None, "1.2.3.4/40"), AddrMatch::Invalid);
        assert_eq!(addr_match_list(None, "1.2.3.4/24"), AddrMatch::Invalid);
        assert_eq!(addr_match_list(None, "1.2.3.0/24,"), AddrMatch::Invalid);
        assert_eq!(addr_match_list(None, "!"), AddrMatch::Invalid);
        // A mask over 128 is not a CIDR at all, so it is a (never-matching) wildcard.
        assert_eq!(addr_match_list(None, "1.2.3.4/200"), AddrMatch::NoMatch);
        assert_eq!(
            addr_match_list(None, "1.2.3.0/24,host*"),
            AddrMatch::NoMatch
        );
    }

    #[test]
    fn strict_cidr_lists() {
        assert_eq!(
            addr_match_cidr_list(Some("10.1.2.3"), "10.0.0.0/8"),
            Ok(true)
        );
        assert_eq!(
            addr_match_cidr_list(Some("10.1.2.3"), "::1,1.2.3.4"),
            Ok(false)
        );
        assert!(addr_match_cidr_list(None, "10.*").is_err());
        assert!(addr_match_cidr_list(None, "!10.0.0.0/8").is_err());
        assert!(addr_match_cidr_list(None, "").is_err());
    }

    #[test]
    fn host_and_ip_from_option() {
        let m = |h, i, p| match_host_and_ip(Some(h), Some(i), p);
        assert_eq!(m("box.example.org", "10.0.0.1", "*.example.org"), Ok(true));
        assert_eq!(m("box.example.org", "10.0.0.1", "10.0.0.0/8"), Ok(true));
        assert_eq!(m("box.example.org", "10.0.0.1", "*,!10.0.0.1"), Ok(false));
        assert_eq!(m("BOX.example.org", "10.0.0.1", "*,!box.*"), Ok(false));
        assert_eq!(m("other", "10.0.0.1", "192.168.0.0/16"), Ok(false));
        assert!(m("h", "10.0.0.1", "10.0.0.1/8").is_err());
    }

    #[test]
    fn user_at_host_patterns() {
        assert_eq!(
            match_user(Some("bob"), Some("h"), Some("127.0.0.1"), "bob@127.0.0.1"),
            Ok(true)
        );
        assert_eq!(
            match_user(Some("bob"), Some("h"), Some("10.0.0.1"), "bob@127.0.0.1"),
            Ok(false)
        );
        assert_eq!(match_user(Some("al"), None, None, "a*"), Ok(true));
        assert!(match_user(None, None, None, "bob@1.2.3.4/33").is_err());
        assert_eq!(match_user(None, None, None, "bob@*.org"), Ok(false));
    }
}
