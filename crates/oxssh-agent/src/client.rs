//! A client for a running agent over its Unix socket. Every read and write has a
//! timeout, and answers are bounded: a broken agent cannot hang or flood the client.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use oxssh_keys::PublicKey;
use oxssh_proto::crypto::{CryptoError, SigningKey};
use oxssh_wire::names::key;
use oxssh_wire::Reader;

use oxssh_keys::PrivateKey;
use oxssh_wire::Writer;
use zeroize::Zeroizing;

use crate::codec::{
    num, Identity, Request, Response, MAX_MESSAGE, SIGN_RSA_SHA2_256, SIGN_RSA_SHA2_512,
};
use crate::keyblob::encode_private_key;
use crate::server::{encode_constraints, Constraints};

/// How long one agent exchange may take (an agent may ask the user to confirm).
const AGENT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why talking to the agent failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The socket could not be reached, read or written.
    #[error("agent communication failed: {0}")]
    Io(#[from] std::io::Error),
    /// The agent answered something malformed or unexpected.
    #[error("agent protocol error: {0}")]
    Protocol(String),
    /// The agent refused the request.
    #[error("agent refused operation")]
    Refused,
}

/// A connection to an agent.
#[derive(Debug)]
pub struct AgentClient {
    stream: UnixStream,
}

impl AgentClient {
    /// Connects to the agent socket at `path` (`SSH_AUTH_SOCK`).
    pub fn connect(path: &Path) -> Result<Self, AgentError> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(AGENT_TIMEOUT))?;
        stream.set_write_timeout(Some(AGENT_TIMEOUT))?;
        Ok(Self { stream })
    }

    fn call(&mut self, request: &Request) -> Result<Response, AgentError> {
        self.call_frame(&request.to_frame())
    }

    fn call_frame(&mut self, frame: &[u8]) -> Result<Response, AgentError> {
        self.stream.write_all(frame)?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > MAX_MESSAGE {
            return Err(AgentError::Protocol(format!("bad message length {len}")));
        }
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body)?;
        Response::decode(&body).map_err(|e| AgentError::Protocol(e.to_string()))
    }

    /// The keys the agent holds.
    pub fn identities(&mut self) -> Result<Vec<Identity>, AgentError> {
        match self.call(&Request::Identities)? {
            Response::Identities(ids) => Ok(ids),
            Response::Failure => Err(AgentError::Refused),
            other => Err(AgentError::Protocol(format!("unexpected answer {other:?}"))),
        }
    }

    /// Signs `data` with the key `key_blob`; returns the signature blob.
    pub fn sign(
        &mut self,
        key_blob: &[u8],
        data: &[u8],
        flags: u32,
    ) -> Result<Vec<u8>, AgentError> {
        let request = Request::Sign {
            key_blob: key_blob.to_vec(),
            data: data.to_vec(),
            flags,
        };
        match self.call(&request)? {
            Response::Signature(sig) => Ok(sig),
            Response::Failure => Err(AgentError::Refused),
            other => Err(AgentError::Protocol(format!("unexpected answer {other:?}"))),
        }
    }

    /// Adds `key` with `constraints` (`ssh-add`, `ssh-add -t`, `ssh-add -c`).
    pub fn add(&mut self, key: &PrivateKey, constraints: &Constraints) -> Result<(), AgentError> {
        let constrained = *constraints != Constraints::default();
        let mut body = Zeroizing::new(Vec::with_capacity(16 * 1024));
        body.push(if constrained {
            num::ADD_ID_CONSTRAINED
        } else {
            num::ADD_IDENTITY
        });
        encode_private_key(key, &mut body);
        encode_constraints(constraints, &mut body);
        let mut frame = Zeroizing::new(Vec::with_capacity(body.len() + 4));
        Writer::new(&mut frame).string(&body);
        self.expect_success(&frame)
    }

    /// Removes the key `key_blob` (`ssh-add -d`).
    pub fn remove(&mut self, key_blob: &[u8]) -> Result<(), AgentError> {
        self.expect_success(
            &Request::Remove {
                key_blob: key_blob.to_vec(),
            }
            .to_frame(),
        )
    }

    /// Removes every key (`ssh-add -D`).
    pub fn remove_all(&mut self) -> Result<(), AgentError> {
        self.expect_success(&Request::RemoveAll.to_frame())
    }

    /// Locks (`lock`) or unlocks the agent with `passphrase` (`ssh-add -x` / `-X`).
    pub fn lock(&mut self, lock: bool, passphrase: &[u8]) -> Result<(), AgentError> {
        let mut body = Zeroizing::new(Vec::with_capacity(passphrase.len() + 8));
        Writer::new(&mut body)
            .u8(if lock { num::LOCK } else { num::UNLOCK })
            .string(passphrase);
        let mut frame = Zeroizing::new(Vec::with_capacity(body.len() + 4));
        Writer::new(&mut frame).string(&body);
        self.expect_success(&frame)
    }

    fn expect_success(&mut self, frame: &[u8]) -> Result<(), AgentError> {
        match self.call_frame(frame)? {
            Response::Success => Ok(()),
            Response::Failure => Err(AgentError::Refused),
            other => Err(AgentError::Protocol(format!("unexpected answer {other:?}"))),
        }
    }

    /// Every parseable agent key as a [`SigningKey`] sharing this connection.
    pub fn keys(self) -> Result<Vec<AgentKey>, AgentError> {
        let shared = std::sync::Arc::new(Mutex::new(self));
        let ids = shared
            .lock()
            .map_err(|_| AgentError::Protocol("agent connection poisoned".into()))?
            .identities()?;
        Ok(ids
            .into_iter()
            .filter_map(|id| {
                // Keys we cannot parse (certificates, sk-*) are skipped, as OpenSSH skips
                // keys it cannot use.
                PublicKey::from_blob(&id.key_blob)
                    .ok()
                    .map(|public| AgentKey {
                        agent: shared.clone(),
                        public,
                        blob: id.key_blob,
                        comment: id.comment,
                    })
            })
            .collect())
    }
}

/// A key held by the agent, usable wherever a [`SigningKey`] is.
#[derive(Debug)]
pub struct AgentKey {
    agent: std::sync::Arc<Mutex<AgentClient>>,
    public: PublicKey,
    blob: Vec<u8>,
    comment: String,
}

impl AgentKey {
    /// The comment the agent gave.
    pub fn comment(&self) -> &str {
        &self.comment
    }
}

impl SigningKey for AgentKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn signature_algorithms(&self) -> Vec<&'static str> {
        match self.public.key_type() {
            t if t == key::SSH_RSA => vec![key::RSA_SHA2_512, key::RSA_SHA2_256],
            t if t == key::SSH_ED25519 => vec![key::SSH_ED25519],
            t if t == key::ECDSA_SHA2_NISTP256 => vec![key::ECDSA_SHA2_NISTP256],
            t if t == key::ECDSA_SHA2_NISTP384 => vec![key::ECDSA_SHA2_NISTP384],
            t if t == key::ECDSA_SHA2_NISTP521 => vec![key::ECDSA_SHA2_NISTP521],
            _ => Vec::new(),
        }
    }

    fn sign(&self, algorithm: &str, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let flags = match algorithm {
            a if a == key::RSA_SHA2_512 => SIGN_RSA_SHA2_512,
            a if a == key::RSA_SHA2_256 => SIGN_RSA_SHA2_256,
            _ => 0,
        };
        let blob = self
            .agent
            .lock()
            .map_err(|_| CryptoError::Unsupported("agent connection poisoned"))?
            .sign(&self.blob, message, flags)
            .map_err(|_| CryptoError::Unsupported("agent refused to sign"))?;
        // The agent returns `string algorithm || string signature`; we return the inside.
        let mut r = Reader::new(&blob);
        let name = r.utf8().map_err(|_| CryptoError::BadSignature)?;
        let sig = r.string().map_err(|_| CryptoError::BadSignature)?;
        if name != algorithm || r.finish().is_err() {
            return Err(CryptoError::BadSignature);
        }
        Ok(sig.to_vec())
    }
}
