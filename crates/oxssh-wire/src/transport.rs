//! Transport-layer messages (RFC 4253 §7-§11, RFC 4419, RFC 5656 §4, RFC 8308) as typed structs.

use crate::codec::{NameList, Reader, Writer};
use crate::disconnect::DisconnectReason;
use crate::error::DecodeError;
use crate::msg::num;

/// A message with a fixed number and a body codec.
pub trait Message: Sized {
    /// The SSH message number.
    const NUMBER: u8;

    /// Writes the fields after the message number.
    fn encode_body(&self, w: &mut Writer<'_>);

    /// Reads the fields after the message number.
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Appends the whole payload (number and body) to `buf`.
    fn encode(&self, buf: &mut Vec<u8>) {
        let mut w = Writer::new(buf);
        w.u8(Self::NUMBER);
        self.encode_body(&mut w);
    }

    /// The whole payload as a new vector.
    fn to_payload(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        self.encode(&mut buf);
        buf
    }

    /// Decodes a whole payload, rejecting a wrong number or trailing data.
    fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        let number = r.u8()?;
        if number != Self::NUMBER {
            return Err(DecodeError::UnexpectedMessage(number));
        }
        let msg = Self::decode_body(&mut r)?;
        r.finish()?;
        Ok(msg)
    }
}

/// SSH_MSG_DISCONNECT (RFC 4253 §11.1)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// Reason code.
    pub reason: DisconnectReason,
    /// Human-readable description.
    pub description: String,
    /// Language tag (usually empty).
    pub language: String,
}

impl Message for Disconnect {
    const NUMBER: u8 = num::DISCONNECT;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u32(self.reason.code())
            .string(self.description.as_bytes())
            .string(self.language.as_bytes());
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            reason: DisconnectReason::from_code(r.u32()?),
            description: lossy(r.string()?),
            language: lossy(r.string()?),
        })
    }
}

/// SSH_MSG_IGNORE (RFC 4253 §11.2)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    /// Arbitrary data.
    pub data: Vec<u8>,
}

impl Message for Ignore {
    const NUMBER: u8 = num::IGNORE;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.string(&self.data);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            data: r.string()?.to_vec(),
        })
    }
}

/// SSH_MSG_UNIMPLEMENTED (RFC 4253 §11.4)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unimplemented {
    /// Sequence number of the rejected packet.
    pub sequence: u32,
}

impl Message for Unimplemented {
    const NUMBER: u8 = num::UNIMPLEMENTED;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u32(self.sequence);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self { sequence: r.u32()? })
    }
}

/// SSH_MSG_DEBUG (RFC 4253 §11.3)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debug {
    /// Whether the receiver should display it.
    pub always_display: bool,
    /// The message text.
    pub message: String,
    /// Language tag.
    pub language: String,
}

impl Message for Debug {
    const NUMBER: u8 = num::DEBUG;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.bool(self.always_display)
            .string(self.message.as_bytes())
            .string(self.language.as_bytes());
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            always_display: r.bool()?,
            message: lossy(r.string()?),
            language: lossy(r.string()?),
        })
    }
}

/// SSH_MSG_SERVICE_REQUEST (RFC 4253 §10)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequest {
    /// Service name, e.g. `ssh-userauth`.
    pub service: String,
}

impl Message for ServiceRequest {
    const NUMBER: u8 = num::SERVICE_REQUEST;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.string(self.service.as_bytes());
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            service: r.utf8()?.to_owned(),
        })
    }
}

/// SSH_MSG_SERVICE_ACCEPT (RFC 4253 §10)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccept {
    /// Service name echoed back.
    pub service: String,
}

impl Message for ServiceAccept {
    const NUMBER: u8 = num::SERVICE_ACCEPT;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.string(self.service.as_bytes());
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            service: r.utf8()?.to_owned(),
        })
    }
}

/// Most extensions a peer may send in one EXT_INFO; bounds allocation.
pub const MAX_EXTENSIONS: u32 = 64;

/// SSH_MSG_EXT_INFO (RFC 8308 §2.3)
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtInfo {
    /// (name, value) pairs in order.
    pub extensions: Vec<(String, Vec<u8>)>,
}

impl ExtInfo {
    /// The value of extension `name`, if present.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.extensions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

impl Message for ExtInfo {
    const NUMBER: u8 = num::EXT_INFO;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u32(u32::try_from(self.extensions.len()).unwrap_or(u32::MAX));
        for (name, value) in &self.extensions {
            w.string(name.as_bytes()).string(value);
        }
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let count = r.u32()?;
        if count > MAX_EXTENSIONS {
            return Err(DecodeError::TooLong(count as usize));
        }
        let mut extensions = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let name = r.utf8()?.to_owned();
            let value = r.string()?.to_vec();
            extensions.push((name, value));
        }
        Ok(Self { extensions })
    }
}

/// SSH_MSG_KEXINIT (RFC 4253 §7.1)
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KexInit {
    /// 16 random bytes.
    pub cookie: [u8; 16],
    /// Key exchange methods (plus ext-info and strict-kex markers).
    pub kex_algorithms: NameList,
    /// Host key / signature algorithms.
    pub server_host_key_algorithms: NameList,
    /// Ciphers client to server.
    pub encryption_client_to_server: NameList,
    /// Ciphers server to client.
    pub encryption_server_to_client: NameList,
    /// MACs client to server.
    pub mac_client_to_server: NameList,
    /// MACs server to client.
    pub mac_server_to_client: NameList,
    /// Compression client to server.
    pub compression_client_to_server: NameList,
    /// Compression server to client.
    pub compression_server_to_client: NameList,
    /// Languages client to server.
    pub languages_client_to_server: NameList,
    /// Languages server to client.
    pub languages_server_to_client: NameList,
    /// Whether a guessed kex packet follows.
    pub first_kex_packet_follows: bool,
    /// Reserved, must be 0 when sent.
    pub reserved: u32,
}

impl Message for KexInit {
    const NUMBER: u8 = num::KEXINIT;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.raw(&self.cookie)
            .name_list(&self.kex_algorithms)
            .name_list(&self.server_host_key_algorithms)
            .name_list(&self.encryption_client_to_server)
            .name_list(&self.encryption_server_to_client)
            .name_list(&self.mac_client_to_server)
            .name_list(&self.mac_server_to_client)
            .name_list(&self.compression_client_to_server)
            .name_list(&self.compression_server_to_client)
            .name_list(&self.languages_client_to_server)
            .name_list(&self.languages_server_to_client)
            .bool(self.first_kex_packet_follows)
            .u32(self.reserved);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            cookie: r.array()?,
            kex_algorithms: r.name_list()?,
            server_host_key_algorithms: r.name_list()?,
            encryption_client_to_server: r.name_list()?,
            encryption_server_to_client: r.name_list()?,
            mac_client_to_server: r.name_list()?,
            mac_server_to_client: r.name_list()?,
            compression_client_to_server: r.name_list()?,
            compression_server_to_client: r.name_list()?,
            languages_client_to_server: r.name_list()?,
            languages_server_to_client: r.name_list()?,
            first_kex_packet_follows: r.bool()?,
            reserved: r.u32()?,
        })
    }
}

/// SSH_MSG_NEWKEYS (RFC 4253 §7.3)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewKeys;

impl Message for NewKeys {
    const NUMBER: u8 = num::NEWKEYS;
    fn encode_body(&self, _w: &mut Writer<'_>) {}
    fn decode_body(_r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self)
    }
}

/// SSH_MSG_KEX_ECDH_INIT (RFC 5656 §4), also used by curve25519 and the hybrid KEMs:
/// the client's ephemeral public value as a `string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexEcdhInit {
    /// Q_C
    pub client_public: Vec<u8>,
}

impl Message for KexEcdhInit {
    const NUMBER: u8 = num::KEX_ECDH_INIT;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.string(&self.client_public);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            client_public: r.string()?.to_vec(),
        })
    }
}

/// SSH_MSG_KEX_ECDH_REPLY (RFC 5656 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexEcdhReply {
    /// K_S, the server's host key blob.
    pub host_key: Vec<u8>,
    /// Q_S
    pub server_public: Vec<u8>,
    /// Signature over the exchange hash.
    pub signature: Vec<u8>,
}

impl Message for KexEcdhReply {
    const NUMBER: u8 = num::KEX_ECDH_REPLY;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.string(&self.host_key)
            .string(&self.server_public)
            .string(&self.signature);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            host_key: r.string()?.to_vec(),
            server_public: r.string()?.to_vec(),
            signature: r.string()?.to_vec(),
        })
    }
}

/// SSH_MSG_KEXDH_INIT (RFC 4253 §8): `e` as an mpint (unsigned magnitude here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexDhInit {
    /// e = g^x mod p
    pub e: Vec<u8>,
}

impl Message for KexDhInit {
    const NUMBER: u8 = num::KEX_ECDH_INIT;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.mpint_unsigned(&self.e);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            e: r.mpint_unsigned()?.to_vec(),
        })
    }
}

/// SSH_MSG_KEXDH_REPLY (RFC 4253 §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexDhReply {
    /// K_S
    pub host_key: Vec<u8>,
    /// f = g^y mod p (unsigned magnitude)
    pub f: Vec<u8>,
    /// Signature over the exchange hash.
    pub signature: Vec<u8>,
}

impl Message for KexDhReply {
    const NUMBER: u8 = num::KEX_ECDH_REPLY;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.string(&self.host_key)
            .mpint_unsigned(&self.f)
            .string(&self.signature);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            host_key: r.string()?.to_vec(),
            f: r.mpint_unsigned()?.to_vec(),
            signature: r.string()?.to_vec(),
        })
    }
}

/// SSH_MSG_KEX_DH_GEX_REQUEST (RFC 4419 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KexDhGexRequest {
    /// Minimal acceptable group size in bits.
    pub min: u32,
    /// Preferred size.
    pub n: u32,
    /// Maximal size.
    pub max: u32,
}

impl Message for KexDhGexRequest {
    const NUMBER: u8 = num::KEX_DH_GEX_REQUEST;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u32(self.min).u32(self.n).u32(self.max);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            min: r.u32()?,
            n: r.u32()?,
            max: r.u32()?,
        })
    }
}

/// SSH_MSG_KEX_DH_GEX_GROUP (RFC 4419 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexDhGexGroup {
    /// Safe prime p (unsigned magnitude).
    pub p: Vec<u8>,
    /// Generator g (unsigned magnitude).
    pub g: Vec<u8>,
}

impl Message for KexDhGexGroup {
    const NUMBER: u8 = num::KEX_DH_GEX_GROUP;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.mpint_unsigned(&self.p).mpint_unsigned(&self.g);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            p: r.mpint_unsigned()?.to_vec(),
            g: r.mpint_unsigned()?.to_vec(),
        })
    }
}

/// SSH_MSG_KEX_DH_GEX_INIT (RFC 4419 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexDhGexInit {
    /// e (unsigned magnitude)
    pub e: Vec<u8>,
}

impl Message for KexDhGexInit {
    const NUMBER: u8 = num::KEX_DH_GEX_INIT;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.mpint_unsigned(&self.e);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            e: r.mpint_unsigned()?.to_vec(),
        })
    }
}

/// SSH_MSG_KEX_DH_GEX_REPLY (RFC 4419 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexDhGexReply {
    /// K_S
    pub host_key: Vec<u8>,
    /// f (unsigned magnitude)
    pub f: Vec<u8>,
    /// Signature over the exchange hash.
    pub signature: Vec<u8>,
}

impl Message for KexDhGexReply {
    const NUMBER: u8 = num::KEX_DH_GEX_REPLY;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.string(&self.host_key)
            .mpint_unsigned(&self.f)
            .string(&self.signature);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            host_key: r.string()?.to_vec(),
            f: r.mpint_unsigned()?.to_vec(),
            signature: r.string()?.to_vec(),
        })
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// Encodes, decodes, and checks every prefix fails and trailing data is refused.
    pub(crate) fn round_trip<M: Message + PartialEq + std::fmt::Debug>(msg: M) {
        let payload = msg.to_payload();
        assert_eq!(payload.first(), Some(&M::NUMBER));
        assert_eq!(M::decode(&payload).unwrap(), msg);
        // Every strict prefix is truncated, never a panic or a success.
        for cut in 0..payload.len() {
            assert!(M::decode(&payload[..cut]).is_err(), "prefix {cut} accepted");
        }
        let mut long = payload.clone();
        long.push(0);
        assert_eq!(M::decode(&long), Err(DecodeError::TrailingData(1)));
    }

    /// Like [`round_trip`] for messages whose last field is raw type-specific data
    /// (trailing bytes belong to it): encode, decode, and no prefix before it decodes.
    pub(crate) fn round_trip_open_ended<M: Message + PartialEq + std::fmt::Debug>(msg: M) {
        let payload = msg.to_payload();
        assert_eq!(M::decode(&payload).unwrap(), msg);
        assert!(M::decode(&[]).is_err());
        assert!(M::decode(&[M::NUMBER.wrapping_add(1)]).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::round_trip;
    use super::*;

    fn names(list: &str) -> NameList {
        NameList::parse(list.as_bytes()).unwrap()
    }

    #[test]
    fn every_transport_message_round_trips() {
        round_trip(Disconnect {
            reason: DisconnectReason::ProtocolError,
            description: "bad".into(),
            language: String::new(),
        });
        round_trip(Ignore {
            data: vec![1, 2, 3],
        });
        round_trip(Unimplemented { sequence: 9 });
        round_trip(Debug {
            always_display: true,
            message: "hi".into(),
            language: "en".into(),
        });
        round_trip(ServiceRequest {
            service: "ssh-userauth".into(),
        });
        round_trip(ServiceAccept {
            service: "ssh-userauth".into(),
        });
        round_trip(ExtInfo {
            extensions: vec![("server-sig-algs".into(), b"ssh-ed25519".to_vec())],
        });
        round_trip(KexInit {
            cookie: [7; 16],
            kex_algorithms: names("curve25519-sha256,ext-info-c"),
            server_host_key_algorithms: names("ssh-ed25519"),
            encryption_client_to_server: names("aes128-ctr"),
            encryption_server_to_client: names("aes128-ctr"),
            mac_client_to_server: names("hmac-sha2-256"),
            mac_server_to_client: names("hmac-sha2-256"),
            compression_client_to_server: names("none"),
            compression_server_to_client: names("none"),
            first_kex_packet_follows: true,
            ..KexInit::default()
        });
        round_trip(KexEcdhInit {
            client_public: vec![9; 32],
        });
        round_trip(KexEcdhReply {
            host_key: vec![1; 51],
            server_public: vec![2; 32],
            signature: vec![3; 83],
        });
        round_trip(KexDhInit { e: vec![0x80, 1] });
        round_trip(KexDhReply {
            host_key: vec![1],
            f: vec![0x7f],
            signature: vec![2],
        });
        round_trip(KexDhGexRequest {
            min: 2048,
            n: 3072,
            max: 8192,
        });
        round_trip(KexDhGexGroup {
            p: vec![0xff; 8],
            g: vec![2],
        });
        round_trip(KexDhGexInit { e: vec![5] });
        round_trip(KexDhGexReply {
            host_key: vec![1],
            f: vec![6],
            signature: vec![2],
        });
    }

    #[test]
    fn newkeys_rejects_trailing_bytes() {
        assert_eq!(NewKeys::decode(&[21]), Ok(NewKeys));
        assert_eq!(NewKeys::decode(&[21, 0]), Err(DecodeError::TrailingData(1)));
        assert_eq!(
            NewKeys::decode(&[20]),
            Err(DecodeError::UnexpectedMessage(20))
        );
    }

    #[test]
    fn ext_info_count_is_bounded() {
        let payload = [7, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            ExtInfo::decode(&payload),
            Err(DecodeError::TooLong(_))
        ));
    }
}
