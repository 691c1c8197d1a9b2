//! The client's forwardings, once authenticated: local (`-L`) and dynamic (`-D`)
//! listeners that open `direct-tcpip` (or, to a socket path, `direct-streamlocal@
//! openssh.com`) channels, remote forwards (`-R`) requested with `tcpip-forward` (or
//! `streamlocal-forward@openssh.com`) whose channels are connected to their local target,
//! and the agent (`-A`) for `auth-agent@openssh.com` channels. Each forwarded connection
//! is its own task over its own channel, so one stalled peer slows only itself.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxssh::{Channel, Client, IncomingChannel, IncomingChannels};
use oxssh_config::{ClientConfig, Forward, ForwardAgent, PORT_STREAMLOCAL};
use oxssh_wire::connection::open_failure;
use oxssh_wire::forward::{
    self, channel_type, request, DirectStreamlocal, ForwardedStreamlocal, TcpipForward, TcpipOpen,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::task::JoinHandle;

use super::socks;
use crate::forwarding::{self, Gateway};

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

/// Where a forward connects (or listens): a TCP host and port, or a socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoint {
    Tcp { host: String, port: u16 },
    Unix(String),
}

impl Endpoint {
    fn connect_side(f: &Forward) -> Self {
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
        if config.remote_forwards.iter().any(Forward::is_dynamic) {
            return Err(
                "oxssh: dynamic remote forwarding (-R port) is not supported yet (issue 8)".into(),
            );
        }
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

/// How the server listens for one remote forward.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RemoteListen {
    /// `tcpip-forward`: the address as sent, and the port listened on (the allocated
    /// one for port 0).
    Tcp { address: String, port: u32 },
    /// `streamlocal-forward@openssh.com`.
    Unix(String),
}

impl RemoteListen {
    /// The global request that cancels this forward.
    fn cancel_request(&self) -> (&'static str, Vec<u8>) {
        match self {
            Self::Tcp { address, port } => (
                request::CANCEL_TCPIP_FORWARD,
                TcpipForward {
                    address: address.clone(),
                    port: *port,
                }
                .encode(),
            ),
            Self::Unix(path) => (
                request::CANCEL_STREAMLOCAL_FORWARD,
                forward::encode_streamlocal_forward(path),
            ),
        }
    }
}

/// A remote forward the server accepted.
#[derive(Debug, Clone)]
struct Remote {
    listen: RemoteListen,
    target: Endpoint,
}

/// The remote forwards: those the server accepted (or that are being requested with
/// a known listener, so a connection racing the reply is recognised), and how many
/// port-0 requests still wait for their port.
#[derive(Debug, Default)]
struct Remotes {
    list: Vec<Remote>,
    allocating: usize,
}

type SharedRemotes = Arc<Mutex<Remotes>>;

/// Longest wait for a port-0 reply when a connection to an unknown port arrives.
const ALLOCATION_WAIT: Duration = Duration::from_secs(5);

/// The running forwardings; [`Forwarding::stop`] ends them.
#[derive(Debug)]
pub struct Forwarding {
    tasks: Vec<JoinHandle<()>>,
    remotes: SharedRemotes,
    /// Each `-L`/`-D` listener's accept tasks, so `~C -KL`/`-KD` can stop one.
    listeners: Vec<(Forward, Vec<JoinHandle<()>>)>,
    /// Channels the server opens are being answered.
    incoming: bool,
}

impl Forwarding {
    /// Cancels the remote forwards (briefly waiting for the server) and stops every
    /// listener and relay.
    pub async fn stop(self, client: &Client) {
        let remotes = self
            .remotes
            .lock()
            .map(|r| r.list.clone())
            .unwrap_or_default();
        let cancel = async {
            for r in remotes {
                let (name, data) = r.listen.cancel_request();
                let _ = client.global_request(name, &data).await;
            }
        };
        let _ = tokio::time::timeout(CANCEL_TIMEOUT, cancel).await;
        let listeners = self.listeners.into_iter().flat_map(|(_, tasks)| tasks);
        for task in self.tasks.into_iter().chain(listeners) {
            task.abort();
        }
    }
}

impl Forwarding {
    /// Answers the channels the server opens (once).
    fn serve_incoming(&mut self, client: &Client, plan: &Plan) {
        if !self.incoming {
            self.incoming = true;
            self.tasks.push(tokio::spawn(serve_incoming(
                client.incoming_channels(),
                self.remotes.clone(),
                plan.agent_requested.then(|| plan.agent.clone()),
            )));
        }
    }

    /// Starts one `-L`/`-D` listener (also for `~C`); false when it cannot listen (the
    /// reason is printed).
    pub async fn add_local(&mut self, client: &Client, plan: &Plan, f: &Forward) -> bool {
        let mut tasks = Vec::new();
        let started = start_local(client, plan, f, &mut tasks).await.is_ok();
        if started {
            self.listeners.push((f.clone(), tasks));
        }
        started
    }

    /// `~C -KL`/`-KD`: stops the listeners on `listen` (`f`'s listen side; its host, when
    /// given, must match too) of that kind. Connections already made carry on, as in
    /// OpenSSH. False when there is none.
    pub fn cancel_local(&mut self, listen: &Forward, dynamic: bool) -> bool {
        let before = self.listeners.len();
        self.listeners.retain(|(f, tasks)| {
            let same = f.is_dynamic() == dynamic
                && f.listen_port == listen.listen_port
                && f.listen_path == listen.listen_path
                && (listen.listen_host.is_none() || f.listen_host == listen.listen_host);
            if same {
                tasks.iter().for_each(JoinHandle::abort);
            }
            !same
        });
        self.listeners.len() != before
    }

    /// `~C -R`: requests one more remote forward; the error is the reason to print.
    pub async fn add_remote(
        &mut self,
        client: &Client,
        plan: &Plan,
        f: &Forward,
    ) -> Result<(), String> {
        self.serve_incoming(client, plan);
        request_remote(client, plan, f, &self.remotes).await
    }

    /// `~C -KR`: cancels the remote forward listening on `listen`'s port (or path);
    /// false when there is none or the server refuses.
    pub async fn cancel_remote(&mut self, client: &Client, listen: &Forward) -> bool {
        let found = self.remotes.lock().ok().and_then(|r| {
            r.list
                .iter()
                .map(|x| x.listen.clone())
                .find(|l| match (l, &listen.listen_path) {
                    (RemoteListen::Unix(path), Some(want)) => path == want,
                    (RemoteListen::Tcp { port, .. }, None) => {
                        i64::from(*port) == i64::from(listen.listen_port)
                    }
                    _ => false,
                })
        });
        let Some(found) = found else {
            return false;
        };
        let (name, data) = found.cancel_request();
        if let Ok(mut r) = self.remotes.lock() {
            r.list.retain(|x| x.listen != found);
        }
        ask(client, name, &data).await.is_ok()
    }
}

fn say(plan: &Plan, line: &str) {
    if !plan.quiet {
        eprintln!("{line}");
    }
}

/// Starts every forwarding of `plan`. With `ExitOnForwardFailure`, the first failure
/// is returned (OpenSSH's fatal message); otherwise failures are reported and skipped.
pub async fn start(client: &Client, plan: &Plan) -> Result<Forwarding, String> {
    let mut forwarding = Forwarding {
        tasks: Vec::new(),
        remotes: SharedRemotes::default(),
        listeners: Vec::new(),
        incoming: false,
    };
    if plan.agent_requested || !plan.remote.is_empty() {
        forwarding.serve_incoming(client, plan);
    }
    for f in &plan.local {
        if !forwarding.add_local(client, plan, f).await {
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
        if let Err(message) = request_remote(client, plan, f, &forwarding.remotes).await {
            if plan.exit_on_failure {
                forwarding.stop(client).await;
                return Err(format!("Error: {message}"));
            }
            say(plan, &format!("Warning: {message}"));
        }
    }
    Ok(forwarding)
}

/// Binds one `-L`/`-D` listener and starts accepting; the reasons it cannot are printed.
async fn start_local(
    client: &Client,
    plan: &Plan,
    f: &Forward,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<(), ()> {
    if let (Some(path), PORT_STREAMLOCAL) = (&f.listen_path, f.listen_port) {
        let listener = UnixListener::bind(path).map_err(|e| {
            eprintln!(
                "unix_listener: cannot bind to path {path}: {}",
                forwarding::strerror(&e)
            );
        })?;
        tasks.push(tokio::spawn(accept_unix(
            client.clone(),
            listener,
            f.clone(),
        )));
        return Ok(());
    }
    let gateway = if plan.gateway_ports {
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
            Ok(())
        }
        Err((addr, e)) => {
            eprintln!("bind {addr}: {}", forwarding::strerror(&e));
            eprintln!("channel_setup_fwd_listener_tcpip: cannot listen to port: {port}");
            Err(())
        }
    }
}

/// `tcpip-forward` (or `streamlocal-forward@openssh.com`) for one `-R`; on port 0,
/// prints the port the server chose.
async fn request_remote(
    client: &Client,
    plan: &Plan,
    f: &Forward,
    remotes: &Mutex<Remotes>,
) -> Result<(), String> {
    let target = Endpoint::connect_side(f);
    // Known before the reply, so a connection that overtakes the reply is recognised.
    let announce = |listen: &RemoteListen| {
        if let Ok(mut r) = remotes.lock() {
            r.list.push(Remote {
                listen: listen.clone(),
                target: target.clone(),
            });
        }
    };
    let forget = |listen: &RemoteListen| {
        if let Ok(mut r) = remotes.lock() {
            r.list.retain(|x| &x.listen != listen);
        }
    };
    if let (Some(path), PORT_STREAMLOCAL) = (&f.listen_path, f.listen_port) {
        let listen = RemoteListen::Unix(path.clone());
        announce(&listen);
        let data = forward::encode_streamlocal_forward(path);
        if ask(client, request::STREAMLOCAL_FORWARD, &data)
            .await
            .is_err()
        {
            forget(&listen);
            return Err(format!(
                "remote port forwarding failed for listen path {path}"
            ));
        }
        Ok(())
    } else {
        // OpenSSH's channel_rfwd_bind_host: no host is `localhost`, `*` every address.
        let address = match f.listen_host.as_deref() {
            None => "localhost".to_owned(),
            Some("*") => String::new(),
            Some(h) => h.to_owned(),
        };
        let listen_port = u32::try_from(f.listen_port).unwrap_or(0);
        let req = TcpipForward {
            address: address.clone(),
            port: listen_port,
        };
        let failed = || format!("remote port forwarding failed for listen port {listen_port}");
        if listen_port != 0 {
            let listen = RemoteListen::Tcp {
                address,
                port: listen_port,
            };
            announce(&listen);
            let reply = ask(client, request::TCPIP_FORWARD, &req.encode()).await;
            if reply.is_err() {
                forget(&listen);
                return Err(failed());
            }
            return Ok(());
        }
        if let Ok(mut r) = remotes.lock() {
            r.allocating += 1;
        }
        let reply = ask(client, request::TCPIP_FORWARD, &req.encode()).await;
        let port = reply
            .ok()
            .and_then(|data| forward::decode_allocated_port(&data).ok());
        if let Some(port) = port {
            announce(&RemoteListen::Tcp { address, port });
        }
        if let Ok(mut r) = remotes.lock() {
            r.allocating = r.allocating.saturating_sub(1);
        }
        let port = port.ok_or_else(failed)?;
        say(
            plan,
            &format!(
                "Allocated port {port} for remote forward to {}",
                target.text()
            ),
        );
        Ok(())
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
            let sep = if description.is_empty() { "" } else { ": " };
            eprintln!(
                "channel {channel}: open failed: {}{sep}{description}",
                forwarding::reason_text(reason)
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

/// Answers the channels the server opens.
async fn serve_incoming(
    mut incoming: IncomingChannels,
    remotes: SharedRemotes,
    agent: Option<Option<PathBuf>>,
) {
    while let Some(offer) = incoming.next().await {
        match offer.channel_type() {
            channel_type::FORWARDED_TCPIP | channel_type::FORWARDED_STREAMLOCAL => {
                tokio::spawn(forwarded(offer, remotes.clone()));
            }
            channel_type::AUTH_AGENT => {
                tokio::spawn(agent_channel(offer, agent.clone()));
            }
            _ => offer.reject(open_failure::ADMINISTRATIVELY_PROHIBITED, "open failed"),
        }
    }
}

/// Which remote forward a `forwarded-tcpip` or `forwarded-streamlocal` channel is for.
fn forwarded_listen(offer: &IncomingChannel) -> Option<RemoteListen> {
    if offer.channel_type() == channel_type::FORWARDED_STREAMLOCAL {
        let open = ForwardedStreamlocal::decode(offer.data()).ok()?;
        return Some(RemoteListen::Unix(open.path));
    }
    let open = TcpipOpen::decode(offer.data()).ok()?;
    Some(RemoteListen::Tcp {
        address: open.host,
        port: open.port,
    })
}

/// The target of the remote forward `listen` belongs to; waits a little while a port-0
/// request is still unanswered, since its connections may overtake the reply.
async fn find_target(remotes: &SharedRemotes, listen: &RemoteListen) -> Option<Endpoint> {
    let deadline = tokio::time::Instant::now() + ALLOCATION_WAIT;
    loop {
        let (found, allocating) = {
            let r = remotes.lock().ok()?;
            // The exact listener first; else a TCP forward on the same port (the server
            // may write the address its own way).
            let same_port = |x: &&Remote| match (&x.listen, listen) {
                (RemoteListen::Tcp { port: a, .. }, RemoteListen::Tcp { port: b, .. }) => a == b,
                _ => false,
            };
            let found = r
                .list
                .iter()
                .find(|x| &x.listen == listen)
                .or_else(|| r.list.iter().find(same_port))
                .map(|x| x.target.clone());
            (found, r.allocating)
        };
        if found.is_some() || allocating == 0 || tokio::time::Instant::now() >= deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn forwarded(offer: IncomingChannel, remotes: SharedRemotes) {
    let Some(listen) = forwarded_listen(&offer) else {
        offer.reject(
            open_failure::CONNECT_FAILED,
            "bad forwarded channel request",
        );
        return;
    };
    let target = find_target(&remotes, &listen).await;
    let Some(target) = target else {
        match listen {
            RemoteListen::Tcp { port, .. } => {
                eprintln!("WARNING: Server requests forwarding for unknown listen_port {port}")
            }
            RemoteListen::Unix(path) => {
                eprintln!("WARNING: Server requests forwarding for unknown path {path}")
            }
        }
        offer.reject(open_failure::ADMINISTRATIVELY_PROHIBITED, "open failed");
        return;
    };
    match target.connect().await {
        Ok(mut stream) => {
            if let Ok(channel) = offer.accept() {
                relay(channel, &mut stream).await;
            }
        }
        Err(e) => {
            let text = forwarding::strerror(&e);
            match &target {
                Endpoint::Tcp { host, port } => eprintln!("connect_to {host} port {port}: failed."),
                Endpoint::Unix(path) => eprintln!("connect_to {path}: {text}"),
            }
            offer.reject(open_failure::CONNECT_FAILED, &text);
        }
    }
}

/// `agent`: `None` when forwarding was not asked for, `Some(None)` when it was but no
/// agent is reachable.
async fn agent_channel(offer: IncomingChannel, agent: Option<Option<PathBuf>>) {
    let Some(agent) = agent else {
        // OpenSSH's words: we never asked for this channel.
        eprintln!("Warning: ssh server tried agent forwarding.");
        eprintln!("Warning: this is probably a break-in attempt by a malicious server.");
        offer.reject(open_failure::ADMINISTRATIVELY_PROHIBITED, "open failed");
        return;
    };
    let Some(path) = agent else {
        offer.reject(open_failure::ADMINISTRATIVELY_PROHIBITED, "open failed");
        return;
    };
    let connect = tokio::time::timeout(forwarding::CONNECT_TIMEOUT, UnixStream::connect(&path));
    match connect.await {
        Ok(Ok(mut stream)) => {
            if let Ok(channel) = offer.accept() {
                relay(channel, &mut stream).await;
            }
        }
        _ => {
            tracing::debug!("failed to connect to the agent at {}", path.display());
            offer.reject(open_failure::ADMINISTRATIVELY_PROHIBITED, "open failed");
        }
    }
}
