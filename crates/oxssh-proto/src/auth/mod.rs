//! User authentication (RFC 4252, RFC 4256): the client side builds requests and
//! reads answers; the server side checks requests and asks the caller's policy.

pub mod client;
mod policy;
pub mod server;

pub use client::{AuthClient, AuthEvent};
pub use server::{
    AttemptMethod, AuthAttempt, AuthConfig, AuthServer, AuthStep, AuthenticationMethods, Method,
    Secret,
};
