//! Building blocks of the `oxssh` client program (the drop-in for OpenSSH's `ssh`), each
//! self-contained and tested on its own; the program wires them to the `oxssh` driver.
//!
//! - [`args`]: the command line, with OpenSSH 9.2's getopt semantics and messages;
//!   [`destination`] holds the `[user@]host` / `ssh://` parsing and name checks it uses.
//! - [`query`]: `-Q` answers from our crypto provider.
//! - [`escape`]: the `~` escape sequences as a pure state machine.
//! - [`tty`]: raw mode, window size and SIGWINCH; [`tty_modes`]: the `pty-req` terminal modes.
//! - [`exit`]: exit statuses and the closing messages.
//!
//! The behaviour of each was compared with the real OpenSSH 9.2 client (Debian 12); the
//! module docs say where oxssh differs on purpose.

pub mod args;
pub mod destination;
pub mod escape;
pub mod exit;
mod getopt;
pub mod query;
pub mod tty;
pub mod tty_modes;
