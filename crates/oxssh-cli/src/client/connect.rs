//! From resolved configuration to a verified connection: algorithm lists, address
//! family, connect timeout and attempts, host-key preference, and OpenSSH's messages.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use oxssh::{Client, ClientConfig};
use oxssh_config::values::AddressFamily;
use oxssh_keys::known_hosts::{host_key_name, KnownHosts};
use oxssh_proto::crypto::CryptoProvider;
use oxssh_proto::TransportConfig;

use super::hostkey::{KnownHostsVerifier, StrictMode};

/// Why no connection was made; `Display` is OpenSSH's message (without the `ssh: `).
#[derive(Debug)]
pub enum ConnectError {
    /// Name resolution failed.
    Resolve(String),
    /// Every address refused or timed out.
    Connect(String),
    /// The SSH handshake failed (including host-key refusal).
    Handshake(oxssh::Error),
}

/// Keeps the names the provider implements, in the configured order.
fn supported(names: &[String], known: impl Fn(&str) -> bool) -> Vec<String> {
    names.iter().filter(|n| known(n)).cloned().collect()
}

/// Host-key algorithms, those of keys already known for the host first (OpenSSH's
/// `order_hostkeyalgs`), so a host with several keys is not reported as changed.
fn ordered_host_key_algorithms(
    algorithms: Vec<String>,
    known: &KnownHosts,
    name: &str,
) -> Vec<String> {
    let known_types: Vec<String> = known
        .known_keys(name)
        .iter()
        .map(|e| e.key().key_type().to_owned())
        .collect();
    // A host with an `@cert-authority` line: certificate algorithms first, as ssh
    // prefers what its CAs can vouch for.
    if !known.cert_authorities(name).is_empty() {
        let (mut certs, plain): (Vec<String>, Vec<String>) = algorithms
            .into_iter()
            .partition(|alg| oxssh_proto::certificate::plain_algorithm(alg).is_some());
        certs.extend(known_types_first(plain, &known_types));
        return certs;
    }
    known_types_first(algorithms, &known_types)
}

/// `algorithms` with those for a key type in `known_types` first.
fn known_types_first(algorithms: Vec<String>, known_types: &[String]) -> Vec<String> {
    if known_types.is_empty() {
        return algorithms;
    }
    let key_type_of = |alg: &str| -> String {
        if alg.starts_with("rsa-sha2-") {
            "ssh-rsa".to_owned()
        } else {
            alg.to_owned()
        }
    };
    let (mut first, rest): (Vec<String>, Vec<String>) = algorithms
        .into_iter()
        .partition(|alg| known_types.contains(&key_type_of(alg)));
    first.extend(rest);
    first
}

/// Builds the transport settings from the resolved configuration.
pub fn transport_config(
    config: &oxssh_config::ClientConfig,
    provider: &CryptoProvider,
    known: &KnownHosts,
) -> TransportConfig {
    let mut transport = TransportConfig::client_default();
    transport.kex_algorithms = supported(&config.kex_algorithms, |n| provider.kex(n).is_some());
    transport.ciphers = supported(&config.ciphers, |n| provider.cipher(n).is_some());
    transport.macs = supported(&config.macs, |n| provider.mac(n).is_some());
    let host_keys = supported(&config.host_key_algorithms, |n| {
        let plain = oxssh_proto::certificate::plain_algorithm(n).unwrap_or(n);
        provider.signature(plain).is_some()
    });
    let name = host_key_name(
        config.host_key_alias.as_deref().unwrap_or(&config.hostname),
        config.port,
    );
    transport.host_key_algorithms = if config.host_key_algorithms_is_default {
        ordered_host_key_algorithms(host_keys, known, &name)
    } else {
        host_keys
    };
    if config.compression {
        // As OpenSSH's -C: delayed zlib first, none as the fallback.
        transport.compression = vec![
            oxssh_wire::names::compression::ZLIB_OPENSSH.to_owned(),
            oxssh_wire::names::compression::NONE.to_owned(),
        ];
    }
    if config.rekey_limit > 0 {
        transport.rekey_bytes = config.rekey_limit;
    }
    if config.rekey_interval > 0 {
        transport.rekey_interval = Some(Duration::from_secs(u64::from(config.rekey_interval)));
    }
    transport
}

/// The verifier for this host.
pub fn verifier(config: &oxssh_config::ClientConfig, quiet: bool) -> KnownHostsVerifier {
    use oxssh_config::values::StrictHostKeyChecking as S;
    let expand = |p: &String| PathBuf::from(super::run::expand_tilde(p));
    KnownHostsVerifier {
        user_files: config.user_known_hosts_files.iter().map(expand).collect(),
        global_files: config.global_known_hosts_files.iter().map(expand).collect(),
        mode: match config.strict_host_key_checking {
            S::Yes => StrictMode::Yes,
            S::Ask => StrictMode::Ask,
            S::AcceptNew => StrictMode::AcceptNew,
            S::Off => StrictMode::No,
        },
        batch: config.batch_mode,
        hash: config.hash_known_hosts,
        ca_signature_algorithms: config.ca_signature_algorithms.clone(),
        quiet,
        password_authentication: config.password_authentication,
        kbd_interactive_authentication: config.kbd_interactive_authentication,
        downgraded: Arc::default(),
        peer_ip: Arc::default(),
        loaded: Arc::default(),
    }
}

/// Resolves the host and connects with OpenSSH's attempts and timeout (or runs the
/// `ProxyCommand`), then runs the handshake and host-key verification.
pub async fn connect(
    config: &oxssh_config::ClientConfig,
    client_config: ClientConfig,
    peer_ip: &std::sync::Mutex<Option<std::net::IpAddr>>,
) -> Result<Client, ConnectError> {
    let host = config.hostname.clone();
    let port = config.port;
    let timeout = config
        .connect_timeout
        .filter(|&t| t > 0)
        .map(|t| Duration::from_secs(u64::from(t)));
    let proxy = config
        .proxy_command_expanded()
        .map_err(|e| ConnectError::Connect(e.messages().join("\n")))?;
    if let Some(line) = proxy {
        let name = config.host_key_alias.clone().unwrap_or(host.clone());
        if config.proxy_use_fdpass {
            let fd = super::proxy::fdpass(&line, timeout)
                .await
                .map_err(ConnectError::Connect)?;
            let stream = std::net::TcpStream::from(fd);
            stream
                .set_nonblocking(true)
                .map_err(|e| ConnectError::Connect(e.to_string()))?;
            let stream = tokio::net::TcpStream::from_std(stream)
                .map_err(|e| ConnectError::Connect(e.to_string()))?;
            let _ = stream.set_nodelay(true);
            let (reader, writer) = stream.into_split();
            return handshake(reader, writer, &name, port, client_config, timeout).await;
        }
        let (reader, writer) = super::proxy::spawn(&line).map_err(ConnectError::Connect)?;
        return handshake(reader, writer, &name, port, client_config, timeout).await;
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|_| {
            ConnectError::Resolve(format!(
                "Could not resolve hostname {host}: Name or service not known"
            ))
        })?
        .filter(|a| match config.address_family {
            AddressFamily::Inet => a.is_ipv4(),
            AddressFamily::Inet6 => a.is_ipv6(),
            AddressFamily::Any => true,
        })
        .collect();
    if addrs.is_empty() {
        return Err(ConnectError::Resolve(format!(
            "Could not resolve hostname {host}: Address family for hostname not supported"
        )));
    }
    let attempts = config.connection_attempts.max(1);
    let mut last_error = String::new();
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        for addr in &addrs {
            tracing::info!("Connecting to {host} [{}] port {port}.", addr.ip());
            let connecting = tokio::net::TcpStream::connect(addr);
            let result = match timeout {
                Some(limit) => match tokio::time::timeout(limit, connecting).await {
                    Ok(r) => r,
                    Err(_) => Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "Connection timed out",
                    )),
                },
                None => connecting.await,
            };
            match result {
                Ok(stream) => {
                    tracing::info!("Connection established.");
                    let _ = stream.set_nodelay(true);
                    if let Ok(mut slot) = peer_ip.lock() {
                        *slot = Some(addr.ip());
                    }
                    let (reader, writer) = stream.into_split();
                    let name = config.host_key_alias.clone().unwrap_or(host.clone());
                    return handshake(reader, writer, &name, port, client_config, timeout).await;
                }
                Err(e) => {
                    let reason = match e.kind() {
                        std::io::ErrorKind::ConnectionRefused => "Connection refused".to_owned(),
                        std::io::ErrorKind::TimedOut => "Connection timed out".to_owned(),
                        _ => e.to_string(),
                    };
                    last_error = format!("connect to host {host} port {port}: {reason}");
                }
            }
        }
    }
    Err(ConnectError::Connect(last_error))
}

/// The SSH handshake over an established byte stream, within `timeout`.
async fn handshake<R, W>(
    reader: R,
    writer: W,
    name: &str,
    port: u16,
    client_config: ClientConfig,
    timeout: Option<Duration>,
) -> Result<Client, ConnectError>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let handshake = Client::handshake(reader, writer, name, port, client_config);
    let client = match timeout {
        Some(limit) => tokio::time::timeout(limit, handshake)
            .await
            .unwrap_or(Err(oxssh::Error::Timeout)),
        None => handshake.await,
    };
    if let Some(line) = client.as_ref().ok().and_then(Client::server_version) {
        log_remote_version(&line);
    }
    client.map_err(ConnectError::Handshake)
}

/// ssh's `debug1: Remote protocol version 2.0, remote software version X` (X is the rest
/// of the identification line, comments included), which scripts such as ssh-copy-id
/// parse to recognise the server.
fn log_remote_version(line: &str) {
    let rest = line.strip_prefix("SSH-").unwrap_or(line);
    if let Some((protocol, software)) = rest.split_once('-') {
        tracing::info!("Remote protocol version {protocol}, remote software version {software}");
    }
}

/// The client settings for the library.
pub fn client_config(
    config: &oxssh_config::ClientConfig,
    transport: TransportConfig,
    verifier: KnownHostsVerifier,
    provider: Arc<CryptoProvider>,
) -> ClientConfig {
    let mut client = ClientConfig::new(&config.user, Arc::new(verifier));
    client.transport = transport;
    client.provider = provider;
    if config.server_alive_interval > 0 {
        client.keepalive = Some((
            Duration::from_secs(u64::from(config.server_alive_interval)),
            config.server_alive_count_max,
        ));
    }
    client
}
