//! Transport errors: one variant per way a peer can misbehave, each mapped to the
//! SSH_MSG_DISCONNECT reason we send, kept apart from API misuse by the caller.

use crate::crypto::CryptoError;
use oxssh_wire::{DecodeError, DisconnectReason};

/// Which negotiated algorithm kind had no match (RFC 4253 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlgorithmKind {
    /// kex_algorithms
    Kex,
    /// server_host_key_algorithms
    HostKey,
    /// encryption_algorithms_*
    Cipher,
    /// mac_algorithms_*
    Mac,
    /// compression_algorithms_*
    Compression,
}

/// Ways the peer broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    /// The identification line was malformed, too long, or not SSH-2.0.
    #[error("bad protocol version identification: {0}")]
    BadVersion(&'static str),
    /// The peer sent too much before its identification line.
    #[error("too many lines before the version identification")]
    TooManyPreambleLines,
    /// A packet length over the maximum or under the minimum.
    #[error("bad packet length {0}")]
    BadPacketLength(u32),
    /// Padding shorter than 4 bytes, longer than the packet, or not block aligned.
    #[error("bad padding")]
    BadPadding,
    /// A message could not be decoded.
    #[error("malformed message: {0}")]
    Decode(#[from] DecodeError),
    /// A message arrived in a phase where it is not allowed.
    #[error("unexpected message {number} during {phase}")]
    UnexpectedMessage {
        /// The message number.
        number: u8,
        /// What we were waiting for.
        phase: &'static str,
    },
    /// Strict key exchange forbids any other message before the first NEWKEYS.
    #[error("strict kex violation: message {0} during the initial key exchange")]
    StrictKexViolation(u8),
    /// The sequence number wrapped during the initial key exchange under strict kex.
    #[error("sequence number wrapped during the initial key exchange")]
    SequenceWrapDuringInitialKex,
    /// No algorithm in common.
    #[error("no matching {0:?} algorithm")]
    NoCommonAlgorithm(AlgorithmKind),
    /// The server's host key is not of the negotiated type, or is malformed.
    #[error("bad host key: {0}")]
    BadHostKey(&'static str),
    /// The signature over the exchange hash did not verify.
    #[error("host key signature verification failed")]
    BadHostKeySignature,
    /// The host key differs from the one of the first key exchange.
    #[error("server host key changed during re-key")]
    HostKeyChanged,
    /// A key exchange public value or group was invalid.
    #[error("key exchange failed: {0}")]
    Kex(CryptoError),
    /// A packet failed authentication.
    #[error("message authentication code incorrect")]
    BadMac,
    /// The connection protocol was broken (unknown channel, window overrun, ...).
    #[error("channel protocol violation: {0}")]
    Channel(&'static str),
    /// The authentication protocol was broken.
    #[error("authentication protocol violation: {0}")]
    Auth(&'static str),
    /// A compressed packet did not inflate (corrupt, or past the size limit).
    #[error("bad compressed data")]
    Compression,
}

impl PeerMisbehaved {
    /// The disconnect reason to send for this fault.
    pub fn disconnect_reason(&self) -> DisconnectReason {
        match self {
            Self::BadVersion(_) => DisconnectReason::ProtocolVersionNotSupported,
            Self::NoCommonAlgorithm(_)
            | Self::Kex(_)
            | Self::BadHostKey(_)
            | Self::BadHostKeySignature => DisconnectReason::KeyExchangeFailed,
            Self::HostKeyChanged => DisconnectReason::HostKeyNotVerifiable,
            Self::BadMac => DisconnectReason::MacError,
            Self::Compression => DisconnectReason::CompressionError,
            Self::TooManyPreambleLines
            | Self::BadPacketLength(_)
            | Self::BadPadding
            | Self::Decode(_)
            | Self::UnexpectedMessage { .. }
            | Self::StrictKexViolation(_)
            | Self::SequenceWrapDuringInitialKex
            | Self::Channel(_)
            | Self::Auth(_) => DisconnectReason::ProtocolError,
        }
    }
}

/// Why the transport stopped. Errors are sticky: once returned, every later call returns it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The peer broke the protocol; we sent (or tried to send) a DISCONNECT.
    #[error("{0}")]
    Peer(#[from] PeerMisbehaved),
    /// The peer closed the connection with SSH_MSG_DISCONNECT.
    #[error("disconnected by peer: {description} (reason {})", reason.code())]
    PeerDisconnected {
        /// Reason code the peer gave.
        reason: DisconnectReason,
        /// The peer's description.
        description: String,
    },
    /// We closed the connection (API call or policy), with this reason.
    #[error("disconnected locally: {description}")]
    LocallyClosed {
        /// Reason sent.
        reason: DisconnectReason,
        /// Description sent.
        description: String,
    },
    /// The key exchange did not finish in time.
    #[error("key exchange timed out")]
    KexTimeout,
    /// The peer answered none of our keepalive probes (ServerAliveCountMax exceeded).
    #[error("peer not responding")]
    Unresponsive,
    /// Server: the client reached `MaxAuthTries` failed authentication attempts. The
    /// DISCONNECT sent carries OpenSSH's reason (protocol error) and text.
    #[error("Too many authentication failures")]
    TooManyAuthFailures,
    /// Server: the client did not authenticate within `LoginGraceTime`. As OpenSSH, no
    /// DISCONNECT is sent: the caller just closes the socket.
    #[error("Timeout before authentication")]
    LoginGraceTimeout,
    /// A local cryptographic failure (random source, signing).
    #[error("local crypto failure: {0}")]
    Crypto(CryptoError),
    /// The configuration cannot work (e.g. a server without host keys).
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    /// The caller used the API out of order.
    #[error("API misuse: {0}")]
    ApiMisuse(&'static str),
}

impl TransportError {
    /// The reason to put in our SSH_MSG_DISCONNECT, if one should be sent.
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        match self {
            Self::Peer(p) => Some(p.disconnect_reason()),
            Self::KexTimeout => Some(DisconnectReason::KeyExchangeFailed),
            Self::Crypto(_) | Self::Config(_) => Some(DisconnectReason::ByApplication),
            // OpenSSH's auth_maxtries_exceeded() uses ssh_packet_disconnect(): reason 2.
            Self::TooManyAuthFailures => Some(DisconnectReason::ProtocolError),
            Self::PeerDisconnected { .. }
            | Self::LocallyClosed { .. }
            | Self::ApiMisuse(_)
            | Self::Unresponsive
            | Self::LoginGraceTimeout => None,
        }
    }
}

impl From<DecodeError> for TransportError {
    fn from(e: DecodeError) -> Self {
        Self::Peer(PeerMisbehaved::Decode(e))
    }
}
