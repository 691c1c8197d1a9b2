//! Turning the set options into a typed [`SshdConfig`] with sshd 9.2's defaults
//! (`fill_default_server_options`), and assembling the algorithm lists.

use std::sync::Arc;

use crate::algorithms::{assemble, AlgorithmList, AlgorithmLists};

use super::keyword::{AlgKind, ValueKind};
use super::parse::Value;
use super::reader::{Entry, Store};
use super::{
    AddressFamily, AllowForwarding, GatewayPorts, ListenAddress, LogLevel, MaxStartups,
    PermitRootLogin, PermitUserEnvironment, RekeyLimit, Source, SshdConfig, SshdConfigError,
    SshdErrorKind, Subsystem, SyslogFacility,
};

fn list_for(kind: AlgKind, algs: &AlgorithmLists) -> &AlgorithmList {
    match kind {
        AlgKind::Cipher => &algs.ciphers,
        AlgKind::Mac => &algs.macs,
        AlgKind::Kex => &algs.kex,
        AlgKind::KeyTypes => &algs.key_types,
        AlgKind::CaSignatures => &algs.ca_signatures,
    }
}

/// Assembles every configured algorithm list once (in any block), so that a list that
/// would come out empty fails at start-up rather than for some connection.
pub(crate) fn check_algorithms(
    entries: &[Entry],
    algs: &AlgorithmLists,
) -> Result<(), SshdConfigError> {
    for e in entries {
        if let (ValueKind::Algorithms(kind), Value::Word(spec)) = (e.info.kind, &e.value) {
            if assemble(Some(spec), list_for(kind, algs)).is_err() {
                return Err(SshdConfigError::fatal(
                    SshdErrorKind::BadValue,
                    Some((e.file.clone(), e.line)),
                    format!(
                        "{} line {}: {} list '{spec}' is empty or invalid",
                        e.file, e.line, e.info.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

impl Store {
    pub(crate) fn first(&self, k: &str) -> Option<&Value> {
        self.0.get(k).and_then(|v| v.first())
    }
    fn flag(&self, k: &str, default: bool) -> bool {
        match self.first(k) {
            Some(Value::Flag(b)) => *b,
            Some(Value::Choice(c)) => *c != "no",
            _ => default,
        }
    }
    fn int(&self, k: &str, default: u32) -> u32 {
        match self.first(k) {
            Some(Value::Int(v)) => *v,
            _ => default,
        }
    }
    fn choice(&self, k: &str, default: &'static str) -> &'static str {
        match self.first(k) {
            Some(Value::Choice(c)) => c,
            _ => default,
        }
    }
    fn word(&self, k: &str) -> Option<String> {
        match self.first(k) {
            Some(Value::Word(w)) => Some(w.clone()),
            _ => None,
        }
    }
    /// A `Word` option where `none` means unset.
    fn optional(&self, k: &str) -> Option<String> {
        self.word(k).filter(|w| w != "none")
    }
    /// Every word of a list option (accumulated words, or one line's words).
    pub(crate) fn words(&self, k: &str) -> Vec<String> {
        let mut out = Vec::new();
        for v in self.0.get(k).map(Vec::as_slice).unwrap_or(&[]) {
            match v {
                Value::Word(w) => out.push(w.clone()),
                Value::Words(ws) => out.extend(ws.iter().cloned()),
                _ => {}
            }
        }
        out
    }
}

fn non_empty_or_any(words: Vec<String>) -> Vec<String> {
    if words.is_empty() {
        vec!["any".into()]
    } else {
        words
    }
}

fn to_vec(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| (*x).to_string()).collect()
}

pub(crate) fn resolve(store: Store, source: Arc<Source>) -> Result<SshdConfig, SshdConfigError> {
    let st = &store;
    let algs = &source.algs;
    let alg = |k: &str, list: &AlgorithmList| -> Result<Vec<String>, SshdConfigError> {
        assemble(st.word(k).as_deref(), list).map_err(|_| {
            SshdConfigError::fatal(
                SshdErrorKind::BadValue,
                None,
                format!("{k}: invalid algorithm list"),
            )
        })
    };
    let mut ports: Vec<u16> =
        st.0.get("port")
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter_map(|v| match v {
                Value::Port(p) => Some(*p),
                _ => None,
            })
            .collect();
    if ports.is_empty() {
        ports.push(22);
    }
    let address_family = match st.choice("addressfamily", "any") {
        "inet" => AddressFamily::Inet,
        "inet6" => AddressFamily::Inet6,
        _ => AddressFamily::Any,
    };
    let mut listen_addresses = Vec::new();
    for v in st.0.get("listenaddress").map(Vec::as_slice).unwrap_or(&[]) {
        if let Value::Listen(host, port) = v {
            let with = |port: u16| ListenAddress {
                host: host.clone(),
                port,
            };
            match port {
                Some(p) => listen_addresses.push(with(*p)),
                None => listen_addresses.extend(ports.iter().map(|p| with(*p))),
            }
        }
    }
    if listen_addresses.is_empty() {
        for p in &ports {
            let hosts: &[&str] = match address_family {
                AddressFamily::Any => &["::", "0.0.0.0"],
                AddressFamily::Inet => &["0.0.0.0"],
                AddressFamily::Inet6 => &["::"],
            };
            for h in hosts {
                listen_addresses.push(ListenAddress {
                    host: (*h).to_string(),
                    port: *p,
                });
            }
        }
    }
    let mut host_keys = st.words("hostkey");
    if host_keys.is_empty() {
        host_keys = to_vec(&[
            "/etc/ssh/ssh_host_rsa_key",
            "/etc/ssh/ssh_host_ecdsa_key",
            "/etc/ssh/ssh_host_ed25519_key",
        ]);
    }
    let max_startups = match st.first("maxstartups") {
        Some(Value::Startups(start, rate, full)) => MaxStartups {
            start: *start,
            rate: *rate,
            full: *full,
        },
        _ => MaxStartups {
            start: 10,
            rate: 30,
            full: 100,
        },
    };
    let rekey_limit = RekeyLimit {
        bytes: match st.first("rekeylimit") {
            Some(Value::Rekey(b, _)) => *b,
            _ => 0,
        },
        interval: st.int("rekeyinterval", 0),
    };
    let permit_root_login = match st.choice("permitrootlogin", "without-password") {
        "yes" => PermitRootLogin::Yes,
        "forced-commands-only" => PermitRootLogin::ForcedCommandsOnly,
        "no" => PermitRootLogin::No,
        _ => PermitRootLogin::ProhibitPassword,
    };
    let permit_user_environment = match st.first("permituserenvironment") {
        Some(Value::Choice("yes")) => PermitUserEnvironment::Yes,
        Some(Value::Word(w)) => PermitUserEnvironment::Allow(w.clone()),
        _ => PermitUserEnvironment::No,
    };
    let mut authorized_keys_files = st.words("authorizedkeysfile");
    if authorized_keys_files.is_empty() {
        authorized_keys_files = to_vec(&[".ssh/authorized_keys", ".ssh/authorized_keys2"]);
    }
    let mut authentication_methods = st.words("authenticationmethods");
    if authentication_methods.is_empty() {
        authentication_methods = vec!["any".into()];
    }
    let subsystems =
        st.0.get("subsystem")
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter_map(|v| match v {
                Value::Subsystem(name, command) => Some(Subsystem {
                    name: name.clone(),
                    command: command.clone(),
                }),
                _ => None,
            })
            .collect();
    let log_level = match st.first("loglevel") {
        Some(Value::Level(l)) => *l,
        _ => LogLevel::Info,
    };
    let syslog_facility = match st.first("syslogfacility") {
        Some(Value::Facility(f)) => *f,
        _ => SyslogFacility::Auth,
    };
    Ok(SshdConfig {
        ports,
        address_family,
        listen_addresses,
        host_keys,
        pid_file: st.word("pidfile").unwrap_or_else(|| "/run/sshd.pid".into()),
        login_grace_time: st.int("logingracetime", 120),
        max_startups,
        max_auth_tries: st.int("maxauthtries", 6),
        max_sessions: st.int("maxsessions", 10),
        client_alive_interval: st.int("clientaliveinterval", 0),
        client_alive_count_max: st.int("clientalivecountmax", 3),
        log_level,
        syslog_facility,
        permit_root_login,
        pubkey_authentication: st.flag("pubkeyauthentication", true),
        password_authentication: st.flag("passwordauthentication", true),
        kbd_interactive_authentication: st.flag("kbdinteractiveauthentication", true),
        permit_empty_passwords: st.flag("permitemptypasswords", false),
        use_pam: st.flag("usepam", false),
        authorized_keys_files,
        authentication_methods,
        strict_modes: st.flag("strictmodes", true),
        permit_user_environment,
        accept_env: st.words("acceptenv"),
        set_env: st.words("setenv"),
        banner: st.optional("banner"),
        print_motd: st.flag("printmotd", true),
        print_last_log: st.flag("printlastlog", true),
        tcp_keep_alive: st.flag("tcpkeepalive", true),
        use_dns: st.flag("usedns", false),
        compression: st.flag("compression", true),
        rekey_limit,
        permit_tty: st.flag("permittty", true),
        permit_user_rc: st.flag("permituserrc", true),
        force_command: st.optional("forcecommand"),
        chroot_directory: st.optional("chrootdirectory"),
        trusted_user_ca_keys: st.optional("trustedusercakeys"),
        host_certificates: st.words("hostcertificate"),
        authorized_principals_file: st.optional("authorizedprincipalsfile"),
        revoked_keys: st.optional("revokedkeys"),
        subsystems,
        allow_agent_forwarding: st.flag("allowagentforwarding", true),
        allow_tcp_forwarding: match st.choice("allowtcpforwarding", "yes") {
            "no" => AllowForwarding::No,
            "local" => AllowForwarding::Local,
            "remote" => AllowForwarding::Remote,
            _ => AllowForwarding::Yes,
        },
        gateway_ports: match st.choice("gatewayports", "no") {
            "yes" => GatewayPorts::Yes,
            "clientspecified" => GatewayPorts::ClientSpecified,
            _ => GatewayPorts::No,
        },
        permit_open: non_empty_or_any(st.words("permitopen")),
        permit_listen: non_empty_or_any(st.words("permitlisten")),
        allow_stream_local_forwarding: match st.choice("allowstreamlocalforwarding", "yes") {
            "no" => AllowForwarding::No,
            "local" => AllowForwarding::Local,
            "remote" => AllowForwarding::Remote,
            _ => AllowForwarding::Yes,
        },
        stream_local_bind_unlink: st.flag("streamlocalbindunlink", false),
        stream_local_bind_mask: st.int("streamlocalbindmask", 0o177),
        disable_forwarding: st.flag("disableforwarding", false),
        allow_users: st.words("allowusers"),
        deny_users: st.words("denyusers"),
        allow_groups: st.words("allowgroups"),
        deny_groups: st.words("denygroups"),
        ciphers: alg("ciphers", &algs.ciphers)?,
        macs: alg("macs", &algs.macs)?,
        kex_algorithms: alg("kexalgorithms", &algs.kex)?,
        host_key_algorithms: alg("hostkeyalgorithms", &algs.key_types)?,
        pubkey_accepted_algorithms: alg("pubkeyacceptedalgorithms", &algs.key_types)?,
        ca_signature_algorithms: alg("casignaturealgorithms", &algs.ca_signatures)?,
        hostbased_accepted_algorithms: alg("hostbasedacceptedalgorithms", &algs.key_types)?,
        not_acted_on: Vec::new(),
        warnings: Vec::new(),
        store,
        source,
    })
}
