//! Algorithm negotiation (RFC 4253 §7.1): one function over the two KEXINITs.

use oxssh_wire::names::kex;
use oxssh_wire::transport::KexInit;
use oxssh_wire::NameList;

use crate::error::{AlgorithmKind, PeerMisbehaved};

/// The algorithms both sides will use after this key exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Key exchange method.
    pub kex: String,
    /// Host key signature algorithm.
    pub host_key: String,
    /// Cipher client to server.
    pub cipher_c2s: String,
    /// Cipher server to client.
    pub cipher_s2c: String,
    /// MAC client to server (ignored for AEAD ciphers).
    pub mac_c2s: String,
    /// MAC server to client.
    pub mac_s2c: String,
    /// Compression client to server.
    pub compression_c2s: String,
    /// Compression server to client.
    pub compression_s2c: String,
}

/// Names that appear in kex_algorithms only to signal features, never to be chosen.
fn is_marker(name: &str) -> bool {
    matches!(
        name,
        kex::EXT_INFO_C | kex::EXT_INFO_S | kex::KEX_STRICT_C | kex::KEX_STRICT_S
    )
}

/// The first client algorithm the server also supports (RFC 4253 §7.1).
fn first_common(
    client: &NameList,
    server: &NameList,
    kind: AlgorithmKind,
) -> Result<String, PeerMisbehaved> {
    client
        .iter()
        .filter(|name| !is_marker(name))
        .find(|name| server.contains(name))
        .map(str::to_owned)
        .ok_or(PeerMisbehaved::NoCommonAlgorithm(kind))
}

/// Chooses every algorithm. `aead` says whether a cipher authenticates by itself, in
/// which case the MAC lists need no match (OpenSSH behaves so).
pub fn negotiate(
    client: &KexInit,
    server: &KexInit,
    aead: impl Fn(&str) -> bool,
) -> Result<Negotiated, PeerMisbehaved> {
    let cipher_c2s = first_common(
        &client.encryption_client_to_server,
        &server.encryption_client_to_server,
        AlgorithmKind::Cipher,
    )?;
    let cipher_s2c = first_common(
        &client.encryption_server_to_client,
        &server.encryption_server_to_client,
        AlgorithmKind::Cipher,
    )?;
    let mac = |c: &NameList, s: &NameList, cipher: &str| {
        if aead(cipher) {
            Ok(String::new())
        } else {
            first_common(c, s, AlgorithmKind::Mac)
        }
    };
    Ok(Negotiated {
        kex: first_common(
            &client.kex_algorithms,
            &server.kex_algorithms,
            AlgorithmKind::Kex,
        )?,
        host_key: first_common(
            &client.server_host_key_algorithms,
            &server.server_host_key_algorithms,
            AlgorithmKind::HostKey,
        )?,
        mac_c2s: mac(
            &client.mac_client_to_server,
            &server.mac_client_to_server,
            &cipher_c2s,
        )?,
        mac_s2c: mac(
            &client.mac_server_to_client,
            &server.mac_server_to_client,
            &cipher_s2c,
        )?,
        cipher_c2s,
        cipher_s2c,
        compression_c2s: first_common(
            &client.compression_client_to_server,
            &server.compression_client_to_server,
            AlgorithmKind::Compression,
        )?,
        compression_s2c: first_common(
            &client.compression_server_to_client,
            &server.compression_server_to_client,
            AlgorithmKind::Compression,
        )?,
    })
}

/// Whether the peer's guessed kex packet must be ignored (RFC 4253 §7.1): the guess was
/// right only if both sides' first kex and host-key algorithms are the ones chosen.
pub fn guess_was_wrong(client: &KexInit, server: &KexInit) -> bool {
    let first = |l: &NameList| l.iter().find(|n| !is_marker(n)).map(str::to_owned);
    first(&client.kex_algorithms) != first(&server.kex_algorithms)
        || first(&client.server_host_key_algorithms) != first(&server.server_host_key_algorithms)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn list(s: &str) -> NameList {
        NameList::parse(s.as_bytes()).unwrap()
    }

    fn init(kex: &str, hk: &str, cipher: &str, mac: &str) -> KexInit {
        KexInit {
            kex_algorithms: list(kex),
            server_host_key_algorithms: list(hk),
            encryption_client_to_server: list(cipher),
            encryption_server_to_client: list(cipher),
            mac_client_to_server: list(mac),
            mac_server_to_client: list(mac),
            compression_client_to_server: list("none"),
            compression_server_to_client: list("none"),
            ..KexInit::default()
        }
    }

    #[test]
    fn client_preference_wins_and_markers_are_never_chosen() {
        let c = init(
            "ext-info-c,kex-strict-c-v00@openssh.com,curve25519-sha256,ecdh-sha2-nistp256",
            "ssh-ed25519,rsa-sha2-256",
            "aes128-ctr,aes256-gcm@openssh.com",
            "hmac-sha2-256",
        );
        let s = init(
            "kex-strict-s-v00@openssh.com,ecdh-sha2-nistp256,curve25519-sha256",
            "rsa-sha2-256,ssh-ed25519",
            "aes256-gcm@openssh.com,aes128-ctr",
            "hmac-sha2-256",
        );
        let n = negotiate(&c, &s, |c| c.contains("gcm")).unwrap();
        assert_eq!(n.kex, "curve25519-sha256");
        assert_eq!(n.host_key, "ssh-ed25519");
        assert_eq!(n.cipher_c2s, "aes128-ctr");
        assert_eq!(n.mac_c2s, "hmac-sha2-256");
    }

    #[test]
    fn aead_needs_no_common_mac() {
        let c = init("a", "b", "aes128-gcm@openssh.com", "hmac-sha2-256");
        let s = init("a", "b", "aes128-gcm@openssh.com", "hmac-sha2-512");
        let n = negotiate(&c, &s, |_| true).unwrap();
        assert_eq!(n.mac_c2s, "");
        assert_eq!(
            negotiate(&c, &s, |_| false),
            Err(PeerMisbehaved::NoCommonAlgorithm(AlgorithmKind::Mac))
        );
    }

    #[test]
    fn no_common_kex_is_an_error() {
        let c = init("ext-info-c,a", "b", "c", "d");
        let s = init("ext-info-c,z", "b", "c", "d");
        assert_eq!(
            negotiate(&c, &s, |_| false),
            Err(PeerMisbehaved::NoCommonAlgorithm(AlgorithmKind::Kex))
        );
    }

    #[test]
    fn guess_is_checked_on_first_names() {
        let c = init("ext-info-c,a,b", "x", "c", "d");
        assert!(!guess_was_wrong(&c, &init("a,b", "x", "c", "d")));
        assert!(guess_was_wrong(&c, &init("b,a", "x", "c", "d")));
    }
}
