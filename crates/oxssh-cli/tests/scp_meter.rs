//! The progress meter on a real terminal, `oxscp` against OpenSSH's `scp`, both run
//! straight on OpenSSH's sftp-server (`-D`, no connection): the same lines, column for
//! column, for a small file each way and an empty one each way (an empty file's
//! download draws nothing). Only the rate column may differ (it is measured). The
//! same for the legacy protocol (`-O`, against OpenSSH's sshd), and its `-l` pacing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::sftp::oxscp;

use std::path::Path;

use support::client::{shell_line, shell_quote, under_script};
use support::openssh::{sshd_opts, Fixture};
use support::sftp::{client, RemoteDir};
use support::users::TEST_USER;

/// The meter lines `program` draws copying `from` to `to` in `dir` on an 80-column
/// terminal, straight on the sftp-server `server`.
fn meter_lines(program: &str, server: &str, dir: &Path, from: &str, to: &str) -> Vec<String> {
    let command = [program, "-D", server, from, to].map(shell_quote).join(" ");
    lines_on_a_terminal(&command, dir)
}

/// The lines shell `command`, run in `dir` on an 80-column terminal, draws: split at
/// each carriage return and newline, with the rate column (seven characters before
/// `/s`, checked for its shape) masked.
fn lines_on_a_terminal(command: &str, dir: &Path) -> Vec<String> {
    let line = format!(
        "stty cols 80 rows 24 && cd {} && {command}",
        shell_quote(&dir.display().to_string()),
    );
    let out = under_script(&line, b"");
    assert_eq!(
        out.code(),
        Some(0),
        "{command}: {}{}",
        out.stdout,
        out.stderr
    );
    out.stdout
        .split(['\r', '\n'])
        .filter(|l| !l.is_empty())
        .map(|l| match l.find("B/s ") {
            Some(at) if at >= 6 => {
                format!("{}{}{}", &l[..at - 6], shape(&l[at - 6..=at]), &l[at + 1..])
            }
            _ => l.to_owned(),
        })
        .collect()
}

/// `rate` masked as `RRRRRRR` if it has the meter's shape (three places, right
/// aligned, a tenth, and a unit of at least kilobytes: `  2.9MB`, `977.5KB`).
fn shape(rate: &str) -> String {
    let b = rate.as_bytes();
    let whole = &b[..3];
    let ok = b.len() == 7
        && whole.iter().all(|c| *c == b' ' || c.is_ascii_digit())
        && whole
            .iter()
            .skip_while(|c| **c == b' ')
            .all(u8::is_ascii_digit)
        && b[2].is_ascii_digit()
        && b[3] == b'.'
        && b[4].is_ascii_digit()
        && b"KMGT".contains(&b[5])
        && b[6] == b'B';
    assert!(ok, "not a meter rate: {rate:?}");
    "RRRRRRR".to_owned()
}

#[test]
fn oxscp_draws_the_meter_lines_scp_draws() {
    if !support::require_peer("scp") {
        return;
    }
    let Some(server) = support::sftp::openssh_sftp_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("s1000"), vec![7u8; 1000]).unwrap();
    std::fs::write(dir.path().join("e0"), b"").unwrap();
    let cases = [
        ("s1000".to_owned(), format!("h:{d}/up-small")),
        (format!("h:{d}/s1000"), "down-small".to_owned()),
        ("e0".to_owned(), format!("h:{d}/up-empty")),
        (format!("h:{d}/e0"), "down-empty".to_owned()),
    ];
    for (from, to) in cases {
        let theirs = meter_lines("scp", server, dir.path(), &from, &to);
        let ours = meter_lines(&oxscp(), server, dir.path(), &from, &to);
        assert_eq!(ours, theirs, "{from} -> {to}");
        if to.contains("small") {
            assert_eq!(theirs.len(), 2, "a first line and a last: {theirs:?}");
            assert!(theirs[1].contains(" 100% 1000 "), "{theirs:?}");
        }
        if to == "down-empty" {
            assert!(theirs.is_empty(), "{theirs:?}");
        }
    }
}

/// `program -O args...` as the fixture's client, as one shell command (its HOME, no
/// agent).
fn legacy_command(program: &str, f: &Fixture, args: &[&str]) -> String {
    let mut cmd = client(program, f);
    cmd.arg("-O").args(args);
    format!(
        "env -u SSH_AUTH_SOCK HOME={} {}",
        shell_quote(&f.client.home().display().to_string()),
        shell_line(&cmd)
    )
}

#[test]
fn oxscp_legacy_draws_the_meter_lines_scp_legacy_draws_and_paces_with_dash_l() {
    if !support::require_peer("scp") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    // No "Permanently added" line among the meter's.
    f.trust_host();
    let dir = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("meter-legacy");
    let r = remote.path().display().to_string();
    let at = format!("{TEST_USER}@127.0.0.1:{r}");
    for place in [dir.path(), remote.path()] {
        std::fs::write(place.join("s1000"), vec![7u8; 1000]).unwrap();
        std::fs::write(place.join("e0"), b"").unwrap();
    }
    support::sftp::chown_to_test_user(remote.path());
    let cases = [
        ("s1000".to_owned(), format!("{at}/up-small")),
        (format!("{at}/s1000"), "down-small".to_owned()),
        ("e0".to_owned(), format!("{at}/up-empty")),
        (format!("{at}/e0"), "down-empty".to_owned()),
    ];
    for (from, to) in &cases {
        let run = |program: &str| {
            lines_on_a_terminal(&legacy_command(program, &f, &[from, to]), dir.path())
        };
        let theirs = run("scp");
        let ours = run(&oxscp());
        assert_eq!(ours, theirs, "{from} -> {to}");
        assert!(!theirs.is_empty(), "scp -O draws a meter: {from} -> {to}");
        assert!(theirs.last().unwrap().contains(" 100% "), "{theirs:?}");
    }
    // -l 400: 50 kB/s, so 120 kB take over two seconds either way.
    std::fs::write(dir.path().join("s120k"), vec![9u8; 120_000]).unwrap();
    for (from, to) in [
        ("s120k".to_owned(), format!("{at}/up-paced")),
        (format!("{at}/up-paced"), "down-paced".to_owned()),
    ] {
        let start = std::time::Instant::now();
        let command = legacy_command(&oxscp(), &f, &["-q", "-l", "400", &from, &to]);
        assert!(lines_on_a_terminal(&command, dir.path()).is_empty());
        let took = start.elapsed();
        assert!(took.as_secs_f64() > 2.0, "{from} -> {to} took {took:?}");
    }
    assert_eq!(
        std::fs::read(dir.path().join("down-paced")).unwrap(),
        vec![9u8; 120_000]
    );
}
