//! The table of message numbers (RFC 4250 §4.1) and the phase each is legal in.

/// Message numbers used by the transport layer and the layers above.
pub mod num {
    /// RFC 4253 §11.1
    pub const DISCONNECT: u8 = 1;
    /// RFC 4253 §11.2
    pub const IGNORE: u8 = 2;
    /// RFC 4253 §11.4
    pub const UNIMPLEMENTED: u8 = 3;
    /// RFC 4253 §11.3
    pub const DEBUG: u8 = 4;
    /// RFC 4253 §10
    pub const SERVICE_REQUEST: u8 = 5;
    /// RFC 4253 §10
    pub const SERVICE_ACCEPT: u8 = 6;
    /// RFC 8308 §2.3
    pub const EXT_INFO: u8 = 7;
    /// RFC 8308 §3.1 (OpenSSH uses it for ping; we only accept it)
    pub const NEWCOMPRESS: u8 = 8;
    /// RFC 4253 §7.1
    pub const KEXINIT: u8 = 20;
    /// RFC 4253 §7.3
    pub const NEWKEYS: u8 = 21;
    /// Method-specific: ECDH/KEM init (RFC 5656 §4), also KEXDH_INIT (RFC 4253 §8).
    pub const KEX_ECDH_INIT: u8 = 30;
    /// Method-specific: ECDH/KEM reply, also KEXDH_REPLY.
    pub const KEX_ECDH_REPLY: u8 = 31;
    /// RFC 4419: group exchange old-style request (not sent by us).
    pub const KEX_DH_GEX_REQUEST_OLD: u8 = 30;
    /// RFC 4419: group exchange group.
    pub const KEX_DH_GEX_GROUP: u8 = 31;
    /// RFC 4419: group exchange init.
    pub const KEX_DH_GEX_INIT: u8 = 32;
    /// RFC 4419: group exchange reply.
    pub const KEX_DH_GEX_REPLY: u8 = 33;
    /// RFC 4419: group exchange request.
    pub const KEX_DH_GEX_REQUEST: u8 = 34;
    /// First user-authentication message number (RFC 4252).
    pub const USERAUTH_FIRST: u8 = 50;
    /// First connection-protocol message number (RFC 4254).
    pub const CONNECTION_FIRST: u8 = 80;
}

/// Which layer a message number belongs to (RFC 4251 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageClass {
    /// 1..=19: transport generic (disconnect, ignore, debug, service, ext-info).
    TransportGeneric,
    /// 20..=29: algorithm negotiation.
    AlgorithmNegotiation,
    /// 30..=49: key-exchange-method specific.
    KexMethod,
    /// 50..=79: user authentication.
    UserAuth,
    /// 80..=127: connection protocol.
    Connection,
    /// 128..=191 reserved, 192..=255 local extensions, 0 never valid.
    Reserved,
}

impl MessageClass {
    /// Classifies a message number.
    pub fn of(number: u8) -> Self {
        match number {
            1..=19 => Self::TransportGeneric,
            20..=29 => Self::AlgorithmNegotiation,
            30..=49 => Self::KexMethod,
            50..=79 => Self::UserAuth,
            80..=127 => Self::Connection,
            _ => Self::Reserved,
        }
    }
}

/// Messages that are legal at any time, even in the middle of a key exchange
/// (RFC 4253 §7.1), unless strict kex forbids them during the first one.
pub fn allowed_during_kex(number: u8) -> bool {
    matches!(
        number,
        num::DISCONNECT | num::IGNORE | num::UNIMPLEMENTED | num::DEBUG
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_rfc4251() {
        assert_eq!(MessageClass::of(1), MessageClass::TransportGeneric);
        assert_eq!(MessageClass::of(20), MessageClass::AlgorithmNegotiation);
        assert_eq!(MessageClass::of(31), MessageClass::KexMethod);
        assert_eq!(MessageClass::of(50), MessageClass::UserAuth);
        assert_eq!(MessageClass::of(94), MessageClass::Connection);
        assert_eq!(MessageClass::of(0), MessageClass::Reserved);
        assert_eq!(MessageClass::of(200), MessageClass::Reserved);
    }
}
