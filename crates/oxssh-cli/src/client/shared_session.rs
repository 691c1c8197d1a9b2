//! A session run through a master's connection (`ControlMaster`): the client's
//! forwards asked of the master first, then `MUX_C_NEW_SESSION` with our settings.

use oxssh_config::ClientConfig;

use super::mux;
use super::run::{quiet, session_settings};
use super::session::Run;
use crate::ssh::args::Args;

/// Runs the session (or `-N`'s wait) through a master's connection.
/// `None` when the master refused the session.
pub(super) async fn through_master(
    mut conn: mux::client::Connection,
    args: &Args,
    config: &ClientConfig,
) -> Option<u8> {
    let (local, remote) = (&config.local_forwards, &config.remote_forwards);
    if conn.forwards(local, remote, false, false).await.is_err() {
        eprintln!("muxclient: master forward request failed");
        return None;
    }
    let Some(settings) = session_settings(args, config) else {
        // -N: the master already holds the connection.
        return Some(0);
    };
    let (command, subsystem) = match &settings.run {
        Run::Shell => (Vec::new(), false),
        Run::Exec(c) => (c.clone(), false),
        Run::Subsystem(name) => (name.clone().into_bytes(), true),
    };
    let request = mux::codec::NewSession {
        request_id: 0,
        want_tty: settings.pty,
        want_x11: false,
        want_agent: settings.forward_agent,
        subsystem,
        escape: settings.escape.map_or(mux::codec::NO_ESCAPE, u32::from),
        term: settings.term.clone(),
        command,
        env: settings
            .env
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect(),
    };
    conn.session(
        request,
        settings.stdin_null,
        &config.hostname,
        quiet(config),
    )
    .await
}
