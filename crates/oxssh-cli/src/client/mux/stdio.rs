//! `MUX_C_NEW_STDIO_FWD` (PROTOCOL.mux): a client's `ssh -W host:port` (or `-W path`)
//! carried on the master's connection. The client passes its stdin and stdout; the
//! master opens the `direct-tcpip` (or `direct-streamlocal@openssh.com`) channel,
//! answers `MUX_S_SESSION_OPENED`, relays, and closes the control connection when the
//! channel ends, which is how OpenSSH's master tells the client it is done.

use oxssh::{Channel, Client};
use oxssh_config::PORT_STREAMLOCAL;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::codec::{self, Message, Writer};
use super::fdio::FdIo;
use super::master::{client_gone, confirmed, failure, receive_fds};
use crate::client::stdio_forward::Target;

/// Bytes moved per read in either direction.
const BUFFER: usize = 64 * 1024;

/// The request, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StdioRequest {
    request_id: u32,
    target: Option<Target>,
    /// The target as `host:port` for messages.
    shown: String,
}

impl StdioRequest {
    /// The body after the message type: request id, reserved, host, port. A port over
    /// 65535 (other than the stream-local marker) gives no target.
    fn decode(message: &Message) -> Result<Self, codec::CodecError> {
        let mut r = message.reader();
        let request_id = r.u32()?;
        let _reserved = r.string()?;
        let host = String::from_utf8_lossy(r.string()?).into_owned();
        let port = r.u32()?;
        let streamlocal = i64::from(port as i32) == i64::from(PORT_STREAMLOCAL);
        let (target, shown) = if streamlocal {
            (Some(Target::Unix(host.clone())), host)
        } else {
            let target = u16::try_from(port).ok().map(|port| Target::Tcp {
                host: host.clone(),
                port,
            });
            (target, format!("{host}:{port}"))
        };
        Ok(Self {
            request_id,
            target,
            shown,
        })
    }
}

/// Serves one stdio-forward request on its control connection.
pub(super) async fn serve(mut stream: UnixStream, message: &Message, client: &Client, ask: bool) {
    let request = match StdioRequest::decode(message) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("mux client: {e}");
            return;
        }
    };
    let id = request.request_id;
    let Some([input, output]) = receive_fds::<2>(&stream).await else {
        let reply = failure(codec::S_FAILURE, id, "did not receive file descriptors");
        let _ = codec::write(&mut stream, &reply).await;
        return;
    };
    if ask && !confirmed(format!("Allow forward to {}? ", request.shown)).await {
        let reply = failure(codec::S_PERMISSION_DENIED, id, "Permission denied");
        let _ = codec::write(&mut stream, &reply).await;
        return;
    }
    let Some(target) = request.target else {
        let reply = failure(codec::S_FAILURE, id, "invalid forwarding port");
        let _ = codec::write(&mut stream, &reply).await;
        return;
    };
    let (kind, data) = target.open_request();
    let channel = match client.open_channel(kind, &data).await {
        Ok(channel) => channel,
        Err(e) => {
            tracing::info!("mux: stdio forward to {} failed: {e}", request.shown);
            let reply = failure(codec::S_FAILURE, id, &format!("channel open failed: {e}"));
            let _ = codec::write(&mut stream, &reply).await;
            return;
        }
    };
    let opened = Writer::new(codec::S_SESSION_OPENED).u32(id).u32(0).finish();
    if codec::write(&mut stream, &opened).await.is_err() {
        return;
    }
    let (reader, _writer) = stream.into_split();
    tokio::select! {
        () = relay(channel, FdIo::new(input), FdIo::new(output)) => {}
        () = client_gone(reader) => {}
    }
    tracing::debug!("mux: stdio forward to {} done", request.shown);
    // Dropping the control connection here ends the client, as OpenSSH's master does.
}

/// Client input to the channel, channel output to the client, until the far end is
/// done: as with `-W` alone, the channel is force-drained (our input stops once the far
/// end's output has been written out).
async fn relay(mut channel: Channel, mut input: FdIo, mut output: FdIo) {
    let mut writer = channel.writer();
    let upstream = tokio::spawn(async move {
        let mut buf = vec![0u8; BUFFER];
        loop {
            match input.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if writer
                        .write_all(buf.get(..n).unwrap_or_default())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        let _ = writer.shutdown().await;
    });
    let mut buf = vec![0u8; BUFFER];
    loop {
        match channel.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if output
                    .write_all(buf.get(..n).unwrap_or_default())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    upstream.abort();
    let _ = channel.send_eof();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(host: &str, port: u32) -> Message {
        let mut body = Vec::new();
        body.extend_from_slice(&7u32.to_be_bytes());
        body.extend_from_slice(&0u32.to_be_bytes());
        body.extend_from_slice(&u32::try_from(host.len()).unwrap().to_be_bytes());
        body.extend_from_slice(host.as_bytes());
        body.extend_from_slice(&port.to_be_bytes());
        Message {
            kind: codec::C_NEW_STDIO_FWD,
            body,
        }
    }

    #[test]
    fn requests_decode_to_tcp_socket_or_no_target() {
        let tcp = StdioRequest::decode(&message("db", 5432)).expect("decodes");
        assert_eq!(tcp.request_id, 7);
        let want = Target::Tcp {
            host: "db".into(),
            port: 5432,
        };
        assert_eq!(tcp.target, Some(want));
        let path =
            StdioRequest::decode(&message("/run/s", PORT_STREAMLOCAL as u32)).expect("decodes");
        assert_eq!(path.target, Some(Target::Unix("/run/s".into())));
        let bad = StdioRequest::decode(&message("db", 70_000)).expect("decodes");
        assert_eq!(bad.target, None);
    }

    #[test]
    fn a_truncated_request_is_an_error_not_a_panic() {
        let m = Message {
            kind: codec::C_NEW_STDIO_FWD,
            body: 7u32.to_be_bytes().to_vec(),
        };
        assert!(StdioRequest::decode(&m).is_err());
    }
}
