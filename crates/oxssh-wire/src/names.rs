//! Every SSH algorithm, extension and service name, as constants. No other file spells them.

/// Key exchange method names (RFC 4253, 5656, 8268, 8731, OpenSSH PROTOCOL, draft-kampanakis-curdle-ssh-pq-ke).
pub mod kex {
    /// ML-KEM-768 + X25519 hybrid, SHA-256.
    pub const MLKEM768X25519_SHA256: &str = "mlkem768x25519-sha256";
    /// Streamlined NTRU Prime + X25519 hybrid, SHA-512 (IANA name).
    pub const SNTRUP761X25519_SHA512: &str = "sntrup761x25519-sha512";
    /// Same method under OpenSSH's original name.
    pub const SNTRUP761X25519_SHA512_OPENSSH: &str = "sntrup761x25519-sha512@openssh.com";
    /// X25519, SHA-256 (RFC 8731).
    pub const CURVE25519_SHA256: &str = "curve25519-sha256";
    /// Same method under libssh's original name.
    pub const CURVE25519_SHA256_LIBSSH: &str = "curve25519-sha256@libssh.org";
    /// ECDH on NIST P-256 (RFC 5656).
    pub const ECDH_SHA2_NISTP256: &str = "ecdh-sha2-nistp256";
    /// ECDH on NIST P-384.
    pub const ECDH_SHA2_NISTP384: &str = "ecdh-sha2-nistp384";
    /// ECDH on NIST P-521.
    pub const ECDH_SHA2_NISTP521: &str = "ecdh-sha2-nistp521";
    /// 2048-bit MODP group, SHA-256 (RFC 8268).
    pub const DH_GROUP14_SHA256: &str = "diffie-hellman-group14-sha256";
    /// 4096-bit MODP group, SHA-512.
    pub const DH_GROUP16_SHA512: &str = "diffie-hellman-group16-sha512";
    /// 8192-bit MODP group, SHA-512.
    pub const DH_GROUP18_SHA512: &str = "diffie-hellman-group18-sha512";
    /// Group exchange, SHA-256 (RFC 4419).
    pub const DH_GEX_SHA256: &str = "diffie-hellman-group-exchange-sha256";
    /// Legacy: 2048-bit MODP group with SHA-1, only when configured.
    pub const DH_GROUP14_SHA1: &str = "diffie-hellman-group14-sha1";
    /// RFC 8308 extension negotiation, client side pseudo-algorithm.
    pub const EXT_INFO_C: &str = "ext-info-c";
    /// RFC 8308 extension negotiation, server side pseudo-algorithm.
    pub const EXT_INFO_S: &str = "ext-info-s";
    /// Strict key exchange (Terrapin countermeasure), client side.
    pub const KEX_STRICT_C: &str = "kex-strict-c-v00@openssh.com";
    /// Strict key exchange, server side.
    pub const KEX_STRICT_S: &str = "kex-strict-s-v00@openssh.com";
}

/// Public key and signature algorithm names (RFC 4253, 5656, 8332, 8709).
pub mod key {
    /// Ed25519.
    pub const SSH_ED25519: &str = "ssh-ed25519";
    /// ECDSA on P-256 with SHA-256.
    pub const ECDSA_SHA2_NISTP256: &str = "ecdsa-sha2-nistp256";
    /// ECDSA on P-384 with SHA-384.
    pub const ECDSA_SHA2_NISTP384: &str = "ecdsa-sha2-nistp384";
    /// ECDSA on P-521 with SHA-512.
    pub const ECDSA_SHA2_NISTP521: &str = "ecdsa-sha2-nistp521";
    /// RSA PKCS#1 v1.5 with SHA-512 (RFC 8332).
    pub const RSA_SHA2_512: &str = "rsa-sha2-512";
    /// RSA PKCS#1 v1.5 with SHA-256 (RFC 8332).
    pub const RSA_SHA2_256: &str = "rsa-sha2-256";
    /// RSA key type, and the legacy SHA-1 signature (only when configured).
    pub const SSH_RSA: &str = "ssh-rsa";
    /// Curve identifier inside ecdsa keys (RFC 5656 §6.1).
    pub const NISTP256: &str = "nistp256";
    /// Curve identifier for P-384.
    pub const NISTP384: &str = "nistp384";
    /// Curve identifier for P-521.
    pub const NISTP521: &str = "nistp521";
}

/// Encryption algorithm names.
pub mod cipher {
    /// AES-128-GCM (RFC 5647 as OpenSSH specifies it).
    pub const AES128_GCM: &str = "aes128-gcm@openssh.com";
    /// AES-256-GCM.
    pub const AES256_GCM: &str = "aes256-gcm@openssh.com";
    /// ChaCha20-Poly1305 as OpenSSH's PROTOCOL.chacha20poly1305 defines it.
    pub const CHACHA20_POLY1305: &str = "chacha20-poly1305@openssh.com";
    /// AES-128 in counter mode (RFC 4344).
    pub const AES128_CTR: &str = "aes128-ctr";
    /// AES-192 in counter mode.
    pub const AES192_CTR: &str = "aes192-ctr";
    /// AES-256 in counter mode.
    pub const AES256_CTR: &str = "aes256-ctr";
    /// No encryption (only before the first key exchange).
    pub const NONE: &str = "none";
}

/// MAC algorithm names.
pub mod mac {
    /// HMAC-SHA-256, encrypt-then-MAC.
    pub const HMAC_SHA2_256_ETM: &str = "hmac-sha2-256-etm@openssh.com";
    /// HMAC-SHA-512, encrypt-then-MAC.
    pub const HMAC_SHA2_512_ETM: &str = "hmac-sha2-512-etm@openssh.com";
    /// HMAC-SHA-256 (RFC 6668).
    pub const HMAC_SHA2_256: &str = "hmac-sha2-256";
    /// HMAC-SHA-512 (RFC 6668).
    pub const HMAC_SHA2_512: &str = "hmac-sha2-512";
    /// Legacy HMAC-SHA-1, only when configured.
    pub const HMAC_SHA1: &str = "hmac-sha1";
    /// Legacy HMAC-SHA-1 encrypt-then-MAC, only when configured.
    pub const HMAC_SHA1_ETM: &str = "hmac-sha1-etm@openssh.com";
}

/// Compression algorithm names.
pub mod compression {
    /// No compression.
    pub const NONE: &str = "none";
    /// Delayed zlib: starts after user authentication.
    pub const ZLIB_OPENSSH: &str = "zlib@openssh.com";
}

/// Service names (RFC 4253 §10).
pub mod service {
    /// User authentication.
    pub const USERAUTH: &str = "ssh-userauth";
    /// Connection protocol.
    pub const CONNECTION: &str = "ssh-connection";
}

/// RFC 8308 extension names.
pub mod ext {
    /// The signature algorithms a server accepts for user authentication.
    pub const SERVER_SIG_ALGS: &str = "server-sig-algs";
    /// OpenSSH's host-key rotation support.
    pub const PING: &str = "ping@openssh.com";
}
