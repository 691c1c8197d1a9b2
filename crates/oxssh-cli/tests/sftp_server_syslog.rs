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

/// Starts `server` ("sshd" or "oxsshd") with `Subsystem sftp internal-sftp -f LOCAL5 -l
/// INFO`, logging to syslog into a socket of ours, runs an sftp batch, and returns the
/// priorities and texts of the lines logged.
fn internal_sftp_lines(server: &str) -> Option<Vec<(u32, String)>> {
    let dev = tempfile::tempdir().unwrap();
    let socket = UnixDatagram::bind(dev.path().join("log")).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    // The session's processes run as the test user: /dev and its log open to them.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dev.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        dev.path().join("log"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    // Read as the lines come: a full datagram queue (net.unix.max_dgram_qlen, 10 by
    // default) would block the senders.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match socket.recv(&mut buf) {
                    Ok(n) => lines.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                    Err(_) if done.load(std::sync::atomic::Ordering::SeqCst) => break,
                    Err(_) => {}
                }
            }
            lines
        })
    };
    let opts = support::SshdOptions {
        syslog_dev: Some(dev.path().to_path_buf()),
        ..support::openssh::sshd_opts(&["Subsystem sftp internal-sftp -f LOCAL5 -l INFO"])
    };
    let f = if server == "sshd" {
        support::openssh::Fixture::start(opts)?
    } else {
        support::openssh::Fixture::start_oxsshd(opts)?
    };
    let local = tempfile::tempdir().unwrap();
    let remote = support::sftp::RemoteDir::new(&format!("syslog-{server}"));
    let out = support::sftp::batch(
        "sftp",
        &f,
        local.path(),
        &format!("cd {}\npwd\n", remote.path().display()),
    );
    assert_eq!(out.code(), Some(0), "{server}: {}", out.stderr);
    // The session's end is logged once the client is gone.
    std::thread::sleep(Duration::from_millis(300));
    drop(f);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut lines = Vec::new();
    for text in reader.join().unwrap() {
        let (priority, rest) = text
            .strip_prefix('<')
            .and_then(|t| t.split_once('>'))
            .unwrap_or_else(|| panic!("not a syslog line: {text:?}"));
        lines.push((priority.parse::<u32>().unwrap(), rest.to_owned()));
    }
    Some(lines)
}

#[test]
fn internal_sftp_f_sets_the_facility_of_its_lines_as_sshds() {
    if !require_peer("unshare") || !require_peer("sftp") {
        return;
    }
    for server in ["sshd", "oxsshd"] {
        let Some(lines) = internal_sftp_lines(server) else {
            continue;
        };
        let sftp: Vec<_> = lines
            .iter()
            .filter(|(_, l)| l.contains("session opened for local user"))
            .collect();
        assert!(!sftp.is_empty(), "{server}: {lines:#?}");
        // internal-sftp's lines: LOCAL5.info; the server's own: AUTH (its default).
        assert!(
            sftp.iter().all(|(p, _)| *p == 21 * 8 + 6),
            "{server}: {lines:#?}"
        );
        let own: Vec<_> = lines
            .iter()
            .filter(|(_, l)| l.contains("Accepted publickey"))
            .collect();
        assert!(!own.is_empty(), "{server}: {lines:#?}");
        assert!(own.iter().all(|(p, _)| p / 8 == 4), "{server}: {lines:#?}");
    }
}
