//! Remote forwards (`-R`, and those a mux client asks of a master): `tcpip-forward` or
//! `streamlocal-forward@openssh.com` requests, their cancellation, and the channels the
//! server opens for them (`forwarded-tcpip`, `forwarded-streamlocal@openssh.com`),
//! each connected to its local target. Agent channels (`-A`) arrive on the same path.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxssh::{Client, IncomingChannel, IncomingChannels};
use oxssh_config::{Forward, PORT_STREAMLOCAL};
use oxssh_wire::connection::open_failure;
use oxssh_wire::forward::{
    self, channel_type, request, ForwardedStreamlocal, TcpipForward, TcpipOpen,
};
use tokio::net::UnixStream;

use super::{ask, relay, Endpoint};
use crate::client::socks;
use crate::forwarding;
use crate::strerror::strerror;

/// Longest wait for a port-0 reply when a connection to an unknown port arrives.
const ALLOCATION_WAIT: Duration = Duration::from_secs(5);

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
    /// The cancel request for this listener.
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

/// A remote forward the server accepted (or that is being requested).
#[derive(Debug, Clone)]
struct Remote {
    /// The forward as asked for (port 0 stays 0 here).
    spec: Forward,
    listen: RemoteListen,
    target: Endpoint,
}

/// The remote forwards: those the server accepted (or that are being requested with
/// a known listener, so a connection racing the reply is recognised), and how many
/// port-0 requests still wait for their port.
#[derive(Debug, Default)]
pub(super) struct Remotes {
    list: Vec<Remote>,
    allocating: usize,
}

pub(super) type SharedRemotes = Arc<Mutex<Remotes>>;

/// What the server said to a remote forward request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granted {
    /// Listening on the port (or path) asked for.
    AsAsked,
    /// Port 0: listening on this port.
    Allocated(u32),
}

/// The cancel requests for every remote forward, and forgets them.
pub(super) fn take_all(remotes: &SharedRemotes) -> Vec<(&'static str, Vec<u8>)> {
    remotes
        .lock()
        .map(|mut r| {
            r.list
                .drain(..)
                .map(|x| x.listen.cancel_request())
                .collect()
        })
        .unwrap_or_default()
}

/// Forgets the remote forward `spec`; its cancel request, or `None` when unknown.
pub(super) fn take(remotes: &SharedRemotes, spec: &Forward) -> Option<(&'static str, Vec<u8>)> {
    let mut r = remotes.lock().ok()?;
    let at = r.list.iter().position(|x| &x.spec == spec)?;
    Some(r.list.remove(at).listen.cancel_request())
}

/// Forgets the remote forward listening on `listen`'s port (or path) and returns the
/// request that cancels it, if there is one.
pub(super) fn take_listening(
    remotes: &SharedRemotes,
    listen: &Forward,
) -> Option<(&'static str, Vec<u8>)> {
    let mut r = remotes.lock().ok()?;
    let at = r
        .list
        .iter()
        .position(|x| match (&x.listen, &listen.listen_path) {
            (RemoteListen::Unix(path), Some(want)) => path == want,
            (RemoteListen::Tcp { port, .. }, None) => {
                i64::from(*port) == i64::from(listen.listen_port)
            }
            _ => false,
        })?;
    Some(r.list.remove(at).listen.cancel_request())
}

/// `tcpip-forward` (or `streamlocal-forward@openssh.com`) for one remote forward. A
/// forward already in place is granted again without asking the server (as OpenSSH's
/// master does for its clients). The error is OpenSSH's message.
pub(super) async fn request(
    client: &Client,
    f: &Forward,
    remotes: &SharedRemotes,
) -> Result<Granted, String> {
    let existing = remotes.lock().ok().and_then(|r| {
        r.list
            .iter()
            .find(|x| &x.spec == f)
            .map(|x| match x.listen {
                RemoteListen::Tcp { port, .. } if f.listen_port == 0 => Granted::Allocated(port),
                _ => Granted::AsAsked,
            })
    });
    if let Some(granted) = existing {
        return Ok(granted);
    }
    let target = Endpoint::connect_side(f);
    // Known before the reply, so a connection that overtakes the reply is recognised.
    let announce = |listen: &RemoteListen| {
        if let Ok(mut r) = remotes.lock() {
            r.list.push(Remote {
                spec: f.clone(),
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
        return Ok(Granted::AsAsked);
    }
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
        return Ok(Granted::AsAsked);
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
    port.map(Granted::Allocated).ok_or_else(failed)
}

/// Answers the channels the server opens.
pub(super) async fn serve_incoming(
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
    if target == Some(Endpoint::Socks) {
        if let Ok(channel) = offer.accept() {
            socks::serve_channel(channel).await;
        }
        return;
    }
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
            let text = strerror(&e);
            match &target {
                Endpoint::Tcp { host, port } => eprintln!("connect_to {host} port {port}: failed."),
                Endpoint::Unix(path) => eprintln!("connect_to {path}: {text}"),
                Endpoint::Socks => {}
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
