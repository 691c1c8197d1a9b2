//! `aes{128,192,256}-ctr` (RFC 4344 §4) composed with an HMAC, in either order:
//!
//! - encrypt-then-MAC (`*-etm@openssh.com`, OpenSSH PROTOCOL §1.5): `packet_length` stays
//!   in the clear, the rest is encrypted, and the MAC covers `seq || length || ciphertext`
//!   and is checked before anything is decrypted.
//! - encrypt-and-MAC (RFC 4253 §6.3, §6.4): the whole packet is encrypted, the MAC covers
//!   `seq || plaintext packet`. [`Opener::packet_length`] has to decrypt the first block
//!   in place to learn the length; [`Opener::open`] decrypts the rest, then checks the MAC.
//!
//! The IV is the initial 128-bit big-endian counter; the keystream continues across
//! packets, so every call handles whole blocks and the counter for each call is computed
//! from the number of blocks used so far.

use super::{prefix, read_length, well_formed, wipe, LENGTH_LEN, UNREADABLE_LENGTH};
use aws_lc_rs::cipher::{self as aes, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;
use oxssh_proto::crypto::{CryptoError, Mac, Opener, Sealer};

/// AES block size: the counter step and the padding multiple.
pub(super) const BLOCK_LEN: usize = 16;

/// An AES-CTR keystream position. CTR decryption is encryption, so one type serves both.
pub(super) struct Counter {
    key: EncryptingKey,
    next: u128,
}

impl Counter {
    /// Keys AES with `key` (exactly the algorithm's key length); the first 16 bytes of
    /// `iv` are the initial counter block.
    pub(super) fn new(
        algorithm: &'static aes::Algorithm,
        key: &[u8],
        iv: &[u8],
    ) -> Result<Self, CryptoError> {
        let iv: [u8; BLOCK_LEN] = prefix(iv, BLOCK_LEN)?
            .try_into()
            .map_err(|_| CryptoError::InvalidKey)?;
        let key = UnboundCipherKey::new(algorithm, key).map_err(|_| CryptoError::InvalidKey)?;
        let key = EncryptingKey::ctr(key).map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self {
            key,
            next: u128::from_be_bytes(iv),
        })
    }

    /// XORs the next `data.len()` bytes of keystream into `data`, which must be a whole
    /// number of blocks.
    fn apply(&mut self, data: &mut [u8]) -> Result<(), CryptoError> {
        if data.len() % BLOCK_LEN != 0 {
            return Err(CryptoError::BadMac);
        }
        if data.is_empty() {
            return Ok(());
        }
        let blocks = u128::try_from(data.len() / BLOCK_LEN).map_err(|_| CryptoError::BadMac)?;
        let context = EncryptionContext::Iv128(FixedLength::from(self.next.to_be_bytes()));
        self.key
            .less_safe_encrypt(data, context)
            .map_err(|_| CryptoError::BadMac)?;
        self.next = self.next.wrapping_add(blocks);
        Ok(())
    }
}

/// Sealing half of AES-CTR with a MAC.
pub(super) struct CtrSealer {
    ctr: Counter,
    mac: Box<dyn Mac>,
    etm: bool,
}

impl CtrSealer {
    pub(super) fn new(ctr: Counter, mac: Box<dyn Mac>, etm: bool) -> Self {
        Self { ctr, mac, etm }
    }

    fn aad(&self) -> usize {
        if self.etm {
            LENGTH_LEN
        } else {
            0
        }
    }

    fn try_seal(&mut self, seq: u32, packet: &mut [u8], tag: &mut [u8]) -> Result<(), CryptoError> {
        if !well_formed(packet, self.aad(), BLOCK_LEN) || tag.len() != self.mac.tag_len() {
            return Err(CryptoError::InvalidKey);
        }
        if self.etm {
            let body = packet.get_mut(LENGTH_LEN..).ok_or(CryptoError::BadMac)?;
            self.ctr.apply(body)?;
            self.mac.sign(seq, packet, tag);
        } else {
            self.mac.sign(seq, packet, tag);
            self.ctr.apply(packet)?;
        }
        Ok(())
    }
}

impl Sealer for CtrSealer {
    fn block_size(&self) -> usize {
        BLOCK_LEN
    }
    fn tag_len(&self) -> usize {
        self.mac.tag_len()
    }
    fn aad_len(&self) -> usize {
        self.aad()
    }
    fn seal(&mut self, seq: u32, packet: &mut [u8], tag: &mut [u8]) {
        if self.try_seal(seq, packet, tag).is_err() {
            wipe(packet, tag);
        }
    }
}

/// Opening half of AES-CTR with a MAC.
pub(super) struct CtrOpener {
    ctr: Counter,
    mac: Box<dyn Mac>,
    etm: bool,
    /// Encrypt-and-MAC only: `packet_length` has decrypted the first block in place.
    first_block_open: bool,
}

impl CtrOpener {
    pub(super) fn new(ctr: Counter, mac: Box<dyn Mac>, etm: bool) -> Self {
        Self {
            ctr,
            mac,
            etm,
            first_block_open: false,
        }
    }

    fn open_etm(&mut self, seq: u32, packet: &mut [u8], tag: &[u8]) -> Result<(), CryptoError> {
        if !well_formed(packet, LENGTH_LEN, BLOCK_LEN) {
            return Err(CryptoError::BadMac);
        }
        self.mac.verify(seq, packet, tag)?;
        let body = packet.get_mut(LENGTH_LEN..).ok_or(CryptoError::BadMac)?;
        self.ctr.apply(body)
    }

    fn open_and_mac(&mut self, seq: u32, packet: &mut [u8], tag: &[u8]) -> Result<(), CryptoError> {
        let first_block_open = std::mem::take(&mut self.first_block_open);
        if !well_formed(packet, 0, BLOCK_LEN) {
            return Err(CryptoError::BadMac);
        }
        let rest = if first_block_open {
            packet.get_mut(BLOCK_LEN..).ok_or(CryptoError::BadMac)?
        } else {
            &mut *packet
        };
        self.ctr.apply(rest)?;
        self.mac.verify(seq, packet, tag)
    }
}

impl Opener for CtrOpener {
    fn block_size(&self) -> usize {
        BLOCK_LEN
    }
    fn tag_len(&self) -> usize {
        self.mac.tag_len()
    }
    fn aad_len(&self) -> usize {
        if self.etm {
            LENGTH_LEN
        } else {
            0
        }
    }
    /// 4 bytes for encrypt-then-MAC, one cipher block for encrypt-and-MAC.
    fn header_len(&self) -> usize {
        if self.etm {
            LENGTH_LEN
        } else {
            BLOCK_LEN
        }
    }
    /// Encrypt-and-MAC: decrypts the first block of `header` in place, once per packet
    /// (a repeated call on the same, already decrypted, header just reads it again).
    fn packet_length(&mut self, _seq: u32, header: &mut [u8]) -> u32 {
        if self.etm {
            return read_length(header);
        }
        let Some(block) = header.get_mut(..BLOCK_LEN) else {
            return UNREADABLE_LENGTH;
        };
        if !self.first_block_open {
            if self.ctr.apply(block).is_err() {
                return UNREADABLE_LENGTH;
            }
            self.first_block_open = true;
        }
        read_length(block)
    }
    fn open(&mut self, seq: u32, packet: &mut [u8], tag: &[u8]) -> Result<(), CryptoError> {
        if self.etm {
            self.open_etm(seq, packet, tag)
        } else {
            self.open_and_mac(seq, packet, tag)
        }
    }
}
