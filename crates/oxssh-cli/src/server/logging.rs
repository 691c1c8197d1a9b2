//! Where the log goes, as sshd decides: stderr with `-e` or `-d`, a file with `-E`,
//! otherwise syslog (the `/dev/log` socket, facility AUTH, as sshd's default
//! `SyslogFacility`); plain lines, or JSON with `--log-format json`. `-d` raises the level
//! to debug (`-dd`, `-ddd`: more); `OXSSHD_LOG` overrides the filter.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;

use tracing_subscriber::fmt::MakeWriter;

use oxssh_config::sshd::{LogLevel, SyslogFacility};

use super::args::Args;

/// syslog's "informational" severity (RFC 5424 §6.2.1).
const INFO: u8 = 6;

/// The syslog facility code (RFC 5424 §6.2.1) of `SyslogFacility`.
fn facility_code(facility: SyslogFacility) -> u8 {
    match facility {
        SyslogFacility::User => 1,
        SyslogFacility::Daemon => 3,
        SyslogFacility::Auth => 4,
        SyslogFacility::AuthPriv => 10,
        SyslogFacility::Local0 => 16,
        SyslogFacility::Local1 => 17,
        SyslogFacility::Local2 => 18,
        SyslogFacility::Local3 => 19,
        SyslogFacility::Local4 => 20,
        SyslogFacility::Local5 => 21,
        SyslogFacility::Local6 => 22,
        SyslogFacility::Local7 => 23,
    }
}

/// The target of the lines sshd logs at VERBOSE (`Connection from`, `Starting session`,
/// most failed attempts): shown at `LogLevel VERBOSE` and above, and by the embedded
/// default (a personal server in a terminal wants to see its connections).
pub(super) const VERBOSE: &str = "verbose";

/// Sets up `tracing` for the server: `-d`/`-q` first, then the configuration's
/// `LogLevel` (VERBOSE lines have their own target), and `SyslogFacility` for syslog.
pub(super) fn init(args: &Args, config: Option<(LogLevel, SyslogFacility)>) {
    let configured = config.map_or("info", |(level, _)| match level {
        LogLevel::Quiet | LogLevel::Fatal | LogLevel::Error => "error",
        LogLevel::Info => "info,verbose=off",
        LogLevel::Verbose => "info",
        LogLevel::Debug1 => "debug",
        LogLevel::Debug2 | LogLevel::Debug3 => "trace",
    });
    let level = match (args.debug, args.quiet) {
        (0, true) => "error",
        (0, false) => configured,
        (1, _) => "debug",
        _ => "trace",
    };
    let syslog = Syslog {
        priority: facility_code(config.map_or(SyslogFacility::Auth, |(_, f)| f)) * 8 + INFO,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("OXSSHD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let to_stderr = args.log_stderr || args.debug > 0;
    let file = args.log_file.as_deref().and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(false);
    // Each arm has its own writer type; the builder is generic over it.
    let _ = match (file, to_stderr, args.json_log) {
        (Some(f), _, true) => builder.json().with_writer(Arc::new(f)).try_init(),
        (Some(f), _, false) => builder.with_writer(Arc::new(f)).try_init(),
        (None, true, true) => builder.json().with_writer(std::io::stderr).try_init(),
        (None, true, false) => builder.with_writer(std::io::stderr).try_init(),
        (None, false, true) => builder.json().with_writer(syslog).try_init(),
        (None, false, false) => builder
            .without_time()
            .with_level(false)
            .with_writer(syslog)
            .try_init(),
    };
}

/// Sends each log line as one datagram to the local syslog daemon; lines are dropped
/// when there is none (a container without syslog).
#[derive(Debug, Clone, Copy)]
struct Syslog {
    /// `facility * 8 + severity`.
    priority: u8,
}

/// One line being written.
#[derive(Debug)]
struct SyslogLine {
    priority: u8,
    text: Vec<u8>,
}

impl Write for SyslogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.text);
        let line = format!(
            "<{}>oxsshd[{}]: {}",
            self.priority,
            std::process::id(),
            text.trim_end()
        );
        if let Ok(socket) = UnixDatagram::unbound() {
            let _ = socket.send_to(line.as_bytes(), "/dev/log");
        }
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine;

    fn make_writer(&'a self) -> Self::Writer {
        SyslogLine {
            priority: self.priority,
            text: Vec::new(),
        }
    }
}
