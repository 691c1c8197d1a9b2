//! `oxssh` command-line parsing with OpenSSH 9.2 `ssh` getopt semantics, into [`Args`], a
//! low-level record close to argv that the program then merges with `-o` options and the
//! ssh_config files.
//!
//! What OpenSSH does, and so what this does (each checked against the real `ssh -G`):
//! - Options are parsed until the destination, then once more after it, until the first word
//!   of the command: `ssh host -p 2222 ls -l` uses port 2222 and runs `ls -l`. A `--` before
//!   the destination ends option parsing for good.
//! - `-l`, `user@` and `-o User` fill one slot, first come first served; so do `-p`, a URI's
//!   port and `-o Port`. A later `-p` is ignored even when it is not a valid port.
//! - `-c`, `-m`, `-C`, `-4`/`-6`, `-e`, `-q`, `-v` override `-o` and the config files; `-t`
//!   after `-o RequestTTY=yes` means `force`; `-N` and `-s` conflict with each other and with an
//!   earlier `-o SessionType`.
//! - `-V` and `-Q` act as soon as they are reached, before later flags are even looked at.
//! - Every error exits 255. Flags oxssh does not implement yet are parsed like OpenSSH's and
//!   listed by [`Args::unsupported_flags`], so `main` can refuse them by name.
//!
//! Hence the resolution order for the program: the fields of [`Args`] that mirror a config
//! keyword first (they already account for any earlier `-o`), then [`Args::options`] in order,
//! then the config files, first value winning.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::OsStringExt;

use oxssh_proto::crypto::CryptoProvider;

use super::destination::{self, DestinationError};
use super::escape::EscapeChar;
pub use super::getopt::UnsupportedFlag;
use super::getopt::{fatal, names_valid, split_option, Slot};
use super::query::Query;
use crate::option_value::{utf8, value, ValueError};

/// What `oxssh -V` prints on stderr (OpenSSH prints `OpenSSH_9.2p1 ..., OpenSSL ...`).
pub const VERSION: &str = concat!("oxssh_", env!("CARGO_PKG_VERSION"), ", aws-lc-rs");

/// OpenSSH 9.2's usage text, laid out the same with our program name.
pub const USAGE: &str = "\
usage: oxssh [-46AaCfGgKkMNnqsTtVvXxYy] [-B bind_interface]
             [-b bind_address] [-c cipher_spec] [-D [bind_address:]port]
             [-E log_file] [-e escape_char] [-F configfile] [-I pkcs11]
             [-i identity_file] [-J [user@]host[:port]] [-L address]
             [-l login_name] [-m mac_spec] [-O ctl_cmd] [-o option] [-p port]
             [-Q query_option] [-R address] [-S ctl_path] [-W host:port]
             [-w local_tun[:remote_tun]] destination [command [argument ...]]
";

/// `LogLevel`, ordered from quietest to most verbose as OpenSSH's `-v`/`-q` arithmetic needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `-q`: nothing but what must be said.
    Quiet,
    /// Fatal errors only.
    Fatal,
    /// Errors.
    Error,
    /// The default.
    Info,
    /// More information.
    Verbose,
    /// `-v`
    Debug1,
    /// `-vv`
    Debug2,
    /// `-vvv`
    Debug3,
}

impl LogLevel {
    const ALL: [Self; 8] = [
        Self::Quiet,
        Self::Fatal,
        Self::Error,
        Self::Info,
        Self::Verbose,
        Self::Debug1,
        Self::Debug2,
        Self::Debug3,
    ];

    /// The name OpenSSH 9.2 prints for the level (`ssh -G`, the `~v` escape): the quiet level
    /// prints as `SILENT` and debug1 as `DEBUG`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Quiet => "SILENT",
            Self::Fatal => "FATAL",
            Self::Error => "ERROR",
            Self::Info => "INFO",
            Self::Verbose => "VERBOSE",
            Self::Debug1 => "DEBUG",
            Self::Debug2 => "DEBUG2",
            Self::Debug3 => "DEBUG3",
        }
    }

    /// One step more verbose, saturating at `DEBUG3`.
    pub fn louder(self) -> Self {
        Self::ALL
            .into_iter()
            .find(|&level| level > self)
            .unwrap_or(self)
    }

    /// One step quieter, saturating at `QUIET`.
    pub fn quieter(self) -> Self {
        Self::ALL
            .into_iter()
            .rev()
            .find(|&level| level < self)
            .unwrap_or(self)
    }
}

/// `RequestTTY` as the flags set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestTty {
    /// `-t` (or `RequestTTY yes`).
    Yes,
    /// `-T`, `-N` (or `RequestTTY no`).
    No,
    /// `-tt` (or `RequestTTY force`).
    Force,
    /// `RequestTTY auto`; no flag sets it.
    Auto,
}

/// `SessionType` as the flags set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionType {
    /// `-N`: no session at all.
    None,
    /// `-s`: the command names a subsystem.
    Subsystem,
    /// A shell or a command (only ever from `-o SessionType=default`).
    Default,
}

/// `AddressFamily` as `-4`/`-6` set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressFamily {
    /// `-4`
    Inet,
    /// `-6`
    Inet6,
}

/// A parsed command line that connects somewhere.
///
/// Fields that mirror a config keyword are `None`/empty when the command line does not set
/// them, and already account for an earlier `-o` of the same keyword (OpenSSH's slots are
/// first-come, and `-o` is applied in argv order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Args {
    /// The destination's host, as written (`HostName` may replace it later).
    pub host: String,
    /// `-l` or `user@` (whichever came first), unless an earlier `-o User` took the slot.
    pub user: Option<String>,
    /// `-p` or a URI's port (whichever came first), unless an earlier `-o Port` took the slot.
    pub port: Option<u16>,
    /// The command words after the destination, unjoined; see [`Args::command_line`].
    pub command: Vec<OsString>,
    /// `-o` options in order, as written.
    pub options: Vec<String>,
    /// `-F` (the last one); `none` means no config files at all.
    pub config_file: Option<String>,
    /// `-i` files in order, as written (`~` not expanded, duplicates kept).
    pub identity_files: Vec<String>,
    /// `-E` (the last one).
    pub log_file: Option<String>,
    /// `-q` / `-v` result; overrides `LogLevel` from anywhere.
    pub log_level: Option<LogLevel>,
    /// How many `-v` counted (OpenSSH's `debug_flag`): 0 without `-v`, up to 3 normally
    /// (more only after `-v -q -v...`, where each `-v` climbs from QUIET).
    pub debug: u8,
    /// `-e`; overrides `EscapeChar`.
    pub escape_char: Option<EscapeChar>,
    /// `-t`/`-T`/`-N`/`-W`; overrides `RequestTTY`.
    pub request_tty: Option<RequestTty>,
    /// `-N`/`-s`/`-W`; overrides `SessionType`.
    pub session_type: Option<SessionType>,
    /// `-n` or `-f`: read nothing from stdin (`StdinNull`).
    pub stdin_null: bool,
    /// `-f` (`ForkAfterAuthentication`).
    pub fork_after_auth: bool,
    /// `-C`; overrides `Compression`.
    pub compression: bool,
    /// `-4`/`-6` (the last one); overrides `AddressFamily`.
    pub address_family: Option<AddressFamily>,
    /// `-G`: print the resolved configuration and exit.
    pub config_test: bool,
    /// `-c` (the last one), validated; overrides `Ciphers`.
    pub cipher_spec: Option<String>,
    /// `-m` (the last one), validated; overrides `MACs`.
    pub mac_spec: Option<String>,
    /// `-A` (true) or `-a` (false), the last one; overrides `ForwardAgent`.
    pub forward_agent: Option<bool>,
    /// `-L` specifications in order, as written (parsed with the configuration).
    pub local_forwards: Vec<String>,
    /// `-R` specifications in order, as written.
    pub remote_forwards: Vec<String>,
    /// `-D` specifications in order, as written.
    pub dynamic_forwards: Vec<String>,
    /// `-g`: let other hosts connect to local forwarded ports (`GatewayPorts`).
    pub gateway_ports: bool,
    /// `-S` (the last one): the ControlPath, overriding `-o` and the files.
    pub control_path: Option<String>,
    /// How many `-M` were given: one means `ControlMaster yes`, two `ask`.
    pub control_master: u8,
    /// `-O ctl_cmd` (the last one).
    pub mux_command: Option<MuxCommand>,
    /// `-W host:port` or `-W path`, as written (parsed with the configuration).
    pub stdio_forward: Option<String>,
    /// `-J [user@]host[:port][,...]`, as written.
    pub jump: Option<String>,
    unsupported: Vec<UnsupportedFlag>,
}

/// A `-O` control command for a running master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuxCommand {
    /// `check`: is the master running (prints its pid)?
    Check,
    /// `exit`: ask the master to exit.
    Exit,
    /// `stop`: ask the master to stop accepting new clients.
    Stop,
    /// `forward`: ask the master for the command line's forwards.
    Forward,
    /// `cancel`: ask the master to cancel them.
    Cancel,
    /// `proxy`: known to OpenSSH, not implemented here yet.
    Unsupported(&'static str),
}

impl MuxCommand {
    /// OpenSSH's `-O` words.
    pub fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "check" => Self::Check,
            "exit" => Self::Exit,
            "stop" => Self::Stop,
            "forward" => Self::Forward,
            "cancel" => Self::Cancel,
            "proxy" => Self::Unsupported("proxy"),
            _ => return None,
        })
    }
}

impl Args {
    /// Flags given that oxssh does not implement yet, in argv order.
    pub fn unsupported_flags(&self) -> &[UnsupportedFlag] {
        &self.unsupported
    }

    /// The remote command: the words after the destination joined with single spaces, as
    /// OpenSSH sends them. `None` when there is none, or when it is empty (`ssh host ''`
    /// opens a shell in OpenSSH too).
    pub fn command_line(&self) -> Option<Vec<u8>> {
        let words: Vec<Vec<u8>> = self.command.iter().map(|w| w.clone().into_vec()).collect();
        let line = words.join(&b' ');
        (!line.is_empty()).then_some(line)
    }

    /// OpenSSH's check after the configuration is read: `-f` needs something to run in the
    /// background (a command, `RemoteCommand`, or no session at all).
    pub fn check_fork(
        &self,
        remote_command_set: bool,
        session_type_none: bool,
    ) -> Result<(), ArgsError> {
        if self.fork_after_auth
            && self.command_line().is_none()
            && !remote_command_set
            && !session_type_none
        {
            return Err(ArgsError::Fatal(
                "Cannot fork into background without a command to execute.".into(),
            ));
        }
        Ok(())
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// `-V`: print [`VERSION`] on stderr, exit 0.
    Version,
    /// `-Q`: print the answer on stdout, exit 0.
    Query(Query),
    /// Connect (or, with `-G`, print the configuration).
    Connect(Box<Args>),
}

/// A command line that cannot be run. `Display` is the whole text for stderr; the exit
/// status is always 255, as OpenSSH's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    /// An optional message, then [`USAGE`].
    Usage(Option<String>),
    /// The message alone (OpenSSH's `fatal()` and its `fprintf(); exit(255)` cases).
    Fatal(String),
}

impl From<ValueError> for ArgsError {
    fn from(err: ValueError) -> Self {
        err.into_error(|m| Self::Usage(Some(m)), Self::Fatal)
    }
}

impl ArgsError {
    /// Always 255.
    pub fn exit_code(&self) -> u8 {
        255
    }
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) => {
                if let Some(message) = message {
                    writeln!(f, "{message}")?;
                }
                f.write_str(USAGE)
            }
            Self::Fatal(message) => writeln!(f, "{message}"),
        }
    }
}

impl std::error::Error for ArgsError {}

/// Parser state: [`Args`] plus the slots shared with `-o`.
struct State<'p> {
    args: Args,
    user: Slot<String>,
    port: Slot<u16>,
    /// (value, set by a flag)
    request_tty: Option<(RequestTty, bool)>,
    session_type: Option<(SessionType, bool)>,
    destination_seen: bool,
    /// An `-o ProxyCommand` came before (`-J` is then refused, as by OpenSSH).
    proxy_command_seen: bool,
    provider: &'p CryptoProvider,
}

/// Parses the arguments after the program name.
///
/// `provider` supplies the cipher and MAC names `-c` and `-m` are checked against.
/// Service names for `-p` are looked up in `/etc/services`.
pub fn parse<I>(args: I, provider: &CryptoProvider) -> Result<Invocation, ArgsError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut parser = lexopt::Parser::from_args(args);
    // getopt gives `-p=22` the value "=22"; lexopt would strip the '=' by default.
    parser.set_short_equals(false);
    let mut st = State {
        args: Args::default(),
        user: Slot::Free,
        port: Slot::Free,
        request_tty: None,
        session_type: None,
        destination_seen: false,
        proxy_command_seen: false,
        provider,
    };
    loop {
        match parser.next() {
            Err(err) => return Err(ArgsError::Usage(Some(err.to_string()))),
            Ok(None) => break,
            Ok(Some(lexopt::Arg::Short(flag))) => {
                if let Some(early) = st.flag(flag, &mut parser)? {
                    return Ok(early);
                }
            }
            // getopt sees `--name` as the option character '-'.
            Ok(Some(lexopt::Arg::Long(_))) => {
                return Err(ArgsError::Usage(Some("unknown option -- -".into())));
            }
            Ok(Some(lexopt::Arg::Value(word))) => {
                if st.destination_seen {
                    // The first word after the destination's options starts the command.
                    st.args.command.push(word);
                    let rest = parser
                        .raw_args()
                        .map_err(|err| ArgsError::Usage(Some(err.to_string())))?;
                    st.args.command.extend(rest);
                    break;
                }
                st.destination(word)?;
            }
        }
    }
    st.finish().map(|args| Invocation::Connect(Box::new(args)))
}

impl State<'_> {
    /// Applies one option; returns an invocation that ends parsing (`-V`, `-Q`).
    fn flag(
        &mut self,
        flag: char,
        parser: &mut lexopt::Parser,
    ) -> Result<Option<Invocation>, ArgsError> {
        let a = &mut self.args;
        match flag {
            '1' => return Err(fatal("SSH protocol v.1 is no longer supported")),
            '2' => {}
            '4' => a.address_family = Some(AddressFamily::Inet),
            '6' => a.address_family = Some(AddressFamily::Inet6),
            'n' => a.stdin_null = true,
            'f' => {
                a.fork_after_auth = true;
                a.stdin_null = true;
            }
            'G' => a.config_test = true,
            'C' => a.compression = true,
            'V' => return Ok(Some(Invocation::Version)),
            'Q' => {
                let name = value(parser, flag)?;
                return match Query::parse(&name) {
                    Some(query) => Ok(Some(Invocation::Query(query))),
                    None => Err(fatal(&format!("Unsupported query \"{name}\""))),
                };
            }
            'q' => a.log_level = Some(LogLevel::Quiet),
            'v' => {
                if a.debug == 0 {
                    a.debug = 1;
                    a.log_level = Some(LogLevel::Debug1);
                } else if let Some(level) = a.log_level.filter(|&l| l < LogLevel::Debug3) {
                    // After `-v -q`, further `-v`s count up from QUIET, as in OpenSSH.
                    a.debug += 1;
                    a.log_level = Some(level.louder());
                }
            }
            't' => {
                let force = self.request_tty.is_some_and(|(v, _)| v == RequestTty::Yes);
                self.set_request_tty(if force {
                    RequestTty::Force
                } else {
                    RequestTty::Yes
                });
            }
            'T' => self.set_request_tty(RequestTty::No),
            'N' => {
                self.set_session_type(SessionType::None, "-N", "-s")?;
                self.set_request_tty(RequestTty::No);
            }
            's' => {
                self.set_session_type(SessionType::Subsystem, "-s", "-N")?;
            }
            'l' => {
                let user = value(parser, flag)?;
                if self.user.is_free() {
                    self.user = Slot::Flag(user);
                }
            }
            'p' => {
                let text = value(parser, flag)?;
                // Only the first port counts; later ones are not even checked.
                if self.port.is_free() {
                    let port = destination::parse_port(&text)
                        .ok_or_else(|| fatal(&format!("Bad port '{text}'")))?;
                    self.port = Slot::Flag(port);
                }
            }
            'o' => {
                let line = value(parser, flag)?;
                self.peek_option(&line);
                self.args.options.push(line);
            }
            'F' => a.config_file = Some(value(parser, flag)?),
            'i' => {
                let file = value(parser, flag)?;
                a.identity_files.push(file);
            }
            'E' => a.log_file = Some(value(parser, flag)?),
            'e' => {
                let text = value(parser, flag)?;
                let escape = EscapeChar::parse(&text)
                    .ok_or_else(|| fatal(&format!("Bad escape character '{text}'.")))?;
                self.args.escape_char = Some(escape);
            }
            'c' => {
                let spec = value(parser, flag)?;
                let names = spec.strip_prefix(['+', '^']).unwrap_or(&spec);
                if !names_valid(names, self.provider.ciphers.iter().map(|c| c.name())) {
                    return Err(fatal(&format!("Unknown cipher type '{spec}'")));
                }
                self.args.cipher_spec = Some(spec);
            }
            'm' => {
                let spec = value(parser, flag)?;
                // Unlike -c, OpenSSH 9.2 checks -m without stripping a '+' or '^'.
                if !names_valid(&spec, self.provider.macs.iter().map(|m| m.name())) {
                    return Err(fatal(&format!("Unknown mac type '{spec}'")));
                }
                self.args.mac_spec = Some(spec);
            }
            'W' => {
                let target = value(parser, flag)?;
                if self.args.stdio_forward.is_some() {
                    return Err(fatal("stdio forward already specified"));
                }
                if self.args.mux_command.is_some() {
                    return Err(fatal("Cannot specify stdio forward with -O"));
                }
                self.args.stdio_forward = Some(target);
                self.set_request_tty(RequestTty::No);
                self.session_type = Some((SessionType::None, true));
            }
            'J' => {
                let hops = value(parser, flag)?;
                if self.args.jump.is_some() {
                    return Err(fatal(
                        "Only a single -J option is permitted \
                         (use commas to separate multiple jump hops)",
                    ));
                }
                if self.proxy_command_seen {
                    return Err(fatal("Cannot specify -J with ProxyCommand"));
                }
                self.args.jump = Some(hops);
            }
            'A' => a.forward_agent = Some(true),
            'a' => a.forward_agent = Some(false),
            'g' => a.gateway_ports = true,
            'L' => {
                let spec = value(parser, flag)?;
                self.args.local_forwards.push(spec);
            }
            'R' => {
                let spec = value(parser, flag)?;
                self.args.remote_forwards.push(spec);
            }
            'D' => {
                let spec = value(parser, flag)?;
                self.args.dynamic_forwards.push(spec);
            }
            'S' => self.args.control_path = Some(value(parser, flag)?),
            'M' => self.args.control_master = self.args.control_master.saturating_add(1),
            'O' => {
                let word = value(parser, flag)?;
                if self.args.stdio_forward.is_some() {
                    return Err(fatal("Cannot specify multiplexing command with -W"));
                }
                let command =
                    MuxCommand::parse(&word).ok_or_else(|| fatal("Invalid multiplex command."))?;
                self.args.mux_command = Some(command);
            }
            'B' | 'b' | 'I' | 'P' | 'w' => {
                let arg = value(parser, flag)?;
                self.unsupported(flag, Some(arg));
            }
            'K' | 'k' | 'X' | 'x' | 'Y' | 'y' => {
                self.unsupported(flag, None);
            }
            other => return Err(ArgsError::Usage(Some(format!("unknown option -- {other}")))),
        }
        Ok(None)
    }

    fn unsupported(&mut self, flag: char, value: Option<String>) {
        self.args.unsupported.push(UnsupportedFlag { flag, value });
    }

    fn set_request_tty(&mut self, value: RequestTty) {
        self.request_tty = Some((value, true));
    }

    fn set_session_type(
        &mut self,
        value: SessionType,
        this: &str,
        other: &str,
    ) -> Result<(), ArgsError> {
        if self.session_type.is_some_and(|(v, _)| v != value) {
            return Err(fatal(&format!(
                "Cannot specify {this} with {other}/SessionType"
            )));
        }
        self.session_type = Some((value, true));
        Ok(())
    }

    /// Records which shared slots an `-o` line fills, so later flags lose to it as they do
    /// in OpenSSH. The line itself is applied later, by the config code.
    fn peek_option(&mut self, line: &str) {
        let Some((keyword, arg)) = split_option(line) else {
            return;
        };
        match keyword.to_ascii_lowercase().as_str() {
            "user" if self.user.is_free() => self.user = Slot::Option(arg),
            "port" if self.port.is_free() => self.port = Slot::Option(0),
            "requesttty" if self.request_tty.is_none() => {
                let value = match arg.to_ascii_lowercase().as_str() {
                    "yes" | "true" => RequestTty::Yes,
                    "no" | "false" => RequestTty::No,
                    "force" => RequestTty::Force,
                    "auto" => RequestTty::Auto,
                    // Invalid: the config code reports it.
                    _ => return,
                };
                self.request_tty = Some((value, false));
            }
            "proxycommand" => self.proxy_command_seen = true,
            "sessiontype" if self.session_type.is_none() => {
                let value = match arg.to_ascii_lowercase().as_str() {
                    "none" => SessionType::None,
                    "subsystem" => SessionType::Subsystem,
                    "default" => SessionType::Default,
                    _ => return,
                };
                self.session_type = Some((value, false));
            }
            _ => {}
        }
    }

    fn destination(&mut self, word: OsString) -> Result<(), ArgsError> {
        let text = utf8(word)?;
        let dest = destination::parse_destination(&text).map_err(|err| match err {
            DestinationError::EmptyUser | DestinationError::BadUri => ArgsError::Usage(None),
        })?;
        if let Some(user) = dest.user {
            if self.user.is_free() {
                self.user = Slot::Flag(user);
            }
        }
        if let Some(port) = dest.port {
            if self.port.is_free() {
                self.port = Slot::Flag(port);
            }
        }
        self.args.host = dest.host;
        self.destination_seen = true;
        Ok(())
    }

    /// OpenSSH's checks after option parsing, in its order.
    fn finish(mut self) -> Result<Args, ArgsError> {
        if !self.destination_seen {
            return Err(ArgsError::Usage(None));
        }
        if self
            .user
            .value()
            .is_some_and(|u| !destination::valid_remote_user(u))
        {
            return Err(fatal("remote username contains invalid characters"));
        }
        if !destination::valid_hostname(&self.args.host) {
            return Err(fatal("hostname contains invalid characters"));
        }
        let subsystem = self.session_type.map(|(v, _)| v) == Some(SessionType::Subsystem);
        if subsystem && self.args.command.is_empty() {
            return Err(ArgsError::Usage(Some(
                "You must specify a subsystem to invoke.".into(),
            )));
        }
        if let Slot::Flag(user) = self.user {
            self.args.user = Some(user);
        }
        if let Slot::Flag(port) = self.port {
            self.args.port = Some(port);
        }
        self.args.request_tty = self.request_tty.filter(|&(_, flag)| flag).map(|(v, _)| v);
        self.args.session_type = self.session_type.filter(|&(_, flag)| flag).map(|(v, _)| v);
        Ok(self.args)
    }
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
