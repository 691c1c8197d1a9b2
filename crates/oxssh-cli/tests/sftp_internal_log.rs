//! internal-sftp's log lines (`-l INFO`) in oxsshd's log, worded as OpenSSH's
//! sftp-server words them: an OpenSSH `sftp` batch gives `open`, `close ... bytes read
//! N written M`, `rename` and the session lines. (OpenSSH's sshd sends its
//! internal-sftp's lines to syslog even under `-e`, so they are not compared live.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::{Duration, Instant};

use support::openssh::{sshd_opts, Fixture};
use support::require_peer;
use support::sftp::{batch, random_file, RemoteDir};

const LOGGING: &str = "Subsystem sftp internal-sftp -l INFO";

/// The starts of the lines compared.
const KINDS: [&str; 5] = [
    "session opened for local user",
    "open \"",
    "close \"",
    "rename old",
    "session closed for local user",
];

/// Runs the batch against `f` and returns its sftp log lines, `dir` written as `R`.
fn logged_lines(f: &Fixture, tag: &str) -> Vec<String> {
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new(tag);
    random_file(&local.path().join("a.txt"), 3000, 71);
    let r = remote.path().display().to_string();
    let out = batch(
        "sftp",
        f,
        local.path(),
        &format!("put a.txt {r}/a.txt\nget {r}/a.txt back.txt\nrename {r}/a.txt {r}/b.txt\n"),
    );
    assert_eq!(out.code(), Some(0), "{}\n{}", out.stderr, f.peer.log());
    // The log is the server's, not the client's.
    assert!(!out.stderr.contains("open \""), "{}", out.stderr);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f.peer.log().contains("session closed for local user") {
        assert!(
            Instant::now() < deadline,
            "no \"session closed\" line in the log:\n{}",
            f.peer.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    f.peer
        .log()
        .lines()
        .filter_map(|line| {
            let at = KINDS.iter().filter_map(|k| line.find(k)).min()?;
            Some(line[at..].replace(&r, "R").trim_end().to_owned())
        })
        .collect()
}

#[test]
fn internal_sftp_logs_opens_closes_and_renames_in_oxsshd_log_in_sftp_server_words() {
    if !require_peer("sftp") {
        return;
    }
    let Some(ours) = Fixture::start_oxsshd(sshd_opts(&[LOGGING])) else {
        return;
    };
    let got = logged_lines(&ours, "ox-log");
    let user = support::users::TEST_USER;
    let expected = [
        format!("session opened for local user {user} from [127.0.0.1]"),
        "open \"R/a.txt\" flags WRITE,CREATE,TRUNCATE mode 0644".to_owned(),
        "close \"R/a.txt\" bytes read 0 written 3000".to_owned(),
        "open \"R/a.txt\" flags READ mode 0666".to_owned(),
        "close \"R/a.txt\" bytes read 3000 written 0".to_owned(),
        "rename old \"R/a.txt\" new \"R/b.txt\"".to_owned(),
        format!("session closed for local user {user} from [127.0.0.1]"),
    ];
    assert_eq!(got, expected, "{}", ours.peer.log());
}
