//! The async client: connect (key exchange and host-key verification), authenticate,
//! open channels. Each call changes the sans-IO core under the lock, wakes the driver
//! to send, and waits for the answer.
//!
//! ```no_run
//! # async fn demo() -> Result<(), oxssh::Error> {
//! use oxssh::{Client, ClientConfig, AcceptAnyHostKey};
//! let config = ClientConfig::new("alice", std::sync::Arc::new(AcceptAnyHostKey));
//! let client = Client::connect("127.0.0.1:22", "127.0.0.1", config).await?;
//! let key = oxssh_crypto::generate_signing_key(oxssh_crypto::KeyKind::Ed25519)
//!     .map_err(|e| oxssh::Error::Signing(e.to_string()))?;
//! if client.auth_publickey(key.as_ref()).await?.is_success() {
//!     let mut channel = client.open_session().await?;
//!     channel.exec("uname -a").await?;
//!     let mut out = String::new();
//!     tokio::io::AsyncReadExt::read_to_string(&mut channel, &mut out).await?;
//!     println!("{out} (exit {:?})", channel.wait().await?);
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use oxssh_keys::certificate::Certificate;
use oxssh_keys::PublicKey;
use oxssh_proto::auth::AuthEvent;
use oxssh_proto::connection::ConnectionConfig;
use oxssh_proto::crypto::{CryptoProvider, SigningKey};
use oxssh_proto::{ClientConnection, TransportConfig};
use oxssh_wire::names::key as key_names;
use oxssh_wire::userauth::UserauthInfoRequest;
use oxssh_wire::{DisconnectReason, Writer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::channel::Channel;
use crate::shared::{Inner, Offer, Shared};
use crate::Error;

/// Decides whether a server's host key is trusted (known_hosts, prompts, CAs).
pub trait HostKeyVerifier: Send + Sync {
    /// Returns `Ok` to trust `key` for `host`:`port`, or the reason to refuse it.
    /// May block (it can prompt the user): it runs on a blocking thread.
    fn verify(&self, host: &str, port: u16, key: &PublicKey) -> Result<(), String>;

    /// As [`HostKeyVerifier::verify`], for a server that presented a host certificate
    /// (its CA signature already verified; `cert.key` is the key that signed the
    /// exchange). The default trusts no CA and judges the certified key as a plain
    /// key, as ssh does when no `@cert-authority` line matches.
    fn verify_certificate(&self, host: &str, port: u16, cert: &Certificate) -> Result<(), String> {
        self.verify(host, port, &cert.key)
    }

    /// Whether the verification may wait for a person (a prompt). `true`, the default,
    /// runs it on a blocking thread; a verifier that only reads and appends local files
    /// answers `false` and runs on the connection's task, which spares each connection
    /// the start of a thread.
    fn may_prompt(&self) -> bool {
        true
    }
}

/// Trusts every key. For tests and for callers that verify out of band.
#[derive(Debug, Clone, Copy)]
pub struct AcceptAnyHostKey;

impl HostKeyVerifier for AcceptAnyHostKey {
    fn verify(&self, _host: &str, _port: u16, _key: &PublicKey) -> Result<(), String> {
        Ok(())
    }

    fn may_prompt(&self) -> bool {
        false
    }
}

/// Settings for one client connection.
#[derive(Clone)]
pub struct ClientConfig {
    /// User to authenticate as.
    pub user: String,
    /// Transport algorithms and limits.
    pub transport: TransportConfig,
    /// Channel windows and limits.
    pub connection: ConnectionConfig,
    /// Host key policy.
    pub verifier: Arc<dyn HostKeyVerifier>,
    /// Crypto implementation.
    pub provider: Arc<CryptoProvider>,
    /// Limit for TCP connect plus key exchange (OpenSSH's ConnectTimeout).
    pub connect_timeout: Option<Duration>,
    /// Keepalive probes: (ServerAliveInterval, ServerAliveCountMax).
    pub keepalive: Option<(Duration, u32)>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("user", &self.user)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Defaults for `user`, with the given host key policy.
    pub fn new(user: &str, verifier: Arc<dyn HostKeyVerifier>) -> Self {
        Self {
            user: user.to_owned(),
            transport: TransportConfig::client_default(),
            connection: ConnectionConfig::default(),
            verifier,
            provider: Arc::new(oxssh_crypto::default_provider()),
            connect_timeout: None,
            keepalive: None,
        }
    }
}

/// The outcome of one authentication attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResult {
    /// Authenticated.
    Success,
    /// Refused; these methods can continue.
    Failure {
        /// Methods that can continue.
        methods: Vec<String>,
        /// The attempt was accepted but more are required.
        partial_success: bool,
    },
}

impl AuthResult {
    /// Whether authentication is complete.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success)
    }
}

/// A connected, verified SSH client.
#[derive(Debug, Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl Client {
    /// Connects to `addr` (`host:port`), runs the key exchange and verifies the host
    /// key as `host_name`, then waits until authentication can start.
    pub async fn connect(addr: &str, host_name: &str, config: ClientConfig) -> Result<Self, Error> {
        let limit = config.connect_timeout;
        let work = async {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let port = stream.peer_addr()?.port();
            let (reader, writer) = stream.into_split();
            Self::handshake(reader, writer, host_name, port, config).await
        };
        match limit {
            Some(limit) => tokio::time::timeout(limit, work)
                .await
                .unwrap_or(Err(Error::Timeout)),
            None => work.await,
        }
    }

    /// Runs the handshake over any byte stream (a socket, a ProxyCommand's pipes).
    pub async fn handshake<R, W>(
        reader: R,
        writer: W,
        host_name: &str,
        port: u16,
        config: ClientConfig,
    ) -> Result<Self, Error>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let mut conn = ClientConnection::new(
            &config.user,
            Arc::new(config.transport),
            config.connection,
            config.provider,
            Instant::now(),
        )?;
        if let Some((interval, count_max)) = config.keepalive {
            conn.set_keepalive(interval, count_max);
        }
        let shared = Shared::new(conn);
        tokio::spawn(crate::driver::run(shared.clone(), reader, writer));
        let client = Self { shared };
        let key = client
            .shared
            .wait_for(|inner| inner.host_key.take().map(|(key, _)| Ok(key)))
            .await?;
        let certificate = client.shared.lock().conn.host_certificate().cloned();
        let verifier = config.verifier.clone();
        let host = host_name.to_owned();
        let verify = move || match &certificate {
            Some(cert) => verifier.verify_certificate(&host, port, cert),
            None => verifier.verify(&host, port, &key),
        };
        let verdict = if config.verifier.may_prompt() {
            tokio::task::spawn_blocking(verify)
                .await
                .map_err(|e| Error::HostKeyRejected(e.to_string()))?
        } else {
            verify()
        };
        {
            let mut inner = client.shared.lock();
            match verdict {
                Ok(()) => inner.conn.accept_host_key()?,
                Err(reason) => {
                    inner.conn.reject_host_key(&reason);
                    drop(inner);
                    client.shared.driver.notify_one();
                    return Err(Error::HostKeyRejected(reason));
                }
            }
        }
        client.shared.driver.notify_one();
        client
            .shared
            .wait_for(|inner| inner.auth_ready.then_some(Ok(())))
            .await?;
        Ok(client)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> Result<T, Error>) -> Result<T, Error> {
        let result = {
            let mut inner = self.shared.lock();
            if let Some(e) = &inner.error {
                return Err(e.clone());
            }
            f(&mut inner)
        };
        self.shared.driver.notify_one();
        result
    }

    async fn next_auth_event(&self) -> Result<AuthEvent, Error> {
        self.shared
            .wait_for(|inner| inner.auth_events.pop_front().map(Ok))
            .await
    }

    fn outcome(event: AuthEvent) -> Option<AuthResult> {
        match event {
            AuthEvent::Success => Some(AuthResult::Success),
            AuthEvent::Failure {
                methods,
                partial_success,
            } => Some(AuthResult::Failure {
                methods,
                partial_success,
            }),
            _ => None,
        }
    }

    /// Banners the server sent so far (RFC 4252 §5.4); each is returned once.
    pub fn take_banners(&self) -> Vec<String> {
        std::mem::take(&mut self.shared.lock().banners)
    }

    /// The server's identification line.
    pub fn server_version(&self) -> Option<String> {
        self.shared
            .lock()
            .conn
            .transport()
            .peer_version()
            .map(|v| v.line.clone())
    }

    /// `none`: learns the methods that can continue.
    pub async fn auth_none(&self) -> Result<AuthResult, Error> {
        self.with(|inner| Ok(inner.conn.auth_none()?))?;
        loop {
            if let Some(result) = Self::outcome(self.next_auth_event().await?) {
                return Ok(result);
            }
        }
    }

    /// Public key: queries first (RFC 4252 §7), signs only if the server would accept.
    /// RSA keys sign with rsa-sha2-512/256 as the server's `server-sig-algs` allows.
    pub async fn auth_publickey(&self, key: &dyn SigningKey) -> Result<AuthResult, Error> {
        // A certificate (PROTOCOL.certkeys) is offered as `<alg>-cert-v01@openssh.com`
        // with the certificate as the key blob; the signature stays the plain one.
        let sig_alg = self.choose_signature_algorithm(key);
        let (algorithm, blob) = match key.certificate() {
            Some(cert) => (
                format!("{sig_alg}{}", oxssh_keys::certificate::CERT_SUFFIX),
                cert.to_blob(),
            ),
            None => (sig_alg.clone(), key.public_key().to_blob()),
        };
        self.with(|inner| Ok(inner.conn.auth_publickey_query(&algorithm, &blob)?))?;
        loop {
            match self.next_auth_event().await? {
                AuthEvent::PkOk { .. } => break,
                other => {
                    if let Some(result) = Self::outcome(other) {
                        return Ok(result);
                    }
                }
            }
        }
        let data = self
            .shared
            .lock()
            .conn
            .auth_publickey_signed_data(&algorithm, &blob);
        let raw = key
            .sign(&sig_alg, &data)
            .map_err(|e| Error::Signing(e.to_string()))?;
        let mut signature = Vec::with_capacity(raw.len() + sig_alg.len() + 8);
        Writer::new(&mut signature)
            .string(sig_alg.as_bytes())
            .string(&raw);
        self.with(|inner| Ok(inner.conn.auth_publickey(&algorithm, &blob, &signature)?))?;
        loop {
            if let Some(result) = Self::outcome(self.next_auth_event().await?) {
                return Ok(result);
            }
        }
    }

    fn choose_signature_algorithm(&self, key: &dyn SigningKey) -> String {
        let offered = key.signature_algorithms();
        let inner = self.shared.lock();
        let server_algs: Vec<String> = inner
            .conn
            .transport()
            .peer_extensions()
            .and_then(|ext| ext.get(oxssh_wire::names::ext::SERVER_SIG_ALGS))
            .map(|v| {
                String::from_utf8_lossy(v)
                    .split(',')
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if key.public_key().key_type() == key_names::SSH_RSA {
            if let Some(alg) = offered.iter().find(|a| server_algs.iter().any(|s| s == *a)) {
                return (*alg).to_owned();
            }
        }
        offered.first().map_or_else(
            || key.public_key().key_type().to_owned(),
            |a| (*a).to_owned(),
        )
    }

    /// Password (RFC 4252 §8). A change request comes back as a failure here; use
    /// keyboard-interactive for servers that need dialogue.
    pub async fn auth_password(&self, password: &str) -> Result<AuthResult, Error> {
        self.with(|inner| Ok(inner.conn.auth_password(password, None)?))?;
        loop {
            match self.next_auth_event().await? {
                AuthEvent::PasswordChangeRequest { .. } => {
                    return Ok(AuthResult::Failure {
                        methods: Vec::new(),
                        partial_success: false,
                    })
                }
                other => {
                    if let Some(result) = Self::outcome(other) {
                        return Ok(result);
                    }
                }
            }
        }
    }

    /// Keyboard-interactive (RFC 4256): `respond` answers each round of prompts.
    pub async fn auth_keyboard_interactive(
        &self,
        mut respond: impl FnMut(&UserauthInfoRequest) -> Vec<String>,
    ) -> Result<AuthResult, Error> {
        self.with(|inner| Ok(inner.conn.auth_keyboard_interactive()?))?;
        loop {
            match self.next_auth_event().await? {
                AuthEvent::InfoRequest(request) => {
                    let answers = respond(&request);
                    let refs: Vec<&str> = answers.iter().map(String::as_str).collect();
                    self.with(|inner| Ok(inner.conn.auth_info_response(&refs)?))?;
                }
                other => {
                    if let Some(result) = Self::outcome(other) {
                        return Ok(result);
                    }
                }
            }
        }
    }

    /// Opens a `session` channel.
    pub async fn open_session(&self) -> Result<Channel, Error> {
        let id = self.with(|inner| Ok(inner.conn.open_session()?))?;
        self.opened(id).await
    }

    /// Opens a channel of `channel_type` with its type-specific `data` (RFC 4254 §5.1),
    /// e.g. `direct-tcpip` (§7.2); a refusal is [`Error::ChannelOpen`].
    pub async fn open_channel(&self, channel_type: &str, data: &[u8]) -> Result<Channel, Error> {
        let id = self.with(|inner| Ok(inner.conn.open_channel(channel_type, data)?))?;
        self.opened(id).await
    }

    async fn opened(&self, id: oxssh_proto::connection::ChannelId) -> Result<Channel, Error> {
        let result = self
            .shared
            .wait_for(|inner| inner.slot(id).opened.take())
            .await;
        if result.is_err() {
            let mut inner = self.shared.lock();
            inner.conn.release(id);
            inner.channels.remove(&id);
        }
        result?;
        Ok(Channel::new(self.shared.clone(), id))
    }

    /// Sends a global request with want_reply (RFC 4254 §4) and waits for the answer:
    /// the reply's data on success, [`Error::RequestFailed`] on failure.
    pub async fn global_request(&self, name: &'static str, data: &[u8]) -> Result<Vec<u8>, Error> {
        let ticket = self.with(|inner| {
            inner.conn.global_request(name, true, data)?;
            let ticket = inner.globals_sent;
            inner.globals_sent += 1;
            Ok(ticket)
        })?;
        let (success, data) = self
            .shared
            .wait_for(|inner| inner.global_replies.remove(&ticket).map(Ok))
            .await?;
        if success {
            Ok(data)
        } else {
            Err(Error::RequestFailed(name))
        }
    }

    /// From now on, channels the server opens (agent requests, forwarded connections)
    /// are handed out here instead of being refused. Calling it again replaces the
    /// previous receiver.
    pub fn incoming_channels(&self) -> IncomingChannels {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.shared.lock().incoming = Some(tx);
        IncomingChannels {
            shared: self.shared.clone(),
            rx,
        }
    }

    /// Waits until the connection ends (for sessions-less use, `-N`).
    pub async fn wait_closed(&self) -> Error {
        match self
            .shared
            .wait_for(|inner| inner.error.clone().map(Err::<(), Error>))
            .await
        {
            Err(e) => e,
            Ok(()) => Error::Closed,
        }
    }

    /// Why the connection ended, once it has (a peer's DISCONNECT among others).
    pub fn ended_with(&self) -> Option<Error> {
        self.shared.lock().error.clone()
    }

    /// A snapshot of the channels not yet released, by our number (what `~#` lists).
    pub fn channels(&self) -> Vec<ChannelInfo> {
        let inner = self.shared.lock();
        inner
            .conn
            .connection()
            .channels()
            .map(|c| ChannelInfo {
                id: c.id.0,
                remote_id: c.remote_id,
                channel_type: c.channel_type.clone(),
                lifecycle: c.lifecycle,
                eof_sent: c.eof_sent,
                eof_received: c.eof_received,
                close_sent: c.close_sent,
                close_received: c.close_received,
                unread: c.stdout.len(),
                unread_stderr: c.stderr.len(),
            })
            .collect()
    }

    /// Starts a key re-exchange (`~R`).
    pub fn rekey(&self) -> Result<(), Error> {
        self.with(|inner| Ok(inner.conn.rekey()?))
    }

    /// Ends the connection politely.
    pub async fn disconnect(&self) {
        let _ = self.with(|inner| {
            inner
                .conn
                .disconnect(DisconnectReason::ByApplication, "disconnected by user");
            Ok(())
        });
        let _ = self
            .shared
            .wait_for(|inner| inner.error.is_some().then_some(Ok(())))
            .await;
    }
}

/// Channels the server asks to open, in arrival order ([`Client::incoming_channels`]).
#[derive(Debug)]
pub struct IncomingChannels {
    shared: Arc<Shared>,
    rx: tokio::sync::mpsc::UnboundedReceiver<Offer>,
}

impl IncomingChannels {
    /// The next channel the server opens; `None` once the connection ends.
    pub async fn next(&mut self) -> Option<IncomingChannel> {
        let offer = tokio::select! {
            offer = self.rx.recv() => offer?,
            _ = self.shared.wait_for(|inner| inner.error.clone().map(Err::<(), Error>)) => {
                return None;
            }
        };
        Some(IncomingChannel {
            shared: self.shared.clone(),
            offer: Some(offer),
        })
    }
}

/// One channel the server opened: accept it for a [`Channel`], or reject it. Dropped
/// unanswered, it is refused (administratively prohibited).
#[derive(Debug)]
pub struct IncomingChannel {
    shared: Arc<Shared>,
    offer: Option<Offer>,
}

impl IncomingChannel {
    /// The channel type (`forwarded-tcpip`, `auth-agent@openssh.com`).
    pub fn channel_type(&self) -> &str {
        self.offer.as_ref().map_or("", |o| o.channel_type.as_str())
    }

    /// The type-specific data of the open request.
    pub fn data(&self) -> &[u8] {
        self.offer.as_ref().map_or(&[], |o| o.data.as_slice())
    }

    /// Confirms the channel.
    pub fn accept(mut self) -> Result<Channel, Error> {
        let Some(offer) = self.offer.take() else {
            return Err(Error::Closed);
        };
        {
            let mut inner = self.shared.lock();
            if let Some(e) = &inner.error {
                return Err(e.clone());
            }
            inner.conn.accept_open(offer.id)?;
            inner.slot(offer.id).opened = Some(Ok(()));
        }
        self.shared.driver.notify_one();
        Ok(Channel::new(self.shared.clone(), offer.id))
    }

    /// Refuses the channel with an RFC 4254 §5.1 reason code and description.
    pub fn reject(mut self, reason: u32, description: &str) {
        if let Some(offer) = self.offer.take() {
            self.refuse(&offer, reason, description);
        }
    }

    fn refuse(&self, offer: &Offer, reason: u32, description: &str) {
        let mut inner = self.shared.lock();
        if inner.error.is_none() {
            let _ = inner.conn.reject_open(offer.id, reason, description);
        }
        drop(inner);
        self.shared.driver.notify_one();
    }
}

impl Drop for IncomingChannel {
    fn drop(&mut self) {
        if let Some(offer) = self.offer.take() {
            self.refuse(
                &offer,
                oxssh_wire::connection::open_failure::ADMINISTRATIVELY_PROHIBITED,
                "open failed",
            );
        }
    }
}

/// One channel's state, as [`Client::channels`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Our number.
    pub id: u32,
    /// The peer's number (0 until it answered the open).
    pub remote_id: u32,
    /// `session`, `direct-tcpip`, ...
    pub channel_type: String,
    /// Opening, open or closed.
    pub lifecycle: oxssh_proto::connection::Lifecycle,
    /// We sent EOF.
    pub eof_sent: bool,
    /// The peer sent EOF.
    pub eof_received: bool,
    /// We sent CLOSE.
    pub close_sent: bool,
    /// The peer sent CLOSE.
    pub close_received: bool,
    /// Received bytes not read yet.
    pub unread: usize,
    /// Received extended (stderr) bytes not read yet.
    pub unread_stderr: usize,
}
