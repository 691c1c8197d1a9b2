//! One scan: connect, run the real key exchange, verify the host key's signature over
//! the exchange hash, and report the key. A minimal tokio loop around the sans-IO core.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use oxssh_proto::crypto::CryptoProvider;
use oxssh_proto::{Event, Role, Transport, TransportConfig, TransportError};
use oxssh_wire::DisconnectReason;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What a server presented in a verified key exchange.
#[derive(Debug, Clone)]
pub struct ScanResult {
    /// The server's identification line without CR LF, e.g. `SSH-2.0-OpenSSH_9.2p1`.
    pub server_version: String,
    /// The host key whose signature over the exchange hash verified.
    pub host_key: oxssh_keys::PublicKey,
    /// The host certificate sent with it, when a certificate algorithm was negotiated
    /// (its CA signature verified).
    pub certificate: Option<oxssh_keys::certificate::Certificate>,
}

/// Why a scan produced no key.
#[derive(Debug)]
#[non_exhaustive]
pub enum ScanError {
    /// Connecting, reading or writing failed.
    Io(std::io::Error),
    /// The server closed the connection before presenting a key.
    Closed,
    /// No answer within the timeout.
    Timeout,
    /// The key exchange failed (including a host key signature that does not verify).
    Protocol {
        /// What went wrong.
        error: TransportError,
        /// The server's identification line, if it sent one before failing.
        server_version: Option<String>,
    },
}

impl ScanError {
    /// The server's identification line, when the failure came after it.
    pub fn server_version(&self) -> Option<&str> {
        match self {
            Self::Protocol { server_version, .. } => server_version.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Closed => f.write_str("Connection closed by remote host"),
            Self::Timeout => f.write_str("Connection timed out"),
            Self::Protocol { error, .. } => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for ScanError {}

impl From<std::io::Error> for ScanError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(oxssh_crypto::default_provider()))
        .clone()
}

/// Connects, runs the real key exchange offering only `host_key_algorithms`, verifies the
/// host key's signature over the exchange hash, and returns what the server presented.
/// As with ssh-keyscan, `timeout` bounds the connect and each wait for data: a server
/// that keeps talking is not cut off, a silent one is.
pub async fn scan(
    addr: SocketAddr,
    host_key_algorithms: &[&'static str],
    timeout: Duration,
) -> Result<ScanResult, ScanError> {
    let mut stream = within(timeout, TcpStream::connect(addr)).await?;
    stream.set_nodelay(true)?;
    let mut config = TransportConfig::client_default();
    config.host_key_algorithms = host_key_algorithms
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let mut transport = Transport::new(Arc::new(config), provider(), Role::Client, Instant::now())
        .map_err(|error| ScanError::Protocol {
            error,
            server_version: None,
        })?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        flush(&mut stream, &mut transport).await?;
        loop {
            let event = match transport.poll_event() {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(e) => return Err(protocol(&transport, e)),
            };
            if let Event::HostKey { key, .. } = event {
                let certificate = transport.host_certificate().cloned();
                let server_version = transport
                    .peer_version()
                    .map(|v| v.line.clone())
                    .unwrap_or_default();
                transport.disconnect(DisconnectReason::ByApplication, "Bye Bye");
                // The key is verified; a failed goodbye changes nothing.
                let _ = flush(&mut stream, &mut transport).await;
                return Ok(ScanResult {
                    server_version,
                    host_key: key,
                    certificate,
                });
            }
        }
        // Events may have produced output (kex replies): send it before blocking.
        flush(&mut stream, &mut transport).await?;
        let n = within(timeout, stream.read(&mut buf)).await?;
        if n == 0 {
            return Err(ScanError::Closed);
        }
        transport
            .recv(buf.get(..n).unwrap_or_default())
            .map_err(|e| protocol(&transport, e))?;
    }
}

fn protocol(transport: &Transport, error: TransportError) -> ScanError {
    ScanError::Protocol {
        error,
        server_version: transport.peer_version().map(|v| v.line.clone()),
    }
}

/// Runs an I/O step with the scan's timeout.
async fn within<T>(
    timeout: Duration,
    step: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, ScanError> {
    match tokio::time::timeout(timeout, step).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(ScanError::Timeout),
    }
}

async fn flush(stream: &mut TcpStream, transport: &mut Transport) -> Result<(), ScanError> {
    while !transport.transmit().is_empty() {
        let n = stream.write(transport.transmit()).await?;
        if n == 0 {
            return Err(ScanError::Closed);
        }
        transport.advance_transmit(n);
    }
    Ok(())
}
