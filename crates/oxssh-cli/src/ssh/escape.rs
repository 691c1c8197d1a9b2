//! The client's escape sequences (`~.`, `~^Z`, `~?`, ...) as a pure state machine over the
//! bytes read from the local terminal: no I/O, no clock, fed one read at a time.
//!
//! It reproduces OpenSSH 9.2's `process_escapes()` (clientloop.c), byte for byte in what it
//! passes to the server and what it prints locally:
//! - The escape character counts only at the start of a line: at session start, or right
//!   after a CR or LF that was passed on. A handled escape does not end the line, so `~?~.`
//!   works.
//! - `~~` sends one `~`; an unknown `~x` sends both characters and `x` then counts as
//!   ordinary input.
//! - An escape character at the end of one read is resolved by the next read.
//! - Local messages use `\r\n` because the terminal is in raw mode, and are returned in
//!   order with the data and the actions, so the caller can replay them faithfully. What
//!   OpenSSH actually shows was checked on a pty: `~x` and `~~` reach the server as `~x` and
//!   `~`, `~R` prints nothing, and `~.` shows nothing either (see [`EscapeAction::Disconnect`]).

use super::args::LogLevel;

/// `EscapeChar` / `-e`: the escape byte, or none (escapes disabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EscapeChar {
    /// `none`: every byte goes to the server.
    None,
    /// The escape byte (`~` by default).
    Byte(u8),
}

impl Default for EscapeChar {
    fn default() -> Self {
        Self::Byte(b'~')
    }
}

impl EscapeChar {
    /// Parses `-e` / `EscapeChar` as OpenSSH does: one character, `^X` for a control character
    /// (`^@`..`^_`, `^a`..`^~`, each masked to its low five bits), or `none`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.as_bytes() {
            [b'^', c] if (64..128).contains(c) => Some(Self::Byte(c & 31)),
            [c] => Some(Self::Byte(*c)),
            _ if text == "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// Something an escape sequence asks the program to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscapeAction {
    /// `~.`: close the connection now. The filter stops; later input is dropped. OpenSSH
    /// prints no echo of it (its `~.` message is queued but never flushed).
    Disconnect,
    /// `~^Z`: as OpenSSH's `client_suspend_self()`: write out pending output (this message
    /// included), leave raw mode, drop input not yet sent, stop the process (SIGTSTP); on
    /// resume re-enter raw mode and send a window-change.
    Suspend,
    /// `~B`: send a `break` channel request with a break length of 1000 ms.
    SendBreak,
    /// `~R`: start a key re-exchange (OpenSSH prints nothing for it).
    Rekey,
    /// `~v`/`~V`: switch logging to this level (the message is already emitted).
    SetLogLevel(LogLevel),
    /// `~&`: leave raw mode and stop accepting forwarded connections, print the message
    /// that follows this action, then fork into the background (the parent exits 0) where
    /// the child sends `^D` (0x04) and EOF on the session. The filter stops; later input is
    /// dropped.
    Background,
    /// `~#`: print the list of open connections (OpenSSH's `channel_open_message()`).
    ListConnections,
    /// `~C` then a line ended by Enter: a command line was typed (only when enabled);
    /// [`EscapeFilter::take_command_line`] hands it out.
    CommandLine,
}

/// One step of the filter's output, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EscapeOutput {
    /// Bytes to send to the server.
    Send(Vec<u8>),
    /// Bytes to write to the local stderr.
    Print(Vec<u8>),
    /// An action for the program.
    Action(EscapeAction),
}

/// Settings that change what the escapes print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscapeConfig {
    /// The escape byte.
    pub escape: u8,
    /// `EnableEscapeCommandline` (OpenSSH 9.2 defaults to no: `~C` prints
    /// "commandline disabled" and the help leaves it out).
    pub command_line: bool,
    /// Whether logs go to stderr; with `-E` or syslog `~v` only says where logs go.
    pub log_on_stderr: bool,
    /// The current log level, which `~v`/`~V` step.
    pub log_level: LogLevel,
}

impl EscapeConfig {
    /// OpenSSH's defaults with the given escape byte.
    pub fn new(escape: u8) -> Self {
        Self {
            escape,
            command_line: false,
            log_on_stderr: true,
            log_level: LogLevel::Info,
        }
    }
}

/// The escape filter for one session: feed it every read from the local terminal.
#[derive(Debug, Clone)]
pub struct EscapeFilter {
    config: EscapeConfig,
    /// The previous byte was an escape at the start of a line.
    pending: bool,
    /// The previous byte passed on was CR or LF (or nothing was passed yet).
    at_line_start: bool,
    /// `~.` or `~&` was seen: OpenSSH stops reading input.
    stopped: bool,
    /// The `ssh>` line being typed after `~C`.
    line: Option<Vec<u8>>,
    /// Command lines finished and not taken yet.
    commands: std::collections::VecDeque<String>,
}

/// The longest command line kept (OpenSSH reads it into a 1024-byte buffer).
const MAX_COMMAND_LINE: usize = 1023;

impl EscapeFilter {
    /// A filter at session start (which counts as the start of a line).
    pub fn new(config: EscapeConfig) -> Self {
        Self {
            config,
            pending: false,
            at_line_start: true,
            stopped: false,
            line: None,
            commands: std::collections::VecDeque::new(),
        }
    }

    /// The next command line typed after `~C` (one per [`EscapeAction::CommandLine`]).
    pub fn take_command_line(&mut self) -> Option<String> {
        self.commands.pop_front()
    }

    /// The current log level, after any `~v`/`~V`.
    pub fn log_level(&self) -> LogLevel {
        self.config.log_level
    }

    /// Whether `~.` or `~&` ended the input.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Filters one read. Consecutive data bytes are coalesced into one [`EscapeOutput::Send`].
    pub fn process(&mut self, input: &[u8]) -> Vec<EscapeOutput> {
        let mut out = Output::default();
        for &byte in input {
            if self.stopped {
                break;
            }
            if self.line.is_some() {
                self.command_line_byte(byte, &mut out);
                continue;
            }
            if self.pending {
                self.pending = false;
                if self.escaped(byte, &mut out) {
                    continue;
                }
                // Unknown sequence or a doubled escape: falls through as an ordinary byte.
            } else if self.at_line_start && byte == self.config.escape {
                self.pending = true;
                continue;
            }
            self.at_line_start = byte == b'\r' || byte == b'\n';
            out.send(&[byte]);
        }
        out.events
    }

    /// One byte typed at the `ssh>` prompt. OpenSSH reads the line in cooked mode with
    /// echo; this is that line discipline on a raw terminal: echo, erase (DEL or ^H),
    /// kill (^U), Enter ends the line, ^C or ^D on an empty line abandon it.
    fn command_line_byte(&mut self, byte: u8, out: &mut Output) {
        let Some(line) = self.line.as_mut() else {
            return;
        };
        match byte {
            b'\r' | b'\n' => {
                out.print(b"\r\n");
                let text = String::from_utf8_lossy(line).into_owned();
                self.line = None;
                self.commands.push_back(text);
                out.action(EscapeAction::CommandLine);
            }
            0x7f | 0x08 if !line.is_empty() => {
                line.pop();
                out.print(b"\x08 \x08");
            }
            0x7f | 0x08 => {}
            0x15 => {
                for _ in line.drain(..) {
                    out.print(b"\x08 \x08");
                }
            }
            0x03 => {
                out.print(b"\r\n");
                self.line = None;
            }
            0x04 if line.is_empty() => {
                out.print(b"\r\n");
                self.line = None;
            }
            _ if line.len() < MAX_COMMAND_LINE => {
                line.push(byte);
                out.print(&[byte]);
            }
            _ => {}
        }
    }

    /// Handles the byte after an escape; false when it is to be passed on as data.
    fn escaped(&mut self, byte: u8, out: &mut Output) -> bool {
        let esc = self.config.escape;
        match byte {
            b'.' => {
                // OpenSSH queues "~.\r\n" with the session's stderr data and then quits
                // without flushing it, so nothing is shown; neither do we.
                out.action(EscapeAction::Disconnect);
                self.stopped = true;
            }
            // ^Z
            0x1a => {
                out.print(&[esc]);
                out.print(b"^Z [suspend ssh]\r\n");
                out.action(EscapeAction::Suspend);
            }
            b'B' => {
                out.print(&[esc, b'B', b'\r', b'\n']);
                out.action(EscapeAction::SendBreak);
            }
            b'R' => out.action(EscapeAction::Rekey),
            b'V' | b'v' => {
                out.print(&[esc, byte]);
                if !self.config.log_on_stderr {
                    out.print(b" [Logging to syslog]\r\n");
                    return true;
                }
                let level = self.config.log_level;
                let level = if byte == b'V' {
                    level.quieter()
                } else {
                    level.louder()
                };
                self.config.log_level = level;
                out.print(format!(" [LogLevel {}]\r\n", level.name()).as_bytes());
                out.action(EscapeAction::SetLogLevel(level));
            }
            b'&' => {
                // OpenSSH leaves raw mode first and then prints, hence the action before
                // the message and the bare "\n".
                out.action(EscapeAction::Background);
                out.print(&[esc]);
                out.print(b"& [backgrounded]\n");
                self.stopped = true;
            }
            b'?' => out.print(&help(&self.config)),
            b'#' => {
                out.print(&[esc, b'#', b'\r', b'\n']);
                out.action(EscapeAction::ListConnections);
            }
            b'C' if self.config.command_line => {
                out.print(b"\r\nssh> ");
                self.line = Some(Vec::new());
            }
            b'C' => out.print(b"commandline disabled\r\n"),
            _ => {
                if byte != esc {
                    out.send(&[esc]);
                }
                return false;
            }
        }
        true
    }
}

/// The `~?` text of OpenSSH 9.2 for a session that is not a multiplexing client.
pub fn help(config: &EscapeConfig) -> Vec<u8> {
    let esc = config.escape;
    let mut entries: Vec<(&str, &str)> = vec![
        (".", "terminate connection (and any multiplexed sessions)"),
        ("B", "send a BREAK to the remote system"),
    ];
    if config.command_line {
        entries.push(("C", "open a command line"));
    }
    entries.extend([
        ("R", "request rekey"),
        ("V/v", "decrease/increase verbosity (LogLevel)"),
        ("^Z", "suspend ssh"),
        ("#", "list forwarded connections"),
        (
            "&",
            "background ssh (when waiting for connections to terminate)",
        ),
        ("?", "this message"),
    ]);
    let mut text = vec![esc];
    text.extend_from_slice(b"?\r\nSupported escape sequences:\r\n");
    for (cmd, what) in entries {
        // " %c%-3s - %s\r\n"
        text.push(b' ');
        text.push(esc);
        text.extend_from_slice(format!("{cmd:<3} - {what}\r\n").as_bytes());
    }
    text.extend_from_slice(&[b' ', esc, esc]);
    text.extend_from_slice(
        b"   - send the escape character by typing it twice\r\n\
          (Note that escapes are only recognized immediately after newline.)\r\n",
    );
    text
}

/// Accumulates [`EscapeOutput`]s, merging adjacent data and adjacent messages.
#[derive(Default)]
struct Output {
    events: Vec<EscapeOutput>,
}

impl Output {
    fn send(&mut self, bytes: &[u8]) {
        match self.events.last_mut() {
            Some(EscapeOutput::Send(data)) => data.extend_from_slice(bytes),
            _ => self.events.push(EscapeOutput::Send(bytes.to_vec())),
        }
    }

    fn print(&mut self, bytes: &[u8]) {
        match self.events.last_mut() {
            Some(EscapeOutput::Print(text)) => text.extend_from_slice(bytes),
            _ => self.events.push(EscapeOutput::Print(bytes.to_vec())),
        }
    }

    fn action(&mut self, action: EscapeAction) {
        self.events.push(EscapeOutput::Action(action));
    }
}

#[cfg(test)]
#[path = "escape_tests.rs"]
mod tests;
