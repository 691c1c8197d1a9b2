//! The server's log lines: OpenSSH's wording for connections, authentication results
//! (with key fingerprints) and sessions, so existing log tooling (fail2ban's sshd filter)
//! reads them; with `--log-format json`, the same events as structured fields
//! (`event`, `result`, `user`, `method`, `addr`, `port`, ...) on one JSON line each.
//! Nothing secret is ever logged.

use oxssh_keys::certificate::Certificate;
use oxssh_keys::{HashAlg, PublicKey};

use super::auth::Endpoints;
use super::conn::Run;
use super::logging::VERBOSE;
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
            target: VERBOSE,
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

/// Who tried to authenticate, and how.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt<'a> {
    /// The user name the client sent.
    pub user: &'a str,
    /// No account has that name.
    pub invalid: bool,
    /// `publickey`, `password`, `keyboard-interactive`.
    pub method: &'a str,
    /// The key, for `publickey`.
    pub key: Option<UsedKey<'a>>,
}

/// A successful authentication.
pub(crate) fn accepted(
    settings: &Settings,
    ends: Endpoints,
    user: &str,
    method: &str,
    key: Option<UsedKey<'_>>,
) {
    let attempt = Attempt {
        user,
        invalid: false,
        method,
        key,
    };
    auth_result(settings, ends, attempt, true, true);
}

/// A key the client offered is acceptable; it will sign next (sshd logs it from its
/// pre-authentication child, hence `[preauth]`).
pub(crate) fn postponed(settings: &Settings, ends: Endpoints, user: &str, method: &str) {
    if !settings.json_log {
        let (addr, port) = (ends.peer.ip(), ends.peer.port());
        tracing::info!(
            target: VERBOSE,
            "Postponed {method} for {user} from {addr} port {port} ssh2 [preauth]"
        );
    }
}

/// A failed attempt after `failures` earlier ones. As sshd's `auth_log`, it is an INFO
/// line for an invalid user, a password, or once half of `max_auth_tries` have failed;
/// otherwise (say a key the client merely tried) a VERBOSE one.
pub(crate) fn failed(
    settings: &Settings,
    ends: Endpoints,
    attempt: Attempt<'_>,
    failures: u32,
    max_auth_tries: u32,
) {
    let loud = attempt.invalid || attempt.method == "password" || failures >= max_auth_tries / 2;
    auth_result(settings, ends, attempt, false, loud);
}

fn auth_result(
    settings: &Settings,
    ends: Endpoints,
    attempt: Attempt<'_>,
    accepted: bool,
    loud: bool,
) {
    let Attempt {
        user,
        invalid,
        method,
        key: used,
    } = attempt;
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
    let line = match (key, fingerprint, cert) {
        // sshd: `ED25519-CERT SHA256:... ID keyid (serial N) CA ED25519 SHA256:...`.
        (Some(key), Some(fp), Some(cert)) => format!(
            "{verdict} {method} for {who} from {addr} port {port} ssh2: {}-CERT {fp} {}",
            key_label(key),
            super::certauth::describe(cert)
        ),
        (Some(key), Some(fp), None) => format!(
            "{verdict} {method} for {who} from {addr} port {port} ssh2: {} {fp}",
            key_label(key)
        ),
        _ => format!("{verdict} {method} for {who} from {addr} port {port} ssh2"),
    };
    if loud {
        tracing::info!("{line}");
    } else {
        tracing::info!(target: VERBOSE, "{line}");
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
        tracing::info!(
            target: VERBOSE,
            "Starting session: {kind} for {user} from {addr} port {port} id {id}"
        );
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
