//! Elliptic-curve Diffie-Hellman: `curve25519-sha256` (RFC 8731) and
//! `ecdh-sha2-nistp256/384/521` (RFC 5656 §4), plus the X25519 half shared with the
//! hybrid methods.
//!
//! Public values travel as `string`s (Q_C, Q_S); K is the shared x-coordinate (or X25519
//! output) read as an unsigned big-endian integer and encoded as an `mpint`.

use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey};
use oxssh_proto::crypto::{
    CryptoError, HashAlg, KexAlgorithm, KexClient, KexMethod, KexResponse, SecureRandom,
    SharedSecret,
};
use oxssh_wire::names::kex as names;
use zeroize::Zeroizing;

/// Length of an X25519 public value, private scalar and output (RFC 7748 §5).
pub(crate) const X25519_LEN: usize = 32;

/// An X25519 key pair whose private scalar comes from the injected random source.
pub(crate) struct X25519KeyPair {
    private: PrivateKey,
    public: [u8; X25519_LEN],
}

impl X25519KeyPair {
    /// Draws a fresh private scalar from `rng` (RFC 7748 §6.1; aws-lc clamps it).
    pub(crate) fn generate(rng: &dyn SecureRandom) -> Result<Self, CryptoError> {
        let mut scalar = Zeroizing::new([0u8; X25519_LEN]);
        rng.fill(scalar.as_mut())?;
        let private = PrivateKey::from_private_key(&agreement::X25519, scalar.as_ref())
            .map_err(|_| CryptoError::InvalidKey)?;
        let computed = private
            .compute_public_key()
            .map_err(|_| CryptoError::InvalidKey)?;
        let public: [u8; X25519_LEN] = computed
            .as_ref()
            .try_into()
            .map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self { private, public })
    }

    /// The public value to send.
    pub(crate) fn public(&self) -> &[u8; X25519_LEN] {
        &self.public
    }

    /// X25519 with the peer's public value. RFC 8731 §3: the peer value must be exactly
    /// 32 bytes and an all-zero result (a low-order peer point) is refused.
    pub(crate) fn agree(&self, peer: &[u8]) -> Result<Zeroizing<[u8; X25519_LEN]>, CryptoError> {
        if peer.len() != X25519_LEN {
            return Err(CryptoError::InvalidPublicValue);
        }
        let peer = UnparsedPublicKey::new(&agreement::X25519, peer);
        agreement::agree(
            &self.private,
            peer,
            CryptoError::InvalidPublicValue,
            |secret| {
                let mut out = Zeroizing::new([0u8; X25519_LEN]);
                if secret.len() != X25519_LEN {
                    return Err(CryptoError::InvalidPublicValue);
                }
                out.copy_from_slice(secret);
                // Constant-time all-zero check: OR every byte together.
                if out.iter().fold(0u8, |acc, b| acc | b) == 0 {
                    return Err(CryptoError::InvalidPublicValue);
                }
                Ok(out)
            },
        )
    }
}

/// `curve25519-sha256` and its original name `curve25519-sha256@libssh.org` (RFC 8731).
#[derive(Debug)]
pub struct Curve25519 {
    name: &'static str,
}

/// `curve25519-sha256` (RFC 8731 §3).
pub static CURVE25519_SHA256: Curve25519 = Curve25519 {
    name: names::CURVE25519_SHA256,
};

/// `curve25519-sha256@libssh.org`, the same method under libssh's name.
pub static CURVE25519_SHA256_LIBSSH: Curve25519 = Curve25519 {
    name: names::CURVE25519_SHA256_LIBSSH,
};

/// Client state for X25519.
struct Curve25519Client(X25519KeyPair);

impl KexClient for Curve25519Client {
    fn public(&self) -> &[u8] {
        self.0.public()
    }
    fn finish(self: Box<Self>, server_public: &[u8]) -> Result<SharedSecret, CryptoError> {
        let secret = self.0.agree(server_public)?;
        Ok(SharedSecret::from_mpint_bytes(secret.as_ref()))
    }
}

impl KexAlgorithm for Curve25519 {
    fn name(&self) -> &'static str {
        self.name
    }
    fn hash(&self) -> HashAlg {
        HashAlg::Sha256
    }
    fn method(&self) -> KexMethod {
        KexMethod::Ecdh
    }
    fn client_start(&self, rng: &dyn SecureRandom) -> Result<Box<dyn KexClient>, CryptoError> {
        Ok(Box::new(Curve25519Client(X25519KeyPair::generate(rng)?)))
    }
    fn server_respond(
        &self,
        client_public: &[u8],
        rng: &dyn SecureRandom,
    ) -> Result<KexResponse, CryptoError> {
        let pair = X25519KeyPair::generate(rng)?;
        let secret = pair.agree(client_public)?;
        Ok(KexResponse {
            server_public: pair.public().to_vec(),
            secret: SharedSecret::from_mpint_bytes(secret.as_ref()),
        })
    }
}

/// `ecdh-sha2-nistp256/384/521` (RFC 5656 §4, §6.2).
#[derive(Debug)]
pub struct NistEcdh {
    name: &'static str,
    curve: &'static agreement::Algorithm,
    hash: HashAlg,
    /// Uncompressed SEC1 point length: 0x04 || X || Y.
    point_len: usize,
}

/// `ecdh-sha2-nistp256`, SHA-256.
pub static ECDH_SHA2_NISTP256: NistEcdh = NistEcdh {
    name: names::ECDH_SHA2_NISTP256,
    curve: &agreement::ECDH_P256,
    hash: HashAlg::Sha256,
    point_len: 65,
};

/// `ecdh-sha2-nistp384`, SHA-384.
pub static ECDH_SHA2_NISTP384: NistEcdh = NistEcdh {
    name: names::ECDH_SHA2_NISTP384,
    curve: &agreement::ECDH_P384,
    hash: HashAlg::Sha384,
    point_len: 97,
};

/// `ecdh-sha2-nistp521`, SHA-512.
pub static ECDH_SHA2_NISTP521: NistEcdh = NistEcdh {
    name: names::ECDH_SHA2_NISTP521,
    curve: &agreement::ECDH_P521,
    hash: HashAlg::Sha512,
    point_len: 133,
};

/// Client state for NIST ECDH.
struct NistEcdhClient {
    curve: &'static agreement::Algorithm,
    point_len: usize,
    private: PrivateKey,
    public: Vec<u8>,
}

impl NistEcdh {
    /// An ephemeral key pair and its uncompressed public point. aws-lc draws the scalar
    /// from its own DRBG (it offers no way to validate a caller-supplied scalar range).
    fn key_pair(&self) -> Result<(PrivateKey, Vec<u8>), CryptoError> {
        let private = PrivateKey::generate(self.curve).map_err(|_| CryptoError::Random)?;
        let public = private
            .compute_public_key()
            .map_err(|_| CryptoError::InvalidKey)?
            .as_ref()
            .to_vec();
        Ok((private, public))
    }
}

/// ECDH with the peer's point, which must be uncompressed (RFC 5656 §4: "the octet string
/// representation of an elliptic curve point", as OpenSSH sends it) and on the curve
/// (aws-lc validates it). K is the x-coordinate as an `mpint` (RFC 5656 §4).
fn nist_agree(
    curve: &'static agreement::Algorithm,
    point_len: usize,
    private: &PrivateKey,
    peer: &[u8],
) -> Result<SharedSecret, CryptoError> {
    if peer.len() != point_len || peer.first() != Some(&0x04) {
        return Err(CryptoError::InvalidPublicValue);
    }
    let peer = UnparsedPublicKey::new(curve, peer);
    agreement::agree(private, peer, CryptoError::InvalidPublicValue, |x| {
        Ok(SharedSecret::from_mpint_bytes(x))
    })
}

impl KexClient for NistEcdhClient {
    fn public(&self) -> &[u8] {
        &self.public
    }
    fn finish(self: Box<Self>, server_public: &[u8]) -> Result<SharedSecret, CryptoError> {
        nist_agree(self.curve, self.point_len, &self.private, server_public)
    }
}

impl KexAlgorithm for NistEcdh {
    fn name(&self) -> &'static str {
        self.name
    }
    fn hash(&self) -> HashAlg {
        self.hash
    }
    fn method(&self) -> KexMethod {
        KexMethod::Ecdh
    }
    fn client_start(&self, _rng: &dyn SecureRandom) -> Result<Box<dyn KexClient>, CryptoError> {
        let (private, public) = self.key_pair()?;
        Ok(Box::new(NistEcdhClient {
            curve: self.curve,
            point_len: self.point_len,
            private,
            public,
        }))
    }
    fn server_respond(
        &self,
        client_public: &[u8],
        _rng: &dyn SecureRandom,
    ) -> Result<KexResponse, CryptoError> {
        let (private, public) = self.key_pair()?;
        let secret = nist_agree(self.curve, self.point_len, &private, client_public)?;
        Ok(KexResponse {
            server_public: public,
            secret,
        })
    }
}
