//! Interop: OpenSSH's real `ssh` logs in to our `ServerConnection` and runs a command.
//! A test thread serves one connection on a loopback port with a policy closure; after
//! login it answers `exec` itself (it echoes the command line and exits with status 3),
//! so `ssh`'s stdout and exit code prove the whole path: public keys of every type
//! (RSA with both SHA-2 signatures), passwords and two-round keyboard-interactive
//! through `SSH_ASKPASS`, partial success, and the MaxAuthTries disconnect.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod pair;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use oxssh_keys::PublicKey;
use oxssh_proto::auth::{AttemptMethod, AuthAttempt, AuthConfig, AuthenticationMethods, Method};
use oxssh_proto::connection::{ChannelRequestKind, ConnectionConfig, ConnectionEvent};
use oxssh_proto::{ServerConnection, ServerEvent, TransportConfig, TransportError};
use oxssh_wire::userauth::Prompt;

const SSH: &str = "/usr/bin/ssh";
const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";

fn have_ssh() -> bool {
    if Path::new(SSH).exists() && Path::new(SSH_KEYGEN).exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{SSH} is missing: .ci/run must install openssh-client");
    }
    eprintln!("SKIP: {SSH} not installed; OpenSSH client login not tested");
    false
}

/// The policy's answer to one attempt.
enum Answer {
    Accept,
    Reject,
    PkOk,
    Prompts(&'static [&'static str]),
}

type Policy = Box<dyn FnMut(&AuthAttempt) -> Answer + Send>;

/// What the server saw.
#[derive(Debug, Default)]
struct Served {
    /// `method` or `method algorithm` per attempt the policy answered.
    attempts: Vec<String>,
    partial: Vec<Method>,
    authenticated: Option<Method>,
    error: Option<TransportError>,
}

fn describe(attempt: &AuthAttempt) -> String {
    match &attempt.method {
        AttemptMethod::PublicKeyQuery { algorithm, .. } => format!("query {algorithm}"),
        AttemptMethod::PublicKey { algorithm, .. } => format!("publickey {algorithm}"),
        other => other.name().to_owned(),
    }
}

fn flush(conn: &mut ServerConnection, sock: &mut TcpStream) -> bool {
    let out = conn.transmit().to_vec();
    conn.advance_transmit(out.len());
    out.is_empty() || sock.write_all(&out).is_ok()
}

/// Answers a session's requests: `exec` echoes its command line and exits 3.
fn on_connection(conn: &mut ServerConnection, ev: ConnectionEvent) -> Result<(), TransportError> {
    match ev {
        ConnectionEvent::OpenRequested {
            id, channel_type, ..
        } if channel_type == "session" => conn.accept_open(id),
        ConnectionEvent::OpenRequested { id, .. } => conn.reject_open(id, 1, "prohibited"),
        ConnectionEvent::Request {
            id,
            request: ChannelRequestKind::Exec { command },
            want_reply,
        } => {
            if want_reply {
                conn.reply_request(id, true)?;
            }
            let line = format!("ran: {}\n", String::from_utf8_lossy(&command));
            assert_eq!(conn.write(id, line.as_bytes(), false)?, line.len());
            conn.channel_request(id, &ChannelRequestKind::ExitStatus(3), false)?;
            conn.send_eof(id)?;
            conn.close(id)
        }
        ConnectionEvent::Request {
            id,
            want_reply: true,
            ..
        } => conn.reply_request(id, false),
        ConnectionEvent::GlobalRequest {
            want_reply: true, ..
        } => conn.reply_global(false, &[]),
        ConnectionEvent::Closed(id) => {
            conn.release(id);
            Ok(())
        }
        _ => Ok(()),
    }
}

fn on_event(
    conn: &mut ServerConnection,
    ev: ServerEvent,
    policy: &mut Policy,
    served: &mut Served,
) -> Result<(), TransportError> {
    match ev {
        ServerEvent::AuthRequest(attempt) => {
            let started = Instant::now();
            served.attempts.push(describe(&attempt));
            match policy(&attempt) {
                Answer::Accept => conn.accept(),
                Answer::PkOk => conn.pk_ok(),
                Answer::Prompts(texts) => {
                    let prompts = texts
                        .iter()
                        .map(|t| Prompt {
                            text: (*t).to_owned(),
                            echo: false,
                        })
                        .collect();
                    conn.info_request("", "", prompts)
                }
                Answer::Reject => {
                    std::thread::sleep(conn.failure_delay(started.elapsed()));
                    conn.reject()
                }
            }
        }
        ServerEvent::PartialSuccess { method, .. } => {
            served.partial.push(method);
            Ok(())
        }
        ServerEvent::Authenticated { method, .. } => {
            served.authenticated = method;
            Ok(())
        }
        ServerEvent::Connection(ev) => on_connection(conn, ev),
        _ => Ok(()),
    }
}

/// Serves one connection on `listener` under `auth` and `policy`.
fn serve(listener: TcpListener, auth: AuthConfig, mut policy: Policy) -> JoinHandle<Served> {
    std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let connection = ConnectionConfig {
            reject_global_requests: false,
            ..ConnectionConfig::default()
        };
        let mut conn = ServerConnection::new(
            Arc::new(TransportConfig::server_default()),
            connection,
            pair::provider(),
            vec![pair::host_key("ed25519")],
            auth,
            Instant::now(),
        )
        .unwrap();
        let mut served = Served::default();
        let mut buf = vec![0u8; 65536];
        loop {
            if !flush(&mut conn, &mut sock) {
                return served;
            }
            loop {
                let result = match conn.poll_event() {
                    Ok(Some(ev)) => on_event(&mut conn, ev, &mut policy, &mut served),
                    Ok(None) => break,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(()) => {}
                    Err(TransportError::PeerDisconnected { .. }) => return served,
                    Err(e) => {
                        flush(&mut conn, &mut sock);
                        served.error = Some(e);
                        return served;
                    }
                }
            }
            if !conn.transmit().is_empty() {
                continue;
            }
            match sock.read(&mut buf) {
                Ok(0) | Err(_) => return served,
                Ok(n) => {
                    if let Err(e) = conn.recv(&buf[..n]) {
                        served.error = Some(e);
                        return served;
                    }
                }
            }
        }
    })
}

/// A key made by `ssh-keygen` (so `ssh` reads its own format); returns (path, public).
fn keygen(dir: &Path, args: &[&str]) -> (PathBuf, PublicKey) {
    let path = dir.join(format!("id_{}", args.join("_").replace('-', "")));
    let status = Command::new(SSH_KEYGEN)
        .args(["-q", "-N", "", "-C", "test", "-f"])
        .arg(&path)
        .args(args)
        .status()
        .unwrap();
    assert!(status.success());
    let line = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (path, PublicKey::from_openssh(&line).unwrap())
}

/// An SSH_ASKPASS script: `code` prompts get 123456, everything else `password`.
fn askpass(dir: &Path, password: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("askpass");
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in\n  *code*) echo 123456 ;;\n  *) echo '{password}' ;;\nesac\n"
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Runs `ssh -v ... alice@127.0.0.1 echo hello world` against a fresh server.
fn login(
    auth: AuthConfig,
    policy: Policy,
    options: &[&str],
    askpass: Option<&Path>,
) -> (Output, Served) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = serve(listener, auth, policy);
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(SSH);
    cmd.args(["-v", "-T", "-F", "/dev/null", "-p", &port.to_string()])
        .args(["-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null"])
        .args(["-o", "IdentityAgent=none", "-o", "IdentitiesOnly=yes"])
        .args(options)
        .env("HOME", home.path())
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null());
    match askpass {
        Some(path) => cmd
            .env("SSH_ASKPASS", path)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0"),
        None => cmd.args(["-o", "BatchMode=yes"]),
    };
    let output = cmd
        .args(["alice@127.0.0.1", "echo", "hello", "world"])
        .output()
        .unwrap();
    (output, handle.join().unwrap())
}

fn assert_ran(output: &Output, served: &Served) {
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "ran: echo hello world\n",
        "{served:?}\n{log}"
    );
    assert_eq!(output.status.code(), Some(3), "{served:?}\n{log}");
    assert!(served.error.is_none(), "{served:?}\n{log}");
}

/// Accepts exactly `key` for publickey; refuses everything else.
fn key_policy(key: PublicKey) -> Policy {
    Box::new(move |attempt| match &attempt.method {
        AttemptMethod::PublicKeyQuery { key: k, .. } if *k == key => Answer::PkOk,
        AttemptMethod::PublicKey { key: k, .. } if *k == key => Answer::Accept,
        _ => Answer::Reject,
    })
}

#[test]
fn openssh_logs_in_with_every_user_key_type() {
    if !have_ssh() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["-t", "ed25519"], "ssh-ed25519"),
        (&["-t", "ecdsa", "-b", "384"], "ecdsa-sha2-nistp384"),
        (&["-t", "rsa", "-b", "2048"], "rsa-sha2-256"),
        (&["-t", "rsa", "-b", "3072"], "rsa-sha2-512"),
    ];
    for (args, algorithm) in cases {
        let (path, public) = keygen(dir.path(), args);
        let accepted = format!("PubkeyAcceptedAlgorithms={algorithm}");
        let identity = format!("IdentityFile={}", path.display());
        let options = [
            "-o",
            "PreferredAuthentications=publickey",
            "-o",
            &accepted,
            "-o",
            &identity,
        ];
        let (output, served) = login(AuthConfig::default(), key_policy(public), &options, None);
        assert_ran(&output, &served);
        assert_eq!(served.authenticated, Some(Method::PublicKey));
        // ssh asks first (its .pub is there), then signs with the algorithm it chose.
        assert_eq!(
            served.attempts,
            [
                "none".to_owned(),
                format!("query {algorithm}"),
                format!("publickey {algorithm}")
            ],
        );
    }
}

#[test]
fn openssh_key_outside_pubkey_accepted_algorithms_is_denied() {
    if !have_ssh() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, public) = keygen(dir.path(), &["-t", "ecdsa"]);
    let auth = AuthConfig {
        pubkey_accepted_algorithms: vec!["ssh-ed25519".into()],
        ..AuthConfig::default()
    };
    let identity = format!("IdentityFile={}", path.display());
    let options = ["-o", "PreferredAuthentications=publickey", "-o", &identity];
    let (output, served) = login(auth, key_policy(public), &options, None);
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(255), "{log}");
    assert!(log.contains("Permission denied ("), "{log}");
    assert_eq!(served.attempts, ["none"], "the policy never saw the key");
}

#[test]
fn openssh_logs_in_with_a_password_through_askpass() {
    if !have_ssh() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let askpass = askpass(dir.path(), "s3cret");
    let policy: Policy = Box::new(|attempt| match &attempt.method {
        AttemptMethod::Password { password, .. } if password.expose() == "s3cret" => Answer::Accept,
        _ => Answer::Reject,
    });
    let options = [
        "-o",
        "PreferredAuthentications=password",
        "-o",
        "NumberOfPasswordPrompts=1",
    ];
    let (output, served) = login(AuthConfig::default(), policy, &options, Some(&askpass));
    assert_ran(&output, &served);
    assert_eq!(served.authenticated, Some(Method::Password));
}

#[test]
fn openssh_answers_two_keyboard_interactive_rounds() {
    if !have_ssh() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let askpass = askpass(dir.path(), "s3cret");
    let policy: Policy = Box::new(|attempt| match &attempt.method {
        AttemptMethod::KeyboardInteractiveStart { .. } => Answer::Prompts(&["Password: "]),
        AttemptMethod::KeyboardInteractiveResponse { answers } => {
            match answers.iter().map(|a| a.expose()).collect::<Vec<_>>()[..] {
                ["s3cret"] => Answer::Prompts(&["Verification code: "]),
                ["123456"] => Answer::Accept,
                _ => Answer::Reject,
            }
        }
        _ => Answer::Reject,
    });
    let options = ["-o", "PreferredAuthentications=keyboard-interactive"];
    let (output, served) = login(AuthConfig::default(), policy, &options, Some(&askpass));
    assert_ran(&output, &served);
    assert_eq!(served.authenticated, Some(Method::KeyboardInteractive));
    assert_eq!(
        served.attempts,
        [
            "none",
            "keyboard-interactive",
            "keyboard-interactive",
            "keyboard-interactive"
        ]
    );
}

#[test]
fn openssh_completes_publickey_then_password() {
    if !have_ssh() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, public) = keygen(dir.path(), &["-t", "ed25519"]);
    let askpass = askpass(dir.path(), "s3cret");
    let auth = AuthConfig {
        authentication_methods: AuthenticationMethods::parse("publickey,password").unwrap(),
        ..AuthConfig::default()
    };
    let mut keys = key_policy(public);
    let policy: Policy = Box::new(move |attempt| match &attempt.method {
        AttemptMethod::Password { password, .. } if password.expose() == "s3cret" => Answer::Accept,
        _ => keys(attempt),
    });
    let identity = format!("IdentityFile={}", path.display());
    let options = [
        "-o",
        "PreferredAuthentications=publickey,password",
        "-o",
        &identity,
    ];
    let (output, served) = login(auth, policy, &options, Some(&askpass));
    assert_ran(&output, &served);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("with partial success"), "{log}");
    assert_eq!(served.partial, [Method::PublicKey]);
    assert_eq!(served.authenticated, Some(Method::Password));
}

#[test]
fn openssh_is_disconnected_after_max_auth_tries() {
    if !have_ssh() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let askpass = askpass(dir.path(), "wrong");
    let auth = AuthConfig {
        max_auth_tries: 2,
        ..AuthConfig::default()
    };
    let options = [
        "-o",
        "PreferredAuthentications=password",
        "-o",
        "NumberOfPasswordPrompts=5",
    ];
    let (output, served) = login(auth, Box::new(|_| Answer::Reject), &options, Some(&askpass));
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(255), "{log}");
    assert!(
        log.contains(":2: Too many authentication failures"),
        "{log}"
    );
    assert_eq!(served.error, Some(TransportError::TooManyAuthFailures));
    assert_eq!(served.attempts, ["none", "password", "password"]);
}
