//! The `-t` key types: which names `ssh-keyscan` accepts, and which host-key algorithms
//! each one offers in KEXINIT (mirroring `keygrab_ssh2()` in OpenSSH 9.2's ssh-keyscan.c).

use std::fmt;

use oxssh_keys::PublicKey;
use oxssh_wire::names::key;

/// A key type to fetch; one connection is made per host and key type.
///
/// The declaration order is the order ssh-keyscan starts its connections in
/// (`KT_RSA`, `KT_ECDSA`, `KT_ED25519`), so iterating a sorted set mirrors it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyType {
    /// RSA keys, fetched with rsa-sha2-512, rsa-sha2-256 or ssh-rsa signatures.
    Rsa,
    /// ECDSA keys on any of the three NIST curves.
    Ecdsa,
    /// Ed25519 keys.
    Ed25519,
}

/// Why a `-t` name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyTypeError {
    /// Not a key type at all (ssh-keyscan: `Unknown key type "x"`).
    Unknown(String),
    /// A real OpenSSH key type that oxssh deliberately does not scan for.
    Unsupported {
        /// The name as given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
}

impl fmt::Display for KeyTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(name) => write!(f, "Unknown key type \"{name}\""),
            Self::Unsupported { name, reason } => {
                write!(f, "Unsupported key type \"{name}\": {reason}")
            }
        }
    }
}

const DSA_REASON: &str = "DSA keys are insecure and not supported by oxssh";
const SK_REASON: &str = "security-key host keys are not supported by oxssh yet";
const XMSS_REASON: &str = "XMSS keys are not supported by oxssh";

impl KeyType {
    /// Every type, in scan order: the default when no `-t` is given.
    pub const ALL: [Self; 3] = [Self::Rsa, Self::Ecdsa, Self::Ed25519];

    /// The short name used with `-t`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa => "rsa",
            Self::Ecdsa => "ecdsa",
            Self::Ed25519 => "ed25519",
        }
    }

    /// The host-key algorithms offered when fetching this type, in ssh-keyscan's order.
    /// `ssh-rsa` (SHA-1) is offered last, as ssh-keyscan does, so keys of old servers
    /// can still be fetched; modern servers pick an rsa-sha2 algorithm first.
    pub fn host_key_algorithms(self) -> &'static [&'static str] {
        match self {
            Self::Rsa => &[key::RSA_SHA2_512, key::RSA_SHA2_256, key::SSH_RSA],
            Self::Ecdsa => &[
                key::ECDSA_SHA2_NISTP256,
                key::ECDSA_SHA2_NISTP384,
                key::ECDSA_SHA2_NISTP521,
            ],
            Self::Ed25519 => &[key::SSH_ED25519],
        }
    }

    /// The certificate algorithms offered for this type with `-c`, in ssh-keyscan's
    /// order.
    pub fn certificate_algorithms(self) -> &'static [&'static str] {
        match self {
            Self::Rsa => &[
                "rsa-sha2-512-cert-v01@openssh.com",
                "rsa-sha2-256-cert-v01@openssh.com",
                "ssh-rsa-cert-v01@openssh.com",
            ],
            Self::Ecdsa => &[
                "ecdsa-sha2-nistp256-cert-v01@openssh.com",
                "ecdsa-sha2-nistp384-cert-v01@openssh.com",
                "ecdsa-sha2-nistp521-cert-v01@openssh.com",
            ],
            Self::Ed25519 => &["ssh-ed25519-cert-v01@openssh.com"],
        }
    }

    /// Whether `public` is a key of this type (a server must not answer an RSA scan
    /// with another kind of key; checked even though the transport negotiated it).
    pub fn matches(self, public: &PublicKey) -> bool {
        let name = public.key_type();
        match self {
            Self::Rsa => name == key::SSH_RSA,
            Self::Ecdsa => self.host_key_algorithms().contains(&name),
            Self::Ed25519 => name == key::SSH_ED25519,
        }
    }

    /// Parses one `-t` name as OpenSSH's `sshkey_type_from_name()` does: short names
    /// case-insensitively, full algorithm names exactly; certificate names are unknown.
    pub fn from_name(name: &str) -> Result<Self, KeyTypeError> {
        let short = name.to_ascii_lowercase();
        let kind = match short.as_str() {
            "rsa" => Some(Self::Rsa),
            "ecdsa" => Some(Self::Ecdsa),
            "ed25519" => Some(Self::Ed25519),
            _ => None,
        };
        if let Some(kind) = kind {
            return Ok(kind);
        }
        if let Some(kind) = Self::ALL
            .into_iter()
            .find(|kind| kind.host_key_algorithms().contains(&name))
        {
            return Ok(kind);
        }
        let unsupported = |reason| KeyTypeError::Unsupported {
            name: name.to_owned(),
            reason,
        };
        match (short.as_str(), name) {
            ("dsa", _) | (_, "ssh-dss") => Err(unsupported(DSA_REASON)),
            ("ecdsa-sk" | "ed25519-sk", _)
            | (_, "sk-ecdsa-sha2-nistp256@openssh.com" | "sk-ssh-ed25519@openssh.com") => {
                Err(unsupported(SK_REASON))
            }
            ("xmss", _) | (_, "ssh-xmss@openssh.com") => Err(unsupported(XMSS_REASON)),
            _ => Err(KeyTypeError::Unknown(name.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_case_insensitive_and_full_names_exact() {
        assert_eq!(KeyType::from_name("RSA"), Ok(KeyType::Rsa));
        assert_eq!(KeyType::from_name("Ed25519"), Ok(KeyType::Ed25519));
        assert_eq!(KeyType::from_name("rsa-sha2-256"), Ok(KeyType::Rsa));
        assert_eq!(
            KeyType::from_name("ecdsa-sha2-nistp384"),
            Ok(KeyType::Ecdsa)
        );
        assert_eq!(
            KeyType::from_name("SSH-ED25519"),
            Err(KeyTypeError::Unknown("SSH-ED25519".into()))
        );
    }

    #[test]
    fn refuses_dsa_security_keys_and_certificates() {
        for name in ["dsa", "DSA", "ssh-dss"] {
            let err = KeyType::from_name(name).unwrap_err();
            assert!(err.to_string().contains("DSA"), "{err}");
        }
        assert!(matches!(
            KeyType::from_name("ecdsa-sk"),
            Err(KeyTypeError::Unsupported { .. })
        ));
        assert_eq!(
            KeyType::from_name("ssh-rsa-cert-v01@openssh.com")
                .unwrap_err()
                .to_string(),
            "Unknown key type \"ssh-rsa-cert-v01@openssh.com\""
        );
    }

    #[test]
    fn rsa_offers_sha2_before_sha1_like_ssh_keyscan() {
        assert_eq!(
            KeyType::Rsa.host_key_algorithms(),
            ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
        );
        assert_eq!(KeyType::Ed25519.host_key_algorithms(), ["ssh-ed25519"]);
    }
}
