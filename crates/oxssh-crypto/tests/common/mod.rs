//! Helpers shared by the integration tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use oxssh_proto::crypto::{CryptoError, SecureRandom};
use std::sync::Mutex;

/// Decodes hex, ignoring whitespace.
pub fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Encodes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A "random" source that hands out the given bytes in order, then fails: it lets a
/// test fix the private values a key exchange draws.
pub struct ScriptedRng(Mutex<Vec<u8>>);

impl ScriptedRng {
    pub fn new(bytes: &[u8]) -> Self {
        Self(Mutex::new(bytes.to_vec()))
    }
}

impl SecureRandom for ScriptedRng {
    fn fill(&self, dest: &mut [u8]) -> Result<(), CryptoError> {
        let mut left = self.0.lock().unwrap();
        if left.len() < dest.len() {
            return Err(CryptoError::Random);
        }
        let rest = left.split_off(dest.len());
        dest.copy_from_slice(&left);
        *left = rest;
        Ok(())
    }
}

/// A deterministic, non-cryptographic byte stream (xorshift) for reproducible tests.
pub struct TestRng(Mutex<u64>);

impl TestRng {
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(seed | 1))
    }
}

impl SecureRandom for TestRng {
    fn fill(&self, dest: &mut [u8]) -> Result<(), CryptoError> {
        let mut state = self.0.lock().unwrap();
        for byte in dest {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            *byte = (*state >> 24) as u8;
        }
        Ok(())
    }
}
