//! Entry points for the fuzz targets in `fuzz/` and for the corpus replay tests: each
//! feeds arbitrary bytes to one parser of peer input. Not part of the stable API.

use crate::transport::packet::PacketReader;
use crate::transport::version::VersionReader;

mod services;

pub use services::{auth_client, auth_server, connection};

/// The identification-line parser, in both roles, whole and byte by byte.
pub fn version_line(data: &[u8]) {
    for allow_preamble in [true, false] {
        let _ = VersionReader::new(allow_preamble, 16).feed(data);
        let mut reader = VersionReader::new(allow_preamble, 16);
        for byte in data {
            match reader.feed(std::slice::from_ref(byte)) {
                Ok((_, None)) => {}
                Ok((_, Some(_))) | Err(_) => break,
            }
        }
    }
}

/// The plaintext packet deframer: lengths, padding, sequence numbers.
pub fn deframe(data: &[u8]) {
    let mut reader = PacketReader::new(35_000);
    // Split the input unevenly to exercise partial packets.
    let (head, tail) = data.split_at(data.len() / 3);
    for chunk in [head, tail] {
        reader.feed(chunk);
        while let Ok(Some(packet)) = reader.next_packet() {
            let _ = reader.payload(&packet.payload);
        }
    }
}

/// A whole server transport fed peer bytes: version, KEXINIT, kex messages, packets.
/// The provider and host key come from the caller (this crate implements no crypto).
pub fn server_transport(
    provider: std::sync::Arc<crate::crypto::CryptoProvider>,
    host_key: std::sync::Arc<dyn crate::crypto::SigningKey>,
    data: &[u8],
) {
    let mut config = crate::TransportConfig::server_default();
    // Let every method be reachable, NIST curves included.
    config.kex_algorithms.extend(
        [
            "ecdh-sha2-nistp256",
            "ecdh-sha2-nistp384",
            "ecdh-sha2-nistp521",
        ]
        .map(String::from),
    );
    let role = crate::Role::Server {
        host_keys: vec![host_key],
    };
    drive_transport(config, provider, role, data);
}

/// A whole client transport fed a server's bytes: version, KEXINIT, every kex method's
/// reply (host key or certificate blobs, ephemeral keys, KEM ciphertexts, DH group
/// exchange primes), packets in any order. A host key that verifies is accepted, so
/// whatever the input reaches after it is exercised too.
pub fn client_transport(provider: std::sync::Arc<crate::crypto::CryptoProvider>, data: &[u8]) {
    let mut config = crate::TransportConfig::client_default();
    // Certificate host keys too: their blobs are parsed from the server's reply.
    config.host_key_algorithms = crate::certificate::certs_first(&config.host_key_algorithms);
    drive_transport(config, provider, crate::Role::Client, data);
}

/// Feeds `data` to a new transport in uneven chunks, taking every event and discarding
/// what it transmits, until the input ends or the transport fails.
fn drive_transport(
    config: crate::TransportConfig,
    provider: std::sync::Arc<crate::crypto::CryptoProvider>,
    role: crate::Role,
    data: &[u8],
) {
    let Ok(mut transport) = crate::Transport::new(
        std::sync::Arc::new(config),
        provider,
        role,
        std::time::Instant::now(),
    ) else {
        return;
    };
    for chunk in data.chunks(97) {
        if transport.recv(chunk).is_err() {
            return;
        }
        loop {
            let host_key = match transport.poll_event() {
                Ok(Some(crate::Event::HostKey { .. })) => true,
                Ok(Some(_)) => false,
                Ok(None) => break,
                Err(_) => return,
            };
            if host_key && transport.accept_host_key().is_err() {
                return;
            }
        }
        let pending = transport.transmit().len();
        transport.advance_transmit(pending);
    }
}

/// An OpenSSH certificate blob (a user certificate in public-key authentication, a
/// host certificate in key exchange): parsed, and when it parses, re-encoded (the bytes
/// a CA signature is checked over) and its options read as a server would. A
/// non-canonical encoding may re-encode differently; its signature then fails, so that
/// is not a finding.
pub fn certificate(data: &[u8]) {
    use oxssh_keys::certificate::Certificate;
    if let Ok(cert) = Certificate::from_blob(data) {
        let _ = cert.to_be_signed();
        let _ = oxssh_keys::authorized_keys::CertRestrictions::from_certificate(&cert);
        let _ = cert.signature_parts();
    }
}
