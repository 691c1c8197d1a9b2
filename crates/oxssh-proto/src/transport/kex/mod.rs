//! The key exchange (RFC 4253 §7-§8, RFC 4419, RFC 5656 §4) for both roles: KEXINIT,
//! the method's round trip, host-key proof, NEWKEYS, strict kex and EXT_INFO.

use std::time::Instant;

use oxssh_keys::certificate::Certificate;
use oxssh_keys::PublicKey;
use oxssh_wire::msg::num;
use oxssh_wire::names::{ext, kex as kex_names};
use oxssh_wire::transport::{self as msgs, Message};
use oxssh_wire::{NameList, Reader, Writer};

use super::keys::{
    build_keys, exchange_hash, DirectionKeys, GexHashInput, HashExchange, HashPrefix, Side,
};
use super::negotiate::{guess_was_wrong, negotiate, Negotiated};
use super::{Event, Role, Transport};
use crate::crypto::{DhGroup, KexAlgorithm, KexClient, KexMethod, Opener, SharedSecret};
use crate::error::{PeerMisbehaved, TransportError};

mod client_side;
mod server_side;

/// Whether `number` belongs to the key exchange (KEXINIT, NEWKEYS, method messages).
pub(super) fn is_kex_message(number: u8) -> bool {
    matches!(number, num::KEXINIT | num::NEWKEYS | 30..=49)
}

/// Whether a key exchange is running.
pub(super) enum KexState {
    /// No exchange running; the last one finished at `since`.
    Idle { since: Instant },
    /// An exchange is running.
    Running(Box<KexRun>),
}

/// One key exchange in progress.
pub(super) struct KexRun {
    pub started: Instant,
    our_kexinit: Vec<u8>,
    peer_kexinit: Option<Vec<u8>>,
    negotiated: Option<Negotiated>,
    ignore_guessed_packet: bool,
    step: KexStep,
}

/// What the exchange waits for next. Each state holds what is valid at that point.
// States are named after the message they expect (house style), hence the common prefix.
#[allow(clippy::enum_variant_names)]
enum KexStep {
    /// Ours is sent; waiting for the peer's KEXINIT.
    ExpectKexInit,
    /// Client: waiting for ECDH/KEM or DH reply (or GEX_REPLY).
    ExpectReply {
        alg: Box<dyn KexAlgorithmHandle>,
        client: Box<dyn KexClient>,
        gex: Option<GexParams>,
    },
    /// Client: waiting for GEX_GROUP.
    ExpectGexGroup { request: msgs::KexDhGexRequest },
    /// Server: waiting for the client's ECDH/KEM or DH init.
    ExpectInit,
    /// Server: waiting for GEX_REQUEST.
    ExpectGexRequest,
    /// Server: waiting for GEX_INIT over the group we chose.
    ExpectGexInit {
        alg: Box<dyn KexAlgorithm>,
        gex: GexParams,
    },
    /// Client: the host key verified; the caller must accept it before NEWKEYS.
    ExpectHostKeyDecision { keys: DirectionKeys },
    /// Our NEWKEYS is sent; waiting for the peer's.
    ExpectNewKeys { opener: Box<dyn Opener> },
}

/// The group-exchange values hashed into H.
#[derive(Clone)]
struct GexParams {
    request: msgs::KexDhGexRequest,
    group: DhGroup,
}

/// A kex algorithm either from the registry or built for a negotiated group.
trait KexAlgorithmHandle: Send {
    fn get(&self) -> &dyn KexAlgorithm;
}

impl KexAlgorithmHandle for &'static dyn KexAlgorithm {
    fn get(&self) -> &dyn KexAlgorithm {
        *self
    }
}

impl KexAlgorithmHandle for Box<dyn KexAlgorithm> {
    fn get(&self) -> &dyn KexAlgorithm {
        self.as_ref()
    }
}

impl KexState {
    pub(super) fn is_running(&self) -> bool {
        matches!(self, Self::Running(_))
    }

    /// Our NEWKEYS is not sent yet, so upper-layer messages must wait.
    pub(super) fn blocks_sending(&self) -> bool {
        match self {
            Self::Idle { .. } => false,
            Self::Running(run) => !matches!(run.step, KexStep::ExpectNewKeys { .. }),
        }
    }

    /// The peer's KEXINIT arrived: only kex messages may follow until its NEWKEYS.
    pub(super) fn peer_kexinit_received(&self) -> bool {
        matches!(self, Self::Running(run) if run.peer_kexinit.is_some())
    }

    pub(super) fn awaits_host_key_decision(&self) -> bool {
        matches!(self, Self::Running(run) if matches!(run.step, KexStep::ExpectHostKeyDecision { .. }))
    }
}

impl Transport {
    /// Sends our KEXINIT and starts an exchange.
    pub(super) fn start_kex(&mut self) -> Result<(), TransportError> {
        let kexinit = self.our_kexinit()?;
        let payload = kexinit.to_payload();
        self.write(&payload)?;
        self.kex = KexState::Running(Box::new(KexRun {
            started: self.now,
            our_kexinit: payload,
            peer_kexinit: None,
            negotiated: None,
            ignore_guessed_packet: false,
            step: KexStep::ExpectKexInit,
        }));
        Ok(())
    }

    fn our_kexinit(&self) -> Result<msgs::KexInit, TransportError> {
        let provider = &self.provider;
        let config = &self.config;
        let mut cookie = [0u8; 16];
        provider
            .random
            .fill(&mut cookie)
            .map_err(TransportError::Crypto)?;
        let mut kex: Vec<&str> = config
            .kex_algorithms
            .iter()
            .map(String::as_str)
            .filter(|n| provider.kex(n).is_some())
            .collect();
        // Markers go only in the first KEXINIT (OpenSSH does the same).
        if !self.initial_kex_done {
            match self.side() {
                Side::Client => {
                    if config.ext_info {
                        kex.push(kex_names::EXT_INFO_C);
                    }
                    if config.strict_kex {
                        kex.push(kex_names::KEX_STRICT_C);
                    }
                }
                Side::Server => {
                    if config.strict_kex {
                        kex.push(kex_names::KEX_STRICT_S);
                    }
                }
            }
        }
        let host_keys: Vec<&str> = match &self.role {
            Role::Client => config
                .host_key_algorithms
                .iter()
                .map(String::as_str)
                .filter(|n| {
                    let plain = crate::certificate::plain_algorithm(n).unwrap_or(n);
                    provider.signature(plain).is_some()
                })
                .collect(),
            Role::Server { host_keys } => config
                .host_key_algorithms
                .iter()
                .map(String::as_str)
                .filter(|n| host_keys.iter().any(|k| can_sign_as(k.as_ref(), n)))
                .collect(),
        };
        let ciphers = NameList::from_names(
            config
                .ciphers
                .iter()
                .filter(|n| provider.cipher(n).is_some()),
        );
        let macs = NameList::from_names(config.macs.iter().filter(|n| provider.mac(n).is_some()));
        let compression = NameList::from_names(config.compression.iter().filter(|n| {
            n.as_str() == oxssh_wire::names::compression::NONE || provider.compression(n).is_some()
        }));
        Ok(msgs::KexInit {
            cookie,
            kex_algorithms: NameList::from_names(kex),
            server_host_key_algorithms: NameList::from_names(host_keys),
            encryption_client_to_server: ciphers.clone(),
            encryption_server_to_client: ciphers,
            mac_client_to_server: macs.clone(),
            mac_server_to_client: macs,
            compression_client_to_server: compression.clone(),
            compression_server_to_client: compression,
            languages_client_to_server: NameList::default(),
            languages_server_to_client: NameList::default(),
            first_kex_packet_follows: false,
            reserved: 0,
        })
    }

    /// Handles KEXINIT, NEWKEYS and method messages (30..=49).
    pub(super) fn handle_kex_message(
        &mut self,
        seq: u32,
        payload: &[u8],
    ) -> Result<(), TransportError> {
        let number = payload.first().copied().unwrap_or_default();
        if number == num::KEXINIT {
            if !self.kex.is_running() {
                self.start_kex()?;
            }
            return self.handle_peer_kexinit(seq, payload);
        }
        let KexState::Running(run) = &mut self.kex else {
            return Err(unexpected(number, "no key exchange"));
        };
        if run.ignore_guessed_packet && number != num::NEWKEYS {
            run.ignore_guessed_packet = false;
            return Ok(());
        }
        let step = std::mem::replace(&mut run.step, KexStep::ExpectKexInit);
        match (step, number) {
            (KexStep::ExpectReply { alg, client, gex }, num::KEX_ECDH_REPLY) if gex.is_none() => {
                self.client_reply(alg.get(), client, None, payload)
            }
            (
                KexStep::ExpectReply {
                    alg,
                    client,
                    gex: Some(gex),
                },
                num::KEX_DH_GEX_REPLY,
            ) => self.client_reply(alg.get(), client, Some(gex), payload),
            (KexStep::ExpectGexGroup { request }, num::KEX_DH_GEX_GROUP) => {
                self.client_gex_group(request, payload)
            }
            (KexStep::ExpectInit, num::KEX_ECDH_INIT) => self.server_init(None, payload),
            (KexStep::ExpectGexRequest, num::KEX_DH_GEX_REQUEST) => {
                self.server_gex_request(payload)
            }
            (KexStep::ExpectGexInit { alg, gex }, num::KEX_DH_GEX_INIT) => {
                self.server_init(Some((alg, gex)), payload)
            }
            (KexStep::ExpectNewKeys { opener }, num::NEWKEYS) => {
                msgs::NewKeys::decode(payload)?;
                self.peer_newkeys(opener)
            }
            (_, number) => Err(unexpected(number, "key exchange")),
        }
    }

    fn run(&mut self) -> Result<&mut KexRun, TransportError> {
        match &mut self.kex {
            KexState::Running(run) => Ok(run),
            KexState::Idle { .. } => Err(TransportError::ApiMisuse("no key exchange running")),
        }
    }

    fn set_step(&mut self, step: KexStep) -> Result<(), TransportError> {
        self.run()?.step = step;
        Ok(())
    }

    fn handle_peer_kexinit(&mut self, seq: u32, payload: &[u8]) -> Result<(), TransportError> {
        let peer = msgs::KexInit::decode(payload)?;
        let side = self.side();
        let first = !self.initial_kex_done;
        let (ours, strict_marker) = match side {
            Side::Client => (kex_names::KEX_STRICT_C, kex_names::KEX_STRICT_S),
            Side::Server => (kex_names::KEX_STRICT_S, kex_names::KEX_STRICT_C),
        };
        let run = self.run()?;
        if run.peer_kexinit.is_some() {
            return Err(unexpected(num::KEXINIT, "key exchange"));
        }
        let our = msgs::KexInit::decode(&run.our_kexinit)?;
        if first && our.kex_algorithms.contains(ours) && peer.kex_algorithms.contains(strict_marker)
        {
            // Strict kex: KEXINIT must have been the peer's very first packet.
            if seq != 0 {
                return Err(PeerMisbehaved::StrictKexViolation(num::KEXINIT).into());
            }
            self.strict_kex = true;
        }
        let (client, server) = match side {
            Side::Client => (&our, &peer),
            Side::Server => (&peer, &our),
        };
        let provider = self.provider.clone();
        let negotiated = negotiate(client, server, |c| {
            provider.cipher(c).is_some_and(|c| c.is_aead())
        })?;
        let ignore_guess = peer.first_kex_packet_follows && guess_was_wrong(client, server);
        let alg = provider
            .kex(&negotiated.kex)
            .ok_or(PeerMisbehaved::NoCommonAlgorithm(
                crate::error::AlgorithmKind::Kex,
            ))?;
        let run = self.run()?;
        run.peer_kexinit = Some(payload.to_vec());
        run.negotiated = Some(negotiated);
        run.ignore_guessed_packet = ignore_guess;
        match (side, alg.method()) {
            (Side::Client, KexMethod::GroupExchange) => {
                let (min, n, max) = self.config.gex_bits;
                let request = msgs::KexDhGexRequest { min, n, max };
                self.write_message(&request)?;
                self.set_step(KexStep::ExpectGexGroup { request })
            }
            (Side::Client, method) => {
                let client = alg
                    .client_start(self.provider.random)
                    .map_err(TransportError::Crypto)?;
                self.send_client_public(method, None, client.public())?;
                self.set_step(KexStep::ExpectReply {
                    alg: Box::new(alg),
                    client,
                    gex: None,
                })
            }
            (Side::Server, KexMethod::GroupExchange) => self.set_step(KexStep::ExpectGexRequest),
            (Side::Server, _) => self.set_step(KexStep::ExpectInit),
        }
    }

    fn negotiated(&mut self) -> Result<Negotiated, TransportError> {
        self.run()?
            .negotiated
            .clone()
            .ok_or(TransportError::ApiMisuse("kex not negotiated"))
    }

    fn negotiated_kex(&mut self) -> Result<&'static dyn KexAlgorithm, TransportError> {
        let name = self.negotiated()?.kex;
        self.provider
            .kex(&name)
            .ok_or(PeerMisbehaved::NoCommonAlgorithm(crate::error::AlgorithmKind::Kex).into())
    }

    /// Client: the caller accepted the host key; finish with NEWKEYS.
    pub(super) fn host_key_accepted(&mut self) -> Result<(), TransportError> {
        let run = self.run()?;
        let step = std::mem::replace(&mut run.step, KexStep::ExpectKexInit);
        match step {
            KexStep::ExpectHostKeyDecision { keys } => self.send_newkeys(keys),
            other => {
                self.run()?.step = other;
                Err(TransportError::ApiMisuse("no host key awaiting a decision"))
            }
        }
    }

    fn compute_hash(
        &mut self,
        alg: &dyn KexAlgorithm,
        host_key_blob: &[u8],
        exchange: &HashExchange<'_>,
        secret: &SharedSecret,
    ) -> Result<Vec<u8>, TransportError> {
        let peer_version = self
            .peer_version
            .as_ref()
            .map(|v| v.line.clone())
            .ok_or(TransportError::ApiMisuse("kex before version exchange"))?;
        let run = self.run()?;
        let peer_kexinit = run.peer_kexinit.clone().unwrap_or_default();
        let our_kexinit = run.our_kexinit.clone();
        let our_version = self.our_version.clone();
        let prefix = match self.side() {
            Side::Client => HashPrefix {
                client_version: &our_version,
                server_version: &peer_version,
                client_kexinit: &our_kexinit,
                server_kexinit: &peer_kexinit,
                host_key: host_key_blob,
            },
            Side::Server => HashPrefix {
                client_version: &peer_version,
                server_version: &our_version,
                client_kexinit: &peer_kexinit,
                server_kexinit: &our_kexinit,
                host_key: host_key_blob,
            },
        };
        Ok(exchange_hash(
            &self.provider,
            alg.hash(),
            &prefix,
            exchange,
            secret,
        ))
    }

    /// Sets the session id on the first exchange and derives this exchange's keys.
    fn finish_hash(
        &mut self,
        alg: &dyn KexAlgorithm,
        negotiated: &Negotiated,
        secret: &SharedSecret,
        h: Vec<u8>,
    ) -> Result<DirectionKeys, TransportError> {
        let session_id = self.session_id.get_or_insert_with(|| h.clone()).clone();
        build_keys(
            &self.provider,
            self.side(),
            negotiated,
            alg.hash(),
            secret,
            &h,
            &session_id,
        )
    }

    /// Sends NEWKEYS, switches outgoing keys, then EXT_INFO and whatever was queued.
    fn send_newkeys(&mut self, keys: DirectionKeys) -> Result<(), TransportError> {
        self.write_message(&msgs::NewKeys)?;
        self.writer.set_sealer(keys.sealer, self.strict_kex);
        let negotiated = self.negotiated()?;
        let out = match self.side() {
            Side::Client => &negotiated.compression_c2s,
            Side::Server => &negotiated.compression_s2c,
        };
        self.compression.out_method = self.provider.compression(out);
        self.compression
            .start_ready(self.queued_payloads.is_empty());
        self.set_step(KexStep::ExpectNewKeys {
            opener: keys.opener,
        })?;
        if !self.initial_kex_done && self.side() == Side::Server && self.config.ext_info {
            let peer_offers = self
                .run()?
                .peer_kexinit
                .as_deref()
                .and_then(|p| msgs::KexInit::decode(p).ok())
                .is_some_and(|k| k.kex_algorithms.contains(kex_names::EXT_INFO_C));
            if peer_offers {
                let sig_algs = self.config.server_sig_algs.join(",");
                self.write_message(&msgs::ExtInfo {
                    extensions: vec![(ext::SERVER_SIG_ALGS.to_owned(), sig_algs.into_bytes())],
                })?;
            }
        }
        if self.initial_kex_done {
            self.flush_queued()?;
        }
        Ok(())
    }

    /// The peer's NEWKEYS: switch incoming keys; the exchange is complete.
    fn peer_newkeys(&mut self, opener: Box<dyn Opener>) -> Result<(), TransportError> {
        self.reader.set_opener(opener, self.strict_kex);
        let negotiated = self.negotiated()?;
        let incoming = match self.side() {
            Side::Client => &negotiated.compression_s2c,
            Side::Server => &negotiated.compression_c2s,
        };
        self.compression.in_method = self.provider.compression(incoming);
        self.compression.start_ready(false);
        let initial = !self.initial_kex_done;
        self.initial_kex_done = true;
        self.kex = super::KexState::Idle { since: self.now };
        self.events.push_back(Event::KexComplete {
            initial,
            negotiated,
        });
        self.flush_queued()
    }
}

fn hash_exchange<'a>(
    method: KexMethod,
    gex: Option<&'a GexParams>,
    client: &'a [u8],
    server: &'a [u8],
) -> HashExchange<'a> {
    match method {
        KexMethod::Ecdh => HashExchange::Ecdh { client, server },
        KexMethod::Dh | KexMethod::GroupExchange => HashExchange::Dh {
            group_exchange: gex.map(|g| GexHashInput {
                min: g.request.min,
                n: g.request.n,
                max: g.request.max,
                p: &g.group.p,
                g: &g.group.g,
            }),
            e: client,
            f: server,
        },
    }
}

/// Splits `string algorithm || string signature` (RFC 4253 §6.6).
fn parse_signature_blob(blob: &[u8]) -> Result<(&str, &[u8]), TransportError> {
    let mut r = Reader::new(blob);
    let name = r.utf8()?;
    let sig = r.string()?;
    r.finish()?;
    Ok((name, sig))
}

fn unexpected(number: u8, phase: &'static str) -> TransportError {
    PeerMisbehaved::UnexpectedMessage { number, phase }.into()
}

fn bit_len(magnitude: &[u8]) -> usize {
    let trimmed: &[u8] = {
        let start = magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(magnitude.len());
        magnitude.get(start..).unwrap_or_default()
    };
    trimmed
        .first()
        .map_or(0, |b| trimmed.len() * 8 - b.leading_zeros() as usize)
}

/// Whether a server host key can serve host-key algorithm `name`: one of its signature
/// algorithms, or the certificate form of one when it has a certificate
/// (`PROTOCOL.certkeys`).
fn can_sign_as(key: &dyn crate::crypto::SigningKey, name: &str) -> bool {
    match crate::certificate::plain_algorithm(name) {
        Some(plain) => key.certificate().is_some() && key.signature_algorithms().contains(&plain),
        None => key.signature_algorithms().contains(&name),
    }
}
