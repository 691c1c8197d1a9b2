//! Loading and resolving: the order of sources, the two passes, defaults, and the expansions
//! OpenSSH performs before `ssh -G` prints (`ssh.c` from option parsing to `-G`).
//!
//! Sources in order, first value wins: command-line flags and `-o` (already in the
//! [`Options`] given to [`Loader::resolve`]), then the user file (`-F file`, or
//! `~/.ssh/config` with permission checks), then `/etc/ssh/ssh_config` (skipped with `-F`).
//! `-F none` reads no file at all.
//!
//! After the first pass, `HostName` (with `%h`) replaces the host, which is lower-cased unless
//! it is an address. If a `Match final` was seen or `CanonicalizeHostname` is on, the files
//! are read a second time with `Match final`/`canonical` true and `Host` matching the new
//! name. oxssh does not perform DNS canonicalisation itself: the second pass uses the name
//! as it is.

use crate::algorithms::{assemble, AlgorithmLists};
use crate::client::{ClientConfig, ForwardAgent};
use crate::env::ConfigEnv;
use crate::error::{ConfigError, FatalKind};
use crate::expand::{
    expansion_fatal, percent_dollar_expand, tilde_expand, ExpandError, TokenContext,
};
use crate::forward::{Forward, JumpSetting};
use crate::options::{set_first, Options};
use crate::reader::{ConnectionHasher, Flags, ReadOutcome, Reader};
use crate::values::{
    AddKeysMode, AddKeysToAgent, AddressFamily, CanonicalizeHostname, ControlMaster,
    ControlPersist, Digest, EscapeChar, LogLevel, PubkeyAuthentication, RequestTty, SessionType,
    StrictHostKeyChecking, SyslogFacility, TunId, Tunnel, YesNoAsk,
};

/// The system-wide client configuration file.
pub const SYSTEM_CONFIG: &str = "/etc/ssh/ssh_config";

/// OpenSSH's default identity files, in order.
const DEFAULT_IDENTITIES: &[&str] = &[
    "~/.ssh/id_rsa",
    "~/.ssh/id_ecdsa",
    "~/.ssh/id_ecdsa_sk",
    "~/.ssh/id_ed25519",
    "~/.ssh/id_ed25519_sk",
    "~/.ssh/id_xmss",
    "~/.ssh/id_dsa",
];

/// Loads and resolves client configuration; see the module docs.
pub struct Loader<'a> {
    env: &'a dyn ConfigEnv,
    algorithms: AlgorithmLists,
    config_file: Option<String>,
    system_config: String,
    hasher: Option<ConnectionHasher>,
    debian: bool,
    command_given: bool,
}

impl std::fmt::Debug for Loader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("config_file", &self.config_file)
            .field("system_config", &self.system_config)
            .field("debian", &self.debian)
            .finish_non_exhaustive()
    }
}

impl<'a> Loader<'a> {
    /// A loader reading through `env`, validating and assembling algorithm lists against
    /// `algorithms`.
    pub fn new(env: &'a dyn ConfigEnv, algorithms: AlgorithmLists) -> Self {
        Loader {
            env,
            algorithms,
            config_file: None,
            system_config: SYSTEM_CONFIG.into(),
            hasher: None,
            debian: false,
            command_given: false,
        }
    }

    /// `-F file`: read this file instead of `~/.ssh/config` and `/etc/ssh/ssh_config`;
    /// `none` reads no file.
    pub fn config_file(mut self, path: impl Into<String>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    /// Reads the system configuration from another path (tests, or a private build).
    pub fn system_config(mut self, path: impl Into<String>) -> Self {
        self.system_config = path.into();
        self
    }

    /// The SHA-1 hasher for `%C` (lower-case hex). Without it `%C` is an error.
    pub fn connection_hasher(mut self, hasher: ConnectionHasher) -> Self {
        self.hasher = Some(hasher);
        self
    }

    /// Use Debian's patched defaults (ForwardX11Trusted yes, ServerAliveInterval 300 in batch
    /// mode, IPQoS lowdelay/throughput), to match a Debian `ssh`.
    pub fn debian_defaults(mut self, yes: bool) -> Self {
        self.debian = yes;
        self
    }

    /// Whether a remote command was given on the command line (OpenSSH refuses it together
    /// with RemoteCommand, and it disables `UpdateHostKeys ask`).
    pub fn command_given(mut self, yes: bool) -> Self {
        self.command_given = yes;
        self
    }

    fn reader(&self, host: &str, original: &str, final_pass: bool) -> Reader<'_> {
        Reader {
            env: self.env,
            algs: &self.algorithms,
            host: host.into(),
            original_host: original.into(),
            final_pass,
            want_final_pass: false,
            hasher: self.hasher,
        }
    }

    /// Applies one `-o` option (`Keyword value` or `Keyword=value`) to `options`.
    pub fn command_line_option(
        &self,
        options: &mut Options,
        line: &str,
    ) -> Result<(), ConfigError> {
        let mut reader = self.reader("", "", false);
        let flags = Flags {
            user_conf: true,
            ..Flags::default()
        };
        reader
            .process_line(options, line, "command-line", 0, None, flags, 0)
            .map_err(|e| match e {
                crate::apply::LineError::Bad(messages) => ConfigError::CommandLine { messages },
                crate::apply::LineError::Fatal(e) => e,
            })
    }

    /// Reads the files for `host_arg` on top of `options` and resolves the result.
    pub fn resolve(
        &self,
        host_arg: &str,
        mut options: Options,
    ) -> Result<ClientConfig, ConfigError> {
        let want_final = self.read_files(&mut options, host_arg, host_arg, false)?;
        // Hostname canonicalisation needs these even before the final pass.
        set_first(&mut options.canonicalize_max_dots, true, 1);
        set_first(&mut options.canonicalize_fallback_local, true, true);
        set_first(
            &mut options.canonicalize_hostname,
            true,
            CanonicalizeHostname::No,
        );
        let mut host = host_arg.to_string();
        if let Some(h) = &options.hostname {
            host = percent_dollar_expand(h, &[('h', host_arg)], None)
                .map_err(|e| expansion_fatal(&e, "percent_expand"))?;
            options.hostname = Some(host.clone());
        }
        if !is_addr(&host) {
            host.make_ascii_lowercase();
        }
        let canonicalize = options.canonicalize_hostname != Some(CanonicalizeHostname::No);
        if want_final || canonicalize {
            options.hostname = Some(host.clone());
            self.read_files(&mut options, &host, host_arg, true)?;
        }
        self.fill(options, host_arg, host)
    }

    /// One pass over the files; returns whether a `Match final` asked for another pass.
    fn read_files(
        &self,
        o: &mut Options,
        host: &str,
        original: &str,
        final_pass: bool,
    ) -> Result<bool, ConfigError> {
        let mut reader = self.reader(host, original, final_pass);
        let mut active = true;
        match &self.config_file {
            Some(f) if f.eq_ignore_ascii_case("none") => {}
            Some(f) => {
                let flags = Flags {
                    user_conf: true,
                    ..Flags::default()
                };
                let reason = match reader.read_file(o, f, flags, &mut active, 0)? {
                    ReadOutcome::Read => None,
                    ReadOutcome::NotFound => Some("No such file or directory".to_string()),
                    ReadOutcome::CannotOpen(e) => Some(e),
                };
                if let Some(reason) = reason {
                    return Err(ConfigError::fatal(
                        FatalKind::CannotOpen,
                        format!(
                            "Can't open user config file {}: {}",
                            crate::error::trunc(f, 100),
                            crate::error::trunc(&reason, 100)
                        ),
                    ));
                }
            }
            None => {
                let user_file = format!("{}/.ssh/config", self.env.home_dir());
                let flags = Flags {
                    user_conf: true,
                    check_perm: true,
                    never_match: false,
                };
                reader.read_file(o, &user_file, flags, &mut active, 0)?;
                active = true;
                reader.read_file(o, &self.system_config, Flags::default(), &mut active, 0)?;
            }
        }
        Ok(reader.want_final_pass)
    }

    /// Fills defaults and performs the expansions `ssh` does before `-G` prints.
    fn fill(&self, o: Options, host_arg: &str, host: String) -> Result<ClientConfig, ConfigError> {
        let env = self.env;
        let invalid = |m: &str| ConfigError::fatal(FatalKind::InvalidValue, m);
        let algs = &self.algorithms;
        let assemble_or = |spec: &Option<String>, list, what: &str| {
            assemble(spec.as_deref(), list)
                .map_err(|e| invalid(&format!("fill_default_options: {what}: {e}")))
        };
        let batch_mode = o.batch_mode.unwrap_or(false);
        // Looked up only when a port is missing: the services database is a file read.
        let default_port = || env.service_port("ssh").unwrap_or(22);
        let port = o.port.unwrap_or_else(default_port);
        let user = o.user.clone().unwrap_or_else(|| env.user_name());
        let user_known_hosts_raw = if o.user_known_hosts_files.is_empty() {
            vec![
                "~/.ssh/known_hosts".to_string(),
                "~/.ssh/known_hosts2".to_string(),
            ]
        } else {
            o.user_known_hosts_files.clone()
        };
        // UpdateHostKeys defaults on only with the default known_hosts file and no DNS keys.
        let verify_host_key_dns = o.verify_host_key_dns.unwrap_or(YesNoAsk::No);
        let default_hostfile = o.user_known_hosts_files.is_empty()
            || o.user_known_hosts_files == ["~/.ssh/known_hosts"];
        let mut update_host_keys = o.update_host_keys.unwrap_or(
            if verify_host_key_dns == YesNoAsk::No && default_hostfile {
                YesNoAsk::Yes
            } else {
                YesNoAsk::No
            },
        );
        let log_level = o.log_level.unwrap_or(LogLevel::Info);
        let control_persist = o.control_persist.unwrap_or(ControlPersist::No);
        let request_tty = o.request_tty.unwrap_or(RequestTty::Auto);
        if update_host_keys == YesNoAsk::Ask {
            let persists = control_persist != ControlPersist::No && o.control_path.is_some();
            let command = self.command_given || o.remote_command.is_some();
            if persists || command || request_tty == RequestTty::No || log_level < LogLevel::Info {
                update_host_keys = YesNoAsk::No;
            }
        }
        let connection_attempts = o.connection_attempts.unwrap_or(1);
        if connection_attempts == 0 {
            return Err(invalid("Invalid number of ConnectionAttempts"));
        }
        if self.command_given && o.remote_command.is_some() {
            return Err(invalid("Cannot execute command-line and remote command."));
        }
        let proxy_use_fdpass = o.proxy_use_fdpass.unwrap_or(false);
        let clear = |v: &Option<String>| v.clone().filter(|s| !s.eq_ignore_ascii_case("none"));
        let proxy_command = clear(&o.proxy_command);
        if proxy_command.as_deref() == Some("-") && proxy_use_fdpass {
            return Err(invalid(
                "ProxyCommand=- and ProxyUseFDPass are incompatible",
            ));
        }
        let proxy_jump = match &o.proxy_jump {
            Some(JumpSetting::Hops(j)) => Some(j.clone()),
            _ => None,
        };
        if let Some(j) = &proxy_jump {
            let juser = j.user.as_deref().unwrap_or(&user);
            if j.host == host && port == j.port.unwrap_or_else(default_port) && user == juser {
                return Err(invalid(&format!("jumphost loop via {}", j.host)));
            }
        }
        let host_key_alias = o.host_key_alias.as_ref().map(|a| a.to_ascii_lowercase());

        let local_host = env.host_name();
        let mut tokens = TokenContext {
            short_local_host: local_host.split('.').next().unwrap_or("").to_string(),
            local_host,
            port: port.to_string(),
            uid: env.uid().to_string(),
            key_alias: host_key_alias
                .clone()
                .unwrap_or_else(|| host_arg.to_string()),
            host_arg: host_arg.to_string(),
            remote_host: host.clone(),
            home_dir: env.home_dir(),
            local_user: env.user_name(),
            remote_user: user.clone(),
            jump_host: proxy_jump
                .as_ref()
                .map(|j| j.host.clone())
                .unwrap_or_default(),
            connection_hash: None,
        };
        tokens.connection_hash = self.hasher.map(|h| {
            let t = &tokens;
            h(format!(
                "{}{}{}{}",
                t.local_host, t.remote_host, t.port, t.remote_user
            )
            .as_bytes())
        });
        let fail = |e: ExpandError| expansion_fatal(&e, "percent_dollar_expand");
        let fail_percent = |e: ExpandError| expansion_fatal(&e, "percent_expand");
        let expand_path = |s: &str| -> Result<String, ConfigError> {
            let t = tilde_expand(s, env).map_err(fail)?;
            tokens.expand_with_env(&t, env).map_err(fail)
        };

        let remote_command = clear(&o.remote_command)
            .map(|c| tokens.expand(&c).map_err(fail_percent))
            .transpose()?;
        let control_path = clear(&o.control_path)
            .map(|p| expand_path(&p))
            .transpose()?;
        let identity_agent = o.identity_agent.as_deref().map(expand_path).transpose()?;
        let mut warnings = o.warnings.clone();
        let exit_on_forward_failure = o.exit_on_forward_failure.unwrap_or(o.stdio_forward);
        let forward_agent = match (o.forward_agent.unwrap_or(false), &o.forward_agent_sock_path) {
            (_, Some(p)) => {
                let path = expand_path(p)?;
                if let Err(e) = env.stat(&path) {
                    let msg = format!("Cannot forward agent socket path \"{path}\": {e}");
                    if exit_on_forward_failure {
                        return Err(invalid(&msg));
                    }
                    warnings.push(msg);
                }
                ForwardAgent::Socket(path)
            }
            (true, None) => ForwardAgent::Yes,
            (false, None) => ForwardAgent::No,
        };
        let user_known_hosts_files = user_known_hosts_raw
            .iter()
            .map(|p| expand_path(p))
            .collect::<Result<Vec<_>, _>>()?;
        let expand_fwd = |f: &Forward| -> Result<Forward, ConfigError> {
            let mut f = f.clone();
            for p in [&mut f.listen_path, &mut f.connect_path]
                .into_iter()
                .flatten()
            {
                *p = tokens.expand(p).map_err(fail_percent)?;
            }
            Ok(f)
        };
        let clear_all_forwardings = o.clear_all_forwardings.unwrap_or(o.stdio_forward);
        let (local_forwards, remote_forwards) = if clear_all_forwardings {
            (Vec::new(), Vec::new())
        } else {
            (
                o.local_forwards
                    .iter()
                    .map(expand_fwd)
                    .collect::<Result<_, _>>()?,
                o.remote_forwards
                    .iter()
                    .map(expand_fwd)
                    .collect::<Result<_, _>>()?,
            )
        };
        let mut identity_files = o.identity_files.clone();
        if identity_files.is_empty() {
            identity_files = DEFAULT_IDENTITIES
                .iter()
                .map(|p| crate::options::ConfiguredPath {
                    path: (*p).to_string(),
                    user_provided: false,
                })
                .collect();
        }
        let global_known_hosts_files = if o.global_known_hosts_files.is_empty() {
            vec![
                "/etc/ssh/ssh_known_hosts".to_string(),
                "/etc/ssh/ssh_known_hosts2".to_string(),
            ]
        } else {
            o.global_known_hosts_files.clone()
        };
        let mut canonicalize_permitted_cnames = o.canonicalize_permitted_cnames.clone();
        if canonicalize_permitted_cnames == [("none".to_string(), String::new())] {
            canonicalize_permitted_cnames.clear();
        }
        let (ipqos_interactive, ipqos_bulk) = if self.debian {
            (0x10, 0x08)
        } else {
            (0x48, 0x20)
        };

        Ok(ClientConfig {
            host_arg: host_arg.to_string(),
            hostname: host,
            user,
            port,
            address_family: o.address_family.unwrap_or(AddressFamily::Any),
            batch_mode,
            canonicalize_fallback_local: o.canonicalize_fallback_local.unwrap_or(true),
            canonicalize_hostname: o.canonicalize_hostname.unwrap_or(CanonicalizeHostname::No),
            check_host_ip: o.check_host_ip.unwrap_or(false),
            compression: o.compression.unwrap_or(false),
            control_master: o.control_master.unwrap_or(ControlMaster::No),
            enable_ssh_keysign: o.enable_ssh_keysign.unwrap_or(false),
            clear_all_forwardings,
            exit_on_forward_failure,
            fingerprint_hash: o.fingerprint_hash.unwrap_or(Digest::Sha256),
            forward_x11: o.forward_x11.unwrap_or(false),
            forward_x11_trusted: o.forward_x11_trusted.unwrap_or(self.debian),
            gateway_ports: o.gateway_ports.unwrap_or(false),
            hash_known_hosts: o.hash_known_hosts.unwrap_or(false),
            hostbased_authentication: o.hostbased_authentication.unwrap_or(false),
            identities_only: o.identities_only.unwrap_or(false),
            kbd_interactive_authentication: o.kbd_interactive_authentication.unwrap_or(true),
            no_host_authentication_for_localhost: o
                .no_host_authentication_for_localhost
                .unwrap_or(false),
            password_authentication: o.password_authentication.unwrap_or(true),
            permit_local_command: o.permit_local_command.unwrap_or(false),
            proxy_use_fdpass: proxy_use_fdpass && proxy_jump.is_none(),
            pubkey_authentication: o.pubkey_authentication.unwrap_or(PubkeyAuthentication::Yes),
            request_tty,
            session_type: o.session_type.unwrap_or(SessionType::Default),
            stdin_null: o.stdin_null.unwrap_or(false),
            fork_after_authentication: o.fork_after_authentication.unwrap_or(false),
            stream_local_bind_unlink: o.stream_local_bind_unlink.unwrap_or(false),
            strict_host_key_checking: o
                .strict_host_key_checking
                .unwrap_or(StrictHostKeyChecking::Ask),
            tcp_keep_alive: o.tcp_keep_alive.unwrap_or(true),
            tunnel: o.tunnel.unwrap_or(Tunnel::No),
            verify_host_key_dns,
            visual_host_key: o.visual_host_key.unwrap_or(false),
            update_host_keys,
            enable_escape_commandline: o.enable_escape_commandline.unwrap_or(false),
            canonicalize_max_dots: o.canonicalize_max_dots.unwrap_or(1),
            connection_attempts,
            forward_x11_timeout: o.forward_x11_timeout.unwrap_or(1200),
            number_of_password_prompts: o.number_of_password_prompts.unwrap_or(3),
            server_alive_count_max: o.server_alive_count_max.unwrap_or(3),
            server_alive_interval: o
                .server_alive_interval
                .unwrap_or(if self.debian && batch_mode { 300 } else { 0 }),
            required_rsa_size: o.required_rsa_size.unwrap_or(1024),
            bind_address: o.bind_address.clone(),
            bind_interface: o.bind_interface.clone(),
            ciphers: assemble_or(&o.ciphers, &algs.ciphers, "ciphers")?,
            control_path,
            host_key_algorithms: assemble(o.host_key_algorithms.as_deref(), &algs.key_types)
                .map_err(|e| {
                    invalid(&format!(
                        "dump_client_config: expand HostKeyAlgorithms: {e}"
                    ))
                })?,
            host_key_algorithms_is_default: o.host_key_algorithms.is_none(),
            host_key_alias,
            hostbased_accepted_algorithms: assemble_or(
                &o.hostbased_accepted_algorithms,
                &algs.key_types,
                "hostbased_accepted_algos",
            )?,
            identity_agent,
            ignore_unknown: o.ignore_unknown.clone(),
            kbd_interactive_devices: o.kbd_interactive_devices.clone(),
            kex_algorithms: assemble_or(&o.kex_algorithms, &algs.kex, "kex_algorithms")?,
            ca_signature_algorithms: assemble_or(
                &o.ca_signature_algorithms,
                &algs.ca_signatures,
                "ca_sign_algorithms",
            )?,
            local_command: clear(&o.local_command),
            remote_command,
            log_level,
            macs: assemble_or(&o.macs, &algs.macs, "macs")?,
            pkcs11_provider: clear(&o.pkcs11_provider),
            // OpenSSH's built-in FIDO support ("internal") unless configured.
            security_key_provider: clear(&o.security_key_provider)
                .or_else(|| o.security_key_provider.is_none().then(|| "internal".into())),
            preferred_authentications: o.preferred_authentications.clone(),
            pubkey_accepted_algorithms: assemble_or(
                &o.pubkey_accepted_algorithms,
                &algs.key_types,
                "pubkey_accepted_algos",
            )?,
            revoked_host_keys: clear(&o.revoked_host_keys),
            xauth_location: o
                .xauth_location
                .clone()
                .unwrap_or_else(|| "/usr/bin/xauth".into()),
            known_hosts_command: clear(&o.known_hosts_command),
            local_forwards,
            remote_forwards,
            identity_files,
            canonical_domains: o.canonical_domains.clone(),
            certificate_files: o.certificate_files.clone(),
            global_known_hosts_files,
            user_known_hosts_files,
            send_env: o.send_env.clone(),
            set_env: o.set_env.clone(),
            log_verbose: o.log_verbose.clone(),
            permit_remote_open: o.permit_remote_open.clone(),
            add_keys_to_agent: o.add_keys_to_agent.unwrap_or(AddKeysToAgent {
                mode: AddKeysMode::No,
                lifetime: 0,
            }),
            forward_agent,
            connect_timeout: o.connect_timeout,
            tunnel_device: o.tunnel_device.unwrap_or((TunId::Any, TunId::Any)),
            canonicalize_permitted_cnames,
            control_persist,
            escape_char: o.escape_char.unwrap_or(EscapeChar::Byte(b'~')),
            ip_qos: o.ip_qos.unwrap_or((ipqos_interactive, ipqos_bulk)),
            rekey_limit: u64::try_from(o.rekey_limit.unwrap_or(0)).unwrap_or(0),
            rekey_interval: o.rekey_interval.unwrap_or(0),
            stream_local_bind_mask: o.stream_local_bind_mask.unwrap_or(0o177),
            syslog_facility: o.syslog_facility.unwrap_or(SyslogFacility::User),
            proxy_command: if proxy_jump.is_some() {
                None
            } else {
                proxy_command
            },
            proxy_jump,
            unsupported: o.unsupported.clone(),
            warnings,
            tokens,
        })
    }
}

/// Whether `name` can only be an address (OpenSSH's `is_addr`): it contains `%` or `:`, is
/// only digits and dots, or parses as an IP address.
fn is_addr(name: &str) -> bool {
    name.contains(['%', ':'])
        || name.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || name.parse::<std::net::IpAddr>().is_ok()
}
