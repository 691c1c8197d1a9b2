//! Typed option values and their parsers, with OpenSSH's accepted spellings and the names
//! `ssh -G` prints for them.
//!
//! Multi-state options are tables of (spelling, value) pairs, compared case-insensitively; `-G`
//! prints the first spelling of a value, which is why `StrictHostKeyChecking yes` prints as
//! `true` and `ControlMaster no` as `false`. Plain yes/no flags are `bool` and print `yes`/`no`.

macro_rules! choice {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident),+ $(,)? }
     [$(($s:literal, $v:ident)),+ $(,)?]) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($(#[$vm])* $var),+ }
        impl $name {
            const TABLE: &'static [(&'static str, $name)] = &[$(($s, $name::$v)),+];
            /// Parses a spelling OpenSSH accepts for this option (case-insensitive).
            pub fn parse(s: &str) -> Option<Self> {
                Self::TABLE.iter().find(|(k, _)| k.eq_ignore_ascii_case(s)).map(|&(_, v)| v)
            }
            /// The spelling `ssh -G` prints.
            pub fn name(self) -> &'static str {
                Self::TABLE.iter().find(|&&(_, v)| v == self).map_or("UNKNOWN", |&(k, _)| k)
            }
        }
    };
}

choice! {
    /// `StrictHostKeyChecking`.
    StrictHostKeyChecking {
        /// Refuse unknown and changed keys (`yes`).
        Yes,
        /// Accept anything, warn about changed keys (`no`, `off`).
        Off,
        /// Ask about unknown keys (`ask`, the default).
        Ask,
        /// Add unknown keys, refuse changed ones (`accept-new`).
        AcceptNew,
    }
    [("true", Yes), ("false", Off), ("yes", Yes), ("no", Off), ("ask", Ask), ("off", Off),
     ("accept-new", AcceptNew)]
}

choice! {
    /// A yes/no/ask option (`VerifyHostKeyDNS`, `UpdateHostKeys`).
    YesNoAsk {
        /// `yes`.
        Yes,
        /// `no`.
        No,
        /// `ask`.
        Ask,
    }
    [("true", Yes), ("false", No), ("yes", Yes), ("no", No), ("ask", Ask)]
}

choice! {
    /// The mode of `AddKeysToAgent`.
    AddKeysMode {
        /// `yes`.
        Yes,
        /// `no`.
        No,
        /// `ask`.
        Ask,
        /// `confirm`.
        Confirm,
    }
    [("true", Yes), ("false", No), ("yes", Yes), ("no", No), ("ask", Ask), ("confirm", Confirm)]
}

choice! {
    /// `AddressFamily`.
    AddressFamily {
        /// IPv4 only.
        Inet,
        /// IPv6 only.
        Inet6,
        /// Either.
        Any,
    }
    [("inet", Inet), ("inet6", Inet6), ("any", Any)]
}

choice! {
    /// `ControlMaster`.
    ControlMaster {
        /// `yes`.
        Yes,
        /// `no`.
        No,
        /// `auto`.
        Auto,
        /// `ask`.
        Ask,
        /// `autoask`.
        AutoAsk,
    }
    [("true", Yes), ("yes", Yes), ("false", No), ("no", No), ("auto", Auto), ("ask", Ask),
     ("autoask", AutoAsk)]
}

choice! {
    /// `Tunnel` (`yes` is point-to-point).
    Tunnel {
        /// Layer 2.
        Ethernet,
        /// Layer 3 (`yes`).
        PointToPoint,
        /// No tunnel.
        No,
    }
    [("ethernet", Ethernet), ("point-to-point", PointToPoint), ("true", PointToPoint),
     ("yes", PointToPoint), ("false", No), ("no", No)]
}

choice! {
    /// `RequestTTY`.
    RequestTty {
        /// Always when there is a local terminal.
        Yes,
        /// Never.
        No,
        /// Always, even without a local terminal.
        Force,
        /// When no command is given (the default).
        Auto,
    }
    [("true", Yes), ("yes", Yes), ("false", No), ("no", No), ("force", Force), ("auto", Auto)]
}

choice! {
    /// `SessionType`.
    SessionType {
        /// No session (`-N`).
        None,
        /// A subsystem (`-s`).
        Subsystem,
        /// A shell or command.
        Default,
    }
    [("none", None), ("subsystem", Subsystem), ("default", Default)]
}

choice! {
    /// `CanonicalizeHostname`.
    CanonicalizeHostname {
        /// Canonicalise direct connections.
        Yes,
        /// Never (the default).
        No,
        /// Also names given to proxies.
        Always,
    }
    [("true", Yes), ("false", No), ("yes", Yes), ("no", No), ("always", Always)]
}

choice! {
    /// `PubkeyAuthentication`.
    PubkeyAuthentication {
        /// Enabled (the default).
        Yes,
        /// Disabled.
        No,
        /// Enabled without the host-bound extension.
        Unbound,
        /// Enabled, requiring the host-bound extension.
        HostBound,
    }
    [("true", Yes), ("false", No), ("yes", Yes), ("no", No), ("unbound", Unbound),
     ("host-bound", HostBound)]
}

choice! {
    /// `LogLevel`. `DEBUG` and `DEBUG1` are the same level.
    LogLevel {
        /// Nothing.
        Quiet,
        /// Fatal errors.
        Fatal,
        /// Errors.
        Error,
        /// The default.
        Info,
        /// `-v`-like extra information.
        Verbose,
        /// `-v`.
        Debug1,
        /// `-vv`.
        Debug2,
        /// `-vvv`.
        Debug3,
    }
    [("SILENT", Quiet), ("QUIET", Quiet), ("FATAL", Fatal), ("ERROR", Error), ("INFO", Info), ("VERBOSE", Verbose),
     ("DEBUG", Debug1), ("DEBUG1", Debug1), ("DEBUG2", Debug2), ("DEBUG3", Debug3)]
}

choice! {
    /// `SyslogFacility`.
    #[allow(missing_docs)]
    SyslogFacility { Daemon, User, Auth, AuthPriv, Local0, Local1, Local2, Local3, Local4,
        Local5, Local6, Local7 }
    [("DAEMON", Daemon), ("USER", User), ("AUTH", Auth), ("AUTHPRIV", AuthPriv),
     ("LOCAL0", Local0), ("LOCAL1", Local1), ("LOCAL2", Local2), ("LOCAL3", Local3),
     ("LOCAL4", Local4), ("LOCAL5", Local5), ("LOCAL6", Local6), ("LOCAL7", Local7)]
}

choice! {
    /// A digest name (`FingerprintHash`).
    #[allow(missing_docs)]
    Digest { Md5, Sha1, Sha256, Sha384, Sha512 }
    [("MD5", Md5), ("SHA1", Sha1), ("SHA256", Sha256), ("SHA384", Sha384), ("SHA512", Sha512)]
}

/// Parses a yes/no flag (`yes`, `no`, `true`, `false`, any case).
pub fn parse_flag(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    }
}

/// How `-G` prints a flag.
pub fn flag_name(v: bool) -> &'static str {
    if v {
        "yes"
    } else {
        "no"
    }
}

/// `AddKeysToAgent`: a mode and a key lifetime in seconds (0 = no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddKeysToAgent {
    /// Whether and how keys are added.
    pub mode: AddKeysMode,
    /// Lifetime of added keys in seconds; 0 means no limit.
    pub lifetime: u32,
}

/// `ControlPersist`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlPersist {
    /// The master exits with its last client.
    No,
    /// The master stays in the background until told to exit.
    Yes,
    /// The master stays this many seconds after its last client (never 0).
    Timeout(u32),
}

/// `EscapeChar`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EscapeChar {
    /// Escapes disabled.
    None,
    /// The escape byte.
    Byte(u8),
}

/// One side of `TunnelDevice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunId {
    /// The next available device.
    Any,
    /// A device number.
    Id(u32),
}

/// Largest tunnel device number (`SSH_TUNID_MAX`).
const TUNID_MAX: i64 = 0x7fff_fffd - 1;

/// OpenSSH's `convtime`: `90`, `90s`, `1h30m`, `2d`, `1w`; total at most `INT_MAX` seconds.
pub fn convtime(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let mut total: i64 = 0;
    let mut i = 0;
    while i < b.len() {
        // strtol: optional leading spaces and a sign.
        while matches!(
            b.get(i),
            Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
        ) {
            i += 1;
        }
        let neg = matches!(b.get(i), Some(b'-'));
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let digits_start = i;
        let mut secs: i64 = 0;
        while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
            secs = secs.saturating_mul(10).saturating_add(i64::from(d - b'0'));
            i += 1;
        }
        if i == digits_start || (neg && secs > 0) {
            return None;
        }
        let mult: i64 = match b.get(i) {
            None => 1,
            Some(c) => {
                i += 1;
                match c {
                    b's' | b'S' => 1,
                    b'm' | b'M' => 60,
                    b'h' | b'H' => 3600,
                    b'd' | b'D' => 86400,
                    b'w' | b'W' => 604_800,
                    _ => return None,
                }
            }
        };
        let int_max = i64::from(i32::MAX);
        if secs > int_max / mult {
            return None;
        }
        let secs = secs * mult;
        if total > int_max - secs {
            return None;
        }
        total += secs;
    }
    u32::try_from(total).ok()
}

/// OpenSSH's `scan_scaled` (as used by `RekeyLimit`): a number with an optional fraction and
/// a `B`/`K`/`M`/`G`/`T`/`P`/`E` suffix in powers of 1024. Errors carry `strerror` text.
pub fn scan_scaled(s: &str) -> Result<i64, &'static str> {
    const EINVAL: &str = "Invalid argument";
    const ERANGE: &str = "Result too large";
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (whole_s, rest) = t.split_at(digits);
    let (frac_s, rest) = match rest.strip_prefix('.') {
        Some(r) => {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            r.split_at(n)
        }
        None => ("", rest),
    };
    if whole_s.is_empty() && frac_s.is_empty() {
        return Err(EINVAL);
    }
    let whole: i64 = if whole_s.is_empty() {
        0
    } else {
        whole_s.parse().map_err(|_| ERANGE)?
    };
    let shift = match rest.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        "P" => 50,
        "E" => 60,
        _ => return Err(EINVAL),
    };
    let scale: i64 = 1 << shift;
    let mut value = whole.checked_mul(scale).ok_or(ERANGE)?;
    if shift > 0 && !frac_s.is_empty() {
        // Only as many fraction digits as can carry precision; the rest are truncated.
        let frac_digits = frac_s.get(..frac_s.len().min(18)).unwrap_or(frac_s);
        let frac: i64 = frac_digits.parse().map_err(|_| ERANGE)?;
        let denom = 10i64.pow(u32::try_from(frac_digits.len()).unwrap_or(0));
        let part = i128::from(frac) * i128::from(scale) / i128::from(denom);
        value = value
            .checked_add(i64::try_from(part).map_err(|_| ERANGE)?)
            .ok_or(ERANGE)?;
    }
    Ok(if neg { -value } else { value })
}

/// OpenSSH's `strtonum(s, 0, INT_MAX)` as used for integer options: the error text is
/// `missing`, `invalid`, `too small` or `too large`.
pub fn parse_int(s: Option<&str>) -> Result<u32, &'static str> {
    let s = match s {
        None | Some("") => return Err("missing"),
        Some(s) => s,
    };
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid");
    }
    let v: i128 = t.parse::<i128>().unwrap_or(i128::MAX);
    let v = if neg { -v } else { v };
    if v < 0 {
        return Err("too small");
    }
    if v > i128::from(i32::MAX) {
        return Err("too large");
    }
    u32::try_from(v).map_err(|_| "too large")
}

/// Parses `EscapeChar`: `none`, one byte, or `^X` for a control character.
pub fn parse_escape_char(s: &str) -> Option<EscapeChar> {
    if s == "none" {
        return Some(EscapeChar::None);
    }
    match s.as_bytes() {
        [c] => Some(EscapeChar::Byte(*c)),
        [b'^', c] if (64..128).contains(c) => Some(EscapeChar::Byte(c & 31)),
        _ => None,
    }
}

/// Renders a byte as OpenBSD's `vis(3)` does with `VIS_WHITE` (how `-G` prints `EscapeChar`).
pub fn vis_byte(c: u8) -> String {
    if c == b'\\' {
        return "\\\\".into();
    }
    if c.is_ascii_graphic() {
        return char::from(c).to_string();
    }
    if c & 0x7f == b' ' {
        return format!("\\{:03o}", c);
    }
    let mut out = String::from("\\");
    let mut c = c;
    if c & 0x80 != 0 {
        c &= 0x7f;
        out.push('M');
    }
    if c.is_ascii_control() {
        out.push('^');
        out.push(if c == 0x7f { '?' } else { char::from(c + b'@') });
    } else {
        out.push('-');
        out.push(char::from(c));
    }
    out
}

/// IP type-of-service names, in OpenSSH's table order (the first name of a value is printed).
const IPQOS: &[(&str, u32)] = &[
    ("af11", 0x28),
    ("af12", 0x30),
    ("af13", 0x38),
    ("af21", 0x48),
    ("af22", 0x50),
    ("af23", 0x58),
    ("af31", 0x68),
    ("af32", 0x70),
    ("af33", 0x78),
    ("af41", 0x88),
    ("af42", 0x90),
    ("af43", 0x98),
    ("cs0", 0x00),
    ("cs1", 0x20),
    ("cs2", 0x40),
    ("cs3", 0x60),
    ("cs4", 0x80),
    ("cs5", 0xa0),
    ("cs6", 0xc0),
    ("cs7", 0xe0),
    ("ef", 0xb8),
    ("le", 0x04),
    ("lowdelay", 0x10),
    ("throughput", 0x08),
    ("reliability", 0x04),
];

/// The `none` value of `IPQoS` (OpenSSH uses `INT_MAX`, as 0 is `cs0`).
pub const IPQOS_NONE: u32 = i32::MAX as u32;

/// Parses an `IPQoS` value: a name or an integer 0-255 (decimal, octal or hex).
pub fn parse_ipqos(s: &str) -> Option<u32> {
    if s.eq_ignore_ascii_case("none") {
        return Some(IPQOS_NONE);
    }
    if let Some(&(_, v)) = IPQOS.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Some(v);
    }
    let v = parse_c_integer(s)?;
    u32::try_from(v).ok().filter(|v| *v <= 255)
}

/// Prints an `IPQoS` value as `-G` does.
pub fn ipqos_name(v: u32) -> String {
    if v == IPQOS_NONE {
        return "none".into();
    }
    IPQOS
        .iter()
        .find(|&&(_, x)| x == v)
        .map_or_else(|| format!("0x{v:02x}"), |(n, _)| (*n).to_string())
}

/// `strtol(s, &end, 0)` requiring the whole string: decimal, `0` octal or `0x` hex.
fn parse_c_integer(s: &str) -> Option<i64> {
    let (neg, t) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if t.len() > 1 && t.starts_with('0') {
        i64::from_str_radix(t.get(1..)?, 8).ok()?
    } else {
        t.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Parses one side of `TunnelDevice`.
fn parse_tun_id(s: &str) -> Option<TunId> {
    if s.eq_ignore_ascii_case("any") {
        return Some(TunId::Any);
    }
    let v = parse_int(Some(s)).ok()?;
    (i64::from(v) <= TUNID_MAX).then_some(TunId::Id(v))
}

/// Parses `TunnelDevice` (`local[:remote]`).
pub fn parse_tunnel_device(s: &str) -> Option<(TunId, TunId)> {
    match s.split_once(':') {
        Some((l, r)) => Some((parse_tun_id(l)?, parse_tun_id(r)?)),
        None => Some((parse_tun_id(s)?, TunId::Any)),
    }
}

/// Formats one side of `TunnelDevice` as `-G` does.
pub fn tun_id_name(t: TunId) -> String {
    match t {
        TunId::Any => "any".into(),
        TunId::Id(n) => n.to_string(),
    }
}

/// Whether `name` is a valid environment variable name (letters, digits, `_`).
pub fn valid_env_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// OpenSSH's `valid_domain`: letters, digits, `-`, `_` and non-consecutive dots, starting with
/// a letter or digit. Returns the lower-cased name without a trailing dot, or the error text.
pub fn valid_domain(name: &str) -> Result<String, String> {
    let Some(first) = name.bytes().next() else {
        return Err("empty domain name".into());
    };
    if !first.is_ascii_alphanumeric() {
        return Err(format!(
            "domain name \"{name}\" starts with invalid character"
        ));
    }
    let lower = name.to_ascii_lowercase();
    if lower.contains("..") {
        return Err(format!(
            "domain name \"{lower}\" contains consecutive separators"
        ));
    }
    if !lower
        .bytes()
        .all(|c| c == b'.' || c == b'-' || c == b'_' || c.is_ascii_alphanumeric())
    {
        return Err(format!(
            "domain name \"{lower}\" contains invalid characters"
        ));
    }
    Ok(lower.strip_suffix('.').unwrap_or(&lower).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multistate_parse_and_print_like_openssh() {
        assert_eq!(
            StrictHostKeyChecking::parse("Yes"),
            Some(StrictHostKeyChecking::Yes)
        );
        assert_eq!(StrictHostKeyChecking::Yes.name(), "true");
        assert_eq!(StrictHostKeyChecking::Off.name(), "false");
        assert_eq!(StrictHostKeyChecking::AcceptNew.name(), "accept-new");
        assert_eq!(ControlMaster::No.name(), "false");
        assert_eq!(LogLevel::parse("debug1").map(LogLevel::name), Some("DEBUG"));
        assert_eq!(PubkeyAuthentication::HostBound.name(), "host-bound");
        assert_eq!(parse_flag("TRUE"), Some(true));
        assert_eq!(parse_flag("maybe"), None);
    }

    #[test]
    fn convtime_accepts_openssh_time_formats() {
        assert_eq!(convtime("90"), Some(90));
        assert_eq!(convtime("1m30s"), Some(90));
        assert_eq!(convtime("1h"), Some(3600));
        assert_eq!(convtime("2d"), Some(172_800));
        assert_eq!(convtime("1W"), Some(604_800));
        assert_eq!(convtime("0"), Some(0));
        assert_eq!(convtime(""), None);
        assert_eq!(convtime("1x"), None);
        assert_eq!(convtime("-1"), None);
        assert_eq!(convtime("4000000w"), None);
    }

    #[test]
    fn scaled_numbers_use_powers_of_1024() {
        assert_eq!(scan_scaled("1G"), Ok(1 << 30));
        assert_eq!(scan_scaled("500K"), Ok(512_000));
        assert_eq!(scan_scaled("1.5M"), Ok(1_572_864));
        assert_eq!(scan_scaled("10"), Ok(10));
        assert_eq!(scan_scaled("x"), Err("Invalid argument"));
        assert_eq!(scan_scaled("1Q"), Err("Invalid argument"));
    }

    #[test]
    fn integers_report_strtonum_errors() {
        assert_eq!(parse_int(Some("3")), Ok(3));
        assert_eq!(parse_int(Some("-1")), Err("too small"));
        assert_eq!(parse_int(Some("x")), Err("invalid"));
        assert_eq!(parse_int(Some("99999999999")), Err("too large"));
        assert_eq!(parse_int(None), Err("missing"));
    }

    #[test]
    fn escape_chars_and_their_vis_form() {
        assert_eq!(parse_escape_char("~"), Some(EscapeChar::Byte(b'~')));
        assert_eq!(parse_escape_char("^A"), Some(EscapeChar::Byte(1)));
        assert_eq!(parse_escape_char("^?"), None);
        assert_eq!(parse_escape_char("none"), Some(EscapeChar::None));
        assert_eq!(parse_escape_char("ab"), None);
        assert_eq!(vis_byte(b'~'), "~");
        assert_eq!(vis_byte(1), "\\^A");
        assert_eq!(vis_byte(27), "\\^[");
        assert_eq!(vis_byte(b'\\'), "\\\\");
        assert_eq!(vis_byte(b' '), "\\040");
        assert_eq!(vis_byte(0x7f), "\\^?");
        assert_eq!(vis_byte(0xe9), "\\M-i");
    }

    #[test]
    fn ipqos_names_and_numbers() {
        assert_eq!(parse_ipqos("AF21"), Some(0x48));
        assert_eq!(
            parse_ipqos("0x10").map(ipqos_name).as_deref(),
            Some("lowdelay")
        );
        assert_eq!(parse_ipqos("255").map(ipqos_name).as_deref(), Some("0xff"));
        assert_eq!(parse_ipqos("256"), None);
        assert_eq!(ipqos_name(0x04), "le");
    }

    #[test]
    fn tunnel_devices() {
        assert_eq!(
            parse_tunnel_device("3:any"),
            Some((TunId::Id(3), TunId::Any))
        );
        assert_eq!(parse_tunnel_device("any"), Some((TunId::Any, TunId::Any)));
        assert_eq!(parse_tunnel_device("x"), None);
    }

    #[test]
    fn domains_are_checked_and_lowercased() {
        assert_eq!(valid_domain("A.Com."), Ok("a.com".into()));
        assert!(valid_domain("-a").is_err());
        assert!(valid_domain("a..b").is_err());
        assert!(valid_domain("a b").is_err());
    }
}
