//! State shared between the driver task and the handles (`Client`, `Channel`): the
//! sans-IO connection behind one mutex, per-channel wakers, and a notifier each way.
//! Handles never do I/O: they change the connection and wake the driver to flush.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use oxssh_keys::PublicKey;
use oxssh_proto::auth::AuthEvent;
use oxssh_proto::connection::{ChannelId, ChannelRequestKind, ConnectionEvent};
use oxssh_proto::{ClientConnection, ClientEvent};
use tokio::sync::{mpsc, Notify};

use crate::Error;

/// How a remote command ended (RFC 4254 §6.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// `exit-status`
    Code(u32),
    /// `exit-signal`
    Signal {
        /// Signal name without `SIG`.
        name: String,
        /// Whether a core was dumped.
        core_dumped: bool,
        /// The server's message.
        message: String,
    },
    /// The channel closed without either.
    Unknown,
}

/// One channel as the handles see it.
#[derive(Debug, Default)]
pub(crate) struct ChannelSlot {
    pub opened: Option<Result<(), Error>>,
    pub replies: VecDeque<bool>,
    pub eof: bool,
    pub closed: bool,
    pub exit: Option<ExitStatus>,
    pub read_waker: Option<Waker>,
    pub stderr_waker: Option<Waker>,
    pub write_waker: Option<Waker>,
    /// Takes stdout data straight from the decrypted packet (see
    /// [`crate::Channel::set_stdout_sink`]).
    pub stdout_sink: Option<StdoutSink>,
}

/// A non-blocking consumer of a channel's stdout (see
/// [`crate::Channel::set_stdout_sink`]): returns how much of the data it took.
pub type StdoutSinkFn = dyn FnMut(&[u8]) -> usize + Send;

/// A channel's [`StdoutSinkFn`].
pub(crate) struct StdoutSink(pub Box<StdoutSinkFn>);

impl std::fmt::Debug for StdoutSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StdoutSink")
    }
}

impl ChannelSlot {
    fn wake_all(&mut self) {
        for w in [
            self.read_waker.take(),
            self.stderr_waker.take(),
            self.write_waker.take(),
        ]
        .into_iter()
        .flatten()
        {
            w.wake();
        }
    }
}

/// Everything behind the mutex.
#[derive(Debug)]
pub(crate) struct Inner {
    pub conn: ClientConnection,
    /// Set when the driver stops; every wait then fails with it.
    pub error: Option<Error>,
    pub host_key: Option<(PublicKey, String)>,
    pub auth_ready: bool,
    pub auth_events: VecDeque<AuthEvent>,
    pub banners: Vec<String>,
    pub channels: HashMap<ChannelId, ChannelSlot>,
    /// Where channels the server opens go; `None`: refused at once.
    pub incoming: Option<mpsc::UnboundedSender<Offer>>,
    /// Global requests sent with want_reply, and replies received, both counted: a
    /// reply's number is the request's (RFC 4254 §4 answers in order).
    pub globals_sent: u64,
    pub globals_answered: u64,
    pub global_replies: BTreeMap<u64, (bool, Vec<u8>)>,
}

/// A channel the server asked to open, before the application answers it.
#[derive(Debug)]
pub(crate) struct Offer {
    pub id: ChannelId,
    pub channel_type: String,
    pub data: Vec<u8>,
}

/// The shared half: state plus the two notifiers.
#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// Handles → driver: output is waiting, or a timer may have changed.
    pub driver: Notify,
    /// Driver → handles: state changed; re-check your condition.
    pub changed: Notify,
}

impl Shared {
    pub fn new(conn: ClientConnection) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                conn,
                error: None,
                host_key: None,
                auth_ready: false,
                auth_events: VecDeque::new(),
                banners: Vec::new(),
                channels: HashMap::new(),
                incoming: None,
                globals_sent: 0,
                globals_answered: 0,
                global_replies: BTreeMap::new(),
            }),
            driver: Notify::new(),
            changed: Notify::new(),
        })
    }

    /// Locks the state. A poisoned lock means a handle panicked mid-update: the
    /// connection is unusable, but the data is still consistent enough to fail cleanly.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `check` until it yields, waiting for state changes in between.
    pub async fn wait_for<T>(
        &self,
        mut check: impl FnMut(&mut Inner) -> Option<Result<T, Error>>,
    ) -> Result<T, Error> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut inner = self.lock();
                if let Some(result) = check(&mut inner) {
                    return result;
                }
                if let Some(e) = &inner.error {
                    return Err(e.clone());
                }
            }
            notified.await;
        }
    }

    /// Stops everything with `error` and wakes every waiter.
    pub fn fail(&self, error: Error) {
        let mut inner = self.lock();
        if inner.error.is_none() {
            inner.error = Some(error);
        }
        for slot in inner.channels.values_mut() {
            slot.wake_all();
        }
        drop(inner);
        self.changed.notify_waiters();
    }
}

impl Inner {
    /// Drains the connection's events into the handles' view.
    pub fn route_events(&mut self) -> Result<(), Error> {
        loop {
            let Inner { conn, channels, .. } = &mut *self;
            let mut sink = |id: ChannelId, data: &[u8]| {
                channels
                    .get_mut(&id)
                    .and_then(|slot| slot.stdout_sink.as_mut())
                    .map_or(0, |sink| (sink.0)(data))
            };
            let Some(event) = conn.poll_event_into(&mut sink)? else {
                break;
            };
            match event {
                ClientEvent::HostKey { key, algorithm } => {
                    tracing::info!(
                        target: "oxssh",
                        "Server host key: {} {}",
                        algorithm,
                        oxssh_keys::fingerprint::Fingerprint::of(
                            &key,
                            oxssh_keys::fingerprint::HashAlg::Sha256
                        )
                    );
                    self.host_key = Some((key, algorithm));
                }
                ClientEvent::AuthReady => self.auth_ready = true,
                ClientEvent::Auth(AuthEvent::Banner(text)) => self.banners.push(text),
                ClientEvent::Auth(ev) => self.auth_events.push_back(ev),
                ClientEvent::Connection(ev) => self.route_connection(ev)?,
                ClientEvent::Debug { message, .. } => {
                    tracing::debug!(target: "oxssh", "remote debug: {message}");
                }
                ClientEvent::KexComplete {
                    negotiated,
                    initial,
                } => {
                    if initial {
                        tracing::info!(target: "oxssh", "kex: algorithm: {}", negotiated.kex);
                        tracing::info!(
                            target: "oxssh",
                            "kex: host key algorithm: {}",
                            negotiated.host_key
                        );
                    } else {
                        tracing::info!(target: "oxssh", "rekey completed: {}", negotiated.kex);
                    }
                    let mac = |m: &str| {
                        if m.is_empty() {
                            "<implicit>".to_owned()
                        } else {
                            m.to_owned()
                        }
                    };
                    tracing::info!(
                        target: "oxssh",
                        "kex: server->client cipher: {} MAC: {} compression: {}",
                        negotiated.cipher_s2c,
                        mac(&negotiated.mac_s2c),
                        negotiated.compression_s2c
                    );
                    tracing::info!(
                        target: "oxssh",
                        "kex: client->server cipher: {} MAC: {} compression: {}",
                        negotiated.cipher_c2s,
                        mac(&negotiated.mac_c2s),
                        negotiated.compression_c2s
                    );
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn route_connection(&mut self, event: ConnectionEvent) -> Result<(), Error> {
        match event {
            ConnectionEvent::OpenRequested {
                id,
                channel_type,
                data,
            } => {
                let offer = Offer {
                    id,
                    channel_type,
                    data,
                };
                let refused = match &self.incoming {
                    Some(tx) => tx.send(offer).is_err(),
                    None => true,
                };
                if refused {
                    self.conn.reject_open(
                        id,
                        oxssh_wire::connection::open_failure::ADMINISTRATIVELY_PROHIBITED,
                        "open failed",
                    )?;
                }
            }
            ConnectionEvent::GlobalReply { success, data } => {
                let n = self.globals_answered;
                self.globals_answered += 1;
                self.global_replies.insert(n, (success, data));
            }
            ConnectionEvent::OpenConfirmed(id) => self.slot(id).opened = Some(Ok(())),
            ConnectionEvent::OpenFailed {
                id,
                reason,
                description,
            } => {
                self.slot(id).opened = Some(Err(Error::ChannelOpen {
                    channel: id.0,
                    reason,
                    description,
                }));
            }
            ConnectionEvent::RequestReply { id, success } => {
                self.slot(id).replies.push_back(success);
            }
            ConnectionEvent::Readable(id) => {
                let s = self.slot(id);
                for w in [s.read_waker.take(), s.stderr_waker.take()]
                    .into_iter()
                    .flatten()
                {
                    w.wake();
                }
            }
            ConnectionEvent::Writable(id) => {
                if let Some(w) = self.slot(id).write_waker.take() {
                    w.wake();
                }
            }
            ConnectionEvent::Eof(id) => {
                let s = self.slot(id);
                s.eof = true;
                s.wake_all();
            }
            ConnectionEvent::Closed(id) => {
                let s = self.slot(id);
                s.closed = true;
                s.eof = true;
                if s.exit.is_none() {
                    s.exit = Some(ExitStatus::Unknown);
                }
                s.wake_all();
            }
            ConnectionEvent::Request { id, request, .. } => match request {
                ChannelRequestKind::ExitStatus(code) => {
                    self.slot(id).exit = Some(ExitStatus::Code(code));
                }
                ChannelRequestKind::ExitSignal {
                    signal,
                    core_dumped,
                    message,
                    ..
                } => {
                    self.slot(id).exit = Some(ExitStatus::Signal {
                        name: signal,
                        core_dumped,
                        message,
                    });
                }
                _ => {}
            },
            _ => {}
        }
        Ok(())
    }

    pub fn slot(&mut self, id: ChannelId) -> &mut ChannelSlot {
        self.channels.entry(id).or_default()
    }
}
