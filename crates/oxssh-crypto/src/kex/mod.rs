//! Key exchange methods, in OpenSSH's three-step shape: the client makes a key pair
//! ([`KexAlgorithm::client_start`]), the server answers with its own share or a KEM
//! ciphertext ([`KexAlgorithm::server_respond`]), the client combines
//! ([`KexClient::finish`]).
//!
//! - [`ecdh`]: X25519 (RFC 8731) and NIST P-256/384/521 ECDH (RFC 5656 §4).
//! - [`hybrid`]: the post-quantum hybrids `mlkem768x25519-sha256` and
//!   `sntrup761x25519-sha512`.
//! - [`dh`]: finite-field Diffie-Hellman over the RFC 3526 groups (RFC 4253 §8, RFC 8268)
//!   and group exchange (RFC 4419).
//!
//! Every method hands back K already in its wire encoding ([`SharedSecret`]), byte for byte
//! what OpenSSH hashes: an `mpint` for (EC)DH, a `string` for the hybrids.
//!
//! [`KexAlgorithm::client_start`]: oxssh_proto::crypto::KexAlgorithm::client_start
//! [`KexAlgorithm::server_respond`]: oxssh_proto::crypto::KexAlgorithm::server_respond
//! [`KexClient::finish`]: oxssh_proto::crypto::KexClient::finish
//! [`SharedSecret`]: oxssh_proto::crypto::SharedSecret

pub mod dh;
pub mod ecdh;
mod groups;
pub mod hybrid;

pub use dh::{
    DhGroupExchange, FiniteFieldDh, DH_GEX_SHA256, DH_GROUP14_SHA1, DH_GROUP14_SHA256,
    DH_GROUP16_SHA512, DH_GROUP18_SHA512,
};
pub use ecdh::{
    Curve25519, NistEcdh, CURVE25519_SHA256, CURVE25519_SHA256_LIBSSH, ECDH_SHA2_NISTP256,
    ECDH_SHA2_NISTP384, ECDH_SHA2_NISTP521,
};
pub use hybrid::{
    MlKem768X25519, Sntrup761X25519, MLKEM768X25519_SHA256, SNTRUP761X25519_SHA512,
    SNTRUP761X25519_SHA512_OPENSSH,
};
