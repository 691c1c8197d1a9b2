//! What a server's authentication allows: the methods (`AuthenticationMethods`), the
//! sshd_config settings the core enforces, and the zeroized client secrets it hands on.

use std::time::Duration;

use oxssh_wire::names::key;
use zeroize::Zeroizing;

/// An authentication method a server can require (RFC 4252 §5, RFC 4256).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `publickey`
    PublicKey,
    /// `password`
    Password,
    /// `keyboard-interactive`
    KeyboardInteractive,
}

impl Method {
    /// Every method, in the order OpenSSH lists them in USERAUTH_FAILURE.
    pub const ALL: [Method; 3] = [Self::PublicKey, Self::Password, Self::KeyboardInteractive];

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Self::PublicKey => oxssh_wire::userauth::method::PUBLICKEY,
            Self::Password => oxssh_wire::userauth::method::PASSWORD,
            Self::KeyboardInteractive => oxssh_wire::userauth::method::KEYBOARD_INTERACTIVE,
        }
    }

    /// The method named `name`, if it is one of ours.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// sshd's `AuthenticationMethods`: either any one enabled method suffices, or the user
/// must complete every method of at least one list, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AuthenticationMethods {
    /// `any`: one successful method authenticates.
    #[default]
    Any,
    /// Method sequences; completing one sequence authenticates.
    Lists(Vec<Vec<Method>>),
}

impl AuthenticationMethods {
    /// Parses sshd_config syntax: `any`, or space-separated lists of comma-separated
    /// methods (`publickey,password publickey,keyboard-interactive`).
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let text = text.trim();
        if text == "any" {
            return Ok(Self::Any);
        }
        let lists = text
            .split_whitespace()
            .map(|list| {
                list.split(',')
                    .map(|name| Method::from_name(name).ok_or("unknown authentication method"))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        if lists.is_empty() {
            return Err("empty authentication method list");
        }
        Ok(Self::Lists(lists))
    }
}

/// Server authentication settings, named after their sshd_config keywords.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `AuthenticationMethods` (default `any`).
    pub authentication_methods: AuthenticationMethods,
    /// `PubkeyAuthentication` (default yes).
    pub pubkey_authentication: bool,
    /// `PasswordAuthentication` (default yes).
    pub password_authentication: bool,
    /// `KbdInteractiveAuthentication` (default yes).
    pub kbd_interactive_authentication: bool,
    /// `PubkeyAcceptedAlgorithms`: signature algorithms a user key may sign with.
    pub pubkey_accepted_algorithms: Vec<String>,
    /// `MaxAuthTries` (default 6): failures after which the connection ends.
    pub max_auth_tries: u32,
    /// `LoginGraceTime` (default 120 s; `None` for no limit).
    pub login_grace_time: Option<Duration>,
    /// `Banner`: text sent before the first answer (USERAUTH_BANNER).
    pub banner: Option<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            authentication_methods: AuthenticationMethods::Any,
            pubkey_authentication: true,
            password_authentication: true,
            kbd_interactive_authentication: true,
            pubkey_accepted_algorithms: [
                key::SSH_ED25519,
                key::ECDSA_SHA2_NISTP256,
                key::ECDSA_SHA2_NISTP384,
                key::ECDSA_SHA2_NISTP521,
                key::RSA_SHA2_512,
                key::RSA_SHA2_256,
            ]
            .iter()
            .map(|n| (*n).to_owned())
            .collect(),
            max_auth_tries: 6,
            login_grace_time: Some(Duration::from_secs(120)),
            banner: None,
        }
    }
}

impl AuthConfig {
    pub(crate) fn enabled(&self, method: Method) -> bool {
        match method {
            Method::PublicKey => self.pubkey_authentication,
            Method::Password => self.password_authentication,
            Method::KeyboardInteractive => self.kbd_interactive_authentication,
        }
    }
}

/// A secret from the client (password, keyboard-interactive answer): zeroized on drop,
/// redacted in `Debug`, compared in constant time.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub(crate) fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// The text, for the policy that checks it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        // Constant time in the contents; only the length may show.
        a.len() == b.len()
            && std::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
    }
}

impl Eq for Secret {}
