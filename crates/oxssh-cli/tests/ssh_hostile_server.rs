//! `oxssh` against a server that logs the client in properly and then breaks the
//! connection protocol on purpose: it opens channels the client never asked for, sends
//! more data than the client's window allows, sends data for a channel that does not
//! exist, or a data packet over the client's maximum packet size. The server is our own
//! sans-IO core driven by a test thread, scripted per case. Refused opens leave the
//! session running (as OpenSSH's client does); every protocol violation ends `oxssh`
//! promptly with exit 255 and a message, never a hang. A keyboard-interactive question
//! with escape sequences in its texts is shown escaped, as OpenSSH shows it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use oxssh_proto::auth::{AttemptMethod, AuthConfig};
use oxssh_proto::connection::{ChannelId, ChannelRequestKind, ConnectionConfig, ConnectionEvent};
use oxssh_proto::{ServerConnection, ServerEvent, TransportConfig};
use support::client::{spawn_quiet, wait_until, ClientDir, Ssh, CLIENT_TIMEOUT, OXSSH};
use support::HostKey;

/// SSH_MSG_CHANNEL_DATA (RFC 4254 §5.2).
const CHANNEL_DATA: u8 = 94;
/// How long one case may take before the server gives up on the client.
const SERVER_LIMIT: Duration = Duration::from_secs(30);

/// What the server does once the client asked to run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    /// Opens a `session` and an `x11` channel towards the client, then answers the
    /// command normally ("hello", exit 0).
    UnrequestedOpens,
    /// Sends 8 MiB of data ignoring the client's window (the client's stdout is not
    /// read, so its window is not refilled).
    FloodPastWindow,
    /// Sends data addressed to a channel number the client never allocated.
    DataForUnknownChannel,
    /// Sends one 64 KiB data packet, twice the client's maximum packet size.
    OversizedDataPacket,
    /// Refuses keys and asks a keyboard-interactive question whose name, instruction
    /// and prompt carry terminal escape sequences; then answers the command normally.
    HostileKbdInteractive,
}

/// What the server saw.
#[derive(Debug, Default)]
struct Seen {
    /// Reason codes of the client's CHANNEL_OPEN_FAILURE answers.
    open_failures: Vec<u32>,
    /// The connection ended with an error or a disconnect from the client.
    ended: String,
}

/// A host key file made by ssh-keygen, loaded as the server's signing key.
fn host_key(dir: &std::path::Path) -> Arc<dyn oxssh_proto::crypto::SigningKey> {
    let path = dir.join("hostkey");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&path).unwrap();
    Arc::from(oxssh_crypto::load_openssh_private_key(&text).unwrap())
}

/// Serves one connection on a loopback port with `script`; returns the port.
fn hostile_server(script: Script, dir: &std::path::Path) -> (u16, JoinHandle<Seen>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let key = host_key(dir);
    let handle = thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        let core = ServerConnection::new(
            Arc::new(TransportConfig::server_default()),
            ConnectionConfig::default(),
            Arc::new(oxssh_crypto::default_provider()),
            vec![key],
            AuthConfig {
                password_authentication: false,
                kbd_interactive_authentication: script == Script::HostileKbdInteractive,
                ..AuthConfig::default()
            },
            Instant::now(),
        )
        .unwrap();
        Server {
            core,
            sock,
            script,
            seen: Seen::default(),
            session: None,
        }
        .run()
    });
    (port, handle)
}

struct Server {
    core: ServerConnection,
    sock: TcpStream,
    script: Script,
    seen: Seen,
    /// The client's session channel, once it asked to run a command.
    session: Option<ChannelId>,
}

impl Server {
    fn run(mut self) -> Seen {
        self.sock
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let started = Instant::now();
        let mut buf = vec![0u8; 64 * 1024];
        while started.elapsed() < SERVER_LIMIT {
            if let Err(e) = self.events() {
                self.seen.ended = e;
                break;
            }
            if !self.flush() {
                self.seen.ended = "client went away while we wrote".into();
                break;
            }
            match self.sock.read(&mut buf) {
                Ok(0) => {
                    self.seen.ended = "client closed the connection".into();
                    break;
                }
                Ok(n) => {
                    if let Err(e) = self.core.recv(&buf[..n]) {
                        self.seen.ended = e.to_string();
                        break;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => {
                    self.seen.ended = e.to_string();
                    break;
                }
            }
        }
        self.seen
    }

    /// Writes everything queued; false when the client is gone.
    fn flush(&mut self) -> bool {
        while !self.core.transmit().is_empty() {
            match self.sock.write(self.core.transmit()) {
                Ok(n) => self.core.advance_transmit(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return false,
            }
        }
        true
    }

    fn events(&mut self) -> Result<(), String> {
        while let Some(event) = self.core.poll_event().map_err(|e| e.to_string())? {
            match event {
                ServerEvent::AuthRequest(attempt) => {
                    let kbd = self.script == Script::HostileKbdInteractive;
                    let result = match attempt.method {
                        AttemptMethod::PublicKeyQuery { .. } if !kbd => self.core.pk_ok(),
                        AttemptMethod::PublicKey { .. } if !kbd => self.core.accept(),
                        AttemptMethod::KeyboardInteractiveStart { .. } => {
                            let prompt = oxssh_wire::userauth::Prompt {
                                text: "Code\x1b[8m: ".into(),
                                echo: false,
                            };
                            self.core.info_request(
                                "Title\x1b]0;owned\x07",
                                "Read\x1b[2J this",
                                vec![prompt],
                            )
                        }
                        AttemptMethod::KeyboardInteractiveResponse { .. } => self.core.accept(),
                        _ => self.core.reject(),
                    };
                    result.map_err(|e| e.to_string())?;
                }
                ServerEvent::Connection(ev) => self.on_connection(ev)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn on_connection(&mut self, ev: ConnectionEvent) -> Result<(), String> {
        match ev {
            ConnectionEvent::OpenRequested { id, .. } => {
                self.core.accept_open(id).map_err(|e| e.to_string())
            }
            ConnectionEvent::Request {
                id,
                request: ChannelRequestKind::Exec { .. },
                want_reply,
            } => {
                if want_reply {
                    self.core
                        .reply_request(id, true)
                        .map_err(|e| e.to_string())?;
                }
                self.misbehave(id).map_err(|e| e.to_string())
            }
            ConnectionEvent::Request {
                id,
                want_reply: true,
                ..
            } => self
                .core
                .reply_request(id, false)
                .map_err(|e| e.to_string()),
            ConnectionEvent::OpenFailed { reason, .. } => {
                self.seen.open_failures.push(reason);
                if self.seen.open_failures.len() == 2 {
                    self.answer_normally()?;
                }
                Ok(())
            }
            ConnectionEvent::Closed(id) => {
                self.core.release(id);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The scripted violation, right after the exec request was accepted.
    fn misbehave(&mut self, id: ChannelId) -> Result<(), oxssh_proto::TransportError> {
        self.session = Some(id);
        let recipient = self
            .core
            .connection()
            .channel(id)
            .map_or(0, |c| c.remote_id);
        match self.script {
            Script::UnrequestedOpens => {
                self.core.open_channel("session", &[])?;
                // x11: originator address and port (RFC 4254 §6.3.2).
                let mut x11 = Vec::new();
                put_string(&mut x11, b"127.0.0.1");
                x11.extend_from_slice(&6010u32.to_be_bytes());
                self.core.open_channel("x11", &x11)?;
                Ok(())
            }
            Script::FloodPastWindow => {
                let chunk = vec![b'x'; 32 * 1024];
                for _ in 0..256 {
                    self.core
                        .send_unchecked_for_test(&channel_data(recipient, &chunk))?;
                    if !self.flush() {
                        break;
                    }
                }
                Ok(())
            }
            Script::DataForUnknownChannel => self
                .core
                .send_unchecked_for_test(&channel_data(4242, b"who am I for?")),
            // Over the client's advertised 128 KiB channel maximum, under the transport's
            // 256 KiB packet limit: the channel layer must refuse it.
            Script::OversizedDataPacket => self
                .core
                .send_unchecked_for_test(&channel_data(recipient, &vec![b'y'; 160 * 1024])),
            Script::HostileKbdInteractive => self
                .answer_normally()
                .map_err(|_| oxssh_proto::TransportError::ApiMisuse("answer")),
        }
    }

    /// "hello", exit-status 0, EOF, CLOSE on the session channel.
    fn answer_normally(&mut self) -> Result<(), String> {
        let id = self.session.ok_or("no session channel")?;
        let e = |e: oxssh_proto::TransportError| e.to_string();
        self.core.write(id, b"hello\n", false).map_err(e)?;
        self.core
            .channel_request(id, &ChannelRequestKind::ExitStatus(0), false)
            .map_err(e)?;
        self.core.send_eof(id).map_err(e)?;
        self.core.close(id).map_err(e)
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap().to_be_bytes());
    out.extend_from_slice(s);
}

/// SSH_MSG_CHANNEL_DATA to `recipient`, built by hand (the core would refuse it).
fn channel_data(recipient: u32, data: &[u8]) -> Vec<u8> {
    let mut payload = vec![CHANNEL_DATA];
    payload.extend_from_slice(&recipient.to_be_bytes());
    put_string(&mut payload, data);
    payload
}

/// `oxssh -i key ... true` against the hostile server on `port`.
fn client(dir: &ClientDir, port: u16) -> Ssh {
    let key = dir.key("id_ed25519", HostKey::Ed25519, None);
    Ssh::program(OXSSH, dir, port, "anyone").identity(&key.path)
}

/// Runs the client to its end with stdout unread (so its window never refills);
/// returns (exit code, stderr).
fn run_with_stdout_unread(ssh: &Ssh) -> (Option<i32>, String) {
    let mut cmd = ssh.command(Some("cat"));
    cmd.stdin(Stdio::null());
    let mut child = spawn_quiet(&mut cmd);
    let _stdout = child.stdout.take();
    let mut status = None;
    wait_until("oxssh to give up on the server", CLIENT_TIMEOUT, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.and_then(|s| s.code()), stderr)
}

#[test]
fn unrequested_channel_opens_are_refused_and_the_session_goes_on() {
    let dir = ClientDir::new();
    let (port, server) = hostile_server(Script::UnrequestedOpens, dir.path());
    let out = client(&dir, port).run("anything", b"");
    let seen = server.join().unwrap();
    assert_eq!(out.code(), Some(0), "stderr: {}\n{seen:?}", out.stderr);
    assert_eq!(out.stdout, "hello\n");
    // SSH_OPEN_ADMINISTRATIVELY_PROHIBITED (1) for both, as OpenSSH's client answers.
    assert_eq!(seen.open_failures, vec![1, 1], "{seen:?}");
}

#[test]
fn data_past_the_window_ends_the_client_with_255() {
    let dir = ClientDir::new();
    let (port, server) = hostile_server(Script::FloodPastWindow, dir.path());
    let (code, stderr) = run_with_stdout_unread(&client(&dir, port));
    let seen = server.join().unwrap();
    assert_eq!(code, Some(255), "stderr: {stderr}\n{seen:?}");
    assert!(stderr.contains("window"), "stderr: {stderr}");
}

#[test]
fn data_for_a_channel_never_opened_ends_the_client_with_255() {
    let dir = ClientDir::new();
    let (port, server) = hostile_server(Script::DataForUnknownChannel, dir.path());
    let (code, stderr) = run_with_stdout_unread(&client(&dir, port));
    let seen = server.join().unwrap();
    assert_eq!(code, Some(255), "stderr: {stderr}\n{seen:?}");
    assert!(stderr.contains("channel"), "stderr: {stderr}");
}

#[test]
fn data_packet_over_the_maximum_size_ends_the_client_with_255() {
    let dir = ClientDir::new();
    let (port, server) = hostile_server(Script::OversizedDataPacket, dir.path());
    let (code, stderr) = run_with_stdout_unread(&client(&dir, port));
    let seen = server.join().unwrap();
    assert_eq!(code, Some(255), "stderr: {stderr}\n{seen:?}");
    assert!(stderr.contains("maximum"), "stderr: {stderr}");
}

#[test]
fn keyboard_interactive_texts_are_shown_escaped_as_openssh_shows_them() {
    if !support::require_peer("ssh") {
        return;
    }
    let mut said = Vec::new();
    for program in ["ssh", OXSSH] {
        let dir = ClientDir::new();
        let (port, server) = hostile_server(Script::HostileKbdInteractive, dir.path());
        let askpass = dir.askpass("123456");
        let out = Ssh::program(program, &dir, port, "anyone")
            .askpass(&askpass)
            .option("PreferredAuthentications=keyboard-interactive")
            .option("StrictHostKeyChecking=no")
            .run("anything", b"");
        let seen = server.join().unwrap();
        assert_eq!(out.code(), Some(0), "{program}: {}\n{seen:?}", out.stderr);
        let asked = std::fs::read_to_string(dir.path().join("askpass.log")).unwrap();
        let stderr: String = support::client::text(&out.stderr)
            .lines()
            .filter(|l| !l.starts_with("Warning: Permanently added"))
            .map(|l| format!("{l}\n"))
            .collect();
        said.push((out.stdout, stderr, asked));
    }
    assert_eq!(said[1], said[0]);
    // Nothing the server sent reaches the terminal as a control character.
    assert!(!said[0].1.contains('\x1b'), "{:?}", said[0].1);
}
