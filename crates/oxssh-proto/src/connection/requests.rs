//! Channel request types (RFC 4254 §6, OpenSSH PROTOCOL) decoded from their raw
//! type-specific bytes into one typed enum, and encoded back.

use oxssh_wire::{DecodeError, Reader, Writer};

/// Request names, as constants (RFC 4254 §6, OpenSSH PROTOCOL).
pub mod name {
    /// §6.2
    pub const PTY_REQ: &str = "pty-req";
    /// §6.3.1
    pub const X11_REQ: &str = "x11-req";
    /// §6.4
    pub const ENV: &str = "env";
    /// §6.5
    pub const SHELL: &str = "shell";
    /// §6.5
    pub const EXEC: &str = "exec";
    /// §6.5
    pub const SUBSYSTEM: &str = "subsystem";
    /// §6.7
    pub const WINDOW_CHANGE: &str = "window-change";
    /// §6.8
    pub const XON_XOFF: &str = "xon-xoff";
    /// §6.9
    pub const SIGNAL: &str = "signal";
    /// §6.10
    pub const EXIT_STATUS: &str = "exit-status";
    /// §6.10
    pub const EXIT_SIGNAL: &str = "exit-signal";
    /// OpenSSH PROTOCOL §2.1: agent forwarding.
    pub const AUTH_AGENT_REQ: &str = "auth-agent-req@openssh.com";
    /// OpenSSH keepalive, sent as a channel or global request.
    pub const KEEPALIVE: &str = "keepalive@openssh.com";
    /// OpenSSH PROTOCOL §2.8: break.
    pub const BREAK: &str = "break";
}

/// Terminal dimensions (characters and pixels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowSize {
    /// Columns.
    pub cols: u32,
    /// Rows.
    pub rows: u32,
    /// Width in pixels.
    pub width_px: u32,
    /// Height in pixels.
    pub height_px: u32,
}

/// A channel request, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelRequestKind {
    /// Allocate a pseudo-terminal (§6.2); `modes` is the encoded terminal modes (§8).
    PtyReq {
        /// TERM value.
        term: String,
        /// Size.
        size: WindowSize,
        /// Encoded terminal modes.
        modes: Vec<u8>,
    },
    /// Set an environment variable (§6.4).
    Env {
        /// Name.
        name: String,
        /// Value.
        value: String,
    },
    /// Start the user's shell (§6.5).
    Shell,
    /// Run a command (§6.5); bytes, not necessarily UTF-8.
    Exec {
        /// The command line.
        command: Vec<u8>,
    },
    /// Start a subsystem (§6.5).
    Subsystem {
        /// Subsystem name (`sftp`).
        name: String,
    },
    /// The terminal size changed (§6.7).
    WindowChange(WindowSize),
    /// Deliver a signal (§6.9), name without `SIG`.
    Signal {
        /// Signal name.
        name: String,
    },
    /// The command exited (§6.10).
    ExitStatus(u32),
    /// The command was killed by a signal (§6.10).
    ExitSignal {
        /// Signal name without `SIG`.
        signal: String,
        /// Whether a core was dumped.
        core_dumped: bool,
        /// Error message.
        message: String,
        /// Language tag.
        language: String,
    },
    /// Agent forwarding request (OpenSSH).
    AuthAgent,
    /// BREAK (RFC 4335), length in milliseconds.
    Break(u32),
    /// Anything else, by name with its raw data.
    Other {
        /// Request name.
        name: String,
        /// Raw type-specific bytes.
        data: Vec<u8>,
    },
}

impl ChannelRequestKind {
    /// The wire name.
    pub fn name(&self) -> &str {
        match self {
            Self::PtyReq { .. } => name::PTY_REQ,
            Self::Env { .. } => name::ENV,
            Self::Shell => name::SHELL,
            Self::Exec { .. } => name::EXEC,
            Self::Subsystem { .. } => name::SUBSYSTEM,
            Self::WindowChange(_) => name::WINDOW_CHANGE,
            Self::Signal { .. } => name::SIGNAL,
            Self::ExitStatus(_) => name::EXIT_STATUS,
            Self::ExitSignal { .. } => name::EXIT_SIGNAL,
            Self::AuthAgent => name::AUTH_AGENT_REQ,
            Self::Break(_) => name::BREAK,
            Self::Other { name, .. } => name,
        }
    }

    /// Encodes the type-specific bytes that follow `want_reply`.
    pub fn encode_data(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf);
        match self {
            Self::PtyReq { term, size, modes } => {
                w.string(term.as_bytes());
                write_size(&mut w, size);
                w.string(modes);
            }
            Self::Env { name, value } => {
                w.string(name.as_bytes()).string(value.as_bytes());
            }
            Self::Shell | Self::AuthAgent => {}
            Self::Exec { command } => {
                w.string(command);
            }
            Self::Subsystem { name } => {
                w.string(name.as_bytes());
            }
            Self::WindowChange(size) => write_size(&mut w, size),
            Self::Signal { name } => {
                w.string(name.as_bytes());
            }
            Self::ExitStatus(code) => {
                w.u32(*code);
            }
            Self::ExitSignal {
                signal,
                core_dumped,
                message,
                language,
            } => {
                w.string(signal.as_bytes())
                    .bool(*core_dumped)
                    .string(message.as_bytes())
                    .string(language.as_bytes());
            }
            Self::Break(ms) => {
                w.u32(*ms);
            }
            Self::Other { data, .. } => {
                w.raw(data);
            }
        }
        buf
    }

    /// Decodes a request from its name and type-specific bytes; unknown names are kept.
    pub fn decode(request: &str, data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let kind = match request {
            name::PTY_REQ => Self::PtyReq {
                term: r.utf8()?.to_owned(),
                size: read_size(&mut r)?,
                modes: r.string()?.to_vec(),
            },
            name::ENV => Self::Env {
                name: r.utf8()?.to_owned(),
                value: String::from_utf8_lossy(r.string()?).into_owned(),
            },
            name::SHELL => Self::Shell,
            name::EXEC => Self::Exec {
                command: r.string()?.to_vec(),
            },
            name::SUBSYSTEM => Self::Subsystem {
                name: r.utf8()?.to_owned(),
            },
            name::WINDOW_CHANGE => Self::WindowChange(read_size(&mut r)?),
            name::SIGNAL => Self::Signal {
                name: r.utf8()?.to_owned(),
            },
            name::EXIT_STATUS => Self::ExitStatus(r.u32()?),
            name::EXIT_SIGNAL => Self::ExitSignal {
                signal: r.utf8()?.to_owned(),
                core_dumped: r.bool()?,
                message: String::from_utf8_lossy(r.string()?).into_owned(),
                language: String::from_utf8_lossy(r.string()?).into_owned(),
            },
            name::AUTH_AGENT_REQ => Self::AuthAgent,
            name::BREAK => Self::Break(r.u32()?),
            other => {
                return Ok(Self::Other {
                    name: other.to_owned(),
                    data: data.to_vec(),
                })
            }
        };
        r.finish()?;
        Ok(kind)
    }
}

fn write_size(w: &mut Writer<'_>, size: &WindowSize) {
    w.u32(size.cols)
        .u32(size.rows)
        .u32(size.width_px)
        .u32(size.height_px);
}

fn read_size(r: &mut Reader<'_>) -> Result<WindowSize, DecodeError> {
    Ok(WindowSize {
        cols: r.u32()?,
        rows: r.u32()?,
        width_px: r.u32()?,
        height_px: r.u32()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_round_trips() {
        let size = WindowSize {
            cols: 80,
            rows: 24,
            width_px: 640,
            height_px: 480,
        };
        for kind in [
            ChannelRequestKind::PtyReq {
                term: "xterm".into(),
                size,
                modes: vec![53, 0, 0, 0, 1, 0],
            },
            ChannelRequestKind::Env {
                name: "LANG".into(),
                value: "C".into(),
            },
            ChannelRequestKind::Shell,
            ChannelRequestKind::Exec {
                command: b"echo hi".to_vec(),
            },
            ChannelRequestKind::Subsystem {
                name: "sftp".into(),
            },
            ChannelRequestKind::WindowChange(size),
            ChannelRequestKind::Signal { name: "INT".into() },
            ChannelRequestKind::ExitStatus(3),
            ChannelRequestKind::ExitSignal {
                signal: "KILL".into(),
                core_dumped: false,
                message: String::new(),
                language: String::new(),
            },
            ChannelRequestKind::AuthAgent,
            ChannelRequestKind::Break(0),
            ChannelRequestKind::Other {
                name: "x@y".into(),
                data: vec![1, 2],
            },
        ] {
            let data = kind.encode_data();
            assert_eq!(
                ChannelRequestKind::decode(kind.name(), &data).unwrap(),
                kind
            );
        }
    }

    #[test]
    fn truncated_and_trailing_data_are_refused() {
        assert!(ChannelRequestKind::decode("exit-status", &[0, 0]).is_err());
        assert!(ChannelRequestKind::decode("exit-status", &[0, 0, 0, 1, 9]).is_err());
        assert!(ChannelRequestKind::decode("exec", &[0, 0, 0, 9, b'x']).is_err());
    }
}
