//! Packet protection: known answers through the Sealer, and seal/open round trips and
//! failure behaviour for every cipher and MAC combination.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{hex, unhex};
use oxssh_crypto::{cipher, mac};
use oxssh_proto::crypto::{CipherAlgorithm, CryptoError, MacAlgorithm, Opener, Sealer};

/// One configured direction: a cipher and, for AES-CTR, a MAC.
#[derive(Clone, Copy)]
struct Suite {
    cipher: &'static dyn CipherAlgorithm,
    mac: Option<&'static dyn MacAlgorithm>,
}

impl Suite {
    fn name(&self) -> String {
        match self.mac {
            Some(mac) => format!("{} + {}", self.cipher.name(), mac.name()),
            None => self.cipher.name().to_owned(),
        }
    }

    fn key(&self) -> Vec<u8> {
        (0..self.cipher.key_len()).map(|i| i as u8 ^ 0x5c).collect()
    }

    fn iv(&self) -> Vec<u8> {
        // A counter IV near the top exercises the 128-bit carry (CTR) and the 64-bit
        // invocation-counter wrap (GCM).
        let mut iv = vec![0xffu8; self.cipher.iv_len()];
        if let Some(first) = iv.first_mut() {
            *first = 0x11;
        }
        iv
    }

    fn mac_key(&self) -> Option<Box<dyn oxssh_proto::crypto::Mac>> {
        self.mac.map(|m| m.key(&vec![0x33u8; m.key_len()]).unwrap())
    }

    fn etm(&self) -> bool {
        self.mac.is_some_and(|m| m.is_etm())
    }

    fn pair(&self) -> (Box<dyn Sealer>, Box<dyn Opener>) {
        let sealer = self
            .cipher
            .sealer(&self.key(), &self.iv(), self.mac_key(), self.etm())
            .unwrap();
        let opener = self
            .cipher
            .opener(&self.key(), &self.iv(), self.mac_key(), self.etm())
            .unwrap();
        (sealer, opener)
    }
}

fn all_suites() -> Vec<Suite> {
    let mut suites: Vec<Suite> = [
        &cipher::AES128_GCM as &dyn CipherAlgorithm,
        &cipher::AES256_GCM,
        &cipher::CHACHA20_POLY1305,
    ]
    .into_iter()
    .map(|cipher| Suite { cipher, mac: None })
    .collect();
    let macs: [&'static dyn MacAlgorithm; 6] = [
        &mac::HMAC_SHA2_256_ETM,
        &mac::HMAC_SHA2_512_ETM,
        &mac::HMAC_SHA2_256,
        &mac::HMAC_SHA2_512,
        &mac::HMAC_SHA1_ETM,
        &mac::HMAC_SHA1,
    ];
    for cipher in [
        &cipher::AES128_CTR as &dyn CipherAlgorithm,
        &cipher::AES192_CTR,
        &cipher::AES256_CTR,
    ] {
        for mac in macs {
            suites.push(Suite {
                cipher,
                mac: Some(mac),
            });
        }
    }
    suites
}

/// Lays out an RFC 4253 §6 packet for `payload`, padded as the framing layer would.
fn packet(payload: &[u8], block: usize, aad: usize) -> Vec<u8> {
    let unpadded = 4 + 1 + payload.len() - aad;
    let mut padding = block - unpadded % block;
    if padding < 4 {
        padding += block;
    }
    let length = 1 + payload.len() + padding;
    let mut out = Vec::new();
    out.extend_from_slice(&(length as u32).to_be_bytes());
    out.push(padding as u8);
    out.extend_from_slice(payload);
    out.extend((0..padding).map(|i| i as u8));
    out
}

/// Seals `plain` and returns (wire bytes, tag).
fn seal(sealer: &mut dyn Sealer, seq: u32, plain: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut buf = plain.to_vec();
    let mut tag = vec![0u8; sealer.tag_len()];
    sealer.seal(seq, &mut buf, &mut tag);
    (buf, tag)
}

/// Reads the length as the framing layer would, then opens.
fn open(
    opener: &mut dyn Opener,
    seq: u32,
    wire: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut buf = wire.to_vec();
    let header_len = opener.header_len();
    let length = opener.packet_length(seq, &mut buf[..header_len]);
    assert_eq!(length as usize + 4, buf.len(), "decrypted packet_length");
    opener.open(seq, &mut buf, tag)?;
    Ok(buf)
}

#[test]
fn every_suite_round_trips_a_stream_across_the_sequence_wrap() {
    for suite in all_suites() {
        let (mut sealer, mut opener) = suite.pair();
        assert_eq!(sealer.aad_len(), opener.aad_len(), "{}", suite.name());
        let mut seq = 0xffff_fffdu32;
        for size in [0usize, 1, 15, 16, 17, 100, 1000, 32768] {
            let payload: Vec<u8> = (0..size).map(|i| (i * 7) as u8).collect();
            let plain = packet(&payload, sealer.block_size(), sealer.aad_len());
            let (wire, tag) = seal(sealer.as_mut(), seq, &plain);
            assert_ne!(
                wire[5..],
                plain[5..],
                "{} left the payload in clear",
                suite.name()
            );
            let opened = open(opener.as_mut(), seq, &wire, &tag).unwrap();
            assert_eq!(opened, plain, "{} seq {seq}", suite.name());
            seq = seq.wrapping_add(1);
        }
    }
}

#[test]
fn every_suite_reports_consistent_sizes() {
    for suite in all_suites() {
        let (sealer, opener) = suite.pair();
        let aead = suite.cipher.is_aead();
        let etm = suite.etm();
        assert_eq!(sealer.block_size(), suite.cipher.block_size());
        assert_eq!(opener.block_size(), suite.cipher.block_size());
        assert_eq!(
            sealer.aad_len(),
            if aead || etm { 4 } else { 0 },
            "{}",
            suite.name()
        );
        let header = if aead || etm { 4 } else { 16 };
        assert_eq!(opener.header_len(), header, "{}", suite.name());
        let tag = suite.mac.map_or(16, |m| m.tag_len());
        assert_eq!(sealer.tag_len(), tag);
        assert_eq!(opener.tag_len(), tag);
    }
}

#[test]
fn every_suite_rejects_corrupted_tag_ciphertext_and_length() {
    for suite in all_suites() {
        let (mut sealer, _) = suite.pair();
        let plain = packet(b"integrity matters", sealer.block_size(), sealer.aad_len());
        let (wire, tag) = seal(sealer.as_mut(), 0xffff_ffff, &plain);
        for target in ["tag", "last byte", "length"] {
            let (_, mut opener) = suite.pair();
            let mut wire = wire.clone();
            let mut tag = tag.clone();
            match target {
                "tag" => tag[0] ^= 0x01,
                "last byte" => *wire.last_mut().unwrap() ^= 0x80,
                _ => wire[3] ^= 0x04,
            }
            let mut buf = wire.clone();
            let header_len = opener.header_len();
            let _ = opener.packet_length(0xffff_ffff, &mut buf[..header_len]);
            assert_eq!(
                opener.open(0xffff_ffff, &mut buf, &tag),
                Err(CryptoError::BadMac),
                "{} accepted a corrupted {target}",
                suite.name()
            );
        }
        // The right packet under the wrong sequence number fails too.
        let (_, mut opener) = suite.pair();
        let mut buf = wire.clone();
        let header_len = opener.header_len();
        let _ = opener.packet_length(0, &mut buf[..header_len]);
        if suite.cipher.name() != cipher::AES128_GCM.name()
            && suite.cipher.name() != cipher::AES256_GCM.name()
        {
            // GCM ignores the sequence number (its nonce is the invocation counter).
            assert_eq!(
                opener.open(0, &mut buf, &tag),
                Err(CryptoError::BadMac),
                "{}",
                suite.name()
            );
        }
    }
}

#[test]
fn every_suite_survives_malformed_lengths_without_panicking() {
    for suite in all_suites() {
        for len in [0usize, 1, 3, 4, 5, 8, 12, 15, 16, 17, 20, 21, 31, 33] {
            let (mut sealer, mut opener) = suite.pair();
            let mut header = vec![0xabu8; len];
            let length = opener.packet_length(1, &mut header);
            if len < opener.header_len() {
                assert_eq!(length, u32::MAX, "{} short header", suite.name());
            }
            // None of these lengths is a whole packet under the suite's (wrong) tag.
            let mut buf = vec![0x42u8; len];
            let tag = vec![0u8; opener.tag_len()];
            assert_eq!(
                opener.open(1, &mut buf, &tag),
                Err(CryptoError::BadMac),
                "{}",
                suite.name()
            );
            let mut buf = vec![0x42u8; len];
            assert_eq!(opener.open(1, &mut buf, &[]), Err(CryptoError::BadMac));
            // A packet that is not a length field plus whole blocks is wiped, never sent.
            let body = len.checked_sub(sealer.aad_len());
            let well_formed = body.is_some_and(|b| b > 0 && b % sealer.block_size() == 0);
            let mut buf = vec![0x42u8; len];
            let mut tag = vec![0x42u8; sealer.tag_len()];
            sealer.seal(2, &mut buf, &mut tag);
            let wiped = buf.iter().chain(&tag).all(|&b| b == 0);
            assert_eq!(wiped, !well_formed, "{} len {len}", suite.name());
        }
        // A tag buffer of the wrong size also wipes.
        let (mut sealer, _) = suite.pair();
        let mut buf = packet(b"x", sealer.block_size(), sealer.aad_len());
        let mut tag = vec![0x42u8; sealer.tag_len() + 1];
        sealer.seal(0, &mut buf, &mut tag);
        assert!(buf.iter().chain(&tag).all(|&b| b == 0), "{}", suite.name());
    }
}

/// GCM test case 3 (McGrew & Viega, the NIST GCM submission): key, IV and plaintext as
/// published. GCM's ciphertext does not depend on the AAD, so the body must equal the
/// published ciphertext; the tag (over our 4-byte length AAD) and the second packet (IV
/// invocation counter + 1) come from Python's `cryptography` (OpenSSL).
#[test]
fn aes128_gcm_matches_gcm_test_case_3_through_the_sealer() {
    let key = unhex("feffe9928665731c6d6a8f9467308308");
    let iv = unhex("cafebabefacedbaddecaf888");
    let body = unhex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
         1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
    );
    let mut plain = 64u32.to_be_bytes().to_vec();
    plain.extend_from_slice(&body);
    let mut sealer = cipher::AES128_GCM.sealer(&key, &iv, None, false).unwrap();
    let expected = [
        (
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
            "e6114f6468325271e9b03b510a6dff85",
        ),
        (
            "5c21c68aa9787c7294b2d7a47a6e8e4d8adafeea894bf504323d55f62afe5ba1
             18a028444d260b032d4936a7a62acedcb095f614fed4092166b3c89f8bfb6a26",
            "18b9f3f32d9bd01561a21b00a1e07be5",
        ),
    ];
    let mut opener = cipher::AES128_GCM.opener(&key, &iv, None, false).unwrap();
    for (seq, (ciphertext, want_tag)) in expected.into_iter().enumerate() {
        let (wire, tag) = seal(sealer.as_mut(), seq as u32, &plain);
        assert_eq!(&wire[..4], &plain[..4], "length stays in clear");
        assert_eq!(hex(&wire[4..]), hex(&unhex(ciphertext)));
        assert_eq!(hex(&tag), want_tag);
        assert_eq!(
            open(opener.as_mut(), seq as u32, &wire, &tag).unwrap(),
            plain
        );
    }
}

/// The invocation counter wraps mod 2^64 without carrying into the fixed field
/// (RFC 5647 §7.1). Expected values from Python's `cryptography`.
#[test]
fn aes256_gcm_invocation_counter_wraps_without_touching_fixed_field() {
    let key: Vec<u8> = (0..32).collect();
    let iv = unhex("01020304 ffffffffffffffff");
    let mut plain = 16u32.to_be_bytes().to_vec();
    plain.extend_from_slice(&[0u8; 16]);
    let mut sealer = cipher::AES256_GCM.sealer(&key, &iv, None, false).unwrap();
    let (wire, tag) = seal(sealer.as_mut(), 0, &plain);
    assert_eq!(hex(&wire[4..]), "713cb9245fc1621b61b2d13e20cd9966");
    assert_eq!(hex(&tag), "1efd393f61bc8ea243c12de6999d91a9");
    let (wire, tag) = seal(sealer.as_mut(), 1, &plain);
    assert_eq!(hex(&wire[4..]), "2155dd5d17917871fbe797bbb0c0b76e");
    assert_eq!(hex(&tag), "7b0e8b6cb14b29edbf134e23606ef241");
}

/// A fixed vector built from OpenSSH's PROTOCOL.chacha20poly1305 with Python's
/// `cryptography` (raw ChaCha20 and Poly1305): length under K_1 with the sequence number
/// as nonce, payload under K_2 from block 1, Poly1305 keyed by K_2's block 0 over the
/// whole encrypted packet.
#[test]
fn chacha20_poly1305_matches_openssh_construction() {
    let key: Vec<u8> = (0..64).collect();
    let body = unhex("046f7873736820636861636861207061796c6f6164a5a5a5a5a5a5a500000000");
    let mut plain = 32u32.to_be_bytes().to_vec();
    plain.extend_from_slice(&body);
    let cases = [
        (
            7u32,
            "a39afc8a2c296d303deb0a3d040cd898b6afa34d4dde5f571a469826e5cfbe7a80530354",
            "cd1733ad2d81a5593bb101e532c6018b",
        ),
        (
            0xffff_ffff,
            "b90ee4900dfd74e8dd6cf481fe57c8da13a672cf6fd65677ab8a7eddf78143e52ee7163b",
            "09728f3a3332f457dcbee575f493a81b",
        ),
    ];
    let mut sealer = cipher::CHACHA20_POLY1305
        .sealer(&key, &[], None, false)
        .unwrap();
    let mut opener = cipher::CHACHA20_POLY1305
        .opener(&key, &[], None, false)
        .unwrap();
    for (seq, want_wire, want_tag) in cases {
        let (wire, tag) = seal(sealer.as_mut(), seq, &plain);
        assert_eq!(hex(&wire), want_wire);
        assert_eq!(hex(&tag), want_tag);
        // packet_length decrypts from a copy: the header stays ciphertext.
        let mut buf = wire.clone();
        assert_eq!(opener.packet_length(seq, &mut buf[..4]), 32);
        assert_eq!(buf, wire);
        opener.open(seq, &mut buf, &tag).unwrap();
        assert_eq!(buf, plain);
    }
}

/// RFC 3686 test vector #2 (AES-128-CTR) as one encrypt-and-MAC packet: the whole packet
/// is encrypted from the IV, the MAC (from Python's `cryptography`) covers the plaintext.
#[test]
fn aes128_ctr_encrypt_and_mac_matches_rfc3686_vector_2() {
    let key = unhex("7E24067817FAE0D743D6CE1F32539163");
    let iv = unhex("006CB6DBC0543B59DA48D90B00000001");
    let plain: Vec<u8> = (0..32).collect();
    let mac = mac::HMAC_SHA2_256.key(&[0x42; 32]).unwrap();
    let mut sealer = cipher::AES128_CTR
        .sealer(&key, &iv, Some(mac), false)
        .unwrap();
    let (wire, tag) = seal(sealer.as_mut(), 3, &plain);
    assert_eq!(
        hex(&wire),
        "5104a106168a72d9790d41ee8edad388eb2e1efc46da57c8fce630df9141be28"
    );
    assert_eq!(
        hex(&tag),
        "c8a48d8ed7a5862c747c32cd285c3cc7447e2904a0d015ce0559ef63017f6d41"
    );
    let mac = mac::HMAC_SHA2_256.key(&[0x42; 32]).unwrap();
    let mut opener = cipher::AES128_CTR
        .opener(&key, &iv, Some(mac), false)
        .unwrap();
    let mut buf = wire.clone();
    // The first block is decrypted in place; a repeated call does not decrypt it twice.
    assert_eq!(opener.packet_length(3, &mut buf[..16]), 0x0001_0203);
    assert_eq!(opener.packet_length(3, &mut buf[..16]), 0x0001_0203);
    assert_eq!(&buf[..16], &plain[..16]);
    opener.open(3, &mut buf, &tag).unwrap();
    assert_eq!(buf, plain);
}

/// RFC 3686 test vectors #1 (AES-128) and #7 (AES-256) as the encrypted part of an
/// encrypt-then-MAC packet: the length stays in clear and the body is encrypted from the
/// IV; the MAC (from Python's `cryptography`) covers length and ciphertext.
#[test]
fn aes_ctr_encrypt_then_mac_matches_rfc3686_vectors_1_and_7() {
    let cases: [(&dyn CipherAlgorithm, &str, &str, &str); 2] = [
        (
            &cipher::AES128_CTR,
            "AE6852F8121067CC4BF7A5765577F39E",
            "00000030000000000000000000000001",
            "e4095d4fb7a7b3792d6175a3261311b8",
        ),
        (
            &cipher::AES256_CTR,
            "776BEFF2851DB06F4C8A0542C8696F6C6A81AF1EEC96B4D37FC1D689E6C1C104",
            "00000060DB5672C97AA8F0B200000001",
            "145ad01dbf824ec7560863dc71e3e0c0",
        ),
    ];
    for (alg, key, iv, ciphertext) in cases {
        let (key, iv) = (unhex(key), unhex(iv));
        let mut plain = 16u32.to_be_bytes().to_vec();
        plain.extend_from_slice(b"Single block msg");
        let mac = mac::HMAC_SHA2_256_ETM.key(&[0x42; 32]).unwrap();
        let mut sealer = alg.sealer(&key, &iv, Some(mac), true).unwrap();
        let (wire, tag) = seal(sealer.as_mut(), 0xffff_ffff, &plain);
        assert_eq!(&wire[..4], &plain[..4]);
        assert_eq!(hex(&wire[4..]), ciphertext);
        if alg.name() == cipher::AES128_CTR.name() {
            assert_eq!(
                hex(&tag),
                "69feb5fc382e5886316e527ed8a49484b941fae121bd3dfd487f53620b2f1261"
            );
        }
        let mac = mac::HMAC_SHA2_256_ETM.key(&[0x42; 32]).unwrap();
        let mut opener = alg.opener(&key, &iv, Some(mac), true).unwrap();
        assert_eq!(
            open(opener.as_mut(), 0xffff_ffff, &wire, &tag).unwrap(),
            plain
        );
    }
}

#[test]
fn ctr_requires_a_mac_and_keys_must_be_long_enough() {
    assert!(matches!(
        cipher::AES128_CTR.sealer(&[0; 16], &[0; 16], None, false),
        Err(CryptoError::Unsupported(_))
    ));
    assert!(matches!(
        cipher::AES128_CTR.opener(&[0; 16], &[0; 16], None, true),
        Err(CryptoError::Unsupported(_))
    ));
    for alg in [
        &cipher::AES128_GCM as &dyn CipherAlgorithm,
        &cipher::AES256_GCM,
        &cipher::CHACHA20_POLY1305,
        &cipher::AES128_CTR,
        &cipher::AES192_CTR,
        &cipher::AES256_CTR,
    ] {
        let mac = || Some(mac::HMAC_SHA2_256.key(&[0; 32]).unwrap());
        let short_key = vec![0u8; alg.key_len() - 1];
        let iv = vec![0u8; alg.iv_len()];
        assert_eq!(
            alg.sealer(&short_key, &iv, mac(), false).err(),
            Some(CryptoError::InvalidKey)
        );
        if alg.iv_len() > 0 {
            let key = vec![0u8; alg.key_len()];
            let short_iv = vec![0u8; alg.iv_len() - 1];
            assert_eq!(
                alg.opener(&key, &short_iv, mac(), false).err(),
                Some(CryptoError::InvalidKey)
            );
        }
    }
}
