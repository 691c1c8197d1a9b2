//! The algorithm names OpenSSH 9.2 and oxssh share, for the interop matrices (one list,
//! so a test of the client and a test of the server cover the same ground).

use super::HostKey;

/// Ciphers that need a separate MAC.
pub const MAC_CIPHERS: [&str; 3] = ["aes128-ctr", "aes192-ctr", "aes256-ctr"];
/// Ciphers with built-in authentication (the MAC is not negotiated for them).
pub const AEAD_CIPHERS: [&str; 3] = [
    "chacha20-poly1305@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
];
/// MACs.
pub const MACS: [&str; 6] = [
    "hmac-sha1",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-sha1-etm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
];
/// Every key exchange OpenSSH 9.2 implements that oxssh does too (ML-KEM came with 9.9).
pub const KEXES: [&str; 12] = [
    "sntrup761x25519-sha512",
    "sntrup761x25519-sha512@openssh.com",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group14-sha1",
];
/// Host key (signature) algorithms oxssh can both verify and sign with, with the key type
/// serving each. Not `ssh-rsa`: aws-lc-rs cannot make PKCS#1 SHA-1 signatures.
pub const SIGNED_HOST_KEY_ALGORITHMS: [(&str, HostKey); 6] = [
    ("ssh-ed25519", HostKey::Ed25519),
    ("ecdsa-sha2-nistp256", HostKey::EcdsaP256),
    ("ecdsa-sha2-nistp384", HostKey::EcdsaP384),
    ("ecdsa-sha2-nistp521", HostKey::EcdsaP521),
    ("rsa-sha2-512", HostKey::Rsa),
    ("rsa-sha2-256", HostKey::Rsa),
];
