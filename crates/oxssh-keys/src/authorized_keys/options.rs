//! The options field of an authorized_keys line (sshd(8) "AUTHORIZED_KEYS FILE FORMAT"),
//! parsed once into [`KeyOptions`] with OpenSSH's rules (auth-options.c
//! `sshauthopt_parse`):
//!
//! - options are comma-separated; names are case-insensitive; values are double-quoted,
//!   and inside the quotes `\"` stands for a quote and commas and blanks are literal;
//! - options apply in order: `restrict` turns the five permissions off *where it stands*,
//!   so `restrict,pty` allows a pty while `pty,restrict` does not (OpenSSH assigns the
//!   flags one option at a time); the same holds for `no-pty,pty` and `pty,no-pty`
//!   (all four checked against OpenSSH 9.2's sshd: a pty or "PTY allocation request
//!   failed");
//! - `command`, `from` and `principals` may appear once; `environment`, `permitopen` and
//!   `permitlisten` accumulate (the first `environment` for a name wins); of several
//!   `expiry-time`s the earliest applies; the last `tunnel` wins;
//! - an unknown option, or any text after an option other than a comma, is an error for
//!   the whole line ("unknown key option"); empty options (`a,,b`) and a trailing comma
//!   are accepted, as OpenSSH accepts them.

use super::excerpt;
use super::expiry::ExpiryTime;
use super::permit::{parse_permit, parse_tunnel, PermitTarget, Tunnel};

/// Most `environment` options one line may carry (OpenSSH `SSH_AUTHOPT_ENV_MAX`).
const ENV_MAX: usize = 1024;
/// Most `permitopen` or `permitlisten` options one line may carry
/// (OpenSSH `SSH_AUTHOPT_PERMIT_MAX`).
const PERMIT_MAX: usize = 4096;

/// Why an options field was refused; the texts are OpenSSH's reasons ("bad key options:
/// ...").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// A double quote is not closed before the end of the line.
    #[error("invalid key option string")]
    UnterminatedQuote,
    /// An option name this parser does not know, or junk after an option (holds the
    /// start of the offending text).
    #[error("unknown key option at {0:?}")]
    UnknownOption(String),
    /// `name=` not followed by a double quote.
    #[error("{0}: missing start quote")]
    MissingStartQuote(&'static str),
    /// A value's closing quote is missing.
    #[error("{0}: missing end quote")]
    MissingEndQuote(&'static str),
    /// `command`, `from` or `principals` given twice.
    #[error("multiple \"{0}\" clauses")]
    Duplicate(&'static str),
    /// `expiry-time` is not `YYYYMMDD[HHMM[SS]][Z]`.
    #[error("invalid expires time {0:?}")]
    InvalidExpiryTime(String),
    /// `environment` is not `NAME=value` with a name of letters, digits and `_`.
    #[error("invalid environment string {0:?}")]
    InvalidEnvironment(String),
    /// More than OpenSSH's 1024 `environment` options.
    #[error("too many environment strings")]
    TooManyEnvironment,
    /// The host part of `permitopen`/`permitlisten` is malformed or too long.
    #[error("invalid permission hostname {0:?}")]
    InvalidPermitHost(String),
    /// The port of `permitopen`/`permitlisten` is missing or not `*` or 1 to 65535.
    #[error("invalid permission port {0:?}")]
    InvalidPermitPort(String),
    /// More than OpenSSH's 4096 `permitopen` (or `permitlisten`) options.
    #[error("too many permission directives")]
    TooManyPermits,
    /// `tunnel` is neither `any` nor a device number.
    #[error("invalid tun device {0:?}")]
    InvalidTunnel(String),
}

/// A permission that `restrict` turns off and its own flag turns back on (`pty`) or off
/// (`no-pty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// `pty` / `no-pty`: allocating a terminal.
    Pty,
    /// `port-forwarding` / `no-port-forwarding`: TCP (and stream-local) forwarding.
    PortForwarding,
    /// `agent-forwarding` / `no-agent-forwarding`.
    AgentForwarding,
    /// `X11-forwarding` / `no-X11-forwarding`.
    X11Forwarding,
    /// `user-rc` / `no-user-rc`: running `~/.ssh/rc`.
    UserRc,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Self; 5] = [
        Self::Pty,
        Self::PortForwarding,
        Self::AgentForwarding,
        Self::X11Forwarding,
        Self::UserRc,
    ];

    /// The option that grants it (`no-` + the name denies it).
    pub fn option_name(self) -> &'static str {
        match self {
            Self::Pty => "pty",
            Self::PortForwarding => "port-forwarding",
            Self::AgentForwarding => "agent-forwarding",
            Self::X11Forwarding => "X11-forwarding",
            Self::UserRc => "user-rc",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Self::Pty => 1,
            Self::PortForwarding => 2,
            Self::AgentForwarding => 4,
            Self::X11Forwarding => 8,
            Self::UserRc => 16,
        }
    }
}

/// The options of one authorized_keys line. [`Default`] is a line without options:
/// everything permitted, nothing forced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOptions {
    /// [`Permission`] bits still allowed.
    permitted: u8,
    restricted: bool,
    cert_authority: bool,
    touch_required: bool,
    verify_required: bool,
    command: Option<String>,
    from: Option<String>,
    principals: Option<String>,
    environment: Vec<String>,
    expiry: Vec<ExpiryTime>,
    permit_open: Vec<PermitTarget>,
    permit_listen: Vec<PermitTarget>,
    tunnel: Option<Tunnel>,
}

impl Default for KeyOptions {
    fn default() -> Self {
        Self {
            permitted: Permission::ALL.iter().fold(0, |bits, p| bits | p.bit()),
            restricted: false,
            cert_authority: false,
            touch_required: true,
            verify_required: false,
            command: None,
            from: None,
            principals: None,
            environment: Vec::new(),
            expiry: Vec::new(),
            permit_open: Vec::new(),
            permit_listen: Vec::new(),
            tunnel: None,
        }
    }
}

/// Options that take a quoted value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueOption {
    Command,
    From,
    Principals,
    ExpiryTime,
    Environment,
    PermitOpen,
    PermitListen,
    Tunnel,
}

impl ValueOption {
    const ALL: [Self; 8] = [
        Self::Command,
        Self::From,
        Self::Principals,
        Self::ExpiryTime,
        Self::Environment,
        Self::PermitOpen,
        Self::PermitListen,
        Self::Tunnel,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Command => "command",
            Self::From => "from",
            Self::Principals => "principals",
            Self::ExpiryTime => "expiry-time",
            Self::Environment => "environment",
            Self::PermitOpen => "permitopen",
            Self::PermitListen => "permitlisten",
            Self::Tunnel => "tunnel",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|o| o.name().eq_ignore_ascii_case(name))
    }
}

impl KeyOptions {
    /// Parses an options field: the text before the first blank that is not inside
    /// double quotes (see [`split_options`]).
    pub fn parse(field: &str) -> Result<Self, OptionsError> {
        let mut options = Self::default();
        let mut rest = field;
        while !rest.is_empty() {
            let after = options.apply_one(rest)?;
            rest = match after.strip_prefix(',') {
                Some(next) => next,
                None if after.is_empty() => after,
                None => return Err(OptionsError::UnknownOption(excerpt(after))),
            };
        }
        Ok(options)
    }

    /// Applies the option at the start of `text`; returns the text after it.
    fn apply_one<'a>(&mut self, text: &'a str) -> Result<&'a str, OptionsError> {
        let end = text.find([',', '=']).unwrap_or(text.len());
        let (name, after) = text.split_at(end);
        match after.strip_prefix('=') {
            Some(quoted) => {
                let option = ValueOption::from_name(name)
                    .ok_or_else(|| OptionsError::UnknownOption(excerpt(text)))?;
                let (value, after) = dequote(quoted, option.name())?;
                self.apply_value(option, value)?;
                Ok(after)
            }
            None if name.is_empty() => Ok(after),
            None => {
                self.apply_flag(name)
                    .ok_or_else(|| OptionsError::UnknownOption(excerpt(text)))?;
                Ok(after)
            }
        }
    }

    /// A flag option; `None` if there is no such flag.
    fn apply_flag(&mut self, name: &str) -> Option<()> {
        if name.eq_ignore_ascii_case("restrict") {
            self.restricted = true;
            self.permitted = 0;
            return Some(());
        }
        if name.eq_ignore_ascii_case("cert-authority") {
            self.cert_authority = true;
            return Some(());
        }
        let (allow, base) = match strip_prefix_ignore_case(name, "no-") {
            Some(base) => (false, base),
            None => (true, name),
        };
        if let Some(permission) = Permission::ALL
            .into_iter()
            .find(|p| p.option_name().eq_ignore_ascii_case(base))
        {
            if allow {
                self.permitted |= permission.bit();
            } else {
                self.permitted &= !permission.bit();
            }
        } else if base.eq_ignore_ascii_case("touch-required") {
            self.touch_required = allow;
        } else if base.eq_ignore_ascii_case("verify-required") {
            self.verify_required = allow;
        } else {
            return None;
        }
        Some(())
    }

    fn apply_value(&mut self, option: ValueOption, value: String) -> Result<(), OptionsError> {
        match option {
            ValueOption::Command => set_once(&mut self.command, value, option),
            ValueOption::From => set_once(&mut self.from, value, option),
            ValueOption::Principals => set_once(&mut self.principals, value, option),
            ValueOption::ExpiryTime => {
                let time = ExpiryTime::parse(&value)
                    .ok_or_else(|| OptionsError::InvalidExpiryTime(excerpt(&value)))?;
                self.expiry.push(time);
                Ok(())
            }
            ValueOption::Environment => self.add_environment(value),
            ValueOption::PermitOpen => {
                add_permit(&mut self.permit_open, parse_permit(&value, false)?)
            }
            ValueOption::PermitListen => {
                add_permit(&mut self.permit_listen, parse_permit(&value, true)?)
            }
            ValueOption::Tunnel => {
                self.tunnel = Some(parse_tunnel(&value)?);
                Ok(())
            }
        }
    }

    fn add_environment(&mut self, value: String) -> Result<(), OptionsError> {
        if self.environment.len() >= ENV_MAX {
            return Err(OptionsError::TooManyEnvironment);
        }
        let name = match value.split_once('=') {
            Some((name, _)) if is_env_name(name) => name,
            _ => return Err(OptionsError::InvalidEnvironment(excerpt(&value))),
        };
        // OpenSSH keeps the first value given for a name.
        let known = self
            .environment
            .iter()
            .any(|e| e.split_once('=').is_some_and(|(n, _)| n == name));
        if !known {
            self.environment.push(value);
        }
        Ok(())
    }

    /// Whether `permission` survives the options (all do without options).
    pub fn allows(&self, permission: Permission) -> bool {
        self.permitted & permission.bit() != 0
    }

    /// Grants or withdraws `permission` (a certificate's extensions decide them).
    pub(super) fn set_permitted(&mut self, permission: Permission, allowed: bool) {
        if allowed {
            self.permitted |= permission.bit();
        } else {
            self.permitted &= !permission.bit();
        }
    }

    /// Sets the forced command (a certificate's `force-command`).
    pub(super) fn set_forced_command(&mut self, command: Option<String>) {
        self.command = command;
    }

    /// Whether a pty may be allocated (`no-pty`, `restrict`, `pty`).
    pub fn pty_allowed(&self) -> bool {
        self.allows(Permission::Pty)
    }

    /// Whether TCP forwarding may be used (`no-port-forwarding`, `restrict`,
    /// `port-forwarding`).
    pub fn port_forwarding_allowed(&self) -> bool {
        self.allows(Permission::PortForwarding)
    }

    /// Whether agent forwarding may be used.
    pub fn agent_forwarding_allowed(&self) -> bool {
        self.allows(Permission::AgentForwarding)
    }

    /// Whether X11 forwarding may be used.
    pub fn x11_forwarding_allowed(&self) -> bool {
        self.allows(Permission::X11Forwarding)
    }

    /// Whether `~/.ssh/rc` may run.
    pub fn user_rc_allowed(&self) -> bool {
        self.allows(Permission::UserRc)
    }

    /// Whether `restrict` was given (even if later options re-enabled some permissions).
    pub fn is_restricted(&self) -> bool {
        self.restricted
    }

    /// Whether the line names a CA key trusted to sign user certificates
    /// (`cert-authority`). Such a line never authorizes the plain key itself.
    pub fn is_cert_authority(&self) -> bool {
        self.cert_authority
    }

    /// The `command="..."` to run instead of what the client asks for, unquoted.
    pub fn forced_command(&self) -> Option<&str> {
        self.command.as_deref()
    }

    /// The raw `from="pattern-list"`, for the server to match the client's host name
    /// and address against (with oxssh-config's matcher, CIDR included).
    pub fn from_patterns(&self) -> Option<&str> {
        self.from.as_deref()
    }

    /// The raw `principals="..."` list (comma-separated names). OpenSSH refuses a line
    /// that has it without `cert-authority`; that check is the server's.
    pub fn principals(&self) -> Option<&str> {
        self.principals.as_deref()
    }

    /// The `environment="NAME=value"` strings, in file order, one per name (the first
    /// given wins). The server applies them only with `PermitUserEnvironment`.
    pub fn environment(&self) -> &[String] {
        &self.environment
    }

    /// [`environment`](Self::environment) split into `(name, value)`.
    pub fn environment_vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.environment.iter().filter_map(|e| e.split_once('='))
    }

    /// Every `expiry-time` given, in file order.
    pub fn expiry_times(&self) -> &[ExpiryTime] {
        &self.expiry
    }

    /// When the key stops being accepted, in Unix seconds: the earliest `expiry-time`,
    /// local times read with `utc_offset` (seconds east of UTC). `None` if none given.
    pub fn expires_at(&self, utc_offset: i32) -> Option<i64> {
        self.expiry.iter().map(|t| t.to_unix(utc_offset)).min()
    }

    /// Whether the key has expired at `now` (Unix seconds). As in OpenSSH, the key is
    /// still accepted during the expiry second itself.
    pub fn is_expired(&self, now: i64, utc_offset: i32) -> bool {
        self.expires_at(utc_offset).is_some_and(|t| t < now)
    }

    /// The `permitopen` targets; empty means the options do not limit `-L` forwarding.
    pub fn permit_open(&self) -> &[PermitTarget] {
        &self.permit_open
    }

    /// The `permitlisten` targets; empty means the options do not limit `-R` forwarding.
    pub fn permit_listen(&self) -> &[PermitTarget] {
        &self.permit_listen
    }

    /// The forced tun device (`tunnel="n"`).
    pub fn tunnel(&self) -> Option<Tunnel> {
        self.tunnel
    }

    /// Whether FIDO signatures must show user presence (`no-touch-required` clears it).
    pub fn touch_required(&self) -> bool {
        self.touch_required
    }

    /// Whether FIDO signatures must show user verification (`verify-required`).
    pub fn verify_required(&self) -> bool {
        self.verify_required
    }
}

/// Splits a line (starting at its options) into the options field and the rest, as
/// OpenSSH's `sshkey_advance_past_options`: the field ends at the first blank outside
/// double quotes; `\"` never opens or closes a quote.
pub fn split_options(text: &str) -> Result<(&str, &str), OptionsError> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if text.get(i + 1..).is_some_and(|r| r.starts_with('"')) => escaped = true,
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return Ok(text.split_at(i)),
            _ => {}
        }
    }
    if quoted {
        return Err(OptionsError::UnterminatedQuote);
    }
    Ok((text, ""))
}

/// Reads a double-quoted value (OpenSSH `opt_dequote`): `\"` is a quote, every other
/// character (backslashes included) is itself. Returns the value and the text after the
/// closing quote.
fn dequote<'a>(text: &'a str, option: &'static str) -> Result<(String, &'a str), OptionsError> {
    let body = text
        .strip_prefix('"')
        .ok_or(OptionsError::MissingStartQuote(option))?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, body.get(i + 1..).unwrap_or_default())),
            '\\' if body.get(i + 1..).is_some_and(|r| r.starts_with('"')) => {
                chars.next();
                value.push('"');
            }
            c => value.push(c),
        }
    }
    Err(OptionsError::MissingEndQuote(option))
}

fn set_once(
    slot: &mut Option<String>,
    value: String,
    option: ValueOption,
) -> Result<(), OptionsError> {
    if slot.is_some() {
        return Err(OptionsError::Duplicate(option.name()));
    }
    *slot = Some(value);
    Ok(())
}

/// OpenSSH `valid_env_name`: one or more ASCII letters, digits or `_`.
fn is_env_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn add_permit(list: &mut Vec<PermitTarget>, target: PermitTarget) -> Result<(), OptionsError> {
    if list.len() >= PERMIT_MAX {
        return Err(OptionsError::TooManyPermits);
    }
    list.push(target);
    Ok(())
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
