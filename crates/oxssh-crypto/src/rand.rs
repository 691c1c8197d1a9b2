//! The system random source: aws-lc's DRBG, seeded from the operating system.

use oxssh_proto::crypto::{CryptoError, SecureRandom};

/// [`SecureRandom`] over `aws_lc_rs::rand`, the only random source the provider uses
/// outside tests (aws-lc's CTR-DRBG, reseeded from the OS).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRandom;

/// The provider's random source.
pub static SYSTEM_RANDOM: SystemRandom = SystemRandom;

impl SecureRandom for SystemRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), CryptoError> {
        aws_lc_rs::rand::fill(dest).map_err(|_| CryptoError::Random)
    }
}

/// aws-lc's signing calls take a `rand::SecureRandom` they ignore (they draw from their own
/// DRBG); this is the value handed to them.
pub(crate) fn aws_rng() -> aws_lc_rs::rand::SystemRandom {
    aws_lc_rs::rand::SystemRandom::new()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fills_whole_buffer_with_varying_bytes() {
        let mut a = [0u8; 64];
        let mut b = [0u8; 64];
        SYSTEM_RANDOM.fill(&mut a).unwrap();
        SYSTEM_RANDOM.fill(&mut b).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 64]);
    }
}
