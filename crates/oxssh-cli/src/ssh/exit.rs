//! The exit contract of `oxssh`, as OpenSSH 9.2's `ssh` keeps it (checked against the real
//! client and sshd):
//! - the remote command's `exit-status` becomes our exit status (its low 8 bits, as
//!   `exit()` keeps them);
//! - a session that ends without `exit-status` (killed by a signal, so `exit-signal` came
//!   instead, or closed without either) exits 255, printing nothing about the signal;
//! - our own errors exit 255;
//! - after an interactive session with a pty, `Connection to HOST closed.` is printed on
//!   stderr unless the log level is below INFO (`-q`, `LogLevel ERROR`); a connection the
//!   server drops prints `Connection to HOST closed by remote host.` whatever the level (and,
//!   with a pty, the first message after it) and exits 255. Both end in `\r\n`, as OpenSSH
//!   writes them from its stderr buffer after leaving raw mode.

use super::args::LogLevel;

/// OpenSSH's exit status for its own failures.
pub const EXIT_FAILURE: u8 = 255;

/// How the remote session ended, as far as the exit status is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionEnd {
    /// The `exit-status` request's value, if one came.
    pub exit_status: Option<u32>,
    /// The `exit-signal` request's signal name (`KILL`, `TERM`, ...), if one came.
    pub exit_signal: Option<String>,
}

impl SessionEnd {
    /// Our exit status. An `exit-status` wins even when an `exit-signal` came too: OpenSSH
    /// only ever looks at `exit-status`.
    pub fn exit_code(&self) -> u8 {
        exit_code(self.exit_status)
    }
}

/// The exit status for a session that sent `exit_status` (or none): the value's low 8 bits
/// (`exit(256)` is 0 in C too), 255 without one.
pub fn exit_code(exit_status: Option<u32>) -> u8 {
    match exit_status {
        // INVARIANT: masked to 8 bits, so the cast keeps the whole value.
        Some(status) => (status & 0xff) as u8,
        None => EXIT_FAILURE,
    }
}

/// The exit status when a local signal (SIGHUP, SIGINT, SIGQUIT, SIGTERM) ended the client:
/// 255, except SIGTERM with `-N` (no session) which is a normal way to stop a forwarder, 0.
/// OpenSSH logs `Killed by signal N.` at VERBOSE in the other cases.
pub fn exit_code_for_signal(signal: i32, no_session: bool) -> u8 {
    if no_session && signal == nix::libc::SIGTERM {
        0
    } else {
        EXIT_FAILURE
    }
}

/// `Killed by signal N.`, logged at VERBOSE when a local signal ends the client.
pub fn killed_by_signal_message(signal: i32) -> String {
    format!("Killed by signal {signal}.")
}

/// What to print on stderr when the session ends normally: `Connection to HOST closed.\r\n`
/// for a session that had a pty, at log level INFO or above.
///
/// `host` is the host actually connected to: the destination after `HostName` substitution,
/// lower-cased unless it is an address (`ssh -o HostName=127.0.0.1 alias` prints
/// `Connection to 127.0.0.1 closed.`).
pub fn closed_message(host: &str, had_pty: bool, log_level: LogLevel) -> Option<String> {
    (had_pty && log_level >= LogLevel::Info).then(|| format!("Connection to {host} closed.\r\n"))
}

/// What to print when the server closes the TCP connection under the session: always, even
/// with `-q`; the exit status is then 255 (no `exit-status` came).
pub fn closed_by_remote_message(host: &str) -> String {
    format!("Connection to {host} closed by remote host.\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_becomes_the_exit_code() {
        assert_eq!(exit_code(Some(0)), 0);
        assert_eq!(exit_code(Some(1)), 1);
        assert_eq!(exit_code(Some(7)), 7);
        assert_eq!(exit_code(Some(255)), 255);
        // Only the low 8 bits survive exit(), as with OpenSSH.
        assert_eq!(exit_code(Some(256)), 0);
        assert_eq!(exit_code(Some(257)), 1);
        assert_eq!(exit_code(None), 255);
    }

    #[test]
    fn exit_signal_without_status_is_255() {
        let killed = SessionEnd {
            exit_status: None,
            exit_signal: Some("KILL".into()),
        };
        assert_eq!(killed.exit_code(), 255);
        let both = SessionEnd {
            exit_status: Some(3),
            exit_signal: Some("TERM".into()),
        };
        assert_eq!(both.exit_code(), 3);
        assert_eq!(SessionEnd::default().exit_code(), 255);
    }

    #[test]
    fn local_signals_exit_255_except_sigterm_without_session() {
        assert_eq!(exit_code_for_signal(nix::libc::SIGINT, false), 255);
        assert_eq!(exit_code_for_signal(nix::libc::SIGTERM, false), 255);
        assert_eq!(exit_code_for_signal(nix::libc::SIGTERM, true), 0);
        assert_eq!(exit_code_for_signal(nix::libc::SIGHUP, true), 255);
        assert_eq!(killed_by_signal_message(15), "Killed by signal 15.");
    }

    #[test]
    fn closed_message_needs_a_pty_and_info() {
        assert_eq!(
            closed_message("localhost", true, LogLevel::Info).as_deref(),
            Some("Connection to localhost closed.\r\n")
        );
        assert!(closed_message("h", true, LogLevel::Debug3).is_some());
        assert!(closed_message("h", true, LogLevel::Verbose).is_some());
        assert_eq!(closed_message("h", false, LogLevel::Info), None);
        assert_eq!(closed_message("h", true, LogLevel::Error), None);
        assert_eq!(closed_message("h", true, LogLevel::Quiet), None);
        assert_eq!(
            closed_by_remote_message("h"),
            "Connection to h closed by remote host.\r\n"
        );
    }
}
