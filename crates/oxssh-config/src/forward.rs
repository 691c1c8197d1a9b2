//! Port-forwarding specifications (`LocalForward`, `RemoteForward`, `DynamicForward`) and
//! `ProxyJump` hop lists, parsed as OpenSSH parses them (`parse_forward`, `parse_jump`).
//!
//! Forwards are kept parsed rather than as raw text because `-G` prints them normalised
//! (`localforward 8080 [example]:80`) and OpenSSH drops exact duplicates.

use crate::env::ConfigEnv;
use crate::expand::dollar_expand;

/// The port value OpenSSH uses for a Unix-domain socket path.
pub const PORT_STREAMLOCAL: i32 = -2;

/// One forwarding: a listen side and (except for dynamic forwards) a connect side.
/// Ports are `i32` because OpenSSH keeps `-2` for socket paths and `0` for "allocate".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Forward {
    /// Listen address, if given.
    pub listen_host: Option<String>,
    /// Listen port, or [`PORT_STREAMLOCAL`].
    pub listen_port: i32,
    /// Listen socket path.
    pub listen_path: Option<String>,
    /// Connect host; `socks` for dynamic forwards.
    pub connect_host: Option<String>,
    /// Connect port, or [`PORT_STREAMLOCAL`].
    pub connect_port: i32,
    /// Connect socket path.
    pub connect_path: Option<String>,
}

impl Forward {
    /// Whether this is a dynamic (SOCKS) forward.
    pub fn is_dynamic(&self) -> bool {
        self.connect_host.as_deref() == Some("socks")
    }

    fn listen_text(&self) -> String {
        if self.listen_port == PORT_STREAMLOCAL {
            self.listen_path.clone().unwrap_or_default()
        } else {
            match &self.listen_host {
                None => self.listen_port.to_string(),
                Some(h) => format!("[{h}]:{}", self.listen_port),
            }
        }
    }

    fn connect_text(&self) -> String {
        if self.connect_port == PORT_STREAMLOCAL {
            self.connect_path.clone().unwrap_or_default()
        } else {
            match &self.connect_host {
                None => self.connect_port.to_string(),
                Some(h) => format!("[{h}]:{}", self.connect_port),
            }
        }
    }

    /// The arguments `ssh -G` prints after `localforward`/`remoteforward`.
    pub fn dump_text(&self) -> String {
        format!("{} {}", self.listen_text(), self.connect_text())
    }

    /// The argument `ssh -G` prints after `dynamicforward`.
    pub fn dump_dynamic_text(&self) -> String {
        self.listen_text()
    }
}

/// OpenSSH's `a2port`: 0-65535 or a service name; `-1` when invalid.
pub(crate) fn a2port(s: &str, env: &dyn ConfigEnv) -> i32 {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i32>().ok().filter(|p| *p <= 65535).unwrap_or(-1);
    }
    env.service_port(s).map_or(-1, i32::from)
}

/// One field of a forwarding spec and whether it looks like a path.
struct Field {
    arg: String,
    is_path: bool,
}

/// Takes the next `:`-separated field; `[...]` is literal, `\` escapes.
fn next_field(s: &str) -> Option<(Field, Option<&str>)> {
    if s.is_empty() {
        return None;
    }
    if let Some(inner) = s.strip_prefix('[') {
        let close = inner.find(']')?;
        let arg = inner.get(..close)?;
        let after = inner.get(close + 1..)?;
        let rest = match after.strip_prefix(':') {
            Some(r) => Some(r),
            None if after.is_empty() => Some(""),
            None => return None,
        };
        return Some((
            Field {
                arg: arg.to_string(),
                is_path: arg.contains('/'),
            },
            rest,
        ));
    }
    let mut arg = String::new();
    let mut is_path = false;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            // The escaped character is taken literally: `\:` is not a separator and `\/`
            // does not make the field a path.
            '\\' => match chars.next() {
                Some((_, e)) => arg.push(e),
                None => return None,
            },
            '/' => {
                is_path = true;
                arg.push('/');
            }
            ':' => return Some((Field { arg, is_path }, s.get(i + 1..))),
            _ => arg.push(c),
        }
    }
    Some((Field { arg, is_path }, Some("")))
}

/// Parses a forwarding spec: `[listen_host:]port|path:host:port|path` (or, when `dynamic`,
/// `[listen_host:]port|path`). `${VAR}` references are expanded first, as OpenSSH does.
/// This is also what `-L` (`dynamic = false`), `-R` (`remote = true`) and `-D` take.
pub fn parse_forward(
    spec: &str,
    dynamic: bool,
    remote: bool,
    env: &dyn ConfigEnv,
) -> Option<Forward> {
    let expanded = dollar_expand(spec, env).ok()?;
    let mut rest = Some(expanded.trim_start_matches(|c: char| c.is_ascii_whitespace()));
    let mut fields = Vec::new();
    while fields.len() < 4 {
        let Some(s) = rest else { break };
        match next_field(s) {
            Some((f, r)) => {
                fields.push(f);
                // "a:" leaves an empty remainder, which ends the spec like C's NUL.
                rest = r.filter(|r| !r.is_empty());
            }
            None => {
                if !s.is_empty() {
                    return None;
                }
                rest = None;
            }
        }
    }
    if rest.is_some_and(|r| !r.is_empty()) {
        return None;
    }
    let port = |f: &Field| a2port(&f.arg, env);
    let mut fwd = Forward {
        listen_host: None,
        listen_port: 0,
        listen_path: None,
        connect_host: None,
        connect_port: 0,
        connect_path: None,
    };
    match fields.as_slice() {
        [a] => {
            if a.is_path {
                fwd.listen_path = Some(a.arg.clone());
                fwd.listen_port = PORT_STREAMLOCAL;
            } else {
                fwd.listen_port = port(a);
            }
            fwd.connect_host = Some("socks".into());
        }
        [a, b] => {
            if a.is_path && b.is_path {
                fwd.listen_path = Some(a.arg.clone());
                fwd.listen_port = PORT_STREAMLOCAL;
                fwd.connect_path = Some(b.arg.clone());
                fwd.connect_port = PORT_STREAMLOCAL;
            } else if b.is_path {
                fwd.listen_port = port(a);
                fwd.connect_path = Some(b.arg.clone());
                fwd.connect_port = PORT_STREAMLOCAL;
            } else {
                fwd.listen_host = Some(a.arg.clone());
                fwd.listen_port = port(b);
                fwd.connect_host = Some("socks".into());
            }
        }
        [a, b, c] => {
            if a.is_path {
                fwd.listen_path = Some(a.arg.clone());
                fwd.listen_port = PORT_STREAMLOCAL;
                fwd.connect_host = Some(b.arg.clone());
                fwd.connect_port = port(c);
            } else if c.is_path {
                fwd.listen_host = Some(a.arg.clone());
                fwd.listen_port = port(b);
                fwd.connect_path = Some(c.arg.clone());
                fwd.connect_port = PORT_STREAMLOCAL;
            } else {
                fwd.listen_port = port(a);
                fwd.connect_host = Some(b.arg.clone());
                fwd.connect_port = port(c);
            }
        }
        [a, b, c, d] => {
            fwd.listen_host = Some(a.arg.clone());
            fwd.listen_port = port(b);
            fwd.connect_host = Some(c.arg.clone());
            fwd.connect_port = port(d);
        }
        _ => return None,
    }
    let n = fields.len();
    if dynamic {
        if !(n == 1 || n == 2) {
            return None;
        }
    } else {
        if !(n == 3 || n == 4) && fwd.connect_path.is_none() && fwd.listen_path.is_none() {
            return None;
        }
        if fwd.connect_port <= 0 && fwd.connect_path.is_none() {
            return None;
        }
    }
    if (fwd.listen_port < 0 && fwd.listen_path.is_none()) || (!remote && fwd.listen_port == 0) {
        return None;
    }
    // NI_MAXHOST (1025) and the socket path limit (sun_path, 108 bytes on Linux).
    let host_ok = |h: &Option<String>| h.as_ref().is_none_or(|h| h.len() < 1025);
    let path_ok = |p: &Option<String>| p.as_ref().is_none_or(|p| p.len() < 108);
    if !host_ok(&fwd.connect_host)
        || !host_ok(&fwd.listen_host)
        || !path_ok(&fwd.connect_path)
        || !path_ok(&fwd.listen_path)
    {
        return None;
    }
    Some(fwd)
}

/// A `ProxyJump` setting: the last hop (the one the final connection goes through) plus any
/// earlier hops, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyJump {
    /// User for the last hop.
    pub user: Option<String>,
    /// Host of the last hop.
    pub host: String,
    /// Port of the last hop, if given.
    pub port: Option<u16>,
    /// The hops before the last one, comma-separated as written (passed on with `-J`).
    pub extra: Option<String>,
}

impl ProxyJump {
    /// How `ssh -G` prints it: `[extra,][user@]host[:port]`, numeric hosts in brackets.
    pub fn dump_text(&self) -> String {
        let numeric =
            self.host.contains(':') || self.host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        let mut s = String::new();
        if let Some(e) = &self.extra {
            s.push_str(e);
            s.push(',');
        }
        if let Some(u) = &self.user {
            s.push_str(u);
            s.push('@');
        }
        if numeric {
            s.push_str(&format!("[{}]", self.host));
        } else {
            s.push_str(&self.host);
        }
        if let Some(p) = self.port {
            s.push_str(&format!(":{p}"));
        }
        s
    }
}

/// A parsed `ProxyJump` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JumpSetting {
    /// `ProxyJump none`: no jump host, and no later `ProxyCommand` either.
    None,
    /// Jump through these hosts.
    Hops(ProxyJump),
}

/// The host characters `ssh` refuses (`valid_hostname`).
fn valid_hostname(s: &str) -> bool {
    !s.starts_with('-')
        && !s.bytes().any(|c| {
            b"'`\"$\\;&<>|(){},".contains(&c) || c.is_ascii_whitespace() || c.is_ascii_control()
        })
}

/// `user@host:port` or `ssh://user@host:port` for one hop. Errors carry a detail message
/// (printed before the generic one) when OpenSSH has one.
fn parse_hop(
    hop: &str,
    env: &dyn ConfigEnv,
) -> Result<(Option<String>, String, Option<u16>), Option<String>> {
    let (user, host, port) = if let Some(uri) = hop.strip_prefix("ssh://") {
        let (user, hostport) = match uri.find('@') {
            Some(i) => {
                let u = uri.get(..i).unwrap_or("");
                let u = u.split(';').next().unwrap_or(u);
                if u.is_empty() {
                    return Err(None);
                }
                (Some(u.to_string()), uri.get(i + 1..).unwrap_or(""))
            }
            None => (None, uri),
        };
        let (host, port) = split_host_port(hostport, true).ok_or(None)?;
        if crate::values::valid_domain(&host).is_err() {
            return Err(None);
        }
        (user, host, port)
    } else {
        let (user, hostport) = match hop.rfind('@') {
            Some(i) => {
                let u = hop.get(..i).unwrap_or("");
                if u.is_empty() {
                    return Err(None);
                }
                (Some(u.to_string()), hop.get(i + 1..).unwrap_or(""))
            }
            None => (None, hop),
        };
        let (host, port) = split_host_port(hostport, false).ok_or(None)?;
        (user, host, port)
    };
    if !valid_hostname(&host) {
        return Err(Some(format!("parse_jump: invalid hostname \"{host}\"")));
    }
    let port = match port {
        None => None,
        Some(p) => match u16::try_from(a2port(&p, env)) {
            Ok(p) if p > 0 => Some(p),
            _ => return Err(None),
        },
    };
    Ok((user, host, port))
}

/// Splits `host[:port]` / `[v6]:port` (OpenSSH's `hpdelim`). A `/` path is refused unless
/// this is a URI, where it is an error too (paths are not allowed in ProxyJump URIs).
fn split_host_port(s: &str, uri: bool) -> Option<(String, Option<String>)> {
    let (host, rest) = if let Some(inner) = s.strip_prefix('[') {
        let close = inner.find(']')?;
        (inner.get(..close)?.to_string(), inner.get(close + 1..)?)
    } else {
        match s.find([':', '/']) {
            Some(i) => (s.get(..i)?.to_string(), s.get(i..)?),
            None => (s.to_string(), ""),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match rest.strip_prefix(':') {
        Some(p) if uri && p.contains('/') => return None,
        Some(p) if !p.is_empty() => Some(p.to_string()),
        Some(_) => None,
        None if rest.is_empty() => None,
        None => return None,
    };
    Some((host, port))
}

/// Parses a `ProxyJump` value (the raw rest of the line, or `-J`'s argument). Errors carry
/// the detail lines OpenSSH prints before `Invalid ProxyJump`.
pub fn parse_jump(raw: &str, env: &dyn ConfigEnv) -> Result<JumpSetting, Vec<String>> {
    // Comments are cut, and OpenSSH's rtrim() ends the value at the first whitespace.
    let body = raw.split('#').next().unwrap_or("");
    let mut end = body.len();
    for (i, c) in body.char_indices().skip(1) {
        if c.is_ascii_whitespace() {
            end = i;
            break;
        }
    }
    let body = body.get(..end).unwrap_or(body);
    if raw.eq_ignore_ascii_case("none") {
        return Ok(JumpSetting::None);
    }
    let hops: Vec<&str> = body.split(',').collect();
    let mut last = None;
    for (i, hop) in hops.iter().enumerate().rev() {
        match parse_hop(hop, env) {
            Ok(parsed) => {
                if i + 1 == hops.len() {
                    last = Some(parsed);
                }
            }
            Err(detail) => return Err(detail.into_iter().collect()),
        }
    }
    let Some((user, host, port)) = last else {
        return Err(Vec::new());
    };
    // The earlier hops are taken from the raw value, as OpenSSH does.
    let extra = raw
        .rfind(',')
        .filter(|&i| i > 0)
        .and_then(|i| raw.get(..i))
        .map(str::to_string);
    Ok(JumpSetting::Hops(ProxyJump {
        user,
        host,
        port,
        extra,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MemoryEnv;

    fn fwd(spec: &str, dynamic: bool, remote: bool) -> Option<String> {
        let env = MemoryEnv::new().with_var("D", "/run/x");
        parse_forward(spec, dynamic, remote, &env).map(|f| {
            if dynamic {
                f.dump_dynamic_text()
            } else {
                f.dump_text()
            }
        })
    }

    #[test]
    fn local_forward_forms() {
        assert_eq!(
            fwd("8080:example:80", false, false).as_deref(),
            Some("8080 [example]:80")
        );
        assert_eq!(
            fwd("[::1]:80:h:80", false, false).as_deref(),
            Some("[::1]:80 [h]:80")
        );
        assert_eq!(
            fwd("127.0.0.1:80:[::2]:8", false, false).as_deref(),
            Some("[127.0.0.1]:80 [::2]:8")
        );
        assert_eq!(fwd("/a/b:h:5", false, false).as_deref(), Some("/a/b [h]:5"));
        assert_eq!(fwd("5:/a/b", false, false).as_deref(), Some("5 /a/b"));
        assert_eq!(fwd("5:${D}", false, false).as_deref(), Some("5 /run/x"));
        assert_eq!(fwd("ssh:h:ssh", false, false).as_deref(), Some("22 [h]:22"));
        assert_eq!(fwd("80", false, false), None);
        assert_eq!(fwd("0:h:1", false, false), None);
        assert_eq!(fwd("x:h:1", false, false), None);
    }

    #[test]
    fn remote_and_dynamic_forward_forms() {
        assert_eq!(fwd("0:h:22", false, true).as_deref(), Some("0 [h]:22"));
        assert_eq!(fwd("8000", true, true).as_deref(), Some("8000"));
        assert_eq!(
            fwd("localhost:1080", true, false).as_deref(),
            Some("[localhost]:1080")
        );
        assert_eq!(fwd("[::]:1080", true, false).as_deref(), Some("[::]:1080"));
        assert_eq!(fwd("a:b:c", true, false), None);
    }

    fn jump(s: &str) -> Result<String, Vec<String>> {
        parse_jump(s, &MemoryEnv::new()).map(|j| match j {
            JumpSetting::None => "none".into(),
            JumpSetting::Hops(p) => p.dump_text(),
        })
    }

    #[test]
    fn proxy_jump_forms() {
        assert_eq!(jump("u@j1:2222").unwrap(), "u@j1:2222");
        assert_eq!(jump("j0,u@[::1]:22,j2").unwrap(), "j0,u@[::1]:22,j2");
        assert_eq!(jump("10.0.0.1").unwrap(), "[10.0.0.1]");
        assert_eq!(jump("ssh://u@j:23").unwrap(), "u@j:23");
        assert_eq!(jump("a # c").unwrap(), "a");
        assert_eq!(jump("a,b c").unwrap(), "a,b");
        assert_eq!(jump("u@@h").unwrap(), "u@@h");
        assert_eq!(jump("a:ssh").unwrap(), "a:22");
        assert_eq!(jump("None").unwrap(), "none");
        assert_eq!(
            jump("a,b;c").unwrap_err(),
            vec!["parse_jump: invalid hostname \"b;c\"".to_string()]
        );
        assert!(jump("x@::1").is_err());
        assert!(jump("u@").is_err());
        assert!(jump("j:0").is_err());
        assert!(jump(",a").is_err());
        assert!(jump("a,").is_err());
        assert!(jump("ssh://h/p").is_err());
        assert_eq!(
            jump("-x").unwrap_err(),
            vec!["parse_jump: invalid hostname \"-x\"".to_string()]
        );
    }
}
