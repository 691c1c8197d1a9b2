//! What clients ask the agent (OpenSSH PROTOCOL.agent, draft-ietf-sshm-ssh-agent §4),
//! decoded once into typed requests. Secrets (keys, lock passphrases) are wiped on drop
//! and never printed by `Debug`.

use std::fmt;
use std::time::Duration;

use oxssh_keys::PrivateKey;
use oxssh_wire::{DecodeError, Reader};
use zeroize::Zeroizing;

use crate::codec::num;
use crate::keyblob::{decode_private_key, KeyBlobError};

/// Constraint numbers (PROTOCOL.agent §3.2.7).
mod constraint {
    pub const LIFETIME: u8 = 1;
    pub const CONFIRM: u8 = 2;
}

/// Why a request could not be decoded. The connection stays open: the agent answers
/// FAILURE, as OpenSSH does for a well-framed but unusable message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Truncated, trailing or malformed fields.
    #[error("malformed request: {0}")]
    Decode(#[from] DecodeError),
    /// The key in an ADD request.
    #[error("{0}")]
    Key(#[from] KeyBlobError),
    /// A constraint we do not implement (max-signatures, extensions).
    #[error("unsupported key constraint {0}")]
    Constraint(u8),
}

/// Constraints on an added key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Constraints {
    /// The key is removed after this long (`ssh-add -t`).
    pub lifetime: Option<Duration>,
    /// Each use must be confirmed by the user (`ssh-add -c`).
    pub confirm: bool,
}

/// A decoded client request.
#[non_exhaustive]
pub enum ClientRequest {
    /// SSH_AGENTC_REQUEST_IDENTITIES
    Identities,
    /// SSH_AGENTC_SIGN_REQUEST
    Sign {
        /// The key's public blob.
        key_blob: Vec<u8>,
        /// The data to sign.
        data: Vec<u8>,
        /// `SIGN_RSA_SHA2_*` flags.
        flags: u32,
    },
    /// SSH_AGENTC_ADD_IDENTITY / SSH_AGENTC_ADD_ID_CONSTRAINED
    Add {
        /// The key (wiped on drop).
        key: PrivateKey,
        /// Its constraints.
        constraints: Constraints,
    },
    /// SSH_AGENTC_REMOVE_IDENTITY
    Remove {
        /// The key's public blob.
        key_blob: Vec<u8>,
    },
    /// SSH_AGENTC_REMOVE_ALL_IDENTITIES
    RemoveAll,
    /// SSH_AGENTC_LOCK
    Lock(Zeroizing<Vec<u8>>),
    /// SSH_AGENTC_UNLOCK
    Unlock(Zeroizing<Vec<u8>>),
    /// SSH_AGENTC_EXTENSION: the name and its contents.
    Extension {
        /// Extension name, e.g. `session-bind@openssh.com`.
        name: String,
        /// The rest of the message.
        contents: Vec<u8>,
    },
    /// Any other message number.
    Unknown(u8),
}

impl fmt::Debug for ClientRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Identities => f.write_str("Identities"),
            Self::Sign { flags, data, .. } => {
                write!(f, "Sign({} bytes, flags {flags})", data.len())
            }
            Self::Add { key, constraints } => write!(f, "Add({key:?}, {constraints:?})"),
            Self::Remove { .. } => f.write_str("Remove"),
            Self::RemoveAll => f.write_str("RemoveAll"),
            Self::Lock(_) => f.write_str("Lock(<redacted>)"),
            Self::Unlock(_) => f.write_str("Unlock(<redacted>)"),
            Self::Extension { name, .. } => write!(f, "Extension({name})"),
            Self::Unknown(n) => write!(f, "Unknown({n})"),
        }
    }
}

impl ClientRequest {
    /// Decodes one message body (without its length prefix).
    pub fn decode(body: &[u8]) -> Result<Self, RequestError> {
        let mut r = Reader::new(body);
        let request = match r.u8()? {
            num::REQUEST_IDENTITIES => Self::Identities,
            num::SIGN_REQUEST => Self::Sign {
                key_blob: r.string()?.to_vec(),
                data: r.string()?.to_vec(),
                flags: r.u32()?,
            },
            number @ (num::ADD_IDENTITY | num::ADD_ID_CONSTRAINED) => {
                let key = decode_private_key(&mut r)?;
                let constraints = if number == num::ADD_ID_CONSTRAINED {
                    decode_constraints(&mut r)?
                } else {
                    Constraints::default()
                };
                Self::Add { key, constraints }
            }
            num::REMOVE_IDENTITY => Self::Remove {
                key_blob: r.string()?.to_vec(),
            },
            num::REMOVE_ALL_IDENTITIES => Self::RemoveAll,
            num::LOCK => Self::Lock(Zeroizing::new(r.string()?.to_vec())),
            num::UNLOCK => Self::Unlock(Zeroizing::new(r.string()?.to_vec())),
            num::EXTENSION => Self::Extension {
                name: String::from_utf8_lossy(r.string()?).into_owned(),
                contents: r.take(r.remaining())?.to_vec(),
            },
            other => {
                let _ = r.take(r.remaining())?;
                Self::Unknown(other)
            }
        };
        r.finish()?;
        Ok(request)
    }
}

fn decode_constraints(r: &mut Reader<'_>) -> Result<Constraints, RequestError> {
    let mut constraints = Constraints::default();
    while !r.is_empty() {
        match r.u8()? {
            constraint::LIFETIME => {
                constraints.lifetime = Some(Duration::from_secs(u64::from(r.u32()?)));
            }
            constraint::CONFIRM => constraints.confirm = true,
            other => return Err(RequestError::Constraint(other)),
        }
    }
    Ok(constraints)
}

/// Appends the constraints to an ADD_ID_CONSTRAINED body (for `oxssh-add`).
pub fn encode_constraints(constraints: &Constraints, out: &mut Vec<u8>) {
    if let Some(life) = constraints.lifetime {
        out.push(constraint::LIFETIME);
        let secs = u32::try_from(life.as_secs()).unwrap_or(u32::MAX);
        out.extend_from_slice(&secs.to_be_bytes());
    }
    if constraints.confirm {
        out.push(constraint::CONFIRM);
    }
}

/// `session-bind@openssh.com` contents: host key, session id, signature, forwarding flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionBind {
    /// The server's host key blob.
    pub host_key: Vec<u8>,
    /// The session identifier (exchange hash).
    pub session_id: Vec<u8>,
    /// The server's signature over the session id.
    pub signature: Vec<u8>,
    /// Whether the connection is a forwarded one.
    pub forwarding: bool,
}

impl SessionBind {
    /// Decodes the extension's contents.
    pub fn decode(contents: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(contents);
        let bind = Self {
            host_key: r.string()?.to_vec(),
            session_id: r.string()?.to_vec(),
            signature: r.string()?.to_vec(),
            forwarding: r.bool()?,
        };
        r.finish()?;
        Ok(bind)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::keyblob::encode_private_key;
    use oxssh_crypto::KeyKind;

    fn add_body() -> Vec<u8> {
        let key = oxssh_crypto::generate_private_key(KeyKind::Ed25519, "c").unwrap();
        let mut body = Zeroizing::new(vec![num::ADD_ID_CONSTRAINED]);
        encode_private_key(&key, &mut body);
        encode_constraints(
            &Constraints {
                lifetime: Some(Duration::from_secs(7)),
                confirm: true,
            },
            &mut body,
        );
        body.to_vec()
    }

    #[test]
    fn constrained_add_decodes_with_its_constraints() {
        match ClientRequest::decode(&add_body()).unwrap() {
            ClientRequest::Add { key, constraints } => {
                assert_eq!(key.comment(), "c");
                assert_eq!(constraints.lifetime, Some(Duration::from_secs(7)));
                assert!(constraints.confirm);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_truncation_and_unknown_constraint_is_an_error_not_a_panic() {
        let body = add_body();
        for len in 1..body.len() {
            let _ = ClientRequest::decode(&body[..len]);
        }
        let mut bad = body.clone();
        bad.push(3);
        assert!(matches!(
            ClientRequest::decode(&bad),
            Err(RequestError::Constraint(3))
        ));
        // Pseudo-random bodies behind every message number.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for round in 0..20_000u32 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 64) as usize;
            let mut body: Vec<u8> = (0..len)
                .map(|i| (state >> ((i % 8) * 8)) as u8 ^ i as u8)
                .collect();
            if let Some(first) = body.first_mut() {
                *first = (round % 30) as u8;
            }
            let _ = ClientRequest::decode(&body);
        }
    }

    #[test]
    fn session_bind_decodes_and_rejects_trailing_bytes() {
        let mut contents = Vec::new();
        oxssh_wire::Writer::new(&mut contents)
            .string(b"hostkey")
            .string(b"sid")
            .string(b"sig")
            .bool(false);
        let bind = SessionBind::decode(&contents).unwrap();
        assert_eq!(bind.session_id, b"sid");
        contents.push(0);
        assert!(SessionBind::decode(&contents).is_err());
    }
}
