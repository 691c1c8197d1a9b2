//! Packet ciphers: the AEADs `aes{128,256}-gcm@openssh.com` and
//! `chacha20-poly1305@openssh.com`, and `aes{128,192,256}-ctr` composed with an HMAC.
//!
//! Every [`Sealer`]/[`Opener`] works in place on the framing layer's buffer,
//! `uint32 packet_length || byte padding_length || payload || padding`, with the tag kept
//! apart, and allocates nothing per packet. After a successful [`Opener::open`] the whole
//! buffer, length field included, is plaintext.
//!
//! Failure policy, since the traits leave `seal` and `packet_length` infallible:
//! - `open` returns [`CryptoError::BadMac`] for every failure, including lengths that are
//!   not a whole number of blocks and tags of the wrong size; it never indexes out of
//!   bounds.
//! - `packet_length` given fewer than `header_len` bytes returns `u32::MAX`, which the
//!   framing layer rejects as oversized.
//! - `seal` given a buffer it cannot protect (shorter than the length field, not a whole
//!   number of blocks, a tag buffer of the wrong size) wipes the packet and the tag rather
//!   than let plaintext out; the peer then fails to open it. The framing layer pads
//!   correctly, so this only guards against bugs.

mod chacha;
mod ctr;
mod gcm;

use aws_lc_rs::{aead, cipher as aes};
use oxssh_proto::crypto::{CipherAlgorithm, CryptoError, Mac, Opener, Sealer};
use oxssh_wire::names::cipher as names;
use zeroize::Zeroize;

/// Length of the `packet_length` field (RFC 4253 §6).
const LENGTH_LEN: usize = 4;

/// `aes128-gcm@openssh.com` / `aes256-gcm@openssh.com` (RFC 5647 as OpenSSH's PROTOCOL §1.6
/// uses it: the negotiated MAC is ignored).
#[derive(Debug)]
pub struct AesGcm {
    name: &'static str,
    algorithm: &'static aead::Algorithm,
}

/// `aes128-gcm@openssh.com`.
pub static AES128_GCM: AesGcm = AesGcm {
    name: names::AES128_GCM,
    algorithm: &aead::AES_128_GCM,
};

/// `aes256-gcm@openssh.com`.
pub static AES256_GCM: AesGcm = AesGcm {
    name: names::AES256_GCM,
    algorithm: &aead::AES_256_GCM,
};

/// `chacha20-poly1305@openssh.com` (OpenSSH PROTOCOL.chacha20poly1305).
#[derive(Debug)]
pub struct ChaCha20Poly1305;

/// `chacha20-poly1305@openssh.com`.
pub static CHACHA20_POLY1305: ChaCha20Poly1305 = ChaCha20Poly1305;

/// `aes{128,192,256}-ctr` (RFC 4344 §4), which needs a MAC.
#[derive(Debug)]
pub struct AesCtr {
    name: &'static str,
    algorithm: &'static aes::Algorithm,
    key_len: usize,
}

/// `aes128-ctr`.
pub static AES128_CTR: AesCtr = AesCtr {
    name: names::AES128_CTR,
    algorithm: &aes::AES_128,
    key_len: aes::AES_128_KEY_LEN,
};

/// `aes192-ctr`.
pub static AES192_CTR: AesCtr = AesCtr {
    name: names::AES192_CTR,
    algorithm: &aes::AES_192,
    key_len: aes::AES_192_KEY_LEN,
};

/// `aes256-ctr`.
pub static AES256_CTR: AesCtr = AesCtr {
    name: names::AES256_CTR,
    algorithm: &aes::AES_256,
    key_len: aes::AES_256_KEY_LEN,
};

impl CipherAlgorithm for AesGcm {
    fn name(&self) -> &'static str {
        self.name
    }
    fn key_len(&self) -> usize {
        self.algorithm.key_len()
    }
    /// RFC 5647 §7.1: 4-byte fixed field and 8-byte invocation counter.
    fn iv_len(&self) -> usize {
        gcm::IV_LEN
    }
    fn block_size(&self) -> usize {
        gcm::BLOCK_LEN
    }
    fn is_aead(&self) -> bool {
        true
    }
    fn sealer(
        &self,
        key: &[u8],
        iv: &[u8],
        _mac: Option<Box<dyn Mac>>,
        _mac_is_etm: bool,
    ) -> Result<Box<dyn Sealer>, CryptoError> {
        let state = gcm::GcmState::new(self.algorithm, key, iv)?;
        Ok(Box::new(gcm::GcmSealer(state)))
    }
    fn opener(
        &self,
        key: &[u8],
        iv: &[u8],
        _mac: Option<Box<dyn Mac>>,
        _mac_is_etm: bool,
    ) -> Result<Box<dyn Opener>, CryptoError> {
        let state = gcm::GcmState::new(self.algorithm, key, iv)?;
        Ok(Box::new(gcm::GcmOpener(state)))
    }
}

impl CipherAlgorithm for ChaCha20Poly1305 {
    fn name(&self) -> &'static str {
        names::CHACHA20_POLY1305
    }
    /// Two 256-bit ChaCha20 keys: K_2 (payload) then K_1 (length).
    fn key_len(&self) -> usize {
        chacha::KEY_LEN
    }
    /// The nonce is the sequence number; no IV is derived.
    fn iv_len(&self) -> usize {
        0
    }
    fn block_size(&self) -> usize {
        chacha::BLOCK_LEN
    }
    fn is_aead(&self) -> bool {
        true
    }
    fn sealer(
        &self,
        key: &[u8],
        _iv: &[u8],
        _mac: Option<Box<dyn Mac>>,
        _mac_is_etm: bool,
    ) -> Result<Box<dyn Sealer>, CryptoError> {
        Ok(Box::new(chacha::ChaChaSealer::new(key)?))
    }
    fn opener(
        &self,
        key: &[u8],
        _iv: &[u8],
        _mac: Option<Box<dyn Mac>>,
        _mac_is_etm: bool,
    ) -> Result<Box<dyn Opener>, CryptoError> {
        Ok(Box::new(chacha::ChaChaOpener::new(key)?))
    }
}

impl CipherAlgorithm for AesCtr {
    fn name(&self) -> &'static str {
        self.name
    }
    fn key_len(&self) -> usize {
        self.key_len
    }
    /// RFC 4344 §4: the IV is the initial 128-bit counter.
    fn iv_len(&self) -> usize {
        ctr::BLOCK_LEN
    }
    fn block_size(&self) -> usize {
        ctr::BLOCK_LEN
    }
    fn is_aead(&self) -> bool {
        false
    }
    fn sealer(
        &self,
        key: &[u8],
        iv: &[u8],
        mac: Option<Box<dyn Mac>>,
        mac_is_etm: bool,
    ) -> Result<Box<dyn Sealer>, CryptoError> {
        let mac = mac.ok_or(CryptoError::Unsupported("aes-ctr requires a MAC"))?;
        let ctr = ctr::Counter::new(self.algorithm, prefix(key, self.key_len)?, iv)?;
        Ok(Box::new(ctr::CtrSealer::new(ctr, mac, mac_is_etm)))
    }
    fn opener(
        &self,
        key: &[u8],
        iv: &[u8],
        mac: Option<Box<dyn Mac>>,
        mac_is_etm: bool,
    ) -> Result<Box<dyn Opener>, CryptoError> {
        let mac = mac.ok_or(CryptoError::Unsupported("aes-ctr requires a MAC"))?;
        let ctr = ctr::Counter::new(self.algorithm, prefix(key, self.key_len)?, iv)?;
        Ok(Box::new(ctr::CtrOpener::new(ctr, mac, mac_is_etm)))
    }
}

/// The first `len` bytes of derived key material. As OpenSSH's `cipher_init`, longer input
/// is accepted and truncated, shorter is refused.
fn prefix(material: &[u8], len: usize) -> Result<&[u8], CryptoError> {
    material.get(..len).ok_or(CryptoError::InvalidKey)
}

/// Whether `packet` is a length field followed by a non-empty whole number of `block`s
/// (`aad` = 4), or a non-empty whole number of blocks (`aad` = 0).
fn well_formed(packet: &[u8], aad: usize, block: usize) -> bool {
    match packet.len().checked_sub(aad) {
        Some(body) => body > 0 && body % block == 0,
        None => false,
    }
}

/// What [`Opener::packet_length`] reports when it cannot read a length: larger than any
/// packet the framing layer accepts, so the connection fails as for an oversized packet.
const UNREADABLE_LENGTH: u32 = u32::MAX;

/// Reads the big-endian `packet_length` from the first four bytes, or
/// [`UNREADABLE_LENGTH`] when fewer are given.
fn read_length(header: &[u8]) -> u32 {
    match header.first_chunk::<LENGTH_LEN>() {
        Some(bytes) => u32::from_be_bytes(*bytes),
        None => UNREADABLE_LENGTH,
    }
}

/// Destroys a packet that could not be sealed, so that no plaintext is sent.
fn wipe(packet: &mut [u8], tag: &mut [u8]) {
    packet.zeroize();
    tag.zeroize();
}
