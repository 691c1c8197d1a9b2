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
    Protocol(TransportError),
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Closed => f.write_str("Connection closed by remote host"),
            Self::Timeout => f.write_str("Connection timed out"),
            Self::Protocol(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ScanError {}

impl From<std::io::Error> for ScanError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<TransportError> for ScanError {
    fn from(e: TransportError) -> Self {
        Self::Protocol(e)
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
pub async fn scan(
    addr: SocketAddr,
    host_key_algorithms: &[&'static str],
    timeout: Duration,
) -> Result<ScanResult, ScanError> {
    match tokio::time::timeout(timeout, scan_within(addr, host_key_algorithms)).await {
        Ok(result) => result,
        Err(_) => Err(ScanError::Timeout),
    }
}

async fn scan_within(
    addr: SocketAddr,
    host_key_algorithms: &[&'static str],
) -> Result<ScanResult, ScanError> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut config = TransportConfig::client_default();
    config.host_key_algorithms = host_key_algorithms
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let mut transport = Transport::new(Arc::new(config), provider(), Role::Client, Instant::now())?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        flush(&mut stream, &mut transport).await?;
        while let Some(event) = transport.poll_event()? {
            if let Event::HostKey { key, .. } = event {
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
                });
            }
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(ScanError::Closed);
        }
        transport.recv(buf.get(..n).unwrap_or_default())?;
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
