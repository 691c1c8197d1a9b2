//! Connection protocol messages (RFC 4254) as typed structs. Request- and channel-type
//! specific fields stay as raw bytes here; the connection layer decodes them by name.
//! Channel data has borrowed decoders so the data path never allocates.

use crate::codec::{Reader, Writer};
use crate::error::DecodeError;
use crate::transport::Message;

/// Message numbers of the connection protocol (RFC 4254 §9).
pub mod num {
    /// §4
    pub const GLOBAL_REQUEST: u8 = 80;
    /// §4
    pub const REQUEST_SUCCESS: u8 = 81;
    /// §4
    pub const REQUEST_FAILURE: u8 = 82;
    /// §5.1
    pub const CHANNEL_OPEN: u8 = 90;
    /// §5.1
    pub const CHANNEL_OPEN_CONFIRMATION: u8 = 91;
    /// §5.1
    pub const CHANNEL_OPEN_FAILURE: u8 = 92;
    /// §5.2
    pub const CHANNEL_WINDOW_ADJUST: u8 = 93;
    /// §5.2
    pub const CHANNEL_DATA: u8 = 94;
    /// §5.2
    pub const CHANNEL_EXTENDED_DATA: u8 = 95;
    /// §5.3
    pub const CHANNEL_EOF: u8 = 96;
    /// §5.3
    pub const CHANNEL_CLOSE: u8 = 97;
    /// §5.4
    pub const CHANNEL_REQUEST: u8 = 98;
    /// §5.4
    pub const CHANNEL_SUCCESS: u8 = 99;
    /// §5.4
    pub const CHANNEL_FAILURE: u8 = 100;
}

/// SSH_MSG_CHANNEL_OPEN_FAILURE reason codes (RFC 4254 §5.1).
pub mod open_failure {
    /// 1
    pub const ADMINISTRATIVELY_PROHIBITED: u32 = 1;
    /// 2
    pub const CONNECT_FAILED: u32 = 2;
    /// 3
    pub const UNKNOWN_CHANNEL_TYPE: u32 = 3;
    /// 4
    pub const RESOURCE_SHORTAGE: u32 = 4;
}

/// Extended data type for stderr (RFC 4254 §5.2).
pub const EXTENDED_DATA_STDERR: u32 = 1;

fn rest(r: &mut Reader<'_>) -> Result<Vec<u8>, DecodeError> {
    Ok(r.take(r.remaining())?.to_vec())
}

/// SSH_MSG_GLOBAL_REQUEST (§4)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalRequest {
    /// Request name.
    pub name: String,
    /// Whether a reply is wanted.
    pub want_reply: bool,
    /// Request-specific fields, raw.
    pub data: Vec<u8>,
}

impl Message for GlobalRequest {
    const NUMBER: u8 = num::GLOBAL_REQUEST;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.string(self.name.as_bytes())
            .bool(self.want_reply)
            .raw(&self.data);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            name: r.utf8()?.to_owned(),
            want_reply: r.bool()?,
            data: rest(r)?,
        })
    }
}

/// SSH_MSG_REQUEST_SUCCESS (§4), with request-specific data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSuccess {
    /// Response-specific fields, raw.
    pub data: Vec<u8>,
}

impl Message for RequestSuccess {
    const NUMBER: u8 = num::REQUEST_SUCCESS;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.raw(&self.data);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self { data: rest(r)? })
    }
}

/// SSH_MSG_REQUEST_FAILURE (§4)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFailure;

impl Message for RequestFailure {
    const NUMBER: u8 = num::REQUEST_FAILURE;
    fn encode_body(&self, _w: &mut Writer<'_>) {}
    fn decode_body(_r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self)
    }
}

/// SSH_MSG_CHANNEL_OPEN (§5.1)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOpen {
    /// Channel type (`session`, `direct-tcpip`, ...).
    pub channel_type: String,
    /// Sender's channel number.
    pub sender: u32,
    /// Initial window size.
    pub window: u32,
    /// Maximum packet size.
    pub max_packet: u32,
    /// Type-specific fields, raw.
    pub data: Vec<u8>,
}

impl Message for ChannelOpen {
    const NUMBER: u8 = num::CHANNEL_OPEN;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.string(self.channel_type.as_bytes())
            .u32(self.sender)
            .u32(self.window)
            .u32(self.max_packet)
            .raw(&self.data);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            channel_type: r.utf8()?.to_owned(),
            sender: r.u32()?,
            window: r.u32()?,
            max_packet: r.u32()?,
            data: rest(r)?,
        })
    }
}

/// SSH_MSG_CHANNEL_OPEN_CONFIRMATION (§5.1)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOpenConfirmation {
    /// Our (the opener's) channel number.
    pub recipient: u32,
    /// The confirmer's channel number.
    pub sender: u32,
    /// Initial window size.
    pub window: u32,
    /// Maximum packet size.
    pub max_packet: u32,
    /// Type-specific fields, raw.
    pub data: Vec<u8>,
}

impl Message for ChannelOpenConfirmation {
    const NUMBER: u8 = num::CHANNEL_OPEN_CONFIRMATION;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u32(self.recipient)
            .u32(self.sender)
            .u32(self.window)
            .u32(self.max_packet)
            .raw(&self.data);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            recipient: r.u32()?,
            sender: r.u32()?,
            window: r.u32()?,
            max_packet: r.u32()?,
            data: rest(r)?,
        })
    }
}

/// SSH_MSG_CHANNEL_OPEN_FAILURE (§5.1)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOpenFailure {
    /// The opener's channel number.
    pub recipient: u32,
    /// Reason code ([`open_failure`]).
    pub reason: u32,
    /// Description.
    pub description: String,
    /// Language tag.
    pub language: String,
}

impl Message for ChannelOpenFailure {
    const NUMBER: u8 = num::CHANNEL_OPEN_FAILURE;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u32(self.recipient)
            .u32(self.reason)
            .string(self.description.as_bytes())
            .string(self.language.as_bytes());
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            recipient: r.u32()?,
            reason: r.u32()?,
            description: String::from_utf8_lossy(r.string()?).into_owned(),
            language: String::from_utf8_lossy(r.string()?).into_owned(),
        })
    }
}

/// SSH_MSG_CHANNEL_WINDOW_ADJUST (§5.2)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelWindowAdjust {
    /// Recipient channel.
    pub recipient: u32,
    /// Bytes to add.
    pub bytes: u32,
}

impl Message for ChannelWindowAdjust {
    const NUMBER: u8 = num::CHANNEL_WINDOW_ADJUST;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u32(self.recipient).u32(self.bytes);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            recipient: r.u32()?,
            bytes: r.u32()?,
        })
    }
}

/// Channel data on the hot path: borrowed views, no allocation.
pub mod data {
    use super::{num, DecodeError, Reader, Writer};

    /// SSH_MSG_CHANNEL_DATA (§5.2): (recipient, data).
    pub fn decode(payload: &[u8]) -> Result<(u32, &[u8]), DecodeError> {
        let mut r = Reader::new(payload);
        expect(&mut r, num::CHANNEL_DATA)?;
        let recipient = r.u32()?;
        let data = r.string()?;
        r.finish()?;
        Ok((recipient, data))
    }

    /// SSH_MSG_CHANNEL_EXTENDED_DATA (§5.2): (recipient, type, data).
    pub fn decode_extended(payload: &[u8]) -> Result<(u32, u32, &[u8]), DecodeError> {
        let mut r = Reader::new(payload);
        expect(&mut r, num::CHANNEL_EXTENDED_DATA)?;
        let recipient = r.u32()?;
        let kind = r.u32()?;
        let data = r.string()?;
        r.finish()?;
        Ok((recipient, kind, data))
    }

    /// Appends SSH_MSG_CHANNEL_DATA, or EXTENDED_DATA when `extended` is given.
    pub fn encode(buf: &mut Vec<u8>, recipient: u32, extended: Option<u32>, data: &[u8]) {
        encode_header(buf, recipient, extended, data.len());
        buf.extend_from_slice(data);
    }

    /// Appends everything of [`encode`] but the data bytes themselves, so a sender can
    /// pass the data separately without copying it into the same buffer first.
    pub fn encode_header(buf: &mut Vec<u8>, recipient: u32, extended: Option<u32>, len: usize) {
        let mut w = Writer::new(buf);
        match extended {
            None => w.u8(num::CHANNEL_DATA).u32(recipient),
            Some(kind) => w.u8(num::CHANNEL_EXTENDED_DATA).u32(recipient).u32(kind),
        };
        w.u32(u32::try_from(len).unwrap_or(u32::MAX));
    }

    fn expect(r: &mut Reader<'_>, number: u8) -> Result<(), DecodeError> {
        let got = r.u8()?;
        if got == number {
            Ok(())
        } else {
            Err(DecodeError::UnexpectedMessage(got))
        }
    }
}

macro_rules! recipient_only {
    ($(#[$doc:meta])* $name:ident, $number:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name {
            /// Recipient channel.
            pub recipient: u32,
        }

        impl Message for $name {
            const NUMBER: u8 = $number;
            fn encode_body(&self, w: &mut Writer<'_>) {
                w.u32(self.recipient);
            }
            fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self {
                    recipient: r.u32()?,
                })
            }
        }
    };
}

recipient_only!(
    /// SSH_MSG_CHANNEL_EOF (§5.3)
    ChannelEof,
    num::CHANNEL_EOF
);
recipient_only!(
    /// SSH_MSG_CHANNEL_CLOSE (§5.3)
    ChannelClose,
    num::CHANNEL_CLOSE
);
recipient_only!(
    /// SSH_MSG_CHANNEL_SUCCESS (§5.4)
    ChannelSuccess,
    num::CHANNEL_SUCCESS
);
recipient_only!(
    /// SSH_MSG_CHANNEL_FAILURE (§5.4)
    ChannelFailure,
    num::CHANNEL_FAILURE
);

/// SSH_MSG_CHANNEL_REQUEST (§5.4)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRequest {
    /// Recipient channel.
    pub recipient: u32,
    /// Request type (`exec`, `pty-req`, `exit-status`, ...).
    pub request_type: String,
    /// Whether a reply is wanted.
    pub want_reply: bool,
    /// Type-specific fields, raw.
    pub data: Vec<u8>,
}

impl Message for ChannelRequest {
    const NUMBER: u8 = num::CHANNEL_REQUEST;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u32(self.recipient)
            .string(self.request_type.as_bytes())
            .bool(self.want_reply)
            .raw(&self.data);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            recipient: r.u32()?,
            request_type: r.utf8()?.to_owned(),
            want_reply: r.bool()?,
            data: rest(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tests_support::round_trip_open_ended;

    #[test]
    fn every_connection_message_round_trips() {
        round_trip_open_ended(GlobalRequest {
            name: "tcpip-forward".into(),
            want_reply: true,
            data: vec![0, 0, 0, 0, 0, 0, 0, 22],
        });
        round_trip_open_ended(RequestSuccess {
            data: vec![0, 0, 4, 0],
        });
        round_trip_open_ended(RequestFailure);
        round_trip_open_ended(ChannelOpen {
            channel_type: "session".into(),
            sender: 1,
            window: 2 << 20,
            max_packet: 32768,
            data: vec![],
        });
        round_trip_open_ended(ChannelOpenConfirmation {
            recipient: 1,
            sender: 7,
            window: 100,
            max_packet: 200,
            data: vec![],
        });
        round_trip_open_ended(ChannelOpenFailure {
            recipient: 1,
            reason: open_failure::CONNECT_FAILED,
            description: "no".into(),
            language: String::new(),
        });
        round_trip_open_ended(ChannelWindowAdjust {
            recipient: 3,
            bytes: 1000,
        });
        round_trip_open_ended(ChannelEof { recipient: 3 });
        round_trip_open_ended(ChannelClose { recipient: 3 });
        round_trip_open_ended(ChannelSuccess { recipient: 3 });
        round_trip_open_ended(ChannelFailure { recipient: 3 });
        round_trip_open_ended(ChannelRequest {
            recipient: 3,
            request_type: "exec".into(),
            want_reply: true,
            data: vec![0, 0, 0, 2, b'l', b's'],
        });
    }

    #[test]
    fn channel_data_decodes_borrowed_and_rejects_damage() {
        let mut buf = Vec::new();
        data::encode(&mut buf, 5, None, b"hello");
        assert_eq!(data::decode(&buf).unwrap(), (5, &b"hello"[..]));
        let mut header = Vec::new();
        data::encode_header(&mut header, 5, None, 5);
        assert_eq!([&header[..], b"hello"].concat(), buf);
        assert!(data::decode(&buf[..buf.len() - 1]).is_err());
        let mut long = buf.clone();
        long.push(0);
        assert!(data::decode(&long).is_err());
        let mut buf = Vec::new();
        data::encode(&mut buf, 5, Some(EXTENDED_DATA_STDERR), b"err");
        assert_eq!(data::decode_extended(&buf).unwrap(), (5, 1, &b"err"[..]));
        assert!(data::decode(&buf).is_err());
    }
}
