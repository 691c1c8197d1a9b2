//! Forwarding on the wire: the channel types and global requests of RFC 4254 §7 (TCP/IP)
//! and OpenSSH's PROTOCOL §2.1 (agent), with their type-specific data decoded into
//! typed structs. Policy (who may forward what) belongs to the server.

use crate::codec::{Reader, Writer};
use crate::error::DecodeError;

/// Channel type names.
pub mod channel_type {
    /// RFC 4254 §6.1.
    pub const SESSION: &str = "session";
    /// RFC 4254 §7.2: a client asks the server to connect somewhere.
    pub const DIRECT_TCPIP: &str = "direct-tcpip";
    /// RFC 4254 §7.2: the server hands over a connection to a remote-forwarded port.
    pub const FORWARDED_TCPIP: &str = "forwarded-tcpip";
    /// OpenSSH PROTOCOL §2.1: the server reaches the client's agent.
    pub const AUTH_AGENT: &str = "auth-agent@openssh.com";
    /// OpenSSH PROTOCOL §2.4: a Unix-domain socket on the server.
    pub const DIRECT_STREAMLOCAL: &str = "direct-streamlocal@openssh.com";
    /// OpenSSH PROTOCOL §2.4: a connection to a remote-forwarded socket.
    pub const FORWARDED_STREAMLOCAL: &str = "forwarded-streamlocal@openssh.com";
}

/// Global request names.
pub mod request {
    /// RFC 4254 §7.1.
    pub const TCPIP_FORWARD: &str = "tcpip-forward";
    /// RFC 4254 §7.1.
    pub const CANCEL_TCPIP_FORWARD: &str = "cancel-tcpip-forward";
    /// OpenSSH PROTOCOL §2.4.
    pub const STREAMLOCAL_FORWARD: &str = "streamlocal-forward@openssh.com";
    /// OpenSSH PROTOCOL §2.4.
    pub const CANCEL_STREAMLOCAL_FORWARD: &str = "cancel-streamlocal-forward@openssh.com";
}

/// The data of a `direct-tcpip` or `forwarded-tcpip` open (RFC 4254 §7.2): where to
/// connect (or which forwarded address was reached) and who connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpipOpen {
    /// Host to connect to (`direct-tcpip`) or the address that was connected
    /// (`forwarded-tcpip`).
    pub host: String,
    /// Its port.
    pub port: u32,
    /// The originator's address.
    pub originator: String,
    /// The originator's port.
    pub originator_port: u32,
}

impl TcpipOpen {
    /// Encodes the type-specific bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.host.len() + self.originator.len() + 16);
        Writer::new(&mut buf)
            .string(self.host.as_bytes())
            .u32(self.port)
            .string(self.originator.as_bytes())
            .u32(self.originator_port);
        buf
    }

    /// Decodes the type-specific bytes; trailing data is an error.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let open = Self {
            host: r.utf8()?.to_owned(),
            port: r.u32()?,
            originator: r.utf8()?.to_owned(),
            originator_port: r.u32()?,
        };
        r.finish()?;
        Ok(open)
    }
}

/// The data of `tcpip-forward` and `cancel-tcpip-forward` (RFC 4254 §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpipForward {
    /// Address to bind (`""` all, `localhost` loopback, or an address).
    pub address: String,
    /// Port; 0 asks the server to choose.
    pub port: u32,
}

impl TcpipForward {
    /// Encodes the request data.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.address.len() + 8);
        Writer::new(&mut buf)
            .string(self.address.as_bytes())
            .u32(self.port);
        buf
    }

    /// Decodes the request data; trailing data is an error.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let f = Self {
            address: r.utf8()?.to_owned(),
            port: r.u32()?,
        };
        r.finish()?;
        Ok(f)
    }
}

/// The data of a `direct-streamlocal@openssh.com` open (OpenSSH PROTOCOL §2.4): the
/// socket path, a reserved string and a reserved uint32.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectStreamlocal {
    /// The Unix-domain socket to connect to, on the server.
    pub path: String,
}

impl DirectStreamlocal {
    /// Encodes the type-specific bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.path.len() + 12);
        Writer::new(&mut buf)
            .string(self.path.as_bytes())
            .string(b"")
            .u32(0);
        buf
    }

    /// Decodes the type-specific bytes; trailing data is an error.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let path = r.utf8()?.to_owned();
        r.string()?;
        r.u32()?;
        r.finish()?;
        Ok(Self { path })
    }
}

/// The data of a `forwarded-streamlocal@openssh.com` open (OpenSSH PROTOCOL §2.4): the
/// forwarded socket's path and a reserved string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedStreamlocal {
    /// The socket path the client asked the server to listen on.
    pub path: String,
}

impl ForwardedStreamlocal {
    /// Encodes the type-specific bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.path.len() + 8);
        Writer::new(&mut buf)
            .string(self.path.as_bytes())
            .string(b"");
        buf
    }

    /// Decodes the type-specific bytes; trailing data is an error.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let path = r.utf8()?.to_owned();
        r.string()?;
        r.finish()?;
        Ok(Self { path })
    }
}

/// The data of `streamlocal-forward@openssh.com` and its cancel: the socket path.
pub fn encode_streamlocal_forward(path: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(path.len() + 4);
    Writer::new(&mut buf).string(path.as_bytes());
    buf
}

/// Decodes [`encode_streamlocal_forward`]: the socket path; trailing data is an error.
pub fn decode_streamlocal_forward(data: &[u8]) -> Result<String, DecodeError> {
    let mut r = Reader::new(data);
    let path = r.utf8()?.to_owned();
    r.finish()?;
    Ok(path)
}

/// The reply data to a `tcpip-forward` for port 0: the port the server chose.
pub fn encode_allocated_port(port: u32) -> Vec<u8> {
    port.to_be_bytes().to_vec()
}

/// Decodes [`encode_allocated_port`].
pub fn decode_allocated_port(data: &[u8]) -> Result<u32, DecodeError> {
    let mut r = Reader::new(data);
    let port = r.u32()?;
    r.finish()?;
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcpip_open_round_trips_and_refuses_trailing_bytes() {
        let open = TcpipOpen {
            host: "localhost".into(),
            port: 80,
            originator: "127.0.0.1".into(),
            originator_port: 5555,
        };
        let mut data = open.encode();
        assert_eq!(TcpipOpen::decode(&data), Ok(open));
        data.push(0);
        assert!(TcpipOpen::decode(&data).is_err());
        assert!(TcpipOpen::decode(&[0, 0, 0, 9]).is_err());
    }

    #[test]
    fn tcpip_forward_round_trips() {
        let f = TcpipForward {
            address: String::new(),
            port: 0,
        };
        assert_eq!(TcpipForward::decode(&f.encode()), Ok(f));
        assert_eq!(
            decode_allocated_port(&encode_allocated_port(4242)),
            Ok(4242)
        );
        assert!(decode_allocated_port(&[1, 2]).is_err());
    }

    #[test]
    fn streamlocal_opens_round_trip() {
        let d = DirectStreamlocal {
            path: "/run/x.sock".into(),
        };
        assert_eq!(DirectStreamlocal::decode(&d.encode()), Ok(d));
        let f = ForwardedStreamlocal {
            path: "/tmp/y.sock".into(),
        };
        assert_eq!(ForwardedStreamlocal::decode(&f.encode()), Ok(f));
        assert!(ForwardedStreamlocal::decode(&[0, 0, 0, 1, b'a']).is_err());
    }

    #[test]
    fn streamlocal_forward_round_trips_and_refuses_trailing_bytes() {
        let mut data = encode_streamlocal_forward("/run/x.sock");
        assert_eq!(
            decode_streamlocal_forward(&data).as_deref(),
            Ok("/run/x.sock")
        );
        data.push(0);
        assert!(decode_streamlocal_forward(&data).is_err());
        assert!(decode_streamlocal_forward(&[0, 0, 0, 9, b'/']).is_err());
    }
}
