//! oxssh: an SSH-2 library. A tokio driver runs the sans-IO protocol core of
//! `oxssh-proto` over a socket; [`Client`] authenticates and opens [`Channel`]s that
//! are `AsyncRead` + `AsyncWrite`. Host-key policy is the [`HostKeyVerifier`] trait.
#![forbid(unsafe_code)]

mod channel;
mod client;
mod driver;
mod error;
mod shared;

pub use channel::{Channel, ChannelStderr, ChannelWriter};
pub use client::{
    AcceptAnyHostKey, AuthResult, ChannelInfo, Client, ClientConfig, HostKeyVerifier,
    IncomingChannel, IncomingChannels,
};
pub use error::Error;
pub use oxssh_proto::connection::WindowSize;
pub use shared::{ExitStatus, StdoutSinkFn};
