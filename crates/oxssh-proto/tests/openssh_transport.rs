//! Interop: our client transport against OpenSSH's real `sshd`, run in inetd mode
//! (`sshd -i`) over pipes so no port is needed. Each test completes the key exchange,
//! then proves the encrypted channel works both ways: SERVICE_REQUEST gets
//! SERVICE_ACCEPT, a `none` USERAUTH_REQUEST gets USERAUTH_FAILURE.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod sshd;

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use oxssh_proto::{Event, Role, Transport, TransportConfig};
use oxssh_wire::transport::{Ignore, Message, ServiceAccept, ServiceRequest};
use oxssh_wire::Writer;
use sshd::{have_sshd, sshd, sshd_with_user_key, test_user, Sshd, WAIT};

struct Client {
    transport: Transport,
    sshd: Sshd,
    kexes: Vec<(bool, oxssh_proto::transport::Negotiated)>,
    host_keys: Vec<(String, String)>,
}

impl Client {
    fn connect(config: TransportConfig, sshd: Sshd) -> Self {
        let provider = Arc::new(oxssh_crypto::default_provider());
        let transport =
            Transport::new(Arc::new(config), provider, Role::Client, Instant::now()).unwrap();
        Self {
            transport,
            sshd,
            kexes: Vec::new(),
            host_keys: Vec::new(),
        }
    }

    fn flush(&mut self) {
        let out = self.transport.transmit().to_vec();
        if !out.is_empty() {
            self.sshd.stdin.write_all(&out).unwrap();
            self.sshd.stdin.flush().unwrap();
            self.transport.advance_transmit(out.len());
        }
    }

    /// Runs until a payload arrives (returned), failing on error or timeout.
    fn next_payload(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        loop {
            self.flush();
            loop {
                let ev = match self.transport.poll_event() {
                    Ok(ev) => ev,
                    Err(e) => panic!("transport error {e:?}; sshd log:\n{}", self.sshd.log()),
                };
                match ev {
                    None => break,
                    Some(Event::Payload(p)) => return p.to_vec(),
                    Some(Event::HostKey { key, algorithm }) => {
                        self.host_keys.push((key.key_type().to_owned(), algorithm));
                        self.transport.accept_host_key().unwrap();
                    }
                    Some(Event::KexComplete {
                        initial,
                        negotiated,
                    }) => self.kexes.push((initial, negotiated)),
                    Some(_) => {}
                }
            }
            self.flush();
            let left = deadline.saturating_duration_since(Instant::now());
            let data = self
                .sshd
                .output
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("sshd went quiet; log:\n{}", self.sshd.log()));
            self.transport.recv(&data).unwrap();
        }
    }

    fn service_request(&mut self) {
        self.transport
            .send(
                &ServiceRequest {
                    service: "ssh-userauth".into(),
                }
                .to_payload(),
            )
            .unwrap();
        let reply = self.next_payload();
        assert_eq!(
            ServiceAccept::decode(&reply).unwrap().service,
            "ssh-userauth"
        );
    }

    /// USERAUTH_REQUEST "none" (RFC 4252 §5.2) must come back as USERAUTH_FAILURE (51).
    fn userauth_none(&mut self) {
        let mut msg = Vec::new();
        Writer::new(&mut msg)
            .u8(50)
            .string(b"nobody-here")
            .string(b"ssh-connection")
            .string(b"none");
        self.transport.send(&msg).unwrap();
        let reply = self.next_payload();
        assert_eq!(reply[0], 51, "expected USERAUTH_FAILURE, got {reply:?}");
    }
}

/// Logs in with `key` by public key (RFC 4252 §7): OpenSSH only re-keys after login.
fn login(client: &mut Client, key: &dyn oxssh_proto::crypto::SigningKey) {
    client.service_request();
    let user = test_user();
    let alg = "ssh-ed25519";
    let blob = key.public_key().to_blob();
    let mut request = Vec::new();
    Writer::new(&mut request)
        .u8(50)
        .string(user.as_bytes())
        .string(b"ssh-connection")
        .string(b"publickey")
        .bool(true)
        .string(alg.as_bytes())
        .string(&blob);
    let mut signed = Vec::new();
    Writer::new(&mut signed)
        .string(client.transport.session_id().unwrap())
        .raw(&request);
    let raw = key.sign(alg, &signed).unwrap();
    let mut sig = Vec::new();
    Writer::new(&mut sig).string(alg.as_bytes()).string(&raw);
    Writer::new(&mut request).string(&sig);
    client.transport.send(&request).unwrap();
    let reply = client.next_payload();
    assert_eq!(reply[0], 52, "expected USERAUTH_SUCCESS, got {reply:?}");
}

/// A `keepalive@openssh.com` global request with want-reply: sshd answers REQUEST_FAILURE.
fn global_request_round_trip(client: &mut Client) {
    let mut msg = Vec::new();
    Writer::new(&mut msg)
        .u8(80)
        .string(b"keepalive@openssh.com")
        .bool(true);
    client.transport.send(&msg).unwrap();
    // sshd announces its host keys (hostkeys-00@openssh.com, no reply wanted) after login.
    let mut reply = client.next_payload();
    while reply[0] == 80 {
        reply = client.next_payload();
    }
    assert_eq!(reply[0], 82, "expected REQUEST_FAILURE, got {reply:?}");
}

fn logged_in_client(extra: &str) -> Client {
    let key = oxssh_crypto::generate_signing_key(oxssh_crypto::KeyKind::Ed25519).unwrap();
    let line = key.public_key().to_openssh().unwrap();
    let mut client = Client::connect(
        TransportConfig::client_default(),
        sshd_with_user_key(extra, Some(&line)),
    );
    login(&mut client, key.as_ref());
    client
}

fn only(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn with(kex: &str, cipher: &str, mac: &str) -> TransportConfig {
    let mut c = TransportConfig::client_default();
    c.kex_algorithms = only(&[kex]);
    c.ciphers = only(&[cipher]);
    c.macs = only(&[mac]);
    c
}

#[test]
fn every_cipher_and_mac_carries_traffic_with_openssh() {
    if !have_sshd() {
        return;
    }
    let mut combos = vec![];
    for cipher in [
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "chacha20-poly1305@openssh.com",
    ] {
        combos.push((cipher, "hmac-sha2-256-etm@openssh.com"));
    }
    for cipher in ["aes128-ctr", "aes192-ctr", "aes256-ctr"] {
        for mac in [
            "hmac-sha2-256-etm@openssh.com",
            "hmac-sha2-512-etm@openssh.com",
            "hmac-sha2-256",
            "hmac-sha2-512",
        ] {
            combos.push((cipher, mac));
        }
    }
    for (cipher, mac) in combos {
        let mut client = Client::connect(with("curve25519-sha256", cipher, mac), sshd(""));
        client.service_request();
        client.userauth_none();
        assert_eq!(client.kexes[0].1.cipher_c2s, cipher);
        assert!(client.transport.strict_kex(), "OpenSSH 9.2 does strict kex");
    }
}

#[test]
fn every_openssh_kex_completes_and_carries_traffic() {
    if !have_sshd() {
        return;
    }
    for kex in [
        "sntrup761x25519-sha512@openssh.com",
        "curve25519-sha256",
        "curve25519-sha256@libssh.org",
        "ecdh-sha2-nistp256",
        "ecdh-sha2-nistp384",
        "ecdh-sha2-nistp521",
        "diffie-hellman-group-exchange-sha256",
        "diffie-hellman-group16-sha512",
        "diffie-hellman-group18-sha512",
        "diffie-hellman-group14-sha256",
    ] {
        let mut client = Client::connect(
            with(
                kex,
                "aes128-gcm@openssh.com",
                "hmac-sha2-256-etm@openssh.com",
            ),
            sshd(""),
        );
        client.service_request();
        assert_eq!(client.kexes[0].1.kex, kex);
    }
}

#[test]
fn every_host_key_type_verifies_against_openssh() {
    if !have_sshd() {
        return;
    }
    for (alg, key_type) in [
        ("ssh-ed25519", "ssh-ed25519"),
        ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"),
        ("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384"),
        ("ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521"),
        ("rsa-sha2-512", "ssh-rsa"),
        ("rsa-sha2-256", "ssh-rsa"),
    ] {
        let mut config = TransportConfig::client_default();
        config.host_key_algorithms = only(&[alg]);
        let mut client = Client::connect(config, sshd(""));
        client.service_request();
        assert_eq!(
            client.host_keys,
            vec![(key_type.to_owned(), alg.to_owned())]
        );
        assert!(
            client.transport.peer_extensions().is_some(),
            "sshd sends EXT_INFO"
        );
    }
}

#[test]
fn client_started_rekey_with_openssh_keeps_the_session() {
    if !have_sshd() {
        return;
    }
    let mut client = logged_in_client("");
    for _ in 0..3 {
        client.transport.rekey().unwrap();
        // Queued behind the re-key, sent with the new keys.
        global_request_round_trip(&mut client);
    }
    let rekeys = client.kexes.iter().filter(|(initial, _)| !initial).count();
    assert_eq!(rekeys, 3, "{:?}", client.kexes);
}

#[test]
fn server_started_rekey_by_openssh_keeps_the_session() {
    if !have_sshd() {
        return;
    }
    // sshd re-keys after 16 KiB; IGNORE packets push it past that while requests flow.
    let mut client = logged_in_client("RekeyLimit 16K");
    for _ in 0..20 {
        client
            .transport
            .send(
                &Ignore {
                    data: vec![0; 4000],
                }
                .to_payload(),
            )
            .unwrap();
        global_request_round_trip(&mut client);
    }
    let rekeys = client.kexes.iter().filter(|(initial, _)| !initial).count();
    assert!(
        rekeys >= 3,
        "sshd re-keyed {rekeys} times: {:?}",
        client.kexes
    );
}
