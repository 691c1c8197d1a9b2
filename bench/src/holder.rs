//! Many idle authenticated sessions held by one process through the `oxssh` library:
//! each connection does key exchange and public-key authentication and then nothing
//! (no session channel, as `ssh -N`), so the server holds a connection and no command.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use oxssh::{AcceptAnyHostKey, Client, ClientConfig};
use oxssh_proto::crypto::SigningKey;
use tokio::sync::Semaphore;

use crate::servers::USER;
use crate::Res;

/// Handshakes in flight at once while opening sessions.
const PARALLEL: usize = 32;

/// Loads the benchmark's user key.
pub fn load_key(path: &Path) -> Res<Arc<dyn SigningKey>> {
    let text = oxssh_keys::key_file::read_private_key_file(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let key = oxssh_crypto::load_openssh_private_key(&text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Arc::from(key))
}

async fn open_one(port: u16, key: Arc<dyn SigningKey>) -> Res<Client> {
    let mut config = ClientConfig::new(USER, Arc::new(AcceptAnyHostKey));
    config.connect_timeout = Some(Duration::from_secs(60));
    let client = Client::connect(&format!("127.0.0.1:{port}"), "127.0.0.1", config).await?;
    if !client.auth_publickey(key.as_ref()).await?.is_success() {
        return Err("public key refused".into());
    }
    Ok(client)
}

/// Opens `n` sessions to `port`; returns those that authenticated and the number of
/// failures (with the first error).
pub async fn open(port: u16, n: usize, key: Arc<dyn SigningKey>) -> (Vec<Client>, usize, String) {
    let gate = Arc::new(Semaphore::new(PARALLEL));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let gate = gate.clone();
        let key = key.clone();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
            open_one(port, key).await.map_err(|e| e.to_string())
        });
    }
    let mut clients = Vec::with_capacity(n);
    let mut failed = 0;
    let mut first_error = String::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(client)) => clients.push(client),
            Ok(Err(e)) => {
                failed += 1;
                if first_error.is_empty() {
                    first_error = e;
                }
            }
            Err(e) => {
                failed += 1;
                if first_error.is_empty() {
                    first_error = e.to_string();
                }
            }
        }
    }
    (clients, failed, first_error)
}

/// Disconnects every session.
pub async fn close(clients: Vec<Client>) {
    let mut tasks = tokio::task::JoinSet::new();
    for client in clients {
        tasks.spawn(async move { client.disconnect().await });
    }
    while tasks.join_next().await.is_some() {}
}
