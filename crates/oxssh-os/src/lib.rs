//! OS glue for the `oxsshd` system daemon, and the one crate of the workspace with
//! `unsafe` code (DESIGN.md, "Security rules"): each block is in a function marked
//! `#[allow(unsafe_code)]` with a `// SAFETY:` comment, everything else is denied.
//!
//! - [`user`]: system users and their groups (passwd, `getgrouplist`, group names).
//! - [`pty`] and [`modes`]: pseudo-terminals, RFC 4254 §8 terminal modes, window sizes,
//!   the master as tokio `AsyncRead + AsyncWrite`.
//! - [`spawn`]: a session's shell as the user (pipes or pty), signals by RFC name;
//!   started without `fork` (`exec`: `clone(CLONE_VM | CLONE_VFORK)` + `execve`), held
//!   as a [`child::SessionChild`] (its pipes, its exit through a pidfd).
//! - [`jail`]: `ChrootDirectory`: sshd's path checks, and a program confining itself.
//! - [`pam`]: PAM transactions on a dedicated thread, driven from async code.
//! - [`agent_socket`]: the private socket a forwarded agent is reached through.
//! - [`fdpass`]: one descriptor over a Unix socket (`SCM_RIGHTS`), for ProxyUseFdpass
//!   and connection sharing.
//! - [`user_socket`]: Unix-domain sockets connected or bound with a user's rights, by a
//!   short-lived helper child (stream-local forwarding).
//! - [`login_records`]: utmp, wtmp and lastlog as OpenSSH writes them; the last-login line.
//!
//! These are the OS calls behind the server's `Privileged` interface; protocol code
//! never calls them itself.
//!
//! A password check through PAM, then a shell on a pty as that user:
//!
//! ```no_run
//! use oxssh_os::{login_env, Pam, PamConfig, Pty, SessionSpec, SessionStdio, SystemUser};
//! use oxssh_os::{TerminalModes, WindowSize};
//! use zeroize::Zeroizing;
//!
//! # async fn demo(modes_from_pty_req: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = PamConfig::new("sshd", "alice");
//! config.rhost = Some("192.0.2.7".into());
//! let mut pam = Pam::start(config).await?;
//! pam.password(&Zeroizing::new("secret".to_owned())).await?; // Err: wrong password
//! pam.acct_mgmt().await?; // AccountStatus::PasswordChangeRequired when expired
//!
//! let user = SystemUser::by_name("alice")?.ok_or("no such user")?;
//! let size = WindowSize { cols: 80, rows: 24, width_px: 0, height_px: 0 };
//! let pty = Pty::open(size)?;
//! pty.apply_modes(&TerminalModes::decode(modes_from_pty_req))?;
//! pty.set_owner(&user)?;
//! pam.set_tty(&pty.path().to_string_lossy()).await?;
//! let pam_env = pam.open_session().await?;
//! let tty = pty.path().to_owned();
//! let mut session = SessionSpec::new(user.clone())? // groups computed here
//!     .envs(login_env(&user))
//!     .env("TERM", "xterm-256color")
//!     .env("SSH_TTY", tty)
//!     .envs(pam_env)
//!     .spawn(SessionStdio::Pty(pty))?; // no command: an interactive login shell
//! let master = session.pty.take().ok_or("no pty")?; // AsyncRead + AsyncWrite
//! master.resize(WindowSize { cols: 120, rows: 40, ..size })?; // window-change
//! session.signal("INT")?; // RFC 4254 §6.9 signal request
//! let status = session.child.wait().await?;
//! pam.close_session().await?;
//! # drop((master, status)); Ok(()) }
//! ```

pub mod agent_socket;
pub mod child;
pub mod error;
mod exec;
pub mod fdpass;
pub mod jail;
pub mod login_records;
pub mod modes;
pub mod pam;
pub mod pty;
pub mod spawn;
pub mod user;
pub mod user_socket;

pub use agent_socket::AgentSocket;
pub use child::SessionChild;
pub use error::{Error, Result};
pub use jail::{check_chroot_path, expand_chroot_tokens, Confinement, CONFINE_ENV};
pub use login_records::{format_last_login, LastLogin, LoginRecords, UtmpRecord};
pub use modes::TerminalModes;
pub use pam::{AccountStatus, Pam, PamConfig, PamError, PamPrompt, PamStep};
pub use pty::{Pty, PtyMaster, WindowSize};
pub use spawn::{
    login_env, signal_by_name, signal_name, Launcher, Session, SessionSpec, SessionStdio,
};
pub use user::{group_id, group_name, SystemUser};
pub use user_socket::UserSockets;
