//! User authentication (RFC 4252, RFC 4256). The client side lives here; the server
//! side arrives with `oxsshd`.

pub mod client;

pub use client::{AuthClient, AuthEvent};
