//! The SOCKS side of a dynamic forward: SOCKS4, SOCKS4a and SOCKS5 `CONNECT` without
//! authentication, as OpenSSH's channel_decode_socks4/5 accept them. For `-D` the names
//! are passed to the server unresolved (it resolves them); for a remote dynamic forward
//! (`-R [bind:]port`, OpenSSH 7.6+) the SOCKS client is at the far end of a
//! `forwarded-tcpip` channel and we resolve and connect here. A client that sends
//! anything else, too much, or too slowly is dropped; only its own connection is
//! affected.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use oxssh::Client;
use oxssh_wire::forward::channel_type;
use oxssh_wire::forward::TcpipOpen;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::forward::{open_reporting, relay};

/// Longest time a SOCKS client may take to say where it wants to go.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest SOCKS4 user id or host name accepted (bytes).
const MAX_FIELD: usize = 255;

/// Where the SOCKS client wants to go, and how to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    host: String,
    port: u16,
    version: u8,
}

/// Serves one SOCKS connection from `origin` (address, port): handshake,
/// `direct-tcpip` open, answer, relay.
pub(super) async fn serve<S: AsyncRead + AsyncWrite + Unpin + ?Sized>(
    client: &Client,
    mut stream: Box<S>,
    origin: (String, u32),
) {
    let request = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut *stream)).await {
        Ok(Ok(request)) => request,
        Ok(Err(e)) => {
            tracing::debug!("dynamic forward from {}: {e}", origin.0);
            return;
        }
        Err(_) => {
            tracing::debug!("dynamic forward from {}: handshake timed out", origin.0);
            return;
        }
    };
    let target = TcpipOpen {
        host: request.host.clone(),
        port: u32::from(request.port),
        originator: origin.0,
        originator_port: origin.1,
    };
    let channel = open_reporting(client, channel_type::DIRECT_TCPIP, &target.encode()).await;
    let reply = answer(request.version, channel.is_some());
    if stream.write_all(&reply).await.is_err() {
        return;
    }
    if let Some(channel) = channel {
        relay(channel, &mut *stream).await;
    }
}

/// Serves a SOCKS client at the far end of a `forwarded-tcpip` channel of a remote
/// dynamic forward: handshake on the channel, connect from here, answer, relay.
pub(super) async fn serve_channel(mut channel: oxssh::Channel) {
    let request = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut channel)).await {
        Ok(Ok(request)) => request,
        Ok(Err(e)) => {
            tracing::debug!("remote dynamic forward: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!("remote dynamic forward: handshake timed out");
            return;
        }
    };
    match crate::forwarding::connect(&request.host, request.port).await {
        Ok(mut stream) => {
            let _ = stream.set_nodelay(true);
            if channel
                .write_all(&answer(request.version, true))
                .await
                .is_ok()
            {
                relay(channel, &mut stream).await;
            }
        }
        Err(e) => {
            // ssh's words for a remote forward's target that cannot be reached.
            tracing::debug!("connect_to {} port {}: {e}", request.host, request.port);
            eprintln!("connect_to {} port {}: failed.", request.host, request.port);
            let _ = channel.write_all(&answer(request.version, false)).await;
        }
    }
}

/// The reply to send: success with a zero bound address, or a refusal.
fn answer(version: u8, ok: bool) -> Vec<u8> {
    if version == 4 {
        // VN 0, CD 90 granted / 91 rejected, then port and address (ignored).
        vec![0, if ok { 90 } else { 91 }, 0, 0, 0, 0, 0, 0]
    } else {
        // VER, REP (0 succeeded, 5 connection refused), RSV, ATYP IPv4, 0.0.0.0:0.
        vec![5, if ok { 0 } else { 5 }, 0, 1, 0, 0, 0, 0, 0, 0]
    }
}

/// Reads a request from a SOCKS4/4a/5 client.
async fn handshake<S: AsyncRead + AsyncWrite + Unpin + ?Sized>(
    stream: &mut S,
) -> Result<Request, String> {
    match stream.read_u8().await.map_err(|e| e.to_string())? {
        4 => socks4(stream).await,
        5 => socks5(stream).await,
        v => Err(format!("unsupported SOCKS version {v}")),
    }
}

async fn socks4<S: AsyncRead + AsyncWrite + Unpin + ?Sized>(
    stream: &mut S,
) -> Result<Request, String> {
    let mut head = [0u8; 7];
    stream
        .read_exact(&mut head)
        .await
        .map_err(|e| e.to_string())?;
    let [command, p1, p2, a, b, c, d] = head;
    if command != 1 {
        return Err(format!("SOCKS4 command {command} not supported"));
    }
    let port = u16::from_be_bytes([p1, p2]);
    let _user = read_cstring(stream).await?;
    // SOCKS4a: 0.0.0.x (x non-zero) means a host name follows the user id.
    let host = if a == 0 && b == 0 && c == 0 && d != 0 {
        read_cstring(stream).await?
    } else {
        Ipv4Addr::new(a, b, c, d).to_string()
    };
    Ok(Request {
        host,
        port,
        version: 4,
    })
}

async fn read_cstring<S: AsyncRead + Unpin + ?Sized>(stream: &mut S) -> Result<String, String> {
    let mut text = Vec::new();
    loop {
        let byte = stream.read_u8().await.map_err(|e| e.to_string())?;
        if byte == 0 {
            break;
        }
        if text.len() >= MAX_FIELD {
            return Err("SOCKS4 field too long".into());
        }
        text.push(byte);
    }
    String::from_utf8(text).map_err(|_| "SOCKS4 field is not UTF-8".to_owned())
}

async fn socks5<S: AsyncRead + AsyncWrite + Unpin + ?Sized>(
    stream: &mut S,
) -> Result<Request, String> {
    let io = |e: std::io::Error| e.to_string();
    let count = stream.read_u8().await.map_err(io)?;
    let mut methods = vec![0u8; usize::from(count)];
    stream.read_exact(&mut methods).await.map_err(io)?;
    if !methods.contains(&0) {
        // No acceptable methods.
        let _ = stream.write_all(&[5, 0xff]).await;
        return Err("SOCKS5 client offers no method without authentication".into());
    }
    stream.write_all(&[5, 0]).await.map_err(io)?;
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).await.map_err(io)?;
    let [version, command, _reserved, kind] = head;
    if version != 5 || command != 1 {
        // Command not supported.
        let _ = stream.write_all(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0]).await;
        return Err(format!("SOCKS5 request {version}/{command} not supported"));
    }
    let host = match kind {
        1 => {
            let mut a = [0u8; 4];
            stream.read_exact(&mut a).await.map_err(io)?;
            Ipv4Addr::from(a).to_string()
        }
        3 => {
            let len = stream.read_u8().await.map_err(io)?;
            let mut name = vec![0u8; usize::from(len)];
            stream.read_exact(&mut name).await.map_err(io)?;
            String::from_utf8(name).map_err(|_| "SOCKS5 host name is not UTF-8".to_owned())?
        }
        4 => {
            let mut a = [0u8; 16];
            stream.read_exact(&mut a).await.map_err(io)?;
            Ipv6Addr::from(a).to_string()
        }
        other => {
            // Address type not supported.
            let _ = stream.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0]).await;
            return Err(format!("SOCKS5 address type {other} not supported"));
        }
    };
    let port = stream.read_u16().await.map_err(io)?;
    Ok(Request {
        host,
        port,
        version: 5,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpStream;

    async fn parse(bytes: &[u8]) -> Result<Request, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let data = bytes.to_vec();
        let writer = tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(&data).await.unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink).await;
        });
        let (mut stream, _) = listener.accept().await.unwrap();
        let result = tokio::time::timeout(Duration::from_secs(5), handshake(&mut stream))
            .await
            .unwrap();
        drop(stream);
        writer.await.unwrap();
        result
    }

    #[tokio::test]
    async fn socks4_socks4a_and_socks5_requests_are_understood() {
        let r = parse(&[4, 1, 0, 80, 127, 0, 0, 1, b'u', 0]).await.unwrap();
        assert_eq!((r.host.as_str(), r.port), ("127.0.0.1", 80));
        let mut v4a = vec![4, 1, 1, 187, 0, 0, 0, 1, 0];
        v4a.extend_from_slice(b"example.org\0");
        let r = parse(&v4a).await.unwrap();
        assert_eq!((r.host.as_str(), r.port), ("example.org", 443));
        let mut v5 = vec![5, 1, 0, 5, 1, 0, 3, 9];
        v5.extend_from_slice(b"localhost");
        v5.extend_from_slice(&[0x1f, 0x90]);
        let r = parse(&v5).await.unwrap();
        assert_eq!((r.host.as_str(), r.port, r.version), ("localhost", 8080, 5));
    }

    #[tokio::test]
    async fn garbage_and_oversized_fields_are_refused() {
        assert!(parse(b"GET / HTTP/1.1\r\n\r\n").await.is_err());
        assert!(parse(&[5, 1, 2]).await.is_err());
        let mut long = vec![4, 1, 0, 80, 1, 2, 3, 4];
        long.extend(std::iter::repeat_n(b'a', 300));
        long.push(0);
        assert!(parse(&long).await.is_err());
        assert!(parse(&[5, 1, 0, 5, 2, 0, 1, 1, 2, 3, 4, 0, 80])
            .await
            .is_err());
    }
}
