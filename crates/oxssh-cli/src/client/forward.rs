//! The client's forwardings, once authenticated: local (`-L`) and dynamic (`-D`)
//! listeners that open `direct-tcpip` channels, remote forwards (`-R`) requested with
//! `tcpip-forward` whose `forwarded-tcpip` channels are connected to their local target,
//! and the agent (`-A`) for `auth-agent@openssh.com` channels. Each forwarded connection
//! is its own task over its own channel, so one stalled peer slows only itself.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxssh::{Channel, Client, IncomingChannel, IncomingChannels};
use oxssh_config::{ClientConfig, Forward, ForwardAgent, PORT_STREAMLOCAL};
use oxssh_wire::connection::open_failure;
use oxssh_wire::forward::{self, channel_type, request, TcpipForward, TcpipOpen};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixStream};
use tokio::task::JoinHandle;

use super::socks;
use crate::forwarding::{self, Gateway};

/// Bytes buffered per direction of one forwarded connection.
const RELAY_BUFFER: usize = 64 * 1024;
/// Longest wait for the server to drop our remote forwards at exit.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(2);

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
    /// The plan for `config`; forwards involving Unix-domain sockets are refused.
    pub fn from_config(config: &ClientConfig, quiet: bool) -> Result<Self, String> {
        let streamlocal =
            |f: &Forward| f.listen_port == PORT_STREAMLOCAL || f.connect_port == PORT_STREAMLOCAL;
        if config
            .local_forwards
            .iter()
            .chain(&config.remote_forwards)
            .any(streamlocal)
        {
            return Err(
                "oxssh: forwarding Unix-domain sockets is not supported yet (issue 8)".into(),
            );
        }
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

    /// Whether anything is forwarded at all.
    pub fn is_empty(&self) -> bool {
        self.local.is_empty() && self.remote.is_empty() && !self.agent_requested
    }
}

/// A remote forward the server accepted.
#[derive(Debug, Clone)]
struct Remote {
    request: TcpipForward,
    /// The port the server listens on (the allocated one for port 0).
    port: u32,
    connect_host: String,
    connect_port: u16,
}

/// The running forwardings; [`Forwarding::stop`] ends them.
#[derive(Debug)]
pub struct Forwarding {
    tasks: Vec<JoinHandle<()>>,
    remotes: Arc<Mutex<Vec<Remote>>>,
}

impl Forwarding {
    /// Cancels the remote forwards (briefly waiting for the server) and stops every
    /// listener and relay.
    pub async fn stop(self, client: &Client) {
        let remotes = self.remotes.lock().map(|r| r.clone()).unwrap_or_default();
        let cancel = async {
            for r in remotes {
                let cancel = TcpipForward {
                    address: r.request.address.clone(),
                    port: r.port,
                };
                let _ = client
                    .global_request(request::CANCEL_TCPIP_FORWARD, &cancel.encode())
                    .await;
            }
        };
        let _ = tokio::time::timeout(CANCEL_TIMEOUT, cancel).await;
        for task in self.tasks {
            task.abort();
        }
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
    let remotes = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    if plan.agent_requested || !plan.remote.is_empty() {
        tasks.push(tokio::spawn(serve_incoming(
            client.incoming_channels(),
            remotes.clone(),
            plan.agent_requested.then(|| plan.agent.clone()),
        )));
    }
    let gateway = if plan.gateway_ports {
        Gateway::Yes
    } else {
        Gateway::No
    };
    let mut forwarding = Forwarding { tasks, remotes };
    for f in &plan.local {
        let port = u16::try_from(f.listen_port).unwrap_or(0);
        let to = forwarding::bind_to(f.listen_host.as_deref(), gateway, true);
        match forwarding::listen(&to, port).await {
            Ok(listeners) => {
                for listener in listeners {
                    let task = tokio::spawn(accept_local(client.clone(), listener, f.clone()));
                    forwarding.tasks.push(task);
                }
            }
            Err((addr, e)) => {
                eprintln!("bind {addr}: {}", forwarding::strerror(&e));
                eprintln!("channel_setup_fwd_listener_tcpip: cannot listen to port: {port}");
                if plan.exit_on_failure {
                    forwarding.stop(client).await;
                    return Err(if f.is_dynamic() {
                        "Could not request dynamic forwarding.".into()
                    } else {
                        "Could not request local forwarding.".into()
                    });
                }
                eprintln!("Could not request local forwarding.");
            }
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

/// `tcpip-forward` for one `-R`; on port 0, prints the port the server chose.
async fn request_remote(
    client: &Client,
    plan: &Plan,
    f: &Forward,
    remotes: &Mutex<Vec<Remote>>,
) -> Result<(), String> {
    // OpenSSH's channel_rfwd_bind_host: no host is `localhost`, `*` is every address.
    let address = match f.listen_host.as_deref() {
        None => "localhost".to_owned(),
        Some("*") => String::new(),
        Some(h) => h.to_owned(),
    };
    let listen_port = u32::try_from(f.listen_port).unwrap_or(0);
    let req = TcpipForward {
        address,
        port: listen_port,
    };
    let connect_host = f.connect_host.clone().unwrap_or_default();
    let connect_port = u16::try_from(f.connect_port).unwrap_or(0);
    let failed = || format!("remote port forwarding failed for listen port {listen_port}");
    let reply = client
        .global_request(request::TCPIP_FORWARD, &req.encode())
        .await
        .map_err(|_| failed())?;
    let port = if listen_port == 0 {
        let port = forward::decode_allocated_port(&reply).map_err(|_| failed())?;
        say(
            plan,
            &format!("Allocated port {port} for remote forward to {connect_host}:{connect_port}"),
        );
        port
    } else {
        listen_port
    };
    if let Ok(mut list) = remotes.lock() {
        list.push(Remote {
            request: req,
            port,
            connect_host,
            connect_port,
        });
    }
    Ok(())
}

/// Accepts connections on a local (`-L`) or dynamic (`-D`) forward's listener.
async fn accept_local(client: Client, listener: TcpListener, f: Forward) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            // Out of descriptors and the like: back off rather than spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        let f = f.clone();
        tokio::spawn(async move {
            if f.is_dynamic() {
                socks::serve(&client, stream, peer).await;
            } else {
                let target = TcpipOpen {
                    host: f.connect_host.clone().unwrap_or_default(),
                    port: u32::try_from(f.connect_port).unwrap_or(0),
                    originator: peer.ip().to_string(),
                    originator_port: u32::from(peer.port()),
                };
                if let Some(channel) = open_direct(&client, &target).await {
                    relay(channel, stream).await;
                }
            }
        });
    }
}

/// Opens a `direct-tcpip` channel; a refusal is reported as OpenSSH reports it.
pub(super) async fn open_direct(client: &Client, target: &TcpipOpen) -> Option<Channel> {
    match client
        .open_channel(channel_type::DIRECT_TCPIP, &target.encode())
        .await
    {
        Ok(channel) => Some(channel),
        Err(oxssh::Error::ChannelOpen {
            reason,
            description,
        }) => {
            let sep = if description.is_empty() { "" } else { ": " };
            eprintln!(
                "channel: open failed: {}{sep}{description}",
                forwarding::reason_text(reason)
            );
            None
        }
        Err(_) => None,
    }
}

/// Moves bytes both ways until both sides are done; half-closes travel as EOF.
pub(super) async fn relay<S: AsyncRead + AsyncWrite + Unpin>(mut channel: Channel, mut stream: S) {
    let _ = tokio::io::copy_bidirectional_with_sizes(
        &mut channel,
        &mut stream,
        RELAY_BUFFER,
        RELAY_BUFFER,
    )
    .await;
}

/// Answers the channels the server opens.
async fn serve_incoming(
    mut incoming: IncomingChannels,
    remotes: Arc<Mutex<Vec<Remote>>>,
    agent: Option<Option<PathBuf>>,
) {
    while let Some(offer) = incoming.next().await {
        match offer.channel_type() {
            channel_type::FORWARDED_TCPIP => {
                tokio::spawn(forwarded_tcpip(offer, remotes.clone()));
            }
            channel_type::AUTH_AGENT => {
                tokio::spawn(agent_channel(offer, agent.clone()));
            }
            _ => offer.reject(open_failure::ADMINISTRATIVELY_PROHIBITED, "open failed"),
        }
    }
}

async fn forwarded_tcpip(offer: IncomingChannel, remotes: Arc<Mutex<Vec<Remote>>>) {
    let Ok(open) = TcpipOpen::decode(offer.data()) else {
        offer.reject(open_failure::CONNECT_FAILED, "bad forwarded-tcpip request");
        return;
    };
    let target = remotes.lock().ok().and_then(|list| {
        list.iter()
            .find(|r| r.port == open.port)
            .map(|r| (r.connect_host.clone(), r.connect_port))
    });
    let Some((host, port)) = target else {
        eprintln!(
            "WARNING: Server requests forwarding for unknown listen_port {}",
            open.port
        );
        offer.reject(open_failure::ADMINISTRATIVELY_PROHIBITED, "open failed");
        return;
    };
    match forwarding::connect(&host, port).await {
        Ok(stream) => {
            if let Ok(channel) = offer.accept() {
                relay(channel, stream).await;
            }
        }
        Err(e) => {
            let text = forwarding::strerror(&e);
            eprintln!("connect_to {host} port {port}: failed.");
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
        Ok(Ok(stream)) => {
            if let Ok(channel) = offer.accept() {
                relay(channel, stream).await;
            }
        }
        _ => {
            tracing::debug!("failed to connect to the agent at {}", path.display());
            offer.reject(open_failure::ADMINISTRATIVELY_PROHIBITED, "open failed");
        }
    }
}
