//! What every connection of one configuration shares: the resolved `sshd_config` (from a
//! file, or the embedded default written as one), the host keys, and the transport and
//! authentication settings derived from it. SIGHUP builds a new one; connections keep
//! the one they started with.

use super::args::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use oxssh_config::sshd::{ConnectionContext, SshdConfig};
use oxssh_config::{AlgorithmList, AlgorithmLists, MemoryEnv, OsEnv};
use oxssh_os::SystemUser;
use oxssh_proto::auth::{AuthConfig, AuthenticationMethods};
use oxssh_proto::certificate;
use oxssh_proto::crypto::{CryptoProvider, SigningKey};
use oxssh_proto::TransportConfig;

use super::hostkey;

/// Where the system daemon's configuration lives when `-f` is not given.
pub const SYSTEM_CONFIG: &str = "/etc/oxssh/sshd_config";

/// The PAM service oxsshd authenticates with. Not sshd's: Debian's `/etc/pam.d/sshd`
/// requires `pam_loginuid` in its session stack, which must run in the session's own
/// process, while oxsshd serves every connection from one process. Without an
/// `/etc/pam.d/oxsshd`, PAM uses `/etc/pam.d/other` (the system's common auth, account
/// and session stacks); administrators can give oxsshd a stack of its own.
pub const PAM_SERVICE: &str = "oxsshd";

/// A loaded configuration and everything derived from it.
pub(crate) struct Settings {
    /// The configuration before any connection-specific `Match`.
    pub config: Arc<SshdConfig>,
    /// The file it came from (`None` for the embedded default).
    pub path: Option<PathBuf>,
    /// Key exchange, ciphers, MACs, host-key algorithms, rekeying.
    pub transport: Arc<TransportConfig>,
    /// The crypto provider.
    pub provider: Arc<CryptoProvider>,
    /// The host keys, in `HostKey` order.
    pub host_keys: Vec<Arc<dyn SigningKey>>,
    /// Embedded mode: the account of whoever started us, with `HOME` and `SHELL` from
    /// their environment.
    pub personal: Option<SystemUser>,
    /// Whether users other than `personal` are served (the system daemon, or the
    /// embedded default started by root).
    pub serve_others: bool,
    /// `--log-format json`.
    pub json_log: bool,
    /// Problems that do not stop the server (a host key that did not load, a setting
    /// it cannot honour), for `-t` and the log.
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("path", &self.path)
            .field("host_keys", &self.host_keys.len())
            .field("personal", &self.personal)
            .finish_non_exhaustive()
    }
}

/// The algorithm lists `sshd_config` edits: our server defaults, and all we implement.
pub(crate) fn algorithm_lists(provider: &CryptoProvider) -> AlgorithmLists {
    let defaults = TransportConfig::server_default();
    let list = |default: &[String], all: Vec<&'static str>| {
        let default: Vec<&str> = default.iter().map(String::as_str).collect();
        AlgorithmList::new(&default, &all)
    };
    let sigs: Vec<&'static str> = provider.signatures.iter().map(|a| a.name()).collect();
    let plain_defaults: Vec<String> = AuthConfig::default().pubkey_accepted_algorithms;
    // sshd's order: the certificate form of each default algorithm first.
    let user_key_defaults = certificate::certs_first(&plain_defaults);
    let key_types = certificate::with_cert_forms(&sigs);
    AlgorithmLists {
        ciphers: list(
            &defaults.ciphers,
            provider.ciphers.iter().map(|a| a.name()).collect(),
        ),
        macs: list(
            &defaults.macs,
            provider.macs.iter().map(|a| a.name()).collect(),
        ),
        kex: list(
            &defaults.kex_algorithms,
            provider.kex.iter().map(|a| a.name()).collect(),
        ),
        key_types: list(&user_key_defaults, key_types),
        ca_signatures: list(&plain_defaults, sigs),
    }
}

impl Settings {
    /// Loads `path` (the system daemon) and its host keys.
    pub fn from_file(path: &Path, args: &Args) -> Result<Self, Vec<String>> {
        let provider = oxssh_crypto::default_provider();
        let text_path = path.to_string_lossy().into_owned();
        let config = SshdConfig::load_with_options(
            &OsEnv::new(),
            &text_path,
            &algorithm_lists(&provider),
            &args.options,
        )
        .map_err(|e| e.messages())?;
        let json_log = args.json_log;
        let mut key_files = args.host_keys.clone();
        key_files.extend(config.host_keys.iter().cloned());
        let (mut host_keys, mut key_warnings) = load_host_keys(&key_files);
        key_warnings.extend(hostkey::attach_certificates(
            &mut host_keys,
            &config.host_certificates,
        ));
        let mut settings =
            Self::build(config, Some(path.to_owned()), provider, host_keys, json_log)?;
        settings.warnings.splice(0..0, key_warnings);
        Ok(settings)
    }

    /// The embedded default: a personal server for `account` (or every user, when
    /// started by root) on 127.0.0.1:`port`, with its ed25519 host key at `key_path`
    /// (created on first start).
    pub fn embedded(
        account: SystemUser,
        port: u16,
        key_path: &Path,
        args: &Args,
    ) -> Result<Self, Vec<String>> {
        let json_log = args.json_log;
        let provider = oxssh_crypto::default_provider();
        let host_key = hostkey::load_or_create(key_path).map_err(|e| vec![e])?;
        let serve_others = account.uid == 0;
        let mut text = format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {}\nPidFile none\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             AcceptEnv LANG LC_*\nPrintMotd no\nMaxStartups 100:30:1000\n\
             Subsystem sftp internal-sftp\n",
            key_path.display()
        );
        if !serve_others {
            text.push_str(&format!("AllowUsers {}\n", account.name));
        }
        let env = MemoryEnv::new().with_file("/embedded/sshd_config", &text);
        let config = SshdConfig::load_with_options(
            &env,
            "/embedded/sshd_config",
            &algorithm_lists(&provider),
            &args.options,
        )
        .map_err(|e| e.messages())?;
        let mut settings = Self::build(config, None, provider, vec![host_key], json_log)?;
        settings.personal = Some(account);
        settings.serve_others = serve_others;
        Ok(settings)
    }

    fn build(
        config: SshdConfig,
        path: Option<PathBuf>,
        provider: CryptoProvider,
        host_keys: Vec<Arc<dyn SigningKey>>,
        json_log: bool,
    ) -> Result<Self, Vec<String>> {
        if host_keys.is_empty() {
            return Err(vec!["sshd: no hostkeys available -- exiting.".into()]);
        }
        let mut warnings: Vec<String> = config
            .not_acted_on
            .iter()
            .map(ToString::to_string)
            .collect();
        if path.is_some() && !config.use_pam && config.password_authentication {
            // Password checks go through PAM only (no crypt(3) of our own).
            warnings.push(
                "PasswordAuthentication yes without UsePAM yes: oxsshd checks passwords \
                 through PAM only, so password logins are refused"
                    .into(),
            );
        }
        if config.host_key_algorithms.iter().any(|a| a == "ssh-rsa") {
            // aws-lc-rs signs RSA with SHA-2 only; sshd would offer ssh-rsa here.
            warnings.push(
                "HostKeyAlgorithms: ssh-rsa (SHA-1) is not offered: oxsshd cannot sign \
                 with it; clients get rsa-sha2-256/512 from the same key"
                    .into(),
            );
        }
        if let Some(problem) = config
            .revoked_keys
            .as_deref()
            .and_then(super::revoked::startup_problem)
        {
            return Err(vec![problem]);
        }
        let transport = transport_config(&config);
        Ok(Self {
            config: Arc::new(config),
            path,
            transport: Arc::new(transport),
            provider: Arc::new(provider),
            host_keys,
            personal: None,
            serve_others: true,
            json_log,
            warnings,
        })
    }

    /// The configuration for a connection, `Match` blocks applied.
    /// The configuration for one connection: shared with the main section unless a
    /// `Match` block applies (most connections), so a connection does not own a copy.
    pub fn for_connection(&self, ctx: &ConnectionContext) -> Arc<SshdConfig> {
        self.config
            .matched(ctx)
            .map_or_else(|| Arc::clone(&self.config), Arc::new)
    }

    /// The core's authentication settings for a connection whose user is not known
    /// yet; user-specific `Match` settings are enforced by the policy.
    pub fn auth_config(config: &SshdConfig) -> AuthConfig {
        let methods = AuthenticationMethods::parse(&config.authentication_methods.join(" "))
            .unwrap_or_default();
        AuthConfig {
            authentication_methods: methods,
            pubkey_authentication: config.pubkey_authentication,
            password_authentication: config.use_pam && config.password_authentication,
            kbd_interactive_authentication: config.use_pam && config.kbd_interactive_authentication,
            pubkey_accepted_algorithms: config.pubkey_accepted_algorithms.clone(),
            max_auth_tries: config.max_auth_tries,
            login_grace_time: (config.login_grace_time > 0)
                .then(|| Duration::from_secs(u64::from(config.login_grace_time))),
            banner: config
                .banner
                .as_deref()
                .filter(|b| *b != "none")
                .and_then(|b| std::fs::read_to_string(b).ok()),
        }
    }
}

/// The transport settings `sshd_config` chose (the core offers only the host-key
/// algorithms our keys can sign with).
fn transport_config(config: &SshdConfig) -> TransportConfig {
    let mut t = TransportConfig::server_default();
    t.kex_algorithms = config.kex_algorithms.clone();
    t.ciphers = config.ciphers.clone();
    t.macs = config.macs.clone();
    t.host_key_algorithms = config.host_key_algorithms.clone();
    t.compression = if config.compression {
        vec!["none".into(), "zlib@openssh.com".into()]
    } else {
        vec!["none".into()]
    };
    if config.rekey_limit.bytes > 0 {
        t.rekey_bytes = config.rekey_limit.bytes;
    }
    if config.rekey_limit.interval > 0 {
        t.rekey_interval = Some(Duration::from_secs(u64::from(config.rekey_limit.interval)));
    }
    t
}

/// Loads each `HostKey` file; a missing or unreadable one is reported and skipped, as
/// sshd does, and an empty result is fatal (in [`Settings::build`]).
fn load_host_keys(paths: &[String]) -> (Vec<Arc<dyn SigningKey>>, Vec<String>) {
    let mut keys: Vec<Arc<dyn SigningKey>> = Vec::new();
    let mut warnings = Vec::new();
    for path in paths {
        match hostkey::load(Path::new(path)) {
            Ok(key) => keys.push(key),
            Err(e) => warnings.push(format!("Unable to load host key: {path}: {e}")),
        }
    }
    (keys, warnings)
}
