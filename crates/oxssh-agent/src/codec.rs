//! Agent messages: framing (`uint32 length || message`) and the requests a client sends.

use oxssh_wire::{DecodeError, Reader, Writer};

/// Longest agent message we accept (OpenSSH's agent uses 256 KiB).
pub const MAX_MESSAGE: usize = 256 * 1024;
/// Most identities we accept in one answer (bounds allocation).
pub const MAX_IDENTITIES: u32 = 2048;

/// Sign flag: RSA with SHA-256 (`rsa-sha2-256`).
pub const SIGN_RSA_SHA2_256: u32 = 2;
/// Sign flag: RSA with SHA-512 (`rsa-sha2-512`).
pub const SIGN_RSA_SHA2_512: u32 = 4;

/// Message numbers (PROTOCOL.agent, draft-ietf-sshm-ssh-agent §5.1).
pub(crate) mod num {
    pub const FAILURE: u8 = 5;
    pub const SUCCESS: u8 = 6;
    pub const REQUEST_IDENTITIES: u8 = 11;
    pub const IDENTITIES_ANSWER: u8 = 12;
    pub const SIGN_REQUEST: u8 = 13;
    pub const SIGN_RESPONSE: u8 = 14;
    pub const ADD_IDENTITY: u8 = 17;
    pub const REMOVE_IDENTITY: u8 = 18;
    pub const REMOVE_ALL_IDENTITIES: u8 = 19;
    pub const LOCK: u8 = 22;
    pub const UNLOCK: u8 = 23;
    pub const ADD_ID_CONSTRAINED: u8 = 25;
    pub const EXTENSION: u8 = 27;
}

/// A key the agent holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Public key blob.
    pub key_blob: Vec<u8>,
    /// Its comment.
    pub comment: String,
}

/// Requests a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// SSH_AGENTC_REQUEST_IDENTITIES
    Identities,
    /// SSH_AGENTC_SIGN_REQUEST
    Sign {
        /// Key blob.
        key_blob: Vec<u8>,
        /// Data to sign.
        data: Vec<u8>,
        /// `SIGN_RSA_SHA2_*` flags.
        flags: u32,
    },
    /// SSH_AGENTC_REMOVE_IDENTITY
    Remove {
        /// Key blob.
        key_blob: Vec<u8>,
    },
    /// SSH_AGENTC_REMOVE_ALL_IDENTITIES
    RemoveAll,
}

/// Answers an agent gives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    /// SSH_AGENT_FAILURE
    Failure,
    /// SSH_AGENT_SUCCESS
    Success,
    /// SSH_AGENT_IDENTITIES_ANSWER
    Identities(Vec<Identity>),
    /// SSH_AGENT_SIGN_RESPONSE: the signature blob.
    Signature(Vec<u8>),
    /// Any other message, by number.
    Other(u8),
}

impl Request {
    /// The framed message (length prefix included).
    pub fn to_frame(&self) -> Vec<u8> {
        let mut body = Vec::new();
        let mut w = Writer::new(&mut body);
        match self {
            Self::Identities => {
                w.u8(num::REQUEST_IDENTITIES);
            }
            Self::Sign {
                key_blob,
                data,
                flags,
            } => {
                w.u8(num::SIGN_REQUEST)
                    .string(key_blob)
                    .string(data)
                    .u32(*flags);
            }
            Self::Remove { key_blob } => {
                w.u8(num::REMOVE_IDENTITY).string(key_blob);
            }
            Self::RemoveAll => {
                w.u8(num::REMOVE_ALL_IDENTITIES);
            }
        }
        frame(&body)
    }
}

/// `uint32 length || body`.
pub(crate) fn frame(body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(body.len() + 4);
    Writer::new(&mut frame).string(body);
    frame
}

impl Response {
    /// The framed answer (length prefix included), as the agent sends it.
    pub fn to_frame(&self) -> Vec<u8> {
        let mut body = Vec::new();
        let mut w = Writer::new(&mut body);
        match self {
            Self::Failure => {
                w.u8(num::FAILURE);
            }
            Self::Success => {
                w.u8(num::SUCCESS);
            }
            Self::Identities(ids) => {
                w.u8(num::IDENTITIES_ANSWER)
                    .u32(u32::try_from(ids.len()).unwrap_or(u32::MAX));
                for id in ids {
                    w.string(&id.key_blob).string(id.comment.as_bytes());
                }
            }
            Self::Signature(sig) => {
                w.u8(num::SIGN_RESPONSE).string(sig);
            }
            Self::Other(n) => {
                w.u8(*n);
            }
        }
        frame(&body)
    }
}

impl Response {
    /// Decodes one message body (without the length prefix).
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let number = r.u8()?;
        let response = match number {
            num::FAILURE => Self::Failure,
            num::SUCCESS => Self::Success,
            num::IDENTITIES_ANSWER => {
                let count = r.u32()?;
                if count > MAX_IDENTITIES {
                    return Err(DecodeError::TooLong(count as usize));
                }
                let mut ids = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    ids.push(Identity {
                        key_blob: r.string()?.to_vec(),
                        comment: String::from_utf8_lossy(r.string()?).into_owned(),
                    });
                }
                Self::Identities(ids)
            }
            num::SIGN_RESPONSE => Self::Signature(r.string()?.to_vec()),
            other => {
                let _ = r.take(r.remaining())?;
                Self::Other(other)
            }
        };
        r.finish()?;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_request_frame_matches_the_protocol() {
        let frame = Request::Sign {
            key_blob: vec![1],
            data: vec![2, 3],
            flags: SIGN_RSA_SHA2_512,
        }
        .to_frame();
        assert_eq!(
            frame,
            vec![0, 0, 0, 16, 13, 0, 0, 0, 1, 1, 0, 0, 0, 2, 2, 3, 0, 0, 0, 4]
        );
    }

    #[test]
    fn identities_answer_decodes_and_bad_counts_are_refused() {
        let body = [12, 0, 0, 0, 1, 0, 0, 0, 1, 9, 0, 0, 0, 1, b'c'];
        assert_eq!(
            Response::decode(&body).unwrap(),
            Response::Identities(vec![Identity {
                key_blob: vec![9],
                comment: "c".into()
            }])
        );
        assert!(Response::decode(&[12, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(Response::decode(&[12, 0, 0, 0, 2, 0, 0, 0, 0]).is_err());
        assert!(Response::decode(&[5, 0]).is_err());
    }
}
