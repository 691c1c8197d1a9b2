//! The resolved client configuration: every option with its final value, defaults filled in
//! and the tokens OpenSSH expands before `ssh -G` already expanded.
//!
//! Options that OpenSSH expands only when it uses them (IdentityFile, CertificateFile,
//! ProxyCommand, LocalCommand, KnownHostsCommand) stay as written; the helpers here expand
//! them with the same [`TokenContext`].

use crate::env::ConfigEnv;
use crate::error::ConfigError;
use crate::expand::{expansion_fatal, ExpandError, TokenContext};
use crate::forward::{Forward, ProxyJump};
use crate::options::{ConfiguredPath, UnsupportedUse};
use crate::values::{
    AddKeysToAgent, AddressFamily, CanonicalizeHostname, ControlMaster, ControlPersist, Digest,
    EscapeChar, LogLevel, PubkeyAuthentication, RequestTty, SessionType, StrictHostKeyChecking,
    SyslogFacility, TunId, Tunnel, YesNoAsk,
};

/// `ForwardAgent`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardAgent {
    /// No agent forwarding.
    No,
    /// Forward the agent at `SSH_AUTH_SOCK`.
    Yes,
    /// Forward the agent at this socket (`~`, tokens and `${VAR}` expanded; a legacy `$VAR`
    /// names an environment variable to read at connection time).
    Socket(String),
}

/// The configuration for one connection. Field names follow ssh_config(5) keywords.
#[allow(missing_docs)] // each field is the keyword of the same name
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The destination as given on the command line (`%n`).
    pub host_arg: String,
    /// The host to connect to: HostName applied (`%h` expanded), lower-cased unless an
    /// address (`%h`).
    pub hostname: String,
    pub user: String,
    pub port: u16,
    pub address_family: AddressFamily,
    pub batch_mode: bool,
    pub canonicalize_fallback_local: bool,
    pub canonicalize_hostname: CanonicalizeHostname,
    pub check_host_ip: bool,
    pub compression: bool,
    pub control_master: ControlMaster,
    pub enable_ssh_keysign: bool,
    pub clear_all_forwardings: bool,
    pub exit_on_forward_failure: bool,
    pub fingerprint_hash: Digest,
    pub forward_x11: bool,
    pub forward_x11_trusted: bool,
    pub gateway_ports: bool,
    pub hash_known_hosts: bool,
    pub hostbased_authentication: bool,
    pub identities_only: bool,
    pub kbd_interactive_authentication: bool,
    pub no_host_authentication_for_localhost: bool,
    pub password_authentication: bool,
    pub permit_local_command: bool,
    pub proxy_use_fdpass: bool,
    pub pubkey_authentication: PubkeyAuthentication,
    pub request_tty: RequestTty,
    pub session_type: SessionType,
    pub stdin_null: bool,
    pub fork_after_authentication: bool,
    pub stream_local_bind_unlink: bool,
    pub strict_host_key_checking: StrictHostKeyChecking,
    pub tcp_keep_alive: bool,
    pub tunnel: Tunnel,
    pub verify_host_key_dns: YesNoAsk,
    pub visual_host_key: bool,
    pub update_host_keys: YesNoAsk,
    pub enable_escape_commandline: bool,
    pub canonicalize_max_dots: u32,
    pub connection_attempts: u32,
    /// Seconds.
    pub forward_x11_timeout: u32,
    pub number_of_password_prompts: u32,
    pub server_alive_count_max: u32,
    /// Seconds; 0 disables keepalives.
    pub server_alive_interval: u32,
    pub required_rsa_size: u32,
    pub bind_address: Option<String>,
    pub bind_interface: Option<String>,
    pub ciphers: Vec<String>,
    /// ControlPath with `~`, tokens and `${VAR}` expanded; `None` also for `none`.
    pub control_path: Option<String>,
    /// The HostKeyAlgorithms list (defaults when not configured).
    pub host_key_algorithms: Vec<String>,
    /// True when HostKeyAlgorithms was not configured, so the client may reorder the list to
    /// prefer key types already in known_hosts, as OpenSSH does.
    pub host_key_algorithms_is_default: bool,
    /// Lower-cased.
    pub host_key_alias: Option<String>,
    pub hostbased_accepted_algorithms: Vec<String>,
    /// IdentityAgent with `~`, tokens and `${VAR}` expanded (`none`, `SSH_AUTH_SOCK` and a
    /// legacy `$VAR` are kept as written).
    pub identity_agent: Option<String>,
    pub ignore_unknown: Option<String>,
    pub kbd_interactive_devices: Option<String>,
    pub kex_algorithms: Vec<String>,
    pub ca_signature_algorithms: Vec<String>,
    /// As written; expanded by the program when run.
    pub local_command: Option<String>,
    /// Tokens expanded.
    pub remote_command: Option<String>,
    pub log_level: LogLevel,
    pub macs: Vec<String>,
    pub pkcs11_provider: Option<String>,
    pub security_key_provider: Option<String>,
    /// Comma-separated method names, as written.
    pub preferred_authentications: Option<String>,
    pub pubkey_accepted_algorithms: Vec<String>,
    pub revoked_host_keys: Option<String>,
    pub xauth_location: String,
    pub known_hosts_command: Option<String>,
    /// Local and dynamic forwards (dynamic ones connect to `socks`), socket paths expanded.
    pub local_forwards: Vec<Forward>,
    /// Remote forwards, socket paths expanded.
    pub remote_forwards: Vec<Forward>,
    /// As written; see [`ClientConfig::identity_file_paths`].
    pub identity_files: Vec<ConfiguredPath>,
    pub canonical_domains: Vec<String>,
    /// As written; see [`ClientConfig::certificate_file_paths`].
    pub certificate_files: Vec<ConfiguredPath>,
    pub global_known_hosts_files: Vec<String>,
    /// `~`, tokens and `${VAR}` expanded.
    pub user_known_hosts_files: Vec<String>,
    /// Environment variable name patterns to send.
    pub send_env: Vec<String>,
    /// `NAME=value` pairs to send.
    pub set_env: Vec<String>,
    pub log_verbose: Vec<String>,
    /// Empty means `any`.
    pub permit_remote_open: Vec<String>,
    pub add_keys_to_agent: AddKeysToAgent,
    pub forward_agent: ForwardAgent,
    /// Seconds; `None` waits as long as the system does.
    pub connect_timeout: Option<u32>,
    pub tunnel_device: (TunId, TunId),
    pub canonicalize_permitted_cnames: Vec<(String, String)>,
    pub control_persist: ControlPersist,
    pub escape_char: EscapeChar,
    /// (interactive, bulk) type-of-service values.
    pub ip_qos: (u32, u32),
    /// Bytes before rekeying; 0 means the cipher's default.
    pub rekey_limit: u64,
    /// Seconds before rekeying; 0 means no time limit.
    pub rekey_interval: u32,
    pub stream_local_bind_mask: u32,
    pub syslog_facility: SyslogFacility,
    /// As written; mutually exclusive with `proxy_jump`.
    pub proxy_command: Option<String>,
    pub proxy_jump: Option<ProxyJump>,
    /// Active uses of keywords oxssh does not implement yet; the program should refuse them.
    pub unsupported: Vec<UnsupportedUse>,
    /// Non-fatal messages OpenSSH would print (unsupported options, unusable socket paths).
    pub warnings: Vec<String>,
    /// The `%` token values for this connection.
    pub tokens: TokenContext,
}

fn expansion_error(e: ExpandError) -> ConfigError {
    expansion_fatal(&e, "percent_dollar_expand")
}

impl ClientConfig {
    /// The identity files with `~`, tokens and `${VAR}` expanded, in order.
    pub fn identity_file_paths(&self, env: &dyn ConfigEnv) -> Result<Vec<String>, ConfigError> {
        self.identity_files
            .iter()
            .map(|p| {
                self.tokens
                    .expand_path(&p.path, env)
                    .map_err(expansion_error)
            })
            .collect()
    }

    /// The certificate files with `~`, tokens and `${VAR}` expanded, in order.
    pub fn certificate_file_paths(&self, env: &dyn ConfigEnv) -> Result<Vec<String>, ConfigError> {
        self.certificate_files
            .iter()
            .map(|p| {
                self.tokens
                    .expand_path(&p.path, env)
                    .map_err(expansion_error)
            })
            .collect()
    }

    /// The ProxyCommand with its tokens expanded (`None` when there is none), ready for
    /// `/bin/sh -c`. `%h`, `%p`, `%r`, `%n` and the other connection tokens are available.
    pub fn proxy_command_expanded(&self) -> Result<Option<String>, ConfigError> {
        self.proxy_command
            .as_deref()
            .map(|c| {
                self.tokens
                    .expand(c)
                    .map_err(|e| expansion_fatal(&e, "percent_expand"))
            })
            .transpose()
    }

    /// The command OpenSSH runs for `ProxyJump`: `<ssh> [-l user] [-p port] [-J extra]
    /// [-F config] [-v...] -W '[%h]:%p' <host>` (its `%h`/`%p` expand like a ProxyCommand).
    pub fn proxy_jump_command(
        &self,
        ssh_program: &str,
        config_file: Option<&str>,
        verbosity: u8,
    ) -> Option<String> {
        let j = self.proxy_jump.as_ref()?;
        let mut cmd = ssh_program.to_string();
        if let Some(u) = &j.user {
            cmd.push_str(&format!(" -l {u}"));
        }
        if let Some(p) = j.port {
            cmd.push_str(&format!(" -p {p}"));
        }
        if let Some(e) = &j.extra {
            cmd.push_str(&format!(" -J {e}"));
        }
        if let Some(f) = config_file {
            cmd.push_str(&format!(" -F {f}"));
        }
        if verbosity > 0 {
            cmd.push_str(" -");
            cmd.push_str(&"v".repeat(usize::from(verbosity.min(3))));
        }
        cmd.push_str(&format!(" -W '[%h]:%p' {}", j.host));
        Some(cmd)
    }

    /// The unsupported keywords in use that the program should refuse (those whose use is
    /// not [harmless](UnsupportedUse::is_harmless)), with the message to print for each.
    pub fn unsupported_messages(&self) -> Vec<String> {
        self.unsupported
            .iter()
            .filter(|u| !u.is_harmless())
            .map(UnsupportedUse::message)
            .collect()
    }
}
