//! Protocol tests of the transport: client and server cores wired in memory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod pair;

use std::sync::Arc;
use std::time::Duration;

use oxssh_proto::crypto::SigningKey;
use oxssh_proto::error::{AlgorithmKind, PeerMisbehaved};
use oxssh_proto::transport::packet::{PacketReader, PacketWriter};
use oxssh_proto::{TransportConfig, TransportError};
use oxssh_wire::names::{cipher, kex, mac};
use oxssh_wire::transport::{self as msgs, Message};
use oxssh_wire::{DisconnectReason, NameList};
use pair::{payload, Pair, Seen};

const ALL_KEX: &[&str] = &[
    kex::MLKEM768X25519_SHA256,
    kex::SNTRUP761X25519_SHA512,
    kex::SNTRUP761X25519_SHA512_OPENSSH,
    kex::CURVE25519_SHA256,
    kex::CURVE25519_SHA256_LIBSSH,
    kex::ECDH_SHA2_NISTP256,
    kex::ECDH_SHA2_NISTP384,
    kex::ECDH_SHA2_NISTP521,
    kex::DH_GROUP14_SHA256,
    kex::DH_GROUP16_SHA512,
    kex::DH_GROUP18_SHA512,
    kex::DH_GEX_SHA256,
];

const AEAD: &[&str] = &[
    cipher::AES128_GCM,
    cipher::AES256_GCM,
    cipher::CHACHA20_POLY1305,
];
const CTR: &[&str] = &[cipher::AES128_CTR, cipher::AES192_CTR, cipher::AES256_CTR];
const MACS: &[&str] = &[
    mac::HMAC_SHA2_256_ETM,
    mac::HMAC_SHA2_512_ETM,
    mac::HMAC_SHA2_256,
    mac::HMAC_SHA2_512,
];

fn only(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn configs(
    kex_name: &str,
    cipher_name: &str,
    mac_name: &str,
) -> (TransportConfig, TransportConfig) {
    let mut c = TransportConfig::client_default();
    let mut s = TransportConfig::server_default();
    for cfg in [&mut c, &mut s] {
        cfg.kex_algorithms = only(&[kex_name]);
        cfg.ciphers = only(&[cipher_name]);
        cfg.macs = only(&[mac_name]);
    }
    (c, s)
}

/// Runs a kex with the given algorithms and checks data flows both ways.
fn exchange_and_talk(kex_name: &str, cipher_name: &str, mac_name: &str, key: &str) {
    let (c, s) = configs(kex_name, cipher_name, mac_name);
    let mut pair = Pair::new(c, s, vec![pair::host_key(key)]);
    pair.drive();
    pair.assert_established();
    let Some(Seen::KexComplete { negotiated, .. }) = pair
        .client
        .seen
        .iter()
        .find(|s| matches!(s, Seen::KexComplete { .. }))
    else {
        panic!("no kex completion");
    };
    assert_eq!(negotiated.kex, kex_name);
    assert_eq!(negotiated.cipher_c2s, cipher_name);
    for i in 0..3 {
        pair.client
            .transport
            .send(&payload(i, 100 + i as usize * 1000))
            .unwrap();
        pair.server.transport.send(&payload(i + 10, 33)).unwrap();
    }
    pair.drive();
    assert_eq!(
        pair.server.payloads().len(),
        3,
        "{kex_name} {cipher_name} {mac_name}"
    );
    assert_eq!(pair.client.payloads()[2], payload(12, 33));
    assert_eq!(pair.server.payloads()[2], payload(2, 2100));
}

/// 1-3 byte payloads make 8-byte packets under AEAD and EtM (the length is not padded):
/// both sides must accept them, as OpenSSH does.
#[test]
fn tiny_payloads_pass_under_every_cipher_and_mac() {
    let ciphers: Vec<(&str, &str)> = AEAD
        .iter()
        .map(|c| (*c, mac::HMAC_SHA2_256_ETM))
        .chain(CTR.iter().flat_map(|c| MACS.iter().map(move |m| (*c, *m))))
        .collect();
    for (c, m) in ciphers {
        let (cc, sc) = configs(kex::CURVE25519_SHA256, c, m);
        let mut pair = Pair::new(cc, sc, vec![pair::host_key("ed25519")]);
        pair.drive();
        for len in 1..=4usize {
            let p: Vec<u8> = std::iter::once(94u8)
                .chain(std::iter::repeat_n(7, len - 1))
                .collect();
            pair.client.transport.send(&p).unwrap();
            pair.server.transport.send(&p).unwrap();
        }
        pair.drive();
        pair.assert_established();
        assert_eq!(pair.server.payloads().len(), 4, "{c} {m}");
        assert_eq!(pair.client.payloads().len(), 4, "{c} {m}");
    }
}

#[test]
fn every_kex_with_every_aead_cipher() {
    for k in ALL_KEX {
        for c in AEAD {
            exchange_and_talk(k, c, mac::HMAC_SHA2_256_ETM, "ed25519");
        }
    }
}

#[test]
fn every_kex_with_every_ctr_cipher_and_mac() {
    for k in ALL_KEX {
        for c in CTR {
            for m in MACS {
                exchange_and_talk(k, c, m, "ed25519");
            }
        }
    }
}

#[test]
fn every_host_key_signature_algorithm() {
    for (key, alg) in [
        ("ed25519", "ssh-ed25519"),
        ("ecdsa-p256", "ecdsa-sha2-nistp256"),
        ("ecdsa-p384", "ecdsa-sha2-nistp384"),
        ("ecdsa-p521", "ecdsa-sha2-nistp521"),
        ("rsa", "rsa-sha2-512"),
        ("rsa", "rsa-sha2-256"),
    ] {
        let mut c = TransportConfig::client_default();
        c.host_key_algorithms = only(&[alg]);
        let mut pair = Pair::new(
            c,
            TransportConfig::server_default(),
            vec![pair::host_key(key)],
        );
        pair.drive();
        pair.assert_established();
        assert!(
            matches!(&pair.client.seen[0], Seen::HostKey(_, a) if a == alg),
            "{alg}: {:?}",
            pair.client.seen
        );
    }
}

#[test]
fn sha1_ssh_rsa_is_never_chosen_by_default() {
    let mut pair = Pair::default_with("rsa");
    pair.drive();
    pair.assert_established();
    assert!(matches!(&pair.client.seen[0], Seen::HostKey(_, a) if a == "rsa-sha2-512"));
    // A client that insists on SHA-1 finds nothing in common with our server.
    let mut c = TransportConfig::client_default();
    c.host_key_algorithms = only(&["ssh-rsa"]);
    let mut pair = Pair::new(
        c,
        TransportConfig::server_default(),
        vec![pair::host_key("rsa")],
    );
    pair.drive();
    assert_eq!(
        pair.client.error,
        Some(TransportError::Peer(PeerMisbehaved::NoCommonAlgorithm(
            AlgorithmKind::HostKey
        )))
    );
}

#[test]
fn defaults_negotiate_mlkem_and_aes_gcm_and_strict_kex() {
    let mut pair = Pair::default_with("ed25519");
    pair.drive();
    pair.assert_established();
    assert!(pair.client.transport.strict_kex());
    assert!(pair.server.transport.strict_kex());
    let Seen::KexComplete {
        negotiated,
        initial,
    } = &pair.client.seen[1]
    else {
        panic!("{:?}", pair.client.seen);
    };
    assert!(initial);
    assert_eq!(negotiated.kex, kex::MLKEM768X25519_SHA256);
    assert_eq!(negotiated.cipher_c2s, cipher::AES128_GCM);
    let ext = pair
        .client
        .transport
        .peer_extensions()
        .expect("server sent EXT_INFO");
    let algs = String::from_utf8(ext.get("server-sig-algs").unwrap().to_vec()).unwrap();
    assert!(algs.contains("rsa-sha2-512") && algs.contains("ssh-ed25519"));
}

#[test]
fn rekey_started_by_either_side_keeps_data_flowing() {
    let mut pair = Pair::default_with("ed25519");
    pair.drive();
    let mut sent_c = Vec::new();
    let mut sent_s = Vec::new();
    for round in 0..6u32 {
        for i in 0..20 {
            let p = payload(round * 100 + i, 700);
            pair.client.transport.send(&p).unwrap();
            sent_c.push(p);
            let q = payload(round * 100 + i + 50, 300);
            pair.server.transport.send(&q).unwrap();
            sent_s.push(q);
            if i == 7 {
                // Alternate who starts the re-key, mid-stream, without draining first.
                if round % 2 == 0 {
                    pair.client.transport.rekey().unwrap();
                } else {
                    pair.server.transport.rekey().unwrap();
                }
            }
        }
        pair.drive();
    }
    pair.assert_established();
    assert_eq!(pair.server.payloads(), sent_c);
    assert_eq!(pair.client.payloads(), sent_s);
    assert_eq!(pair.client.kex_count(), 7);
    assert_eq!(pair.server.kex_count(), 7);
}

#[test]
fn rekey_happens_after_the_byte_limit() {
    let mut c = TransportConfig::client_default();
    c.rekey_bytes = 64 * 1024;
    let mut pair = Pair::new(
        c,
        TransportConfig::server_default(),
        vec![pair::host_key("ed25519")],
    );
    pair.drive();
    for i in 0..100 {
        pair.client.transport.send(&payload(i, 8 * 1024)).unwrap();
        pair.drive();
    }
    pair.assert_established();
    assert_eq!(pair.server.payloads().len(), 100);
    assert!(
        pair.client.kex_count() >= 10,
        "kexes: {}",
        pair.client.kex_count()
    );
}

#[test]
fn rekey_happens_after_the_time_limit() {
    let mut pair = Pair::default_with("ed25519");
    pair.drive();
    pair.advance(Duration::from_secs(3599));
    pair.drive();
    assert_eq!(pair.client.kex_count(), 1);
    pair.advance(Duration::from_secs(2));
    pair.drive();
    pair.assert_established();
    assert_eq!(pair.client.kex_count(), 2);
}

#[test]
fn stalled_kex_times_out_with_a_disconnect() {
    let mut pair = Pair::default_with("ed25519");
    // The server never hears from the client.
    pair.c2s_filter = Some(Box::new(|b: &mut Vec<u8>| b.clear()));
    pair.drive();
    let deadline = pair.server.transport.poll_timeout().unwrap();
    assert!(deadline > pair.now);
    pair.advance(Duration::from_secs(121));
    assert_eq!(pair.server.error, Some(TransportError::KexTimeout));
    let sent = decode_plain_packets(pair.server.transport.transmit());
    assert_disconnect(&sent, DisconnectReason::KeyExchangeFailed);
}

fn send_ten_each_way(pair: &mut Pair) {
    for i in 0..10 {
        pair.client.transport.send(&payload(i, 64)).unwrap();
        pair.server.transport.send(&payload(i, 64)).unwrap();
    }
    pair.drive();
    pair.assert_established();
    assert_eq!(pair.server.payloads().len(), 10);
    assert_eq!(pair.client.payloads().len(), 10);
}

#[test]
fn sequence_numbers_wrap_around_during_and_after_a_plain_kex() {
    let mut c = TransportConfig::client_default();
    let mut s = TransportConfig::server_default();
    c.strict_kex = false;
    s.strict_kex = false;
    let mut pair = Pair::new(c, s, vec![pair::host_key("ed25519")]);
    // Without strict kex the numbers run on from the handshake: start near the top.
    pair.client
        .transport
        .set_sequence_numbers_for_test(u32::MAX - 1, u32::MAX - 1);
    pair.server
        .transport
        .set_sequence_numbers_for_test(u32::MAX - 1, u32::MAX - 1);
    pair.drive();
    pair.assert_established();
    send_ten_each_way(&mut pair);
}

#[test]
fn sequence_numbers_wrap_around_under_strict_kex() {
    let mut pair = Pair::default_with("ed25519");
    pair.drive();
    pair.assert_established();
    pair.client
        .transport
        .set_sequence_numbers_for_test(u32::MAX - 3, u32::MAX - 3);
    pair.server
        .transport
        .set_sequence_numbers_for_test(u32::MAX - 3, u32::MAX - 3);
    send_ten_each_way(&mut pair);
}

#[test]
fn corrupted_mac_ends_the_connection_with_mac_error() {
    for c in [
        cipher::AES128_GCM,
        cipher::CHACHA20_POLY1305,
        cipher::AES128_CTR,
    ] {
        for m in [mac::HMAC_SHA2_256_ETM, mac::HMAC_SHA2_256] {
            let (cc, sc) = configs(kex::CURVE25519_SHA256, c, m);
            let mut pair = Pair::new(cc, sc, vec![pair::host_key("ed25519")]);
            pair.drive();
            pair.assert_established();
            pair.client.transport.send(&payload(1, 100)).unwrap();
            let mut bytes = pair.client.transport.transmit().to_vec();
            let n = bytes.len();
            pair.client.transport.advance_transmit(n);
            bytes[n - 1] ^= 1;
            pair.server.transport.recv(&bytes).unwrap();
            let err = pair.server.transport.poll_event().unwrap_err();
            assert_eq!(err, TransportError::Peer(PeerMisbehaved::BadMac), "{c} {m}");
            assert_eq!(err.disconnect_reason(), Some(DisconnectReason::MacError));
            // The error is sticky.
            assert_eq!(pair.server.transport.poll_event().unwrap_err(), err);
        }
    }
}

#[test]
fn tampered_host_key_signature_is_rejected_by_the_client() {
    let (c, s) = configs(
        kex::CURVE25519_SHA256,
        cipher::AES128_GCM,
        mac::HMAC_SHA2_256,
    );
    let mut pair = Pair::new(c, s, vec![pair::host_key("ed25519")]);
    pair.s2c_filter = Some(Box::new(flip_signature_in_kex_reply));
    pair.drive();
    assert_eq!(
        pair.client.error,
        Some(TransportError::Peer(PeerMisbehaved::BadHostKeySignature))
    );
    assert!(pair
        .client
        .seen
        .iter()
        .all(|s| !matches!(s, Seen::HostKey(..))));
}

#[test]
fn no_common_algorithm_disconnects_with_key_exchange_failed() {
    let mut c = TransportConfig::client_default();
    c.kex_algorithms = only(&[kex::ECDH_SHA2_NISTP256]);
    let mut pair = Pair::new(
        c,
        TransportConfig::server_default(),
        vec![pair::host_key("ed25519")],
    );
    pair.drive();
    let expected = TransportError::Peer(PeerMisbehaved::NoCommonAlgorithm(AlgorithmKind::Kex));
    assert_eq!(pair.server.error, Some(expected.clone()));
    assert_eq!(
        expected.disconnect_reason(),
        Some(DisconnectReason::KeyExchangeFailed)
    );
    // The client heard the server's DISCONNECT (or failed negotiation itself).
    assert!(pair.client.error.is_some());
}

#[test]
fn unknown_message_number_gets_unimplemented_and_the_connection_continues() {
    let mut pair = Pair::default_with("ed25519");
    pair.drive();
    // 30..49 outside a kex is fatal; 8..19 unassigned transport numbers get UNIMPLEMENTED.
    pair.client.transport.send(&[15, 1, 2, 3]).unwrap();
    pair.client.transport.send(&payload(1, 10)).unwrap();
    pair.drive();
    pair.assert_established();
    // The unknown message was answered, not delivered; the next one still arrives.
    assert_eq!(pair.server.payloads(), vec![payload(1, 10)]);
}

// ---- raw peers: hand-built packets against a real transport ----

fn raw_server_with(config: TransportConfig) -> oxssh_proto::Transport {
    oxssh_proto::Transport::new(
        std::sync::Arc::new(config),
        pair::provider(),
        oxssh_proto::Role::Server {
            host_keys: vec![pair::host_key("ed25519")],
        },
        std::time::Instant::now(),
    )
    .unwrap()
}

fn client_kexinit(kex_list: &str, follows: bool) -> msgs::KexInit {
    let l = |s: &str| NameList::parse(s.as_bytes()).unwrap();
    msgs::KexInit {
        cookie: [1; 16],
        kex_algorithms: l(kex_list),
        server_host_key_algorithms: l("ssh-ed25519"),
        encryption_client_to_server: l("aes128-ctr"),
        encryption_server_to_client: l("aes128-ctr"),
        mac_client_to_server: l("hmac-sha2-256"),
        mac_server_to_client: l("hmac-sha2-256"),
        compression_client_to_server: l("none"),
        compression_server_to_client: l("none"),
        first_kex_packet_follows: follows,
        ..msgs::KexInit::default()
    }
}

struct FixedRandom;
impl oxssh_proto::crypto::SecureRandom for FixedRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), oxssh_proto::crypto::CryptoError> {
        dest.fill(7);
        Ok(())
    }
}

/// Bytes a plaintext peer would send: version line then these payloads.
fn raw_stream(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut w = PacketWriter::new();
    w.write_raw(b"SSH-2.0-raw_test\r\n");
    for p in payloads {
        w.write_packet(p, &FixedRandom).unwrap();
    }
    w.pending().to_vec()
}

/// Decodes what a transport sent before encryption: skips the version line.
fn decode_plain_packets(bytes: &[u8]) -> Vec<Vec<u8>> {
    let start = bytes
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(0, |p| p + 2);
    let start = if bytes.starts_with(b"SSH-") { start } else { 0 };
    let mut r = PacketReader::new(256 * 1024);
    r.feed(&bytes[start..]);
    let mut out = Vec::new();
    while let Ok(Some(p)) = r.next_packet() {
        out.push(r.payload(&p.payload).to_vec());
    }
    out
}

fn assert_disconnect(packets: &[Vec<u8>], reason: DisconnectReason) {
    let d = packets
        .iter()
        .find(|p| p[0] == 1)
        .map(|p| msgs::Disconnect::decode(p).unwrap())
        .unwrap_or_else(|| panic!("no DISCONNECT in {packets:?}"));
    assert_eq!(d.reason, reason);
}

fn poll_until_error(t: &mut oxssh_proto::Transport) -> Option<TransportError> {
    for _ in 0..100 {
        match t.poll_event() {
            Ok(Some(_)) => continue,
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    }
    None
}

#[test]
fn strict_kex_rejects_ignore_before_kexinit() {
    let mut server = raw_server_with(TransportConfig::server_default());
    let bytes = raw_stream(&[
        msgs::Ignore { data: vec![0; 4] }.to_payload(),
        client_kexinit("curve25519-sha256,kex-strict-c-v00@openssh.com", false).to_payload(),
    ]);
    server.recv(&bytes).unwrap();
    let err = poll_until_error(&mut server).expect("must fail");
    assert_eq!(
        err,
        TransportError::Peer(PeerMisbehaved::StrictKexViolation(msgs::KexInit::NUMBER))
    );
    assert_disconnect(
        &decode_plain_packets(server.transmit()),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn strict_kex_rejects_any_message_during_the_initial_kex() {
    let mut server = raw_server_with(TransportConfig::server_default());
    let bytes = raw_stream(&[
        client_kexinit("curve25519-sha256,kex-strict-c-v00@openssh.com", false).to_payload(),
        msgs::Debug {
            always_display: false,
            message: "x".into(),
            language: String::new(),
        }
        .to_payload(),
    ]);
    server.recv(&bytes).unwrap();
    assert_eq!(
        poll_until_error(&mut server),
        Some(TransportError::Peer(PeerMisbehaved::StrictKexViolation(4)))
    );
}

#[test]
fn without_strict_kex_ignore_during_kex_is_accepted() {
    let mut server = raw_server_with(TransportConfig::server_default());
    let bytes = raw_stream(&[
        msgs::Ignore { data: vec![0; 4] }.to_payload(),
        client_kexinit("curve25519-sha256", false).to_payload(),
        msgs::Ignore { data: vec![] }.to_payload(),
    ]);
    server.recv(&bytes).unwrap();
    assert_eq!(poll_until_error(&mut server), None);
    assert!(!server.strict_kex());
}

#[test]
fn service_request_before_newkeys_is_out_of_phase() {
    let mut server = raw_server_with(TransportConfig::server_default());
    let bytes = raw_stream(&[
        client_kexinit("curve25519-sha256", false).to_payload(),
        msgs::ServiceRequest {
            service: "ssh-userauth".into(),
        }
        .to_payload(),
    ]);
    server.recv(&bytes).unwrap();
    let err = poll_until_error(&mut server).unwrap();
    assert!(matches!(
        err,
        TransportError::Peer(PeerMisbehaved::UnexpectedMessage { number: 5, .. })
    ));
    assert_disconnect(
        &decode_plain_packets(server.transmit()),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn wrong_guess_packet_is_ignored_and_right_guess_is_used() {
    let mut config = TransportConfig::server_default();
    config.kex_algorithms = only(&[kex::CURVE25519_SHA256, kex::ECDH_SHA2_NISTP256]);
    // Client guesses nistp256 (its first), server prefers curve25519: the guess is wrong
    // (RFC 4253 §7.1), so the bogus init that follows must be skipped silently.
    let bogus = msgs::KexEcdhInit {
        client_public: vec![9; 3],
    }
    .to_payload();
    let mut server = raw_server_with(config.clone());
    let bytes = raw_stream(&[
        client_kexinit("ecdh-sha2-nistp256,curve25519-sha256", true).to_payload(),
        bogus.clone(),
    ]);
    server.recv(&bytes).unwrap();
    // Negotiation picks the client's first common: nistp256; the server's first differs.
    assert_eq!(poll_until_error(&mut server), None);
    // A second bogus init is processed, and fails.
    server
        .recv(&raw_packets(std::slice::from_ref(&bogus)))
        .unwrap();
    assert!(poll_until_error(&mut server).is_some());

    // Right guess: both list nistp256 first, so the packet is the real init (bogus here).
    config.kex_algorithms = only(&[kex::ECDH_SHA2_NISTP256, kex::CURVE25519_SHA256]);
    let mut server = raw_server_with(config);
    server.recv(&bytes).unwrap();
    assert!(matches!(
        poll_until_error(&mut server),
        Some(TransportError::Peer(PeerMisbehaved::Kex(_)))
    ));
}

/// Plain packets continuing an existing stream (no version line).
fn raw_packets(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut w = PacketWriter::new();
    for p in payloads {
        w.write_packet(p, &FixedRandom).unwrap();
    }
    w.pending().to_vec()
}

#[test]
fn garbage_and_oversized_input_end_in_typed_errors() {
    // Garbage version line.
    let mut server = raw_server_with(TransportConfig::server_default());
    let err = server.recv(b"GET / HTTP/1.0\r\n\r\n").unwrap_err();
    assert_eq!(
        err.disconnect_reason(),
        Some(DisconnectReason::ProtocolVersionNotSupported)
    );
    // Over-long version line without a newline.
    let mut server = raw_server_with(TransportConfig::server_default());
    assert!(server.recv(&[b'S'; 300]).is_err());
    // Packet length over the limit.
    let mut server = raw_server_with(TransportConfig::server_default());
    let mut bytes = b"SSH-2.0-x\r\n".to_vec();
    bytes.extend_from_slice(&[0x7f, 0xff, 0xff, 0xf8, 4]);
    server.recv(&bytes).unwrap();
    assert!(matches!(
        poll_until_error(&mut server),
        Some(TransportError::Peer(PeerMisbehaved::BadPacketLength(_)))
    ));
    // Bad padding.
    let mut server = raw_server_with(TransportConfig::server_default());
    let mut bytes = b"SSH-2.0-x\r\n".to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 12, 2, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    server.recv(&bytes).unwrap();
    assert_eq!(
        poll_until_error(&mut server),
        Some(TransportError::Peer(PeerMisbehaved::BadPadding))
    );
    // Truncated KEXINIT.
    let mut server = raw_server_with(TransportConfig::server_default());
    server.recv(&raw_stream(&[vec![20, 1, 2, 3]])).unwrap();
    assert!(matches!(
        poll_until_error(&mut server),
        Some(TransportError::Peer(PeerMisbehaved::Decode(_)))
    ));
}

#[test]
fn peer_disconnect_is_reported_with_its_reason() {
    let mut server = raw_server_with(TransportConfig::server_default());
    let bytes = raw_stream(&[msgs::Disconnect {
        reason: DisconnectReason::ByApplication,
        description: "bye".into(),
        language: String::new(),
    }
    .to_payload()]);
    server.recv(&bytes).unwrap();
    assert_eq!(
        poll_until_error(&mut server),
        Some(TransportError::PeerDisconnected {
            reason: DisconnectReason::ByApplication,
            description: "bye".into()
        })
    );
}

/// Flips the last byte of the signature in a plaintext KEX_ECDH_REPLY passing by.
#[allow(clippy::ptr_arg)] // must match the filter signature
fn flip_signature_in_kex_reply(bytes: &mut Vec<u8>) {
    // Skip the version line if present.
    let mut pos = if bytes.starts_with(b"SSH-") {
        bytes.windows(2).position(|w| w == b"\r\n").unwrap() + 2
    } else {
        0
    };
    while pos + 5 < bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let pad = bytes[pos + 4] as usize;
        if bytes[pos + 5] == 31 {
            let end_of_payload = pos + 4 + len - pad;
            bytes[end_of_payload - 1] ^= 0x01;
            return;
        }
        pos += 4 + len;
    }
}

#[test]
fn delayed_zlib_compression_starts_after_login_and_carries_data_both_ways() {
    let mut c = TransportConfig::client_default();
    let mut s = TransportConfig::server_default();
    for cfg in [&mut c, &mut s] {
        cfg.compression = only(&["zlib@openssh.com", "none"]);
    }
    let mut pair = Pair::new(c, s, vec![pair::host_key("ed25519")]);
    pair.drive();
    pair.assert_established();
    let Seen::KexComplete { negotiated, .. } = &pair.client.seen[1] else {
        panic!("{:?}", pair.client.seen);
    };
    assert_eq!(negotiated.compression_c2s, "zlib@openssh.com");
    // Delayed: nothing is compressed before authentication.
    let big = vec![94u8; 100_000];
    pair.client.transport.send(&big).unwrap();
    let plain_len = pair.client.transport.transmit().len();
    pair.drive();
    // Both sides switch at the same point (after USERAUTH_SUCCESS in real life).
    pair.client.transport.enable_delayed_compression();
    pair.server.transport.enable_delayed_compression();
    pair.client.transport.send(&big).unwrap();
    let packed_len = pair.client.transport.transmit().len();
    assert!(packed_len * 20 < plain_len, "{packed_len} vs {plain_len}");
    for i in 0..50 {
        pair.client.transport.send(&payload(i, 3000)).unwrap();
        pair.server.transport.send(&payload(i, 5)).unwrap();
    }
    // The stream survives a re-key.
    pair.client.transport.rekey().unwrap();
    pair.client.transport.send(&payload(99, 10)).unwrap();
    pair.drive();
    pair.assert_established();
    assert_eq!(pair.server.payloads().len(), 53);
    assert_eq!(pair.server.payloads()[1], big);
    assert_eq!(pair.server.payloads()[52], payload(99, 10));
    assert_eq!(pair.client.payloads().len(), 50);
}

#[test]
fn automatic_rekeys_wait_for_login_when_compression_is_delayed() {
    let mut c = TransportConfig::client_default();
    let mut s = TransportConfig::server_default();
    for cfg in [&mut c, &mut s] {
        cfg.compression = only(&["zlib@openssh.com"]);
        cfg.rekey_bytes = 4096;
    }
    let mut pair = Pair::new(c, s, vec![pair::host_key("ed25519")]);
    pair.drive();
    for i in 0..10 {
        pair.client.transport.send(&payload(i, 2000)).unwrap();
        pair.drive();
    }
    assert_eq!(pair.client.kex_count(), 1, "no re-key before login");
    pair.client.transport.enable_delayed_compression();
    pair.server.transport.enable_delayed_compression();
    for i in 0..10 {
        // Incompressible-ish data so the byte limit is reached.
        let p: Vec<u8> = (0..3000u32).map(|j| (j * 7919 + i * 31) as u8).collect();
        pair.client
            .transport
            .send(&[&[94u8][..], &p].concat())
            .unwrap();
        pair.drive();
    }
    pair.assert_established();
    assert!(pair.client.kex_count() > 1, "re-keys resume after login");
    assert_eq!(pair.server.payloads().len(), 20);
}

/// A host certificate for `key` signed by `ca` (ed25519).
fn host_certificate(
    key: &dyn SigningKey,
    ca: &dyn SigningKey,
) -> oxssh_keys::certificate::Certificate {
    use oxssh_keys::certificate::{CertType, Certificate};
    let mut cert = Certificate {
        nonce: vec![3; 32],
        key: key.public_key().clone(),
        serial: 1,
        cert_type: CertType::Host,
        key_id: "host".into(),
        principals: vec!["h.example".into()],
        valid_after: 0,
        valid_before: u64::MAX,
        critical_options: Vec::new(),
        extensions: Vec::new(),
        signature_key: ca.public_key().clone(),
        signature: Vec::new(),
    };
    let sig = ca.sign("ssh-ed25519", &cert.to_be_signed()).unwrap();
    oxssh_wire::Writer::new(&mut cert.signature)
        .string(b"ssh-ed25519")
        .string(&sig);
    cert
}

#[test]
fn host_certificate_algorithms_carry_the_certificate_and_verify_the_ca() {
    use oxssh_proto::certificate::CertifiedKey;
    for (kind, alg) in [
        ("ed25519", "ssh-ed25519-cert-v01@openssh.com"),
        ("ecdsa-p384", "ecdsa-sha2-nistp384-cert-v01@openssh.com"),
        ("rsa", "rsa-sha2-256-cert-v01@openssh.com"),
    ] {
        let key = pair::host_key(kind);
        let ca = pair::host_key("ed25519");
        let cert = host_certificate(key.as_ref(), ca.as_ref());
        let certified: Arc<dyn SigningKey> =
            Arc::new(CertifiedKey::new(key.clone(), cert.clone()).unwrap());
        // The server offers the cert form only for a certified key.
        let mut c = TransportConfig::client_default();
        c.host_key_algorithms = only(&[alg, "ssh-ed25519"]);
        let mut s = TransportConfig::server_default();
        s.host_key_algorithms = only(&[alg, "ssh-ed25519", "ecdsa-sha2-nistp384", "rsa-sha2-256"]);
        let mut pair = Pair::new(c.clone(), s.clone(), vec![certified]);
        pair.drive();
        pair.assert_established();
        assert!(
            matches!(&pair.client.seen[0], Seen::HostKey(k, a) if a == alg && k == key.public_key()),
            "{alg}: {:?}",
            pair.client.seen
        );
        assert_eq!(pair.client.transport.host_certificate(), Some(&cert));
        // The same key without its certificate: no cert algorithm in common.
        let mut plain = Pair::new(c.clone(), s.clone(), vec![key.clone()]);
        plain.drive();
        assert!(plain.client.transport.host_certificate().is_none());
        // A certificate altered after signing is refused by the client core.
        let mut forged = cert.clone();
        forged.principals = vec!["evil.example".into()];
        let forged: Arc<dyn SigningKey> = Arc::new(CertifiedKey::new(key, forged).unwrap());
        let mut bad = Pair::new(c, s, vec![forged]);
        bad.drive();
        assert!(
            bad.client.error.is_some(),
            "{alg}: forged certificate accepted"
        );
    }
}
