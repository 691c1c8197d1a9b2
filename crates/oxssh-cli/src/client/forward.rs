//! The client's forwardings, once authenticated: local (`-L`) and dynamic (`-D`)
//! listeners that open `direct-tcpip` (or, to a socket path, `direct-streamlocal@
//! openssh.com`) channels, remote forwards (`-R`) requested with `tcpip-forward` (or
//! `streamlocal-forward@openssh.com`) whose channels are connected to their local target,
//! and the agent (`-A`) for `auth-agent@openssh.com` channels (both in `remote.rs`). Each
//! forwarded connection is its own task over its own channel, so one stalled peer slows
//! only itself. Forwards can be added and cancelled while the connection runs: a
//! ControlMaster does so for its clients (PROTOCOL.mux `MUX_C_OPEN_FWD`/`CLOSE_FWD`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxssh::{Channel, Client};
use oxssh_config::{ClientConfig, Forward, ForwardAgent, PORT_STREAMLOCAL};
use oxssh_wire::forward::{channel_type, DirectStreamlocal, TcpipOpen};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::task::JoinHandle;

use super::socks;
use crate::forwarding::{self, Gateway};
use crate::strerror::strerror;

mod remote;

pub use remote::Granted;
use remote::SharedRemotes;

/// Bytes buffered per direction of one forwarded connection.
const RELAY_BUFFER: usize = 64 * 1024;
/// Longest wait for the server to drop our remote forwards at exit.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for the server's answer to a remote forward request; no answer is a
/// failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A global request with want_reply, failing after [`REQUEST_TIMEOUT`].
async fn ask(client: &Client, name: &'static str, data: &[u8]) -> Result<Vec<u8>, oxssh::Error> {
    tokio::time::timeout(REQUEST_TIMEOUT, client.global_request(name, data))
        .await
        .unwrap_or(Err(oxssh::Error::Timeout))
}

/// A byte stream a forwarded channel is relayed to.
pub(super) trait Socket: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Socket for T {}

/// Where a forward connects (or listens): a TCP host and port, a socket path, or for a
/// remote dynamic forward wherever its SOCKS client asks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoint {
    Tcp { host: String, port: u16 },
    Unix(String),
    Socks,
}

/// `-R [bind:]port` without a target (OpenSSH 7.6+): as ssh, a remote forward is
/// dynamic when it has no port (nor path) to connect to.
fn remote_dynamic(f: &Forward) -> bool {
    f.connect_port == 0 && f.connect_path.is_none()
}

impl Endpoint {
    fn connect_side(f: &Forward) -> Self {
        if remote_dynamic(f) {
            return Self::Socks;
        }
        match (&f.connect_path, f.connect_port) {
            (Some(path), PORT_STREAMLOCAL) => Self::Unix(path.clone()),
            _ => Self::Tcp {
                host: f.connect_host.clone().unwrap_or_default(),
                port: u16::try_from(f.connect_port).unwrap_or(0),
            },
        }
    }

    /// `host:port` or the path, as messages print it.
    fn text(&self) -> String {
        match self {
            Self::Tcp { host, port } => format!("{host}:{port}"),
            Self::Unix(path) => path.clone(),
            // ssh's parse_forward names a dynamic target "socks", port 0.
            Self::Socks => "socks:0".to_owned(),
        }
    }

    /// Connects here, locally.
    async fn connect(&self) -> std::io::Result<Box<dyn Socket>> {
        match self {
            Self::Tcp { host, port } => Ok(Box::new(forwarding::connect(host, *port).await?)),
            Self::Unix(path) => {
                let connect = UnixStream::connect(path);
                let stream = tokio::time::timeout(forwarding::CONNECT_TIMEOUT, connect)
                    .await
                    .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
                Ok(Box::new(stream))
            }
            Self::Socks => Err(std::io::Error::from(std::io::ErrorKind::Unsupported)),
        }
    }
}

/// What to forward, from the resolved configuration.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Local and dynamic forwards.
    pub local: Vec<Forward>,
    /// Remote forwards.
    pub remote: Vec<Forward>,
    /// The agent socket to forward, when `ForwardAgent` asks for it.
    pub agent: Option<PathBuf>,
    /// `ForwardAgent` was set (even with no agent to reach).
    pub agent_requested: bool,
    /// `ExitOnForwardFailure`.
    pub exit_on_failure: bool,
    /// `GatewayPorts` (`-g`).
    pub gateway_ports: bool,
    /// Say nothing but errors (`-q`).
    pub quiet: bool,
}

impl Plan {
    /// The plan for `config`; what is not implemented yet is refused by name.
    pub fn from_config(config: &ClientConfig, quiet: bool) -> Result<Self, String> {
        let agent = match &config.forward_agent {
            ForwardAgent::No => None,
            ForwardAgent::Yes => std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from),
            ForwardAgent::Socket(path) => match path.strip_prefix('$') {
                Some(var) => std::env::var_os(var).map(PathBuf::from),
                None => Some(PathBuf::from(path)),
            },
        };
        Ok(Self {
            local: config.local_forwards.clone(),
            remote: config.remote_forwards.clone(),
            agent,
            agent_requested: config.forward_agent != ForwardAgent::No,
            exit_on_failure: config.exit_on_forward_failure,
            gateway_ports: config.gateway_ports,
            quiet,
        })
    }
}

impl Plan {
    /// Only the agent, when `config` forwards it: what sftp and scp sessions forward
    /// (they clear every other forwarding, as their ssh is told to).
    pub fn agent_only(config: &ClientConfig) -> Option<Self> {
        let plan = Self::from_config(config, true).ok()?;
        plan.agent_requested.then(|| Self {
            local: Vec::new(),
            remote: Vec::new(),
            exit_on_failure: false,
            gateway_ports: false,
            ..plan
        })
    }
}

/// A local or dynamic forward's listener tasks.
#[derive(Debug)]
struct Local {
    spec: Forward,
    tasks: Vec<JoinHandle<()>>,
}

/// Aborts the listener tasks and waits until each has dropped its socket, so that a
/// cancelled port is closed by the time the cancel is answered, as in OpenSSH.
async fn stop_listeners(locals: Vec<Local>) {
    let tasks: Vec<JoinHandle<()>> = locals.into_iter().flat_map(|l| l.tasks).collect();
    tasks.iter().for_each(JoinHandle::abort);
    for task in tasks {
        let _ = task.await;
    }
}

#[derive(Debug)]
struct Inner {
    client: Client,
    gateway_ports: bool,
    locals: Mutex<Vec<Local>>,
    remotes: SharedRemotes,
    incoming: JoinHandle<()>,
}

/// The running forwardings of one connection. Forwards can be added and cancelled
/// while it runs (a master does so for its mux clients); [`Forwarding::stop`] ends them.
#[derive(Debug, Clone)]
pub struct Forwarding {
    inner: Arc<Inner>,
}

impl Forwarding {
    /// Cancels the remote forwards (briefly waiting for the server) and stops every
    /// listener and relay.
    pub async fn stop(self, client: &Client) {
        let cancels = remote::take_all(&self.inner.remotes);
        let cancel = async {
            for (name, data) in cancels {
                let _ = client.global_request(name, &data).await;
            }
        };
        let _ = tokio::time::timeout(CANCEL_TIMEOUT, cancel).await;
        let locals = self
            .inner
            .locals
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        for local in locals {
            local.tasks.iter().for_each(JoinHandle::abort);
        }
        self.inner.incoming.abort();
    }

    /// Adds a local (`-L`) or dynamic (`-D`) forward; one already in place succeeds
    /// again. The reasons a listener cannot be set up are printed.
    pub async fn open_local(&self, f: &Forward) -> Result<(), ()> {
        let exists = |locals: &Vec<Local>| locals.iter().any(|l| &l.spec == f);
        if self
            .inner
            .locals
            .lock()
            .map(|l| exists(&l))
            .unwrap_or(false)
        {
            return Ok(());
        }
        let tasks = start_local(&self.inner.client, self.inner.gateway_ports, f).await?;
        if let Ok(mut locals) = self.inner.locals.lock() {
            locals.push(Local {
                spec: f.clone(),
                tasks,
            });
        }
        Ok(())
    }

    /// Stops the local or dynamic forward `f`; `false` when there is none.
    pub async fn close_local(&self, f: &Forward) -> bool {
        let removed = self.take_locals(|spec| spec == f);
        if removed.is_empty() {
            return false;
        }
        stop_listeners(removed).await;
        if let (Some(path), PORT_STREAMLOCAL) = (&f.listen_path, f.listen_port) {
            let _ = std::fs::remove_file(path);
        }
        true
    }

    /// `~C -KL`/`-KD`: stops the local (or dynamic) listeners on `listen`'s port or path
    /// (its host, when given, must match too). Connections already made carry on, as in
    /// OpenSSH. `false` when there is none.
    pub async fn close_local_listening(&self, listen: &Forward, dynamic: bool) -> bool {
        let removed = self.take_locals(|f| {
            f.is_dynamic() == dynamic
                && f.listen_port == listen.listen_port
                && f.listen_path == listen.listen_path
                && (listen.listen_host.is_none() || f.listen_host == listen.listen_host)
        });
        let found = !removed.is_empty();
        stop_listeners(removed).await;
        found
    }

    /// Removes the local forwards whose spec matches and hands them back.
    fn take_locals(&self, matches: impl Fn(&Forward) -> bool) -> Vec<Local> {
        let Ok(mut locals) = self.inner.locals.lock() else {
            return Vec::new();
        };
        let (taken, kept) = std::mem::take(&mut *locals)
            .into_iter()
            .partition(|l| matches(&l.spec));
        *locals = kept;
        taken
    }

    /// `~C -KR`: cancels the remote forward listening on `listen`'s port (or path);
    /// `false` when there is none or the server refuses.
    pub async fn close_remote_listening(&self, listen: &Forward) -> bool {
        let Some((name, data)) = remote::take_listening(&self.inner.remotes, listen) else {
            return false;
        };
        ask(&self.inner.client, name, &data).await.is_ok()
    }

    /// Asks the server for the remote forward `f` (one already in place is granted
    /// again). The error is OpenSSH's message.
    pub async fn open_remote(&self, f: &Forward) -> Result<Granted, String> {
        remote::request(&self.inner.client, f, &self.inner.remotes).await
    }

    /// Cancels the remote forward `f`; `false` when there is none. The server's answer
    /// is awaited briefly; the forward is forgotten either way.
    pub async fn close_remote(&self, f: &Forward) -> bool {
        let Some((name, data)) = remote::take(&self.inner.remotes, f) else {
            return false;
        };
        let _ = tokio::time::timeout(
            CANCEL_TIMEOUT,
            self.inner.client.global_request(name, &data),
        )
        .await;
        true
    }
}

fn say(plan: &Plan, line: &str) {
    if !plan.quiet {
        eprintln!("{line}");
    }
}

/// `host:port` (or the path) a forward connects to, as messages print it.
pub fn connect_text(f: &Forward) -> String {
    Endpoint::connect_side(f).text()
}

/// Starts every forwarding of `plan`. With `ExitOnForwardFailure`, the first failure
/// is returned (OpenSSH's fatal message); otherwise failures are reported and skipped.
pub async fn start(client: &Client, plan: &Plan) -> Result<Forwarding, String> {
    let remotes = SharedRemotes::default();
    // Always answered: a master may add remote forwards for its clients later.
    let incoming = tokio::spawn(remote::serve_incoming(
        client.incoming_channels(),
        remotes.clone(),
        plan.agent_requested.then(|| plan.agent.clone()),
    ));
    let forwarding = Forwarding {
        inner: Arc::new(Inner {
            client: client.clone(),
            gateway_ports: plan.gateway_ports,
            locals: Mutex::new(Vec::new()),
            remotes,
            incoming,
        }),
    };
    for f in &plan.local {
        if forwarding.open_local(f).await.is_err() {
            // OpenSSH says "local" for dynamic forwards too: they are local ones.
            let message = "Could not request local forwarding.".to_owned();
            if plan.exit_on_failure {
                forwarding.stop(client).await;
                return Err(message);
            }
            eprintln!("{message}");
        }
    }
    for f in &plan.remote {
        match forwarding.open_remote(f).await {
            Ok(Granted::AsAsked) => {}
            Ok(Granted::Allocated(port)) => say(
                plan,
                &format!(
                    "Allocated port {port} for remote forward to {}",
                    connect_text(f)
                ),
            ),
            Err(message) => {
                if plan.exit_on_failure {
                    forwarding.stop(client).await;
                    return Err(format!("Error: {message}"));
                }
                say(plan, &format!("Warning: {message}"));
            }
        }
    }
    Ok(forwarding)
}

/// Binds one `-L`/`-D` listener and starts accepting; the reasons it cannot are printed.
async fn start_local(
    client: &Client,
    gateway_ports: bool,
    f: &Forward,
) -> Result<Vec<JoinHandle<()>>, ()> {
    let mut tasks = Vec::new();
    if let (Some(path), PORT_STREAMLOCAL) = (&f.listen_path, f.listen_port) {
        let listener = UnixListener::bind(path).map_err(|e| {
            eprintln!(
                "unix_listener: cannot bind to path {path}: {}",
                strerror(&e)
            );
        })?;
        tasks.push(tokio::spawn(accept_unix(
            client.clone(),
            listener,
            f.clone(),
        )));
        return Ok(tasks);
    }
    let gateway = if gateway_ports {
        Gateway::Yes
    } else {
        Gateway::No
    };
    let port = u16::try_from(f.listen_port).unwrap_or(0);
    let to = forwarding::bind_to(f.listen_host.as_deref(), gateway, true);
    match forwarding::listen(&to, port).await {
        Ok(listeners) => {
            for listener in listeners {
                tasks.push(tokio::spawn(accept_tcp(
                    client.clone(),
                    listener,
                    f.clone(),
                )));
            }
            Ok(tasks)
        }
        Err((addr, e)) => {
            eprintln!("bind {addr}: {}", strerror(&e));
            eprintln!("channel_setup_fwd_listener_tcpip: cannot listen to port: {port}");
            Err(())
        }
    }
}

/// Accepts connections on a TCP `-L`/`-D` listener.
async fn accept_tcp(client: Client, listener: TcpListener, f: Forward) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            // Out of descriptors and the like: back off rather than spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let origin = (peer.ip().to_string(), u32::from(peer.port()));
        tokio::spawn(serve_local(
            client.clone(),
            Box::new(stream),
            origin,
            f.clone(),
        ));
    }
}

/// Accepts connections on a socket-path `-L`/`-D` listener.
async fn accept_unix(client: Client, listener: UnixListener, f: Forward) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        // What OpenSSH reports as the originator of a socket connection.
        let origin = ("127.0.0.1".to_owned(), 65535);
        tokio::spawn(serve_local(
            client.clone(),
            Box::new(stream),
            origin,
            f.clone(),
        ));
    }
}

/// One connection to a local or dynamic forward.
async fn serve_local(
    client: Client,
    mut stream: Box<dyn Socket>,
    origin: (String, u32),
    f: Forward,
) {
    if f.is_dynamic() {
        socks::serve(&client, stream, origin).await;
        return;
    }
    let (kind, data) = match Endpoint::connect_side(&f) {
        Endpoint::Socks => {
            socks::serve(&client, stream, origin).await;
            return;
        }
        Endpoint::Unix(path) => (
            channel_type::DIRECT_STREAMLOCAL,
            DirectStreamlocal { path }.encode(),
        ),
        Endpoint::Tcp { host, port } => (
            channel_type::DIRECT_TCPIP,
            TcpipOpen {
                host,
                port: u32::from(port),
                originator: origin.0,
                originator_port: origin.1,
            }
            .encode(),
        ),
    };
    if let Some(channel) = open_reporting(&client, kind, &data).await {
        relay(channel, &mut *stream).await;
    }
}

/// Opens a channel; a refusal is reported as OpenSSH reports it.
pub(super) async fn open_reporting(client: &Client, kind: &str, data: &[u8]) -> Option<Channel> {
    match client.open_channel(kind, data).await {
        Ok(channel) => Some(channel),
        Err(oxssh::Error::ChannelOpen {
            channel,
            reason,
            description,
        }) => {
            // The server's text, escaped as ssh's log lines escape it.
            let sep = if description.is_empty() { "" } else { ": " };
            eprintln!(
                "channel {channel}: open failed: {}{sep}{}",
                forwarding::reason_text(reason),
                crate::width::escape_log(&description)
            );
            None
        }
        Err(_) => None,
    }
}

/// Moves bytes both ways until both sides are done; half-closes travel as EOF.
pub(super) async fn relay<S: AsyncRead + AsyncWrite + Unpin + ?Sized>(
    mut channel: Channel,
    stream: &mut S,
) {
    let _ =
        tokio::io::copy_bidirectional_with_sizes(&mut channel, stream, RELAY_BUFFER, RELAY_BUFFER)
            .await;
}
