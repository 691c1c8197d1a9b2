//! Finite-field Diffie-Hellman (RFC 4253 §8) over the RFC 3526 MODP groups, and
//! Diffie-Hellman group exchange (RFC 4419), with modular exponentiation from
//! `crypto-bigint` (constant time in the secret exponent, Montgomery form).
//!
//! Public values e and f are unsigned big-endian magnitudes without leading zeros (what
//! `Writer::mpint_unsigned` encodes); K = f^x mod p is an `mpint`. A peer value is accepted
//! only if 1 < f < p-1 (RFC 4253 §8) and it has more than one bit set (OpenSSH
//! `dh_pub_is_valid`).

use crate::kex::groups;
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use oxssh_proto::crypto::{
    CryptoError, DhGroup, HashAlg, KexAlgorithm, KexClient, KexMethod, KexResponse, SecureRandom,
    SharedSecret,
};
use oxssh_wire::names::kex as names;
use std::borrow::Cow;
use zeroize::Zeroizing;

/// Smallest modulus a group-exchange client accepts (OpenSSH's `DH_GRP_MIN`, RFC 8270).
pub const GEX_MIN_BITS: u32 = 2048;
/// Largest modulus a group-exchange client accepts (OpenSSH's `DH_GRP_MAX`).
pub const GEX_MAX_BITS: u32 = 8192;

/// A Diffie-Hellman method over one fixed group (`diffie-hellman-group*`), or over the
/// group a group exchange settled on.
#[derive(Debug)]
pub struct FiniteFieldDh {
    name: &'static str,
    hash: HashAlg,
    p: Cow<'static, [u8]>,
    g: Cow<'static, [u8]>,
}

/// `diffie-hellman-group14-sha256` (RFC 8268 §3): 2048-bit group, SHA-256.
pub static DH_GROUP14_SHA256: FiniteFieldDh = FiniteFieldDh {
    name: names::DH_GROUP14_SHA256,
    hash: HashAlg::Sha256,
    p: Cow::Borrowed(&groups::GROUP14_P),
    g: Cow::Borrowed(groups::GENERATOR),
};

/// `diffie-hellman-group16-sha512` (RFC 8268 §3): 4096-bit group, SHA-512.
pub static DH_GROUP16_SHA512: FiniteFieldDh = FiniteFieldDh {
    name: names::DH_GROUP16_SHA512,
    hash: HashAlg::Sha512,
    p: Cow::Borrowed(&groups::GROUP16_P),
    g: Cow::Borrowed(groups::GENERATOR),
};

/// `diffie-hellman-group18-sha512` (RFC 8268 §3): 8192-bit group, SHA-512.
pub static DH_GROUP18_SHA512: FiniteFieldDh = FiniteFieldDh {
    name: names::DH_GROUP18_SHA512,
    hash: HashAlg::Sha512,
    p: Cow::Borrowed(&groups::GROUP18_P),
    g: Cow::Borrowed(groups::GENERATOR),
};

/// `diffie-hellman-group14-sha1` (RFC 4253 §8.2). Legacy: offered only when configured.
pub static DH_GROUP14_SHA1: FiniteFieldDh = FiniteFieldDh {
    name: names::DH_GROUP14_SHA1,
    hash: HashAlg::Sha1,
    p: Cow::Borrowed(&groups::GROUP14_P),
    g: Cow::Borrowed(groups::GENERATOR),
};

/// A group checked and prepared for exponentiation.
struct Group {
    params: BoxedMontyParams,
    p_minus_1: BoxedUint,
    g: BoxedUint,
    precision: u32,
    p_len: usize,
}

/// `bytes` without leading zero bytes.
fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Bit length of a big-endian magnitude.
fn bit_len(magnitude: &[u8]) -> u32 {
    let trimmed = trim(magnitude);
    match (trimmed.first(), u32::try_from(trimmed.len())) {
        (Some(first), Ok(len)) => len * 8 - first.leading_zeros(),
        _ => 0,
    }
}

impl Group {
    /// Checks that `p` is odd and 1 < g < p-1, and precomputes the Montgomery parameters.
    fn new(p: &[u8], g: &[u8]) -> Result<Self, CryptoError> {
        let p = trim(p);
        let bits = bit_len(p);
        if bits < 2 {
            return Err(CryptoError::BadGroup);
        }
        let precision = bits.next_multiple_of(64);
        let modulus = BoxedUint::from_be_slice(p, precision).map_err(|_| CryptoError::BadGroup)?;
        let modulus = Odd::new(modulus)
            .into_option()
            .ok_or(CryptoError::BadGroup)?;
        let p_minus_1 = modulus
            .as_ref()
            .wrapping_sub(BoxedUint::one_with_precision(precision));
        let g = BoxedUint::from_be_slice(trim(g), precision).map_err(|_| CryptoError::BadGroup)?;
        if g <= BoxedUint::one_with_precision(precision) || g >= p_minus_1 {
            return Err(CryptoError::BadGroup);
        }
        Ok(Self {
            params: BoxedMontyParams::new(modulus),
            p_minus_1,
            g,
            precision,
            p_len: p.len(),
        })
    }

    /// base^exponent mod p, using only the low `exponent_bits` of the exponent.
    fn pow(
        &self,
        base: &BoxedUint,
        exponent: &BoxedUint,
        exponent_bits: u32,
    ) -> Zeroizing<BoxedUint> {
        let base = Zeroizing::new(BoxedMontyForm::new(base.clone(), &self.params));
        let power = Zeroizing::new(base.pow_bounded_exp(exponent, exponent_bits));
        Zeroizing::new(power.retrieve())
    }

    /// Parses and validates the peer's public value (RFC 4253 §8: 1 < f < p-1).
    fn peer_value(&self, peer: &[u8]) -> Result<BoxedUint, CryptoError> {
        let peer = trim(peer);
        if peer.len() > self.p_len {
            return Err(CryptoError::InvalidPublicValue);
        }
        // OpenSSH dh_pub_is_valid: a value with a single bit set is refused as well.
        let ones: u32 = peer.iter().map(|b| b.count_ones()).sum();
        if ones < 2 {
            return Err(CryptoError::InvalidPublicValue);
        }
        let value = BoxedUint::from_be_slice(peer, self.precision)
            .map_err(|_| CryptoError::InvalidPublicValue)?;
        if value <= BoxedUint::one_with_precision(self.precision) || value >= self.p_minus_1 {
            return Err(CryptoError::InvalidPublicValue);
        }
        Ok(value)
    }
}

/// An ephemeral exponent x and its public value g^x mod p.
struct KeyPair {
    x: Zeroizing<BoxedUint>,
    bits: u32,
    public: Vec<u8>,
}

impl KeyPair {
    /// Draws x with exactly `bits` bits from `rng` (top bit set, so x > 1 and x < p-1 for
    /// every group we accept).
    fn generate(group: &Group, bits: u32, rng: &dyn SecureRandom) -> Result<Self, CryptoError> {
        let len = usize::try_from(bits.div_ceil(8)).map_err(|_| CryptoError::Random)?;
        let mut bytes = Zeroizing::new(vec![0u8; len]);
        rng.fill(&mut bytes)?;
        if let Some(first) = bytes.first_mut() {
            let top = bits.saturating_sub(1) % 8;
            *first &= u8::MAX >> (7 - top);
            *first |= 1 << top;
        }
        let x = Zeroizing::new(
            BoxedUint::from_be_slice(&bytes, bits.next_multiple_of(64))
                .map_err(|_| CryptoError::Random)?,
        );
        let public = group
            .pow(&group.g, &x, bits)
            .to_be_bytes_trimmed_vartime()
            .to_vec();
        Ok(Self { x, bits, public })
    }

    /// K = peer^x mod p as an `mpint`.
    fn agree(&self, group: &Group, peer: &[u8]) -> Result<SharedSecret, CryptoError> {
        let peer = group.peer_value(peer)?;
        let k = group.pow(&peer, &self.x, self.bits);
        let bytes = Zeroizing::new(k.to_be_bytes());
        Ok(SharedSecret::from_mpint_bytes(&bytes))
    }
}

impl FiniteFieldDh {
    /// Private exponent size: twice the hash output, and at least 512 bits, which is more
    /// than twice the security of every group here (OpenSSH uses twice the cipher's
    /// key size, 512 bits at most).
    fn exponent_bits(&self) -> u32 {
        let hash_bits = u32::try_from(self.hash.output_len() * 8).unwrap_or(512);
        (2 * hash_bits).max(512)
    }

    fn group(&self) -> Result<Group, CryptoError> {
        Group::new(&self.p, &self.g)
    }
}

/// Client state: the group and our exponent.
struct DhClient {
    group: Group,
    pair: KeyPair,
}

impl KexClient for DhClient {
    /// e = g^x mod p, as an unsigned magnitude.
    fn public(&self) -> &[u8] {
        &self.pair.public
    }
    fn finish(self: Box<Self>, server_public: &[u8]) -> Result<SharedSecret, CryptoError> {
        self.pair.agree(&self.group, server_public)
    }
}

impl KexAlgorithm for FiniteFieldDh {
    fn name(&self) -> &'static str {
        self.name
    }
    fn hash(&self) -> HashAlg {
        self.hash
    }
    fn method(&self) -> KexMethod {
        KexMethod::Dh
    }
    fn client_start(&self, rng: &dyn SecureRandom) -> Result<Box<dyn KexClient>, CryptoError> {
        let group = self.group()?;
        let pair = KeyPair::generate(&group, self.exponent_bits(), rng)?;
        Ok(Box::new(DhClient { group, pair }))
    }
    /// Validates e before spending an exponentiation on our own value.
    fn server_respond(
        &self,
        client_public: &[u8],
        rng: &dyn SecureRandom,
    ) -> Result<KexResponse, CryptoError> {
        let group = self.group()?;
        group.peer_value(client_public)?;
        let pair = KeyPair::generate(&group, self.exponent_bits(), rng)?;
        let secret = pair.agree(&group, client_public)?;
        Ok(KexResponse {
            server_public: pair.public,
            secret,
        })
    }
}

/// `diffie-hellman-group-exchange-sha256` (RFC 4419): the server picks a group for the
/// client's (min, n, max) request, then both run [`FiniteFieldDh`] over it.
#[derive(Debug)]
pub struct DhGroupExchange {
    name: &'static str,
    hash: HashAlg,
}

/// `diffie-hellman-group-exchange-sha256` (RFC 4419 §4.2), SHA-256.
pub static DH_GEX_SHA256: DhGroupExchange = DhGroupExchange {
    name: names::DH_GEX_SHA256,
    hash: HashAlg::Sha256,
};

/// The groups a server offers, by size: RFC 3526 groups 14 to 18.
const GEX_POOL: [(u32, &[u8]); 5] = [
    (2048, &groups::GROUP14_P),
    (3072, &groups::GROUP15_P),
    (4096, &groups::GROUP16_P),
    (6144, &groups::GROUP17_P),
    (8192, &groups::GROUP18_P),
];

impl KexAlgorithm for DhGroupExchange {
    fn name(&self) -> &'static str {
        self.name
    }
    fn hash(&self) -> HashAlg {
        self.hash
    }
    fn method(&self) -> KexMethod {
        KexMethod::GroupExchange
    }
    fn client_start(&self, _rng: &dyn SecureRandom) -> Result<Box<dyn KexClient>, CryptoError> {
        Err(CryptoError::Unsupported(
            "group exchange: run the method from gex_with_group",
        ))
    }
    fn server_respond(
        &self,
        _client_public: &[u8],
        _rng: &dyn SecureRandom,
    ) -> Result<KexResponse, CryptoError> {
        Err(CryptoError::Unsupported(
            "group exchange: run the method from gex_with_group",
        ))
    }
    /// RFC 4419 §3: the smallest pool group of at least `n` bits within [`min`, `max`];
    /// failing that the largest within [`min`, `max`]; failing that [`CryptoError::BadGroup`].
    fn gex_choose_group(&self, min: u32, n: u32, max: u32) -> Result<DhGroup, CryptoError> {
        if min > max {
            return Err(CryptoError::BadGroup);
        }
        let fits = |bits: &u32| (min..=max).contains(bits);
        let chosen = GEX_POOL
            .iter()
            .find(|(bits, _)| fits(bits) && *bits >= n)
            .or_else(|| GEX_POOL.iter().rev().find(|(bits, _)| fits(bits)))
            .ok_or(CryptoError::BadGroup)?;
        Ok(DhGroup {
            p: chosen.1.to_vec(),
            g: groups::GENERATOR.to_vec(),
        })
    }
    /// The `Dh` method over `group`, for both sides. The client must not trust the
    /// server's group: p must have between 2048 and 8192 bits (OpenSSH `DH_GRP_MIN`,
    /// `DH_GRP_MAX`) and be odd, and 1 < g < p-1.
    fn gex_with_group(&self, group: &DhGroup) -> Result<Box<dyn KexAlgorithm>, CryptoError> {
        let bits = bit_len(&group.p);
        if !(GEX_MIN_BITS..=GEX_MAX_BITS).contains(&bits) {
            return Err(CryptoError::BadGroup);
        }
        Group::new(&group.p, &group.g)?;
        Ok(Box::new(FiniteFieldDh {
            name: self.name,
            hash: self.hash,
            p: Cow::Owned(trim(&group.p).to_vec()),
            g: Cow::Owned(trim(&group.g).to_vec()),
        }))
    }
}
