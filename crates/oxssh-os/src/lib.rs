//! OS glue for the `oxsshd` system daemon, and the one crate of the workspace with
//! `unsafe` code (DESIGN.md, "Security rules"): each block is in a function marked
//! `#[allow(unsafe_code)]` with a `// SAFETY:` comment, everything else is denied.
//!
//! - [`user`]: system users and their groups (passwd, `getgrouplist`, group names).
//! - [`pty`] and [`modes`]: pseudo-terminals, RFC 4254 §8 terminal modes, window sizes,
//!   the master as tokio `AsyncRead + AsyncWrite`.
//! - [`spawn`]: a session's shell as the user (pipes or pty), signals by RFC name.
//! - [`pam`]: PAM transactions on a dedicated thread, driven from async code.
//!
//! These are the OS calls behind the server's `Privileged` interface; protocol code
//! never calls them itself.

pub mod error;
pub mod modes;
pub mod pam;
pub mod pty;
pub mod spawn;
pub mod user;

pub use error::{Error, Result};
pub use modes::TerminalModes;
pub use pam::{AccountStatus, Pam, PamConfig, PamError, PamPrompt, PamStep};
pub use pty::{Pty, PtyMaster, WindowSize};
pub use spawn::{login_env, signal_by_name, signal_name, Session, SessionSpec, SessionStdio};
pub use user::{group_id, group_name, SystemUser};
