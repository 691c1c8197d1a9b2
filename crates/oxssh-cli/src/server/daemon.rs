//! The accept loop: one task per connection on every listening socket. `MaxStartups`
//! drops new connections early and at random while too many are unauthenticated, as
//! sshd does; SIGHUP reloads the configuration for new connections (existing ones keep
//! theirs); SIGTERM stops accepting and waits for the connections to finish. A panic in
//! a connection task ends that connection only.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use oxssh_config::sshd::MaxStartups;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::auth::Endpoints;
use super::settings::Settings;
use super::stream::Stream;
use super::{conn, log};

/// Counts one unauthenticated connection while held (MaxStartups).
#[derive(Debug)]
pub(crate) struct StartupSlot(Arc<AtomicUsize>);

impl Drop for StartupSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The unauthenticated connections, against `MaxStartups start:rate:full`.
#[derive(Debug, Default)]
pub(crate) struct Startups(Arc<AtomicUsize>);

impl Startups {
    /// A slot for a new connection, or `None` to drop it (sshd's `should_drop_connection`:
    /// always at `full`, with a probability rising from `rate`% at `start` to 100%).
    pub fn admit(&self, limits: MaxStartups) -> Option<StartupSlot> {
        let pending = u32::try_from(self.0.load(Ordering::SeqCst)).unwrap_or(u32::MAX);
        if pending >= limits.full {
            return None;
        }
        if pending >= limits.start {
            let span = limits.full.saturating_sub(limits.start).max(1);
            let p = limits.rate
                + (100u32.saturating_sub(limits.rate)) * (pending - limits.start) / span;
            if random_percent() < p {
                return None;
            }
        }
        self.0.fetch_add(1, Ordering::SeqCst);
        Some(StartupSlot(self.0.clone()))
    }
}

fn random_percent() -> u32 {
    let mut byte = [0u8; 4];
    let _ = aws_lc_rs::rand::fill(&mut byte);
    u32::from_le_bytes(byte) % 100
}

/// Binds every `ListenAddress` (with `ports` replacing the configured ones when given).
pub(crate) async fn bind(settings: &Settings, ports: &[u16]) -> Result<Vec<TcpListener>, String> {
    let mut targets: Vec<(String, u16)> = Vec::new();
    for listen in &settings.config.listen_addresses {
        if ports.is_empty() {
            targets.push((listen.host.clone(), listen.port));
        } else {
            for &port in ports {
                targets.push((listen.host.clone(), port));
            }
        }
    }
    targets.dedup();
    let mut listeners = Vec::new();
    for (host, port) in targets {
        match TcpListener::bind((host.as_str(), port)).await {
            Ok(l) => {
                tracing::info!("Server listening on {host} port {port}.");
                listeners.push(l);
            }
            Err(e) => tracing::error!("Bind to port {port} on {host} failed: {e}."),
        }
    }
    if listeners.is_empty() {
        return Err("Cannot bind any address.".into());
    }
    Ok(listeners)
}

/// Serves until SIGTERM, then drains the open connections.
pub(crate) async fn serve(
    listeners: Vec<TcpListener>,
    settings: Arc<Settings>,
    reload: impl Fn() -> Result<Settings, Vec<String>>,
) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let (accepted_tx, mut accepted) = mpsc::channel::<(TcpStream, SocketAddr)>(64);
    let mut acceptors = JoinSet::new();
    for listener in listeners {
        acceptors.spawn(accept_loop(listener, accepted_tx.clone()));
    }
    drop(accepted_tx);
    let startups = Startups::default();
    let mut settings = settings;
    let mut tasks = JoinSet::new();
    let mut dropped = 0u64;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = hup.recv() => match reload() {
                Ok(new) => {
                    tracing::info!("Received SIGHUP; configuration reloaded for new connections.");
                    settings = Arc::new(new);
                }
                Err(lines) => {
                    for line in lines {
                        tracing::error!("{line}");
                    }
                    tracing::error!("Received SIGHUP; the new configuration has errors, keeping the old one.");
                }
            },
            Some((sock, peer)) = accepted.recv() => {
                let _ = sock.set_nodelay(true);
                let local = sock.local_addr().unwrap_or(peer);
                let Some(slot) = startups.admit(settings.config.max_startups) else {
                    dropped += 1;
                    tracing::info!(
                        "drop connection #{dropped} from [{}]:{} on [{}]:{} past MaxStartups",
                        peer.ip(), peer.port(), local.ip(), local.port()
                    );
                    continue;
                };
                let ends = Endpoints { peer, local };
                log::connection(&settings, ends);
                tasks.spawn(conn::serve(Stream::Socket(sock), ends, settings.clone(), Some(slot)));
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => report(done),
        }
    }
    acceptors.abort_all();
    tracing::info!(
        "Received signal 15; no longer accepting, waiting for {} connection(s)",
        tasks.len()
    );
    while let Some(done) = tasks.join_next().await {
        report(done);
    }
    Ok(())
}

async fn accept_loop(listener: TcpListener, out: mpsc::Sender<(TcpStream, SocketAddr)>) {
    loop {
        match listener.accept().await {
            Ok(pair) => {
                if out.send(pair).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                // EMFILE and the like: back off instead of spinning.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn report(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        if e.is_panic() {
            tracing::error!("a connection task panicked; other connections are unaffected");
        }
    }
}
