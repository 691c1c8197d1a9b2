//! Who may forward what, as sshd decides it: `AllowTcpForwarding`,
//! `AllowStreamLocalForwarding`, `AllowAgentForwarding`, `DisableForwarding`,
//! `PermitOpen`, `PermitListen`, `GatewayPorts` and the key's `no-port-forwarding`,
//! `no-agent-forwarding`, `restrict`, `permitopen=`, `permitlisten=`.
//!
//! Stream-local forwarding follows OpenSSH 9.2's channel permissions: the
//! `AllowStreamLocalForwarding` direction, the key's port-forwarding flag and
//! `DisableForwarding` come first; then, as for TCP, `AllowTcpForwarding` in the same
//! direction. A socket path is a target of `PermitOpen`/`permitopen=` (it matches an
//! entry `*:*` or `PATH:*`), never of `PermitListen`/`permitlisten=`.

use oxssh_config::sshd::SshdConfig;
use oxssh_keys::authorized_keys::{PermitPort, PermitTarget};
use oxssh_keys::KeyOptions;

use super::conn::Conn;

/// What the configuration and the key's options allow.
pub(super) struct Policy<'a> {
    pub config: &'a SshdConfig,
    pub key: Option<&'a KeyOptions>,
}

impl Policy<'_> {
    pub fn tcp_allowed(&self, local: bool) -> bool {
        let by_config = if local {
            self.config.allow_tcp_forwarding.local()
        } else {
            self.config.allow_tcp_forwarding.remote()
        };
        by_config
            && !self.config.disable_forwarding
            && self.key.is_none_or(KeyOptions::port_forwarding_allowed)
    }

    pub fn agent_allowed(&self) -> bool {
        self.config.allow_agent_forwarding
            && !self.config.disable_forwarding
            && self.key.is_none_or(KeyOptions::agent_forwarding_allowed)
    }

    /// `AllowStreamLocalForwarding` in one direction, the key's `no-port-forwarding`
    /// (and `restrict`) and `DisableForwarding`: sshd's first check.
    pub fn stream_local_allowed(&self, local: bool) -> bool {
        let by_config = if local {
            self.config.allow_stream_local_forwarding.local()
        } else {
            self.config.allow_stream_local_forwarding.remote()
        };
        by_config
            && !self.config.disable_forwarding
            && self.key.is_none_or(KeyOptions::port_forwarding_allowed)
    }

    /// sshd's second check of a `direct-streamlocal` target: `AllowTcpForwarding`
    /// local, then `PermitOpen` and the key's `permitopen=` as for a host with the
    /// port `PORT_STREAMLOCAL` (only a `*` port matches).
    pub fn path_open_permitted(&self, path: &str) -> bool {
        self.config.allow_tcp_forwarding.local()
            && config_permits_path(&self.config.permit_open, path)
            && self
                .key
                .is_none_or(|k| key_permits_path(k.permit_open(), path))
    }

    /// sshd's second check of a `streamlocal-forward`: `AllowTcpForwarding` remote
    /// (`PermitListen` does not apply to paths).
    pub fn path_listen_permitted(&self) -> bool {
        self.config.allow_tcp_forwarding.remote()
    }

    /// `PermitOpen` and the key's `permitopen=` must both allow `host`:`port`.
    pub fn open_permitted(&self, host: &str, port: u32) -> bool {
        config_permits(&self.config.permit_open, host, port)
            && self
                .key
                .is_none_or(|k| key_permits(k.permit_open(), host, port))
    }

    /// `PermitListen` and the key's `permitlisten=` must both allow the listener.
    pub fn listen_permitted(&self, host: &str, port: u32) -> bool {
        config_permits(&self.config.permit_listen, host, port)
            && self
                .key
                .is_none_or(|k| key_permits(k.permit_listen(), host, port))
    }
}

/// A `PermitOpen`/`PermitListen` list: `any`, `none`, or `[host:]port` entries where
/// `*` matches any host or port; hosts compare as written, without case.
fn config_permits(list: &[String], host: &str, port: u32) -> bool {
    if list.iter().any(|e| e == "any") {
        return true;
    }
    list.iter().any(|entry| {
        let (h, p) = match entry.rsplit_once(':') {
            Some((h, p)) => (Some(h.trim_start_matches('[').trim_end_matches(']')), p),
            None => (None, entry.as_str()),
        };
        let port_ok = p == "*" || p.parse::<u32>().is_ok_and(|p| p == port);
        let host_ok = h.is_none_or(|h| h == "*" || h.eq_ignore_ascii_case(host));
        entry != "none" && port_ok && host_ok
    })
}

/// The key's `permitopen`/`permitlisten` targets; none means no limit.
fn key_permits(targets: &[PermitTarget], host: &str, port: u32) -> bool {
    targets.is_empty()
        || targets.iter().any(|t| {
            let port_ok = match t.port {
                PermitPort::Any => true,
                PermitPort::Port(p) => u32::from(p) == port,
            };
            port_ok && (t.host == "*" || t.host.eq_ignore_ascii_case(host))
        })
}

/// A `PermitOpen` list against a socket path: `any`, or an entry whose port is `*`
/// and whose host is `*` or the path (compared exactly, as sshd's `open_match`).
fn config_permits_path(list: &[String], path: &str) -> bool {
    list.iter().any(|entry| {
        entry == "any"
            || entry
                .rsplit_once(':')
                .is_some_and(|(h, p)| p == "*" && (h == "*" || h == path))
    })
}

/// The key's `permitopen=` targets against a socket path; none means no limit.
fn key_permits_path(targets: &[PermitTarget], path: &str) -> bool {
    targets.is_empty()
        || targets
            .iter()
            .any(|t| matches!(t.port, PermitPort::Any) && (t.host == "*" || t.host == path))
}

impl Conn {
    /// The policy of the logged-in user's connection.
    pub(super) fn policy(&self) -> Option<Policy<'_>> {
        let login = self.login.as_ref()?;
        Some(Policy {
            config: &login.candidate.config,
            key: login.key_options.as_ref(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permit_lists_match_as_sshd() {
        let any = vec!["any".to_owned()];
        assert!(config_permits(&any, "example.org", 80));
        let none = vec!["none".to_owned()];
        assert!(!config_permits(&none, "localhost", 80));
        let list = vec![
            "localhost:80".to_owned(),
            "*:8080".to_owned(),
            "[::1]:*".to_owned(),
        ];
        assert!(config_permits(&list, "LOCALHOST", 80));
        assert!(!config_permits(&list, "localhost", 81));
        assert!(config_permits(&list, "anything", 8080));
        assert!(config_permits(&list, "::1", 9));
        let listen = vec!["2222".to_owned()];
        assert!(config_permits(&listen, "", 2222));
        assert!(!config_permits(&listen, "", 2223));
    }

    #[test]
    fn socket_paths_match_only_star_ports() {
        let list = vec!["localhost:80".to_owned(), "/run/x.sock:*".to_owned()];
        assert!(config_permits_path(&list, "/run/x.sock"));
        assert!(!config_permits_path(&list, "/run/y.sock"));
        assert!(config_permits_path(&["*:*".to_owned()], "/any"));
        assert!(config_permits_path(&["any".to_owned()], "/any"));
        assert!(!config_permits_path(&["none".to_owned()], "/any"));
        assert!(!config_permits_path(&["*:80".to_owned()], "/any"));
    }
}
