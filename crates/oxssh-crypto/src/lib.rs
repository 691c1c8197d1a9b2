//! The default oxssh [`CryptoProvider`], built on aws-lc-rs.
//!
//! Every primitive comes from a maintained library: aws-lc-rs for AES-GCM, ChaCha20-Poly1305
//! (OpenSSH variant), AES-CTR, HMAC, SHA-1/2, X25519, NIST ECDH, ML-KEM-768, Ed25519,
//! ECDSA, RSA and randomness; the `sntrup761` crate for Streamlined NTRU Prime; and
//! `crypto-bigint` for finite-field Diffie-Hellman. This crate only frames them the way the
//! SSH specifications (and OpenSSH, where it is the de-facto specification) require.
//!
//! One module per algorithm kind: [`kex`], [`sign`], [`cipher`], [`mac`], [`hash`],
//! [`rand`]. Each exposes its algorithms as statics; [`default_provider`] lists them all in
//! the default preference order of the design document. Legacy algorithms (`ssh-rsa`,
//! `hmac-sha1*`, `diffie-hellman-group14-sha1`) are listed last: they are only negotiated
//! when the configuration names them.
#![forbid(unsafe_code)]

pub mod cipher;
pub mod compress;
pub mod hash;
pub mod kex;
pub mod mac;
pub mod rand;
pub mod sign;

use oxssh_proto::crypto::CryptoProvider;

pub use sign::{
    generate_private_key, generate_signing_key, load_openssh_private_key, private_key_from_pem,
    signer_from_private, KeyKind, PemKeyError,
};

/// Every algorithm this crate implements, in default preference order.
///
/// - kex: `mlkem768x25519-sha256`, `sntrup761x25519-sha512` (both names),
///   `curve25519-sha256` (both names), `diffie-hellman-group16-sha512`, `-group18-sha512`,
///   `-group14-sha256`, `diffie-hellman-group-exchange-sha256`, `ecdh-sha2-nistp256/384/521`,
///   then legacy `diffie-hellman-group14-sha1`;
/// - signatures: `ssh-ed25519`, `ecdsa-sha2-nistp256/384/521`, `rsa-sha2-512`,
///   `rsa-sha2-256`, then legacy `ssh-rsa`;
/// - ciphers: `aes128-gcm@openssh.com`, `aes256-gcm@openssh.com`,
///   `chacha20-poly1305@openssh.com`, `aes128-ctr`, `aes192-ctr`, `aes256-ctr`;
/// - MACs: `hmac-sha2-256-etm@openssh.com`, `hmac-sha2-512-etm@openssh.com`,
///   `hmac-sha2-256`, `hmac-sha2-512`, then legacy `hmac-sha1-etm@openssh.com`, `hmac-sha1`.
pub fn default_provider() -> CryptoProvider {
    CryptoProvider {
        kex: vec![
            &kex::MLKEM768X25519_SHA256,
            &kex::SNTRUP761X25519_SHA512,
            &kex::SNTRUP761X25519_SHA512_OPENSSH,
            &kex::CURVE25519_SHA256,
            &kex::CURVE25519_SHA256_LIBSSH,
            &kex::DH_GROUP16_SHA512,
            &kex::DH_GROUP18_SHA512,
            &kex::DH_GROUP14_SHA256,
            &kex::DH_GEX_SHA256,
            &kex::ECDH_SHA2_NISTP256,
            &kex::ECDH_SHA2_NISTP384,
            &kex::ECDH_SHA2_NISTP521,
            &kex::DH_GROUP14_SHA1,
        ],
        signatures: vec![
            &sign::SSH_ED25519,
            &sign::ECDSA_SHA2_NISTP256,
            &sign::ECDSA_SHA2_NISTP384,
            &sign::ECDSA_SHA2_NISTP521,
            &sign::RSA_SHA2_512,
            &sign::RSA_SHA2_256,
            &sign::SSH_RSA,
        ],
        ciphers: vec![
            &cipher::AES128_GCM,
            &cipher::AES256_GCM,
            &cipher::CHACHA20_POLY1305,
            &cipher::AES128_CTR,
            &cipher::AES192_CTR,
            &cipher::AES256_CTR,
        ],
        macs: vec![
            &mac::HMAC_SHA2_256_ETM,
            &mac::HMAC_SHA2_512_ETM,
            &mac::HMAC_SHA2_256,
            &mac::HMAC_SHA2_512,
            &mac::HMAC_SHA1_ETM,
            &mac::HMAC_SHA1,
        ],
        compression: vec![&compress::ZLIB_OPENSSH],
        hash: &hash::AWS_LC_HASH,
        random: &rand::SYSTEM_RANDOM,
    }
}
