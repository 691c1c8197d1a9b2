//! The `oxssh` program against Dropbear, end to end: remote exit status and separate
//! streams, bulk data both ways through Dropbear's small channel window, each key
//! exchange, cipher and MAC Dropbear offers, each host key type verified against
//! known_hosts, each user key type, and a pty.
//!
//! Dropbear reads only `~/.ssh/authorized_keys`, so the test user's file gets each
//! test's key for the test's duration (see `HomeAuthorizedKey`). Dropbear does not log
//! the negotiated algorithms; oxssh offering only the one named proves its use.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::process::Command;
use std::time::Duration;

use support::client::{
    assert_exit, in_parallel, random_stdout, run_transfer, shell_line, under_script, ClientDir,
    Ssh, UserKey,
};
use support::users::{test_user, HomeAuthorizedKey, TEST_USER};
use support::{require_peer, run, start_dropbear, HostKey, Peer, RUN_TIMEOUT};

/// Key exchanges Dropbear 2022.83 offers (less its `kexguess2` marker).
const KEXES: [&str; 7] = [
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp521",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp256",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group14-sha1",
];
/// Cipher and MAC pairs Dropbear offers (its AEAD cipher ignores the MAC).
const CIPHER_MACS: [(&str, &str); 5] = [
    ("chacha20-poly1305@openssh.com", "hmac-sha2-256"),
    ("aes128-ctr", "hmac-sha1"),
    ("aes128-ctr", "hmac-sha2-256"),
    ("aes256-ctr", "hmac-sha1"),
    ("aes256-ctr", "hmac-sha2-256"),
];
/// Bulk size: many of Dropbear's 24 kB windows.
const BULK: u64 = 20_000_000;
const BULK_TIMEOUT: Duration = Duration::from_secs(60);

/// A Dropbear serving `host_keys`, with a client whose `key` the test user authorises.
struct Fixture {
    peer: Peer,
    client: ClientDir,
    key: UserKey,
    _authorized: HomeAuthorizedKey,
}

impl Fixture {
    fn start(host_keys: &[HostKey]) -> Option<Self> {
        if !require_peer("dropbear") || !require_peer("dropbearkey") {
            return None;
        }
        test_user();
        let client = ClientDir::new();
        let key = client.key("id_ed25519", HostKey::Ed25519, None);
        let authorized = HomeAuthorizedKey::add(&key.public);
        let peer = start_dropbear(host_keys);
        Some(Self {
            peer,
            client,
            key,
            _authorized: authorized,
        })
    }

    fn oxssh(&self) -> Ssh {
        Ssh::oxssh(&self.client, &self.peer, TEST_USER).identity(&self.key.path)
    }

    /// The public key line of the peer's `kind` host key.
    fn host_key_line(&self, kind: HostKey) -> String {
        let out = run(
            Command::new("dropbearkey")
                .arg("-y")
                .arg("-f")
                .arg(self.peer.dir().join(kind.file_name())),
            b"",
            RUN_TIMEOUT,
        );
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with("ssh-") || l.starts_with("ecdsa-"))
            .unwrap_or_else(|| panic!("no public key from dropbearkey: {}", out.stdout));
        format!("[127.0.0.1]:{} {line}\n", self.peer.port())
    }
}

#[test]
fn dropbear_runs_commands_with_exit_status_and_separate_streams() {
    let Some(f) = Fixture::start(&[HostKey::Ed25519]) else {
        return;
    };
    let cases = vec![
        (0, "printf out; printf err >&2"),
        (7, "printf out; printf err >&2; exit 7"),
    ];
    let outs = in_parallel(cases.clone(), 2, |(_, command)| {
        f.oxssh().option("LogLevel=ERROR").run(command, b"")
    });
    for ((code, _), out) in cases.into_iter().zip(outs) {
        assert_exit(&out, code, &f.peer);
        assert_eq!(out.stdout, "out");
        assert_eq!(out.stderr, "err");
    }
    let killed = f.oxssh().run("kill -9 $$", b"");
    assert_exit(&killed, 255, &f.peer);
}

#[test]
fn dropbear_bulk_data_both_ways_arrives_intact() {
    let Some(f) = Fixture::start(&[HostKey::Ed25519]) else {
        return;
    };
    let ssh = f.oxssh().option("LogLevel=ERROR");
    let up = run_transfer(&mut ssh.command(Some("sha256sum >&2")), BULK, BULK_TIMEOUT);
    assert_exit(&up.output, 0, &f.peer);
    assert_eq!(up.output.stderr, format!("{}  -\n", up.sent.sha256));
    let down = run_transfer(
        &mut ssh.command(Some(&random_stdout(BULK))),
        0,
        BULK_TIMEOUT,
    );
    assert_exit(&down.output, 0, &f.peer);
    assert_eq!(down.received.len, BULK);
    assert_eq!(down.output.stderr, format!("{}  -\n", down.received.sha256));
}

#[test]
fn dropbear_echo_survives_client_initiated_rekeys() {
    let Some(f) = Fixture::start(&[HostKey::Ed25519]) else {
        return;
    };
    let mut cmd = f.oxssh().option("RekeyLimit=512K").command(Some("cat"));
    let t = run_transfer(&mut cmd, 8_000_000, BULK_TIMEOUT);
    assert_exit(&t.output, 0, &f.peer);
    assert_eq!(t.received, t.sent);
}

#[test]
fn dropbear_every_key_exchange_works() {
    let Some(f) = Fixture::start(&[HostKey::Ed25519]) else {
        return;
    };
    let outs = in_parallel(KEXES.to_vec(), 4, |kex| {
        f.oxssh()
            .option(&format!("KexAlgorithms={kex}"))
            .run(&format!("echo {kex}"), b"")
    });
    for (kex, out) in KEXES.into_iter().zip(outs) {
        assert_exit(&out, 0, &f.peer);
        assert_eq!(out.stdout, format!("{kex}\n"));
    }
}

#[test]
fn dropbear_every_cipher_and_mac_works() {
    let Some(f) = Fixture::start(&[HostKey::Ed25519]) else {
        return;
    };
    let outs = in_parallel(CIPHER_MACS.to_vec(), 4, |(cipher, mac)| {
        let input = format!("{cipher} {mac}\n").repeat(2000);
        let out = f
            .oxssh()
            .args(["-c", cipher, "-m", mac])
            .run("cat", input.as_bytes());
        (out, input)
    });
    for ((cipher, mac), (out, input)) in CIPHER_MACS.into_iter().zip(outs) {
        assert_exit(&out, 0, &f.peer);
        assert!(out.stdout == input, "{cipher} {mac}: output differs");
    }
}

#[test]
fn dropbear_host_keys_of_every_type_are_verified_against_known_hosts() {
    let cases = [
        (HostKey::Ed25519, "ssh-ed25519"),
        (HostKey::EcdsaP256, "ecdsa-sha2-nistp256"),
        (HostKey::EcdsaP384, "ecdsa-sha2-nistp384"),
        (HostKey::EcdsaP521, "ecdsa-sha2-nistp521"),
        (HostKey::Rsa, "rsa-sha2-256"),
        (HostKey::Rsa, "ssh-rsa"),
    ];
    let outs = in_parallel(cases.to_vec(), 3, |(kind, alg)| {
        // One Dropbear per key: it serves a single ECDSA key.
        let f = Fixture::start(&[kind])?;
        let known = f.client.path().join("known_hosts_strict");
        std::fs::write(&known, f.host_key_line(kind)).unwrap();
        let out = f
            .oxssh()
            .option(&format!("UserKnownHostsFile={}", known.display()))
            .option("StrictHostKeyChecking=yes")
            .option(&format!("HostKeyAlgorithms={alg}"))
            .run("echo verified", b"");
        Some((out, f.peer.log()))
    });
    for ((_, alg), result) in cases.into_iter().zip(outs) {
        let Some((out, log)) = result else {
            return;
        };
        assert_eq!(
            out.code(),
            Some(0),
            "{alg}: {}\ndropbear log:\n{log}",
            out.stderr
        );
        assert_eq!(out.stdout, "verified\n");
    }
}

#[test]
fn dropbear_accepts_user_keys_of_every_type() {
    let Some(f) = Fixture::start(&[HostKey::Ed25519]) else {
        return;
    };
    let kinds = vec![
        ("id_ecdsa256", HostKey::EcdsaP256),
        ("id_ecdsa384", HostKey::EcdsaP384),
        ("id_ecdsa521", HostKey::EcdsaP521),
        // Dropbear allows rsa-sha2-256 only (its server-sig-algs): not our first choice.
        ("id_rsa", HostKey::Rsa),
    ];
    let keys: Vec<UserKey> = in_parallel(kinds, 4, |(name, kind)| f.client.key(name, kind, None));
    let _authorized: Vec<HomeAuthorizedKey> = keys
        .iter()
        .map(|k| HomeAuthorizedKey::add(&k.public))
        .collect();
    for key in &keys {
        let out = Ssh::oxssh(&f.client, &f.peer, TEST_USER)
            .identity(&key.path)
            .run("id -un", b"");
        assert_exit(&out, 0, &f.peer);
        assert_eq!(
            out.stdout,
            format!("{TEST_USER}\n"),
            "{}",
            key.path.display()
        );
    }
}

#[test]
fn dropbear_forced_tty_gets_a_pty_of_the_local_size() {
    if !require_peer("script") {
        return;
    }
    let Some(f) = Fixture::start(&[HostKey::Ed25519]) else {
        return;
    };
    let oxssh = shell_line(
        &f.oxssh()
            .args(["-tt"])
            .command(Some("tty; stty size; exit 3")),
    );
    let out = under_script(&format!("stty rows 21 cols 77; exec {oxssh}"), b"");
    assert_exit(&out, 3, &f.peer);
    assert!(out.stdout.contains("/dev/pts/"), "{}", out.stdout);
    assert!(out.stdout.contains("21 77\r\n"), "{}", out.stdout);
}
