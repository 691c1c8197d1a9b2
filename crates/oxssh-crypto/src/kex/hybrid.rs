//! Post-quantum hybrid key exchanges: a KEM and X25519 run side by side, their secrets
//! hashed together.
//!
//! - `mlkem768x25519-sha256` (draft-ietf-sshm-mlkem-hybrid-kex §2, OpenSSH
//!   `kexmlkem768x25519.c`): ML-KEM-768 (FIPS 203) on aws-lc-rs.
//! - `sntrup761x25519-sha512` and `sntrup761x25519-sha512@openssh.com`
//!   (draft-ietf-sshm-ntruprime-ssh, OpenSSH `kexsntrup761x25519.c`): Streamlined NTRU
//!   Prime 761 on the `sntrup761` crate.
//!
//! The client sends `KEM public key || X25519 public`, the server answers
//! `KEM ciphertext || X25519 public`, and K = HASH(kem_secret || x25519_secret) is encoded
//! as a `string` (not an `mpint`). Both shares have fixed sizes, checked exactly.

use crate::kex::ecdh::{X25519KeyPair, X25519_LEN};
use aws_lc_rs::digest;
use aws_lc_rs::kem::{self, Ciphertext, DecapsulationKey, EncapsulationKey};
use oxssh_proto::crypto::{
    CryptoError, HashAlg, KexAlgorithm, KexClient, KexMethod, KexResponse, SecureRandom,
    SharedSecret,
};
use oxssh_wire::names::kex as names;
use zeroize::Zeroizing;

/// ML-KEM-768 encapsulation key length (FIPS 203 §8, table 3).
pub const MLKEM768_PUBLIC_LEN: usize = 1184;
/// ML-KEM-768 ciphertext length.
pub const MLKEM768_CIPHERTEXT_LEN: usize = 1088;
/// sntrup761 public key length.
pub const SNTRUP761_PUBLIC_LEN: usize = sntrup761::PUBLIC_KEY_SIZE;
/// sntrup761 ciphertext length.
pub const SNTRUP761_CIPHERTEXT_LEN: usize = sntrup761::CIPHERTEXT_SIZE;

/// K = HASH(kem_secret || ecdh_secret) as a `string`.
fn combine(
    hash: &'static digest::Algorithm,
    kem_secret: &[u8],
    ecdh_secret: &[u8],
) -> SharedSecret {
    let mut ctx = digest::Context::new(hash);
    ctx.update(kem_secret);
    ctx.update(ecdh_secret);
    SharedSecret::from_string_bytes(ctx.finish().as_ref())
}

/// Splits a peer share into its KEM part (exactly `kem_len` bytes) and X25519 part
/// (exactly 32 bytes).
fn split_share(share: &[u8], kem_len: usize) -> Result<(&[u8], &[u8]), CryptoError> {
    if share.len() != kem_len + X25519_LEN {
        return Err(CryptoError::InvalidPublicValue);
    }
    share
        .split_at_checked(kem_len)
        .ok_or(CryptoError::InvalidPublicValue)
}

/// Concatenates the KEM part and our X25519 public value into the share we send.
fn join_share(kem_part: &[u8], x25519: &X25519KeyPair) -> Vec<u8> {
    let mut share = Vec::with_capacity(kem_part.len() + X25519_LEN);
    share.extend_from_slice(kem_part);
    share.extend_from_slice(x25519.public());
    share
}

/// `mlkem768x25519-sha256`.
#[derive(Debug)]
pub struct MlKem768X25519;

/// `mlkem768x25519-sha256`: ML-KEM-768 + X25519, SHA-256.
pub static MLKEM768X25519_SHA256: MlKem768X25519 = MlKem768X25519;

/// Client state: the ML-KEM decapsulation key and X25519 key pair.
struct MlKemClient {
    decapsulation: DecapsulationKey,
    x25519: X25519KeyPair,
    public: Vec<u8>,
}

impl KexClient for MlKemClient {
    fn public(&self) -> &[u8] {
        &self.public
    }
    fn finish(self: Box<Self>, server_public: &[u8]) -> Result<SharedSecret, CryptoError> {
        let (ciphertext, x25519_public) = split_share(server_public, MLKEM768_CIPHERTEXT_LEN)?;
        // ML-KEM decapsulation never fails on a well-sized ciphertext (implicit rejection
        // yields an unrelated secret, so a forged ciphertext only breaks the exchange hash).
        let kem_secret = self
            .decapsulation
            .decapsulate(Ciphertext::from(ciphertext))
            .map_err(|_| CryptoError::InvalidPublicValue)?;
        let ecdh_secret = self.x25519.agree(x25519_public)?;
        Ok(combine(
            &digest::SHA256,
            kem_secret.as_ref(),
            ecdh_secret.as_ref(),
        ))
    }
}

impl KexAlgorithm for MlKem768X25519 {
    fn name(&self) -> &'static str {
        names::MLKEM768X25519_SHA256
    }
    fn hash(&self) -> HashAlg {
        HashAlg::Sha256
    }
    fn method(&self) -> KexMethod {
        KexMethod::Ecdh
    }
    /// The ML-KEM key pair comes from aws-lc's DRBG (its API takes no seed); the X25519
    /// scalar from `rng`.
    fn client_start(&self, rng: &dyn SecureRandom) -> Result<Box<dyn KexClient>, CryptoError> {
        let decapsulation =
            DecapsulationKey::generate(&kem::ML_KEM_768).map_err(|_| CryptoError::Random)?;
        let encapsulation = decapsulation
            .encapsulation_key()
            .and_then(|key| key.key_bytes())
            .map_err(|_| CryptoError::InvalidKey)?;
        let x25519 = X25519KeyPair::generate(rng)?;
        let public = join_share(encapsulation.as_ref(), &x25519);
        Ok(Box::new(MlKemClient {
            decapsulation,
            x25519,
            public,
        }))
    }
    /// Encapsulates to the client's key (aws-lc checks it per FIPS 203 §7.2) and answers
    /// `ciphertext || X25519 public`.
    fn server_respond(
        &self,
        client_public: &[u8],
        rng: &dyn SecureRandom,
    ) -> Result<KexResponse, CryptoError> {
        let (encapsulation, x25519_public) = split_share(client_public, MLKEM768_PUBLIC_LEN)?;
        let encapsulation = EncapsulationKey::new(&kem::ML_KEM_768, encapsulation)
            .map_err(|_| CryptoError::InvalidPublicValue)?;
        let (ciphertext, kem_secret) = encapsulation
            .encapsulate()
            .map_err(|_| CryptoError::InvalidPublicValue)?;
        let x25519 = X25519KeyPair::generate(rng)?;
        let ecdh_secret = x25519.agree(x25519_public)?;
        Ok(KexResponse {
            server_public: join_share(ciphertext.as_ref(), &x25519),
            secret: combine(&digest::SHA256, kem_secret.as_ref(), ecdh_secret.as_ref()),
        })
    }
}

/// `sntrup761x25519-sha512` under either of its names.
#[derive(Debug)]
pub struct Sntrup761X25519 {
    name: &'static str,
}

/// `sntrup761x25519-sha512`: sntrup761 + X25519, SHA-512 (IANA name).
pub static SNTRUP761X25519_SHA512: Sntrup761X25519 = Sntrup761X25519 {
    name: names::SNTRUP761X25519_SHA512,
};

/// `sntrup761x25519-sha512@openssh.com`, OpenSSH's original name for the same method.
pub static SNTRUP761X25519_SHA512_OPENSSH: Sntrup761X25519 = Sntrup761X25519 {
    name: names::SNTRUP761X25519_SHA512_OPENSSH,
};

/// Client state: the sntrup761 secret key (zeroized on drop by the crate) and X25519 pair.
struct SntrupClient {
    decapsulation: sntrup761::DecapsulationKey,
    x25519: X25519KeyPair,
    public: Vec<u8>,
}

/// 32 bytes from `rng`, the seed the `sntrup761` crate expands with ChaCha20.
fn seed(rng: &dyn SecureRandom) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    rng.fill(seed.as_mut())?;
    Ok(seed)
}

impl KexClient for SntrupClient {
    fn public(&self) -> &[u8] {
        &self.public
    }
    fn finish(self: Box<Self>, server_public: &[u8]) -> Result<SharedSecret, CryptoError> {
        let (ciphertext, x25519_public) = split_share(server_public, SNTRUP761_CIPHERTEXT_LEN)?;
        let ciphertext = sntrup761::Ciphertext::try_from(ciphertext)
            .map_err(|_| CryptoError::InvalidPublicValue)?;
        // Implicit rejection: a bad ciphertext decapsulates to an unrelated secret.
        let kem_secret = self.decapsulation.decapsulate(&ciphertext);
        let ecdh_secret = self.x25519.agree(x25519_public)?;
        Ok(combine(
            &digest::SHA512,
            kem_secret.as_ref(),
            ecdh_secret.as_ref(),
        ))
    }
}

impl KexAlgorithm for Sntrup761X25519 {
    fn name(&self) -> &'static str {
        self.name
    }
    fn hash(&self) -> HashAlg {
        HashAlg::Sha512
    }
    fn method(&self) -> KexMethod {
        KexMethod::Ecdh
    }
    /// Both key pairs come from `rng` (sntrup761 through a 32-byte seed).
    fn client_start(&self, rng: &dyn SecureRandom) -> Result<Box<dyn KexClient>, CryptoError> {
        let (encapsulation, decapsulation) = sntrup761::generate_key_from_seed(*seed(rng)?);
        let x25519 = X25519KeyPair::generate(rng)?;
        let public = join_share(encapsulation.as_ref(), &x25519);
        Ok(Box::new(SntrupClient {
            decapsulation,
            x25519,
            public,
        }))
    }
    fn server_respond(
        &self,
        client_public: &[u8],
        rng: &dyn SecureRandom,
    ) -> Result<KexResponse, CryptoError> {
        let (encapsulation, x25519_public) = split_share(client_public, SNTRUP761_PUBLIC_LEN)?;
        let encapsulation = sntrup761::EncapsulationKey::try_from(encapsulation)
            .map_err(|_| CryptoError::InvalidPublicValue)?;
        let (ciphertext, kem_secret) = encapsulation.encapsulate_deterministic(*seed(rng)?);
        let x25519 = X25519KeyPair::generate(rng)?;
        let ecdh_secret = x25519.agree(x25519_public)?;
        Ok(KexResponse {
            server_public: join_share(ciphertext.as_ref(), &x25519),
            secret: combine(&digest::SHA512, kem_secret.as_ref(), ecdh_secret.as_ref()),
        })
    }
}
