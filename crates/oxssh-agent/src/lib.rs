//! The SSH agent protocol (draft-ietf-sshm-ssh-agent, OpenSSH PROTOCOL.agent): the
//! message codec and a client for the agent at `SSH_AUTH_SOCK`. Keys held by an agent
//! sign through the same `SigningKey` trait as key files.
#![forbid(unsafe_code)]

mod client;
mod codec;

pub use client::{AgentClient, AgentError, AgentKey};
pub use codec::{Identity, Request, Response, SIGN_RSA_SHA2_256, SIGN_RSA_SHA2_512};
