//! `chacha20-poly1305@openssh.com` (OpenSSH PROTOCOL.chacha20poly1305), on aws-lc-rs's
//! `aead::chacha20_poly1305_openssh`.
//!
//! The 64-byte key splits into K_2 (first half: payload and Poly1305 key) and K_1 (second
//! half: the length field). The nonce is the packet sequence number. The length is
//! encrypted, so [`Opener::packet_length`] decrypts it from a copy: the buffer stays
//! ciphertext until [`Opener::open`] has checked the tag over all of it.

use super::{prefix, well_formed, wipe, LENGTH_LEN, UNREADABLE_LENGTH};
use aws_lc_rs::aead::chacha20_poly1305_openssh::{self as openssh, OpeningKey, SealingKey};
use oxssh_proto::crypto::{CryptoError, Opener, Sealer};
use zeroize::Zeroizing;

/// Key length: K_2 || K_1.
pub(super) const KEY_LEN: usize = openssh::KEY_LEN;
/// Padding multiple (OpenSSH uses 8 for this stream cipher).
pub(super) const BLOCK_LEN: usize = 8;
/// Poly1305 tag length.
const TAG_LEN: usize = openssh::TAG_LEN;

/// The first 64 bytes of `key` as the array aws-lc wants, wiped after use.
fn key_array(key: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    out.copy_from_slice(prefix(key, KEY_LEN)?);
    Ok(out)
}

/// Sealing half.
pub(super) struct ChaChaSealer {
    key: SealingKey,
}

impl ChaChaSealer {
    pub(super) fn new(key: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self {
            key: SealingKey::new(&*key_array(key)?),
        })
    }
}

/// Opening half.
pub(super) struct ChaChaOpener {
    key: OpeningKey,
}

impl ChaChaOpener {
    pub(super) fn new(key: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self {
            key: OpeningKey::new(&*key_array(key)?),
        })
    }

    /// The plaintext length field of `packet` (whose first four bytes are ciphertext).
    fn decrypt_length(&self, seq: u32, packet: &[u8]) -> Option<[u8; LENGTH_LEN]> {
        let encrypted = packet.first_chunk::<LENGTH_LEN>()?;
        Some(self.key.decrypt_packet_length(seq, *encrypted))
    }
}

impl Sealer for ChaChaSealer {
    fn block_size(&self) -> usize {
        BLOCK_LEN
    }
    fn tag_len(&self) -> usize {
        TAG_LEN
    }
    fn aad_len(&self) -> usize {
        LENGTH_LEN
    }
    fn seal(&mut self, seq: u32, packet: &mut [u8], tag: &mut [u8]) {
        if !well_formed(packet, LENGTH_LEN, BLOCK_LEN) {
            wipe(packet, tag);
            return;
        }
        match <&mut [u8; TAG_LEN]>::try_from(&mut *tag) {
            Ok(tag) => self.key.seal_in_place(seq, packet, tag),
            Err(_) => wipe(packet, tag),
        }
    }
}

impl Opener for ChaChaOpener {
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
    /// Decrypts the length with K_1 from a copy; `header` is left as received.
    fn packet_length(&mut self, seq: u32, header: &mut [u8]) -> u32 {
        match self.decrypt_length(seq, header) {
            Some(length) => u32::from_be_bytes(length),
            None => UNREADABLE_LENGTH,
        }
    }
    /// Checks the Poly1305 tag over the encrypted length and payload, then decrypts both
    /// in place.
    fn open(&mut self, seq: u32, packet: &mut [u8], tag: &[u8]) -> Result<(), CryptoError> {
        if !well_formed(packet, LENGTH_LEN, BLOCK_LEN) {
            return Err(CryptoError::BadMac);
        }
        let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| CryptoError::BadMac)?;
        let length = self
            .decrypt_length(seq, packet)
            .ok_or(CryptoError::BadMac)?;
        self.key
            .open_in_place(seq, packet, tag)
            .map_err(|_| CryptoError::BadMac)?;
        for (dst, src) in packet.iter_mut().zip(length) {
            *dst = src;
        }
        Ok(())
    }
}
