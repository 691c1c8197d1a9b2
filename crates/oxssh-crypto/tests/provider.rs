//! The default provider lists every algorithm once, in the design's preference order.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use oxssh_crypto::default_provider;
use oxssh_proto::crypto::HashAlg;
use oxssh_wire::names::{cipher, kex, key, mac};

#[test]
fn default_provider_lists_every_algorithm_in_preference_order() {
    let provider = default_provider();
    let kex_names: Vec<_> = provider.kex.iter().map(|a| a.name()).collect();
    assert_eq!(
        kex_names,
        [
            kex::MLKEM768X25519_SHA256,
            kex::SNTRUP761X25519_SHA512,
            kex::SNTRUP761X25519_SHA512_OPENSSH,
            kex::CURVE25519_SHA256,
            kex::CURVE25519_SHA256_LIBSSH,
            kex::DH_GROUP16_SHA512,
            kex::DH_GROUP18_SHA512,
            kex::DH_GROUP14_SHA256,
            kex::DH_GEX_SHA256,
            kex::ECDH_SHA2_NISTP256,
            kex::ECDH_SHA2_NISTP384,
            kex::ECDH_SHA2_NISTP521,
            kex::DH_GROUP14_SHA1,
        ]
    );
    let signature_names: Vec<_> = provider.signatures.iter().map(|a| a.name()).collect();
    assert_eq!(
        signature_names,
        [
            key::SSH_ED25519,
            key::ECDSA_SHA2_NISTP256,
            key::ECDSA_SHA2_NISTP384,
            key::ECDSA_SHA2_NISTP521,
            key::RSA_SHA2_512,
            key::RSA_SHA2_256,
            key::SSH_RSA,
        ]
    );
    let cipher_names: Vec<_> = provider.ciphers.iter().map(|a| a.name()).collect();
    assert_eq!(
        cipher_names,
        [
            cipher::AES128_GCM,
            cipher::AES256_GCM,
            cipher::CHACHA20_POLY1305,
            cipher::AES128_CTR,
            cipher::AES192_CTR,
            cipher::AES256_CTR,
        ]
    );
    let mac_names: Vec<_> = provider.macs.iter().map(|a| a.name()).collect();
    assert_eq!(
        mac_names,
        [
            mac::HMAC_SHA2_256_ETM,
            mac::HMAC_SHA2_512_ETM,
            mac::HMAC_SHA2_256,
            mac::HMAC_SHA2_512,
            mac::HMAC_SHA1_ETM,
            mac::HMAC_SHA1,
        ]
    );
}

#[test]
fn provider_lookups_and_one_shot_digest_work() {
    let provider = default_provider();
    assert_eq!(provider.cipher(cipher::AES256_CTR).unwrap().key_len(), 32);
    assert_eq!(provider.mac(mac::HMAC_SHA2_512_ETM).unwrap().tag_len(), 64);
    assert!(provider.kex("diffie-hellman-group1-sha1").is_none());
    assert_eq!(
        provider.signature(key::RSA_SHA2_512).unwrap().key_type(),
        key::SSH_RSA
    );
    let digest = provider.digest(HashAlg::Sha256, &[b"a", b"bc"]);
    assert_eq!(digest[..4], [0xba, 0x78, 0x16, 0xbf]);
    let mut random = [0u8; 16];
    provider.random.fill(&mut random).unwrap();
    assert!(format!("{provider:?}").contains(cipher::CHACHA20_POLY1305));
}
