//! Protocol tests of server authentication: our `ClientConnection` (or a bare client
//! transport, to send what a well-behaved client never would) against `ServerConnection`
//! in memory, with a fake clock. One test per rule the server enforces.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod pair;

use std::sync::Arc;
use std::time::{Duration, Instant};

use oxssh_keys::certificate::{CertType, Certificate};
use oxssh_proto::auth::{AttemptMethod, AuthConfig, AuthEvent, AuthenticationMethods, Method};
use oxssh_proto::connection::{ChannelRequestKind, ConnectionConfig, ConnectionEvent};
use oxssh_proto::crypto::SigningKey;
use oxssh_proto::{
    ClientConnection, ClientEvent, Event, Role, ServerConnection, ServerEvent, Transport,
    TransportConfig, TransportError,
};
use oxssh_wire::transport::{Message, ServiceRequest};
use oxssh_wire::userauth::{AuthMethod, Prompt, UserauthInfoResponse, UserauthRequest};
use oxssh_wire::{DisconnectReason, Writer};

/// The client end: our client connection, or a bare transport sending raw payloads.
/// One per test: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Client {
    Conn(ClientConnection),
    Raw(Transport),
}

struct Duo {
    client: Client,
    server: ServerConnection,
    now: Instant,
    client_events: Vec<ClientEvent>,
    /// Payloads the bare client received.
    raw_payloads: Vec<Vec<u8>>,
    server_events: Vec<ServerEvent>,
    client_error: Option<TransportError>,
    server_error: Option<TransportError>,
}

fn server(auth: AuthConfig, compression: &[&str], now: Instant) -> ServerConnection {
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
    fn new(auth: AuthConfig) -> Self {
        Self::with(auth, &["none"])
    }

    fn with(auth: AuthConfig, compression: &[&str]) -> Self {
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
    fn raw(auth: AuthConfig, service: &str) -> Self {
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

    fn from_parts(client: Client, server: ServerConnection, now: Instant) -> Self {
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

    fn conn(&mut self) -> &mut ClientConnection {
        match &mut self.client {
            Client::Conn(c) => c,
            Client::Raw(_) => panic!("bare client"),
        }
    }

    fn send_raw(&mut self, payload: &[u8]) {
        match &mut self.client {
            Client::Raw(t) => t.send(payload).unwrap(),
            Client::Conn(_) => panic!("not a bare client"),
        }
        self.drive();
    }

    fn shuttle(&mut self) -> bool {
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

    fn poll_client(&mut self) -> bool {
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

    fn poll_server(&mut self) -> bool {
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
    fn drive(&mut self) {
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
    fn attempt(&mut self) -> AttemptMethod {
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

    fn auth_answers(&mut self) -> Vec<AuthEvent> {
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

    fn refusals(&self) -> Vec<&'static str> {
        self.server_events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::AuthRefused { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect()
    }

    /// Signs and sends a public-key attempt with `key` and `algorithm`.
    fn send_signed(&mut self, key: &dyn SigningKey, algorithm: &str, corrupt: bool) {
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
    fn answer(&mut self, accept: bool) {
        self.attempt();
        if accept {
            self.server.accept().unwrap();
        } else {
            self.server.reject().unwrap();
        }
        self.drive();
    }

    fn password(&mut self, password: &str) {
        self.conn().auth_password(password, None).unwrap();
        self.drive();
    }

    /// The reason of the DISCONNECT the client received, if any.
    fn disconnect_reason(&self) -> Option<DisconnectReason> {
        match &self.client_error {
            Some(TransportError::PeerDisconnected { reason, .. }) => Some(*reason),
            _ => None,
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        if self.server_error.is_none() {
            self.server_error = self.server.handle_timeout(self.now).err();
        }
    }
}

fn failure(methods: &[&str], partial_success: bool) -> AuthEvent {
    AuthEvent::Failure {
        methods: methods.iter().map(|m| (*m).to_owned()).collect(),
        partial_success,
    }
}

fn prompt(text: &str) -> Prompt {
    Prompt {
        text: text.into(),
        echo: false,
    }
}

const ALL: &[&str] = &["publickey", "password", "keyboard-interactive"];

fn lists(text: &str) -> AuthConfig {
    AuthConfig {
        authentication_methods: AuthenticationMethods::parse(text).unwrap(),
        ..AuthConfig::default()
    }
}

#[test]
fn authorised_key_logs_in_after_pk_ok() {
    let mut d = Duo::new(AuthConfig::default());
    let key = pair::host_key("ed25519");
    let blob = key.public_key().to_blob();
    d.conn().auth_publickey_query("ssh-ed25519", &blob).unwrap();
    d.drive();
    match d.attempt() {
        AttemptMethod::PublicKeyQuery {
            algorithm,
            key: k,
            certificate,
        } => {
            assert_eq!(algorithm, "ssh-ed25519");
            assert_eq!(&k, key.public_key());
            assert!(certificate.is_none());
        }
        other => panic!("{other:?}"),
    }
    // A query carries no proof: accepting it is refused, pk_ok is the answer.
    assert!(matches!(
        d.server.accept(),
        Err(TransportError::ApiMisuse(_))
    ));
    d.server.pk_ok().unwrap();
    d.drive();
    assert!(matches!(d.auth_answers()[..], [AuthEvent::PkOk { .. }]));
    d.send_signed(key.as_ref(), "ssh-ed25519", false);
    assert!(matches!(d.attempt(), AttemptMethod::PublicKey { .. }));
    assert!(!d.server.is_authenticated());
    d.server.accept().unwrap();
    d.drive();
    assert_eq!(d.auth_answers(), vec![AuthEvent::Success]);
    assert!(d.server.is_authenticated() && d.conn().is_authenticated());
    assert_eq!(d.server.user(), Some("alice"));
    assert!(d.server_events.contains(&ServerEvent::Authenticated {
        user: "alice".into(),
        method: Some(Method::PublicKey),
    }));
}

#[test]
fn key_the_policy_refuses_fails_and_counts() {
    let mut d = Duo::new(AuthConfig::default());
    let key = pair::host_key("ecdsa-p256");
    d.send_signed(key.as_ref(), "ecdsa-sha2-nistp256", false);
    assert!(matches!(d.attempt(), AttemptMethod::PublicKey { .. }));
    d.server.reject().unwrap();
    d.drive();
    assert_eq!(d.auth_answers(), vec![failure(ALL, false)]);
    assert_eq!(d.server.auth().failures(), 1);
    assert!(!d.server.is_authenticated());
}

#[test]
fn bad_signature_is_refused_without_asking_the_policy() {
    let mut d = Duo::new(AuthConfig::default());
    let key = pair::host_key("ed25519");
    d.send_signed(key.as_ref(), "ssh-ed25519", true);
    assert!(!d
        .server_events
        .iter()
        .any(|e| matches!(e, ServerEvent::AuthRequest(_))));
    assert_eq!(d.refusals(), vec!["signature verification failed"]);
    assert_eq!(d.auth_answers(), vec![failure(ALL, false)]);
    assert_eq!(d.server.auth().failures(), 1);
}

#[test]
fn algorithm_outside_pubkey_accepted_algorithms_is_refused() {
    let mut d = Duo::new(AuthConfig {
        pubkey_accepted_algorithms: vec!["ssh-ed25519".into(), "rsa-sha2-512".into()],
        ..AuthConfig::default()
    });
    let rsa = pair::host_key("rsa");
    let blob = rsa.public_key().to_blob();
    // Neither the query nor a signed attempt reaches the policy.
    d.conn()
        .auth_publickey_query("rsa-sha2-256", &blob)
        .unwrap();
    d.drive();
    d.send_signed(rsa.as_ref(), "rsa-sha2-256", false);
    let reason = "signature algorithm not in PubkeyAcceptedAlgorithms";
    assert_eq!(d.refusals(), vec![reason, reason]);
    // A key of another type than the algorithm's is refused too.
    let ed25519 = pair::host_key("ed25519").public_key().to_blob();
    d.conn()
        .auth_publickey_query("rsa-sha2-512", &ed25519)
        .unwrap();
    d.drive();
    let mismatch = "key type does not match the signature algorithm";
    assert_eq!(d.refusals(), vec![reason, reason, mismatch]);
    // The RSA key with an accepted algorithm gets to the policy.
    d.send_signed(rsa.as_ref(), "rsa-sha2-512", false);
    assert!(
        matches!(d.attempt(), AttemptMethod::PublicKey { algorithm, .. } if algorithm == "rsa-sha2-512")
    );
}

/// A user certificate for `key`, signed by `ca` (ed25519) over its fields.
fn certificate(key: &dyn SigningKey, ca: &dyn SigningKey) -> Certificate {
    let mut cert = Certificate {
        nonce: vec![7; 32],
        key: key.public_key().clone(),
        serial: 9,
        cert_type: CertType::User,
        key_id: "alice-cert".into(),
        principals: vec!["alice".into()],
        valid_after: 0,
        valid_before: u64::MAX,
        critical_options: Vec::new(),
        extensions: Vec::new(),
        signature_key: ca.public_key().clone(),
        signature: Vec::new(),
    };
    let sig = ca.sign("ssh-ed25519", &cert.to_be_signed()).unwrap();
    Writer::new(&mut cert.signature)
        .string(b"ssh-ed25519")
        .string(&sig);
    cert
}

#[test]
fn certificate_reaches_the_policy_only_with_a_valid_ca_signature() {
    const CERT_ALG: &str = "ecdsa-sha2-nistp256-cert-v01@openssh.com";
    let config = AuthConfig {
        pubkey_accepted_algorithms: vec![CERT_ALG.into()],
        ..AuthConfig::default()
    };
    let mut d = Duo::new(config);
    let key = pair::host_key("ecdsa-p256");
    let ca = pair::host_key("ed25519");
    let cert = certificate(key.as_ref(), ca.as_ref());
    // Signed, with the plain algorithm inside the signature (PROTOCOL.certkeys).
    let blob = cert.to_blob();
    let data = d.conn().auth_publickey_signed_data(CERT_ALG, &blob);
    let sig = key.sign("ecdsa-sha2-nistp256", &data).unwrap();
    let mut sig_blob = Vec::new();
    Writer::new(&mut sig_blob)
        .string(b"ecdsa-sha2-nistp256")
        .string(&sig);
    d.conn().auth_publickey(CERT_ALG, &blob, &sig_blob).unwrap();
    d.drive();
    match d.attempt() {
        AttemptMethod::PublicKey {
            key: k,
            certificate: Some(c),
            ..
        } => {
            assert_eq!(&k, key.public_key());
            assert_eq!(*c, cert);
        }
        other => panic!("{other:?}"),
    }
    d.server.reject().unwrap();
    d.drive();
    // The same certificate altered after signing never reaches the policy.
    let mut forged = cert;
    forged.principals = vec!["root".into()];
    d.conn()
        .auth_publickey_query(CERT_ALG, &forged.to_blob())
        .unwrap();
    d.drive();
    assert_eq!(
        d.refusals(),
        vec!["certificate signature verification failed"]
    );
}

#[test]
fn authentication_methods_parse_as_sshd_config() {
    use AuthenticationMethods::{Any, Lists};
    assert_eq!(AuthenticationMethods::parse("any"), Ok(Any));
    let two = "publickey,password publickey,keyboard-interactive";
    assert_eq!(
        AuthenticationMethods::parse(two),
        Ok(Lists(vec![
            vec![Method::PublicKey, Method::Password],
            vec![Method::PublicKey, Method::KeyboardInteractive],
        ]))
    );
    assert!(AuthenticationMethods::parse("publickey,hostbased").is_err());
    assert!(AuthenticationMethods::parse("  ").is_err());
}

#[test]
fn authentication_methods_grant_partial_success_step_by_step() {
    let mut d = Duo::new(lists("publickey,password publickey,keyboard-interactive"));
    // `none` and a method not first in any list are refused by the core.
    d.conn().auth_none().unwrap();
    d.drive();
    d.password("pw");
    assert_eq!(
        d.refusals(),
        vec!["method not allowed", "method not allowed"]
    );
    assert_eq!(
        d.auth_answers(),
        vec![
            failure(&["publickey"], false),
            failure(&["publickey"], false)
        ]
    );
    let key = pair::host_key("ed25519");
    d.send_signed(key.as_ref(), "ssh-ed25519", false);
    d.answer(true);
    assert_eq!(
        d.auth_answers(),
        vec![failure(&["password", "keyboard-interactive"], true)]
    );
    assert!(d.server_events.contains(&ServerEvent::PartialSuccess {
        user: "alice".into(),
        method: Method::PublicKey,
    }));
    assert!(!d.server.is_authenticated());
    d.password("pw");
    assert!(matches!(d.attempt(), AttemptMethod::Password { .. }));
    d.server.accept().unwrap();
    d.drive();
    assert_eq!(d.auth_answers(), vec![AuthEvent::Success]);
    assert!(d.server_events.contains(&ServerEvent::Authenticated {
        user: "alice".into(),
        method: Some(Method::Password),
    }));
}

#[test]
fn one_key_cannot_satisfy_two_publickey_steps() {
    let mut d = Duo::new(lists("publickey,publickey"));
    let (a, b) = (pair::host_key("ed25519"), pair::host_key("ecdsa-p256"));
    d.send_signed(a.as_ref(), "ssh-ed25519", false);
    d.answer(true);
    assert_eq!(d.auth_answers(), vec![failure(&["publickey"], true)]);
    d.send_signed(a.as_ref(), "ssh-ed25519", false);
    assert_eq!(d.refusals(), vec!["key already used"]);
    d.send_signed(b.as_ref(), "ecdsa-sha2-nistp256", false);
    d.answer(true);
    assert_eq!(
        d.auth_answers(),
        vec![failure(&["publickey"], false), AuthEvent::Success]
    );
}

#[test]
fn max_auth_tries_disconnects_with_openssh_reason_and_text() {
    let mut d = Duo::new(AuthConfig {
        max_auth_tries: 3,
        ..AuthConfig::default()
    });
    // The initial `none` is free, as in OpenSSH.
    d.conn().auth_none().unwrap();
    d.drive();
    assert!(matches!(d.attempt(), AttemptMethod::None));
    d.server.reject().unwrap();
    d.drive();
    assert_eq!(d.server.auth().failures(), 0);
    for _ in 0..2 {
        d.password("wrong");
        d.answer(false);
    }
    assert_eq!(d.auth_answers().len(), 3);
    d.password("wrong");
    d.attempt();
    assert_eq!(d.server.reject(), Err(TransportError::TooManyAuthFailures));
    d.drive();
    // No third FAILURE: the DISCONNECT replaces it.
    assert!(d.auth_answers().is_empty());
    assert_eq!(
        d.client_error,
        Some(TransportError::PeerDisconnected {
            reason: DisconnectReason::ProtocolError,
            description: "Too many authentication failures".into(),
        })
    );
    assert_eq!(
        d.server.poll_event(),
        Err(TransportError::TooManyAuthFailures)
    );
}

#[test]
fn login_grace_time_ends_an_unauthenticated_connection_silently() {
    let mut d = Duo::new(AuthConfig::default());
    let deadline = d.server.poll_timeout().unwrap();
    assert!(deadline <= d.now + Duration::from_secs(120));
    d.advance(Duration::from_secs(119));
    assert!(d.server_error.is_none());
    d.advance(Duration::from_secs(1));
    assert_eq!(d.server_error, Some(TransportError::LoginGraceTimeout));
    assert!(
        d.server.transmit().is_empty(),
        "OpenSSH sends no DISCONNECT"
    );
    assert_eq!(d.server.poll_timeout(), None);
}

#[test]
fn keyboard_interactive_runs_two_rounds() {
    let mut d = Duo::new(AuthConfig::default());
    d.conn().auth_keyboard_interactive().unwrap();
    d.drive();
    assert!(matches!(
        d.attempt(),
        AttemptMethod::KeyboardInteractiveStart { .. }
    ));
    d.server
        .info_request("login", "", vec![prompt("Password: ")])
        .unwrap();
    d.drive();
    assert!(matches!(&d.auth_answers()[..], [AuthEvent::InfoRequest(r)] if r.prompts.len() == 1));
    d.conn().auth_info_response(&["s3cret"]).unwrap();
    d.drive();
    let AttemptMethod::KeyboardInteractiveResponse { answers } = d.attempt() else {
        panic!("expected answers");
    };
    assert_eq!(answers[0].expose(), "s3cret");
    assert_eq!(format!("{answers:?}"), "[Secret(<redacted>)]");
    d.server
        .info_request("", "second factor", vec![prompt("Code: "), prompt("PIN: ")])
        .unwrap();
    d.drive();
    assert!(matches!(&d.auth_answers()[..], [AuthEvent::InfoRequest(r)] if r.prompts.len() == 2));
    d.conn().auth_info_response(&["123456", "0000"]).unwrap();
    d.drive();
    let AttemptMethod::KeyboardInteractiveResponse { answers } = d.attempt() else {
        panic!("expected answers");
    };
    assert_eq!(answers.len(), 2);
    d.server.accept().unwrap();
    d.drive();
    assert_eq!(d.auth_answers(), vec![AuthEvent::Success]);
}

#[test]
fn keyboard_interactive_with_the_wrong_answer_count_fails() {
    let mut d = Duo::new(AuthConfig::default());
    d.conn().auth_keyboard_interactive().unwrap();
    d.drive();
    d.attempt();
    d.server
        .info_request("", "", vec![prompt("Password: ")])
        .unwrap();
    d.drive();
    d.auth_answers();
    d.conn().auth_info_response(&["a", "b"]).unwrap();
    d.drive();
    assert_eq!(d.refusals(), vec!["wrong number of responses"]);
    assert_eq!(d.auth_answers(), vec![failure(ALL, false)]);
}

#[test]
fn password_change_request_then_new_password() {
    let mut d = Duo::new(AuthConfig::default());
    d.password("old");
    let first = d.attempt();
    assert!(matches!(
        first,
        AttemptMethod::Password {
            new_password: None,
            ..
        }
    ));
    d.server
        .password_change_request("Password expired")
        .unwrap();
    d.drive();
    assert_eq!(
        d.auth_answers(),
        vec![AuthEvent::PasswordChangeRequest {
            prompt: "Password expired".into()
        }]
    );
    assert_eq!(d.server.auth().failures(), 0, "no failure");
    d.conn().auth_password("old", Some("new")).unwrap();
    d.drive();
    match d.attempt() {
        AttemptMethod::Password {
            password,
            new_password: Some(new),
        } => {
            assert_eq!((password.expose(), new.expose()), ("old", "new"));
            assert!(password == password.clone() && password != new);
        }
        other => panic!("{other:?}"),
    }
    d.server.accept().unwrap();
    d.drive();
    assert_eq!(d.auth_answers(), vec![AuthEvent::Success]);
}

fn userauth(user: &str, method: AuthMethod) -> Vec<u8> {
    UserauthRequest {
        user: user.into(),
        service: "ssh-connection".into(),
        method,
    }
    .to_payload()
}

#[test]
fn changing_user_between_attempts_disconnects() {
    let mut d = Duo::raw(AuthConfig::default(), "ssh-userauth");
    d.send_raw(&userauth("alice", AuthMethod::None));
    d.answer(false);
    d.send_raw(&userauth("bob", AuthMethod::None));
    assert_eq!(d.disconnect_reason(), Some(DisconnectReason::ProtocolError));
    assert!(matches!(d.server_error, Some(TransportError::Peer(_))));
}

#[test]
fn services_other_than_userauth_are_refused() {
    let d = Duo::raw(AuthConfig::default(), "ssh-connection");
    assert_eq!(
        d.disconnect_reason(),
        Some(DisconnectReason::ServiceNotAvailable)
    );
}

#[test]
fn connection_messages_before_authentication_are_protocol_errors() {
    let mut d = Duo::raw(AuthConfig::default(), "ssh-userauth");
    let mut open = Vec::new();
    Writer::new(&mut open)
        .u8(90)
        .string(b"session")
        .u32(0)
        .u32(65536)
        .u32(32768);
    d.send_raw(&open);
    assert!(matches!(
        d.server_error,
        Some(TransportError::Peer(
            oxssh_proto::PeerMisbehaved::UnexpectedMessage { number: 90, .. }
        ))
    ));
    assert_eq!(d.disconnect_reason(), Some(DisconnectReason::ProtocolError));
}

#[test]
fn requests_after_success_are_ignored_but_other_userauth_messages_are_not() {
    let mut d = Duo::raw(AuthConfig::default(), "ssh-userauth");
    d.send_raw(&userauth("alice", AuthMethod::None));
    d.answer(true);
    assert_eq!(d.raw_payloads.last().unwrap(), &vec![52u8]);
    // RFC 4252 §5.1: a further request SHOULD be silently ignored.
    d.send_raw(&userauth("mallory", AuthMethod::None));
    assert!(d.server_error.is_none() && d.client_error.is_none());
    let response = UserauthInfoResponse { responses: vec![] };
    d.send_raw(&response.to_payload());
    assert!(matches!(d.server_error, Some(TransportError::Peer(_))));
}

#[test]
fn banner_precedes_the_first_answer() {
    let mut d = Duo::new(AuthConfig {
        banner: Some("Authorised users only\n".into()),
        ..AuthConfig::default()
    });
    d.conn().auth_none().unwrap();
    d.drive();
    d.answer(false);
    assert_eq!(
        d.auth_answers(),
        vec![
            AuthEvent::Banner("Authorised users only\n".into()),
            failure(ALL, false)
        ]
    );
}

#[test]
fn pipelined_requests_wait_for_the_answer_in_order() {
    let mut d = Duo::new(AuthConfig::default());
    d.conn().auth_none().unwrap();
    d.conn().auth_password("pw", None).unwrap();
    d.drive();
    assert!(matches!(d.attempt(), AttemptMethod::None));
    assert!(d.server_events.is_empty(), "the password waits");
    d.server.reject().unwrap();
    d.drive();
    assert!(matches!(d.attempt(), AttemptMethod::Password { .. }));
}

#[test]
fn failure_delay_depends_only_on_the_user_and_is_bounded() {
    let mut d = Duo::new(AuthConfig::default());
    d.password("pw");
    d.attempt();
    let delay = |elapsed| d.server.failure_delay(elapsed);
    let base = delay(Duration::ZERO);
    assert!(base >= Duration::from_millis(5) && base < Duration::from_micros(9300));
    assert_eq!(delay(Duration::ZERO), base);
    let elapsed = Duration::from_millis(1);
    assert_eq!(delay(elapsed), base - elapsed);
    // A slow check doubles the target instead of answering early.
    assert_eq!(delay(base * 3 / 2), base * 2 - base * 3 / 2);
    assert_eq!(delay(Duration::from_secs(6)), Duration::ZERO);
}

#[test]
fn session_runs_after_login_with_delayed_compression_and_no_grace_timer() {
    let mut d = Duo::with(AuthConfig::default(), &["zlib@openssh.com", "none"]);
    d.password("pw");
    d.answer(true);
    // LoginGraceTime no longer applies.
    assert!(d.server.poll_timeout().unwrap() > d.now + Duration::from_secs(600));
    d.advance(Duration::from_secs(600));
    let cid = d.conn().open_session().unwrap();
    d.drive();
    let sid = match d.server_events.last() {
        Some(ServerEvent::Connection(ConnectionEvent::OpenRequested { id, .. })) => *id,
        other => panic!("{other:?}"),
    };
    d.server.accept_open(sid).unwrap();
    let exec = ChannelRequestKind::Exec {
        command: b"echo hi".to_vec(),
    };
    d.drive();
    d.conn().channel_request(cid, &exec, true).unwrap();
    d.drive();
    assert!(d
        .server_events
        .contains(&ServerEvent::Connection(ConnectionEvent::Request {
            id: sid,
            request: exec,
            want_reply: true
        })));
    d.server.reply_request(sid, true).unwrap();
    assert_eq!(d.server.write(sid, &[b'x'; 10_000], false).unwrap(), 10_000);
    d.server
        .channel_request(sid, &ChannelRequestKind::ExitStatus(3), false)
        .unwrap();
    d.server.send_eof(sid).unwrap();
    d.server.close(sid).unwrap();
    d.drive();
    let mut buf = vec![0u8; 20_000];
    assert_eq!(d.conn().read(cid, &mut buf, false).unwrap(), 10_000);
    assert!(d
        .client_events
        .contains(&ClientEvent::Connection(ConnectionEvent::Request {
            id: cid,
            request: ChannelRequestKind::ExitStatus(3),
            want_reply: false
        })));
    assert!(d.client_error.is_none() && d.server_error.is_none());
    assert!(d
        .server_events
        .contains(&ServerEvent::Connection(ConnectionEvent::Closed(sid))));
}

#[test]
fn keepalive_replies_are_consumed_and_the_callers_global_replies_come_in_order() {
    let mut d = Duo::new(AuthConfig::default());
    d.password("pw");
    d.answer(true);
    d.drive();
    d.conn().set_keepalive(Duration::from_secs(5), 3);
    // The first tick only notes the login traffic; the second, after silence, probes.
    for _ in 0..2 {
        d.advance(Duration::from_secs(6));
        let now = d.now;
        d.conn().handle_timeout(now).unwrap();
        d.drive();
    }
    let probes = d
        .server_events
        .iter()
        .filter(|e| {
            matches!(e, ServerEvent::Connection(ConnectionEvent::GlobalRequest { name, want_reply: true, .. })
            if name == "keepalive@openssh.com")
        })
        .count();
    assert!(probes > 0, "{:?}", d.server_events);
    // The caller's request goes out behind the probes; the server answers all in order.
    d.conn()
        .global_request("tcpip-forward", true, &[0, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    d.drive();
    for _ in 0..probes {
        d.server.reply_global(false, &[]).unwrap();
    }
    d.server.reply_global(true, &[0, 0, 0x10, 0x92]).unwrap();
    d.drive();
    let replies: Vec<&ClientEvent> = d
        .client_events
        .iter()
        .filter(|e| {
            matches!(
                e,
                ClientEvent::Connection(ConnectionEvent::GlobalReply { .. })
            )
        })
        .collect();
    assert_eq!(
        replies,
        [&ClientEvent::Connection(ConnectionEvent::GlobalReply {
            success: true,
            data: vec![0, 0, 0x10, 0x92]
        })]
    );
    // A reply nobody asked for is a protocol error.
    d.server.reply_global(true, &[]).unwrap();
    d.drive();
    assert!(d.client_error.is_some());
}

#[test]
fn channels_the_server_opens_reach_the_client_caller() {
    let mut d = Duo::new(AuthConfig::default());
    d.password("pw");
    d.answer(true);
    d.drive();
    let sid = d
        .server
        .open_channel("auth-agent@openssh.com", &[])
        .unwrap();
    d.drive();
    let cid = match d.client_events.last() {
        Some(ClientEvent::Connection(ConnectionEvent::OpenRequested {
            id, channel_type, ..
        })) if channel_type == "auth-agent@openssh.com" => *id,
        other => panic!("{other:?}"),
    };
    d.conn().accept_open(cid).unwrap();
    d.drive();
    assert!(d
        .server_events
        .contains(&ServerEvent::Connection(ConnectionEvent::OpenConfirmed(
            sid
        ))));
    let second = d.server.open_channel("forwarded-tcpip", &[]).unwrap();
    d.drive();
    let cid = match d.client_events.last() {
        Some(ClientEvent::Connection(ConnectionEvent::OpenRequested { id, .. })) => *id,
        other => panic!("{other:?}"),
    };
    d.conn().reject_open(cid, 2, "connect failed").unwrap();
    d.drive();
    assert!(d
        .server_events
        .contains(&ServerEvent::Connection(ConnectionEvent::OpenFailed {
            id: second,
            reason: 2,
            description: "connect failed".into()
        })));
}
