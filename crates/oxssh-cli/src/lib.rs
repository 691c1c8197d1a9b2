//! Shared plumbing of the oxssh programs; each binary in `src/bin/` is a thin `main`
//! over one module here.
#![forbid(unsafe_code)]

pub mod add;
pub mod agent;
pub mod background;
pub mod client;
pub mod copyid;
pub mod forwarding;
pub mod keygen;
pub mod keyscan;
pub mod option_value;
pub mod scp;
pub mod server;
pub mod sftp;
pub mod sftp_server;
pub mod ssh;
pub mod strerror;
pub mod syslog;
pub mod width;
