//! SSH_MSG_DISCONNECT reason codes (RFC 4253 §11.1, RFC 4250 §4.2.2).

/// Why a connection is being closed, as sent in SSH_MSG_DISCONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// 1
    HostNotAllowedToConnect,
    /// 2
    ProtocolError,
    /// 3
    KeyExchangeFailed,
    /// 4 (reserved)
    Reserved,
    /// 5
    MacError,
    /// 6
    CompressionError,
    /// 7
    ServiceNotAvailable,
    /// 8
    ProtocolVersionNotSupported,
    /// 9
    HostKeyNotVerifiable,
    /// 10
    ConnectionLost,
    /// 11
    ByApplication,
    /// 12
    TooManyConnections,
    /// 13
    AuthCancelledByUser,
    /// 14
    NoMoreAuthMethodsAvailable,
    /// 15
    IllegalUserName,
    /// A code outside the RFC's table, kept as sent.
    Other(u32),
}

impl DisconnectReason {
    /// The wire code.
    pub fn code(self) -> u32 {
        match self {
            Self::HostNotAllowedToConnect => 1,
            Self::ProtocolError => 2,
            Self::KeyExchangeFailed => 3,
            Self::Reserved => 4,
            Self::MacError => 5,
            Self::CompressionError => 6,
            Self::ServiceNotAvailable => 7,
            Self::ProtocolVersionNotSupported => 8,
            Self::HostKeyNotVerifiable => 9,
            Self::ConnectionLost => 10,
            Self::ByApplication => 11,
            Self::TooManyConnections => 12,
            Self::AuthCancelledByUser => 13,
            Self::NoMoreAuthMethodsAvailable => 14,
            Self::IllegalUserName => 15,
            Self::Other(code) => code,
        }
    }

    /// Maps a wire code back to a reason.
    pub fn from_code(code: u32) -> Self {
        match code {
            1 => Self::HostNotAllowedToConnect,
            2 => Self::ProtocolError,
            3 => Self::KeyExchangeFailed,
            4 => Self::Reserved,
            5 => Self::MacError,
            6 => Self::CompressionError,
            7 => Self::ServiceNotAvailable,
            8 => Self::ProtocolVersionNotSupported,
            9 => Self::HostKeyNotVerifiable,
            10 => Self::ConnectionLost,
            11 => Self::ByApplication,
            12 => Self::TooManyConnections,
            13 => Self::AuthCancelledByUser,
            14 => Self::NoMoreAuthMethodsAvailable,
            15 => Self::IllegalUserName,
            other => Self::Other(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for code in 0..20 {
            assert_eq!(DisconnectReason::from_code(code).code(), code);
        }
    }
}
