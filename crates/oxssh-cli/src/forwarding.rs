//! What the client and the server share about forwarded ports: which addresses a
//! listener binds for a requested listen host (OpenSSH's `channel_fwd_bind_addr` rules,
//! `GatewayPorts` included), binding them, and connecting out with a time limit.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// Longest wait for an outgoing connection of a forward.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// `GatewayPorts`: who may connect to a forwarded port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gateway {
    /// Loopback only, whatever was asked (the default).
    No,
    /// Every address, whatever was asked (server `yes`; client `-g`).
    Yes,
    /// The address the client named (server `clientspecified`).
    ClientSpecified,
}

/// Where to listen, decided from the requested host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindTo {
    /// 127.0.0.1 and ::1.
    Loopback,
    /// Every address (0.0.0.0).
    Any,
    /// This host or address.
    Host(String),
}

/// OpenSSH's rules: with no host, loopback unless gateway ports are on; `""` and `*`
/// mean every address where allowed; an explicit loopback address is always honoured;
/// the server lets the client choose other addresses only with `clientspecified`.
pub fn bind_to(listen_host: Option<&str>, gateway: Gateway, is_client: bool) -> BindTo {
    let Some(host) = listen_host else {
        return if gateway == Gateway::Yes {
            BindTo::Any
        } else {
            BindTo::Loopback
        };
    };
    if gateway != Gateway::No || is_client {
        if host.is_empty() || host == "*" || (!is_client && gateway == Gateway::Yes) {
            BindTo::Any
        } else if host == "localhost" {
            BindTo::Loopback
        } else {
            BindTo::Host(host.to_owned())
        }
    } else if host == "127.0.0.1" || host == "::1" {
        BindTo::Host(host.to_owned())
    } else {
        BindTo::Loopback
    }
}

/// Binds `to` on `port` (0: one port chosen by the system, the same for every address).
/// Succeeds when at least one address could be bound; otherwise the first error.
pub async fn listen(to: &BindTo, port: u16) -> Result<Vec<TcpListener>, (String, std::io::Error)> {
    let addrs: Vec<SocketAddr> = match to {
        BindTo::Loopback => vec![
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
        ],
        BindTo::Any => vec![SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))],
        BindTo::Host(host) => match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|e| (host.clone(), e))?
                .collect(),
        },
    };
    let mut listeners = Vec::new();
    let mut first_error = None;
    let mut chosen = port;
    for mut addr in addrs {
        if chosen != 0 {
            addr.set_port(chosen);
        }
        match TcpListener::bind(addr).await {
            Ok(l) => {
                if chosen == 0 {
                    chosen = l.local_addr().map_or(0, |a| a.port());
                }
                listeners.push(l);
            }
            Err(e) => {
                if first_error.is_none() {
                    first_error = Some((format_addr(&addr), e));
                }
            }
        }
    }
    match (listeners.is_empty(), first_error) {
        (true, Some(e)) => Err(e),
        (true, None) => Err((
            String::new(),
            std::io::Error::from(std::io::ErrorKind::AddrNotAvailable),
        )),
        _ => Ok(listeners),
    }
}

/// `[127.0.0.1]:22`, as OpenSSH prints a socket address in messages.
pub fn format_addr(addr: &SocketAddr) -> String {
    format!("[{}]:{}", addr.ip(), addr.port())
}

/// Connects to `host`:`port` within [`CONNECT_TIMEOUT`].
pub async fn connect(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// The text of an RFC 4254 §5.1 open failure reason, as OpenSSH prints it.
pub fn reason_text(reason: u32) -> &'static str {
    use oxssh_wire::connection::open_failure as r;
    match reason {
        r::ADMINISTRATIVELY_PROHIBITED => "administratively prohibited",
        r::CONNECT_FAILED => "connect failed",
        r::UNKNOWN_CHANNEL_TYPE => "unknown channel type",
        r::RESOURCE_SHORTAGE => "resource shortage",
        _ => "unknown reason",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_rules_follow_openssh() {
        use BindTo::*;
        assert_eq!(bind_to(None, Gateway::No, true), Loopback);
        assert_eq!(bind_to(None, Gateway::Yes, true), Any);
        assert_eq!(bind_to(Some("*"), Gateway::No, true), Any);
        assert_eq!(bind_to(Some("localhost"), Gateway::No, true), Loopback);
        assert_eq!(
            bind_to(Some("127.0.0.2"), Gateway::No, true),
            Host("127.0.0.2".into())
        );
        // Server: the client's choice counts only with clientspecified.
        assert_eq!(bind_to(Some(""), Gateway::No, false), Loopback);
        assert_eq!(bind_to(Some("10.0.0.1"), Gateway::No, false), Loopback);
        assert_eq!(
            bind_to(Some("127.0.0.1"), Gateway::No, false),
            Host("127.0.0.1".into())
        );
        assert_eq!(bind_to(Some("localhost"), Gateway::Yes, false), Any);
        assert_eq!(bind_to(Some(""), Gateway::ClientSpecified, false), Any);
        assert_eq!(
            bind_to(Some("127.0.0.3"), Gateway::ClientSpecified, false),
            Host("127.0.0.3".into())
        );
    }
}
