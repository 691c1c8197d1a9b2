//! Connection sharing (`ControlMaster`, `ControlPath`, `ControlPersist`, `-M`, `-S`,
//! `-O`), compatible with OpenSSH's multiplexing protocol (PROTOCOL.mux), so OpenSSH's
//! `ssh` can use an `oxssh` master and `oxssh` an OpenSSH master.
//!
//! The decisions follow OpenSSH's `ssh`:
//! - With a ControlPath and `ControlMaster no` or `auto`, first try to run through an
//!   existing master; a stale socket (connection refused) is removed under `auto`.
//! - Otherwise connect; with `ControlMaster yes`, `auto`, `ask` or `autoask`, listen at the ControlPath
//!   once authenticated, and serve clients while our own session runs, then until the
//!   last client's session ends.
//! - With `ControlPersist`, the master runs in the background instead (a copy of this
//!   program, as `-f` does) and this process becomes its first client; the master exits
//!   after `ControlPersist` seconds without clients, on `-O exit`, or with the connection.
//! - Under `ask`/`autoask` each client's session and `-O exit` is confirmed through
//!   `SSH_ASKPASS` first ("Allow shared connection to HOST? "), as ssh does.

pub mod client;
pub mod codec;
pub mod fdio;
pub mod forward;
pub mod master;
mod stdio;

use std::path::{Path, PathBuf};
use std::time::Duration;

use oxssh_config::values::{ControlMaster, ControlPersist};
use oxssh_config::ClientConfig;

use crate::background::{self, Outcome, ReadySignal};
use crate::client::forward::Forwarding;
use crate::ssh::args::MuxCommand;

use crate::strerror::strerror;
pub use master::{Master, MasterSettings};

/// Names the rendezvous socket of a ControlPersist master's background copy.
pub const PERSIST_READY_ENV: &str = "OXSSH_MUX_PERSIST_READY_SOCKET";

/// `-O command`: talks to the master at the ControlPath; returns the exit status.
pub async fn control(config: &ClientConfig, command: MuxCommand) -> u8 {
    let Some(path) = config.control_path.as_deref() else {
        eprintln!("No ControlPath specified for \"-O\" command");
        return 255;
    };
    match client::connect(Path::new(path)).await {
        Ok(mut conn) => match command {
            // OpenSSH: a failed forward is fatal, a failed cancel only said.
            MuxCommand::Forward => {
                let (local, remote) = (&config.local_forwards, &config.remote_forwards);
                if conn.forwards(local, remote, false, true).await.is_err() {
                    eprintln!("muxclient: master forward request failed");
                    return 255;
                }
                0
            }
            MuxCommand::Cancel => {
                let (local, remote) = (&config.local_forwards, &config.remote_forwards);
                if conn.forwards(local, remote, true, false).await.is_err() {
                    eprintln!("muxclient: master cancel forward request failed");
                }
                0
            }
            _ => conn.control(command).await,
        },
        Err(client::NoMaster::Absent(e)) => {
            eprintln!("Control socket connect({path}): {}", strerror(&e));
            255
        }
        Err(client::NoMaster::Refused(msg)) => {
            eprintln!("{msg}");
            255
        }
    }
}

/// Whether the settings ask for listening as a master.
pub fn wants_master(config: &ClientConfig) -> bool {
    config.control_path.is_some() && config.control_master != ControlMaster::No
}

/// `ControlMaster ask|autoask`: each client's session (and `-O exit`) is confirmed first.
fn asks(config: &ClientConfig) -> bool {
    matches!(
        config.control_master,
        ControlMaster::Ask | ControlMaster::AutoAsk
    )
}

/// `ControlMaster auto|autoask`.
fn auto(config: &ClientConfig) -> bool {
    matches!(
        config.control_master,
        ControlMaster::Auto | ControlMaster::AutoAsk
    )
}

/// Tries an existing master first (`ControlMaster no|auto` with a ControlPath): `Some`
/// with the connection when one answers. A stale socket is removed under `auto`.
pub async fn existing_master(config: &ClientConfig) -> Option<client::Connection> {
    let path = config.control_path.as_deref()?;
    if !matches!(
        config.control_master,
        ControlMaster::No | ControlMaster::Auto
    ) {
        return None;
    }
    match client::connect(Path::new(path)).await {
        Ok(conn) => Some(conn),
        Err(client::NoMaster::Absent(e)) => {
            if e.kind() == std::io::ErrorKind::ConnectionRefused && auto(config) {
                tracing::info!("Stale control socket {path}, unlinking");
                let _ = std::fs::remove_file(path);
            } else {
                tracing::info!("Control socket \"{path}\" does not exist");
            }
            None
        }
        Err(client::NoMaster::Refused(msg)) => {
            eprintln!("{msg}");
            None
        }
    }
}

/// With `ControlPersist`, the master goes to the background: starts the copy and waits
/// until it listens. `Err` is the copy's exit status when it failed (its messages
/// already shown); `Ok(false)` when persisting does not apply.
pub fn start_persistent_master(config: &ClientConfig) -> Result<bool, u8> {
    if config.control_persist == ControlPersist::No || !wants_master(config) {
        return Ok(false);
    }
    match background::spawn_daemon(PERSIST_READY_ENV, true, &[]) {
        Ok(Outcome::Ready(_)) => Ok(true),
        Ok(Outcome::Exited(code)) => Err(code),
        Err(e) => {
            eprintln!("oxssh: cannot start the ControlPersist master: {e}");
            Err(255)
        }
    }
}

/// Whether this process is a ControlPersist master's background copy.
pub fn persist_copy() -> Option<ReadySignal> {
    ReadySignal::from_env(PERSIST_READY_ENV)
}

/// Listens at the ControlPath and starts serving clients on `client`'s connection
/// (their forwards on `forwarding`). `None` when multiplexing is off or the socket
/// exists (OpenSSH's message printed).
pub fn start_master(
    config: &ClientConfig,
    client: &oxssh::Client,
    forwarding: &Forwarding,
) -> Option<Master> {
    if !wants_master(config) {
        return None;
    }
    let path = PathBuf::from(config.control_path.as_deref()?);
    let listener = match master::listen(&path) {
        Ok(Some(l)) => l,
        Ok(None) => return None,
        Err(msg) => {
            eprintln!("{msg}");
            return None;
        }
    };
    let set_env = config
        .set_env
        .iter()
        .filter_map(|s| s.split_once('='))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    let settings = MasterSettings {
        send_env: config.send_env.clone(),
        set_env,
        ask: asks(config),
        host: config.hostname.clone(),
        gateway_ports: config.gateway_ports,
        quiet: crate::client::run::quiet(config),
        forward_agent: config.forward_agent != oxssh_config::ForwardAgent::No,
    };
    Some(Master::start(
        listener,
        client.clone(),
        Some(forwarding.clone()),
        settings,
    ))
}

/// The background master's life: until `-O exit`, the connection's end, or
/// `ControlPersist` seconds without a client session.
pub async fn persist(master: Master, client: &oxssh::Client, persist: ControlPersist) {
    let idle_limit = match persist {
        ControlPersist::Timeout(t) => Some(Duration::from_secs(u64::from(t))),
        _ => None,
    };
    loop {
        let idle = master.active() == 0;
        tokio::select! {
            () = master.terminated() => break,
            _ = client.wait_closed() => break,
            () = master.changed() => {}
            () = async {
                match idle_limit {
                    Some(limit) if idle => tokio::time::sleep(limit).await,
                    _ => std::future::pending().await,
                }
            } => {
                if master.active() == 0 {
                    break;
                }
            }
        }
    }
    master.stop_listening();
}

/// After the master's own session: stop accepting, then wait for the clients' sessions
/// (or `-O exit`, or the connection's end).
pub async fn drain(master: Master, client: &oxssh::Client) {
    master.stop_listening();
    while master.active() > 0 {
        tokio::select! {
            () = master.terminated() => return,
            _ = client.wait_closed() => return,
            () = master.changed() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
