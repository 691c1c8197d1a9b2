//! Interop: OpenSSH's real `ssh` client against our server transport. A test thread
//! serves one connection on a loopback port: key exchange, SERVICE_ACCEPT, then a
//! USERAUTH_FAILURE offering only `publickey`, so `ssh` ends with "Permission denied".
//! Its `-vvv` log proves the negotiated algorithms and the encrypted round trips.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod pair;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use oxssh_proto::{Event, Role, Transport, TransportConfig, TransportError};
use oxssh_wire::transport::{Message, ServiceAccept};
use oxssh_wire::Writer;

const SSH: &str = "/usr/bin/ssh";

fn have_ssh() -> bool {
    if Path::new(SSH).exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{SSH} is missing: .ci/run must install openssh-client");
    }
    eprintln!("SKIP: {SSH} not installed; OpenSSH client interop not tested");
    false
}

/// Serves one connection; returns what the transport ended with.
fn serve_once(
    listener: TcpListener,
    config: TransportConfig,
) -> JoinHandle<Result<(), TransportError>> {
    std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let keys = vec![
            pair::host_key("ed25519"),
            pair::host_key("ecdsa-p256"),
            pair::host_key("ecdsa-p384"),
            pair::host_key("ecdsa-p521"),
            pair::host_key("rsa"),
        ];
        let mut t = Transport::new(
            Arc::new(config),
            pair::provider(),
            Role::Server { host_keys: keys },
            Instant::now(),
        )
        .unwrap();
        let mut buf = vec![0u8; 65536];
        loop {
            let out = t.transmit().to_vec();
            if !out.is_empty() {
                if sock.write_all(&out).is_err() {
                    return t.error().cloned().map_or(Ok(()), Err);
                }
                t.advance_transmit(out.len());
            }
            let mut replies = Vec::new();
            loop {
                match t.poll_event() {
                    Ok(Some(Event::Payload(p))) => replies.push(p.to_vec()),
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(TransportError::PeerDisconnected { .. }) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            for request in replies {
                match request[0] {
                    5 => t
                        .send(
                            &ServiceAccept {
                                service: "ssh-userauth".into(),
                            }
                            .to_payload(),
                        )
                        .unwrap(),
                    50 => {
                        let mut failure = Vec::new();
                        Writer::new(&mut failure)
                            .u8(51)
                            .string(b"publickey")
                            .bool(false);
                        t.send(&failure).unwrap();
                    }
                    _ => {}
                }
            }
            if !t.transmit().is_empty() {
                continue;
            }
            match sock.read(&mut buf) {
                Ok(0) | Err(_) => return t.error().cloned().map_or(Ok(()), Err),
                Ok(n) => {
                    t.recv(&buf[..n])?;
                }
            }
        }
    })
}

/// Runs `ssh -vvv` with `options` against a fresh server; returns ssh's log.
fn ssh_against_us(server: TransportConfig, options: &[&str]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = serve_once(listener, server);
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(SSH)
        .args(["-vvv", "-F", "/dev/null", "-p", &port.to_string()])
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
        .args([
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "IdentitiesOnly=yes",
        ])
        .arg("-o")
        .arg(format!(
            "IdentityFile={}",
            home.path().join("none").display()
        ))
        .args(options)
        .args(["nobody@127.0.0.1", "true"])
        .env("HOME", home.path())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    let served = handle.join().unwrap();
    assert!(
        served.is_ok(),
        "server ended with {served:?}; ssh log:\n{log}"
    );
    assert_eq!(output.status.code(), Some(255), "{log}");
    assert!(log.contains("SSH2_MSG_SERVICE_ACCEPT received"), "{log}");
    assert!(
        log.contains("Authentications that can continue: publickey"),
        "{log}"
    );
    assert!(log.contains("Permission denied (publickey)"), "{log}");
    log
}

#[test]
fn openssh_client_completes_every_kex_with_our_server() {
    if !have_ssh() {
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
        let mut server = TransportConfig::server_default();
        server.kex_algorithms = vec![kex.to_owned()];
        let log = ssh_against_us(server, &["-o", &format!("KexAlgorithms={kex}")]);
        assert!(log.contains(&format!("kex: algorithm: {kex}")), "{log}");
    }
}

#[test]
fn openssh_client_uses_every_cipher_and_mac_with_our_server() {
    if !have_ssh() {
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
        let log = ssh_against_us(
            TransportConfig::server_default(),
            &[
                "-o",
                &format!("Ciphers={cipher}"),
                "-o",
                &format!("MACs={mac}"),
            ],
        );
        assert!(log.contains(&format!("cipher: {cipher}")), "{log}");
        assert!(log.contains("kex_input_ext_info: server-sig-algs"), "{log}");
    }
}

#[test]
fn openssh_client_verifies_every_host_key_type_we_offer() {
    if !have_ssh() {
        return;
    }
    for alg in [
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "rsa-sha2-512",
        "rsa-sha2-256",
    ] {
        let log = ssh_against_us(
            TransportConfig::server_default(),
            &["-o", &format!("HostKeyAlgorithms={alg}")],
        );
        assert!(
            log.contains(&format!("kex: host key algorithm: {alg}")),
            "{log}"
        );
    }
}
