//! The client side of user authentication (RFC 4252, RFC 4256, RFC 8332): builds the
//! requests, interprets the answers. Which method to try next, and signing, belong to
//! the caller; message 60 is decoded by the method in flight, as RFC 4252 requires.

use oxssh_wire::names::service;
use oxssh_wire::transport::Message;
use oxssh_wire::userauth::{
    num, AuthMethod, UserauthBanner, UserauthFailure, UserauthInfoRequest, UserauthInfoResponse,
    UserauthPasswdChangeReq, UserauthPkOk, UserauthRequest,
};
use zeroize::Zeroizing;

use crate::error::{PeerMisbehaved, TransportError};

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthEvent {
    /// The server's pre-authentication banner (show it on stderr).
    Banner(String),
    /// The attempt failed; these methods can continue.
    Failure {
        /// Methods that may continue.
        methods: Vec<String>,
        /// The attempt succeeded but more methods are required.
        partial_success: bool,
    },
    /// The server would accept this public key: sign and send it.
    PkOk {
        /// Algorithm from the query.
        algorithm: String,
        /// Key blob from the query.
        key: Vec<u8>,
    },
    /// The password expired: ask for a new one.
    PasswordChangeRequest {
        /// The server's prompt.
        prompt: String,
    },
    /// Keyboard-interactive prompts to answer.
    InfoRequest(UserauthInfoRequest),
    /// Authenticated.
    Success,
}

/// The method whose answer is awaited: it decides what message 60 means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InFlight {
    Idle,
    None,
    PublicKeyQuery,
    PublicKeySigned,
    Password,
    KeyboardInteractive,
}

/// Client authentication state.
#[derive(Debug)]
pub struct AuthClient {
    user: String,
    in_flight: InFlight,
    authenticated: bool,
}

fn protocol(what: &'static str) -> TransportError {
    PeerMisbehaved::Auth(what).into()
}

impl AuthClient {
    /// Authentication for `user`, for the `ssh-connection` service.
    pub fn new(user: &str) -> Self {
        Self {
            user: user.to_owned(),
            in_flight: InFlight::Idle,
            authenticated: false,
        }
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether USERAUTH_SUCCESS arrived.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    fn request(&self, method: AuthMethod) -> UserauthRequest {
        UserauthRequest {
            user: self.user.clone(),
            service: service::CONNECTION.to_owned(),
            method,
        }
    }

    fn start(
        &mut self,
        in_flight: InFlight,
        method: AuthMethod,
    ) -> Result<Vec<u8>, TransportError> {
        if self.authenticated {
            return Err(TransportError::ApiMisuse("already authenticated"));
        }
        self.in_flight = in_flight;
        Ok(self.request(method).to_payload())
    }

    /// `none`: learns which methods can continue (RFC 4252 §5.2).
    pub fn none(&mut self) -> Result<Vec<u8>, TransportError> {
        self.start(InFlight::None, AuthMethod::None)
    }

    /// Asks whether `key` would be accepted, without signing (RFC 4252 §7).
    pub fn publickey_query(
        &mut self,
        algorithm: &str,
        key: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        self.start(
            InFlight::PublicKeyQuery,
            AuthMethod::PublicKey {
                algorithm: algorithm.to_owned(),
                key: key.to_vec(),
                signature: None,
            },
        )
    }

    /// The bytes to sign for a public-key attempt with `algorithm` and `key`.
    pub fn publickey_signed_data(&self, session_id: &[u8], algorithm: &str, key: &[u8]) -> Vec<u8> {
        self.request(AuthMethod::PublicKey {
            algorithm: algorithm.to_owned(),
            key: key.to_vec(),
            signature: Some(Vec::new()),
        })
        .signed_data(session_id)
        .unwrap_or_default()
    }

    /// A signed public-key attempt; `signature` is the blob (`string alg, string sig`).
    pub fn publickey_signed(
        &mut self,
        algorithm: &str,
        key: &[u8],
        signature: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        self.start(
            InFlight::PublicKeySigned,
            AuthMethod::PublicKey {
                algorithm: algorithm.to_owned(),
                key: key.to_vec(),
                signature: Some(signature.to_vec()),
            },
        )
    }

    /// `password`, optionally answering a change request with a new one (RFC 4252 §8).
    /// The returned payload holds the password: it is zeroized when dropped.
    pub fn password(
        &mut self,
        password: &str,
        new_password: Option<&str>,
    ) -> Result<Zeroizing<Vec<u8>>, TransportError> {
        let payload = self.start(
            InFlight::Password,
            AuthMethod::Password {
                password: password.to_owned(),
                new_password: new_password.map(str::to_owned),
            },
        )?;
        Ok(Zeroizing::new(payload))
    }

    /// `keyboard-interactive` (RFC 4256 §3.1).
    pub fn keyboard_interactive(&mut self, submethods: &str) -> Result<Vec<u8>, TransportError> {
        self.start(
            InFlight::KeyboardInteractive,
            AuthMethod::KeyboardInteractive {
                language: String::new(),
                submethods: submethods.to_owned(),
            },
        )
    }

    /// Answers an INFO_REQUEST (RFC 4256 §3.4). Zeroized when dropped.
    pub fn info_response(
        &mut self,
        answers: &[&str],
    ) -> Result<Zeroizing<Vec<u8>>, TransportError> {
        if self.in_flight != InFlight::KeyboardInteractive {
            return Err(TransportError::ApiMisuse(
                "no keyboard-interactive exchange",
            ));
        }
        let msg = UserauthInfoResponse {
            responses: answers.iter().map(|a| (*a).to_owned()).collect(),
        };
        Ok(Zeroizing::new(msg.to_payload()))
    }

    /// Interprets a userauth message (numbers 50..=79) from the server.
    pub fn handle(&mut self, payload: &[u8]) -> Result<AuthEvent, TransportError> {
        let number = payload.first().copied().unwrap_or_default();
        if self.authenticated {
            return Err(protocol("authentication message after success"));
        }
        match number {
            num::USERAUTH_BANNER => Ok(AuthEvent::Banner(UserauthBanner::decode(payload)?.message)),
            num::USERAUTH_SUCCESS => {
                self.expect_reply()?;
                oxssh_wire::userauth::UserauthSuccess::decode(payload)?;
                self.authenticated = true;
                self.in_flight = InFlight::Idle;
                Ok(AuthEvent::Success)
            }
            num::USERAUTH_FAILURE => {
                self.expect_reply()?;
                let m = UserauthFailure::decode(payload)?;
                self.in_flight = InFlight::Idle;
                Ok(AuthEvent::Failure {
                    methods: m.methods.0,
                    partial_success: m.partial_success,
                })
            }
            num::USERAUTH_METHOD_SPECIFIC => match self.in_flight {
                InFlight::PublicKeyQuery => {
                    let m = UserauthPkOk::decode(payload)?;
                    self.in_flight = InFlight::Idle;
                    Ok(AuthEvent::PkOk {
                        algorithm: m.algorithm,
                        key: m.key,
                    })
                }
                InFlight::Password => {
                    let m = UserauthPasswdChangeReq::decode(payload)?;
                    self.in_flight = InFlight::Idle;
                    Ok(AuthEvent::PasswordChangeRequest { prompt: m.prompt })
                }
                InFlight::KeyboardInteractive => Ok(AuthEvent::InfoRequest(
                    UserauthInfoRequest::decode(payload)?,
                )),
                _ => Err(protocol("method-specific message with no method in flight")),
            },
            _ => Err(PeerMisbehaved::UnexpectedMessage {
                number,
                phase: "user authentication",
            }
            .into()),
        }
    }

    fn expect_reply(&self) -> Result<(), TransportError> {
        if self.in_flight == InFlight::Idle {
            Err(protocol("answer to no request"))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxssh_wire::userauth::{Prompt, UserauthSuccess};
    use oxssh_wire::NameList;

    #[test]
    fn method_specific_message_is_read_by_the_method_in_flight() {
        let mut a = AuthClient::new("u");
        a.publickey_query("ssh-ed25519", &[1, 2]).unwrap();
        let pk_ok = UserauthPkOk {
            algorithm: "ssh-ed25519".into(),
            key: vec![1, 2],
        }
        .to_payload();
        assert!(matches!(a.handle(&pk_ok).unwrap(), AuthEvent::PkOk { .. }));
        a.keyboard_interactive("").unwrap();
        let info = UserauthInfoRequest {
            name: String::new(),
            instruction: String::new(),
            language: String::new(),
            prompts: vec![Prompt {
                text: "Password: ".into(),
                echo: false,
            }],
        }
        .to_payload();
        assert!(matches!(
            a.handle(&info).unwrap(),
            AuthEvent::InfoRequest(_)
        ));
        a.info_response(&["pw"]).unwrap();
        assert_eq!(
            a.handle(&UserauthSuccess.to_payload()).unwrap(),
            AuthEvent::Success
        );
        assert!(a.is_authenticated());
        assert!(a.none().is_err());
    }

    #[test]
    fn unsolicited_answers_are_protocol_errors() {
        let mut a = AuthClient::new("u");
        let failure = UserauthFailure {
            methods: NameList::from_names(["publickey"]),
            partial_success: false,
        }
        .to_payload();
        assert!(a.handle(&failure).is_err());
        assert!(a
            .handle(
                &UserauthPkOk {
                    algorithm: "x".into(),
                    key: vec![]
                }
                .to_payload()
            )
            .is_err());
        a.none().unwrap();
        assert_eq!(
            a.handle(&failure).unwrap(),
            AuthEvent::Failure {
                methods: vec!["publickey".into()],
                partial_success: false
            }
        );
    }
}
