//! Server configuration (`sshd_config(5)`), read as OpenSSH 9.2's `sshd` reads it: the same
//! keywords and aliases, quoting, `Include` globs, `Match` blocks (`User`, `Group`, `Host`,
//! `Address`, `LocalAddress`, `LocalPort`, `RDomain`, `All`, with `!` negation), the first
//! value winning, `+ - ^` algorithm-list edits, sshd's error messages with file and line, and
//! `sshd -T` output.
//!
//! ```
//! use oxssh_config::sshd::{ConnectionContext, SshdConfig};
//! use oxssh_config::{AlgorithmLists, MemoryEnv};
//!
//! let env = MemoryEnv::new().with_file(
//!     "/etc/oxssh/sshd_config",
//!     "Port 2222\nPasswordAuthentication no\nMatch User backup Address 10.0.0.0/8\n  ForceCommand /usr/bin/backup\n",
//! );
//! let config = SshdConfig::load(&env, "/etc/oxssh/sshd_config", &AlgorithmLists::openssh_9_2())?;
//! assert_eq!(config.ports, vec![2222]);
//! assert!(!config.password_authentication);
//! assert!(config.dump().contains("\nport 2222\n") || config.dump().starts_with("port 2222\n"));
//!
//! let conn = ConnectionContext {
//!     user: Some("backup".into()),
//!     address: Some("10.1.2.3".into()),
//!     ..ConnectionContext::default()
//! };
//! let per_connection = config.for_connection(&conn);
//! assert_eq!(per_connection.force_command.as_deref(), Some("/usr/bin/backup"));
//! # Ok::<(), oxssh_config::sshd::SshdConfigError>(())
//! ```
//!
//! Relative `Include` paths are taken from the main configuration file's directory (sshd
//! uses `/etc/ssh`; for oxsshd, whose file may live in `/etc/oxssh` or anywhere with `-f`,
//! the including file's directory is the useful anchor). Everything touching files goes
//! through a [`ConfigEnv`]; algorithm names come from the caller's [`AlgorithmLists`].
//!
//! Keywords oxsshd does not implement yet are parsed and validated like sshd; see
//! [`keyword::SshdSupport`] for what happens when one is set.

mod dump;
pub mod keyword;
mod matching;
mod parse;
mod reader;
mod resolve;
mod types;

use std::sync::Arc;

use crate::algorithms::AlgorithmLists;
use crate::env::ConfigEnv;

use keyword::SshdSupport;
use reader::{Entry, Reader, Store};

pub use types::{
    AddressFamily, AllowForwarding, ConnectionContext, GatewayPorts, ListenAddress, LogLevel,
    MaxStartups, NotActedOn, PermitRootLogin, PermitUserEnvironment, RekeyLimit, SshdConfigError,
    SshdErrorKind, Subsystem, SyslogFacility,
};

/// Everything needed to re-apply `Match` blocks for a connection.
#[derive(Debug)]
struct Source {
    entries: Vec<Entry>,
    conds: Vec<matching::MatchCond>,
    base: Store,
    algs: AlgorithmLists,
}

/// A resolved server configuration: sshd's defaults filled in, and (after
/// [`SshdConfig::for_connection`]) the matching `Match` blocks applied.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SshdConfig {
    /// `Port` (default 22).
    pub ports: Vec<u16>,
    /// `AddressFamily`.
    pub address_family: AddressFamily,
    /// The addresses to listen on: every `ListenAddress` without a port combined with every
    /// `Port`; without `ListenAddress`, the wildcard addresses of the address family.
    pub listen_addresses: Vec<ListenAddress>,
    /// `HostKey` paths (sshd's three defaults when none is given).
    pub host_keys: Vec<String>,
    /// `PidFile`.
    pub pid_file: String,
    /// `LoginGraceTime` in seconds (0: no limit).
    pub login_grace_time: u32,
    /// `MaxStartups`.
    pub max_startups: MaxStartups,
    /// `MaxAuthTries`.
    pub max_auth_tries: u32,
    /// `MaxSessions`.
    pub max_sessions: u32,
    /// `ClientAliveInterval` in seconds (0: off).
    pub client_alive_interval: u32,
    /// `ClientAliveCountMax`.
    pub client_alive_count_max: u32,
    /// `LogLevel`.
    pub log_level: LogLevel,
    /// `SyslogFacility`.
    pub syslog_facility: SyslogFacility,
    /// `PermitRootLogin`.
    pub permit_root_login: PermitRootLogin,
    /// `PubkeyAuthentication`.
    pub pubkey_authentication: bool,
    /// `PasswordAuthentication`.
    pub password_authentication: bool,
    /// `KbdInteractiveAuthentication` (alias `ChallengeResponseAuthentication`).
    pub kbd_interactive_authentication: bool,
    /// `PermitEmptyPasswords`.
    pub permit_empty_passwords: bool,
    /// `UsePAM`.
    pub use_pam: bool,
    /// `AuthorizedKeysFile` patterns as written (`none` disables); see
    /// [`SshdConfig::authorized_keys_paths`].
    pub authorized_keys_files: Vec<String>,
    /// `AuthenticationMethods`: each entry a comma-separated list of methods that together
    /// authenticate; `["any"]` by default.
    pub authentication_methods: Vec<String>,
    /// `StrictModes`.
    pub strict_modes: bool,
    /// `PermitUserEnvironment`.
    pub permit_user_environment: PermitUserEnvironment,
    /// `AcceptEnv` patterns.
    pub accept_env: Vec<String>,
    /// `SetEnv` `NAME=value` pairs.
    pub set_env: Vec<String>,
    /// `Banner` path (`None` for `none`).
    pub banner: Option<String>,
    /// `PrintMotd`.
    pub print_motd: bool,
    /// `PrintLastLog`.
    pub print_last_log: bool,
    /// `TCPKeepAlive`.
    pub tcp_keep_alive: bool,
    /// `UseDNS`.
    pub use_dns: bool,
    /// `Compression` (`delayed` is `yes`).
    pub compression: bool,
    /// `RekeyLimit`.
    pub rekey_limit: RekeyLimit,
    /// `PermitTTY`.
    pub permit_tty: bool,
    /// `PermitUserRC`: whether `~/.ssh/rc` runs before a session.
    pub permit_user_rc: bool,
    /// `ForceCommand` (`None` for `none`).
    pub force_command: Option<String>,
    /// `ChrootDirectory` (`None` for `none`), tokens (`~`, `%h`, `%u`, `%U`, `%%`) not yet
    /// expanded.
    pub chroot_directory: Option<String>,
    /// `TrustedUserCAKeys`: the file of CA keys trusted to sign user certificates
    /// (`None` for `none`), tokens not yet expanded.
    pub trusted_user_ca_keys: Option<String>,
    /// `RevokedKeys`: a file of revoked public keys (`None` for `none`).
    pub revoked_keys: Option<String>,
    /// `AuthorizedPrincipalsFile` (`None` for `none`), tokens not yet expanded.
    pub authorized_principals_file: Option<String>,
    /// `HostCertificate` files, in order; each names the certificate of a `HostKey`.
    pub host_certificates: Vec<String>,
    /// `Subsystem` lines.
    pub subsystems: Vec<Subsystem>,
    /// `AllowAgentForwarding`.
    pub allow_agent_forwarding: bool,
    /// `AllowTcpForwarding`.
    pub allow_tcp_forwarding: AllowForwarding,
    /// `GatewayPorts`.
    pub gateway_ports: GatewayPorts,
    /// `PermitOpen` entries as written (`any` when not set; `none` forbids all).
    pub permit_open: Vec<String>,
    /// `PermitListen` entries as written (`any` when not set; `none` forbids all).
    pub permit_listen: Vec<String>,
    /// `AllowStreamLocalForwarding`.
    pub allow_stream_local_forwarding: AllowForwarding,
    /// `StreamLocalBindUnlink`: remove an existing socket file before binding a
    /// remote-forwarded socket.
    pub stream_local_bind_unlink: bool,
    /// `StreamLocalBindMask`: the umask a remote-forwarded socket is created with.
    pub stream_local_bind_mask: u32,
    /// `DisableForwarding`: no forwarding of any kind, whatever else says.
    pub disable_forwarding: bool,
    /// `AllowUsers` patterns (`user` or `user@host`).
    pub allow_users: Vec<String>,
    /// `DenyUsers` patterns.
    pub deny_users: Vec<String>,
    /// `AllowGroups` patterns.
    pub allow_groups: Vec<String>,
    /// `DenyGroups` patterns.
    pub deny_groups: Vec<String>,
    /// `Ciphers`, assembled from the caller's defaults.
    pub ciphers: Vec<String>,
    /// `MACs`.
    pub macs: Vec<String>,
    /// `KexAlgorithms`.
    pub kex_algorithms: Vec<String>,
    /// `HostKeyAlgorithms`.
    pub host_key_algorithms: Vec<String>,
    /// `PubkeyAcceptedAlgorithms` (alias `PubkeyAcceptedKeyTypes`).
    pub pubkey_accepted_algorithms: Vec<String>,
    /// `CASignatureAlgorithms`: algorithms a CA may sign certificates with.
    pub ca_signature_algorithms: Vec<String>,
    /// `HostbasedAcceptedAlgorithms` (printed by `-T`; host-based auth is refused).
    pub hostbased_accepted_algorithms: Vec<String>,
    /// Settings accepted but not acted on (e.g. Debian's stock `X11Forwarding yes`), for the
    /// program to print at start-up. Includes lines inside `Match` blocks.
    pub not_acted_on: Vec<NotActedOn>,
    /// Messages sshd logs without failing (`Deprecated option ...`).
    pub warnings: Vec<String>,
    /// The options as set, for `-T` lines of keywords without a typed field.
    store: Store,
    source: Arc<Source>,
}

impl SshdConfig {
    /// Reads `path` (and its includes) as `sshd -t` does, with the caller's algorithm lists
    /// as defaults. Errors carry sshd's messages with the file and line.
    pub fn load(
        env: &dyn ConfigEnv,
        path: &str,
        defaults: &AlgorithmLists,
    ) -> Result<SshdConfig, SshdConfigError> {
        Self::load_with_options(env, path, defaults, &[])
    }

    /// [`SshdConfig::load`] with sshd's `-o keyword=value` (or `keyword value`) options,
    /// which come before the file and so override it.
    pub fn load_with_options(
        env: &dyn ConfigEnv,
        path: &str,
        defaults: &AlgorithmLists,
        command_line: &[String],
    ) -> Result<SshdConfig, SshdConfigError> {
        let base_dir = match path.rfind('/') {
            Some(0) => "/".to_string(),
            Some(i) => path.get(..i).unwrap_or(".").to_string(),
            None => ".".to_string(),
        };
        let mut r = Reader {
            env,
            algs: defaults,
            base_dir,
            entries: Vec::new(),
            conds: Vec::new(),
            store: Store::default(),
            warnings: Vec::new(),
        };
        r.read_command_line(command_line)?;
        r.read_file(path, &[], 0)?;
        let not_acted_on = check_support(&r.entries)?;
        resolve::check_algorithms(&r.entries, defaults)?;
        let source = Arc::new(Source {
            entries: r.entries,
            conds: r.conds,
            base: r.store.clone(),
            algs: defaults.clone(),
        });
        let mut config = resolve::resolve(r.store, source)?;
        config.not_acted_on = not_acted_on;
        config.warnings = r.warnings;
        Ok(config)
    }

    /// The configuration for one connection: the main section with every matching `Match`
    /// block applied. Within the `Match` blocks the first value wins, and it overrides the
    /// main section's; list keywords (`AllowUsers`, `AcceptEnv`, ...) set in matching blocks
    /// replace the main section's lists, as sshd's `copy_set_server_options` does.
    pub fn for_connection(&self, ctx: &ConnectionContext) -> SshdConfig {
        self.matched(ctx).unwrap_or_else(|| self.clone())
    }

    /// [`SshdConfig::for_connection`] when at least one `Match` block applies to `ctx`;
    /// `None` when the main section alone holds, so callers can share it.
    pub fn matched(&self, ctx: &ConnectionContext) -> Option<SshdConfig> {
        let src = &self.source;
        let mut m = Store::default();
        let mut any = false;
        for e in &src.entries {
            let applies = !e.chain.is_empty()
                && e.chain
                    .iter()
                    .all(|i| src.conds.get(*i).is_some_and(|c| c.matches(Some(ctx))));
            if applies {
                any = true;
                // Only Subsystem can fail to apply, and it is not allowed inside Match.
                let _ = m.apply(e);
            }
        }
        if !any {
            return None;
        }
        let mut store = src.base.clone();
        for (k, v) in m.0 {
            store.0.insert(k, v);
        }
        match resolve::resolve(store, Arc::clone(src)) {
            Ok(mut c) => {
                c.not_acted_on.clone_from(&self.not_acted_on);
                c.warnings.clone_from(&self.warnings);
                Some(c)
            }
            // Every algorithm entry was assembled once at load, so this cannot fail; keep
            // the main section's settings if it somehow does.
            Err(_) => None,
        }
    }

    /// The `AuthorizedKeysFile` paths for a user: `%h` (home), `%u` (user), `%U` (uid) and
    /// `%%` expanded, relative paths taken from the home directory; `none` gives nothing.
    pub fn authorized_keys_paths(&self, user: &str, uid: u32, home: &str) -> Vec<String> {
        self.authorized_keys_files
            .iter()
            .filter(|f| f.as_str() != "none")
            .map(|f| expand_user_path(f, user, uid, home))
            .collect()
    }

    /// The `AuthorizedPrincipalsFile` path for a user, expanded as
    /// [`SshdConfig::authorized_keys_paths`]; `None` for `none`.
    pub fn authorized_principals_path(&self, user: &str, uid: u32, home: &str) -> Option<String> {
        self.authorized_principals_file
            .as_deref()
            .map(|f| expand_user_path(f, user, uid, home))
    }
}

/// sshd's `expand_authorized_keys`: `%h`, `%u`, `%U`, `%%`, then relative to the home.
fn expand_user_path(pattern: &str, user: &str, uid: u32, home: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(home),
            Some('u') => out.push_str(user),
            Some('U') => out.push_str(&uid.to_string()),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    if out.starts_with('/') {
        out
    } else {
        format!("{}/{out}", home.trim_end_matches('/'))
    }
}

/// Applies the support policy of [`keyword::SSHD_KEYWORDS`] to every line (active or inside
/// any `Match` block): refused settings fail, the others are listed.
fn check_support(entries: &[Entry]) -> Result<Vec<NotActedOn>, SshdConfigError> {
    let mut noted = Vec::new();
    for e in entries {
        let value = e.text.to_ascii_lowercase();
        match e.info.support {
            SshdSupport::Supported => {}
            SshdSupport::NotActedOn { inert } => {
                if !inert.contains(&value.as_str()) {
                    noted.push(NotActedOn {
                        file: e.file.clone(),
                        line: e.line,
                        keyword: e.info.name,
                        value: e.text.clone(),
                    });
                }
            }
            SshdSupport::Refused { inert } => {
                if !inert.contains(&value.as_str()) {
                    return Err(SshdConfigError::fatal(
                        SshdErrorKind::NotSupported,
                        Some((e.file.clone(), e.line)),
                        format!(
                            "{} line {}: {} {} is not supported by oxsshd yet",
                            e.file, e.line, e.info.name, e.text
                        ),
                    ));
                }
            }
        }
    }
    Ok(noted)
}

#[cfg(test)]
mod tests;
