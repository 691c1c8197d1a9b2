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
mod server_duo;

use std::time::Duration;

use oxssh_keys::certificate::{CertType, Certificate};
use oxssh_proto::auth::{AttemptMethod, AuthConfig, AuthEvent, AuthenticationMethods, Method};
use oxssh_proto::crypto::SigningKey;
use oxssh_proto::{ServerEvent, TransportError};
use oxssh_wire::transport::Message;
use oxssh_wire::userauth::{AuthMethod, UserauthInfoResponse, UserauthRequest};
use oxssh_wire::{DisconnectReason, Writer};

use server_duo::*;

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
