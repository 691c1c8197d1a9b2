//! An OpenSSH `sshd` with the test user's key authorised, plus the client side to
//! talk to it, and small helpers the sshd interop tests share (sshd log matching,
//! known_hosts names, bounded waits).

use super::client::{ClientDir, Ssh, UserKey};
use super::users::{test_user, TEST_USER};
use super::{require_peer, start_oxsshd, start_sshd, HostKey, Peer, SshdOptions};

/// An sshd with the test user's ed25519 key authorised, and a client directory.
pub struct Fixture {
    /// The server.
    pub peer: Peer,
    /// The client's files.
    pub client: ClientDir,
    /// The authorised user key.
    pub key: UserKey,
}

impl Fixture {
    /// Starts sshd with `opts` plus our key; `None` (after a loud SKIP) without sshd.
    pub fn start(mut opts: SshdOptions) -> Option<Self> {
        if !require_peer("sshd") || !require_peer("ssh-keygen") {
            return None;
        }
        test_user();
        let client = ClientDir::new();
        let key = client.key("id_ed25519", HostKey::Ed25519, None);
        opts.authorized_keys.push(key.public.clone());
        let peer = start_sshd(&opts);
        Some(Self { peer, client, key })
    }

    /// Starts `oxsshd` (the system daemon) with the sshd harness's configuration plus
    /// `opts` and our key; `None` (after a loud SKIP) without ssh-keygen.
    pub fn start_oxsshd(mut opts: SshdOptions) -> Option<Self> {
        if !require_peer("ssh-keygen") {
            return None;
        }
        test_user();
        let client = ClientDir::new();
        let key = client.key("id_ed25519", HostKey::Ed25519, None);
        opts.authorized_keys.push(key.public.clone());
        let peer = start_oxsshd(&opts);
        Some(Self { peer, client, key })
    }

    /// `oxssh` as the test user with our key.
    pub fn oxssh(&self) -> Ssh {
        Ssh::oxssh(&self.client, &self.peer, TEST_USER).identity(&self.key.path)
    }

    /// OpenSSH's `ssh`, the same way.
    pub fn openssh(&self) -> Ssh {
        Ssh::openssh(&self.client, &self.peer, TEST_USER).identity(&self.key.path)
    }

    /// Writes the server's host key to known_hosts, so no "Permanently added" line.
    pub fn trust_host(&self) {
        let public = std::fs::read_to_string(self.peer.dir().join("host_ed25519.pub")).unwrap();
        std::fs::write(
            self.client.known_hosts(),
            format!("{} {public}", host_name(&self.peer)),
        )
        .unwrap();
    }

    /// How many key exchanges sshd logged (needs `LogLevel DEBUG1`).
    pub fn kex_count(&self) -> usize {
        self.peer.log().matches("debug1: kex: algorithm: ").count()
    }
}

/// One ed25519 host key (fast to generate) and `extra` config lines.
pub fn sshd_opts(extra: &[&str]) -> SshdOptions {
    SshdOptions {
        host_keys: vec![HostKey::Ed25519],
        extra: extra.iter().map(|l| (*l).to_owned()).collect(),
        ..SshdOptions::default()
    }
}

/// Whether sshd logged `what` followed by exactly `value` (then a space or the end of
/// the line: sshd appends ` [preauth]` to some lines).
pub fn logged(log: &str, what: &str, value: &str) -> bool {
    log.lines().any(|line| {
        line.split_once(what)
            .is_some_and(|(_, rest)| rest.split(' ').next() == Some(value))
    })
}

/// `[127.0.0.1]:port`, the name known_hosts files use for the peer.
pub fn host_name(peer: &Peer) -> String {
    format!("[127.0.0.1]:{}", peer.port())
}

/// OpenSSH's sshd and oxsshd, each with [`sshd_opts`]`(&[])`, named; those that cannot
/// start here are left out (after a loud SKIP).
pub fn both_servers() -> Vec<(&'static str, Fixture)> {
    let mut all = Vec::new();
    if let Some(f) = Fixture::start(sshd_opts(&[])) {
        all.push(("sshd", f));
    }
    if let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) {
        all.push(("oxsshd", f));
    }
    all
}
