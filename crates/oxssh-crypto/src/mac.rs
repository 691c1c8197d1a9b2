//! HMAC message authentication codes (RFC 4253 §6.4, RFC 6668, OpenSSH's `-etm` variants).
//!
//! Every MAC here is computed over `uint32 sequence_number || data`. Whether `data` is the
//! plaintext packet (encrypt-and-MAC) or the length and ciphertext (encrypt-then-MAC) is
//! the cipher's business (see `cipher::ctr`); the MAC only reports which kind it is.

use aws_lc_rs::{constant_time, digest, hmac};
use oxssh_proto::crypto::{CryptoError, Mac, MacAlgorithm};
use oxssh_wire::names::mac as names;

/// An HMAC-based [`MacAlgorithm`].
#[derive(Debug)]
pub struct Hmac {
    name: &'static str,
    algorithm: hmac::Algorithm,
    etm: bool,
}

/// `hmac-sha2-256-etm@openssh.com`: HMAC-SHA-256 over the encrypted packet.
pub static HMAC_SHA2_256_ETM: Hmac = Hmac {
    name: names::HMAC_SHA2_256_ETM,
    algorithm: hmac::HMAC_SHA256,
    etm: true,
};

/// `hmac-sha2-512-etm@openssh.com`: HMAC-SHA-512 over the encrypted packet.
pub static HMAC_SHA2_512_ETM: Hmac = Hmac {
    name: names::HMAC_SHA2_512_ETM,
    algorithm: hmac::HMAC_SHA512,
    etm: true,
};

/// `hmac-sha2-256` (RFC 6668 §2): HMAC-SHA-256 over the plaintext packet.
pub static HMAC_SHA2_256: Hmac = Hmac {
    name: names::HMAC_SHA2_256,
    algorithm: hmac::HMAC_SHA256,
    etm: false,
};

/// `hmac-sha2-512` (RFC 6668 §2): HMAC-SHA-512 over the plaintext packet.
pub static HMAC_SHA2_512: Hmac = Hmac {
    name: names::HMAC_SHA2_512,
    algorithm: hmac::HMAC_SHA512,
    etm: false,
};

/// `hmac-sha1` (RFC 4253 §6.4). Legacy: offered only when configured.
pub static HMAC_SHA1: Hmac = Hmac {
    name: names::HMAC_SHA1,
    algorithm: hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
    etm: false,
};

/// `hmac-sha1-etm@openssh.com`. Legacy: offered only when configured.
pub static HMAC_SHA1_ETM: Hmac = Hmac {
    name: names::HMAC_SHA1_ETM,
    algorithm: hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
    etm: true,
};

impl MacAlgorithm for Hmac {
    fn name(&self) -> &'static str {
        self.name
    }

    /// The key is as long as the digest output (RFC 4253 §6.4, RFC 6668 §2).
    fn key_len(&self) -> usize {
        self.algorithm.digest_algorithm().output_len()
    }

    /// Tags are never truncated.
    fn tag_len(&self) -> usize {
        self.algorithm.digest_algorithm().output_len()
    }

    fn is_etm(&self) -> bool {
        self.etm
    }

    /// Keys an instance with the first [`MacAlgorithm::key_len`] bytes of `key`, as
    /// OpenSSH does; a shorter key is refused.
    fn key(&self, key: &[u8]) -> Result<Box<dyn Mac>, CryptoError> {
        let key = key.get(..self.key_len()).ok_or(CryptoError::InvalidKey)?;
        Ok(Box::new(HmacKey {
            key: hmac::Key::new(self.algorithm, key),
            tag_len: self.tag_len(),
        }))
    }
}

/// A keyed HMAC. aws-lc holds the padded key state; cloning it per packet copies a
/// fixed-size context and allocates nothing.
struct HmacKey {
    key: hmac::Key,
    tag_len: usize,
}

impl HmacKey {
    /// HMAC(key, uint32 seq || data), into a stack buffer.
    fn compute(&self, seq: u32, data: &[u8]) -> ([u8; digest::MAX_OUTPUT_LEN], usize) {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(&seq.to_be_bytes());
        ctx.update(data);
        let tag = ctx.sign();
        let mut out = [0u8; digest::MAX_OUTPUT_LEN];
        let len = tag.as_ref().len().min(out.len());
        for (dst, src) in out.iter_mut().zip(tag.as_ref()) {
            *dst = *src;
        }
        (out, len)
    }
}

impl Mac for HmacKey {
    fn tag_len(&self) -> usize {
        self.tag_len
    }

    /// Writes the tag into `tag`; a `tag` of the wrong length receives as many bytes
    /// as fit (the framing layer always passes [`Mac::tag_len`] bytes).
    fn sign(&self, seq: u32, data: &[u8], tag: &mut [u8]) {
        let (computed, len) = self.compute(seq, data);
        for (dst, src) in tag.iter_mut().zip(computed.iter().take(len)) {
            *dst = *src;
        }
    }

    /// Compares in constant time; a tag of the wrong length fails.
    fn verify(&self, seq: u32, data: &[u8], tag: &[u8]) -> Result<(), CryptoError> {
        let (computed, len) = self.compute(seq, data);
        let computed = computed.get(..len).ok_or(CryptoError::BadMac)?;
        constant_time::verify_slices_are_equal(computed, tag).map_err(|_| CryptoError::BadMac)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 4231 test cases 1 and 2. Our MACs prefix a 4-byte sequence number, so the
    /// first four message bytes are passed as `seq`.
    #[test]
    fn rfc4231_vectors_through_seq_prefix() {
        let case1_key = [0x0bu8; 20];
        let case1_msg = b"Hi There";
        let case2_key = b"Jefe";
        let case2_msg = b"what do ya want for nothing?";
        let cases: [(&Hmac, &[u8], &[u8], &str); 4] = [
            (
                &HMAC_SHA2_256,
                &case1_key,
                case1_msg,
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                &HMAC_SHA2_512,
                &case1_key,
                case1_msg,
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
                 daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
            ),
            (
                &HMAC_SHA2_256_ETM,
                case2_key,
                case2_msg,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &HMAC_SHA2_512_ETM,
                case2_key,
                case2_msg,
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
        ];
        for (alg, key, msg, want) in cases {
            // RFC 4231 keys are shorter than key_len: build the key directly.
            let mac = HmacKey {
                key: hmac::Key::new(alg.algorithm, key),
                tag_len: alg.tag_len(),
            };
            let seq = u32::from_be_bytes(msg[..4].try_into().unwrap());
            let mut tag = vec![0u8; mac.tag_len()];
            mac.sign(seq, &msg[4..], &mut tag);
            assert_eq!(tag, unhex(want), "{}", alg.name());
            mac.verify(seq, &msg[4..], &tag).unwrap();
        }
    }

    #[test]
    fn verify_rejects_wrong_tag_seq_data_and_length() {
        for alg in [
            &HMAC_SHA2_256,
            &HMAC_SHA2_512,
            &HMAC_SHA2_256_ETM,
            &HMAC_SHA2_512_ETM,
            &HMAC_SHA1,
            &HMAC_SHA1_ETM,
        ] {
            let mac = alg.key(&vec![7u8; alg.key_len()]).unwrap();
            let mut tag = vec![0u8; mac.tag_len()];
            mac.sign(0xffff_ffff, b"packet", &mut tag);
            mac.verify(0xffff_ffff, b"packet", &tag).unwrap();
            assert_eq!(mac.verify(0, b"packet", &tag), Err(CryptoError::BadMac));
            assert_eq!(
                mac.verify(0xffff_ffff, b"packey", &tag),
                Err(CryptoError::BadMac)
            );
            assert_eq!(
                mac.verify(0xffff_ffff, b"packet", &tag[1..]),
                Err(CryptoError::BadMac)
            );
            assert_eq!(
                mac.verify(0xffff_ffff, b"packet", &[]),
                Err(CryptoError::BadMac)
            );
            tag[0] ^= 1;
            assert_eq!(
                mac.verify(0xffff_ffff, b"packet", &tag),
                Err(CryptoError::BadMac)
            );
        }
    }

    #[test]
    fn key_uses_prefix_and_refuses_short_keys() {
        assert_eq!(HMAC_SHA2_256.key_len(), 32);
        assert_eq!(HMAC_SHA2_512.key_len(), 64);
        assert_eq!(HMAC_SHA1.key_len(), 20);
        assert!(HMAC_SHA2_256.key(&[1u8; 31]).is_err());
        let long = HMAC_SHA2_256.key(&[1u8; 64]).unwrap();
        let exact = HMAC_SHA2_256.key(&[1u8; 32]).unwrap();
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        long.sign(1, b"x", &mut a);
        exact.sign(1, b"x", &mut b);
        assert_eq!(a, b);
        // A short output buffer gets a prefix, never a panic.
        let mut short = [0u8; 3];
        exact.sign(1, b"x", &mut short);
        assert_eq!(short, a[..3]);
    }
}
