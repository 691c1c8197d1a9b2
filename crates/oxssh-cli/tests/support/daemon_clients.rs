//! The fixture shared by the `sshd_clients*` tests: `oxsshd` as the system daemon with
//! the test user's ed25519 and RSA keys authorised and passwords through PAM, and the
//! constants those tests share.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::client::{ClientDir, Ssh, UserKey};
use super::openssh::{host_name, sshd_opts};
use super::users::{password_user, test_user, TEST_USER};
use super::{require_peer, run, start_oxsshd, HostKey, Peer, SshdOptions, RUN_TIMEOUT};

/// Bulk size for the foreign clients.
pub const TEN_MB: u64 = 10_000_000;
/// Bulk size for `oxssh` (the 100 MB).
pub const HUNDRED_MB: u64 = 100_000_000;
/// Time limit for a bulk transfer (they take about a second).
pub const BULK_TIMEOUT: Duration = Duration::from_secs(90);
/// Concurrent client runs (the CI machine has two cores).
pub const PARALLEL: usize = 3;
/// The command every client runs first: who it runs as, both streams, an exit status.
pub const WHO_AND_STREAMS: &str = "id -un; echo out; echo err >&2; exit 5";
/// Ciphers oxssh implements that need a separate MAC.
pub const MAC_CIPHERS: [&str; 3] = ["aes128-ctr", "aes192-ctr", "aes256-ctr"];
/// Ciphers with built-in authentication.
pub const AEAD_CIPHERS: [&str; 3] = [
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
];
/// Every MAC oxssh implements (`hmac-sha1*` only when configured, as here).
pub const MACS: [&str; 6] = [
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-sha1",
    "hmac-sha1-etm@openssh.com",
];

/// An `oxsshd` with the test user's ed25519 and RSA keys authorised, passwords through
/// PAM, `AcceptEnv LC_*`, and ed25519 and RSA host keys.
pub struct Setup {
    pub peer: Peer,
    pub client: ClientDir,
    pub ed25519: UserKey,
    pub rsa: UserKey,
}

impl Setup {
    /// Starts the server with the harness's configuration plus `extra` lines; `None`
    /// (after a loud SKIP) without ssh-keygen.
    pub fn start(extra: &[&str]) -> Option<Self> {
        Self::start_with(sshd_opts(extra))
    }

    pub fn start_with(mut opts: SshdOptions) -> Option<Self> {
        if !require_peer("ssh-keygen") {
            return None;
        }
        test_user();
        password_user();
        let client = ClientDir::new();
        let ed25519 = client.key("id_ed25519", HostKey::Ed25519, None);
        let rsa = client.key("id_rsa", HostKey::Rsa, None);
        opts.authorized_keys.push(ed25519.public.clone());
        opts.authorized_keys.push(rsa.public.clone());
        opts.extra.extend(
            ["UsePAM yes", "PasswordAuthentication yes", "AcceptEnv LC_*"].map(str::to_owned),
        );
        let peer = start_oxsshd(&opts);
        Some(Self {
            peer,
            client,
            ed25519,
            rsa,
        })
    }

    /// The server's ed25519 host key, as an OpenSSH public key line.
    pub fn host_key(&self) -> String {
        std::fs::read_to_string(self.peer.dir().join("host_ed25519.pub"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// `SHA256:...`, the host key's fingerprint as `ssh-keygen -l` prints it.
    pub fn host_fingerprint(&self) -> String {
        fingerprint(&self.peer.dir().join("host_ed25519.pub"))
    }

    /// A known_hosts file naming only the ed25519 host key.
    pub fn known_hosts(&self) -> PathBuf {
        let path = self.client.path().join("known_hosts.pinned");
        std::fs::write(
            &path,
            format!("{} {}\n", host_name(&self.peer), self.host_key()),
        )
        .unwrap();
        path
    }

    /// `oxssh` as the test user with the ed25519 key.
    pub fn oxssh(&self) -> Ssh {
        Ssh::oxssh(&self.client, &self.peer, TEST_USER).identity(&self.ed25519.path)
    }

    /// Asserts the server logged accepting `method` for `user` (with `key_type` for keys).
    #[track_caller]
    pub fn assert_accepted(&self, method: &str, user: &str, key_type: Option<&str>) {
        let log = self.peer.log();
        let line = format!("Accepted {method} for {user} from 127.0.0.1 port ");
        let found = log.lines().any(|l| {
            l.contains(&line)
                && key_type.is_none_or(|kind| l.contains(&format!(" ssh2: {kind} SHA256:")))
        });
        assert!(
            found,
            "no `{line}` ({key_type:?}) in the server log:\n{log}"
        );
    }
}

/// The SHA-256 fingerprint of the public key in `path`, from `ssh-keygen -l`.
pub fn fingerprint(path: &Path) -> String {
    let out = run(
        Command::new("ssh-keygen")
            .args(["-l", "-E", "sha256", "-f"])
            .arg(path),
        b"",
        RUN_TIMEOUT,
    );
    assert!(out.status.success(), "ssh-keygen -l: {}", out.stderr);
    out.stdout
        .split(' ')
        .nth(1)
        .expect("fingerprint")
        .to_owned()
}
