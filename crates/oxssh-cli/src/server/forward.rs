//! Forwarding for one connection, as sshd does it: `direct-tcpip` opens (connected in
//! the background, within a time limit, refused with sshd's reason codes),
//! `tcpip-forward`/`cancel-tcpip-forward` (listeners whose connections come back as
//! `forwarded-tcpip` channels), and the forwarded agent (`auth-agent-req@openssh.com`:
//! a private socket whose connections become `auth-agent@openssh.com` channels).
//! Policy: `AllowTcpForwarding`, `AllowAgentForwarding`, `DisableForwarding`,
//! `PermitOpen`, `PermitListen`, `GatewayPorts`, and the key's `no-port-forwarding`,
//! `no-agent-forwarding`, `restrict`, `permitopen=`, `permitlisten=`.
//!
//! Each forwarded connection is a [`Relay`]: its socket is read only as far as a small
//! budget of chunks allows (refilled as the channel window takes them), and written
//! through a bounded queue, so a stalled peer stalls only its own channel.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use oxssh_config::sshd::{GatewayPorts, SshdConfig};
use oxssh_keys::authorized_keys::{PermitPort, PermitTarget};
use oxssh_keys::KeyOptions;
use oxssh_proto::connection::ChannelId;
use oxssh_proto::TransportError;
use oxssh_wire::connection::open_failure;
use oxssh_wire::forward::{self, channel_type, request, TcpipForward, TcpipOpen};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::conn::{Conn, STDIN_CHUNK};
use crate::forwarding::{self, Gateway};

/// Bytes per read from a forwarded socket.
const CHUNK: usize = 64 * 1024;
/// Chunks read ahead per relay, waiting for window.
const READ_AHEAD: usize = 4;
/// Chunks queued towards a forwarded socket.
const WRITE_QUEUE: usize = 4;
/// Most `tcpip-forward` listeners one connection may hold (each is a descriptor the
/// other connections share the limit of).
const MAX_LISTENERS: usize = 256;

/// A byte stream a channel is relayed to.
pub(super) trait Socket: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Socket for T {}

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
    /// The outgoing connection of a `direct-tcpip` open succeeded or failed.
    Connected {
        id: ChannelId,
        result: std::io::Result<tokio::net::TcpStream>,
    },
    /// Someone connected to a remote-forwarded port.
    Accepted {
        listener: u64,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
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
            Self::Agent { .. } => "Agent",
        })
    }
}

/// Read data waiting for window.
struct Pending {
    data: Vec<u8>,
    sent: usize,
    _permit: OwnedSemaphorePermit,
}

/// One channel relayed to a socket.
pub(super) struct Relay {
    pending: VecDeque<Pending>,
    /// Towards the socket; dropped after the client's EOF.
    to_socket: Option<mpsc::Sender<Vec<u8>>>,
    socket_eof: bool,
    eof_sent: bool,
    client_eof: bool,
    write_done: bool,
    close_sent: bool,
    /// The client's CLOSE came: what it sent before still goes to the socket, then
    /// the channel is released.
    peer_closed: bool,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Relay {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Relay {
    fn start(
        id: ChannelId,
        socket: Box<dyn Socket>,
        events: mpsc::UnboundedSender<FwdMsg>,
    ) -> Self {
        let (reader, writer) = tokio::io::split(socket);
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let read_task = tokio::spawn(read_socket(reader, id, events.clone()));
        let write_task = tokio::spawn(write_socket(writer, rx, id, events));
        Self {
            pending: VecDeque::new(),
            to_socket: Some(tx),
            socket_eof: false,
            eof_sent: false,
            client_eof: false,
            write_done: false,
            close_sent: false,
            peer_closed: false,
            tasks: [read_task, write_task],
        }
    }
}

async fn read_socket(
    mut reader: tokio::io::ReadHalf<Box<dyn Socket>>,
    id: ChannelId,
    events: mpsc::UnboundedSender<FwdMsg>,
) {
    let budget = Arc::new(Semaphore::new(READ_AHEAD));
    loop {
        let Ok(permit) = budget.clone().acquire_owned().await else {
            break;
        };
        let mut data = vec![0u8; CHUNK];
        match reader.read(&mut data).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                data.truncate(n);
                if events.send(FwdMsg::Data { id, data, permit }).is_err() {
                    return;
                }
            }
        }
    }
    let _ = events.send(FwdMsg::ReadEof { id });
}

async fn write_socket(
    mut writer: tokio::io::WriteHalf<Box<dyn Socket>>,
    mut queue: mpsc::Receiver<Vec<u8>>,
    id: ChannelId,
    events: mpsc::UnboundedSender<FwdMsg>,
) {
    while let Some(data) = queue.recv().await {
        let ok = writer.write_all(&data).await.is_ok();
        let _ = events.send(FwdMsg::Drained);
        if !ok {
            break;
        }
    }
    let _ = writer.shutdown().await;
    let _ = events.send(FwdMsg::WriteDone { id });
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
    opening: HashMap<ChannelId, Box<dyn Socket>>,
    listeners: HashMap<u64, Listener>,
    next_listener: u64,
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
            next_listener: 0,
            agent: None,
            events: None,
            receiver: None,
        }
    }

    /// A sender for forwarding tasks (the queue is made on first use).
    fn events(&mut self) -> mpsc::UnboundedSender<FwdMsg> {
        if let Some(tx) = &self.events {
            return tx.clone();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        self.events = Some(tx.clone());
        self.receiver = Some(rx);
        tx
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

/// What the configuration and the key's options allow.
struct Policy<'a> {
    config: &'a SshdConfig,
    key: Option<&'a KeyOptions>,
}

impl Policy<'_> {
    fn tcp_allowed(&self, local: bool) -> bool {
        let by_config = if local {
            self.config.allow_tcp_forwarding.local()
        } else {
            self.config.allow_tcp_forwarding.remote()
        };
        by_config
            && !self.config.disable_forwarding
            && self.key.is_none_or(KeyOptions::port_forwarding_allowed)
    }

    fn agent_allowed(&self) -> bool {
        self.config.allow_agent_forwarding
            && !self.config.disable_forwarding
            && self.key.is_none_or(KeyOptions::agent_forwarding_allowed)
    }

    /// `PermitOpen` and the key's `permitopen=` must both allow `host`:`port`.
    fn open_permitted(&self, host: &str, port: u32) -> bool {
        config_permits(&self.config.permit_open, host, port)
            && self
                .key
                .is_none_or(|k| key_permits(k.permit_open(), host, port))
    }

    /// `PermitListen` and the key's `permitlisten=` must both allow the listener.
    fn listen_permitted(&self, host: &str, port: u32) -> bool {
        config_permits(&self.config.permit_listen, host, port)
            && self
                .key
                .is_none_or(|k| key_permits(k.permit_listen(), host, port))
    }
}

/// A `PermitOpen`/`PermitListen` list: `any`, `none`, or `[host:]port` entries where
/// `*` matches any host or port; hosts compare as written, without case.
fn config_permits(list: &[String], host: &str, port: u32) -> bool {
    if list.iter().any(|e| e == "any") {
        return true;
    }
    list.iter().any(|entry| {
        let (h, p) = match entry.rsplit_once(':') {
            Some((h, p)) => (Some(h.trim_start_matches('[').trim_end_matches(']')), p),
            None => (None, entry.as_str()),
        };
        let port_ok = p == "*" || p.parse::<u32>().is_ok_and(|p| p == port);
        let host_ok = h.is_none_or(|h| h == "*" || h.eq_ignore_ascii_case(host));
        entry != "none" && port_ok && host_ok
    })
}

/// The key's `permitopen`/`permitlisten` targets; none means no limit.
fn key_permits(targets: &[PermitTarget], host: &str, port: u32) -> bool {
    targets.is_empty()
        || targets.iter().any(|t| {
            let port_ok = match t.port {
                PermitPort::Any => true,
                PermitPort::Port(p) => u32::from(p) == port,
            };
            port_ok && (t.host == "*" || t.host.eq_ignore_ascii_case(host))
        })
}

impl Conn {
    fn policy(&self) -> Option<Policy<'_>> {
        let login = self.login.as_ref()?;
        Some(Policy {
            config: &login.candidate.config,
            key: login.key_options.as_ref(),
        })
    }

    /// A channel the client opens other than `session`.
    pub(super) fn open_requested(
        &mut self,
        id: ChannelId,
        kind: &str,
        data: &[u8],
    ) -> Result<(), TransportError> {
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
            let result = forwarding::connect(&target.host, port).await;
            if let Err(e) = &result {
                tracing::info!("connect_to {} port {port}: failed: {e}", target.host);
            }
            let _ = events.send(FwdMsg::Connected { id, result });
        });
        Ok(())
    }

    /// A channel we opened was confirmed (or refused): relay its socket, or drop it.
    pub(super) fn open_answered(&mut self, id: ChannelId, ok: bool) {
        if let Some(socket) = self.fwd.opening.remove(&id) {
            if ok {
                let relay = Relay::start(id, socket, self.fwd.events());
                self.fwd.relays.insert(id, relay);
            }
        }
        if !ok {
            self.core.release(id);
        }
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

    /// A global request from the client: `tcpip-forward`, `cancel-tcpip-forward`;
    /// anything else fails.
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
        if self.fwd.listeners.len() >= MAX_LISTENERS {
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
                    let relay = Relay::start(id, Box::new(stream), self.fwd.events());
                    self.fwd.relays.insert(id, relay);
                }
                Err(e) => {
                    self.core.reject_open(
                        id,
                        open_failure::CONNECT_FAILED,
                        &forwarding::strerror(&e),
                    )?;
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
            FwdMsg::Agent { stream } => {
                self.open_for(channel_type::AUTH_AGENT, &[], Box::new(stream))?;
            }
        }
        Ok(())
    }

    /// Opens a channel to the client for `socket`; too many channels drops it.
    fn open_for(
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

    /// The client closed a channel; `false` when it is not a relay. A relay is released
    /// once the data the client sent before closing reached its socket.
    pub(super) fn relay_closed(&mut self, id: ChannelId) -> bool {
        match self.fwd.relays.get_mut(&id) {
            Some(r) => {
                r.peer_closed = true;
                r.client_eof = true;
                true
            }
            None => false,
        }
    }

    /// The client sent EOF on a relayed channel.
    pub(super) fn relay_client_eof(&mut self, id: ChannelId) {
        if let Some(r) = self.fwd.relays.get_mut(&id) {
            r.client_eof = true;
        }
    }

    /// Moves relayed data both ways as far as windows and queues allow, passes EOFs on,
    /// and closes channels whose both directions are done.
    pub(super) fn pump_relays(&mut self) -> Result<(), TransportError> {
        let ids: Vec<ChannelId> = self.fwd.relays.keys().copied().collect();
        for id in ids {
            let Some(r) = self.fwd.relays.get_mut(&id) else {
                continue;
            };
            if r.close_sent && !r.peer_closed {
                continue;
            }
            // Socket towards the client.
            while !r.eof_sent && !r.peer_closed {
                let Some(chunk) = r.pending.front_mut() else {
                    break;
                };
                let rest = chunk.data.get(chunk.sent..).unwrap_or_default();
                let n = self.core.write(id, rest, false)?;
                chunk.sent += n;
                if chunk.sent < chunk.data.len() {
                    break;
                }
                r.pending.pop_front();
            }
            if r.socket_eof && r.pending.is_empty() && !r.eof_sent && !r.peer_closed {
                self.core.send_eof(id)?;
                r.eof_sent = true;
            }
            // Client towards the socket.
            let mut input_done = false;
            loop {
                let permit = match r.to_socket.as_ref().map(mpsc::Sender::try_reserve) {
                    Some(Ok(permit)) => Some(permit),
                    Some(Err(mpsc::error::TrySendError::Full(()))) => break,
                    // The socket is done for writing: discard, keep the window open.
                    _ => None,
                };
                let data = self.core.read_owned(id, STDIN_CHUNK)?;
                if data.is_empty() {
                    input_done = true;
                    break;
                }
                if let Some(permit) = permit {
                    permit.send(data);
                }
            }
            if r.client_eof && input_done {
                // Everything the client sent is queued: the socket sees EOF after it.
                r.to_socket = None;
            }
            if r.peer_closed {
                // Nothing more goes to the client: let the reader's budget go.
                r.pending.clear();
                if r.write_done {
                    self.fwd.relays.remove(&id);
                    self.core.release(id);
                }
            } else if r.eof_sent && r.write_done && !r.close_sent {
                r.close_sent = true;
                self.core.close(id)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permit_lists_match_as_sshd() {
        let any = vec!["any".to_owned()];
        assert!(config_permits(&any, "example.org", 80));
        let none = vec!["none".to_owned()];
        assert!(!config_permits(&none, "localhost", 80));
        let list = vec![
            "localhost:80".to_owned(),
            "*:8080".to_owned(),
            "[::1]:*".to_owned(),
        ];
        assert!(config_permits(&list, "LOCALHOST", 80));
        assert!(!config_permits(&list, "localhost", 81));
        assert!(config_permits(&list, "anything", 8080));
        assert!(config_permits(&list, "::1", 9));
        let listen = vec!["2222".to_owned()];
        assert!(config_permits(&listen, "", 2222));
        assert!(!config_permits(&listen, "", 2223));
    }
}
