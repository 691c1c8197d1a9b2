//! The sftp-server mode's `-f FACILITY`: without `-e`, `oxssh-sftp-server` sends its log
//! lines to syslog with that facility (AUTH by default), as OpenSSH's `sftp-server`
//! does. Checked side by side with OpenSSH's: each runs in a private mount namespace
//! (`unshare -m`) whose `/dev` is a directory holding the test's datagram socket as
//! `log` (and the real `/dev/null`), so their syslog lines come to the test, which
//! compares the priorities (`facility * 8 + severity`) they carry.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::sftp::openssh_sftp_server;
use support::{require_peer, run};

fn ours() -> String {
    Path::new(support::OXSSHD)
        .with_file_name("oxssh-sftp-server")
        .display()
        .to_string()
}

/// Runs `program flags` (its stdin at end of file: it logs the session's start and
/// end and exits) with `/dev/log` reaching a socket of ours; the priorities and texts
/// of the lines it logged.
fn syslog_lines(program: &str, flags: &str) -> Vec<(u32, String)> {
    let dev = tempfile::tempdir().unwrap();
    let socket = UnixDatagram::bind(dev.path().join("log")).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    std::fs::write(dev.path().join("null"), b"").unwrap();
    let d = dev.path().display();
    let script = format!(
        "mount --bind /dev/null {d}/null && mount --rbind {d} /dev && exec {program} {flags}"
    );
    let out = run(
        Command::new("unshare").args(["-m", "sh", "-c", &script]),
        b"",
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{program}: {}", out.stderr);
    let mut lines = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = socket.recv(&mut buf) {
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let (priority, rest) = text
            .strip_prefix('<')
            .and_then(|t| t.split_once('>'))
            .unwrap_or_else(|| panic!("not a syslog line: {text:?}"));
        lines.push((priority.parse().unwrap(), rest.to_owned()));
    }
    lines
}

#[test]
fn f_sets_the_syslog_facility_as_openssh_sftp_server() {
    if !require_peer("unshare") {
        return;
    }
    let Some(theirs) = openssh_sftp_server() else {
        return;
    };
    for (flags, priority) in [("-f LOCAL3 -l INFO", 19 * 8 + 6), ("-l INFO", 4 * 8 + 6)] {
        let openssh = syslog_lines(theirs, flags);
        let oxssh = syslog_lines(&ours(), flags);
        assert!(!openssh.is_empty(), "sftp-server {flags} logged nothing");
        for (lines, who) in [(&openssh, "sftp-server"), (&oxssh, "oxssh-sftp-server")] {
            let priorities: Vec<u32> = lines.iter().map(|(p, _)| *p).collect();
            assert_eq!(priorities, [priority, priority], "{who} {flags}: {lines:?}");
            assert!(
                lines[0].1.contains("session opened for local user root"),
                "{who}: {lines:?}"
            );
            assert!(
                lines[1].1.contains("session closed for local user root"),
                "{who}: {lines:?}"
            );
        }
    }
}
