//! What to scan: host arguments and `-f` lines, read exactly as ssh-keyscan reads them.
//!
//! A host spec is `addrlist [namelist]`: `addrlist` is comma-separated names or addresses
//! tried in turn until one answers, `namelist` (default: `addrlist`) is what the output
//! line names. A spec that is an IP address or CIDR range (`192.168.0.64/26`) stands for
//! every address in it, expanded lazily so a large range costs no memory.

use std::io::{self, BufRead};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One host to scan: where to connect and what to call it in the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Names or addresses tried in order (the `addrlist`).
    pub addrs: Vec<String>,
    /// Comma-separated names printed with the key (the `namelist`, or `addrlist`).
    pub output_names: String,
}

/// One host argument or `-f` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostSpec {
    /// `addrlist [namelist]`
    Host(Target),
    /// Every address of a network, first to last inclusive (ssh-keyscan deliberately
    /// includes the all-zeros and all-ones addresses).
    Range(AddrRange),
}

impl HostSpec {
    /// Parses a spec as ssh-keyscan's `do_host()`: a CIDR range if the whole text is one,
    /// else the first whitespace-separated word is the addrlist and the rest the namelist.
    /// `None` for a blank spec.
    pub fn parse(spec: &str) -> Option<Self> {
        if let Some(range) = AddrRange::parse_cidr(spec) {
            return Some(Self::Range(range));
        }
        let is_sep = |c: char| matches!(c, ' ' | '\t' | '\n');
        // strnnsep(): skip leading separators, cut the first word at one separator;
        // the rest of the line, verbatim, is the namelist.
        let trimmed = spec.trim_start_matches(is_sep);
        if trimmed.is_empty() {
            return None;
        }
        let (addrlist, namelist) = match trimmed.find(is_sep) {
            Some(at) => {
                let (word, rest) = trimmed.split_at(at);
                (word, rest.get(1..).unwrap_or_default())
            }
            None => (trimmed, ""),
        };
        let output_names = if namelist.is_empty() {
            addrlist
        } else {
            namelist
        };
        Some(Self::Host(Target {
            addrs: addrlist
                .split(',')
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect(),
            output_names: output_names.to_owned(),
        }))
    }

    /// The hosts this spec stands for, in order.
    pub fn targets(&self) -> Box<dyn Iterator<Item = Target> + Send + '_> {
        match self {
            Self::Host(target) => Box::new(std::iter::once(target.clone())),
            Self::Range(range) => Box::new(range.iter().map(|addr| {
                let name = addr.to_string();
                Target {
                    addrs: vec![name.clone()],
                    output_names: name,
                }
            })),
        }
    }
}

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRange {
    first: IpAddr,
    last: IpAddr,
}

impl AddrRange {
    /// `addr` or `addr/len` with every host bit of `addr` zero (OpenSSH's
    /// `addr_pton_cidr()`); anything else is not a range.
    pub fn parse_cidr(text: &str) -> Option<Self> {
        let (addr, len) = match text.split_once('/') {
            Some((addr, len)) => {
                if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (addr, Some(len.parse::<u32>().ok()?))
            }
            None => (text, None),
        };
        match addr.parse::<IpAddr>().ok()? {
            IpAddr::V4(v4) => {
                let (first, last) = cidr_bounds(u128::from(u32::from(v4)), 32, len)?;
                Some(Self {
                    first: IpAddr::V4(Ipv4Addr::from(u32::try_from(first).ok()?)),
                    last: IpAddr::V4(Ipv4Addr::from(u32::try_from(last).ok()?)),
                })
            }
            IpAddr::V6(v6) => {
                let (first, last) = cidr_bounds(u128::from(v6), 128, len)?;
                Some(Self {
                    first: IpAddr::V6(Ipv6Addr::from(first)),
                    last: IpAddr::V6(Ipv6Addr::from(last)),
                })
            }
        }
    }

    /// The addresses, first to last.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + Send {
        let (first, last, v4) = match (self.first, self.last) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                (u128::from(u32::from(a)), u128::from(u32::from(b)), true)
            }
            (a, b) => (ip_bits(a), ip_bits(b), false),
        };
        let mut next = Some(first);
        std::iter::from_fn(move || {
            let current = next?;
            next = current.checked_add(1).filter(|n| *n <= last);
            Some(if v4 {
                IpAddr::V4(Ipv4Addr::from(u32::try_from(current).unwrap_or(u32::MAX)))
            } else {
                IpAddr::V6(Ipv6Addr::from(current))
            })
        })
    }
}

fn ip_bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// First and last address of `addr/len` in a `width`-bit family; `None` when the
/// length is out of range or host bits are set.
fn cidr_bounds(addr: u128, width: u32, len: Option<u32>) -> Option<(u128, u128)> {
    let len = len.unwrap_or(width);
    if len > width {
        return None;
    }
    let host_bits = width - len;
    let host_mask = if host_bits == 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    if addr & host_mask != 0 {
        return None;
    }
    Some((addr, addr | host_mask))
}

/// Reads host specs from a `-f` source: text from the first `#` on and trailing blanks
/// are dropped, blank lines skipped (ssh-keyscan's `main()` loop).
pub fn read_specs(reader: impl BufRead) -> io::Result<Vec<HostSpec>> {
    let mut specs = Vec::new();
    for line in reader.lines() {
        let line = line?;
        let content = match line.find('#') {
            Some(at) => line.get(..at).unwrap_or_default(),
            None => line.as_str(),
        };
        let content = content.trim_end_matches([' ', '\t', '\n']);
        if content.is_empty() {
            continue;
        }
        specs.extend(HostSpec::parse(content));
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(spec: &str) -> Target {
        match HostSpec::parse(spec) {
            Some(HostSpec::Host(target)) => target,
            other => panic!("{spec:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn addrlist_and_namelist() {
        let t = host("10.0.0.1,sad.example.org");
        assert_eq!(t.addrs, ["10.0.0.1", "sad.example.org"]);
        assert_eq!(t.output_names, "10.0.0.1,sad.example.org");
        let t = host("  a.example,b.example\tA,B");
        assert_eq!(t.addrs, ["a.example", "b.example"]);
        assert_eq!(t.output_names, "A,B");
        // The namelist is the rest after exactly one separator, as ssh-keyscan keeps it.
        assert_eq!(host("a  b").output_names, " b");
    }

    #[test]
    fn cidr_ranges_expand_inclusively() {
        let Some(HostSpec::Range(range)) = HostSpec::parse("192.168.0.64/30") else {
            panic!("not a range");
        };
        let all: Vec<String> = range.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            all,
            [
                "192.168.0.64",
                "192.168.0.65",
                "192.168.0.66",
                "192.168.0.67"
            ]
        );
        let Some(HostSpec::Range(one)) = HostSpec::parse("::1") else {
            panic!("not a range");
        };
        assert_eq!(
            one.iter().collect::<Vec<_>>(),
            ["::1".parse::<IpAddr>().unwrap()]
        );
        // Host bits set, or a bad length: a host name (which then fails to resolve).
        assert!(matches!(
            HostSpec::parse("192.168.0.65/30"),
            Some(HostSpec::Host(_))
        ));
        assert!(matches!(
            HostSpec::parse("10.0.0.0/33"),
            Some(HostSpec::Host(_))
        ));
        assert!(matches!(HostSpec::parse("::/0"), Some(HostSpec::Range(_))));
    }

    #[test]
    fn whole_v6_range_iterates_lazily() {
        let Some(HostSpec::Range(range)) = HostSpec::parse("::/0") else {
            panic!("not a range");
        };
        assert_eq!(range.iter().take(2).count(), 2);
        let Some(HostSpec::Range(v4)) = HostSpec::parse("0.0.0.0/0") else {
            panic!("not a range");
        };
        assert_eq!(v4.iter().nth(1), Some("0.0.0.1".parse().unwrap()));
    }

    #[test]
    fn file_lines_drop_comments_and_blanks() {
        let text = "127.0.0.1 ,Foo # c\n\n# x\n  127.0.0.1\tA,b  \n10.0.0.0/31\n";
        let specs = read_specs(text.as_bytes()).unwrap();
        assert_eq!(specs.len(), 3);
        let Some(HostSpec::Host(first)) = specs.first() else {
            panic!("{specs:?}");
        };
        assert_eq!(first.output_names, ",Foo");
        let Some(HostSpec::Host(second)) = specs.get(1) else {
            panic!("{specs:?}");
        };
        assert_eq!(second.output_names, "A,b");
    }

    #[test]
    fn blank_specs_are_skipped() {
        assert_eq!(HostSpec::parse(" \t"), None);
    }
}
