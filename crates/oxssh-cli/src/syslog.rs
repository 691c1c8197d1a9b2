//! Log lines to the local syslog daemon (the `/dev/log` datagram socket), one datagram
//! per line as `<priority>ident[pid]: text`, as the C library's `syslog(3)` sends them:
//! the facility from `SyslogFacility` (oxsshd) or `-f` (the sftp-server mode), the
//! severity from the line's level. Lines are dropped when there is no syslog daemon.

use std::io::Write;
use std::os::unix::net::UnixDatagram;

use oxssh_config::sshd::SyslogFacility;
use tracing_subscriber::fmt::MakeWriter;

/// Where syslog(3) sends its lines.
const SOCKET: &str = "/dev/log";

/// The syslog facility code (RFC 5424 §6.2.1) of `SyslogFacility`.
pub fn facility_code(facility: SyslogFacility) -> u8 {
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

/// The syslog severity (RFC 5424 §6.2.1) of a `tracing` level, as OpenSSH's log.c
/// maps its levels: errors `err`, warnings `warning`, INFO and VERBOSE `info`, debug
/// `debug`.
fn severity(level: &tracing::Level) -> u8 {
    match *level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        _ => 7,
    }
}

/// The start of the `tracing` target of a line logged with a facility of its own
/// ([`info_with_facility`]).
const FACILITY_TARGET: &str = "syslog-facility=";

/// Logs `text` at INFO; when it goes to syslog, with `facility` rather than the
/// writer's (internal-sftp's `-f`, as sshd's internal-sftp logs with its own facility).
pub fn info_with_facility(facility: Option<SyslogFacility>, text: &str) {
    macro_rules! with {
        ($($name:ident),*) => {
            match facility {
                None => tracing::info!("{text}"),
                $(Some(SyslogFacility::$name) => tracing::info!(
                    target: concat!("syslog-facility=", stringify!($name)),
                    "{text}"
                ),)*
            }
        };
    }
    with!(
        User, Daemon, Auth, AuthPriv, Local0, Local1, Local2, Local3, Local4, Local5, Local6,
        Local7
    );
}

/// A `tracing` writer that sends each line to syslog.
#[derive(Debug, Clone, Copy)]
pub struct Syslog {
    ident: &'static str,
    facility: u8,
}

impl Syslog {
    /// Lines tagged `ident` with `facility`.
    pub fn new(ident: &'static str, facility: SyslogFacility) -> Self {
        Self {
            ident,
            facility: facility_code(facility),
        }
    }
}

/// One line being written.
#[derive(Debug)]
pub struct SyslogLine {
    ident: &'static str,
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
            "<{}>{}[{}]: {}",
            self.priority,
            self.ident,
            std::process::id(),
            text.trim_end()
        );
        if let Ok(socket) = UnixDatagram::unbound() {
            let _ = socket.send_to(line.as_bytes(), SOCKET);
        }
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine;

    fn make_writer(&'a self) -> Self::Writer {
        SyslogLine {
            ident: self.ident,
            priority: self.facility * 8 + 6,
            text: Vec::new(),
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        let facility = meta
            .target()
            .strip_prefix(FACILITY_TARGET)
            .and_then(SyslogFacility::parse)
            .map_or(self.facility, facility_code);
        SyslogLine {
            ident: self.ident,
            priority: facility * 8 + severity(meta.level()),
            text: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_combine_facility_and_severity() {
        let log = Syslog::new("t", SyslogFacility::Local3);
        let meta = tracing::Level::ERROR;
        assert_eq!(log.facility * 8 + severity(&meta), 155);
        assert_eq!(facility_code(SyslogFacility::Auth) * 8 + 6, 38);
    }
}
