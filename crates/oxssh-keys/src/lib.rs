//! SSH key material: public key blobs (RFC 4253 §6.6, RFC 5656 §3.1, RFC 8709) and
//! their OpenSSH text form. Private key files, authorized_keys and known_hosts arrive
//! with the client and server issues.
#![forbid(unsafe_code)]

mod public;

pub use public::{EcdsaCurve, KeyError, PublicKey};
