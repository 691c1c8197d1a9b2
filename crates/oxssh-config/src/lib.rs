//! OpenSSH client configuration (`ssh_config(5)`), read and resolved exactly as OpenSSH 9.2's
//! `ssh` does: the same sources in the same order, `Host`/`Match` blocks, `Include`, the first
//! value winning, `%` tokens and `~`/`${VAR}` expansion, `+`/`-`/`^` algorithm-list edits, the
//! same error messages, and `ssh -G` output.
//!
//! ```
//! use oxssh_config::{AlgorithmLists, Loader, MemoryEnv, Options};
//!
//! let env = MemoryEnv::new().with_file(
//!     "/home/alice/.ssh/config",
//!     "Host build\n  HostName build.example.org\n  User ci\n  Port 2222\n",
//! );
//! let loader = Loader::new(&env, AlgorithmLists::openssh_9_2());
//! let mut options = Options::new();
//! loader.command_line_option(&mut options, "Port=2200")?; // `-o Port=2200` wins
//! let config = loader.resolve("build", options)?;
//! assert_eq!(config.hostname, "build.example.org");
//! assert_eq!(config.user, "ci");
//! assert_eq!(config.port, 2200);
//! assert!(config.dump().contains("\nport 2200\n"));
//! # Ok::<(), oxssh_config::ConfigError>(())
//! ```
//!
//! The parser never touches the process environment or the file system itself: everything
//! goes through a [`ConfigEnv`] ([`OsEnv`] for the real system, [`MemoryEnv`] in tests). The
//! algorithm names come from the caller ([`AlgorithmLists`]), and so does SHA-1 for `%C`
//! ([`Loader::connection_hasher`]), so this crate has no cryptographic dependency.
//!
//! Keywords oxssh does not implement yet are parsed and validated like OpenSSH, and each
//! active use is listed in [`ClientConfig::unsupported`]; see [`keyword::KEYWORDS`] for the
//! one table that says what is supported.
#![forbid(unsafe_code)]

mod addrmatch;
mod algorithms;
mod apply;
mod client;
mod dump;
mod env;
mod error;
mod expand;
mod forward;
mod glob;
pub mod keyword;
mod lexer;
mod options;
mod pattern;
mod reader;
mod resolve;
pub mod sshd;
pub mod values;

pub use addrmatch::{
    addr_match_cidr_list, addr_match_list, match_host_and_ip, match_user, AddrMatch,
    InvalidAddressList,
};
pub use algorithms::{assemble, AlgorithmList, AlgorithmLists, AssembleError};
pub use client::{ClientConfig, ForwardAgent};
pub use env::{ConfigEnv, ExecHandler, ExecStatus, FileData, MemoryEnv, OsEnv};
pub use error::{ConfigError, FatalKind};
pub use expand::{dollar_expand, percent_dollar_expand, tilde_expand, ExpandError, TokenContext};
pub use forward::{parse_forward, parse_jump, Forward, JumpSetting, ProxyJump, PORT_STREAMLOCAL};
pub use keyword::{Keyword, KeywordInfo, Support};
pub use options::{ConfiguredPath, Options, Origin, UnsupportedUse};
pub use pattern::{
    filter_allowlist, filter_denylist, match_hostname, match_pattern, match_pattern_list, ListMatch,
};
pub use reader::ConnectionHasher;
pub use resolve::{Loader, SYSTEM_CONFIG};

#[cfg(test)]
mod tests;
