//! The server's log lines: OpenSSH's wording for connections, authentication results
//! (with key fingerprints) and sessions, so existing log tooling (fail2ban's sshd filter)
//! reads them; with `--log-format json`, the same events as structured fields
//! (`event`, `result`, `user`, `method`, `addr`, `port`, ...) on one JSON line each.
//! Nothing secret is ever logged.

use oxssh_keys::certificate::Certificate;
use oxssh_keys::{HashAlg, PublicKey};

use super::auth::Endpoints;
use super::conn::Run;
use super::settings::Settings;

/// OpenSSH's short name for a key type in log lines (`sshkey_type`).
pub(crate) fn key_label(key: &PublicKey) -> &'static str {
    let t = key.key_type();
    if t.contains("ed25519") {
        "ED25519"
    } else if t.starts_with("ecdsa") {
        "ECDSA"
    } else if t.contains("rsa") {
        "RSA"
    } else {
        "UNKNOWN"
    }
}

/// A new connection.
pub(crate) fn connection(settings: &Settings, ends: Endpoints) {
    let (addr, port) = (ends.peer.ip(), ends.peer.port());
    if settings.json_log {
        tracing::info!(event = "connection", addr = %addr, port, local_addr = %ends.local.ip(), local_port = ends.local.port());
    } else {
        tracing::info!(
            "Connection from {addr} port {port} on {} port {} rdomain \"\"",
            ends.local.ip(),
            ends.local.port()
        );
    }
}

/// A user name with no account behind it.
pub(crate) fn invalid_user(settings: &Settings, ends: Endpoints, user: &str) {
    let (addr, port) = (ends.peer.ip(), ends.peer.port());
    if settings.json_log {
        tracing::info!(event = "auth", result = "invalid_user", user, addr = %addr, port);
    } else {
        tracing::info!("Invalid user {user} from {addr} port {port}");
    }
}

/// The key an attempt used: a plain key, or a certificate's key and the certificate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UsedKey<'a> {
    pub key: &'a PublicKey,
    pub cert: Option<&'a Certificate>,
}

/// A successful authentication.
pub(crate) fn accepted(
    settings: &Settings,
    ends: Endpoints,
    user: &str,
    method: &str,
    key: Option<UsedKey<'_>>,
) {
    auth_result(settings, ends, user, false, method, key, true);
}

/// A failed attempt.
pub(crate) fn failed(
    settings: &Settings,
    ends: Endpoints,
    user: &str,
    invalid: bool,
    method: &str,
    key: Option<UsedKey<'_>>,
) {
    auth_result(settings, ends, user, invalid, method, key, false);
}

fn auth_result(
    settings: &Settings,
    ends: Endpoints,
    user: &str,
    invalid: bool,
    method: &str,
    used: Option<UsedKey<'_>>,
    accepted: bool,
) {
    let key = used.map(|u| u.key);
    let cert = used.and_then(|u| u.cert);
    let (addr, port) = (ends.peer.ip(), ends.peer.port());
    let fingerprint = key.map(|k| k.fingerprint(HashAlg::Sha256).to_string());
    if settings.json_log {
        tracing::info!(
            event = "auth",
            result = if accepted { "accepted" } else { "failed" },
            user,
            invalid_user = invalid,
            method,
            addr = %addr,
            port,
            key_type = key.map(key_label),
            fingerprint = fingerprint.as_deref(),
            certificate = cert.map(super::certauth::describe),
        );
        return;
    }
    let verdict = if accepted { "Accepted" } else { "Failed" };
    let who = if invalid {
        format!("invalid user {user}")
    } else {
        user.to_owned()
    };
    match (key, fingerprint) {
        (Some(key), Some(fp)) => match cert {
            // sshd: `ED25519-CERT SHA256:... ID keyid (serial N) CA ED25519 SHA256:...`.
            Some(cert) => tracing::info!(
                "{verdict} {method} for {who} from {addr} port {port} ssh2: {}-CERT {fp} {}",
                key_label(key),
                super::certauth::describe(cert)
            ),
            None => tracing::info!(
                "{verdict} {method} for {who} from {addr} port {port} ssh2: {} {fp}",
                key_label(key)
            ),
        },
        _ => tracing::info!("{verdict} {method} for {who} from {addr} port {port} ssh2"),
    }
}

/// A session started on channel `id`, on the pty `tty` (`pts/3`) if it has one.
pub(crate) fn session_started(
    settings: &Settings,
    ends: Endpoints,
    user: &str,
    run: &Run,
    tty: Option<&str>,
    id: u32,
) {
    let (addr, port) = (ends.peer.ip(), ends.peer.port());
    let mut kind = match run {
        Run::Shell => "shell".to_owned(),
        Run::Command(_) => "command".to_owned(),
        Run::Subsystem(name) => format!("subsystem '{name}'"),
    };
    if let Some(tty) = tty {
        kind.push_str(&format!(" on {tty}"));
    }
    if settings.json_log {
        tracing::info!(event = "session_start", user, kind = %kind, addr = %addr, port, channel = id);
    } else {
        tracing::info!("Starting session: {kind} for {user} from {addr} port {port} id {id}");
    }
}

/// Who the connection was, for its last log line.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Who<'a> {
    /// Logged in as this user.
    User(&'a str),
    /// Tried to log in as this user (invalid: no such account).
    Authenticating { user: &'a str, invalid: bool },
    /// Never named a user.
    Nobody,
}

/// The connection ended, in sshd's words.
pub(crate) fn disconnected(settings: &Settings, ends: Endpoints, who: Who<'_>, reason: &str) {
    let (addr, port) = (ends.peer.ip(), ends.peer.port());
    if settings.json_log {
        let user = match who {
            Who::User(u) | Who::Authenticating { user: u, .. } => Some(u),
            Who::Nobody => None,
        };
        let authenticated = matches!(who, Who::User(_));
        tracing::info!(event = "disconnect", user, authenticated, addr = %addr, port, reason);
        return;
    }
    match who {
        Who::User(user) => {
            tracing::info!("Disconnected from user {user} {addr} port {port}: {reason}");
        }
        Who::Authenticating { user, invalid } => {
            let kind = if invalid { "invalid" } else { "authenticating" };
            tracing::info!(
                "Connection closed by {kind} user {user} {addr} port {port} [preauth]: {reason}"
            );
        }
        Who::Nobody => {
            tracing::info!("Connection closed by {addr} port {port} [preauth]: {reason}");
        }
    }
}
