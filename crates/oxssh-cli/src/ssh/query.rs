//! `oxssh -Q`: lists of supported algorithms, answered the way OpenSSH 9.2's `ssh -Q` answers
//! but from our [`CryptoProvider`].
//!
//! Scripts parse this output, so it keeps OpenSSH's shape exactly: one name a line, no
//! decoration, and names OpenSSH also knows in OpenSSH's own order (its internal tables' order,
//! not its default preference). Names OpenSSH does not have (for now none) follow in the
//! provider's order. Legacy algorithms the provider only negotiates when configured
//! (`ssh-rsa`, `hmac-sha1`, `diffie-hellman-group14-sha1`) are listed, as OpenSSH lists its own.
//!
//! The queries and their configuration-keyword aliases are those of OpenSSH 9.2 upstream;
//! Debian's extra `kex-gss` is left out since oxssh has no GSSAPI key exchange.

use oxssh_proto::crypto::CryptoProvider;

/// A `-Q` query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// `cipher`, `Ciphers`
    Cipher,
    /// `cipher-auth`: ciphers that authenticate (AEAD).
    CipherAuth,
    /// `compression`
    Compression,
    /// `kex`, `KexAlgorithms`
    Kex,
    /// `key`: key types, certificates included.
    Key,
    /// `key-cert`: certificate key types.
    KeyCert,
    /// `key-plain`: key types without certificates.
    KeyPlain,
    /// `key-sig` and the keywords that take signature algorithms (`HostKeyAlgorithms`, ...).
    KeySig,
    /// `mac`, `MACs`
    Mac,
    /// `protocol-version`
    ProtocolVersion,
    /// `sig`: signature algorithms, certificates excluded.
    Sig,
    /// `help`: the query names.
    Help,
}

/// OpenSSH's key type table order (`sshkey.c` `keytypes[]`), plain types, certificate types
/// and signature-only names interleaved as there. What each query prints is filtered from it.
const OPENSSH_KEY_TYPES: &[(&str, KeyKind)] = &[
    ("ssh-ed25519", KeyKind::Plain),
    ("ssh-ed25519-cert-v01@openssh.com", KeyKind::Cert),
    ("sk-ssh-ed25519@openssh.com", KeyKind::Plain),
    ("sk-ssh-ed25519-cert-v01@openssh.com", KeyKind::Cert),
    ("ecdsa-sha2-nistp256", KeyKind::Plain),
    ("ecdsa-sha2-nistp256-cert-v01@openssh.com", KeyKind::Cert),
    ("ecdsa-sha2-nistp384", KeyKind::Plain),
    ("ecdsa-sha2-nistp384-cert-v01@openssh.com", KeyKind::Cert),
    ("ecdsa-sha2-nistp521", KeyKind::Plain),
    ("ecdsa-sha2-nistp521-cert-v01@openssh.com", KeyKind::Cert),
    ("sk-ecdsa-sha2-nistp256@openssh.com", KeyKind::Plain),
    ("sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", KeyKind::Cert),
    (
        "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
        KeyKind::SigOnly,
    ),
    ("ssh-dss", KeyKind::Plain),
    ("ssh-dss-cert-v01@openssh.com", KeyKind::Cert),
    ("ssh-rsa", KeyKind::Plain),
    ("ssh-rsa-cert-v01@openssh.com", KeyKind::Cert),
    ("rsa-sha2-256", KeyKind::SigOnly),
    ("rsa-sha2-256-cert-v01@openssh.com", KeyKind::SigOnlyCert),
    ("rsa-sha2-512", KeyKind::SigOnly),
    ("rsa-sha2-512-cert-v01@openssh.com", KeyKind::SigOnlyCert),
];

/// How a name in [`OPENSSH_KEY_TYPES`] counts for the queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    /// A key type (also its own signature algorithm name).
    Plain,
    /// A certificate key type.
    Cert,
    /// A signature algorithm that is not a key type (`rsa-sha2-256`).
    SigOnly,
    /// The certificate form of a signature-only name.
    SigOnlyCert,
}

impl Query {
    /// The query named on the command line. Query names are case-sensitive; the config
    /// keyword aliases are not (`ssh -Q ciphers` works, `ssh -Q CIPHER` does not).
    pub fn parse(name: &str) -> Option<Self> {
        let keyword = |k: &str| name.eq_ignore_ascii_case(k);
        Some(match name {
            "cipher" => Self::Cipher,
            "cipher-auth" => Self::CipherAuth,
            "compression" => Self::Compression,
            "kex" => Self::Kex,
            "key" => Self::Key,
            "key-cert" => Self::KeyCert,
            "key-plain" => Self::KeyPlain,
            "key-sig" => Self::KeySig,
            "mac" => Self::Mac,
            "protocol-version" => Self::ProtocolVersion,
            "sig" => Self::Sig,
            "help" => Self::Help,
            _ if keyword("Ciphers") => Self::Cipher,
            _ if keyword("MACs") => Self::Mac,
            _ if keyword("KexAlgorithms") => Self::Kex,
            _ if [
                "PubkeyAcceptedKeyTypes",
                "PubkeyAcceptedAlgorithms",
                "HostKeyAlgorithms",
                "HostbasedKeyTypes",
                "HostbasedAcceptedKeyTypes",
                "HostbasedAcceptedAlgorithms",
            ]
            .into_iter()
            .any(keyword) =>
            {
                Self::KeySig
            }
            _ => return None,
        })
    }

    /// The names to print, one a line.
    pub fn names(self, provider: &CryptoProvider) -> Vec<String> {
        let ciphers = || provider.ciphers.iter().map(|c| c.name());
        // OpenSSH's own table orders (cipher.c, mac.c, kex-names.c), kept in one place.
        let openssh = oxssh_config::AlgorithmLists::openssh_9_2();
        match self {
            Self::Cipher => in_openssh_order(&openssh.ciphers.all, ciphers()),
            Self::CipherAuth => in_openssh_order(
                &openssh.ciphers.all,
                provider
                    .ciphers
                    .iter()
                    .filter(|c| c.is_aead())
                    .map(|c| c.name()),
            ),
            Self::Compression => std::iter::once(oxssh_wire::names::compression::NONE)
                .chain(provider.compression.iter().map(|c| c.name()))
                .map(str::to_owned)
                .collect(),
            // Names OpenSSH 9.2 lacks (mlkem768x25519-sha256) follow, as in OpenSSH 9.9.
            Self::Kex => in_openssh_order(&openssh.kex.all, provider.kex.iter().map(|k| k.name())),
            Self::Mac => {
                in_openssh_order(&openssh.macs.all, provider.macs.iter().map(|m| m.name()))
            }
            // oxssh has no certificate support yet, so the key lists hold plain types only.
            Self::Key | Self::KeyPlain => key_names(provider, &[KeyKind::Plain]),
            Self::KeyCert => Vec::new(),
            Self::KeySig | Self::Sig => key_names(provider, &[KeyKind::Plain, KeyKind::SigOnly]),
            Self::ProtocolVersion => vec!["2".to_owned()],
            Self::Help => [
                "cipher",
                "cipher-auth",
                "compression",
                "kex",
                "key",
                "key-cert",
                "key-plain",
                "key-sig",
                "mac",
                "protocol-version",
                "sig",
            ]
            .into_iter()
            .map(str::to_owned)
            .collect(),
        }
    }

    /// What `oxssh -Q` prints on stdout: each name followed by a newline. An empty list
    /// prints nothing (OpenSSH would print one empty line; an empty answer is easier on
    /// `while read` loops and only arises for `key-cert` until certificates land).
    pub fn answer(self, provider: &CryptoProvider) -> String {
        self.names(provider)
            .into_iter()
            .map(|name| name + "\n")
            .collect()
    }
}

/// The provider's names, those OpenSSH knows in OpenSSH's order, the others after them in
/// the provider's order; duplicates dropped.
fn in_openssh_order<'a, R: AsRef<str>>(
    reference: &[R],
    names: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let mut names: Vec<&str> = names.collect();
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(*n));
    let rank = |name: &str| {
        reference
            .iter()
            .position(|r| r.as_ref() == name)
            .unwrap_or(reference.len())
    };
    // Stable: unknown names keep the provider's order.
    names.sort_by_key(|n| rank(n));
    names.into_iter().map(str::to_owned).collect()
}

/// Key type and signature names from the provider's signature algorithms: each algorithm's
/// key type counts as a plain key type, its own name as a signature name.
fn key_names(provider: &CryptoProvider, kinds: &[KeyKind]) -> Vec<String> {
    let mut names: Vec<&str> = Vec::new();
    for sig in &provider.signatures {
        names.push(sig.key_type());
        if kinds.contains(&KeyKind::SigOnly) {
            names.push(sig.name());
        }
    }
    let known_kind = |name: &str| {
        OPENSSH_KEY_TYPES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, kind)| kind)
    };
    // Names OpenSSH classifies differently from what was asked for are dropped; names it does
    // not know are kept (they come from this provider, so they are real).
    names.retain(|&n| known_kind(n).is_none_or(|kind| kinds.contains(&kind)));
    let reference: Vec<&str> = OPENSSH_KEY_TYPES.iter().map(|&(n, _)| n).collect();
    in_openssh_order(&reference, names.into_iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> CryptoProvider {
        oxssh_crypto::default_provider()
    }

    fn names(query: Query) -> Vec<String> {
        query.names(&provider())
    }

    /// What OpenSSH 9.2 (Debian 12) prints for the same queries, captured with `ssh -Q`.
    const SSH_CIPHER: &str = "3des-cbc\naes128-cbc\naes192-cbc\naes256-cbc\naes128-ctr\n\
        aes192-ctr\naes256-ctr\naes128-gcm@openssh.com\naes256-gcm@openssh.com\n\
        chacha20-poly1305@openssh.com\n";
    const SSH_MAC: &str = "hmac-sha1\nhmac-sha1-96\nhmac-sha2-256\nhmac-sha2-512\nhmac-md5\n\
        hmac-md5-96\numac-64@openssh.com\numac-128@openssh.com\nhmac-sha1-etm@openssh.com\n\
        hmac-sha1-96-etm@openssh.com\nhmac-sha2-256-etm@openssh.com\n\
        hmac-sha2-512-etm@openssh.com\nhmac-md5-etm@openssh.com\nhmac-md5-96-etm@openssh.com\n\
        umac-64-etm@openssh.com\numac-128-etm@openssh.com\n";
    const SSH_KEX: &str = "diffie-hellman-group1-sha1\ndiffie-hellman-group14-sha1\n\
        diffie-hellman-group14-sha256\ndiffie-hellman-group16-sha512\n\
        diffie-hellman-group18-sha512\ndiffie-hellman-group-exchange-sha1\n\
        diffie-hellman-group-exchange-sha256\necdh-sha2-nistp256\necdh-sha2-nistp384\n\
        ecdh-sha2-nistp521\ncurve25519-sha256\ncurve25519-sha256@libssh.org\n\
        sntrup761x25519-sha512\nsntrup761x25519-sha512@openssh.com\n";
    const SSH_SIG: &str = "ssh-ed25519\nsk-ssh-ed25519@openssh.com\necdsa-sha2-nistp256\n\
        ecdsa-sha2-nistp384\necdsa-sha2-nistp521\nsk-ecdsa-sha2-nistp256@openssh.com\n\
        webauthn-sk-ecdsa-sha2-nistp256@openssh.com\nssh-dss\nssh-rsa\nrsa-sha2-256\n\
        rsa-sha2-512\n";
    const SSH_KEY_PLAIN: &str = "ssh-ed25519\nsk-ssh-ed25519@openssh.com\necdsa-sha2-nistp256\n\
        ecdsa-sha2-nistp384\necdsa-sha2-nistp521\nsk-ecdsa-sha2-nistp256@openssh.com\n\
        ssh-dss\nssh-rsa\n";
    const SSH_HELP: &str = "cipher\ncipher-auth\ncompression\nkex\nkey\nkey-cert\nkey-plain\n\
        key-sig\nmac\nprotocol-version\nsig\n";

    /// Ours must be OpenSSH's list with names removed, or with unknown names appended.
    fn assert_same_relative_order(ours: &[String], openssh: &str) {
        let theirs: Vec<&str> = openssh.lines().collect();
        let shared: Vec<&str> = ours
            .iter()
            .map(String::as_str)
            .filter(|n| theirs.contains(n))
            .collect();
        let expected: Vec<&str> = theirs
            .iter()
            .copied()
            .filter(|n| shared.contains(n))
            .collect();
        assert_eq!(shared, expected);
        // Names OpenSSH lacks may only come after all the shared ones.
        let first_foreign = ours.iter().position(|n| !theirs.contains(&n.as_str()));
        if let Some(i) = first_foreign {
            assert!(
                ours[i..].iter().all(|n| !theirs.contains(&n.as_str())),
                "{ours:?}"
            );
        }
    }

    #[test]
    fn cipher_lists_follow_openssh_order() {
        let ciphers = names(Query::Cipher);
        assert_eq!(
            ciphers,
            [
                "aes128-ctr",
                "aes192-ctr",
                "aes256-ctr",
                "aes128-gcm@openssh.com",
                "aes256-gcm@openssh.com",
                "chacha20-poly1305@openssh.com"
            ]
        );
        assert_same_relative_order(&ciphers, SSH_CIPHER);
        assert_eq!(
            names(Query::CipherAuth),
            [
                "aes128-gcm@openssh.com",
                "aes256-gcm@openssh.com",
                "chacha20-poly1305@openssh.com"
            ]
        );
    }

    #[test]
    fn mac_and_kex_lists_follow_openssh_order() {
        let macs = names(Query::Mac);
        assert_same_relative_order(&macs, SSH_MAC);
        assert_eq!(macs.first().map(String::as_str), Some("hmac-sha1"));
        assert!(macs.contains(&"hmac-sha2-512-etm@openssh.com".to_owned()));
        let kex = names(Query::Kex);
        assert_same_relative_order(&kex, SSH_KEX);
        assert_eq!(
            kex.first().map(String::as_str),
            Some("diffie-hellman-group14-sha1")
        );
        assert_eq!(
            kex.last().map(String::as_str),
            Some("mlkem768x25519-sha256")
        );
        assert_eq!(kex.len(), provider().kex.len());
    }

    #[test]
    fn key_lists_hold_our_key_types() {
        let plain = [
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "ecdsa-sha2-nistp384",
            "ecdsa-sha2-nistp521",
            "ssh-rsa",
        ];
        assert_eq!(names(Query::Key), plain);
        assert_eq!(names(Query::KeyPlain), plain);
        assert_same_relative_order(&names(Query::KeyPlain), SSH_KEY_PLAIN);
        assert!(names(Query::KeyCert).is_empty());
        assert_eq!(Query::KeyCert.answer(&provider()), "");
        let sig = names(Query::Sig);
        assert_eq!(sig.len(), 7);
        assert_same_relative_order(&sig, SSH_SIG);
        assert_eq!(
            sig.last().map(String::as_str),
            Some("rsa-sha2-512"),
            "{sig:?}"
        );
        assert_eq!(names(Query::KeySig), sig);
    }

    #[test]
    fn fixed_answers_match_openssh() {
        let p = provider();
        assert_eq!(Query::Help.answer(&p), SSH_HELP);
        assert_eq!(Query::ProtocolVersion.answer(&p), "2\n");
        // As `ssh -Q compression`, without the legacy non-delayed `zlib` we do not offer.
        assert_eq!(Query::Compression.answer(&p), "none\nzlib@openssh.com\n");
        assert!(Query::Cipher
            .answer(&p)
            .ends_with("chacha20-poly1305@openssh.com\n"));
    }

    #[test]
    fn query_names_and_keyword_aliases() {
        assert_eq!(Query::parse("cipher"), Some(Query::Cipher));
        assert_eq!(Query::parse("ciphers"), Some(Query::Cipher));
        assert_eq!(Query::parse("Ciphers"), Some(Query::Cipher));
        assert_eq!(Query::parse("macs"), Some(Query::Mac));
        assert_eq!(Query::parse("KEXALGORITHMS"), Some(Query::Kex));
        assert_eq!(Query::parse("hostkeyalgorithms"), Some(Query::KeySig));
        assert_eq!(Query::parse("HostbasedKeyTypes"), Some(Query::KeySig));
        assert_eq!(Query::parse("PubkeyAcceptedKeyTypes"), Some(Query::KeySig));
        for unsupported in [
            "CIPHER",
            "Sig",
            "KEY",
            "Help",
            "cipher-AUTH",
            "Compression",
            "key-ca-sign",
            "CASignatureAlgorithms",
            "kex-gss",
            "",
        ] {
            assert_eq!(Query::parse(unsupported), None, "{unsupported}");
        }
    }
}
