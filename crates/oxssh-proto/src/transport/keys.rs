//! The key schedule: exchange hash input (RFC 4253 §8, RFC 4419 §3, RFC 5656 §4) and
//! key derivation (RFC 4253 §7.2), and building the packet protectors from them.

use zeroize::Zeroizing;

use crate::crypto::{CryptoProvider, HashAlg, Opener, Sealer, SharedSecret};
use crate::error::{AlgorithmKind, PeerMisbehaved, TransportError};
use crate::transport::negotiate::Negotiated;
use oxssh_wire::Writer;

/// Which side of the connection we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The side that connected.
    Client,
    /// The side that accepted.
    Server,
}

/// The common prefix of every exchange hash: V_C, V_S, I_C, I_S, K_S.
#[derive(Debug)]
pub struct HashPrefix<'a> {
    /// Client identification line, without CR LF.
    pub client_version: &'a str,
    /// Server identification line, without CR LF.
    pub server_version: &'a str,
    /// Client KEXINIT payload.
    pub client_kexinit: &'a [u8],
    /// Server KEXINIT payload.
    pub server_kexinit: &'a [u8],
    /// Server host key blob.
    pub host_key: &'a [u8],
}

/// The method-specific middle of the exchange hash.
#[derive(Debug)]
pub enum HashExchange<'a> {
    /// string Q_C, string Q_S (ECDH, X25519, hybrid KEMs).
    Ecdh {
        /// Q_C
        client: &'a [u8],
        /// Q_S
        server: &'a [u8],
    },
    /// mpint e, mpint f, optionally after the group-exchange parameters.
    Dh {
        /// The request and group, for group exchange.
        group_exchange: Option<GexHashInput<'a>>,
        /// e
        e: &'a [u8],
        /// f
        f: &'a [u8],
    },
}

/// Group-exchange values hashed into H (RFC 4419 §3).
#[derive(Debug)]
pub struct GexHashInput<'a> {
    /// Requested minimum bits.
    pub min: u32,
    /// Requested preferred bits.
    pub n: u32,
    /// Requested maximum bits.
    pub max: u32,
    /// The group's prime.
    pub p: &'a [u8],
    /// The group's generator.
    pub g: &'a [u8],
}

/// Computes the exchange hash H.
pub fn exchange_hash(
    provider: &CryptoProvider,
    alg: HashAlg,
    prefix: &HashPrefix<'_>,
    exchange: &HashExchange<'_>,
    secret: &SharedSecret,
) -> Vec<u8> {
    let mut buf = Zeroizing::new(Vec::with_capacity(4096));
    let mut w = Writer::new(&mut buf);
    w.string(prefix.client_version.as_bytes())
        .string(prefix.server_version.as_bytes())
        .string(prefix.client_kexinit)
        .string(prefix.server_kexinit)
        .string(prefix.host_key);
    match exchange {
        HashExchange::Ecdh { client, server } => {
            w.string(client).string(server);
        }
        HashExchange::Dh {
            group_exchange,
            e,
            f,
        } => {
            if let Some(gex) = group_exchange {
                w.u32(gex.min)
                    .u32(gex.n)
                    .u32(gex.max)
                    .mpint_unsigned(gex.p)
                    .mpint_unsigned(gex.g);
            }
            w.mpint_unsigned(e).mpint_unsigned(f);
        }
    }
    w.raw(secret.encoded());
    provider.digest(alg, &[&buf])
}

/// Derives `len` bytes of key material for `letter` (RFC 4253 §7.2).
pub fn derive_key(
    provider: &CryptoProvider,
    alg: HashAlg,
    secret: &SharedSecret,
    exchange_hash: &[u8],
    session_id: &[u8],
    letter: u8,
    len: usize,
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(provider.digest(
        alg,
        &[secret.encoded(), exchange_hash, &[letter], session_id],
    ));
    while out.len() < len {
        let more = provider.digest(alg, &[secret.encoded(), exchange_hash, &out]);
        out.extend_from_slice(&more);
    }
    out.truncate(len);
    out
}

/// The protectors for both directions after a key exchange, ready to install at NEWKEYS.
pub struct DirectionKeys {
    /// Seals what we send.
    pub sealer: Box<dyn Sealer>,
    /// Opens what we receive.
    pub opener: Box<dyn Opener>,
}

impl std::fmt::Debug for DirectionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirectionKeys(<redacted>)")
    }
}

/// Derives every key and builds the sealer and opener for `side`.
pub fn build_keys(
    provider: &CryptoProvider,
    side: Side,
    negotiated: &Negotiated,
    alg: HashAlg,
    secret: &SharedSecret,
    exchange_hash: &[u8],
    session_id: &[u8],
) -> Result<DirectionKeys, TransportError> {
    let derive = |letter: u8, len: usize| {
        derive_key(
            provider,
            alg,
            secret,
            exchange_hash,
            session_id,
            letter,
            len,
        )
    };
    // Letters per RFC 4253 §7.2: A/B IVs, C/D keys, E/F MAC keys (client-to-server first).
    let c2s = (
        b'A',
        b'C',
        b'E',
        &negotiated.cipher_c2s,
        &negotiated.mac_c2s,
    );
    let s2c = (
        b'B',
        b'D',
        b'F',
        &negotiated.cipher_s2c,
        &negotiated.mac_s2c,
    );
    let (out, inp) = match side {
        Side::Client => (c2s, s2c),
        Side::Server => (s2c, c2s),
    };
    let unknown = |kind| TransportError::Peer(PeerMisbehaved::NoCommonAlgorithm(kind));
    let build = |(iv_letter, key_letter, mac_letter, cipher_name, mac_name): (
        u8,
        u8,
        u8,
        &String,
        &String,
    )| {
        let cipher = provider
            .cipher(cipher_name)
            .ok_or_else(|| unknown(AlgorithmKind::Cipher))?;
        let iv = derive(iv_letter, cipher.iv_len());
        let key = derive(key_letter, cipher.key_len());
        let mac = if cipher.is_aead() {
            None
        } else {
            let mac = provider
                .mac(mac_name)
                .ok_or_else(|| unknown(AlgorithmKind::Mac))?;
            let mac_key = derive(mac_letter, mac.key_len());
            Some((
                mac.key(&mac_key).map_err(TransportError::Crypto)?,
                mac.is_etm(),
            ))
        };
        Ok::<_, TransportError>((cipher, key, iv, mac))
    };
    let (cipher, key, iv, mac) = build(out)?;
    let (etm, mac) = split_mac(mac);
    let sealer = cipher
        .sealer(&key, &iv, mac, etm)
        .map_err(TransportError::Crypto)?;
    let (cipher, key, iv, mac) = build(inp)?;
    let (etm, mac) = split_mac(mac);
    let opener = cipher
        .opener(&key, &iv, mac, etm)
        .map_err(TransportError::Crypto)?;
    Ok(DirectionKeys { sealer, opener })
}

type KeyedMac = Option<(Box<dyn crate::crypto::Mac>, bool)>;

fn split_mac(mac: KeyedMac) -> (bool, Option<Box<dyn crate::crypto::Mac>>) {
    match mac {
        Some((mac, etm)) => (etm, Some(mac)),
        None => (false, None),
    }
}
