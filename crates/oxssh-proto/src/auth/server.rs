//! The server side of user authentication (RFC 4252, RFC 4256, RFC 8332), as OpenSSH's
//! sshd runs it: which methods may be tried (`AuthenticationMethods`), public-key
//! signature checks and failure counting (`MaxAuthTries`).
//!
//! Policy (is this key authorised for this user, is this password right) is never run
//! here: each attempt becomes an [`AuthAttempt`] for the caller, who answers through
//! [`AuthServer::accept`], [`AuthServer::reject`], [`AuthServer::pk_ok`],
//! [`AuthServer::info_request`] or [`AuthServer::password_change_request`]. What the core
//! can decide alone (a bad signature, an algorithm not accepted, a method not allowed
//! now) it decides alone, identically for every user name, so the answer path never
//! reveals whether a user exists.

use std::collections::VecDeque;
use std::sync::Arc;

use oxssh_keys::certificate::Certificate;
use oxssh_keys::PublicKey;
use oxssh_wire::names::service;
use oxssh_wire::transport::Message;
use oxssh_wire::userauth::method::NONE;
use oxssh_wire::userauth::{
    num, AuthMethod, Prompt, UserauthBanner, UserauthFailure, UserauthInfoRequest,
    UserauthInfoResponse, UserauthPasswdChangeReq, UserauthPkOk, UserauthRequest, UserauthSuccess,
    MAX_PROMPTS,
};
use oxssh_wire::{DisconnectReason, NameList, Reader};

pub use super::policy::{AuthConfig, AuthenticationMethods, Method, Secret};
use crate::crypto::CryptoProvider;
use crate::error::{PeerMisbehaved, TransportError};

/// The method-specific part of an attempt the policy must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptMethod {
    /// `none`: answer `accept` only for users who need no authentication.
    None,
    /// "Would you accept this key?" (no signature yet): answer `pk_ok` or `reject`.
    PublicKeyQuery {
        /// Signature algorithm the client will use.
        algorithm: String,
        /// The key (for a certificate, the certified key).
        key: PublicKey,
        /// The certificate, for a `*-cert-v01@openssh.com` algorithm: well-formed, its
        /// key of the algorithm's type and the CA's signature over it verified. Whether
        /// the CA is trusted and the certificate valid now and for this user is the
        /// policy's to decide.
        certificate: Option<Box<Certificate>>,
    },
    /// A key whose signature over this session the core already verified, with an
    /// algorithm in `PubkeyAcceptedAlgorithms`: answer whether it is authorised.
    PublicKey {
        /// Signature algorithm used.
        algorithm: String,
        /// The key (for a certificate, the certified key).
        key: PublicKey,
        /// The certificate, checked as for [`AttemptMethod::PublicKeyQuery`].
        certificate: Option<Box<Certificate>>,
    },
    /// A password (and a new one when answering a change request).
    Password {
        /// The password.
        password: Secret,
        /// The new password, after [`AuthServer::password_change_request`].
        new_password: Option<Secret>,
    },
    /// Keyboard-interactive starts: answer with `info_request` (or accept/reject).
    KeyboardInteractiveStart {
        /// The client's submethod hints.
        submethods: String,
    },
    /// Answers to the last `info_request`, one per prompt.
    KeyboardInteractiveResponse {
        /// The answers, in prompt order.
        answers: Vec<Secret>,
    },
}

impl AttemptMethod {
    /// The RFC 4252 method name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::None => NONE,
            Self::PublicKeyQuery { .. } | Self::PublicKey { .. } => Method::PublicKey.name(),
            Self::Password { .. } => Method::Password.name(),
            Self::KeyboardInteractiveStart { .. } | Self::KeyboardInteractiveResponse { .. } => {
                Method::KeyboardInteractive.name()
            }
        }
    }
}

/// One authentication attempt awaiting the policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthAttempt {
    /// The user name as sent (not yet known to exist).
    pub user: String,
    /// What was tried.
    pub method: AttemptMethod,
}

/// What the authentication layer has to tell its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthStep {
    /// The policy must answer this attempt.
    Request(AuthAttempt),
    /// The core refused an attempt without asking the policy (for the auth log).
    Refused {
        /// User name as sent.
        user: String,
        /// Method name as sent.
        method: String,
        /// Why.
        reason: &'static str,
    },
    /// A method succeeded but `AuthenticationMethods` requires more.
    PartialSuccess {
        /// The user.
        user: String,
        /// The method that succeeded.
        method: Method,
    },
    /// Authenticated; USERAUTH_SUCCESS is queued.
    Success {
        /// The user.
        user: String,
        /// The method that completed authentication (`None` for `none`).
        method: Option<Method>,
    },
}

/// The attempt whose answer is awaited.
#[derive(Debug)]
enum Pending {
    None,
    PublicKeyQuery { algorithm: String, key: Vec<u8> },
    PublicKey { key: PublicKey },
    Password,
    KeyboardInteractive,
}

impl Pending {
    fn method(&self) -> Option<Method> {
        match self {
            Self::None => None,
            Self::PublicKeyQuery { .. } | Self::PublicKey { .. } => Some(Method::PublicKey),
            Self::Password => Some(Method::Password),
            Self::KeyboardInteractive => Some(Method::KeyboardInteractive),
        }
    }

    fn name(&self) -> &'static str {
        self.method().map_or(NONE, Method::name)
    }
}

/// Where the exchange stands.
#[derive(Debug)]
enum State {
    /// Waiting for a USERAUTH_REQUEST.
    ExpectRequest,
    /// An [`AuthStep::Request`] is out; nothing proceeds until the caller answers.
    AwaitAnswer(Pending),
    /// INFO_REQUEST sent with this many prompts.
    ExpectInfoResponse { prompts: usize },
    /// USERAUTH_SUCCESS sent: further requests are ignored (RFC 4252 §5.1).
    Authenticated,
}

/// OpenSSH ends a connection after this many requests, failed or not.
const MAX_ATTEMPTS: u32 = 1024;

/// Server authentication state for one connection.
#[derive(Debug)]
pub struct AuthServer {
    config: AuthConfig,
    provider: Arc<CryptoProvider>,
    /// `None`: any method suffices; otherwise the method lists still to complete.
    lists: Option<Vec<Vec<Method>>>,
    /// The user (and implicitly `ssh-connection`) fixed by the first request.
    user: Option<String>,
    state: State,
    attempts: u32,
    failures: u32,
    used_keys: Vec<PublicKey>,
    outbox: VecDeque<Vec<u8>>,
    steps: VecDeque<AuthStep>,
}

fn misuse(what: &'static str) -> TransportError {
    TransportError::ApiMisuse(what)
}

impl AuthServer {
    /// Authentication under `config`. Method lists naming a disabled method are dropped,
    /// as sshd does; none left is a configuration error.
    pub fn new(config: AuthConfig, provider: Arc<CryptoProvider>) -> Result<Self, TransportError> {
        let lists = match &config.authentication_methods {
            AuthenticationMethods::Any => None,
            AuthenticationMethods::Lists(lists) => {
                let usable: Vec<Vec<Method>> = lists
                    .iter()
                    .filter(|l| !l.is_empty() && l.iter().all(|m| config.enabled(*m)))
                    .cloned()
                    .collect();
                if usable.is_empty() {
                    return Err(TransportError::Config(
                        "no AuthenticationMethods left after removing disabled methods",
                    ));
                }
                Some(usable)
            }
        };
        Ok(Self {
            config,
            provider,
            lists,
            user: None,
            state: State::ExpectRequest,
            attempts: 0,
            failures: 0,
            used_keys: Vec::new(),
            outbox: VecDeque::new(),
            steps: VecDeque::new(),
        })
    }

    /// The user name fixed by the first request.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Whether USERAUTH_SUCCESS was sent.
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Authenticated)
    }

    /// Whether an attempt awaits the caller's answer (no input is handled until then).
    pub fn awaits_answer(&self) -> bool {
        matches!(self.state, State::AwaitAnswer(_))
    }

    /// Failed attempts counted towards `MaxAuthTries`.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The next payload to send.
    pub fn poll_output(&mut self) -> Option<Vec<u8>> {
        self.outbox.pop_front()
    }

    /// The next step for the caller.
    pub fn poll_step(&mut self) -> Option<AuthStep> {
        self.steps.pop_front()
    }

    /// Handles a userauth message (numbers 50..=79) from the client. `session_id` is the
    /// transport's session identifier (signed by public-key attempts).
    pub fn handle(&mut self, payload: &[u8], session_id: &[u8]) -> Result<(), TransportError> {
        let number = payload.first().copied().unwrap_or_default();
        if self.awaits_answer() {
            return Err(misuse("input handled while an answer is pending"));
        }
        match number {
            num::USERAUTH_REQUEST => {
                if self.is_authenticated() {
                    // RFC 4252 §5.1: requests after success SHOULD be silently ignored.
                    return Ok(());
                }
                self.handle_request(UserauthRequest::decode(payload)?, session_id)
            }
            num::USERAUTH_INFO_RESPONSE => {
                let State::ExpectInfoResponse { prompts } = self.state else {
                    return Err(PeerMisbehaved::Auth("info response without a request").into());
                };
                let m = UserauthInfoResponse::decode(payload)?;
                if m.responses.len() != prompts {
                    // RFC 4256 §3.4: a count mismatch is a failure.
                    return self.refuse(
                        Method::KeyboardInteractive.name(),
                        "wrong number of responses",
                    );
                }
                let answers = m.responses.into_iter().map(Secret::new).collect();
                self.ask(
                    Pending::KeyboardInteractive,
                    AttemptMethod::KeyboardInteractiveResponse { answers },
                );
                Ok(())
            }
            _ => Err(PeerMisbehaved::UnexpectedMessage {
                number,
                phase: "user authentication",
            }
            .into()),
        }
    }

    fn handle_request(
        &mut self,
        req: UserauthRequest,
        session_id: &[u8],
    ) -> Result<(), TransportError> {
        if self.attempts >= MAX_ATTEMPTS {
            return Err(TransportError::TooManyAuthFailures);
        }
        self.attempts += 1;
        match &self.user {
            None => {
                if req.service != service::CONNECTION {
                    return Err(TransportError::LocallyClosed {
                        reason: DisconnectReason::ServiceNotAvailable,
                        description: "bad service request".into(),
                    });
                }
                self.user = Some(req.user.clone());
                if let Some(text) = &self.config.banner {
                    let banner = UserauthBanner {
                        message: text.clone(),
                        language: String::new(),
                    };
                    self.outbox.push_back(banner.to_payload());
                }
            }
            Some(user) if *user != req.user || req.service != service::CONNECTION => {
                return Err(
                    PeerMisbehaved::Auth("change of username or service not allowed").into(),
                );
            }
            Some(_) => {}
        }
        // A new request abandons a keyboard-interactive exchange (RFC 4256 §3.2).
        self.state = State::ExpectRequest;
        let signed_data = req.signed_data(session_id);
        match req.method {
            AuthMethod::None if self.lists.is_none() => {
                self.ask(Pending::None, AttemptMethod::None);
                Ok(())
            }
            AuthMethod::None => self.refuse(NONE, "method not allowed"),
            AuthMethod::PublicKey {
                algorithm,
                key,
                signature,
            } => self.handle_publickey(algorithm, key, signature, signed_data),
            AuthMethod::Password {
                password,
                new_password,
            } => {
                let method = AttemptMethod::Password {
                    password: Secret::new(password),
                    new_password: new_password.map(Secret::new),
                };
                self.try_method(Method::Password, Pending::Password, method)
            }
            AuthMethod::KeyboardInteractive { submethods, .. } => self.try_method(
                Method::KeyboardInteractive,
                Pending::KeyboardInteractive,
                AttemptMethod::KeyboardInteractiveStart { submethods },
            ),
            AuthMethod::Unknown(name) => self.refuse(&name, "unknown method"),
            _ => self.refuse("unknown", "unknown method"),
        }
    }

    fn handle_publickey(
        &mut self,
        algorithm: String,
        blob: Vec<u8>,
        signature: Option<Vec<u8>>,
        signed_data: Option<Vec<u8>>,
    ) -> Result<(), TransportError> {
        let name = Method::PublicKey.name();
        if !self.allowed(Method::PublicKey) {
            return self.refuse(name, "method not allowed");
        }
        let (key, certificate) = match self.check_key(&algorithm, &blob) {
            Ok(checked) => checked,
            Err(reason) => return self.refuse(name, reason),
        };
        let Some(signature) = signature else {
            let pending = Pending::PublicKeyQuery {
                algorithm: algorithm.clone(),
                key: blob,
            };
            let attempt = AttemptMethod::PublicKeyQuery {
                algorithm,
                key,
                certificate,
            };
            self.ask(pending, attempt);
            return Ok(());
        };
        let data = signed_data.unwrap_or_default();
        if let Err(reason) = self.verify(&algorithm, &key, &signature, &data) {
            return self.refuse(name, reason);
        }
        self.ask(
            Pending::PublicKey { key: key.clone() },
            AttemptMethod::PublicKey {
                algorithm,
                key,
                certificate,
            },
        );
        Ok(())
    }

    /// Checks what the core decides alone: algorithm accepted, key well-formed and of
    /// the algorithm's type, not already used for an earlier step; for a certificate
    /// (`PROTOCOL.certkeys`), also the CA's signature over it.
    fn check_key(
        &self,
        algorithm: &str,
        blob: &[u8],
    ) -> Result<(PublicKey, Option<Box<Certificate>>), &'static str> {
        if !self
            .config
            .pubkey_accepted_algorithms
            .iter()
            .any(|a| a == algorithm)
        {
            return Err("signature algorithm not in PubkeyAcceptedAlgorithms");
        }
        let plain = crate::certificate::plain_algorithm(algorithm);
        let sig_alg = self
            .provider
            .signature(plain.unwrap_or(algorithm))
            .ok_or("unsupported signature algorithm")?;
        let (key, certificate) = match plain {
            None => (
                PublicKey::from_blob(blob).map_err(|_| "malformed public key")?,
                None,
            ),
            Some(_) => {
                let cert = Certificate::from_blob(blob).map_err(|_| "malformed certificate")?;
                crate::certificate::verify_signature(&self.provider, &cert)?;
                (cert.key.clone(), Some(Box::new(cert)))
            }
        };
        if key.key_type() != sig_alg.key_type() {
            return Err("key type does not match the signature algorithm");
        }
        if self.used_keys.contains(&key) {
            return Err("key already used");
        }
        Ok((key, certificate))
    }

    fn verify(
        &self,
        algorithm: &str,
        key: &PublicKey,
        signature: &[u8],
        data: &[u8],
    ) -> Result<(), &'static str> {
        let mut r = Reader::new(signature);
        let (name, sig) = match (r.utf8(), r.string()) {
            (Ok(name), Ok(sig)) if r.finish().is_ok() => (name, sig),
            _ => return Err("malformed signature"),
        };
        // A certificate's key signs with the plain algorithm (`PROTOCOL.certkeys`).
        let algorithm = crate::certificate::plain_algorithm(algorithm).unwrap_or(algorithm);
        if name != algorithm {
            return Err("signature algorithm does not match the request");
        }
        let sig_alg = self
            .provider
            .signature(algorithm)
            .ok_or("unsupported signature algorithm")?;
        sig_alg
            .verify(key, data, sig)
            .map_err(|_| "signature verification failed")
    }

    fn try_method(
        &mut self,
        method: Method,
        pending: Pending,
        attempt: AttemptMethod,
    ) -> Result<(), TransportError> {
        if self.allowed(method) {
            self.ask(pending, attempt);
            Ok(())
        } else {
            self.refuse(method.name(), "method not allowed")
        }
    }

    /// Whether `method` may be tried now: enabled and, with method lists, next in one.
    fn allowed(&self, method: Method) -> bool {
        self.config.enabled(method)
            && self
                .lists
                .as_ref()
                .is_none_or(|lists| lists.iter().any(|l| l.first() == Some(&method)))
    }

    /// The methods that can continue, for USERAUTH_FAILURE.
    fn can_continue(&self) -> NameList {
        NameList::from_names(
            Method::ALL
                .into_iter()
                .filter(|m| self.allowed(*m))
                .map(Method::name),
        )
    }

    fn current_user(&self) -> String {
        self.user.clone().unwrap_or_default()
    }

    fn ask(&mut self, pending: Pending, method: AttemptMethod) {
        self.state = State::AwaitAnswer(pending);
        self.steps.push_back(AuthStep::Request(AuthAttempt {
            user: self.current_user(),
            method,
        }));
    }

    fn refuse(&mut self, method: &str, reason: &'static str) -> Result<(), TransportError> {
        self.steps.push_back(AuthStep::Refused {
            user: self.current_user(),
            method: method.to_owned(),
            reason,
        });
        self.fail(method)
    }

    /// Sends USERAUTH_FAILURE, counting it as OpenSSH does: every failure but that of an
    /// initial `none`; at `MaxAuthTries` the connection ends instead.
    fn fail(&mut self, method: &str) -> Result<(), TransportError> {
        self.state = State::ExpectRequest;
        if self.attempts > 1 || method != NONE {
            self.failures += 1;
        }
        if self.failures >= self.config.max_auth_tries {
            return Err(TransportError::TooManyAuthFailures);
        }
        let failure = UserauthFailure {
            methods: self.can_continue(),
            partial_success: false,
        };
        self.outbox.push_back(failure.to_payload());
        Ok(())
    }

    /// Takes the attempt awaiting an answer if the answer `fits` it.
    fn answering(
        &mut self,
        fits: fn(&Pending) -> bool,
        wrong: &'static str,
    ) -> Result<Pending, TransportError> {
        match std::mem::replace(&mut self.state, State::ExpectRequest) {
            State::AwaitAnswer(p) if fits(&p) => Ok(p),
            other => {
                let awaiting = matches!(other, State::AwaitAnswer(_));
                self.state = other;
                Err(misuse(if awaiting {
                    wrong
                } else {
                    "no authentication attempt awaits an answer"
                }))
            }
        }
    }

    /// The attempt succeeded: USERAUTH_SUCCESS, or a partial success when
    /// `AuthenticationMethods` needs more. A public-key *query* cannot be accepted.
    pub fn accept(&mut self) -> Result<(), TransportError> {
        let pending = self.answering(
            |p| !matches!(p, Pending::PublicKeyQuery { .. }),
            "a public-key query is answered with pk_ok, not accept",
        )?;
        let method = pending.method();
        if let Pending::PublicKey { key } = pending {
            self.used_keys.push(key);
        }
        let user = self.current_user();
        let complete = match (&mut self.lists, method) {
            (None, _) => true,
            (Some(lists), Some(method)) => {
                let mut complete = false;
                for list in lists.iter_mut().filter(|l| l.first() == Some(&method)) {
                    list.remove(0);
                    complete |= list.is_empty();
                }
                complete
            }
            // `none` is never asked about under method lists.
            (Some(_), None) => false,
        };
        match (complete, method) {
            (true, _) | (false, None) => {
                self.outbox.push_back(UserauthSuccess.to_payload());
                self.state = State::Authenticated;
                self.steps.push_back(AuthStep::Success { user, method });
            }
            (false, Some(method)) => {
                let failure = UserauthFailure {
                    methods: self.can_continue(),
                    partial_success: true,
                };
                self.outbox.push_back(failure.to_payload());
                self.steps
                    .push_back(AuthStep::PartialSuccess { user, method });
            }
        }
        Ok(())
    }

    /// The attempt failed: USERAUTH_FAILURE, or the end of the connection with
    /// [`TransportError::TooManyAuthFailures`] at `MaxAuthTries`.
    pub fn reject(&mut self) -> Result<(), TransportError> {
        let pending = self.answering(|_| true, "")?;
        self.fail(pending.name())
    }

    /// Answers a public-key query: the key would be accepted (USERAUTH_PK_OK).
    pub fn pk_ok(&mut self) -> Result<(), TransportError> {
        let pending = self.answering(
            |p| matches!(p, Pending::PublicKeyQuery { .. }),
            "pk_ok answers only a public-key query",
        )?;
        if let Pending::PublicKeyQuery { algorithm, key } = pending {
            self.outbox
                .push_back(UserauthPkOk { algorithm, key }.to_payload());
        }
        Ok(())
    }

    /// Sends keyboard-interactive prompts (USERAUTH_INFO_REQUEST); the answers come back
    /// as [`AttemptMethod::KeyboardInteractiveResponse`].
    pub fn info_request(
        &mut self,
        name: &str,
        instruction: &str,
        prompts: Vec<Prompt>,
    ) -> Result<(), TransportError> {
        if prompts.len() > MAX_PROMPTS as usize {
            return Err(misuse("too many prompts"));
        }
        self.answering(
            |p| matches!(p, Pending::KeyboardInteractive),
            "info_request answers only keyboard-interactive",
        )?;
        self.state = State::ExpectInfoResponse {
            prompts: prompts.len(),
        };
        let msg = UserauthInfoRequest {
            name: name.to_owned(),
            instruction: instruction.to_owned(),
            language: String::new(),
            prompts,
        };
        self.outbox.push_back(msg.to_payload());
        Ok(())
    }

    /// Answers a password attempt with "the password expired, send a new one"
    /// (USERAUTH_PASSWD_CHANGEREQ, RFC 4252 §8). Not counted as a failure.
    pub fn password_change_request(&mut self, prompt: &str) -> Result<(), TransportError> {
        self.answering(
            |p| matches!(p, Pending::Password),
            "password_change_request answers only a password",
        )?;
        let msg = UserauthPasswdChangeReq {
            prompt: prompt.to_owned(),
            language: String::new(),
        };
        self.outbox.push_back(msg.to_payload());
        Ok(())
    }
}
