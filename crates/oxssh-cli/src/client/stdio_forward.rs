//! `-W host:port` and `-W path`: our stdin and stdout relayed over one `direct-tcpip`
//! (or `direct-streamlocal@openssh.com`) channel, with no session, as OpenSSH's
//! `ssh_init_stdio_forwarding()`. This is what a `ProxyJump` hop runs. As in OpenSSH,
//! a refused open prints the channel's failure and "stdio forwarding failed" (exit 255),
//! and the program ends (status 0) once the far end's EOF is written out.

use oxssh::Client;
use oxssh_config::{OsEnv, PORT_STREAMLOCAL};
use oxssh_wire::forward::{channel_type, DirectStreamlocal, TcpipOpen};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::forward;
use super::stdio::{StdinReader, StdoutWriter};

/// Bytes moved per read in either direction.
const BUFFER: usize = 64 * 1024;

/// Where `-W` connects, on the server's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `host:port` (`[v6]:port` too).
    Tcp {
        /// As written, brackets removed.
        host: String,
        /// The port.
        port: u16,
    },
    /// A socket path.
    Unix(String),
}

impl Target {
    /// Parses `-W`'s argument as OpenSSH does (`parse_forward` with one field pair).
    /// `Ok(None)` for a bare port: OpenSSH then has no host and forwards nothing.
    ///
    /// # Errors
    /// OpenSSH's "Bad stdio forwarding specification" line.
    pub fn parse(spec: &str, env: &OsEnv) -> Result<Option<Self>, String> {
        let bad = || format!("Bad stdio forwarding specification '{spec}'");
        let f = oxssh_config::parse_forward(spec, true, false, env).ok_or_else(bad)?;
        if let (Some(path), PORT_STREAMLOCAL) = (&f.listen_path, f.listen_port) {
            return Ok(Some(Self::Unix(path.clone())));
        }
        let port = u16::try_from(f.listen_port).map_err(|_| bad())?;
        Ok(f.listen_host.map(|host| Self::Tcp { host, port }))
    }

    /// The host and port of a `MUX_C_NEW_STDIO_FWD` (a path with OpenSSH's stream-local
    /// port marker).
    pub(crate) fn mux_request(&self) -> (String, u32) {
        match self {
            Self::Tcp { host, port } => (host.clone(), u32::from(*port)),
            Self::Unix(path) => (path.clone(), PORT_STREAMLOCAL as u32),
        }
    }

    /// The channel type and its open data. OpenSSH names `127.0.0.1` port 65535 as the
    /// originator of a stdio forward.
    pub(crate) fn open_request(&self) -> (&'static str, Vec<u8>) {
        match self {
            Self::Tcp { host, port } => (
                channel_type::DIRECT_TCPIP,
                TcpipOpen {
                    host: host.clone(),
                    port: u32::from(*port),
                    originator: "127.0.0.1".into(),
                    originator_port: 65535,
                }
                .encode(),
            ),
            Self::Unix(path) => (
                channel_type::DIRECT_STREAMLOCAL,
                DirectStreamlocal { path: path.clone() }.encode(),
            ),
        }
    }
}

/// Opens the channel and relays until it closes; the exit status.
pub async fn run(client: &Client, target: &Target) -> u8 {
    let (kind, data) = target.open_request();
    let Some(mut channel) = forward::open_reporting(client, kind, &data).await else {
        eprintln!("stdio forwarding failed");
        return 255;
    };
    let mut writer = channel.writer();
    let stdin_task = tokio::spawn(async move {
        let mut stdin = StdinReader::open();
        let mut buf = vec![0u8; BUFFER];
        loop {
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let data = buf.get(..n).unwrap_or_default();
                    if writer.write_all(data).await.is_err() {
                        return;
                    }
                }
            }
        }
        // EOF on the channel: the far end sees our input end.
        let _ = writer.shutdown().await;
    });
    let mut stdout = StdoutWriter::open();
    let mut buf = vec![0u8; BUFFER];
    let failed = loop {
        tokio::select! {
            read = channel.read(&mut buf) => match read {
                Ok(0) => break false,
                Ok(n) => {
                    let data = buf.get(..n).unwrap_or_default();
                    if stdout.write_all(data).await.is_err() {
                        // Nobody reads our output any more: done, as OpenSSH's
                        // channel is once its output side fails.
                        break false;
                    }
                }
                Err(_) => break true,
            },
            e = client.wait_closed() => {
                break !matches!(e, oxssh::Error::Closed);
            }
        }
    };
    let _ = stdout.flush().await;
    // OpenSSH's stdio channel is force-drained: once the far end's output is written out,
    // our input stops too (EOF, then CLOSE, as dropping the channel sends it), even if
    // stdin is still open.
    stdin_task.abort();
    let _ = channel.send_eof();
    drop(channel);
    tracing::debug!("stdio forwarding: done");
    if failed {
        255
    } else {
        0
    }
}

/// `-W`: the stdio channel first, then any forwards the configuration kept (OpenSSH's
/// order), and no session; ends with the channel.
pub async fn run_alone(
    client: &oxssh::Client,
    target: &Target,
    plan: &forward::Plan,
    ready: Option<crate::background::ReadySignal>,
) -> u8 {
    let relay = run(client, target);
    tokio::pin!(relay);
    // The channel is asked for before the forwards start, as OpenSSH does.
    let forwarding = tokio::select! {
        code = &mut relay => {
            client.disconnect().await;
            return code;
        }
        started = forward::start(client, plan) => started,
    };
    let forwarding = match forwarding {
        Ok(forwarding) => forwarding,
        Err(message) => {
            client.disconnect().await;
            return super::run::fail(&[message]);
        }
    };
    if let Some(ready) = ready {
        ready.notify();
    }
    let code = relay.await;
    forwarding.stop(client).await;
    client.disconnect().await;
    code
}
