//! The agent server: a Unix socket only its owner (and root) may use, one thread per
//! client, keys in a shared [`Keystore`]. A client that sends an oversized or broken
//! frame is dropped; the others are unaffected.

mod keystore;
mod request;

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use zeroize::Zeroizing;

use crate::codec::{Response, MAX_MESSAGE};
pub use keystore::{Action, HeldKey, Keystore, MAX_KEYS};
pub use request::{encode_constraints, ClientRequest, Constraints, RequestError, SessionBind};

/// Most clients served at once; further connections are closed at once.
const MAX_CLIENTS: usize = 128;
/// How long a client may take to send the rest of a frame it has begun.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// Delay after a wrong unlock passphrase (OpenSSH waits 0.1 s and more).
const UNLOCK_DELAY: Duration = Duration::from_millis(100);
/// Most `session-bind@openssh.com` records per connection (OpenSSH's AGENT_MAX_SESSION_IDS).
const MAX_SESSION_BINDS: usize = 16;
/// The extension name `ssh` sends after key exchange.
const SESSION_BIND: &str = "session-bind@openssh.com";

/// Creates `$TMPDIR/ssh-XXXXXXXXXX` (mode 0700) as OpenSSH's agent does, and returns
/// `DIR/agent.<ppid>`.
pub fn fresh_socket_path(ppid: u32) -> std::io::Result<PathBuf> {
    let base = std::env::var_os("TMPDIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut last = None;
    for _ in 0..32 {
        let mut random = [0u8; 10];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| std::io::Error::other("no random bytes"))?;
        let name: String = random
            .iter()
            .map(|b| {
                CHARS
                    .get(usize::from(*b) % CHARS.len())
                    .map_or('X', |c| char::from(*c))
            })
            .collect();
        let dir = base.join(format!("ssh-{name}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir.join(format!("agent.{ppid}"))),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no directory")))
}

/// Binds the agent socket at `path`, mode 0600 (umask 0177 around the bind, so it is
/// never reachable by others, even for an instant).
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    use nix::sys::stat::{umask, Mode};
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    umask(old);
    let listener = bound?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Asks the user to allow one use of a key (`ssh-add -c`).
pub trait Confirm: Send + Sync {
    /// True when the user allowed it.
    fn confirm(&self, key: &HeldKey) -> bool;
}

/// Confirmation through `SSH_ASKPASS`, as OpenSSH's agent does: the program is asked
/// "Allow use of key ...?" with `SSH_ASKPASS_PROMPT=confirm`; exit status 0 allows.
#[derive(Debug, Clone)]
pub struct AskpassConfirm {
    /// The askpass program.
    pub program: PathBuf,
}

impl Confirm for AskpassConfirm {
    fn confirm(&self, key: &HeldKey) -> bool {
        let question = format!(
            "Allow use of key {}?\nKey fingerprint {}.",
            key.comment(),
            key.fingerprint()
        );
        Command::new(&self.program)
            .arg(question)
            .env("SSH_ASKPASS_PROMPT", "confirm")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// The running agent's shared parts.
#[derive(Clone)]
pub struct Agent {
    store: Arc<Mutex<Keystore>>,
    confirm: Option<Arc<dyn Confirm>>,
    clients: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").finish_non_exhaustive()
    }
}

impl Agent {
    /// An agent with no keys. `confirm` is how `-c` keys are confirmed (none: such keys
    /// are refused).
    pub fn new(default_lifetime: Option<Duration>, confirm: Option<Arc<dyn Confirm>>) -> Self {
        Self {
            store: Arc::new(Mutex::new(Keystore::new(
                default_lifetime,
                confirm.is_some(),
            ))),
            confirm,
            clients: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Serves `listener` until it fails. Expired keys are dropped (and wiped) within a
    /// second even when no client asks.
    pub fn serve(&self, listener: &UnixListener) -> std::io::Result<()> {
        let reaper = self.store.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            match reaper.lock() {
                Ok(mut store) => store.expire(Instant::now()),
                Err(_) => return,
            }
        });
        for stream in listener.incoming() {
            let stream = match stream {
                Ok(stream) => stream,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::debug!("accept: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            if !peer_allowed(&stream) {
                continue;
            }
            if self.clients.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
                self.clients.fetch_sub(1, Ordering::SeqCst);
                tracing::info!("too many clients; connection closed");
                continue;
            }
            let agent = self.clone();
            std::thread::spawn(move || {
                if let Err(e) = agent.client(stream) {
                    tracing::debug!("client dropped: {e}");
                }
                agent.clients.fetch_sub(1, Ordering::SeqCst);
            });
        }
        Ok(())
    }

    fn client(&self, mut stream: UnixStream) -> std::io::Result<()> {
        let mut binds: Vec<SessionBind> = Vec::new();
        loop {
            stream.set_read_timeout(None)?;
            let mut len = [0u8; 4];
            match stream.read_exact(&mut len) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
            let len = u32::from_be_bytes(len) as usize;
            if len == 0 || len > MAX_MESSAGE {
                return Err(std::io::Error::other(format!("frame of {len} bytes")));
            }
            stream.set_read_timeout(Some(FRAME_TIMEOUT))?;
            let mut body = Zeroizing::new(vec![0u8; len]);
            stream.read_exact(&mut body)?;
            let answer = match ClientRequest::decode(&body) {
                Ok(request) => {
                    tracing::debug!("request {request:?}");
                    self.answer(request, &mut binds)
                }
                Err(e) => {
                    tracing::debug!("{e}");
                    Response::Failure
                }
            };
            stream.write_all(&answer.to_frame())?;
        }
    }

    fn answer(&self, request: ClientRequest, binds: &mut Vec<SessionBind>) -> Response {
        if let ClientRequest::Extension { name, contents } = &request {
            return self.extension(name, contents, binds);
        }
        let action = match self.store.lock() {
            Ok(mut store) => store.dispatch(request, Instant::now()),
            Err(_) => return Response::Failure,
        };
        match action {
            Action::Reply(response) => response,
            Action::FailedUnlock => {
                std::thread::sleep(UNLOCK_DELAY);
                Response::Failure
            }
            Action::Sign { key, data, flags } => {
                if key.needs_confirmation()
                    && !self.confirm.as_ref().is_some_and(|c| c.confirm(&key))
                {
                    tracing::info!("use of key {} not confirmed", key.comment());
                    return Response::Failure;
                }
                key.sign(&data, flags)
                    .map_or(Response::Failure, Response::Signature)
            }
        }
    }

    fn extension(&self, name: &str, contents: &[u8], binds: &mut Vec<SessionBind>) -> Response {
        let locked = self.store.lock().map_or(true, |s| s.is_locked());
        if name != SESSION_BIND || locked {
            return Response::Failure;
        }
        match SessionBind::decode(contents) {
            Ok(bind) if binds.len() < MAX_SESSION_BINDS => {
                tracing::debug!(
                    "session bound ({} bytes of session id, forwarding {})",
                    bind.session_id.len(),
                    bind.forwarding
                );
                binds.push(bind);
                Response::Success
            }
            Ok(_) => Response::Failure,
            Err(e) => {
                tracing::debug!("session-bind: {e}");
                Response::Failure
            }
        }
    }
}

/// Only our own uid and root may use the agent (OpenSSH's `check_uid`).
fn peer_allowed(stream: &UnixStream) -> bool {
    let ours = nix::unistd::geteuid().as_raw();
    match getsockopt(stream, PeerCredentials) {
        Ok(cred) if cred.uid() == 0 || cred.uid() == ours => true,
        Ok(cred) => {
            tracing::info!(
                "uid mismatch: peer euid {} != uid {ours}; connection refused",
                cred.uid()
            );
            false
        }
        Err(e) => {
            tracing::info!("cannot read peer credentials: {e}");
            false
        }
    }
}
