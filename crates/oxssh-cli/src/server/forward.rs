//! Forwarding for one connection, as sshd does it: `direct-tcpip` opens (connected in
//! the background, within a time limit, refused with sshd's reason codes),
//! `tcpip-forward`/`cancel-tcpip-forward` (listeners whose connections come back as
//! `forwarded-tcpip` channels), the forwarded agent (`auth-agent-req@openssh.com`:
//! a private socket whose connections become `auth-agent@openssh.com` channels), and
//! the dispatch to stream-local forwarding ([`super::streamlocal`]). Who may do what is
//! [`super::forward_policy`]; each forwarded connection is a [`Relay`].

use std::collections::HashMap;
use std::net::SocketAddr;

use oxssh_config::sshd::GatewayPorts;
use oxssh_proto::connection::ChannelId;
use oxssh_proto::TransportError;
use oxssh_wire::connection::open_failure;
use oxssh_wire::forward::{self, channel_type, request, TcpipForward, TcpipOpen};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio::task::JoinHandle;

use super::conn::Conn;
use super::relay::{Pending, Relay, Socket};
use super::streamlocal::StreamListener;
use crate::forwarding::{self, Gateway};
use crate::strerror::strerror;

/// Most `tcpip-forward` listeners one connection may hold (each is a descriptor the
/// other connections share the limit of).
pub(super) const MAX_LISTENERS: usize = 256;

/// What forwarding tasks report to the connection task.
pub(super) enum FwdMsg {
    /// Bytes read from a relay's socket; the permit returns when they are sent.
    Data {
        id: ChannelId,
        data: Vec<u8>,
        permit: OwnedSemaphorePermit,
    },
    /// A relay's socket reached EOF (or failed) for reading.
    ReadEof { id: ChannelId },
    /// A relay's write queue has room again.
    Drained,
    /// A relay's socket is done for writing.
    WriteDone { id: ChannelId },
    /// The outgoing connection of a `direct-tcpip` or `direct-streamlocal` open
    /// succeeded, or failed (already logged) with the text for the open failure.
    Connected {
        id: ChannelId,
        result: Result<Box<dyn Socket>, String>,
    },
    /// Someone connected to a remote-forwarded port.
    Accepted {
        listener: u64,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
    },
    /// Someone connected to a remote-forwarded socket path.
    StreamAccepted {
        listener: u64,
        stream: tokio::net::UnixStream,
    },
    /// Someone connected to the forwarded agent's socket.
    Agent { stream: tokio::net::UnixStream },
}

impl std::fmt::Debug for FwdMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Data { .. } => "Data",
            Self::ReadEof { .. } => "ReadEof",
            Self::Drained => "Drained",
            Self::WriteDone { .. } => "WriteDone",
            Self::Connected { .. } => "Connected",
            Self::Accepted { .. } => "Accepted",
            Self::StreamAccepted { .. } => "StreamAccepted",
            Self::Agent { .. } => "Agent",
        })
    }
}

/// A `tcpip-forward` listener.
struct Listener {
    /// The address as the client asked (sent back in `forwarded-tcpip`).
    address: String,
    /// The port listened on (the allocated one for port 0).
    port: u32,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The forwarding state of one connection.
pub(super) struct Forwards {
    pub relays: HashMap<ChannelId, Relay>,
    /// Sockets waiting for the client to confirm the channel we opened for them.
    pub opening: HashMap<ChannelId, Box<dyn Socket>>,
    listeners: HashMap<u64, Listener>,
    /// `streamlocal-forward@openssh.com` listeners.
    pub stream_listeners: HashMap<u64, StreamListener>,
    pub next_listener: u64,
    /// The forwarded agent's socket (one per connection, as sshd).
    agent: Option<(oxssh_os::AgentSocket, JoinHandle<()>)>,
    /// Where forwarding tasks report, made on first use: a connection that forwards
    /// nothing owns no queue.
    events: Option<mpsc::UnboundedSender<FwdMsg>>,
    /// The receiving end, until the connection loop takes it.
    receiver: Option<mpsc::UnboundedReceiver<FwdMsg>>,
}

impl Forwards {
    pub fn new() -> Self {
        Self {
            relays: HashMap::new(),
            opening: HashMap::new(),
            listeners: HashMap::new(),
            stream_listeners: HashMap::new(),
            next_listener: 0,
            agent: None,
            events: None,
            receiver: None,
        }
    }

    /// A sender for forwarding tasks (the queue is made on first use).
    pub fn events(&mut self) -> mpsc::UnboundedSender<FwdMsg> {
        if let Some(tx) = &self.events {
            return tx.clone();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        self.events = Some(tx.clone());
        self.receiver = Some(rx);
        tx
    }

    /// Listeners of both kinds, against [`MAX_LISTENERS`].
    pub fn listener_count(&self) -> usize {
        self.listeners.len() + self.stream_listeners.len()
    }

    /// The receiving end of the queue, once it exists, for the connection loop.
    pub fn take_receiver(&mut self) -> Option<mpsc::UnboundedReceiver<FwdMsg>> {
        self.receiver.take()
    }

    /// `SSH_AUTH_SOCK` for sessions, once agent forwarding was set up.
    pub fn agent_path(&self) -> Option<&std::path::Path> {
        self.agent.as_ref().map(|(socket, _)| socket.path())
    }
}

impl Drop for Forwards {
    fn drop(&mut self) {
        if let Some((_, task)) = &self.agent {
            task.abort();
        }
    }
}

impl Conn {
    /// A channel the client opens other than `session`.
    pub(super) fn open_requested(
        &mut self,
        id: ChannelId,
        kind: &str,
        data: &[u8],
    ) -> Result<(), TransportError> {
        if kind == channel_type::DIRECT_STREAMLOCAL {
            return self.direct_streamlocal(id, data);
        }
        if kind != channel_type::DIRECT_TCPIP {
            tracing::debug!("refused channel type {kind}");
            return self.core.reject_open(
                id,
                open_failure::ADMINISTRATIVELY_PROHIBITED,
                "open failed",
            );
        }
        let Ok(target) = TcpipOpen::decode(data) else {
            return self.core.reject_open(
                id,
                open_failure::ADMINISTRATIVELY_PROHIBITED,
                "open failed",
            );
        };
        let Some(policy) = self.policy() else {
            return self.core.reject_open(
                id,
                open_failure::ADMINISTRATIVELY_PROHIBITED,
                "open failed",
            );
        };
        if !policy.tcp_allowed(true) {
            tracing::info!(
                "refused local port forward: originator {} port {}, target {} port {}",
                target.originator,
                target.originator_port,
                target.host,
                target.port
            );
            return self.core.reject_open(
                id,
                open_failure::ADMINISTRATIVELY_PROHIBITED,
                "open failed",
            );
        }
        let port = u16::try_from(target.port).ok().filter(|p| *p != 0);
        let (Some(port), true) = (port, policy.open_permitted(&target.host, target.port)) else {
            tracing::info!(
                "Received request from {} port {} to connect to host {} port {}, but the \
                 request was denied.",
                target.originator,
                target.originator_port,
                target.host,
                target.port
            );
            return self.core.reject_open(
                id,
                open_failure::ADMINISTRATIVELY_PROHIBITED,
                "open failed",
            );
        };
        tracing::debug!(
            "direct-tcpip to {} port {port} from {} port {}",
            target.host,
            target.originator,
            target.originator_port
        );
        let events = self.fwd.events();
        tokio::spawn(async move {
            let result = match forwarding::connect(&target.host, port).await {
                Ok(stream) => Ok(Box::new(stream) as Box<dyn Socket>),
                Err(e) => {
                    tracing::info!("connect_to {} port {port}: failed: {e}", target.host);
                    Err(strerror(&e))
                }
            };
            let _ = events.send(FwdMsg::Connected { id, result });
        });
        Ok(())
    }

    /// `auth-agent-req@openssh.com` on a session: creates the agent socket once.
    pub(super) fn agent_request(&mut self) -> bool {
        let Some(policy) = self.policy() else {
            return false;
        };
        if !policy.agent_allowed() {
            tracing::debug!("agent forwarding disabled");
            return false;
        }
        if self.fwd.agent.is_some() {
            // sshd: "authentication forwarding requested twice."
            return false;
        }
        let Some(login) = self.login.as_ref() else {
            return false;
        };
        let mut random = [0u8; 10];
        if self.settings.provider.random.fill(&mut random).is_err() {
            return false;
        }
        let user = &login.candidate.user;
        let created = oxssh_os::AgentSocket::create(
            std::path::Path::new("/tmp"),
            &random,
            std::process::id(),
            user,
        );
        let mut socket = match created {
            Ok(socket) => socket,
            Err(e) => {
                tracing::error!("agent forwarding for {}: {e}", user.name);
                return false;
            }
        };
        let listener = socket
            .take_listener()
            .and_then(|l| tokio::net::UnixListener::from_std(l).ok());
        let Some(listener) = listener else {
            return false;
        };
        let events = self.fwd.events();
        let task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        if events.send(FwdMsg::Agent { stream }).is_err() {
                            return;
                        }
                    }
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                }
            }
        });
        self.fwd.agent = Some((socket, task));
        true
    }

    /// A global request from the client: `tcpip-forward`, `cancel-tcpip-forward`,
    /// `streamlocal-forward@openssh.com` and its cancel; anything else fails.
    pub(super) async fn global_request(
        &mut self,
        name: &str,
        want_reply: bool,
        data: &[u8],
    ) -> Result<(), TransportError> {
        let reply = match name {
            request::TCPIP_FORWARD => match TcpipForward::decode(data) {
                Ok(req) => self.tcpip_forward(req, want_reply).await,
                Err(_) => None,
            },
            request::CANCEL_TCPIP_FORWARD => TcpipForward::decode(data)
                .ok()
                .and_then(|req| self.cancel_tcpip_forward(&req)),
            request::STREAMLOCAL_FORWARD => self.streamlocal_forward(data).await,
            request::CANCEL_STREAMLOCAL_FORWARD => self.cancel_streamlocal_forward(data),
            _ => None,
        };
        if !want_reply {
            return Ok(());
        }
        match reply {
            Some(data) => self.core.reply_global(true, &data),
            None => self.core.reply_global(false, &[]),
        }
    }

    /// Starts listening; returns the reply data (the port, when 0 was asked).
    async fn tcpip_forward(&mut self, req: TcpipForward, want_reply: bool) -> Option<Vec<u8>> {
        let policy = self.policy()?;
        let uid = self
            .login
            .as_ref()
            .map_or(u32::MAX, |l| l.candidate.user.uid);
        let privileged = req.port != 0 && req.port < 1024 && uid != 0;
        let port = u16::try_from(req.port).ok();
        if !policy.tcp_allowed(false) || (!want_reply && req.port == 0) || privileged {
            tracing::info!(
                "refused remote port forward: listen {} port {}",
                req.address,
                req.port
            );
            return None;
        }
        if self.fwd.listener_count() >= MAX_LISTENERS {
            tracing::info!("refused remote port forward: too many listeners");
            return None;
        }
        if !policy.listen_permitted(&req.address, req.port) {
            tracing::info!(
                "Received request to forward {} port {}, but the request was denied.",
                req.address,
                req.port
            );
            return None;
        }
        let gateway = match policy.config.gateway_ports {
            GatewayPorts::No => Gateway::No,
            GatewayPorts::Yes => Gateway::Yes,
            GatewayPorts::ClientSpecified => Gateway::ClientSpecified,
        };
        let to = forwarding::bind_to(Some(&req.address), gateway, false);
        let listeners = match forwarding::listen(&to, port?).await {
            Ok(l) => l,
            Err((addr, e)) => {
                tracing::info!("bind {addr}: {e}; cannot listen to port {}", req.port);
                return None;
            }
        };
        let bound = listeners
            .first()
            .and_then(|l| l.local_addr().ok())
            .map_or(0, |a| u32::from(a.port()));
        let key = self.fwd.next_listener;
        self.fwd.next_listener += 1;
        let tasks = listeners
            .into_iter()
            .map(|listener| {
                let events = self.fwd.events();
                tokio::spawn(async move {
                    loop {
                        match listener.accept().await {
                            Ok((stream, peer)) => {
                                let _ = stream.set_nodelay(true);
                                let msg = FwdMsg::Accepted {
                                    listener: key,
                                    stream,
                                    peer,
                                };
                                if events.send(msg).is_err() {
                                    return;
                                }
                            }
                            Err(_) => {
                                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                            }
                        }
                    }
                })
            })
            .collect();
        tracing::debug!("remote forward listening on {} port {bound}", req.address);
        self.fwd.listeners.insert(
            key,
            Listener {
                address: req.address.clone(),
                port: bound,
                tasks,
            },
        );
        Some(if req.port == 0 {
            forward::encode_allocated_port(bound)
        } else {
            Vec::new()
        })
    }

    fn cancel_tcpip_forward(&mut self, req: &TcpipForward) -> Option<Vec<u8>> {
        let key = self
            .fwd
            .listeners
            .iter()
            .find(|(_, l)| l.port == req.port && l.address == req.address)
            .map(|(k, _)| *k)?;
        self.fwd.listeners.remove(&key);
        Some(Vec::new())
    }

    /// Handles what a forwarding task reported.
    pub(super) fn on_forward_msg(&mut self, msg: FwdMsg) -> Result<(), TransportError> {
        match msg {
            FwdMsg::Data { id, data, permit } => {
                if let Some(r) = self.fwd.relays.get_mut(&id) {
                    r.pending.push_back(Pending {
                        data,
                        sent: 0,
                        _permit: permit,
                    });
                }
            }
            FwdMsg::ReadEof { id } => {
                if let Some(r) = self.fwd.relays.get_mut(&id) {
                    r.socket_eof = true;
                }
            }
            FwdMsg::WriteDone { id } => {
                if let Some(r) = self.fwd.relays.get_mut(&id) {
                    r.write_done = true;
                    r.to_socket = None;
                }
            }
            FwdMsg::Drained => {}
            FwdMsg::Connected { id, result } => match result {
                Ok(stream) => {
                    self.core.accept_open(id)?;
                    let relay = Relay::start(id, stream, self.fwd.events());
                    self.fwd.relays.insert(id, relay);
                }
                Err(text) => {
                    self.core
                        .reject_open(id, open_failure::CONNECT_FAILED, &text)?;
                }
            },
            FwdMsg::Accepted {
                listener,
                stream,
                peer,
            } => {
                let Some(l) = self.fwd.listeners.get(&listener) else {
                    return Ok(());
                };
                let open = TcpipOpen {
                    host: l.address.clone(),
                    port: l.port,
                    originator: peer.ip().to_string(),
                    originator_port: u32::from(peer.port()),
                };
                self.open_for(
                    channel_type::FORWARDED_TCPIP,
                    &open.encode(),
                    Box::new(stream),
                )?;
            }
            FwdMsg::StreamAccepted { listener, stream } => {
                self.stream_accepted(listener, stream)?;
            }
            FwdMsg::Agent { stream } => {
                self.open_for(channel_type::AUTH_AGENT, &[], Box::new(stream))?;
            }
        }
        Ok(())
    }

    /// Opens a channel to the client for `socket`; too many channels drops it.
    pub(super) fn open_for(
        &mut self,
        kind: &str,
        data: &[u8],
        socket: Box<dyn Socket>,
    ) -> Result<(), TransportError> {
        match self.core.open_channel(kind, data) {
            Ok(id) => {
                self.fwd.opening.insert(id, socket);
                Ok(())
            }
            Err(TransportError::ApiMisuse(what)) => {
                tracing::info!("cannot open {kind} channel: {what}");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
