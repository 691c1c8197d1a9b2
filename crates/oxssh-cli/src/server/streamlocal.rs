//! Stream-local forwarding (OpenSSH PROTOCOL §2.4), as sshd 9.2 does it:
//! `direct-streamlocal@openssh.com` opens (the client's `-L port:/path`) connect to a
//! Unix-domain socket, and `streamlocal-forward@openssh.com` (the client's
//! `-R /path:host:port`) listens on one, whose connections come back as
//! `forwarded-streamlocal@openssh.com` channels; `cancel-streamlocal-forward@openssh.com`
//! stops listening.
//!
//! sshd makes these sockets in its per-user child, so with the user's rights; oxsshd
//! serves everyone from one process and asks [`oxssh_os::UserSockets`] (a short-lived
//! helper that becomes the user, inside their `ChrootDirectory` if any). A remote
//! forward's socket is created under `StreamLocalBindMask`, replaces an existing file
//! only with `StreamLocalBindUnlink`, and is left in place when the forward is cancelled
//! or the connection ends, as sshd leaves it. Refusals use sshd's reason (connect
//! failed), text ("open failed") and log lines.

use std::path::{Path, PathBuf};

use oxssh_os::{SystemUser, UserSockets};
use oxssh_proto::connection::ChannelId;
use oxssh_proto::TransportError;
use oxssh_wire::connection::open_failure;
use oxssh_wire::forward::{self, channel_type, DirectStreamlocal, ForwardedStreamlocal};
use tokio::task::JoinHandle;

use super::conn::Conn;
use super::forward::{FwdMsg, MAX_LISTENERS};
use super::relay::Socket;
use crate::strerror::strerror;

/// A `streamlocal-forward@openssh.com` listener; dropping it closes the socket (the
/// file stays, as with sshd).
pub(super) struct StreamListener {
    /// The path as the client asked (sent back in `forwarded-streamlocal`).
    path: String,
    task: JoinHandle<()>,
}

impl Drop for StreamListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whose rights a helper takes: the user and their checked jail, if any.
struct Identity {
    user: SystemUser,
    root: Option<PathBuf>,
}

impl Identity {
    /// Runs `op` with the user's sockets on a blocking thread (the helper waits at most
    /// [`oxssh_os::user_socket::HELPER_TIMEOUT`]).
    async fn run<T: Send + 'static>(
        self,
        op: impl FnOnce(&UserSockets) -> std::io::Result<T> + Send + 'static,
    ) -> std::io::Result<T> {
        let job = move || {
            let groups = self.user.group_ids().map_err(std::io::Error::other)?;
            let sockets = UserSockets::new(&self.user, &groups, self.root.as_deref())
                .map_err(std::io::Error::other)?;
            op(&sockets)
        };
        tokio::task::spawn_blocking(job)
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
    }
}

impl Conn {
    /// The logged-in user, and their `ChrootDirectory` (checked as for a session);
    /// `None` after logging when the jail is unusable.
    fn socket_identity(&self) -> Option<Identity> {
        let login = self.login.as_ref()?;
        let user = login.candidate.user.clone();
        let root = match &login.candidate.config.chroot_directory {
            None => None,
            Some(template) => {
                let home = user.home.to_string_lossy();
                let checked = oxssh_os::expand_chroot_tokens(template, &home, &user.name, user.uid)
                    .and_then(|path| {
                        oxssh_os::check_chroot_path(Path::new(&path))?;
                        Ok(path)
                    });
                match checked {
                    Ok(path) => Some(PathBuf::from(path)),
                    Err(message) => {
                        tracing::error!("{message}");
                        return None;
                    }
                }
            }
        };
        Some(Identity { user, root })
    }

    /// sshd's answer to any failed `direct-streamlocal` open.
    fn refuse_streamlocal(&mut self, id: ChannelId) -> Result<(), TransportError> {
        self.core
            .reject_open(id, open_failure::CONNECT_FAILED, "open failed")
    }

    /// `direct-streamlocal@openssh.com`: checks the policy, then connects as the user
    /// in the background.
    pub(super) fn direct_streamlocal(
        &mut self,
        id: ChannelId,
        data: &[u8],
    ) -> Result<(), TransportError> {
        let Ok(DirectStreamlocal { path }) = DirectStreamlocal::decode(data) else {
            return self.refuse_streamlocal(id);
        };
        let Some(policy) = self.policy() else {
            return self.refuse_streamlocal(id);
        };
        let peer = self.ends.peer;
        if !policy.stream_local_allowed(true) {
            tracing::info!(
                "refused streamlocal port forward: originator {} port {}, target {path}",
                peer.ip(),
                peer.port()
            );
            return self.refuse_streamlocal(id);
        }
        if !policy.path_open_permitted(&path) {
            tracing::info!(
                "Received request to connect to path {path}, but the request was denied."
            );
            return self.refuse_streamlocal(id);
        }
        let Some(identity) = self.socket_identity() else {
            return self.refuse_streamlocal(id);
        };
        tracing::debug!("direct-streamlocal to {path}");
        let events = self.fwd.events();
        tokio::spawn(async move {
            let target = PathBuf::from(&path);
            let connected = identity
                .run(move |sockets| sockets.connect(&target))
                .await
                .and_then(tokio::net::UnixStream::from_std);
            let result = match connected {
                Ok(stream) => Ok(Box::new(stream) as Box<dyn Socket>),
                Err(e) => {
                    let why = strerror(&e);
                    tracing::info!("connect to {path} port -2 failed: {why}");
                    Err("open failed".to_owned())
                }
            };
            let _ = events.send(FwdMsg::Connected { id, result });
        });
        Ok(())
    }

    /// `streamlocal-forward@openssh.com`: binds and listens as the user; the reply
    /// data (empty) on success.
    pub(super) async fn streamlocal_forward(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        let path = forward::decode_streamlocal_forward(data).ok()?;
        let policy = self.policy()?;
        tracing::debug!("streamlocal-forward listen path {path}");
        if !policy.stream_local_allowed(false) {
            tracing::debug!("streamlocal forwarding disabled");
            return None;
        }
        if !policy.path_listen_permitted() {
            let peer = self.ends.peer;
            tracing::info!(
                "Received request from {} port {} to remote forward to path \"{path}\", but \
                 the request was denied.",
                peer.ip(),
                peer.port()
            );
            return None;
        }
        if self.fwd.listener_count() >= MAX_LISTENERS {
            tracing::info!("refused remote forward to path {path}: too many listeners");
            return None;
        }
        let mask = policy.config.stream_local_bind_mask;
        let unlink = policy.config.stream_local_bind_unlink;
        let identity = self.socket_identity()?;
        let target = PathBuf::from(&path);
        let bound = identity
            .run(move |sockets| sockets.listen(&target, mask, unlink))
            .await
            .and_then(tokio::net::UnixListener::from_std);
        let listener = match bound {
            Ok(listener) => listener,
            Err(e) => {
                let why = strerror(&e);
                tracing::error!("unix_listener: cannot bind to path {path}: {why}");
                return None;
            }
        };
        let key = self.fwd.next_listener;
        self.fwd.next_listener += 1;
        let events = self.fwd.events();
        let task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let msg = FwdMsg::StreamAccepted {
                            listener: key,
                            stream,
                        };
                        if events.send(msg).is_err() {
                            return;
                        }
                    }
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                }
            }
        });
        tracing::debug!("Local forwarding listening on path {path}.");
        self.fwd
            .stream_listeners
            .insert(key, StreamListener { path, task });
        Some(Vec::new())
    }

    /// `cancel-streamlocal-forward@openssh.com`: stops the listener on that path (the
    /// file stays, as sshd leaves it).
    pub(super) fn cancel_streamlocal_forward(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        let path = forward::decode_streamlocal_forward(data).ok()?;
        let key = self
            .fwd
            .stream_listeners
            .iter()
            .find(|(_, l)| l.path == path)
            .map(|(k, _)| *k)?;
        self.fwd.stream_listeners.remove(&key);
        Some(Vec::new())
    }

    /// Someone connected to a remote-forwarded socket: a `forwarded-streamlocal`
    /// channel to the client for it.
    pub(super) fn stream_accepted(
        &mut self,
        listener: u64,
        stream: tokio::net::UnixStream,
    ) -> Result<(), TransportError> {
        let Some(l) = self.fwd.stream_listeners.get(&listener) else {
            return Ok(());
        };
        let open = ForwardedStreamlocal {
            path: l.path.clone(),
        };
        self.open_for(
            channel_type::FORWARDED_STREAMLOCAL,
            &open.encode(),
            Box::new(stream),
        )
    }
}
