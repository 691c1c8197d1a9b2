//! The typed values of a server configuration and its error type.

use std::fmt;

/// What is known about a connection when `Match` blocks are evaluated. A criterion whose
/// detail is `None` does not match (as `sshd -T -C` without that parameter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionContext {
    /// The user name the client asked for (`Match User`).
    pub user: Option<String>,
    /// That user's groups, from the caller's account lookup (`Match Group`); this crate
    /// never reads the group database itself.
    pub groups: Option<Vec<String>>,
    /// The client's host name, or its address when `UseDNS no` (`Match Host`).
    pub host: Option<String>,
    /// The client's address (`Match Address`).
    pub address: Option<String>,
    /// The local address the connection arrived on (`Match LocalAddress`).
    pub local_address: Option<String>,
    /// The local port the connection arrived on (`Match LocalPort`).
    pub local_port: Option<u16>,
    /// The routing domain (`Match RDomain`).
    pub rdomain: Option<String>,
}

/// `PermitRootLogin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermitRootLogin {
    /// `yes`.
    Yes,
    /// `prohibit-password` (alias `without-password`): no password or keyboard-interactive.
    ProhibitPassword,
    /// `forced-commands-only`: public key only, and only with a `command=` option.
    ForcedCommandsOnly,
    /// `no`.
    No,
}

/// `AddressFamily`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressFamily {
    /// `any`.
    Any,
    /// `inet` (IPv4 only).
    Inet,
    /// `inet6` (IPv6 only).
    Inet6,
}

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $($s:literal)|+),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $var),+ }
        impl $name {
            /// Parses a name case-insensitively.
            pub fn parse(s: &str) -> Option<Self> {
                $( if [$($s),+].iter().any(|n| n.eq_ignore_ascii_case(s)) { return Some(Self::$var); } )+
                None
            }
            /// The name `sshd -T` prints.
            pub fn name(self) -> &'static str {
                match self { $(Self::$var => [$($s),+][0]),+ }
            }
        }
    };
}

named_enum! {
    /// `LogLevel`, least verbose first.
    LogLevel {
        /// `QUIET`.
        Quiet = "QUIET",
        /// `FATAL`.
        Fatal = "FATAL",
        /// `ERROR`.
        Error = "ERROR",
        /// `INFO` (the default).
        Info = "INFO",
        /// `VERBOSE`.
        Verbose = "VERBOSE",
        /// `DEBUG` or `DEBUG1`.
        Debug1 = "DEBUG" | "DEBUG1",
        /// `DEBUG2`.
        Debug2 = "DEBUG2",
        /// `DEBUG3`.
        Debug3 = "DEBUG3",
    }
}

named_enum! {
    /// `SyslogFacility`.
    SyslogFacility {
        /// `DAEMON`.
        Daemon = "DAEMON",
        /// `USER`.
        User = "USER",
        /// `AUTH` (the default).
        Auth = "AUTH",
        /// `AUTHPRIV`.
        AuthPriv = "AUTHPRIV",
        /// `LOCAL0`.
        Local0 = "LOCAL0",
        /// `LOCAL1`.
        Local1 = "LOCAL1",
        /// `LOCAL2`.
        Local2 = "LOCAL2",
        /// `LOCAL3`.
        Local3 = "LOCAL3",
        /// `LOCAL4`.
        Local4 = "LOCAL4",
        /// `LOCAL5`.
        Local5 = "LOCAL5",
        /// `LOCAL6`.
        Local6 = "LOCAL6",
        /// `LOCAL7`.
        Local7 = "LOCAL7",
    }
}

/// `MaxStartups start:rate:full`: beyond `start` unauthenticated connections, refuse new
/// ones with probability `rate`% rising linearly to 100% at `full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxStartups {
    /// Connections accepted unconditionally.
    pub start: u32,
    /// Drop probability (percent) just above `start`.
    pub rate: u32,
    /// Connections at which every new one is refused.
    pub full: u32,
}

/// `RekeyLimit`: 0 means "the cipher's default" / "no time limit".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RekeyLimit {
    /// Bytes after which to rekey (0: the cipher's default).
    pub bytes: u64,
    /// Seconds after which to rekey (0: none).
    pub interval: u32,
}

/// One address to listen on (a `ListenAddress` combined with `Port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddress {
    /// The host or address as configured, without brackets.
    pub host: String,
    /// The port.
    pub port: u16,
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A `Subsystem` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subsystem {
    /// The name clients request (`sftp`).
    pub name: String,
    /// The command and its arguments, joined by single spaces (`internal-sftp` included).
    pub command: String,
}

/// `PermitUserEnvironment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermitUserEnvironment {
    /// `no`.
    No,
    /// `yes`: every variable from `~/.ssh/environment` and `environment=`.
    Yes,
    /// A pattern list of the variable names allowed.
    Allow(String),
}

/// `AllowTcpForwarding` (also `AllowStreamLocalForwarding`'s words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowForwarding {
    /// `yes` / `all`: both directions.
    Yes,
    /// `no`.
    No,
    /// `local`: only the client's `-L`/`-D` (`direct-tcpip`).
    Local,
    /// `remote`: only the client's `-R` (`tcpip-forward`).
    Remote,
}

impl AllowForwarding {
    /// Whether `direct-tcpip` opens are allowed.
    pub fn local(self) -> bool {
        matches!(self, Self::Yes | Self::Local)
    }

    /// Whether `tcpip-forward` requests are allowed.
    pub fn remote(self) -> bool {
        matches!(self, Self::Yes | Self::Remote)
    }
}

/// `GatewayPorts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayPorts {
    /// `no`: remote forwards listen on loopback only.
    No,
    /// `yes`: on every address.
    Yes,
    /// `clientspecified`: where the client asks.
    ClientSpecified,
}

/// A setting that was accepted but that oxsshd does not act on yet (see
/// [`super::keyword::SshdSupport::NotActedOn`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotActedOn {
    /// The file.
    pub file: String,
    /// The line.
    pub line: u32,
    /// The keyword (canonical spelling).
    pub keyword: &'static str,
    /// The value as written.
    pub value: String,
}

impl fmt::Display for NotActedOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} line {}: {} {} is accepted but not acted on by oxsshd yet",
            self.file, self.line, self.keyword, self.value
        )
    }
}

/// Why a [`SshdConfigError::Fatal`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SshdErrorKind {
    /// A value sshd rejects (the message is sshd's).
    BadValue,
    /// A keyword oxsshd does not support yet is set to a value that enables it.
    NotSupported,
    /// `Include` nested too deep.
    Include,
    /// A configuration file cannot be read.
    CannotOpen,
}

/// A configuration that `oxsshd -t` rejects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SshdConfigError {
    /// Unknown keywords, missing arguments or bad quotes: sshd reports each line, reads on,
    /// then stops with `<file>: terminating, N bad configuration options`.
    BadOptions {
        /// The file.
        file: String,
        /// (line number, message) for each bad line.
        lines: Vec<(u32, String)>,
    },
    /// One fatal error.
    Fatal {
        /// What went wrong.
        kind: SshdErrorKind,
        /// The file and line, when the error is about one.
        location: Option<(String, u32)>,
        /// sshd's message (possibly several lines).
        message: String,
        /// Messages printed before it (bad lines seen earlier).
        preceding: Vec<String>,
    },
}

impl SshdConfigError {
    pub(crate) fn fatal(kind: SshdErrorKind, location: Option<(String, u32)>, m: String) -> Self {
        SshdConfigError::Fatal {
            kind,
            location,
            message: m,
            preceding: Vec::new(),
        }
    }

    pub(crate) fn line_fatal(file: &str, line: u32, m: String) -> Self {
        Self::fatal(SshdErrorKind::BadValue, Some((file.to_string(), line)), m)
    }

    pub(crate) fn with_preceding(mut self, lines: Vec<String>) -> Self {
        match &mut self {
            SshdConfigError::Fatal { preceding, .. } => {
                let mut all = lines;
                all.append(preceding);
                *preceding = all;
            }
            SshdConfigError::BadOptions { .. } => {}
        }
        self
    }

    /// The file and line of the (first) offending line, when known.
    pub fn location(&self) -> Option<(&str, u32)> {
        match self {
            SshdConfigError::BadOptions { file, lines } => {
                lines.first().map(|(l, _)| (file.as_str(), *l))
            }
            SshdConfigError::Fatal { location, .. } => {
                location.as_ref().map(|(f, l)| (f.as_str(), *l))
            }
        }
    }

    /// The lines to print on stderr, worded as sshd 9.2 words them.
    pub fn messages(&self) -> Vec<String> {
        match self {
            SshdConfigError::BadOptions { file, lines } => {
                let mut out: Vec<String> = lines.iter().map(|(_, m)| m.clone()).collect();
                out.push(format!(
                    "{file}: terminating, {} bad configuration options",
                    lines.len()
                ));
                out
            }
            SshdConfigError::Fatal {
                message, preceding, ..
            } => {
                let mut out = preceding.clone();
                out.extend(message.lines().map(str::to_string));
                out
            }
        }
    }
}

impl fmt::Display for SshdConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.messages().join("\n"))
    }
}

impl std::error::Error for SshdConfigError {}
