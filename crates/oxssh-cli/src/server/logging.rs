//! Where the log goes, as sshd decides: stderr with `-e` or `-d`, a file with `-E`,
//! otherwise syslog (the `/dev/log` socket, facility AUTH, as sshd's default
//! `SyslogFacility`); plain lines, or JSON with `--log-format json`. `-d` raises the level
//! to debug (`-dd`, `-ddd`: more); `OXSSHD_LOG` overrides the filter.

use std::sync::Arc;

use oxssh_config::sshd::{LogLevel, SyslogFacility};

use super::args::Args;
use crate::syslog::Syslog;

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
    let syslog = Syslog::new("oxsshd", config.map_or(SyslogFacility::Auth, |(_, f)| f));
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
