//! Who may log in, and with what: the server's authentication policy (the `Privileged`
//! side of DESIGN.md's process model). It looks users up, applies `AllowUsers`,
//! `DenyUsers`, `AllowGroups`, `DenyGroups` and `PermitRootLogin`, finds offered keys in
//! the user's `AuthorizedKeysFile`s (with `StrictModes` and the key options `from=` and
//! `expiry-time=`), and checks passwords and keyboard-interactive answers through PAM.
//! The sans-IO core has already verified signatures; this only decides.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oxssh_config::sshd::{ConnectionContext, PermitRootLogin, SshdConfig};
use oxssh_keys::authorized_keys::{parse_file, AuthorizedKey};
use oxssh_keys::{KeyOptions, PublicKey};
use oxssh_os::SystemUser;

use super::settings::Settings;

/// Longest authorized_keys file read (sshd reads any size; a bound keeps a huge file
/// from taking the server's memory).
const MAX_AUTHORIZED_KEYS: u64 = 4 * 1024 * 1024;

/// A user the client named, looked up once per connection.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// The account.
    pub user: SystemUser,
    /// The configuration with `Match` applied for this user and connection.
    pub config: Arc<SshdConfig>,
    /// Why this user may not log in at all (sshd's log text), if so.
    pub refused: Option<String>,
    /// The user's group ids (`getgrouplist`, primary first) as looked up for `Match Group`
    /// and `AllowGroups`; the session gets the same list, so the group database is read
    /// once per login. `None` when the lookup failed (the session then retries it).
    pub group_ids: Option<Vec<u32>>,
}

/// Where a connection comes from and arrives, for `Match` and the log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoints {
    pub peer: SocketAddr,
    pub local: SocketAddr,
}

impl Endpoints {
    /// The `Match` context, with `user` and their groups when known.
    pub fn context(&self, user: Option<(&str, Vec<String>)>) -> ConnectionContext {
        let (user, groups) = match user {
            Some((u, g)) => (Some(u.to_owned()), Some(g)),
            None => (None, None),
        };
        ConnectionContext {
            user,
            groups,
            host: Some(self.peer.ip().to_string()),
            address: Some(self.peer.ip().to_string()),
            local_address: Some(self.local.ip().to_string()),
            local_port: Some(self.local.port()),
            rdomain: None,
        }
    }
}

/// Looks `name` up; `None` when no such user exists (sshd: "Invalid user").
pub(crate) fn candidate(settings: &Settings, name: &str, ends: Endpoints) -> Option<Candidate> {
    let user = match &settings.personal {
        // The owner of a personal server, as they see themselves (`HOME`, `SHELL`).
        Some(owner) if owner.name == name => owner.clone(),
        _ if !settings.serve_others => return None,
        _ => match SystemUser::by_name(name) {
            Ok(Some(user)) => user,
            _ => return None,
        },
    };
    let group_ids = user.group_ids().ok();
    let groups = group_ids
        .as_deref()
        .and_then(|ids| oxssh_os::user::group_names(ids).ok())
        .unwrap_or_default();
    let config = settings.for_connection(&ends.context(Some((name, groups.clone()))));
    let refused = refusal(&config, &user, &groups, ends);
    Some(Candidate {
        user,
        config,
        refused,
        group_ids,
    })
}

/// sshd's `allowed_user`: the account's shell, then the user and group lists.
fn refusal(
    config: &SshdConfig,
    user: &SystemUser,
    groups: &[String],
    ends: Endpoints,
) -> Option<String> {
    let name = user.name.as_str();
    let ip = ends.peer.ip().to_string();
    let shell = user.login_shell();
    if !is_executable(shell) {
        return Some(format!(
            "User {name} not allowed because shell {} does not exist",
            shell.display()
        ));
    }
    let user_matches = |pattern: &String| {
        oxssh_config::match_user(Some(name), Some(&ip), Some(&ip), pattern).unwrap_or(false)
    };
    if config.deny_users.iter().any(user_matches) {
        return Some(format!(
            "User {name} from {ip} not allowed because listed in DenyUsers"
        ));
    }
    if !config.allow_users.is_empty() && !config.allow_users.iter().any(user_matches) {
        return Some(format!(
            "User {name} from {ip} not allowed because not listed in AllowUsers"
        ));
    }
    let in_group = |pattern: &String| {
        groups
            .iter()
            .any(|g| oxssh_config::match_pattern(g, pattern))
    };
    if config.deny_groups.iter().any(in_group) {
        return Some(format!(
            "User {name} from {ip} not allowed because a group is listed in DenyGroups"
        ));
    }
    if !config.allow_groups.is_empty() && !config.allow_groups.iter().any(in_group) {
        return Some(format!(
            "User {name} from {ip} not allowed because none of user's groups are listed in AllowGroups"
        ));
    }
    None
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Which root logins `PermitRootLogin` allows for a method.
pub(crate) fn root_allowed(
    config: &SshdConfig,
    user: &SystemUser,
    by_key: bool,
    forced: bool,
) -> bool {
    if user.uid != 0 {
        return true;
    }
    match config.permit_root_login {
        PermitRootLogin::Yes => true,
        PermitRootLogin::ProhibitPassword => by_key,
        PermitRootLogin::ForcedCommandsOnly => by_key && forced,
        PermitRootLogin::No => false,
    }
}

/// The authorized_keys line that lets `key` in for `candidate`, if any: the first line
/// with this key whose options accept this connection (sshd moves on to the next line
/// when `from=` or `expiry-time=` refuses one).
pub(crate) fn find_authorized_key(
    candidate: &Candidate,
    key: &PublicKey,
    ends: Endpoints,
) -> Option<KeyOptions> {
    first_acceptable_line(candidate, ends, false, |entry| entry.authorizes(key))
}

/// The options of the first `cert-authority` line in the user's authorized_keys files
/// that trusts `ca` and whose `from=` and `expiry-time=` accept this connection (the
/// line's own `principals=` check is the caller's).
pub(crate) fn find_cert_authority(
    candidate: &Candidate,
    ca: &PublicKey,
    ends: Endpoints,
) -> Option<KeyOptions> {
    first_acceptable_line(candidate, ends, true, |entry| entry.trusts_ca(ca))
}

/// Walks the user's authorized_keys files in order and returns the options of the first
/// line that `wanted` picks and whose options accept this connection.
fn first_acceptable_line(
    candidate: &Candidate,
    ends: Endpoints,
    as_ca: bool,
    wanted: impl Fn(&AuthorizedKey) -> bool,
) -> Option<KeyOptions> {
    let user = &candidate.user;
    let home = user.home.to_string_lossy();
    for path in candidate
        .config
        .authorized_keys_paths(&user.name, user.uid, &home)
    {
        let path = PathBuf::from(path);
        let Some(text) = read_authorized_keys(&path, candidate) else {
            continue;
        };
        for (line, entry) in parse_file(&text) {
            match entry {
                Ok(entry) if wanted(&entry) => {
                    if let Some(options) = line_acceptable(&entry, ends, &path, line, as_ca) {
                        return Some(options);
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::debug!("{}:{line}: {e}", path.display()),
            }
        }
    }
    None
}

/// Reads one authorized_keys file, after the `StrictModes` checks on the opened file.
pub(crate) fn read_authorized_keys(path: &Path, candidate: &Candidate) -> Option<String> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            tracing::debug!(
                "Could not open user '{}' authorized keys '{}': {e}",
                candidate.user.name,
                path.display()
            );
            return None;
        }
    };
    if candidate.config.strict_modes {
        if let Err(e) =
            oxssh_keys::check_secure_file(&file, path, candidate.user.uid, &candidate.user.home)
        {
            tracing::info!("Authentication refused: {e}");
            return None;
        }
    }
    let mut text = String::new();
    match file.take(MAX_AUTHORIZED_KEYS).read_to_string(&mut text) {
        Ok(_) => Some(text),
        Err(e) => {
            tracing::info!("{}: {e}", path.display());
            None
        }
    }
}

/// The line's options, when they let this connection in (`for_cert`: a
/// `cert-authority` line, where `principals=` belongs).
fn line_acceptable(
    entry: &AuthorizedKey,
    ends: Endpoints,
    path: &Path,
    line: usize,
    for_cert: bool,
) -> Option<KeyOptions> {
    let options = &entry.options;
    let ip = ends.peer.ip().to_string();
    if let Some(patterns) = options.from_patterns() {
        match oxssh_config::match_host_and_ip(Some(&ip), Some(&ip), patterns) {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(
                    "Authentication tried with key in {} line {line} from {ip}: not allowed by from=",
                    path.display()
                );
                return None;
            }
            Err(_) => {
                tracing::info!("{} line {line}: bad from= pattern list", path.display());
                return None;
            }
        }
    }
    if options.principals().is_some() && !for_cert {
        // principals= only makes sense on cert-authority lines.
        tracing::info!("{} line {line}: principals= on a plain key", path.display());
        return None;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default();
    // Local time is UTC on these servers; an expiry without `Z` is read the same.
    if options.is_expired(now, 0) {
        tracing::info!("{} line {line}: key has expired", path.display());
        return None;
    }
    Some(options.clone())
}
