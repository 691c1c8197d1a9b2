//! Interop: the whole client connection (transport, public-key authentication,
//! session channels) against OpenSSH's `sshd -i`: exec with stdout, stderr and exit
//! status, large transfers both ways through flow control, and EOF/CLOSE ordering.
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

use oxssh_proto::auth::AuthEvent;
use oxssh_proto::connection::{ChannelId, ChannelRequestKind, ConnectionConfig, ConnectionEvent};
use oxssh_proto::crypto::{HashAlg, SigningKey};
use oxssh_proto::{ClientConnection, ClientEvent, TransportConfig};
use oxssh_wire::Writer;
use sshd::{have_sshd, sshd_with_user_key, test_user, Sshd, WAIT};

struct Session {
    conn: ClientConnection,
    sshd: Sshd,
    key: Box<dyn SigningKey>,
}

/// What one exec produced.
#[derive(Debug, Default)]
struct Outcome {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    exit_status: Option<u32>,
    order: Vec<&'static str>,
}

impl Session {
    fn start(config: ConnectionConfig) -> Self {
        Self::start_with(config, TransportConfig::client_default())
    }

    fn start_with(config: ConnectionConfig, transport: TransportConfig) -> Self {
        let key = oxssh_crypto::generate_signing_key(oxssh_crypto::KeyKind::Ed25519).unwrap();
        let line = key.public_key().to_openssh().unwrap();
        let sshd = sshd_with_user_key("", Some(&line));
        let conn = ClientConnection::new(
            &test_user(),
            Arc::new(transport),
            config,
            Arc::new(oxssh_crypto::default_provider()),
            Instant::now(),
        )
        .unwrap();
        Self { conn, sshd, key }
    }

    fn flush(&mut self) {
        let out = self.conn.transmit().to_vec();
        if !out.is_empty() {
            self.sshd.stdin.write_all(&out).unwrap();
            self.conn.advance_transmit(out.len());
        }
    }

    /// Blocks for input from sshd, then feeds it.
    fn pump(&mut self) {
        self.flush();
        let data = self
            .sshd
            .output
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("sshd went quiet; log:\n{}", self.sshd.log()));
        self.conn.recv(&data).unwrap();
    }

    fn next_event(&mut self) -> ClientEvent {
        loop {
            match self.conn.poll_event() {
                Ok(Some(ev)) => return ev,
                Ok(None) => self.pump(),
                Err(e) => panic!("{e:?}; sshd log:\n{}", self.sshd.log()),
            }
        }
    }

    /// Host key, then `none`, then a public-key query and the signed attempt.
    fn authenticate(&mut self) {
        let blob = self.key.public_key().to_blob();
        let alg = "ssh-ed25519";
        loop {
            match self.next_event() {
                ClientEvent::HostKey { .. } => self.conn.accept_host_key().unwrap(),
                ClientEvent::AuthReady => self.conn.auth_none().unwrap(),
                ClientEvent::Auth(AuthEvent::Failure { methods, .. }) => {
                    assert!(methods.contains(&"publickey".to_owned()), "{methods:?}");
                    self.conn.auth_publickey_query(alg, &blob).unwrap();
                }
                ClientEvent::Auth(AuthEvent::PkOk { .. }) => {
                    let data = self.conn.auth_publickey_signed_data(alg, &blob);
                    let raw = self.key.sign(alg, &data).unwrap();
                    let mut sig = Vec::new();
                    Writer::new(&mut sig).string(alg.as_bytes()).string(&raw);
                    self.conn.auth_publickey(alg, &blob, &sig).unwrap();
                }
                ClientEvent::Auth(AuthEvent::Success) => return,
                _ => {}
            }
        }
    }

    fn exec(&mut self, command: &str) -> ChannelId {
        let id = self.conn.open_session().unwrap();
        loop {
            match self.next_event() {
                ClientEvent::Connection(ConnectionEvent::OpenConfirmed(c)) if c == id => break,
                ClientEvent::Connection(ConnectionEvent::OpenFailed { description, .. }) => {
                    panic!("open failed: {description}")
                }
                _ => {}
            }
        }
        let request = ChannelRequestKind::Exec {
            command: command.as_bytes().to_vec(),
        };
        self.conn.channel_request(id, &request, true).unwrap();
        id
    }

    /// Runs the channel to its close, writing `input` (then EOF) as the window allows.
    fn run(&mut self, id: ChannelId, input: &[u8]) -> Outcome {
        let mut out = Outcome::default();
        let mut written = 0;
        let mut eof_sent = input.is_empty();
        if eof_sent {
            self.conn.send_eof(id).unwrap();
        }
        let mut buf = vec![0u8; 65536];
        loop {
            if !eof_sent {
                written += self.conn.write(id, &input[written..]).unwrap();
                if written == input.len() {
                    self.conn.send_eof(id).unwrap();
                    eof_sent = true;
                }
            }
            let ev = self.next_event();
            let ClientEvent::Connection(ev) = ev else {
                continue;
            };
            match ev {
                ConnectionEvent::RequestReply { success, .. } => {
                    assert!(success, "exec refused");
                    out.order.push("reply");
                }
                ConnectionEvent::Readable(c) if c == id => {
                    for stderr in [false, true] {
                        loop {
                            let n = self.conn.read(id, &mut buf, stderr).unwrap();
                            if n == 0 {
                                break;
                            }
                            let sink = if stderr {
                                &mut out.stderr
                            } else {
                                &mut out.stdout
                            };
                            sink.extend_from_slice(&buf[..n]);
                        }
                    }
                }
                ConnectionEvent::Request {
                    request: ChannelRequestKind::ExitStatus(code),
                    ..
                } => {
                    out.exit_status = Some(code);
                    out.order.push("exit-status");
                }
                ConnectionEvent::Eof(_) => out.order.push("eof"),
                ConnectionEvent::Closed(c) if c == id => {
                    out.order.push("close");
                    self.flush();
                    self.conn.release(id);
                    return out;
                }
                _ => {}
            }
        }
    }
}

fn sha256_hex(provider: &oxssh_proto::crypto::CryptoProvider, data: &[u8]) -> String {
    provider
        .digest(HashAlg::Sha256, &[data])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn exec_returns_stdout_stderr_and_exit_status_in_order() {
    if !have_sshd() {
        return;
    }
    let mut s = Session::start(ConnectionConfig::default());
    s.authenticate();
    let id = s.exec("echo out; echo err >&2; exit 3");
    let out = s.run(id, b"");
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.exit_status, Some(3));
    // sshd sends EOF and exit-status in whichever order its child's events come;
    // both must precede CLOSE, and the exec reply comes first.
    assert_eq!(out.order.len(), 4, "{:?}", out.order);
    assert_eq!(out.order[0], "reply");
    assert_eq!(out.order[3], "close");
    assert!(out.order.contains(&"eof") && out.order.contains(&"exit-status"));
    // A second session on the same connection.
    let id = s.exec("printf second");
    assert_eq!(s.run(id, b"").stdout, b"second");
}

#[test]
fn large_output_flows_through_small_windows() {
    if !have_sshd() {
        return;
    }
    // A 64 KiB window must be refilled ~150 times for 10 MB.
    let config = ConnectionConfig {
        window: 64 * 1024,
        max_packet: 16 * 1024,
        ..ConnectionConfig::default()
    };
    let mut s = Session::start(config);
    s.authenticate();
    let id = s.exec("head -c 10000000 /dev/zero | tr '\\0' x");
    let out = s.run(id, b"");
    assert_eq!(out.stdout.len(), 10_000_000);
    assert!(out.stdout.iter().all(|&b| b == b'x'));
    assert_eq!(out.exit_status, Some(0));
}

#[test]
fn large_input_is_delivered_intact_within_the_peer_window() {
    if !have_sshd() {
        return;
    }
    let provider = oxssh_crypto::default_provider();
    let input: Vec<u8> = (0..5_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut s = Session::start(ConnectionConfig::default());
    s.authenticate();
    let id = s.exec("sha256sum");
    let out = s.run(id, &input);
    let expected = format!("{}  -\n", sha256_hex(&provider, &input));
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    assert_eq!(out.exit_status, Some(0));
}

#[test]
fn zlib_compression_with_openssh_carries_data_intact() {
    if !have_sshd() {
        return;
    }
    let provider = oxssh_crypto::default_provider();
    let mut transport = TransportConfig::client_default();
    transport.compression = vec!["zlib@openssh.com".into()];
    let mut s = Session::start_with(ConnectionConfig::default(), transport);
    s.authenticate();
    let input: Vec<u8> = (0..3_000_000u32).map(|i| (i / 1000 % 251) as u8).collect();
    let id = s.exec("sha256sum; head -c 2000000 /dev/zero");
    let out = s.run(id, &input);
    let expected = format!("{}  -\n", sha256_hex(&provider, &input));
    assert_eq!(&out.stdout[..expected.len()], expected.as_bytes());
    assert_eq!(out.stdout.len(), expected.len() + 2_000_000);
    assert_eq!(out.exit_status, Some(0));
    let log = s.sshd.log();
    assert!(log.contains("compression: zlib@openssh.com"), "{log}");
}
