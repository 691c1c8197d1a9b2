//! The options being collected, before defaults are filled in (OpenSSH's `Options` between
//! `initialize_options` and `fill_default_options`).
//!
//! Every field starts unset and the first source to set it wins: command-line flags and `-o`
//! options first, then the user's file, then the system file. Lists that accumulate
//! (`IdentityFile`, forwards, `SendEnv`) grow instead. The program may set fields directly for
//! its own flags (`-p` sets [`Options::port`] if unset, `-l` [`Options::user`], ...) before
//! loading the files, as `ssh` does.

use std::collections::BTreeMap;

use crate::forward::{Forward, JumpSetting};
use crate::keyword::Keyword;
use crate::values::{
    AddKeysToAgent, AddressFamily, CanonicalizeHostname, ControlMaster, ControlPersist, Digest,
    EscapeChar, LogLevel, PubkeyAuthentication, RequestTty, SessionType, StrictHostKeyChecking,
    SyslogFacility, TunId, Tunnel, YesNoAsk,
};

/// A path option that accumulates, remembering whether it came from the user (command line
/// or user configuration) or from the system configuration or the built-in defaults.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfiguredPath {
    /// The path as written (tokens and `~` are expanded when used).
    pub path: String,
    /// True when given by the user; OpenSSH only complains about missing files in that case.
    pub user_provided: bool,
}

/// Where a configuration line came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// File name, or `command-line` for `-o`.
    pub file: String,
    /// Line number (0 for `-o`).
    pub line: u32,
}

/// An active use of a keyword oxssh does not implement yet (see [`crate::Support`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnsupportedUse {
    /// The keyword.
    pub keyword: Keyword,
    /// Its arguments, as written.
    pub value: String,
    /// Where it was set.
    pub origin: Origin,
}

impl UnsupportedUse {
    /// Whether ignoring this use changes nothing a user could rely on: the value turns the
    /// feature off (`no`, `false`, `none`), or it is a GSSAPI keyword, which oxssh treats
    /// like an OpenSSH built without GSSAPI (other methods are tried; Debian's default
    /// `/etc/ssh/ssh_config` sets `GSSAPIAuthentication yes`).
    pub fn is_harmless(&self) -> bool {
        use Keyword as K;
        if matches!(
            self.keyword,
            K::GssapiAuthentication
                | K::GssapiDelegateCredentials
                | K::GssapiKeyExchange
                | K::GssapiTrustDns
                | K::GssapiClientIdentity
                | K::GssapiServerIdentity
                | K::GssapiRenewalForcesRekey
                | K::GssapiKexAlgorithms
        ) {
            return true;
        }
        let first = self.value.split_whitespace().next().unwrap_or("");
        ["no", "false", "none"]
            .iter()
            .any(|v| first.trim_matches(['"', '\'']).eq_ignore_ascii_case(v))
    }

    /// The message the program prints when it refuses this keyword.
    pub fn message(&self) -> String {
        format!(
            "{} line {}: keyword {} is not supported by oxssh yet",
            self.origin.file,
            self.origin.line,
            self.keyword.name()
        )
    }
}

/// The options collected so far; see the module docs. `None` and empty lists mean "unset".
#[allow(missing_docs)] // each field is the ssh_config(5) keyword of the same name
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub forward_agent: Option<bool>,
    /// The socket path given to `ForwardAgent` instead of yes/no.
    pub forward_agent_sock_path: Option<String>,
    pub forward_x11: Option<bool>,
    pub forward_x11_trusted: Option<bool>,
    pub forward_x11_timeout: Option<u32>,
    pub gateway_ports: Option<bool>,
    pub exit_on_forward_failure: Option<bool>,
    pub clear_all_forwardings: Option<bool>,
    /// `ssh -W` was given: `ExitOnForwardFailure` and `ClearAllForwardings` then default
    /// to yes (OpenSSH's `fill_default_options`), though the files and `-o` may say no.
    pub stdio_forward: bool,
    pub xauth_location: Option<String>,
    pub password_authentication: Option<bool>,
    pub kbd_interactive_authentication: Option<bool>,
    pub kbd_interactive_devices: Option<String>,
    pub pubkey_authentication: Option<PubkeyAuthentication>,
    pub hostbased_authentication: Option<bool>,
    /// GSSAPI keywords (not implemented), first value of each, by canonical name.
    pub gssapi: BTreeMap<&'static str, String>,
    pub batch_mode: Option<bool>,
    pub check_host_ip: Option<bool>,
    pub strict_host_key_checking: Option<StrictHostKeyChecking>,
    pub compression: Option<bool>,
    pub tcp_keep_alive: Option<bool>,
    pub port: Option<u16>,
    pub address_family: Option<AddressFamily>,
    pub connection_attempts: Option<u32>,
    pub connect_timeout: Option<u32>,
    pub number_of_password_prompts: Option<u32>,
    /// Algorithm lists as written, with any `+`/`-`/`^` prefix.
    pub ciphers: Option<String>,
    pub macs: Option<String>,
    pub kex_algorithms: Option<String>,
    pub host_key_algorithms: Option<String>,
    pub ca_signature_algorithms: Option<String>,
    pub hostbased_accepted_algorithms: Option<String>,
    pub pubkey_accepted_algorithms: Option<String>,
    pub identity_files: Vec<ConfiguredPath>,
    pub certificate_files: Vec<ConfiguredPath>,
    pub hostname: Option<String>,
    pub host_key_alias: Option<String>,
    pub proxy_command: Option<String>,
    pub proxy_jump: Option<JumpSetting>,
    pub user: Option<String>,
    pub escape_char: Option<EscapeChar>,
    pub global_known_hosts_files: Vec<String>,
    pub user_known_hosts_files: Vec<String>,
    /// Local and dynamic forwards (dynamic ones connect to `socks`).
    pub local_forwards: Vec<Forward>,
    pub remote_forwards: Vec<Forward>,
    pub permit_remote_open: Vec<String>,
    pub syslog_facility: Option<SyslogFacility>,
    pub log_level: Option<LogLevel>,
    pub log_verbose: Vec<String>,
    pub preferred_authentications: Option<String>,
    pub bind_address: Option<String>,
    pub bind_interface: Option<String>,
    pub pkcs11_provider: Option<String>,
    pub security_key_provider: Option<String>,
    pub enable_ssh_keysign: Option<bool>,
    pub no_host_authentication_for_localhost: Option<bool>,
    pub identities_only: Option<bool>,
    /// `RekeyLimit` data limit in bytes (0 = the cipher's default).
    pub rekey_limit: Option<i64>,
    /// `RekeyLimit` time limit in seconds (0 = none).
    pub rekey_interval: Option<u32>,
    pub verify_host_key_dns: Option<YesNoAsk>,
    pub server_alive_interval: Option<u32>,
    pub server_alive_count_max: Option<u32>,
    pub send_env: Vec<String>,
    pub set_env: Vec<String>,
    pub control_path: Option<String>,
    pub control_master: Option<ControlMaster>,
    pub control_persist: Option<ControlPersist>,
    pub hash_known_hosts: Option<bool>,
    pub tunnel: Option<Tunnel>,
    pub tunnel_device: Option<(TunId, TunId)>,
    pub local_command: Option<String>,
    pub permit_local_command: Option<bool>,
    pub remote_command: Option<String>,
    pub add_keys_to_agent: Option<AddKeysToAgent>,
    pub identity_agent: Option<String>,
    pub visual_host_key: Option<bool>,
    /// `IPQoS` (interactive, bulk).
    pub ip_qos: Option<(u32, u32)>,
    pub request_tty: Option<RequestTty>,
    pub session_type: Option<SessionType>,
    pub stdin_null: Option<bool>,
    pub fork_after_authentication: Option<bool>,
    pub proxy_use_fdpass: Option<bool>,
    pub ignore_unknown: Option<String>,
    pub canonical_domains: Vec<String>,
    /// `CanonicalizePermittedCNAMEs` as (source list, target list) pairs.
    pub canonicalize_permitted_cnames: Vec<(String, String)>,
    pub canonicalize_max_dots: Option<u32>,
    pub canonicalize_fallback_local: Option<bool>,
    pub canonicalize_hostname: Option<CanonicalizeHostname>,
    pub stream_local_bind_mask: Option<u32>,
    pub stream_local_bind_unlink: Option<bool>,
    pub revoked_host_keys: Option<String>,
    pub fingerprint_hash: Option<Digest>,
    pub update_host_keys: Option<YesNoAsk>,
    pub known_hosts_command: Option<String>,
    pub required_rsa_size: Option<u32>,
    pub enable_escape_commandline: Option<bool>,
    /// Active uses of keywords oxssh does not implement, in the order seen.
    pub unsupported: Vec<UnsupportedUse>,
    /// Non-fatal messages OpenSSH prints while reading (e.g. `Unsupported option`).
    pub warnings: Vec<String>,
}

impl Options {
    /// Empty options: nothing set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an identity file unless the same (path, origin kind) is already listed.
    pub fn add_identity_file(&mut self, path: &str, user_provided: bool) {
        push_path(&mut self.identity_files, path, user_provided);
    }

    /// Adds a certificate file unless the same (path, origin kind) is already listed.
    pub fn add_certificate_file(&mut self, path: &str, user_provided: bool) {
        push_path(&mut self.certificate_files, path, user_provided);
    }

    /// Adds a local or dynamic forward unless an identical one exists.
    pub fn add_local_forward(&mut self, f: Forward) {
        if !self.local_forwards.contains(&f) {
            self.local_forwards.push(f);
        }
    }

    /// Adds a remote forward unless an identical one exists.
    pub fn add_remote_forward(&mut self, f: Forward) {
        if !self.remote_forwards.contains(&f) {
            self.remote_forwards.push(f);
        }
    }
}

fn push_path(list: &mut Vec<ConfiguredPath>, path: &str, user_provided: bool) {
    let entry = ConfiguredPath {
        path: path.to_string(),
        user_provided,
    };
    if !list.contains(&entry) {
        list.push(entry);
    }
}

/// Sets `slot` if it is unset and the line is active (OpenSSH's first-value-wins).
pub(crate) fn set_first<T>(slot: &mut Option<T>, active: bool, value: T) {
    if active && slot.is_none() {
        *slot = Some(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_only_for_active_lines() {
        let mut slot = None;
        set_first(&mut slot, false, 1);
        assert_eq!(slot, None);
        set_first(&mut slot, true, 2);
        set_first(&mut slot, true, 3);
        assert_eq!(slot, Some(2));
    }

    #[test]
    fn identity_files_are_deduplicated_per_origin_kind() {
        let mut o = Options::new();
        o.add_identity_file("~/.ssh/a", true);
        o.add_identity_file("~/.ssh/a", true);
        o.add_identity_file("~/.ssh/a", false);
        assert_eq!(o.identity_files.len(), 2);
    }
}
