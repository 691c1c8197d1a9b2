//! The algorithm traits the protocol core runs on, and the [`CryptoProvider`] registry.
//!
//! The core never implements a primitive. Each algorithm kind is a trait; a provider
//! (by default `oxssh-crypto`, on aws-lc-rs) supplies one implementation per SSH name.
//! Key exchanges follow OpenSSH's shape: the client makes a key pair, the server
//! encapsulates (or answers with its own key pair), the client decapsulates.

mod none;

pub use none::{NoneOpener, NoneSealer};

use oxssh_keys::PublicKey;
use zeroize::Zeroizing;

/// Why a cryptographic operation failed. Carries no secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Compressed data was corrupt or inflated past the limit.
    #[error("decompression failed")]
    Decompression,
    /// A peer's public value (point, KEM ciphertext, DH value) is invalid.
    #[error("invalid public value from peer")]
    InvalidPublicValue,
    /// Key material of the wrong size or form.
    #[error("invalid key material")]
    InvalidKey,
    /// A signature did not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// A packet's MAC or AEAD tag did not verify.
    #[error("message authentication failed")]
    BadMac,
    /// The random generator failed.
    #[error("random generator failure")]
    Random,
    /// The algorithm cannot do what was asked (e.g. sign with a key type it does not hold).
    #[error("unsupported operation: {0}")]
    Unsupported(&'static str),
    /// The group-exchange request or group was unacceptable.
    #[error("unacceptable group-exchange parameters")]
    BadGroup,
}

/// A cryptographically secure random source.
pub trait SecureRandom: Send + Sync {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<(), CryptoError>;
}

/// Hash functions used by key exchanges (exchange hash, key derivation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-1, legacy only (group14-sha1).
    Sha1,
    /// SHA-256
    Sha256,
    /// SHA-384
    Sha384,
    /// SHA-512
    Sha512,
}

impl HashAlg {
    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

/// An incremental hash computation.
pub trait Hash: Send {
    /// Feeds data.
    fn update(&mut self, data: &[u8]);
    /// Returns the digest.
    fn finish(self: Box<Self>) -> Vec<u8>;
}

/// Creates hash computations.
pub trait HashProvider: Send + Sync {
    /// Starts a new computation of `alg`.
    fn start(&self, alg: HashAlg) -> Box<dyn Hash>;
}

/// The shared secret K, already in its wire encoding for the exchange hash and key
/// derivation: an `mpint` for (EC)DH, a `string` for the hybrid KEMs. Zeroized on drop.
pub struct SharedSecret(Zeroizing<Vec<u8>>);

impl SharedSecret {
    /// Wraps an already-encoded secret.
    pub fn from_encoded(encoded: Vec<u8>) -> Self {
        Self(Zeroizing::new(encoded))
    }

    /// Encodes raw big-endian magnitude bytes as an `mpint` (classic DH, ECDH, X25519).
    pub fn from_mpint_bytes(magnitude: &[u8]) -> Self {
        let mut buf = Zeroizing::new(Vec::with_capacity(magnitude.len() + 5));
        oxssh_wire::Writer::new(&mut buf).mpint_unsigned(magnitude);
        Self(buf)
    }

    /// Encodes raw bytes as a `string` (hybrid KEMs hash their secrets into one string).
    pub fn from_string_bytes(bytes: &[u8]) -> Self {
        let mut buf = Zeroizing::new(Vec::with_capacity(bytes.len() + 4));
        oxssh_wire::Writer::new(&mut buf).string(bytes);
        Self(buf)
    }

    /// The encoded form.
    pub fn encoded(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

/// How a key exchange method moves its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KexMethod {
    /// One round trip of `string` public values (ECDH, X25519, hybrid KEMs; RFC 5656 §4).
    Ecdh,
    /// One round trip of `mpint` public values over a fixed group (RFC 4253 §8).
    Dh,
    /// RFC 4419: the server picks the group first, then a `Dh` round over it.
    GroupExchange,
}

/// The client's half of a key exchange in progress: its public value and the secret to finish.
pub trait KexClient: Send {
    /// The value to send: Q_C (string) or e (mpint magnitude).
    fn public(&self) -> &[u8];
    /// Combines the server's public value (or KEM ciphertext) into the shared secret.
    fn finish(self: Box<Self>, server_public: &[u8]) -> Result<SharedSecret, CryptoError>;
}

/// The server's answer to a client's public value.
#[derive(Debug)]
pub struct KexResponse {
    /// Q_S or f (mpint magnitude), or the KEM ciphertext plus the server's share.
    pub server_public: Vec<u8>,
    /// K
    pub secret: SharedSecret,
}

/// A key exchange method.
pub trait KexAlgorithm: Send + Sync {
    /// The SSH name.
    fn name(&self) -> &'static str;
    /// The hash used for the exchange hash and key derivation.
    fn hash(&self) -> HashAlg;
    /// How messages flow.
    fn method(&self) -> KexMethod;
    /// Client: makes an ephemeral key pair (`Ecdh`, `Dh`).
    fn client_start(&self, rng: &dyn SecureRandom) -> Result<Box<dyn KexClient>, CryptoError>;
    /// Server: answers the client's public value (`Ecdh`, `Dh`).
    fn server_respond(
        &self,
        client_public: &[u8],
        rng: &dyn SecureRandom,
    ) -> Result<KexResponse, CryptoError>;
    /// Group exchange, server: picks (p, g) as unsigned magnitudes for the request.
    fn gex_choose_group(&self, _min: u32, _n: u32, _max: u32) -> Result<DhGroup, CryptoError> {
        Err(CryptoError::Unsupported("not a group exchange"))
    }
    /// Group exchange, both sides: a `Dh` method over the chosen group.
    fn gex_with_group(&self, _group: &DhGroup) -> Result<Box<dyn KexAlgorithm>, CryptoError> {
        Err(CryptoError::Unsupported("not a group exchange"))
    }
}

/// A finite-field group (p, g) as unsigned big-endian magnitudes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhGroup {
    /// The safe prime.
    pub p: Vec<u8>,
    /// The generator.
    pub g: Vec<u8>,
}

/// A public-key signature algorithm, by its signature name (`rsa-sha2-256`, `ssh-ed25519`, ...).
pub trait SignatureAlgorithm: Send + Sync {
    /// The signature algorithm name as negotiated and as it appears in the signature blob.
    fn name(&self) -> &'static str;
    /// The key type name this algorithm uses (`ssh-rsa` for all RSA signatures).
    fn key_type(&self) -> &'static str;
    /// Verifies `signature` (the raw bytes inside the signature blob, after its name) over `message`.
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), CryptoError>;
}

/// A private key that can sign (server host keys, later user keys).
pub trait SigningKey: Send + Sync {
    /// The public half.
    fn public_key(&self) -> &PublicKey;
    /// The signature algorithm names this key can produce, preferred first.
    fn signature_algorithms(&self) -> Vec<&'static str>;
    /// Signs `message` with `algorithm`, returning the raw signature (not the blob).
    fn sign(&self, algorithm: &str, message: &[u8]) -> Result<Vec<u8>, CryptoError>;
    /// An OpenSSH certificate for this key (sshd's `HostCertificate`): a server then
    /// also offers the `*-cert-v01@openssh.com` form of each of its algorithms, sends
    /// the certificate as its host key for those, and signs with the plain algorithm.
    fn certificate(&self) -> Option<&oxssh_keys::certificate::Certificate> {
        None
    }
}

/// A MAC algorithm.
pub trait MacAlgorithm: Send + Sync {
    /// The SSH name.
    fn name(&self) -> &'static str;
    /// Key length in bytes.
    fn key_len(&self) -> usize;
    /// Tag length in bytes.
    fn tag_len(&self) -> usize;
    /// Whether this is an encrypt-then-MAC variant (`-etm@openssh.com`).
    fn is_etm(&self) -> bool;
    /// Keys an instance.
    fn key(&self, key: &[u8]) -> Result<Box<dyn Mac>, CryptoError>;
}

/// A keyed MAC over `uint32 sequence || data` (RFC 4253 §6.4).
pub trait Mac: Send {
    /// Tag length in bytes.
    fn tag_len(&self) -> usize;
    /// Writes the tag of `seq || data` into `tag`.
    fn sign(&self, seq: u32, data: &[u8], tag: &mut [u8]);
    /// Checks `tag` in constant time.
    fn verify(&self, seq: u32, data: &[u8], tag: &[u8]) -> Result<(), CryptoError>;
}

/// A cipher, possibly an AEAD that needs no separate MAC.
pub trait CipherAlgorithm: Send + Sync {
    /// The SSH name.
    fn name(&self) -> &'static str;
    /// Key length in bytes.
    fn key_len(&self) -> usize;
    /// IV length in bytes (0 for chacha20-poly1305@openssh.com).
    fn iv_len(&self) -> usize;
    /// Cipher block size for padding (8 for stream-like AEADs, 16 for AES).
    fn block_size(&self) -> usize;
    /// Whether this cipher authenticates packets itself (the negotiated MAC is ignored).
    fn is_aead(&self) -> bool;
    /// Builds the sealing side. `mac` is given for non-AEAD ciphers.
    fn sealer(
        &self,
        key: &[u8],
        iv: &[u8],
        mac: Option<Box<dyn Mac>>,
        mac_is_etm: bool,
    ) -> Result<Box<dyn Sealer>, CryptoError>;
    /// Builds the opening side.
    fn opener(
        &self,
        key: &[u8],
        iv: &[u8],
        mac: Option<Box<dyn Mac>>,
        mac_is_etm: bool,
    ) -> Result<Box<dyn Opener>, CryptoError>;
}

/// Protects outgoing packets in place.
///
/// The framing layer lays out `uint32 packet_length || byte padding_length || payload ||
/// padding` in one buffer and calls [`Sealer::seal`] on it, with room for the tag after it.
pub trait Sealer: Send {
    /// Padding multiple.
    fn block_size(&self) -> usize;
    /// Tag (MAC) length appended after the packet.
    fn tag_len(&self) -> usize;
    /// 4 when `packet_length` is authenticated but not counted for padding (AEAD, EtM),
    /// 0 when it is encrypted with the rest (CTR with encrypt-and-MAC, `none`).
    fn aad_len(&self) -> usize;
    /// Encrypts `packet` (length field included) in place and writes the tag.
    fn seal(&mut self, seq: u32, packet: &mut [u8], tag: &mut [u8]);
}

/// Authenticates and decrypts incoming packets in place.
pub trait Opener: Send {
    /// Padding multiple (the decrypted packet must be a multiple of it).
    fn block_size(&self) -> usize;
    /// Tag (MAC) length following the packet.
    fn tag_len(&self) -> usize;
    /// See [`Sealer::aad_len`].
    fn aad_len(&self) -> usize;
    /// How many leading bytes [`Opener::packet_length`] needs: 4, or one block.
    fn header_len(&self) -> usize;
    /// Reads `packet_length` from the first [`Opener::header_len`] bytes. Ciphers that
    /// encrypt the length may decrypt those bytes in place; [`Opener::open`] accounts for it.
    fn packet_length(&mut self, seq: u32, header: &mut [u8]) -> u32;
    /// Authenticates and decrypts `packet` (length field included) in place, given the tag.
    /// Must be called once after each [`Opener::packet_length`], with the same `seq`.
    fn open(&mut self, seq: u32, packet: &mut [u8], tag: &[u8]) -> Result<(), CryptoError>;
}

/// A compression method (`zlib@openssh.com`): a per-direction stream that lives for the
/// whole connection, applied to every payload once enabled.
pub trait CompressionAlgorithm: Send + Sync {
    /// The SSH name.
    fn name(&self) -> &'static str;
    /// Whether it starts only after user authentication (the `@openssh.com` delayed form).
    fn is_delayed(&self) -> bool;
    /// A compressing stream for outgoing payloads.
    fn compressor(&self) -> Box<dyn Compressor>;
    /// A decompressing stream for incoming payloads.
    fn decompressor(&self) -> Box<dyn Decompressor>;
}

/// Compresses payloads, each flushed so the peer can decode it alone.
pub trait Compressor: Send {
    /// Appends the compressed form of `payload` to `out`.
    fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError>;
}

/// Decompresses payloads.
pub trait Decompressor: Send {
    /// Appends the decompressed form of `payload` to `out`; fails rather than produce
    /// more than `limit` bytes (a compression bomb is a protocol error).
    fn decompress(
        &mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), CryptoError>;
}

/// Everything the core needs from a cryptography library, as preference-ordered lists.
///
/// The lists hold every algorithm the provider implements; which ones are offered is
/// decided by the configuration's name lists.
#[derive(Clone)]
pub struct CryptoProvider {
    /// Key exchange methods.
    pub kex: Vec<&'static dyn KexAlgorithm>,
    /// Signature algorithms for host keys (and later user keys).
    pub signatures: Vec<&'static dyn SignatureAlgorithm>,
    /// Ciphers.
    pub ciphers: Vec<&'static dyn CipherAlgorithm>,
    /// MACs.
    pub macs: Vec<&'static dyn MacAlgorithm>,
    /// Compression methods other than `none`.
    pub compression: Vec<&'static dyn CompressionAlgorithm>,
    /// Hash functions.
    pub hash: &'static dyn HashProvider,
    /// Random source.
    pub random: &'static dyn SecureRandom,
}

impl std::fmt::Debug for CryptoProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CryptoProvider")
            .field(
                "kex",
                &self.kex.iter().map(|a| a.name()).collect::<Vec<_>>(),
            )
            .field(
                "signatures",
                &self.signatures.iter().map(|a| a.name()).collect::<Vec<_>>(),
            )
            .field(
                "ciphers",
                &self.ciphers.iter().map(|a| a.name()).collect::<Vec<_>>(),
            )
            .field(
                "macs",
                &self.macs.iter().map(|a| a.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl CryptoProvider {
    /// The key exchange named `name`.
    pub fn kex(&self, name: &str) -> Option<&'static dyn KexAlgorithm> {
        self.kex.iter().copied().find(|a| a.name() == name)
    }

    /// The signature algorithm named `name`.
    pub fn signature(&self, name: &str) -> Option<&'static dyn SignatureAlgorithm> {
        self.signatures.iter().copied().find(|a| a.name() == name)
    }

    /// The cipher named `name`.
    pub fn cipher(&self, name: &str) -> Option<&'static dyn CipherAlgorithm> {
        self.ciphers.iter().copied().find(|a| a.name() == name)
    }

    /// The MAC named `name`.
    pub fn mac(&self, name: &str) -> Option<&'static dyn MacAlgorithm> {
        self.macs.iter().copied().find(|a| a.name() == name)
    }

    /// The compression method named `name` (`None` for `none` and unknown names).
    pub fn compression(&self, name: &str) -> Option<&'static dyn CompressionAlgorithm> {
        self.compression.iter().copied().find(|a| a.name() == name)
    }

    /// One-shot hash.
    pub fn digest(&self, alg: HashAlg, parts: &[&[u8]]) -> Vec<u8> {
        let mut h = self.hash.start(alg);
        for part in parts {
            h.update(part);
        }
        h.finish()
    }
}
