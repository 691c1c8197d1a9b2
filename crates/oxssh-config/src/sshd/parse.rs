//! Parsing one keyword's arguments into a [`Value`], with sshd 9.2's validation and error
//! wording (`servconf.c`, `process_server_config_line_depth`).

use crate::algorithms::{first_unknown, valid_spec, AlgorithmLists, ListKind};
use crate::env::ConfigEnv;
use crate::lexer::Args;
use crate::values::{convtime, parse_int, scan_scaled};

use super::keyword::{AlgKind, SshdKeywordInfo, ValueKind};
use super::{LogLevel, SyslogFacility};

/// A parsed value, before defaults and `Match` are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Flag(bool),
    /// The canonical word (as `-T` prints it).
    Choice(&'static str),
    Int(u32),
    Word(String),
    /// Several arguments given on one line.
    Words(Vec<String>),
    Port(u16),
    /// Host (without brackets) and optional port.
    Listen(String, Option<u16>),
    Level(LogLevel),
    Facility(SyslogFacility),
    Startups(u32, u32, u32),
    /// Bytes, and the interval when one was given (`none` = not given).
    Rekey(u64, Option<u32>),
    Subsystem(String, String),
    Include(Vec<String>),
    /// Parsed elsewhere (`Match`), deprecated or ignored keywords.
    Nothing,
}

/// A problem with one line: `Bad` lines are counted and reading goes on (sshd returns -1),
/// `Fatal` stops at once (sshd calls `fatal()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineError {
    Bad(String),
    Fatal(String),
    /// An included file failed; its error is passed up unchanged.
    Nested(Box<super::SshdConfigError>),
}

/// What a value parser needs besides its arguments.
pub(crate) struct LineCtx<'a> {
    pub(crate) file: &'a str,
    pub(crate) line: u32,
    /// The keyword as written (sshd's messages quote it so).
    pub(crate) written: &'a str,
    pub(crate) env: &'a dyn ConfigEnv,
    pub(crate) algs: &'a AlgorithmLists,
}

impl LineCtx<'_> {
    fn fatal(&self, msg: impl std::fmt::Display) -> LineError {
        LineError::Fatal(format!("{} line {}: {msg}", self.file, self.line))
    }
}

fn flag(ctx: &LineCtx<'_>, arg: Option<String>) -> Result<bool, LineError> {
    let arg = arg.unwrap_or_default();
    match arg.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(ctx.fatal(format!("unsupported option \"{arg}\"."))),
    }
}

fn time(ctx: &LineCtx<'_>, arg: Option<String>) -> Result<u32, LineError> {
    match arg.as_deref() {
        None | Some("") => Err(ctx.fatal("missing time value.")),
        Some(a) => convtime(a).ok_or_else(|| ctx.fatal("invalid time value.")),
    }
}

/// sshd's `a2port` (numbers 1..=65535 or a service name).
fn a2port(s: &str, env: &dyn ConfigEnv) -> Option<u16> {
    match parse_int(Some(s)) {
        Ok(p) => u16::try_from(p).ok().filter(|p| *p > 0),
        Err("invalid") => env.service_port(s),
        Err(_) => None,
    }
}

/// Splits `ListenAddress` (`host`, `host:port`, `[host]:port`, `[host]`) as `hpdelim`.
fn listen(ctx: &LineCtx<'_>, arg: &str) -> Result<Value, LineError> {
    let (host, port) = if let Some(inner) = arg.strip_prefix('[') {
        let Some((h, after)) = inner.split_once(']') else {
            return Err(ctx.fatal("bad address:port usage"));
        };
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err(ctx.fatal("bad address:port usage")),
        }
    } else if arg.matches(':').count() == 1 {
        let (h, p) = arg.split_once(':').unwrap_or((arg, ""));
        (h, Some(p))
    } else {
        (arg, None)
    };
    if host.is_empty() {
        return Err(ctx.fatal("bad address:port usage"));
    }
    let port = match port {
        None => None,
        Some(p) => Some(a2port(p, ctx.env).ok_or_else(|| ctx.fatal("bad port number"))?),
    };
    Ok(Value::Listen(host.to_string(), port))
}

/// sshd's `MaxStartups` via `sscanf("%d:%d:%d")`.
fn max_startups(ctx: &LineCtx<'_>, arg: &str) -> Result<Value, LineError> {
    let bad = || ctx.fatal("Invalid MaxStartups spec.");
    // sscanf's %d: leading spaces, a sign, digits; it stops at anything else.
    fn int(s: &str) -> Option<(i64, &str)> {
        let t = s.trim_start();
        let (neg, t) = match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let n = t.bytes().take_while(u8::is_ascii_digit).count();
        let v: i64 = t.get(..n)?.parse().ok()?;
        Some((if neg { -v } else { v }, t.get(n..).unwrap_or("")))
    }
    let (begin, rest) = int(arg).ok_or_else(bad)?;
    let full_spec = rest.strip_prefix(':').and_then(|r| {
        let (rate, r) = int(r)?;
        let (full, _) = int(r.strip_prefix(':')?)?;
        Some((rate, full))
    });
    let (rate, full) = match full_spec {
        Some((rate, full)) => {
            if begin > full || !(1..=100).contains(&rate) {
                return Err(bad());
            }
            (rate, full)
        }
        // Only "N" (n == 1 in sscanf): "N:M" is an error.
        None if rest.starts_with(':') && int(rest.get(1..).unwrap_or("")).is_some() => {
            return Err(bad())
        }
        None => (30, begin),
    };
    if full <= 0 || begin <= 0 {
        return Err(bad());
    }
    let u = |v: i64| u32::try_from(v).map_err(|_| bad());
    Ok(Value::Startups(u(begin)?, u(rate)?, u(full)?))
}

fn algorithms(ctx: &LineCtx<'_>, kind: AlgKind, arg: &str) -> Result<Value, LineError> {
    let (all, list_kind, what) = match kind {
        AlgKind::Cipher => (
            &ctx.algs.ciphers.all,
            ListKind::Exact,
            "Bad SSH2 cipher spec",
        ),
        AlgKind::Mac => (&ctx.algs.macs.all, ListKind::Exact, "Bad SSH2 mac spec"),
        AlgKind::Kex => (&ctx.algs.kex.all, ListKind::Exact, "Bad SSH2 KexAlgorithms"),
        AlgKind::KeyTypes => (&ctx.algs.key_types.all, ListKind::KeyTypes, "Bad key types"),
        AlgKind::CaSignatures => (
            &ctx.algs.ca_signatures.all,
            ListKind::KeyTypes,
            "Bad key types",
        ),
    };
    if !valid_spec(arg, all, list_kind) {
        let msg = ctx.fatal(format!("{what} '{arg}'."));
        // kex_names_valid logs the first unknown name before sshd's fatal().
        let names = arg.strip_prefix(['+', '^']).unwrap_or(arg);
        if let (AlgKind::Kex, Some(bad), LineError::Fatal(m)) =
            (kind, first_unknown(names, all), &msg)
        {
            return Err(LineError::Fatal(format!(
                "Unsupported KEX algorithm \"{bad}\"\n{m}"
            )));
        }
        return Err(msg);
    }
    Ok(Value::Word(arg.to_string()))
}

/// Known `AuthenticationMethods` names (`auth2.c`'s method table, Debian build).
const AUTH_METHODS: &[&str] = &[
    "none",
    "publickey",
    "password",
    "keyboard-interactive",
    "hostbased",
    "gssapi-with-mic",
    "gssapi-keyex",
];

fn auth_methods(ctx: &LineCtx<'_>, args: Vec<String>) -> Result<Value, LineError> {
    if args.is_empty() {
        return Err(ctx.fatal(format!("{} missing argument.", ctx.written)));
    }
    for (i, a) in args.iter().enumerate() {
        if a == "any" {
            if args.len() > 1 || i > 0 {
                return Err(ctx.fatal("\"any\" must appear alone in AuthenticationMethods"));
            }
            continue;
        }
        let ok = a.split(',').all(|m| {
            let name = m.split_once(':').map_or(m, |(n, _)| n);
            !m.is_empty() && AUTH_METHODS.contains(&name)
        });
        if !ok {
            let bad = a
                .split(',')
                .find(|m| !AUTH_METHODS.contains(&m.split_once(':').map_or(*m, |(n, _)| n)))
                .unwrap_or("");
            return Err(LineError::Fatal(format!(
                "Unknown authentication method \"{bad}\" in list\n{} line {}: invalid AuthenticationMethods method list.",
                ctx.file, ctx.line
            )));
        }
    }
    Ok(Value::Words(args))
}

/// `strtol(s, &end, 8)` as sshd reads `StreamLocalBindMask`: leading blanks, an optional
/// sign, the octal digits up to the first other character; `None` without a digit or
/// for a negative value.
fn octal_prefix(s: &str) -> Option<u32> {
    let t = s.trim_start();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let n = t.bytes().take_while(|b| (b'0'..=b'7').contains(b)).count();
    let value = u32::from_str_radix(t.get(..n)?, 8).ok()?;
    (!negative || value == 0).then_some(value)
}

/// Parses the arguments of one keyword. `rest` is the raw text after the keyword (for
/// `ForceCommand` and friends, which take it as written).
pub(crate) fn parse_value(
    info: &SshdKeywordInfo,
    args: &mut Args,
    rest: &str,
    ctx: &LineCtx<'_>,
) -> Result<Value, LineError> {
    let kw = ctx.written;
    let v = match info.kind {
        ValueKind::Flag => Value::Flag(flag(ctx, args.next_arg())?),
        ValueKind::Choice(table) => {
            let arg = args.next_arg().unwrap_or_default();
            let found = table.iter().find(|(w, _)| w.eq_ignore_ascii_case(&arg));
            match found {
                Some((_, canon)) => Value::Choice(canon),
                None => return Err(ctx.fatal(format!("unsupported option \"{arg}\"."))),
            }
        }
        ValueKind::Int => match parse_int(args.next_arg().as_deref()) {
            Ok(v) => Value::Int(v),
            Err(e) => return Err(ctx.fatal(format!("{kw} integer value {e}."))),
        },
        ValueKind::Time => Value::Int(time(ctx, args.next_arg())?),
        ValueKind::Word => match args.next_arg() {
            Some(a) if !a.is_empty() => {
                if info.option == "rdomain" {
                    return Err(ctx.fatal("setting RDomain not supported on this platform."));
                }
                if info.option == "streamlocalbindmask" {
                    let mask = octal_prefix(&a).filter(|m| *m <= 0o777);
                    return match mask {
                        Some(m) => Ok(Value::Int(m)),
                        None => Err(ctx.fatal(format!("Invalid {kw}."))),
                    };
                }
                Value::Word(a)
            }
            _ => return Err(ctx.fatal(format!("{kw} missing argument."))),
        },
        ValueKind::RestOfLine => {
            args.consume_all();
            let text = rest.trim_start_matches([' ', '\t', '\r', '\n']).to_string();
            // The key and principals commands must be absolute; ForceCommand need not be.
            let needs_path = info.option.ends_with("command") && info.option != "forcecommand";
            if needs_path && text != "none" && !text.starts_with('/') {
                return Err(ctx.fatal(format!("{kw} must be an absolute path")));
            }
            Value::Word(text)
        }
        ValueKind::Port => match args.next_arg() {
            None => return Err(ctx.fatal("missing port number.")),
            Some(a) => Value::Port(
                a2port(&a, ctx.env).ok_or_else(|| ctx.fatal("Badly formatted port number."))?,
            ),
        },
        ValueKind::ListenAddress => {
            let Some(a) = args.next_arg().filter(|a| !a.is_empty()) else {
                return Err(ctx.fatal("missing address"));
            };
            let v = listen(ctx, &a)?;
            if args.peek() == Some("rdomain") {
                return Err(ctx.fatal("bad routing domain"));
            }
            v
        }
        ValueKind::HostKey => match args.next_arg() {
            Some(a) if !a.is_empty() => Value::Word(a),
            _ => return Err(ctx.fatal(format!("{kw} missing argument."))),
        },
        ValueKind::Algorithms(kind) => match args.next_arg() {
            Some(a) if !a.is_empty() => algorithms(ctx, kind, &a)?,
            _ => return Err(ctx.fatal(format!("{kw} missing argument."))),
        },
        ValueKind::LogLevel => {
            let a = args.next_arg().unwrap_or_default();
            match LogLevel::parse(&a) {
                Some(l) => Value::Level(l),
                None => return Err(ctx.fatal(format!("unsupported log level '{a}'"))),
            }
        }
        ValueKind::Facility => {
            let a = args.next_arg().unwrap_or_default();
            match SyslogFacility::parse(&a) {
                Some(f) => Value::Facility(f),
                None => return Err(ctx.fatal(format!("unsupported log facility '{a}'"))),
            }
        }
        ValueKind::MaxStartups => match args.next_arg() {
            Some(a) if !a.is_empty() => max_startups(ctx, &a)?,
            _ => return Err(ctx.fatal(format!("{kw} missing argument."))),
        },
        ValueKind::RekeyLimit => {
            let a = args.next_arg().unwrap_or_default();
            let bytes = if a == "default" {
                0
            } else {
                let v = scan_scaled(&a)
                    .map_err(|e| ctx.fatal(format!("Bad {kw} number '{a}': {e}")))?;
                if v != 0 && v < 16 {
                    return Err(ctx.fatal(format!("{kw} too small")));
                }
                u64::try_from(v).map_err(|_| ctx.fatal(format!("{kw} too small")))?
            };
            let interval = match args.peek() {
                None => None,
                Some("none") => {
                    args.next_arg();
                    None
                }
                Some(_) => Some(time(ctx, args.next_arg())?),
            };
            Value::Rekey(bytes, interval)
        }
        ValueKind::Patterns => {
            let mut v = Vec::new();
            while let Some(a) = args.next_arg() {
                let invalid = a.is_empty()
                    || (info.option.ends_with("users")
                        && crate::addrmatch::match_user(None, None, None, &a).is_err());
                if invalid {
                    return Err(ctx.fatal(format!("invalid {kw} pattern: \"{a}\"")));
                }
                v.push(a);
            }
            Value::Words(v)
        }
        ValueKind::AcceptEnv => {
            let mut v = Vec::new();
            while let Some(a) = args.next_arg() {
                if a.is_empty() || a.contains('=') {
                    return Err(ctx.fatal("Invalid environment name."));
                }
                v.push(a);
            }
            Value::Words(v)
        }
        ValueKind::SetEnv => {
            let mut v: Vec<String> = Vec::new();
            while let Some(a) = args.next_arg() {
                let name = a.split_once('=').map(|(n, _)| n);
                if a.is_empty() || name.is_none() {
                    return Err(ctx.fatal("Invalid environment."));
                }
                // Later duplicates of a name are ignored.
                if !v.iter().any(|e| e.split_once('=').map(|(n, _)| n) == name) {
                    v.push(a);
                }
            }
            Value::Words(v)
        }
        ValueKind::AuthorizedKeysFile => {
            let mut v = Vec::new();
            while let Some(a) = args.next_arg() {
                if a.is_empty() {
                    return Err(LineError::Bad(format!(
                        "{} line {}: keyword {kw} empty argument",
                        ctx.file, ctx.line
                    )));
                }
                v.push(a);
            }
            Value::Words(v)
        }
        ValueKind::AuthenticationMethods => {
            let mut v = Vec::new();
            while let Some(a) = args.next_arg() {
                v.push(a);
            }
            auth_methods(ctx, v)?
        }
        ValueKind::Subsystem => {
            let Some(name) = args.next_arg().filter(|a| !a.is_empty()) else {
                return Err(ctx.fatal(format!("{kw} missing argument.")));
            };
            let mut cmd = Vec::new();
            while let Some(a) = args.next_arg() {
                cmd.push(a);
            }
            if cmd.is_empty() {
                return Err(ctx.fatal("Missing subsystem command."));
            }
            Value::Subsystem(name, cmd.join(" "))
        }
        ValueKind::PermitUserEnvironment => {
            let a = args.next_arg().unwrap_or_default();
            match a.to_ascii_lowercase().as_str() {
                "yes" => Value::Choice("yes"),
                "no" => Value::Choice("no"),
                _ => Value::Word(a),
            }
        }
        ValueKind::PermitTunnel => {
            let a = args.next_arg().unwrap_or_default();
            let canon = ["yes", "point-to-point", "ethernet", "no"]
                .into_iter()
                .find(|w| *w == a);
            match canon {
                Some(w) => Value::Choice(w),
                None => return Err(ctx.fatal(format!("bad {kw} argument {a}"))),
            }
        }
        ValueKind::PermitOpen => {
            let mut v = Vec::new();
            while let Some(a) = args.next_arg() {
                let special = a == "any" || a == "none";
                if !special && !valid_permit(&a) {
                    return Err(ctx.fatal(format!("{kw} bad port number")));
                }
                v.push(a);
            }
            Value::Words(v)
        }
        ValueKind::IpQos => {
            let mut v = Vec::new();
            while let Some(a) = args.next_arg() {
                if crate::values::parse_ipqos(&a).is_none() {
                    return Err(ctx.fatal(format!("Bad ipqos value: {a}")));
                }
                v.push(a);
                if v.len() == 2 {
                    break;
                }
            }
            Value::Words(v)
        }
        ValueKind::Words => {
            let mut v = Vec::new();
            while let Some(a) = args.next_arg() {
                v.push(a);
            }
            Value::Words(v)
        }
        ValueKind::Include => {
            let mut v = Vec::new();
            while let Some(a) = args.next_arg() {
                if a.starts_with('~') {
                    return Err(ctx.fatal("Include paths may not start with ~"));
                }
                v.push(a);
            }
            Value::Include(v)
        }
        ValueKind::Match | ValueKind::Ignored => {
            args.consume_all();
            Value::Nothing
        }
        ValueKind::Deprecated => {
            args.consume_all();
            Value::Nothing
        }
    };
    Ok(v)
}

/// `PermitOpen`/`PermitListen` entries: `host:port`, `port` (listen), `*` ports allowed.
fn valid_permit(s: &str) -> bool {
    let port = match s.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => p,
        Some(_) => return false,
        None => s,
    };
    port == "*" || port.parse::<u16>().is_ok_and(|p| p > 0)
}
