//! SFTP version 3 with OpenSSH's extensions (draft-ietf-secsh-filexfer-02, OpenSSH
//! `PROTOCOL` §4): the wire codec ([`codec`]), a server over a [`server::Filesystem`]
//! (the real filesystem by default) and a pipelining async client ([`Sftp`]) over any
//! `AsyncRead + AsyncWrite` (an SSH channel, a pipe to `sftp-server`).
#![forbid(unsafe_code)]

pub mod client;
pub mod codec;
pub mod server;

pub use client::{Error, Handle, Sftp};
