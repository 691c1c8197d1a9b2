//! Transport configuration: algorithm preferences, limits and timers, with the
//! defaults DESIGN.md names for each role.

use std::time::Duration;

use oxssh_wire::names::{cipher, compression, kex, key, mac};

/// Settings for one transport. Algorithm lists are SSH names in preference order;
/// names the provider does not implement are skipped when offering.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Our software version, the part after `SSH-2.0-` (no spaces).
    pub software_version: String,
    /// Key exchange methods.
    pub kex_algorithms: Vec<String>,
    /// Host key signature algorithms (client: what we accept; server: filtered by our keys).
    pub host_key_algorithms: Vec<String>,
    /// Ciphers, both directions.
    pub ciphers: Vec<String>,
    /// MACs, both directions.
    pub macs: Vec<String>,
    /// Compression, both directions.
    pub compression: Vec<String>,
    /// Offer strict key exchange (Terrapin countermeasure).
    pub strict_kex: bool,
    /// Client: offer `ext-info-c`; server: answer with EXT_INFO when offered.
    pub ext_info: bool,
    /// Server: the `server-sig-algs` we announce in EXT_INFO.
    pub server_sig_algs: Vec<String>,
    /// Re-key after this many bytes in either direction (RFC 4253 §9: 1 GiB).
    pub rekey_bytes: u64,
    /// Re-key after this many packets in either direction.
    pub rekey_packets: u64,
    /// Re-key after this much time (RFC 4253 §9: one hour).
    pub rekey_interval: Option<Duration>,
    /// A key exchange that takes longer than this ends the connection.
    pub kex_timeout: Duration,
    /// Client group-exchange request: (min, preferred, max) bits (RFC 4419 §3).
    pub gex_bits: (u32, u32, u32),
    /// Largest packet_length we accept (at least 35000, RFC 4253 §6.1).
    pub max_packet_len: u32,
    /// Most lines (other than the version) we accept before the server's version line.
    pub max_preamble_lines: usize,
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// Key exchange preference shared by both roles (DESIGN.md), strongest first.
const KEX_COMMON: &[&str] = &[
    kex::MLKEM768X25519_SHA256,
    kex::SNTRUP761X25519_SHA512,
    kex::SNTRUP761X25519_SHA512_OPENSSH,
    kex::CURVE25519_SHA256,
    kex::CURVE25519_SHA256_LIBSSH,
    kex::DH_GROUP16_SHA512,
    kex::DH_GROUP18_SHA512,
    kex::DH_GROUP14_SHA256,
    kex::DH_GEX_SHA256,
];

/// NIST ECDH: offered by the client last, for old servers; by the server only when configured.
const KEX_NIST: &[&str] = &[
    kex::ECDH_SHA2_NISTP256,
    kex::ECDH_SHA2_NISTP384,
    kex::ECDH_SHA2_NISTP521,
];

const HOST_KEY_DEFAULT: &[&str] = &[
    key::SSH_ED25519,
    key::ECDSA_SHA2_NISTP256,
    key::ECDSA_SHA2_NISTP384,
    key::ECDSA_SHA2_NISTP521,
    key::RSA_SHA2_512,
    key::RSA_SHA2_256,
];

const CIPHER_DEFAULT: &[&str] = &[
    cipher::AES128_GCM,
    cipher::AES256_GCM,
    cipher::CHACHA20_POLY1305,
    cipher::AES128_CTR,
    cipher::AES192_CTR,
    cipher::AES256_CTR,
];

const MAC_DEFAULT: &[&str] = &[
    mac::HMAC_SHA2_256_ETM,
    mac::HMAC_SHA2_512_ETM,
    mac::HMAC_SHA2_256,
    mac::HMAC_SHA2_512,
];

impl TransportConfig {
    /// Client defaults: every modern algorithm, NIST ECDH last.
    pub fn client_default() -> Self {
        let mut kex_algorithms = owned(KEX_COMMON);
        kex_algorithms.extend(owned(KEX_NIST));
        Self {
            kex_algorithms,
            ..Self::base()
        }
    }

    /// Server defaults: no NIST key exchange unless configured.
    pub fn server_default() -> Self {
        Self {
            kex_algorithms: owned(KEX_COMMON),
            ..Self::base()
        }
    }

    fn base() -> Self {
        Self {
            software_version: format!("oxssh_{}", env!("CARGO_PKG_VERSION")),
            kex_algorithms: Vec::new(),
            host_key_algorithms: owned(HOST_KEY_DEFAULT),
            ciphers: owned(CIPHER_DEFAULT),
            macs: owned(MAC_DEFAULT),
            compression: owned(&[compression::NONE]),
            strict_kex: true,
            ext_info: true,
            server_sig_algs: owned(HOST_KEY_DEFAULT),
            rekey_bytes: 1 << 30,
            rekey_packets: 1 << 31,
            rekey_interval: Some(Duration::from_secs(3600)),
            kex_timeout: Duration::from_secs(120),
            gex_bits: (2048, 3072, 8192),
            max_packet_len: 256 * 1024,
            max_preamble_lines: 1024,
        }
    }
}
