//! `Match` lines: parsing the criteria as sshd's `match_cfg_line` does and evaluating them
//! against a connection.

use crate::addrmatch::{addr_match_list, match_usergroup, AddrMatch};
use crate::lexer::Delim;
use crate::pattern::{match_hostname, match_pattern_list, ListMatch};

use super::ConnectionContext;

/// One criterion of a `Match` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Criterion {
    All,
    User(String),
    Group(String),
    Host(String),
    Address(String),
    LocalAddress(String),
    LocalPort(u16),
    RDomain(String),
}

/// A parsed `Match` line: every criterion must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MatchCond {
    pub(crate) criteria: Vec<Criterion>,
}

/// Why a `Match` line was rejected: the messages sshd prints, and whether it adds
/// `<file> line N: Bad Match condition` after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MatchError {
    pub(crate) messages: Vec<String>,
    pub(crate) bad_condition: bool,
}

fn err(message: String) -> MatchError {
    MatchError {
        messages: vec![message],
        bad_condition: true,
    }
}

/// sshd's `a2port`: 1..=65535 only (service names are not looked up on a `Match` line here,
/// as they never name a listening port in practice).
fn a2port(s: &str) -> Option<u16> {
    s.parse::<u16>().ok().filter(|p| *p > 0)
}

/// Parses the criteria after `Match` (the raw rest of the line, split with `strdelim`).
pub(crate) fn parse_match(rest: &str, line: u32) -> Result<MatchCond, MatchError> {
    let mut d = Delim::new(rest);
    let mut criteria = Vec::new();
    while let Some(attrib) = d.next_token(true) {
        if attrib.is_empty() || attrib.starts_with('#') {
            break;
        }
        if attrib.eq_ignore_ascii_case("all") {
            let next = d.next_token(true);
            let more = next
                .as_deref()
                .is_some_and(|a| !a.is_empty() && !a.starts_with('#'));
            if !criteria.is_empty() || more {
                return Err(err(
                    "'all' cannot be combined with other Match attributes".into()
                ));
            }
            return Ok(MatchCond {
                criteria: vec![Criterion::All],
            });
        }
        let arg = match d.next_token(true) {
            Some(a) if !a.is_empty() && !a.starts_with('#') => a,
            _ => return Err(err(format!("Missing Match criteria for {attrib}"))),
        };
        let c = match attrib.to_ascii_lowercase().as_str() {
            "user" => Criterion::User(arg),
            "group" => Criterion::Group(arg),
            "host" => Criterion::Host(arg),
            "address" | "localaddress" => {
                if addr_match_list(None, &arg) != AddrMatch::NoMatch {
                    // sshd calls fatal() here, without the "Bad Match condition" line.
                    return Err(MatchError {
                        messages: vec![format!(
                            "Invalid Match address argument '{arg}' at line {line}"
                        )],
                        bad_condition: false,
                    });
                }
                if attrib.eq_ignore_ascii_case("address") {
                    Criterion::Address(arg)
                } else {
                    Criterion::LocalAddress(arg)
                }
            }
            "localport" => match a2port(&arg) {
                Some(p) => Criterion::LocalPort(p),
                None => return Err(err(format!("Invalid LocalPort '{arg}' on Match line"))),
            },
            "rdomain" => Criterion::RDomain(arg),
            _ => return Err(err(format!("Unsupported Match attribute {attrib}"))),
        };
        criteria.push(c);
    }
    if criteria.is_empty() {
        return Err(err("One or more attributes required for Match".into()));
    }
    Ok(MatchCond { criteria })
}

impl MatchCond {
    /// Whether the block applies. `None` is sshd's start-up pass (no connection yet): only
    /// `Match all` applies. A criterion whose connection detail is unknown does not match,
    /// as with `sshd -T -C` when a parameter is missing.
    pub(crate) fn matches(&self, ctx: Option<&ConnectionContext>) -> bool {
        self.criteria.iter().all(|c| criterion(c, ctx))
    }
}

fn criterion(c: &Criterion, ctx: Option<&ConnectionContext>) -> bool {
    let Some(ctx) = ctx else {
        return *c == Criterion::All;
    };
    let addr = |a: Option<&String>, list: &str| {
        a.is_some_and(|a| addr_match_list(Some(a), list) == AddrMatch::Match)
    };
    match c {
        Criterion::All => true,
        Criterion::User(list) => ctx
            .user
            .as_deref()
            .is_some_and(|u| match_usergroup(u, list).is_match()),
        Criterion::Group(list) => {
            // sshd's ga_match_pattern_list: a negated match of any group wins.
            let (Some(_), Some(groups)) = (&ctx.user, &ctx.groups) else {
                return false;
            };
            let mut found = false;
            for g in groups {
                match match_usergroup(g, list) {
                    ListMatch::Negated => return false,
                    ListMatch::Match => found = true,
                    ListMatch::NoMatch => {}
                }
            }
            found
        }
        Criterion::Host(list) => ctx
            .host
            .as_deref()
            .is_some_and(|h| match_hostname(h, list).is_match()),
        Criterion::Address(list) => addr(ctx.address.as_ref(), list),
        Criterion::LocalAddress(list) => addr(ctx.local_address.as_ref(), list),
        Criterion::LocalPort(p) => ctx.local_port == Some(*p),
        Criterion::RDomain(list) => ctx
            .rdomain
            .as_deref()
            .is_some_and(|r| match_pattern_list(r, list, false).is_match()),
    }
}
