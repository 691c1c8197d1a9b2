//! The `wire_messages` target's wire half: every transport message decoder, the
//! forwarding data decoders (RFC 4254 §7, OpenSSH PROTOCOL §2.4), the name-list parser
//! and the reader's primitive types, fed arbitrary bytes.
//!
//! Besides "never panics", each successful decode must survive a round trip
//! (`decode(encode(m)) == m`), which catches encoder/decoder asymmetries.
//! `crates/oxssh-wire/tests/fuzz_corpus_replay.rs` includes this file by path.

use std::fmt::Debug;

use oxssh_wire::forward::{
    decode_allocated_port, encode_allocated_port, DirectStreamlocal, ForwardedStreamlocal,
    TcpipForward, TcpipOpen,
};
use oxssh_wire::transport::{
    Debug as DebugMsg, Disconnect, ExtInfo, Ignore, KexDhGexGroup, KexDhGexInit, KexDhGexReply,
    KexDhGexRequest, KexDhInit, KexDhReply, KexEcdhInit, KexEcdhReply, KexInit, NewKeys,
    ServiceAccept, ServiceRequest, Unimplemented,
};
use oxssh_wire::{Message, NameList, Reader};

/// Feeds `data` to every wire decoder; returns how many accepted it (so seeds can be
/// checked to still be valid encodings). Panics only on a round-trip mismatch.
pub fn decode_wire(data: &[u8]) -> usize {
    let accepted = [
        round_trip::<Disconnect>(data),
        round_trip::<Ignore>(data),
        round_trip::<Unimplemented>(data),
        round_trip::<DebugMsg>(data),
        round_trip::<ServiceRequest>(data),
        round_trip::<ServiceAccept>(data),
        round_trip::<ExtInfo>(data),
        round_trip::<KexInit>(data),
        round_trip::<NewKeys>(data),
        round_trip::<KexEcdhInit>(data),
        round_trip::<KexEcdhReply>(data),
        round_trip::<KexDhInit>(data),
        round_trip::<KexDhReply>(data),
        round_trip::<KexDhGexRequest>(data),
        round_trip::<KexDhGexGroup>(data),
        round_trip::<KexDhGexInit>(data),
        round_trip::<KexDhGexReply>(data),
        name_list(data),
        forward_data(data),
    ];
    read_values(data);
    accepted.into_iter().filter(|ok| *ok).count()
}

/// Decodes `data` as `M`, and also its body under `M`'s number, so every decoder sees
/// every input's body whatever its first byte.
fn round_trip<M: Message + PartialEq + Debug>(data: &[u8]) -> bool {
    let accepted = check::<M>(data);
    if let Some((&number, body)) = data.split_first() {
        if number != M::NUMBER {
            let mut payload = Vec::with_capacity(data.len());
            payload.push(M::NUMBER);
            payload.extend_from_slice(body);
            check::<M>(&payload);
        }
    }
    accepted
}

fn check<M: Message + PartialEq + Debug>(payload: &[u8]) -> bool {
    let Ok(msg) = M::decode(payload) else {
        return false;
    };
    let again = M::decode(&msg.to_payload());
    assert_eq!(again.as_ref(), Ok(&msg), "re-encoding changed the message");
    true
}

/// The type-specific data of forwarding opens and requests; each accepted value must
/// encode back to the same bytes.
fn forward_data(data: &[u8]) -> bool {
    let mut accepted = false;
    if let Ok(open) = TcpipOpen::decode(data) {
        assert_eq!(open.encode(), data, "direct/forwarded-tcpip re-encoding");
        accepted = true;
    }
    if let Ok(req) = TcpipForward::decode(data) {
        assert_eq!(req.encode(), data, "tcpip-forward re-encoding");
        accepted = true;
    }
    if let Ok(open) = DirectStreamlocal::decode(data) {
        assert_eq!(DirectStreamlocal::decode(&open.encode()), Ok(open));
        accepted = true;
    }
    if let Ok(open) = ForwardedStreamlocal::decode(data) {
        assert_eq!(ForwardedStreamlocal::decode(&open.encode()), Ok(open));
        accepted = true;
    }
    if let Ok(port) = decode_allocated_port(data) {
        assert_eq!(encode_allocated_port(port), data);
        accepted = true;
    }
    accepted
}

fn name_list(data: &[u8]) -> bool {
    let Ok(list) = NameList::parse(data) else {
        return false;
    };
    assert_eq!(NameList::parse(list.joined().as_bytes()), Ok(list));
    true
}

/// Reads a sequence of primitive values whose types the first byte chooses.
fn read_values(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut reader = Reader::new(rest);
    let mut selector = first;
    while !reader.is_empty() {
        let ok = match selector % 8 {
            0 => reader.u8().is_ok(),
            1 => reader.bool().is_ok(),
            2 => reader.u32().is_ok(),
            3 => reader.u64().is_ok(),
            4 => reader.string().is_ok(),
            5 => reader.utf8().is_ok(),
            6 => reader.mpint().is_ok(),
            _ => reader.name_list().is_ok(),
        };
        if !ok {
            break;
        }
        selector = selector.rotate_left(3) ^ 0x5a;
    }
    let _ = reader.finish();
}
