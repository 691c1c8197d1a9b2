//! The `oxssh` program: command line and ssh_config resolved into a connection, host-key
//! verification against known_hosts, user authentication, and the session.

pub mod auth;
pub mod cmdline;
pub mod connect;
pub mod forward;
pub mod hostkey;
pub mod identity;
pub mod logging;
pub mod mux;
pub mod prompt;
pub mod proxy;
pub mod run;
pub mod session;
mod shared_session;
pub mod socks;
pub mod stdio;
pub mod stdio_forward;

pub use run::main;
