//! The `none` cipher and MAC in force before the first NEWKEYS (RFC 4253 §6.3).

use super::{CryptoError, Opener, Sealer};

/// Sealer for unencrypted packets: block size 8, no tag.
#[derive(Debug, Default)]
pub struct NoneSealer;

impl Sealer for NoneSealer {
    fn block_size(&self) -> usize {
        8
    }
    fn tag_len(&self) -> usize {
        0
    }
    fn aad_len(&self) -> usize {
        0
    }
    fn seal(&mut self, _seq: u32, _packet: &mut [u8], _tag: &mut [u8]) {}
}

/// Opener for unencrypted packets.
#[derive(Debug, Default)]
pub struct NoneOpener;

impl Opener for NoneOpener {
    fn block_size(&self) -> usize {
        8
    }
    fn tag_len(&self) -> usize {
        0
    }
    fn aad_len(&self) -> usize {
        0
    }
    fn header_len(&self) -> usize {
        4
    }
    fn packet_length(&mut self, _seq: u32, header: &mut [u8]) -> u32 {
        let mut len = [0u8; 4];
        for (dst, src) in len.iter_mut().zip(header.iter()) {
            *dst = *src;
        }
        u32::from_be_bytes(len)
    }
    fn open(&mut self, _seq: u32, _packet: &mut [u8], _tag: &[u8]) -> Result<(), CryptoError> {
        Ok(())
    }
}
