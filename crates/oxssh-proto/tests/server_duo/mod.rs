//! The in-memory pair the server-side protocol tests drive: our `ClientConnection` (or a
//! bare client transport, to send what a well-behaved client never would) against
//! `ServerConnection`, with a fake clock.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use oxssh_proto::auth::{AttemptMethod, AuthConfig, AuthEvent, AuthenticationMethods};
use oxssh_proto::connection::ConnectionConfig;
use oxssh_proto::crypto::SigningKey;
use oxssh_proto::{
    ClientConnection, ClientEvent, Event, Role, ServerConnection, ServerEvent, Transport,
    TransportConfig, TransportError,
};
use oxssh_wire::transport::{Message, ServiceRequest};
use oxssh_wire::userauth::Prompt;
use oxssh_wire::{DisconnectReason, Writer};

use crate::pair;

/// The client end: our client connection, or a bare transport sending raw payloads.
/// One per test: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Client {
    Conn(ClientConnection),
    Raw(Transport),
}

pub struct Duo {
    pub client: Client,
    pub server: ServerConnection,
    pub now: Instant,
    pub client_events: Vec<ClientEvent>,
    /// Payloads the bare client received.
    pub raw_payloads: Vec<Vec<u8>>,
    pub server_events: Vec<ServerEvent>,
    pub client_error: Option<TransportError>,
    pub server_error: Option<TransportError>,
}

pub fn server(auth: AuthConfig, compression: &[&str], now: Instant) -> ServerConnection {
    let mut config = TransportConfig::server_default();
    config.compression = compression.iter().map(|c| (*c).to_owned()).collect();
    let connection = ConnectionConfig {
        reject_global_requests: false,
        ..ConnectionConfig::default()
    };
    ServerConnection::new(
        Arc::new(config),
        connection,
        pair::provider(),
        vec![pair::host_key("ed25519")],
        auth,
        now,
    )
    .unwrap()
}

impl Duo {
    pub fn new(auth: AuthConfig) -> Self {
        Self::with(auth, &["none"])
    }

    pub fn with(auth: AuthConfig, compression: &[&str]) -> Self {
        let now = Instant::now();
        let mut config = TransportConfig::client_default();
        config.compression = compression.iter().map(|c| (*c).to_owned()).collect();
        let client = ClientConnection::new(
            "alice",
            Arc::new(config),
            ConnectionConfig::default(),
            pair::provider(),
            now,
        )
        .unwrap();
        let mut duo = Self::from_parts(Client::Conn(client), server(auth, compression, now), now);
        duo.drive();
        assert!(duo.client_events.contains(&ClientEvent::AuthReady));
        let compressed = duo.server_events.iter().any(|e| {
            matches!(e, ServerEvent::KexComplete { negotiated, .. }
                if negotiated.compression_c2s == compression[0]
                    && negotiated.compression_s2c == compression[0])
        });
        assert!(compressed, "{:?}", duo.server_events);
        duo.client_events.clear();
        duo.server_events.clear();
        duo
    }

    /// A bare client transport whose `ssh-userauth` service request is already sent.
    pub fn raw(auth: AuthConfig, service: &str) -> Self {
        let now = Instant::now();
        let config = Arc::new(TransportConfig::client_default());
        let client = Transport::new(config, pair::provider(), Role::Client, now).unwrap();
        let mut duo = Self::from_parts(Client::Raw(client), server(auth, &["none"], now), now);
        duo.drive();
        let request = ServiceRequest {
            service: service.into(),
        };
        duo.send_raw(&request.to_payload());
        duo
    }

    pub fn from_parts(client: Client, server: ServerConnection, now: Instant) -> Self {
        Self {
            client,
            server,
            now,
            client_events: Vec::new(),
            raw_payloads: Vec::new(),
            server_events: Vec::new(),
            client_error: None,
            server_error: None,
        }
    }

    pub fn conn(&mut self) -> &mut ClientConnection {
        match &mut self.client {
            Client::Conn(c) => c,
            Client::Raw(_) => panic!("bare client"),
        }
    }

    pub fn send_raw(&mut self, payload: &[u8]) {
        match &mut self.client {
            Client::Raw(t) => t.send(payload).unwrap(),
            Client::Conn(_) => panic!("not a bare client"),
        }
        self.drive();
    }

    pub fn shuttle(&mut self) -> bool {
        let out = match &mut self.client {
            Client::Conn(c) => c.transmit().to_vec(),
            Client::Raw(t) => t.transmit().to_vec(),
        };
        let back = self.server.transmit().to_vec();
        self.server.advance_transmit(back.len());
        let received = match &mut self.client {
            Client::Conn(c) => {
                c.advance_transmit(out.len());
                c.recv(&back)
            }
            Client::Raw(t) => {
                t.advance_transmit(out.len());
                t.recv(&back)
            }
        };
        if self.client_error.is_none() && !back.is_empty() {
            self.client_error = received.err();
        }
        if self.server_error.is_none() && !out.is_empty() {
            self.server_error = self.server.recv(&out).err();
        }
        !out.is_empty() || !back.is_empty()
    }

    pub fn poll_client(&mut self) -> bool {
        let mut progressed = false;
        while self.client_error.is_none() {
            match &mut self.client {
                Client::Conn(c) => match c.poll_event() {
                    Ok(Some(ClientEvent::HostKey { .. })) => c.accept_host_key().unwrap(),
                    Ok(Some(ev)) => self.client_events.push(ev),
                    Ok(None) => break,
                    Err(e) => self.client_error = Some(e),
                },
                Client::Raw(t) => match t.poll_event() {
                    Ok(Some(Event::HostKey { .. })) => t.accept_host_key().unwrap(),
                    Ok(Some(Event::Payload(p))) => self.raw_payloads.push(p.to_vec()),
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => self.client_error = Some(e),
                },
            }
            progressed = true;
        }
        progressed
    }

    pub fn poll_server(&mut self) -> bool {
        let mut progressed = false;
        while self.server_error.is_none() {
            match self.server.poll_event() {
                Ok(Some(ev)) => self.server_events.push(ev),
                Ok(None) => break,
                Err(e) => self.server_error = Some(e),
            }
            progressed = true;
        }
        progressed
    }

    /// Moves bytes and polls both ends until quiet; panics on livelock.
    pub fn drive(&mut self) {
        for _ in 0..10_000 {
            let mut progressed = self.shuttle();
            progressed |= self.poll_client();
            progressed |= self.poll_server();
            if !progressed {
                return;
            }
        }
        panic!("livelock");
    }

    /// Takes the attempt the server awaits an answer for.
    pub fn attempt(&mut self) -> AttemptMethod {
        let pos = self
            .server_events
            .iter()
            .position(|e| matches!(e, ServerEvent::AuthRequest(_)))
            .unwrap_or_else(|| panic!("no auth request in {:?}", self.server_events));
        match self.server_events.remove(pos) {
            ServerEvent::AuthRequest(a) => {
                assert_eq!(a.user, "alice");
                a.method
            }
            _ => unreachable!(),
        }
    }

    pub fn auth_answers(&mut self) -> Vec<AuthEvent> {
        let answers = self
            .client_events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Auth(a) => Some(a.clone()),
                _ => None,
            })
            .collect();
        self.client_events.clear();
        answers
    }

    pub fn refusals(&self) -> Vec<&'static str> {
        self.server_events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::AuthRefused { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect()
    }

    /// Signs and sends a public-key attempt with `key` and `algorithm`.
    pub fn send_signed(&mut self, key: &dyn SigningKey, algorithm: &str, corrupt: bool) {
        let blob = key.public_key().to_blob();
        let mut data = self.conn().auth_publickey_signed_data(algorithm, &blob);
        if corrupt {
            data.push(0);
        }
        let sig = key.sign(algorithm, &data).unwrap();
        let mut sig_blob = Vec::new();
        Writer::new(&mut sig_blob)
            .string(algorithm.as_bytes())
            .string(&sig);
        self.conn()
            .auth_publickey(algorithm, &blob, &sig_blob)
            .unwrap();
        self.drive();
    }

    /// Answers the pending attempt, whatever it is, and lets the answer travel.
    pub fn answer(&mut self, accept: bool) {
        self.attempt();
        if accept {
            self.server.accept().unwrap();
        } else {
            self.server.reject().unwrap();
        }
        self.drive();
    }

    pub fn password(&mut self, password: &str) {
        self.conn().auth_password(password, None).unwrap();
        self.drive();
    }

    /// The reason of the DISCONNECT the client received, if any.
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        match &self.client_error {
            Some(TransportError::PeerDisconnected { reason, .. }) => Some(*reason),
            _ => None,
        }
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        if self.server_error.is_none() {
            self.server_error = self.server.handle_timeout(self.now).err();
        }
    }
}

pub fn failure(methods: &[&str], partial_success: bool) -> AuthEvent {
    AuthEvent::Failure {
        methods: methods.iter().map(|m| (*m).to_owned()).collect(),
        partial_success,
    }
}

pub fn prompt(text: &str) -> Prompt {
    Prompt {
        text: text.into(),
        echo: false,
    }
}

pub const ALL: &[&str] = &["publickey", "password", "keyboard-interactive"];

pub fn lists(text: &str) -> AuthConfig {
    AuthConfig {
        authentication_methods: AuthenticationMethods::parse(text).unwrap(),
        ..AuthConfig::default()
    }
}
