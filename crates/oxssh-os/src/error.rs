//! The crate's error type: which OS operation failed and why.

use nix::errno::Errno;

/// An OS operation of this crate failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed; `op` names the call (or the step) for the log.
    #[error("{op}: {source}")]
    Sys {
        /// The call or step, e.g. `"getgrouplist"`, `"openpty"`.
        op: &'static str,
        /// The errno it returned.
        #[source]
        source: Errno,
    },
    /// A name or path handed to the OS contained a NUL byte.
    #[error("{0} contains a NUL byte")]
    NulByte(&'static str),
    /// The session program could not be started (fork, the child's set-up, or exec).
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program that was to run.
        program: String,
        /// Why it could not: the child's set-up step or exec reports its errno here.
        #[source]
        source: std::io::Error,
    },
    /// A signal name that RFC 4254 §6.10 does not define.
    #[error("unknown signal name {0:?}")]
    UnknownSignal(String),
}

impl Error {
    pub(crate) fn sys(op: &'static str) -> impl FnOnce(Errno) -> Self {
        move |source| Self::Sys { op, source }
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
