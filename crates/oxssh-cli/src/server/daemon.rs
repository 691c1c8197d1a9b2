//! The accept loop: one task per connection; SIGTERM stops accepting and waits for the
//! connections to finish. A panic in a connection task ends that connection only.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinSet;

use super::{conn, Context};

/// Serves until SIGTERM, then drains the open connections.
pub(crate) async fn serve(listener: TcpListener, ctx: Arc<Context>) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            _ = term.recv() => break,
            accepted = listener.accept() => match accepted {
                Ok((sock, peer)) => {
                    tracing::info!("Connection from {} port {}", peer.ip(), peer.port());
                    tasks.spawn(conn::serve(sock, peer, ctx.clone()));
                }
                Err(e) => {
                    // EMFILE and the like: back off instead of spinning.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(done) = tasks.join_next(), if !tasks.is_empty() => report(done),
        }
    }
    drop(listener);
    tracing::info!(
        "Received SIGTERM; no longer accepting, waiting for {} connection(s)",
        tasks.len()
    );
    while let Some(done) = tasks.join_next().await {
        report(done);
    }
    Ok(())
}

fn report(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        if e.is_panic() {
            tracing::error!("a connection task panicked; other connections are unaffected");
        }
    }
}
