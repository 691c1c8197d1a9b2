//! In-memory client/server pair: two transports wired together with a fake clock and
//! bounded steps (a livelock fails the test instead of hanging it).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use oxssh_keys::PublicKey;
use oxssh_proto::crypto::{CryptoProvider, SigningKey};
use oxssh_proto::transport::Negotiated;
use oxssh_proto::{Event, Role, Transport, TransportConfig, TransportError};

/// Tampers with bytes in flight.
pub type Filter = Box<dyn FnMut(&mut Vec<u8>)>;

/// Events as owned values, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    HostKey(PublicKey, String),
    KexComplete {
        initial: bool,
        negotiated: Negotiated,
    },
    Payload(Vec<u8>),
    Debug(String),
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(oxssh_crypto::default_provider())
}

/// A fresh host key: `ed25519`, `ecdsa-p256|p384|p521`, `rsa` (2048 bits: fast to make).
pub fn host_key(kind: &str) -> Arc<dyn SigningKey> {
    use oxssh_crypto::KeyKind;
    use oxssh_keys::EcdsaCurve;
    let kind = match kind {
        "ed25519" => KeyKind::Ed25519,
        "ecdsa-p256" => KeyKind::Ecdsa(EcdsaCurve::NistP256),
        "ecdsa-p384" => KeyKind::Ecdsa(EcdsaCurve::NistP384),
        "ecdsa-p521" => KeyKind::Ecdsa(EcdsaCurve::NistP521),
        "rsa" => KeyKind::Rsa { bits: 2048 },
        other => panic!("unknown key kind {other}"),
    };
    Arc::from(oxssh_crypto::generate_signing_key(kind).unwrap())
}

#[allow(missing_debug_implementations)]
pub struct Side {
    pub transport: Transport,
    pub seen: Vec<Seen>,
    pub error: Option<TransportError>,
}

impl Side {
    fn poll(&mut self, auto_accept: bool) -> bool {
        let mut progressed = false;
        loop {
            if self.error.is_some() {
                return progressed;
            }
            let ev = match self.transport.poll_event() {
                Ok(Some(ev)) => ev,
                Ok(None) => return progressed,
                Err(e) => {
                    self.error = Some(e);
                    return true;
                }
            };
            progressed = true;
            let seen = match ev {
                Event::HostKey { key, algorithm } => Seen::HostKey(key, algorithm),
                Event::KexComplete {
                    initial,
                    negotiated,
                } => Seen::KexComplete {
                    initial,
                    negotiated,
                },
                Event::Payload(p) => Seen::Payload(p.to_vec()),
                Event::Debug { message, .. } => Seen::Debug(message),
                other => panic!("unexpected event {other:?}"),
            };
            let is_host_key = matches!(seen, Seen::HostKey(..));
            self.seen.push(seen);
            if is_host_key && auto_accept {
                self.transport.accept_host_key().unwrap();
            }
        }
    }

    pub fn payloads(&self) -> Vec<Vec<u8>> {
        self.seen
            .iter()
            .filter_map(|s| match s {
                Seen::Payload(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn kex_count(&self) -> usize {
        self.seen
            .iter()
            .filter(|s| matches!(s, Seen::KexComplete { .. }))
            .count()
    }
}

#[allow(missing_debug_implementations)]
pub struct Pair {
    pub client: Side,
    pub server: Side,
    pub now: Instant,
    pub auto_accept: bool,
    /// Called on bytes going client -> server; may tamper.
    pub c2s_filter: Option<Filter>,
    /// Called on bytes going server -> client; may tamper.
    pub s2c_filter: Option<Filter>,
}

impl Pair {
    pub fn new(
        client: TransportConfig,
        server: TransportConfig,
        keys: Vec<Arc<dyn SigningKey>>,
    ) -> Self {
        let provider = provider();
        let now = Instant::now();
        let client = Transport::new(Arc::new(client), provider.clone(), Role::Client, now).unwrap();
        let server = Transport::new(
            Arc::new(server),
            provider,
            Role::Server { host_keys: keys },
            now,
        )
        .unwrap();
        Self {
            client: Side {
                transport: client,
                seen: Vec::new(),
                error: None,
            },
            server: Side {
                transport: server,
                seen: Vec::new(),
                error: None,
            },
            now,
            auto_accept: true,
            c2s_filter: None,
            s2c_filter: None,
        }
    }

    pub fn default_with(kind: &str) -> Self {
        Self::new(
            TransportConfig::client_default(),
            TransportConfig::server_default(),
            vec![host_key(kind)],
        )
    }

    fn shuttle(from: &mut Side, to: &mut Side, filter: &mut Option<Filter>) -> bool {
        let mut bytes = from.transport.transmit().to_vec();
        if bytes.is_empty() {
            return false;
        }
        from.transport.advance_transmit(bytes.len());
        if let Some(f) = filter {
            f(&mut bytes);
        }
        if to.error.is_none() {
            if let Err(e) = to.transport.recv(&bytes) {
                to.error = Some(e);
            }
        }
        true
    }

    /// Moves bytes and polls both sides until nothing changes; panics on livelock.
    pub fn drive(&mut self) {
        for _ in 0..10_000 {
            let mut progressed =
                Self::shuttle(&mut self.client, &mut self.server, &mut self.c2s_filter);
            progressed |= Self::shuttle(&mut self.server, &mut self.client, &mut self.s2c_filter);
            progressed |= self.client.poll(self.auto_accept);
            progressed |= self.server.poll(false);
            if !progressed {
                return;
            }
        }
        panic!("pair did not settle: livelock");
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        if self.client.error.is_none() {
            if let Err(e) = self.client.transport.handle_timeout(self.now) {
                self.client.error = Some(e);
            }
        }
        if self.server.error.is_none() {
            if let Err(e) = self.server.transport.handle_timeout(self.now) {
                self.server.error = Some(e);
            }
        }
    }

    pub fn assert_established(&self) {
        assert!(
            self.client.error.is_none(),
            "client error {:?}",
            self.client.error
        );
        assert!(
            self.server.error.is_none(),
            "server error {:?}",
            self.server.error
        );
        assert!(self.client.transport.is_established());
        assert!(self.server.transport.is_established());
        assert_eq!(
            self.client.transport.session_id(),
            self.server.transport.session_id()
        );
    }
}

/// A payload of an upper-layer message number, recognisable by its index.
pub fn payload(index: u32, len: usize) -> Vec<u8> {
    let mut p = vec![94u8];
    p.extend_from_slice(&index.to_be_bytes());
    p.resize(len.max(5), (index % 251) as u8);
    p
}
