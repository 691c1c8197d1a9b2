//! Forwarding through a shared connection (PROTOCOL.mux `MUX_C_OPEN_FWD` and
//! `MUX_C_CLOSE_FWD`): the request's encoding, the master's answer (forwards are set up
//! on the master's connection and stay until cancelled or the master exits, as with
//! OpenSSH's master), and the client's requests for `-L`/`-R`/`-D` through a master,
//! `-O forward` and `-O cancel`.

use oxssh_config::{Forward, PORT_STREAMLOCAL};

use super::codec::{self, CodecError, Message, Reader, Writer};
use crate::client::forward::{self, Forwarding, Granted};

/// The kinds of forwarding a client may ask of a master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `-L`.
    Local,
    /// `-R`.
    Remote,
    /// `-D`.
    Dynamic,
}

impl Kind {
    fn wire(self) -> u32 {
        match self {
            Self::Local => codec::FWD_LOCAL,
            Self::Remote => codec::FWD_REMOTE,
            Self::Dynamic => codec::FWD_DYNAMIC,
        }
    }

    /// The kind of a forward from the local list (`-L` or `-D`).
    pub fn of_local(f: &Forward) -> Self {
        if f.is_dynamic() {
            Self::Dynamic
        } else {
            Self::Local
        }
    }
}

/// A decoded `MUX_C_OPEN_FWD` or `MUX_C_CLOSE_FWD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request id to answer with.
    pub request_id: u32,
    /// What kind of forward.
    pub kind: Kind,
    /// The forward, as a command-line specification would give it.
    pub forward: Forward,
}

/// Why a request cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not decodable (or a port out of range): the client is dropped, as OpenSSH does.
    Malformed,
    /// Well-formed but not a valid forward: answered with OpenSSH's failure.
    Invalid(u32),
}

impl From<CodecError> for Refusal {
    fn from(_: CodecError) -> Self {
        Self::Malformed
    }
}

/// The port as sent: a socket path travels as OpenSSH's `PORT_STREAMLOCAL` (-2).
fn port_wire(port: i32) -> u32 {
    if port == PORT_STREAMLOCAL {
        u32::from_be_bytes(PORT_STREAMLOCAL.to_be_bytes())
    } else {
        u32::try_from(port).unwrap_or(0)
    }
}

fn port_from_wire(port: u32) -> Option<i32> {
    if port == port_wire(PORT_STREAMLOCAL) {
        Some(PORT_STREAMLOCAL)
    } else if port <= 65535 {
        i32::try_from(port).ok()
    } else {
        None
    }
}

/// Encodes a forwarding request as OpenSSH's client does: no listen host is `""`, an
/// empty one (every address) `"*"`.
pub fn encode(close: bool, request_id: u32, kind: Kind, f: &Forward) -> Vec<u8> {
    let listen = match (&f.listen_path, f.listen_host.as_deref()) {
        (Some(path), _) => path.as_str(),
        (None, None) => "",
        (None, Some("")) => "*",
        (None, Some(host)) => host,
    };
    let connect = f
        .connect_path
        .as_deref()
        .or(f.connect_host.as_deref())
        .unwrap_or("");
    Writer::new(if close {
        codec::C_CLOSE_FWD
    } else {
        codec::C_OPEN_FWD
    })
    .u32(request_id)
    .u32(kind.wire())
    .string(listen.as_bytes())
    .u32(port_wire(f.listen_port))
    .string(connect.as_bytes())
    .u32(port_wire(f.connect_port))
    .finish()
}

/// Decodes and checks a forwarding request as OpenSSH's master does.
///
/// # Errors
/// [`Refusal::Malformed`] for a body that is not a request, [`Refusal::Invalid`] (with
/// the request id) for one that names no valid forward.
pub fn decode(body: &mut Reader<'_>) -> Result<Request, Refusal> {
    let request_id = body.u32()?;
    let kind = body.u32()?;
    let listen = String::from_utf8_lossy(body.string()?).into_owned();
    let listen_port = port_from_wire(body.u32()?).ok_or(Refusal::Malformed)?;
    let connect = String::from_utf8_lossy(body.string()?).into_owned();
    let connect_port = port_from_wire(body.u32()?).ok_or(Refusal::Malformed)?;
    let invalid = Refusal::Invalid(request_id);
    let kind = match kind {
        codec::FWD_LOCAL => Kind::Local,
        codec::FWD_REMOTE => Kind::Remote,
        codec::FWD_DYNAMIC => Kind::Dynamic,
        _ => return Err(invalid),
    };
    let some = |s: String| (!s.is_empty()).then_some(s);
    let mut forward = Forward {
        listen_host: None,
        listen_port,
        listen_path: None,
        connect_host: None,
        connect_port,
        connect_path: None,
    };
    if listen_port == PORT_STREAMLOCAL {
        forward.listen_path = some(listen);
    } else {
        forward.listen_host = some(listen);
    }
    if connect_port == PORT_STREAMLOCAL {
        forward.connect_path = some(connect);
    } else {
        forward.connect_host = some(connect);
    }
    if kind == Kind::Dynamic {
        if forward.listen_path.is_some() {
            return Err(invalid);
        }
        forward.connect_host = Some("socks".into());
        forward.connect_port = 0;
    } else if (kind == Kind::Local && connect_port == 0)
        || (forward.connect_host.is_none() && forward.connect_path.is_none())
        || (listen_port == PORT_STREAMLOCAL && forward.listen_path.is_none())
    {
        return Err(invalid);
    }
    Ok(Request {
        request_id,
        kind,
        forward,
    })
}

/// OpenSSH's `format_forward`: how a forward is named in prompts and logs.
pub fn describe(kind: Kind, f: &Forward, gateway_ports: bool) -> String {
    let listen = match (&f.listen_path, &f.listen_host) {
        (Some(path), _) => path.clone(),
        (None, Some(host)) => host.clone(),
        (None, None) if gateway_ports && kind != Kind::Remote => "*".into(),
        (None, None) => "LOCALHOST".into(),
    };
    let connect = f
        .connect_path
        .clone()
        .or_else(|| f.connect_host.clone())
        .unwrap_or_default();
    match kind {
        Kind::Local => format!(
            "local forward {listen}:{} -> {connect}:{}",
            f.listen_port, f.connect_port
        ),
        Kind::Dynamic => format!("dynamic forward {listen}:{} -> *", f.listen_port),
        Kind::Remote => format!(
            "remote forward {listen}:{} -> {connect}:{}",
            f.listen_port, f.connect_port
        ),
    }
}

fn failure(kind: u32, request_id: u32, reason: &str) -> Vec<u8> {
    Writer::new(kind)
        .u32(request_id)
        .string(reason.as_bytes())
        .finish()
}

fn ok(request_id: u32) -> Vec<u8> {
    Writer::new(codec::S_OK).u32(request_id).finish()
}

/// What the master's settings say about forwarding requests.
#[derive(Debug, Clone)]
pub struct MasterPolicy {
    /// `ControlMaster ask|autoask`: confirm each new forward through askpass first.
    pub ask: bool,
    /// The host name for the prompt.
    pub host: String,
    /// Say nothing but errors.
    pub quiet: bool,
    /// `GatewayPorts`, for the prompt's wording.
    pub gateway_ports: bool,
}

/// The master's answer to a `MUX_C_OPEN_FWD` or `MUX_C_CLOSE_FWD`; `None` when the
/// message is malformed and the client must be dropped.
pub async fn answer(
    message: &Message,
    forwarding: Option<&Forwarding>,
    policy: &MasterPolicy,
) -> Option<Vec<u8>> {
    let close = message.kind == codec::C_CLOSE_FWD;
    let request = match decode(&mut message.reader()) {
        Ok(r) => r,
        Err(Refusal::Malformed) => {
            tracing::error!("mux_master_process_open_fwd: malformed message");
            return None;
        }
        Err(Refusal::Invalid(id)) => {
            return Some(failure(codec::S_FAILURE, id, "Invalid forwarding request"))
        }
    };
    let id = request.request_id;
    let f = &request.forward;
    let desc = describe(request.kind, f, policy.gateway_ports);
    let Some(forwarding) = forwarding else {
        return Some(failure(codec::S_FAILURE, id, "Port forwarding failed"));
    };
    if close {
        let found = match request.kind {
            Kind::Remote => forwarding.close_remote(f).await,
            Kind::Local | Kind::Dynamic => forwarding.close_local(f).await,
        };
        return Some(if found {
            ok(id)
        } else {
            failure(codec::S_FAILURE, id, "port not forwarded")
        });
    }
    if policy.ask && !super::master::confirmed(format!("Open {desc} on {}?", policy.host)).await {
        return Some(failure(codec::S_PERMISSION_DENIED, id, "Permission denied"));
    }
    let failed = || {
        tracing::info!("mux_master_process_open_fwd: requested {desc} failed");
        failure(codec::S_FAILURE, id, "Port forwarding failed")
    };
    Some(match request.kind {
        Kind::Local | Kind::Dynamic => match forwarding.open_local(f).await {
            Ok(()) => ok(id),
            Err(()) => failed(),
        },
        Kind::Remote => match forwarding.open_remote(f).await {
            Ok(Granted::AsAsked) => ok(id),
            Ok(Granted::Allocated(port)) => {
                if !policy.quiet {
                    eprintln!(
                        "Allocated port {port} for mux remote forward to {}",
                        forward::connect_text(f)
                    );
                }
                Writer::new(codec::S_REMOTE_PORT).u32(id).u32(port).finish()
            }
            Err(message) => failure(codec::S_FAILURE, id, &message),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str, dynamic: bool, remote: bool) -> Forward {
        let env = oxssh_config::OsEnv::new();
        oxssh_config::parse_forward(text, dynamic, remote, &env).unwrap()
    }

    fn round_trip(kind: Kind, f: &Forward) -> Result<Request, Refusal> {
        let bytes = encode(false, 9, kind, f);
        let message = codec::read_blocking(&mut bytes.as_slice())
            .unwrap()
            .unwrap();
        assert_eq!(message.kind, codec::C_OPEN_FWD);
        decode(&mut message.reader())
    }

    #[test]
    fn forwards_of_every_kind_round_trip() {
        for (text, dynamic, remote, kind) in [
            ("8080:127.0.0.1:80", false, false, Kind::Local),
            ("127.0.0.1:8080:example.org:80", false, false, Kind::Local),
            ("/tmp/l.sock:/tmp/c.sock", false, false, Kind::Local),
            ("0:127.0.0.1:80", false, true, Kind::Remote),
            ("1080", true, false, Kind::Dynamic),
        ] {
            let f = spec(text, dynamic, remote);
            let got = round_trip(kind, &f).unwrap();
            assert_eq!((got.request_id, got.kind), (9, kind), "{text}");
            assert_eq!(got.forward, f, "{text}");
        }
    }

    #[test]
    fn invalid_and_malformed_requests_are_refused_not_panics() {
        let mut f = spec("8080:127.0.0.1:80", false, false);
        f.connect_port = 0;
        assert_eq!(round_trip(Kind::Local, &f), Err(Refusal::Invalid(9)));
        let f = spec("/tmp/x.sock:127.0.0.1:80", false, false);
        let bytes = encode(false, 3, Kind::Dynamic, &f);
        let message = codec::read_blocking(&mut bytes.as_slice())
            .unwrap()
            .unwrap();
        assert_eq!(decode(&mut message.reader()), Err(Refusal::Invalid(3)));
        let odd = Writer::new(codec::C_OPEN_FWD)
            .u32(1)
            .u32(7)
            .string(b"")
            .u32(80)
            .string(b"h")
            .u32(80)
            .finish();
        let message = codec::read_blocking(&mut odd.as_slice()).unwrap().unwrap();
        assert_eq!(decode(&mut message.reader()), Err(Refusal::Invalid(1)));
        let big_port = Writer::new(codec::C_OPEN_FWD)
            .u32(1)
            .u32(1)
            .string(b"")
            .u32(70000)
            .string(b"h")
            .u32(80)
            .finish();
        let message = codec::read_blocking(&mut big_port.as_slice())
            .unwrap()
            .unwrap();
        assert_eq!(decode(&mut message.reader()), Err(Refusal::Malformed));
        let short = Writer::new(codec::C_OPEN_FWD).u32(1).u32(1).finish();
        let message = codec::read_blocking(&mut short.as_slice())
            .unwrap()
            .unwrap();
        assert_eq!(decode(&mut message.reader()), Err(Refusal::Malformed));
    }
}
