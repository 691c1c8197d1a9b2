//! `oxsshd` as the system daemon (`-f sshd_config`, run as root) against PuTTY's `plink`
//! (host key pinned by fingerprint, `.ppk` keys made by `puttygen`, passwords) and
//! Dropbear's `dbclient` (keys converted by `dropbearconvert`, a password, a pty).
//! The Python clients are in `sshd_clients_python.rs`, oxssh and ssh-audit in
//! `sshd_clients_oxssh.rs`; the fixture is `support/daemon_clients.rs`.
//!
//! Every session logs in as a system user (`oxssh-test` by key, `oxssh-pw` by password)
//! and runs as them: each client checks `id -un`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::client::{
    assert_exit, in_parallel, random_stdout, run_transfer, shell_line, under_script, ClientDir,
    UserKey, CLIENT_TIMEOUT,
};
use support::daemon_clients::{fingerprint, Setup, BULK_TIMEOUT, TEN_MB, WHO_AND_STREAMS};
use support::users::{PASSWORD, PASSWORD_USER, TEST_USER};
use support::{require_peer, run, run_ok, HostKey, Output};

// ---------------------------------------------------------------------------------
// PuTTY: plink with keys from puttygen
// ---------------------------------------------------------------------------------

/// `plink -batch` against the setup's server with its host key pinned.
struct Plink<'a> {
    setup: &'a Setup,
    ed25519_ppk: PathBuf,
    rsa_ppk: PathBuf,
}

impl<'a> Plink<'a> {
    /// Converts the setup's keys with `puttygen`; `None` (after a loud SKIP) without PuTTY.
    fn new(setup: &'a Setup) -> Option<Self> {
        if !require_peer("plink") || !require_peer("puttygen") {
            return None;
        }
        let convert = |key: &UserKey, name: &str| {
            let ppk = setup.client.path().join(name);
            run_ok(
                Command::new("puttygen")
                    .arg(&key.path)
                    .args(["-O", "private", "-o"])
                    .arg(&ppk),
            );
            ppk
        };
        Some(Self {
            ed25519_ppk: convert(&setup.ed25519, "id_ed25519.ppk"),
            rsa_ppk: convert(&setup.rsa, "id_rsa.ppk"),
            setup,
        })
    }

    /// `plink -batch -ssh -P port -hostkey FP [auth] user@127.0.0.1 remote`, with a
    /// private HOME (plink's host key cache and saved sessions live there).
    fn command(&self, host_key: &str, auth: &[&str], user: &str, remote: &str) -> Command {
        let mut cmd = Command::new("plink");
        cmd.env("HOME", self.setup.client.home())
            .env_remove("SSH_AUTH_SOCK")
            .args(["-batch", "-ssh", "-noagent", "-P"])
            .arg(self.setup.peer.port().to_string())
            .args(["-hostkey", host_key])
            .args(auth)
            .arg(format!("{user}@127.0.0.1"))
            .arg(remote);
        cmd
    }

    /// Runs `remote` as the test user with `ppk`, the host key pinned.
    fn run_key(&self, ppk: &Path, remote: &str, stdin: &[u8]) -> Output {
        let fp = self.setup.host_fingerprint();
        let auth = ["-i", ppk.to_str().unwrap()];
        run(
            &mut self.command(&fp, &auth, TEST_USER, remote),
            stdin,
            CLIENT_TIMEOUT,
        )
    }
}

#[test]
fn plink_logs_in_with_puttygen_ed25519_and_rsa_keys_and_passes_the_exit_status() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let Some(plink) = Plink::new(&s) else {
        return;
    };
    let keys = vec![
        (plink.ed25519_ppk.clone(), "ED25519"),
        (plink.rsa_ppk.clone(), "RSA"),
    ];
    let outs = in_parallel(keys.clone(), 2, |(ppk, _)| {
        plink.run_key(&ppk, WHO_AND_STREAMS, b"")
    });
    for ((_, kind), out) in keys.into_iter().zip(outs) {
        assert_exit(&out, 5, &s.peer);
        assert_eq!(out.stdout, format!("{TEST_USER}\nout\n"), "{kind}");
        assert_eq!(out.stderr, "err\n", "{kind}");
        s.assert_accepted("publickey", TEST_USER, Some(kind));
    }
}

#[test]
fn plink_logs_in_with_a_password_by_keyboard_interactive_and_by_password() {
    if !require_peer("plink") {
        return;
    }
    // The default offers keyboard-interactive, which plink prefers; without it plink
    // falls back to the `password` method.
    for (extra, method) in [
        (None, "keyboard-interactive/pam"),
        (Some("KbdInteractiveAuthentication no"), "password"),
    ] {
        let Some(s) = Setup::start(extra.as_slice()) else {
            return;
        };
        let Some(plink) = Plink::new(&s) else {
            return;
        };
        let fp = s.host_fingerprint();
        let out = run(
            &mut plink.command(&fp, &["-pw", PASSWORD], PASSWORD_USER, "id -un; exit 3"),
            b"",
            CLIENT_TIMEOUT,
        );
        assert_exit(&out, 3, &s.peer);
        assert_eq!(out.stdout, format!("{PASSWORD_USER}\n"), "{method}");
        s.assert_accepted(method, PASSWORD_USER, None);
    }
}

#[test]
fn plink_carries_ten_megabytes_each_way() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let Some(plink) = Plink::new(&s) else {
        return;
    };
    let fp = s.host_fingerprint();
    let auth = ["-i", plink.ed25519_ppk.to_str().unwrap()];
    let up = run_transfer(
        &mut plink.command(&fp, &auth, TEST_USER, "cat"),
        TEN_MB,
        BULK_TIMEOUT,
    );
    assert_exit(&up.output, 0, &s.peer);
    assert_eq!(up.sent.len, TEN_MB);
    assert_eq!(up.received, up.sent);
    let down = run_transfer(
        &mut plink.command(&fp, &auth, TEST_USER, &random_stdout(TEN_MB)),
        0,
        BULK_TIMEOUT,
    );
    assert_exit(&down.output, 0, &s.peer);
    assert_eq!(down.received.len, TEN_MB);
    assert_eq!(down.output.stderr, format!("{}  -\n", down.received.sha256));
}

#[test]
fn plink_refuses_a_host_key_other_than_the_pinned_one() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let Some(plink) = Plink::new(&s) else {
        return;
    };
    // Another ed25519 key's fingerprint: the server's key must not match it.
    let other_dir = ClientDir::new();
    let other = other_dir.key("other", HostKey::Ed25519, None);
    let wrong = fingerprint(&support::client::public_path(&other.path));
    let auth = ["-i", plink.ed25519_ppk.to_str().unwrap()];
    let out = run(
        &mut plink.command(&wrong, &auth, TEST_USER, "echo should-not-run"),
        b"",
        CLIENT_TIMEOUT,
    );
    assert_ne!(out.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains("Host key not in manually configured list"),
        "{}",
        out.stderr
    );
    assert!(!s.peer.log().contains("Accepted "), "{}", s.peer.log());
    // The right fingerprint works against the same server.
    let out = plink.run_key(&plink.ed25519_ppk, "echo ran", b"");
    assert_exit(&out, 0, &s.peer);
    assert_eq!(out.stdout, "ran\n");
}

// ---------------------------------------------------------------------------------
// Dropbear: dbclient with keys from dropbearconvert
// ---------------------------------------------------------------------------------

/// `dbclient` against the setup's server with the setup's keys in Dropbear's format.
struct Dbclient<'a> {
    setup: &'a Setup,
    ed25519: PathBuf,
    rsa: PathBuf,
}

impl<'a> Dbclient<'a> {
    /// Converts the keys with `dropbearconvert`; `None` (after a loud SKIP) without it.
    fn new(setup: &'a Setup) -> Option<Self> {
        if !require_peer("dbclient") || !require_peer("dropbearconvert") {
            return None;
        }
        let convert = |key: &UserKey, name: &str| {
            let out = setup.client.path().join(name);
            run_ok(
                Command::new("dropbearconvert")
                    .args(["openssh", "dropbear"])
                    .arg(&key.path)
                    .arg(&out),
            );
            out
        };
        Some(Self {
            ed25519: convert(&setup.ed25519, "id_ed25519.db"),
            rsa: convert(&setup.rsa, "id_rsa.db"),
            setup,
        })
    }

    /// `dbclient -y -i key -p port [args] oxssh-test@127.0.0.1 remote`. `-y` accepts
    /// the unknown host key and prints its fingerprint, which the tests check.
    fn command(&self, key: &Path, args: &[&str], remote: &str) -> Command {
        let mut cmd = Command::new("dbclient");
        cmd.env("HOME", self.setup.client.home())
            .env_remove("SSH_AUTH_SOCK")
            .arg("-y")
            .arg("-i")
            .arg(key)
            .arg("-p")
            .arg(self.setup.peer.port().to_string())
            .args(args)
            .arg(format!("{TEST_USER}@127.0.0.1"))
            .arg(remote);
        cmd
    }

    /// The line dbclient prints about the host key it accepted.
    fn accepted_line(&self) -> String {
        format!(
            "(ssh-ed25519 fingerprint {})",
            self.setup.host_fingerprint()
        )
    }
}

#[test]
fn dbclient_logs_in_with_converted_ed25519_and_rsa_keys_and_passes_the_exit_status() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let Some(db) = Dbclient::new(&s) else {
        return;
    };
    let keys = vec![(db.ed25519.clone(), "ED25519"), (db.rsa.clone(), "RSA")];
    let outs = in_parallel(keys.clone(), 2, |(key, _)| {
        run(
            &mut db.command(&key, &[], WHO_AND_STREAMS),
            b"",
            CLIENT_TIMEOUT,
        )
    });
    for ((_, kind), out) in keys.into_iter().zip(outs) {
        assert_exit(&out, 5, &s.peer);
        assert_eq!(out.stdout, format!("{TEST_USER}\nout\n"), "{kind}");
        assert!(out.stderr.contains(&db.accepted_line()), "{}", out.stderr);
        assert!(out.stderr.ends_with("\nerr\n"), "{kind}: {:?}", out.stderr);
        s.assert_accepted("publickey", TEST_USER, Some(kind));
    }
}

#[test]
fn dbclient_carries_ten_megabytes_each_way() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let Some(db) = Dbclient::new(&s) else {
        return;
    };
    let up = run_transfer(
        &mut db.command(&db.ed25519, &[], "cat"),
        TEN_MB,
        BULK_TIMEOUT,
    );
    assert_exit(&up.output, 0, &s.peer);
    assert_eq!(up.sent.len, TEN_MB);
    assert_eq!(up.received, up.sent);
    let down = run_transfer(
        &mut db.command(&db.ed25519, &[], &random_stdout(TEN_MB)),
        0,
        BULK_TIMEOUT,
    );
    assert_exit(&down.output, 0, &s.peer);
    assert_eq!(down.received.len, TEN_MB);
    assert!(
        down.output
            .stderr
            .ends_with(&format!("\n{}  -\n", down.received.sha256)),
        "{}",
        down.output.stderr
    );
}

#[test]
fn dbclient_tty_gets_a_pty_of_the_local_size() {
    if !require_peer("script") {
        return;
    }
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let Some(db) = Dbclient::new(&s) else {
        return;
    };
    let dbclient = shell_line(&db.command(
        &db.ed25519,
        &["-t"],
        "id -un; tty; echo TERM=$TERM; stty size; exit 6",
    ));
    let out = under_script(&format!("stty rows 33 cols 111; exec {dbclient}"), b"");
    assert_exit(&out, 6, &s.peer);
    assert!(
        out.stdout.contains(&format!("{TEST_USER}\r\n/dev/pts/")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("TERM=xterm\r\n"), "{}", out.stdout);
    assert!(out.stdout.contains("33 111\r\n"), "{}", out.stdout);
}

#[test]
fn dbclient_logs_in_with_a_password_from_dropbear_password() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let Some(db) = Dbclient::new(&s) else {
        return;
    };
    // No key offered (`-i /dev/null` would be an error): a fresh HOME has none.
    let mut cmd = Command::new("dbclient");
    cmd.env("HOME", s.client.home())
        .env_remove("SSH_AUTH_SOCK")
        .env("DROPBEAR_PASSWORD", PASSWORD)
        .args(["-y", "-p", &s.peer.port().to_string()])
        .arg(format!("{PASSWORD_USER}@127.0.0.1"))
        .arg("id -un; exit 4");
    let out = run(&mut cmd, b"", CLIENT_TIMEOUT);
    assert_exit(&out, 4, &s.peer);
    assert_eq!(out.stdout, format!("{PASSWORD_USER}\n"));
    assert!(out.stderr.contains(&db.accepted_line()), "{}", out.stderr);
    s.assert_accepted("keyboard-interactive/pam", PASSWORD_USER, None);
}
