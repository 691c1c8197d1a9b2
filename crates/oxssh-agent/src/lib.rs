//! The SSH agent protocol (draft-ietf-sshm-ssh-agent, OpenSSH PROTOCOL.agent): the
//! message codec, a client for the agent at `SSH_AUTH_SOCK`, and the agent server. Keys held by an agent
//! sign through the same `SigningKey` trait as key files.
#![forbid(unsafe_code)]

mod client;
mod codec;
mod keyblob;
pub mod server;

pub use client::{AgentClient, AgentError, AgentKey};
pub use codec::{Identity, Request, Response, MAX_MESSAGE, SIGN_RSA_SHA2_256, SIGN_RSA_SHA2_512};
pub use keyblob::{decode_private_key, encode_private_key, KeyBlobError};
