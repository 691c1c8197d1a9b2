//! `aes{128,256}-gcm@openssh.com`: RFC 5647 framing as OpenSSH implements it.
//!
//! The 12-byte nonce is a 4-byte fixed field followed by an 8-byte big-endian invocation
//! counter, both from the derived IV; the counter is incremented (mod 2^64, the fixed
//! field untouched) after every packet (RFC 5647 §7.1). The 4-byte `packet_length` is
//! additional authenticated data and travels in the clear (§7.3); the rest is encrypted.

use super::{prefix, read_length, well_formed, wipe, LENGTH_LEN};
use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use oxssh_proto::crypto::{CryptoError, Opener, Sealer};

/// Derived IV length: fixed field and invocation counter.
pub(super) const IV_LEN: usize = 12;
/// AES block size, the padding multiple (RFC 5647 §7.2).
pub(super) const BLOCK_LEN: usize = 16;
/// GCM tag length (RFC 5647 §7.3: the full 16 bytes).
const TAG_LEN: usize = 16;

/// Key and nonce state shared by both directions' implementations.
pub(super) struct GcmState {
    key: LessSafeKey,
    fixed: [u8; 4],
    invocation: u64,
}

impl GcmState {
    /// Keys AES-GCM with the first `key_len` bytes of `key` and the first 12 of `iv`.
    pub(super) fn new(
        algorithm: &'static aead::Algorithm,
        key: &[u8],
        iv: &[u8],
    ) -> Result<Self, CryptoError> {
        let key = prefix(key, algorithm.key_len())?;
        let iv: &[u8; IV_LEN] = prefix(iv, IV_LEN)?
            .try_into()
            .map_err(|_| CryptoError::InvalidKey)?;
        let (fixed, invocation) = iv.split_at(4);
        let fixed: [u8; 4] = fixed.try_into().map_err(|_| CryptoError::InvalidKey)?;
        let invocation: [u8; 8] = invocation.try_into().map_err(|_| CryptoError::InvalidKey)?;
        let key = UnboundKey::new(algorithm, key).map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self {
            key: LessSafeKey::new(key),
            fixed,
            invocation: u64::from_be_bytes(invocation),
        })
    }

    /// The nonce for this packet; advances the invocation counter.
    fn next_nonce(&mut self) -> Nonce {
        let mut nonce = [0u8; aead::NONCE_LEN];
        let counter = self.invocation.to_be_bytes();
        for (dst, src) in nonce.iter_mut().zip(self.fixed.iter().chain(&counter)) {
            *dst = *src;
        }
        self.invocation = self.invocation.wrapping_add(1);
        Nonce::assume_unique_for_key(nonce)
    }
}

/// Sealing half of AES-GCM.
pub(super) struct GcmSealer(pub(super) GcmState);

/// Opening half of AES-GCM.
pub(super) struct GcmOpener(pub(super) GcmState);

impl Sealer for GcmSealer {
    fn block_size(&self) -> usize {
        BLOCK_LEN
    }
    fn tag_len(&self) -> usize {
        TAG_LEN
    }
    fn aad_len(&self) -> usize {
        LENGTH_LEN
    }
    fn seal(&mut self, _seq: u32, packet: &mut [u8], tag: &mut [u8]) {
        if !well_formed(packet, LENGTH_LEN, BLOCK_LEN) || tag.len() != TAG_LEN {
            wipe(packet, tag);
            return;
        }
        let nonce = self.0.next_nonce();
        let (length, body) = packet.split_at_mut(LENGTH_LEN);
        let sealed = self
            .0
            .key
            .seal_in_place_scatter(nonce, Aad::from(&*length), body, &[], tag);
        if sealed.is_err() {
            wipe(packet, tag);
        }
    }
}

impl Opener for GcmOpener {
    fn block_size(&self) -> usize {
        BLOCK_LEN
    }
    fn tag_len(&self) -> usize {
        TAG_LEN
    }
    fn aad_len(&self) -> usize {
        LENGTH_LEN
    }
    fn header_len(&self) -> usize {
        LENGTH_LEN
    }
    /// The length is in the clear (authenticated later as AAD).
    fn packet_length(&mut self, _seq: u32, header: &mut [u8]) -> u32 {
        read_length(header)
    }
    fn open(&mut self, _seq: u32, packet: &mut [u8], tag: &[u8]) -> Result<(), CryptoError> {
        if !well_formed(packet, LENGTH_LEN, BLOCK_LEN) || tag.len() != TAG_LEN {
            return Err(CryptoError::BadMac);
        }
        let nonce = self.0.next_nonce();
        let (length, body) = packet.split_at_mut(LENGTH_LEN);
        self.0
            .key
            .open_in_place_separate_tag(nonce, Aad::from(&*length), tag, body)
            .map(|_| ())
            .map_err(|_| CryptoError::BadMac)
    }
}
