//! Errors of the async client: I/O, the protocol core's errors, and policy outcomes.

use oxssh_proto::TransportError;

/// Why a client operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Connecting, reading or writing the socket failed.
    #[error("{0}")]
    Io(String),
    /// The connection attempt or a protocol wait took too long.
    #[error("connection timed out")]
    Timeout,
    /// The SSH protocol failed (or the peer disconnected).
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// The host key verifier refused the server's key.
    #[error("host key verification failed: {0}")]
    HostKeyRejected(String),
    /// The server refused to open a channel.
    #[error("channel open failed: {description} (reason {reason})")]
    ChannelOpen {
        /// Our number of the channel that was refused.
        channel: u32,
        /// RFC 4254 §5.1 reason code.
        reason: u32,
        /// The server's description.
        description: String,
    },
    /// The server refused a channel request (exec, pty, subsystem...).
    #[error("{0} request failed on channel")]
    RequestFailed(&'static str),
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// A signing key could not produce a signature.
    #[error("signing failed: {0}")]
    Signing(String),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e.to_string())
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(msg) => std::io::Error::other(msg),
            Error::Closed => std::io::Error::from(std::io::ErrorKind::BrokenPipe),
            other => std::io::Error::other(other.to_string()),
        }
    }
}
