//! The sans-IO SSH-2 protocol core: no sockets, no clocks, no threads. It is fed bytes
//! and the time, and yields bytes and events; the same code runs in tests, fuzzers and
//! the tokio driver.
#![forbid(unsafe_code)]

pub mod auth;
pub mod certificate;
pub mod client;
pub mod config;
pub mod connection;
pub mod crypto;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod server;
pub mod transport;

pub use client::{ClientConnection, ClientEvent};
pub use config::TransportConfig;
pub use error::{PeerMisbehaved, TransportError};
pub use server::{ServerConnection, ServerEvent};
pub use transport::{Event, Role, Transport};
