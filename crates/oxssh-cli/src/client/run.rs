//! `oxssh` from argv to exit code: flags, then `-o`, then ssh_config (first value
//! wins), resolved into one configuration; `-V`, `-Q` and `-G` answered as OpenSSH
//! does; otherwise connect, verify, authenticate and run the session. Exit status is the
//! remote command's, or 255 for our own errors.

use std::path::PathBuf;
use std::sync::Arc;

use oxssh_config::values::{AddressFamily, EscapeChar, LogLevel, RequestTty, SessionType};
use oxssh_config::{AlgorithmList, AlgorithmLists, ClientConfig, Loader, Options, OsEnv};
use oxssh_proto::crypto::{CryptoProvider, HashAlg};
use oxssh_proto::TransportConfig;

use super::auth::{authenticate, AuthSettings};
use super::cmdline::Commands;
use super::connect::{self, ConnectError};
use super::forward;
use super::mux;
use super::prompt::TerminalPrompter;
use super::proxy;
use super::session::{self, Ended, Run, SessionSettings};
use super::shared_session::through_master;
use super::stdio_forward::Target as StdioTarget;
use crate::background::{self, ReadySignal, CLIENT_READY_ENV};
use crate::ssh::args::{self, Args, Invocation};

/// Expands a leading `~/` with `$HOME`.
pub fn expand_tilde(path: &str) -> String {
    match (path.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => path.to_owned(),
    }
}

/// The algorithm lists ssh_config edits: our defaults, and everything we implement.
fn algorithm_lists(provider: &CryptoProvider) -> AlgorithmLists {
    let defaults = TransportConfig::client_default();
    let names = |v: &[String]| {
        v.iter()
            .map(String::as_str)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let list = |default: Vec<String>, all: Vec<&'static str>| {
        let default: Vec<&str> = default.iter().map(String::as_str).collect();
        AlgorithmList::new(&default, &all)
    };
    let sigs: Vec<&'static str> = provider.signatures.iter().map(|a| a.name()).collect();
    AlgorithmLists {
        ciphers: list(
            names(&defaults.ciphers),
            provider.ciphers.iter().map(|a| a.name()).collect(),
        ),
        macs: list(
            names(&defaults.macs),
            provider.macs.iter().map(|a| a.name()).collect(),
        ),
        kex: list(
            names(&defaults.kex_algorithms),
            provider.kex.iter().map(|a| a.name()).collect(),
        ),
        key_types: list(
            oxssh_proto::certificate::certs_first(&names(&defaults.host_key_algorithms)),
            oxssh_proto::certificate::with_cert_forms(&sigs),
        ),
        ca_signatures: list(names(&defaults.host_key_algorithms), sigs),
    }
}

/// `%C`: SHA-1 of the connection's `%l%h%p%r`, as hex.
fn connection_hash(data: &[u8]) -> String {
    let provider = oxssh_crypto::default_provider();
    provider
        .digest(HashAlg::Sha1, &[data])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Command-line flags into config slots (they come before `-o` and the files); a bad
/// forwarding specification is OpenSSH's error message.
fn options_from_args(args: &Args, env: &OsEnv) -> Result<Options, String> {
    let mut o = Options::new();
    o.forward_agent = args.forward_agent;
    if args.gateway_ports {
        o.gateway_ports = Some(true);
    }
    let kinds = [
        (&args.local_forwards, false, false, "local"),
        (&args.remote_forwards, false, true, "remote"),
        (&args.dynamic_forwards, true, false, "dynamic"),
    ];
    for (specs, dynamic, remote, what) in kinds {
        for spec in specs {
            // As ssh's parse_remote_forward: a `-R` without a target is dynamic.
            let parsed = oxssh_config::parse_forward(spec, dynamic, remote, env)
                .or_else(|| remote.then(|| oxssh_config::parse_forward(spec, true, true, env))?);
            match parsed {
                Some(f) if remote => o.add_remote_forward(f),
                Some(f) => o.add_local_forward(f),
                None => return Err(format!("Bad {what} forwarding specification '{spec}'")),
            }
        }
    }
    o.user = args.user.clone();
    o.port = args.port;
    for path in &args.identity_files {
        // OpenSSH drops a `-i` file it cannot stat, with a warning (a configured
        // IdentityFile is kept), and records the path tilde-expanded.
        let expanded = expand_tilde(path);
        match std::fs::metadata(&expanded) {
            Ok(_) => o.add_identity_file(&expanded, true),
            Err(e) => {
                let reason = crate::strerror::strerror(&e);
                eprintln!("Warning: Identity file {expanded} not accessible: {reason}.");
            }
        }
    }
    o.ciphers = args.cipher_spec.clone();
    o.macs = args.mac_spec.clone();
    o.address_family = args.address_family.map(|f| match f {
        args::AddressFamily::Inet => AddressFamily::Inet,
        args::AddressFamily::Inet6 => AddressFamily::Inet6,
    });
    // By variant, not by name: `-q`'s level prints as `SILENT`, which is not a keyword
    // value `LogLevel::parse` knows, and would silently drop `-q`.
    o.log_level = args.log_level.map(|l| match l {
        args::LogLevel::Quiet => LogLevel::Quiet,
        args::LogLevel::Fatal => LogLevel::Fatal,
        args::LogLevel::Error => LogLevel::Error,
        args::LogLevel::Info => LogLevel::Info,
        args::LogLevel::Verbose => LogLevel::Verbose,
        args::LogLevel::Debug1 => LogLevel::Debug1,
        args::LogLevel::Debug2 => LogLevel::Debug2,
        args::LogLevel::Debug3 => LogLevel::Debug3,
    });
    o.escape_char = args.escape_char.map(|e| match e {
        crate::ssh::escape::EscapeChar::None => EscapeChar::None,
        crate::ssh::escape::EscapeChar::Byte(b) => EscapeChar::Byte(b),
    });
    o.request_tty = args.request_tty.map(|r| match r {
        args::RequestTty::Yes => RequestTty::Yes,
        args::RequestTty::No => RequestTty::No,
        args::RequestTty::Force => RequestTty::Force,
        args::RequestTty::Auto => RequestTty::Auto,
    });
    o.session_type = args.session_type.map(|s| match s {
        args::SessionType::None => SessionType::None,
        args::SessionType::Subsystem => SessionType::Subsystem,
        args::SessionType::Default => SessionType::Default,
    });
    if args.stdin_null {
        o.stdin_null = Some(true);
    }
    if args.fork_after_auth {
        o.fork_after_authentication = Some(true);
    }
    if args.compression {
        o.compression = Some(true);
    }
    if args.stdio_forward.is_some() {
        o.stdio_forward = true;
    }
    if let Some(hops) = &args.jump {
        // `-J` takes the ProxyJump slot and shadows any ProxyCommand, as OpenSSH's.
        match oxssh_config::parse_jump(hops, env) {
            Ok(jump) => o.proxy_jump = Some(jump),
            Err(mut lines) => {
                lines.push("Invalid -J argument".into());
                return Err(lines.join("\n"));
            }
        }
        o.proxy_command = Some("none".into());
    }
    o.control_path = args.control_path.clone();
    o.control_master = match args.control_master {
        0 => None,
        1 => Some(oxssh_config::values::ControlMaster::Yes),
        _ => Some(oxssh_config::values::ControlMaster::Ask),
    };
    Ok(o)
}

pub(crate) fn fail(lines: &[String]) -> u8 {
    for line in lines {
        eprintln!("{line}");
    }
    255
}

/// Sets up `tracing` on stderr (or `-E file`) at the configured level.
pub(crate) fn init_logging(level: LogLevel, log_file: Option<&str>) {
    let filter = match level {
        LogLevel::Quiet | LogLevel::Fatal => "off",
        LogLevel::Error => "error",
        LogLevel::Info | LogLevel::Verbose => "warn",
        LogLevel::Debug1 => "info",
        LogLevel::Debug2 => "debug",
        LogLevel::Debug3 => "trace",
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_ansi(false)
        .event_format(super::logging::OpensshFormat);
    let file = log_file.and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    let _ = match file {
        Some(file) => builder.with_writer(Arc::new(file)).try_init(),
        None => builder.with_writer(std::io::stderr).try_init(),
    };
}

/// The program: returns the exit status.
pub fn main() -> u8 {
    let provider = oxssh_crypto::default_provider();
    let args = match args::parse(std::env::args_os().skip(1), &provider) {
        Ok(Invocation::Version) => {
            eprintln!("{}", args::VERSION);
            return 0;
        }
        Ok(Invocation::Query(query)) => {
            print!("{}", query.answer(&provider));
            return 0;
        }
        Ok(Invocation::Connect(args)) => args,
        Err(e) => {
            eprint!("{e}");
            return e.exit_code();
        }
    };
    for flag in args.unsupported_flags() {
        if !flag.is_harmless() {
            return fail(&[flag.message()]);
        }
    }
    let env = OsEnv::new();
    let mut loader = Loader::new(&env, algorithm_lists(&provider))
        .connection_hasher(connection_hash)
        .command_given(args.command_line().is_some());
    if let Some(file) = &args.config_file {
        loader = loader.config_file(file.clone());
    }
    let mut options = match options_from_args(&args, &env) {
        Ok(options) => options,
        Err(message) => return fail(&[message]),
    };
    for line in &args.options {
        if let Err(e) = loader.command_line_option(&mut options, line) {
            return fail(&e.messages());
        }
    }
    let config = match loader.resolve(&args.host, options) {
        Ok(config) => config,
        Err(e) => return fail(&e.messages()),
    };
    if args.config_test {
        print!("{}", config.dump());
        return 0;
    }
    let refused = config.unsupported_messages();
    if !refused.is_empty() {
        return fail(&refused);
    }
    let not_yet = not_acted_on(&config);
    if !not_yet.is_empty() {
        return fail(&not_yet);
    }
    let mut config = config;
    proxy::apply_proxy_jump(
        &mut config,
        &proxy::own_program(),
        args.config_file.as_deref(),
        args.debug,
    );
    let stdio = match args
        .stdio_forward
        .as_deref()
        .map(|s| StdioTarget::parse(s, &env))
    {
        Some(Ok(target)) => target,
        Some(Err(message)) => return fail(&[message]),
        None => None,
    };
    let plan = match forward::Plan::from_config(&config, quiet(&config)) {
        Ok(plan) => plan,
        Err(message) => return fail(&[message]),
    };
    if let Err(e) = args.check_fork(
        config.remote_command.is_some(),
        config.session_type == SessionType::None,
    ) {
        eprint!("{e}");
        return 255;
    }
    let ready = match (
        config.fork_after_authentication,
        ReadySignal::from_env(CLIENT_READY_ENV),
    ) {
        (true, None) => {
            return background::run_in_background("oxssh", CLIENT_READY_ENV, false, stdio.is_some())
        }
        (true, ready) => ready,
        (false, _) => None,
    };
    init_logging(config.log_level, args.log_file.as_deref());
    // One thread, as OpenSSH's client loop: the driver and the session hand data to
    // each other without cross-thread wake-ups or lock contention.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&[format!("oxssh: cannot start the runtime: {e}")]),
    };
    let code = runtime.block_on(connect_and_run(
        &args,
        &config,
        &env,
        Arc::new(provider),
        ready,
        &plan,
        stdio.as_ref(),
    ));
    // Blocking stdin readers may still wait for input: do not wait for them.
    runtime.shutdown_background();
    code
}

/// Settings the configuration accepted (their syntax is checked) that this client does
/// not act on yet: refused by name rather than silently ignored.
fn not_acted_on(config: &ClientConfig) -> Vec<String> {
    use oxssh_config::values::CanonicalizeHostname;
    let checks: [(bool, &str, &str); 3] = [
        (config.forward_x11, "ForwardX11 (-X/-Y)", "not planned yet"),
        (
            config.canonicalize_hostname != CanonicalizeHostname::No,
            "CanonicalizeHostname",
            "not planned yet",
        ),
        (
            config.check_host_ip || config.visual_host_key,
            "CheckHostIP/VisualHostKey",
            "not planned yet",
        ),
    ];
    checks
        .iter()
        .filter(|(used, _, _)| *used)
        .map(|(_, what, when)| format!("oxssh: {what} is not supported yet ({when})"))
        .collect()
}

pub(crate) fn quiet(config: &ClientConfig) -> bool {
    matches!(
        config.log_level,
        LogLevel::Quiet | LogLevel::Fatal | LogLevel::Error
    )
}

/// Resolves `host` for a program other than `oxssh` (oxsftp, oxscp): flags already in
/// `options`, then the `-o` lines, then ssh_config (`config_file` or the default files);
/// unsupported settings are refused as `oxssh` refuses them. Errors are the lines to print.
pub fn resolve_config(
    host: &str,
    options: Options,
    option_lines: &[String],
    config_file: Option<&str>,
    env: &OsEnv,
    provider: &CryptoProvider,
) -> Result<ClientConfig, Vec<String>> {
    let mut options = options;
    let mut loader = Loader::new(env, algorithm_lists(provider))
        .connection_hasher(connection_hash)
        .command_given(true);
    if let Some(file) = config_file {
        loader = loader.config_file(file.to_owned());
    }
    for line in option_lines {
        loader
            .command_line_option(&mut options, line)
            .map_err(|e| e.messages())?;
    }
    let config = loader.resolve(host, options).map_err(|e| e.messages())?;
    let refused = config.unsupported_messages();
    if !refused.is_empty() {
        return Err(refused);
    }
    let not_yet = not_acted_on(&config);
    if !not_yet.is_empty() {
        return Err(not_yet);
    }
    let mut config = config;
    proxy::apply_proxy_jump(&mut config, &proxy::sibling_oxssh(), config_file, 0);
    Ok(config)
}

/// Connects to `config`'s host, verifies its key and authenticates, printing what
/// `oxssh` prints on failure; the error is the exit status (255).
pub async fn connect_authenticated(
    config: &ClientConfig,
    env: &OsEnv,
    provider: Arc<CryptoProvider>,
) -> Result<oxssh::Client, u8> {
    let verifier = connect::verifier(config, quiet(config));
    let downgraded = verifier.downgraded.clone();
    let peer_ip = verifier.peer_ip.clone();
    let known = verifier.load();
    let transport = connect::transport_config(config, &provider, &known);
    let client_config = connect::client_config(config, transport, verifier, provider);
    let client = match connect::connect(config, client_config, &peer_ip).await {
        Ok(client) => client,
        Err(ConnectError::Resolve(msg) | ConnectError::Connect(msg)) => {
            return Err(fail(&[format!("ssh: {msg}")]))
        }
        Err(ConnectError::Handshake(oxssh::Error::HostKeyRejected(reason))) => {
            return Err(fail(&[reason]))
        }
        // OpenSSH's two lines for a server that never finishes its banner or kex.
        Err(ConnectError::Handshake(oxssh::Error::Timeout)) => {
            return Err(fail(&[
                "Connection timed out during banner exchange".into(),
                format!(
                    "Connection to {} port {} timed out",
                    config.hostname, config.port
                ),
            ]))
        }
        Err(ConnectError::Handshake(e)) => {
            if let Some(lines) = disconnect_lines(&e, &peer_ip, config.port) {
                return Err(fail(&lines));
            }
            return Err(fail(&[format!(
                "Connection to {} port {}: {e}",
                config.hostname, config.port
            )]));
        }
    };
    let identity_files: Vec<PathBuf> = config
        .identity_file_paths(env)
        .unwrap_or_default()
        .into_iter()
        .map(PathBuf::from)
        .collect();
    let mut settings = AuthSettings::from_config(config, identity_files, !quiet(config));
    settings.certificate_files = config
        .certificate_file_paths(env)
        .unwrap_or_default()
        .into_iter()
        .map(PathBuf::from)
        .collect();
    if downgraded.load(std::sync::atomic::Ordering::SeqCst) {
        // A changed host key was let through: no secrets for a possible impostor.
        settings.password = false;
        settings.keyboard_interactive = false;
    }
    let prompter = Arc::new(TerminalPrompter {
        batch: config.batch_mode,
    });
    if let Err(message) = authenticate(&client, &settings, prompter).await {
        let ended = client.ended_with();
        let lines = ended.and_then(|e| disconnect_lines(&e, &peer_ip, config.port));
        return Err(fail(&lines.unwrap_or_else(|| vec![message])));
    }
    Ok(client)
}

/// OpenSSH's two lines for a server that sent DISCONNECT: "Received disconnect from
/// ADDR port PORT:CODE: TEXT" (the server's text escaped as ssh's log lines escape it)
/// and "Disconnected from ADDR port PORT". `None` for any other error.
fn disconnect_lines(
    e: &oxssh::Error,
    peer_ip: &std::sync::Mutex<Option<std::net::IpAddr>>,
    port: u16,
) -> Option<Vec<String>> {
    let oxssh::Error::Transport(oxssh_proto::TransportError::PeerDisconnected {
        reason,
        description,
    }) = e
    else {
        return None;
    };
    let addr = peer_ip.lock().ok().and_then(|ip| *ip)?;
    Some(vec![
        format!(
            "Received disconnect from {addr} port {port}:{}: {}",
            reason.code(),
            crate::width::escape_log(description)
        ),
        format!("Disconnected from {addr} port {port}"),
    ])
}

async fn connect_and_run(
    args: &Args,
    config: &ClientConfig,
    env: &OsEnv,
    provider: Arc<CryptoProvider>,
    ready: Option<ReadySignal>,
    plan: &forward::Plan,
    stdio: Option<&StdioTarget>,
) -> u8 {
    if let Some(command) = args.mux_command {
        return mux::control(config, command).await;
    }
    let persist_copy = mux::persist_copy();
    // Forwards are asked of a master (MUX_C_OPEN_FWD), a stdio forward too
    // (MUX_C_NEW_STDIO_FWD), agent forwarding in the session request (the master's own
    // ForwardAgent decides, as OpenSSH's).
    if let (None, Some(target)) = (&persist_copy, stdio) {
        if let Some(conn) = mux::existing_master(config).await {
            let (host, port) = target.mux_request();
            return conn.stdio_forward(&host, port).await;
        }
    }
    if persist_copy.is_none() && stdio.is_none() {
        // A master that refuses the session leaves us to connect by ourselves, as ssh.
        if let Some(conn) = mux::existing_master(config).await {
            if let Some(code) = through_master(conn, args, config).await {
                return code;
            }
        } else {
            match mux::start_persistent_master(config) {
                Ok(true) => {
                    // The background master listens now: this process is its first client.
                    if let Some(conn) = mux::existing_master(config).await {
                        if let Some(code) = through_master(conn, args, config).await {
                            return code;
                        }
                    }
                }
                Ok(false) => {}
                Err(code) => return code,
            }
        }
    }
    let client = match connect_authenticated(config, env, provider).await {
        Ok(client) => client,
        Err(code) => return code,
    };
    if let Some(target) = stdio {
        return super::stdio_forward::run_alone(&client, target, plan, ready).await;
    }
    let forwarding = match forward::start(&client, plan).await {
        Ok(forwarding) => forwarding,
        Err(message) => {
            client.disconnect().await;
            return fail(&[message]);
        }
    };
    let master = mux::start_master(config, &client, &forwarding);
    if let Some(copy) = persist_copy {
        let Some(master) = master else {
            return 255;
        };
        copy.notify();
        mux::persist(master, &client, config.control_persist).await;
        forwarding.stop(&client).await;
        client.disconnect().await;
        return 0;
    }
    if let Some(ready) = ready {
        ready.notify();
    }
    let mut commands = Commands {
        forwarding: &forwarding,
        permit_local_command: config.permit_local_command,
    };
    let code = match &master {
        Some(m) => {
            tokio::select! {
                code = own_session(args, config, &client, &mut commands) => code,
                () = m.terminated() => 255,
            }
        }
        None => own_session(args, config, &client, &mut commands).await,
    };
    if let Some(master) = master {
        mux::drain(master, &client).await;
    }
    forwarding.stop(&client).await;
    client.disconnect().await;
    code
}

/// The session on our own connection; its exit status.
async fn own_session(
    args: &Args,
    config: &ClientConfig,
    client: &oxssh::Client,
    commands: &mut Commands<'_>,
) -> u8 {
    match session_settings(args, config) {
        None => {
            // -N: no session; keep the connection until the server ends it.
            let _ = client.wait_closed().await;
            0
        }
        Some(settings) => {
            let pty = settings.pty;
            match session::run(client, settings, Some(commands)).await {
                Ok(Ended::Status(status)) => {
                    if pty && !quiet(config) {
                        eprintln!("Connection to {} closed.", config.hostname);
                    }
                    match status {
                        oxssh::ExitStatus::Code(code) => (code & 0xff) as u8,
                        _ => 255,
                    }
                }
                Ok(Ended::Disconnected) => {
                    eprintln!("Connection to {} closed.", config.hostname);
                    255
                }
                // OpenSSH dies of SIGPIPE here, silently; we cannot un-ignore the
                // signal without unchecked OS calls, so end silently with our own status.
                Ok(Ended::OutputClosed) => 255,
                Err(oxssh::Error::Transport(oxssh_proto::TransportError::Unresponsive)) => {
                    fail(&[format!(
                        "Timeout, server {} not responding.",
                        config.hostname
                    )])
                }
                Err(e) => fail(&[format!("oxssh: {e}")]),
            }
        }
    }
}

/// `SendEnv` patterns matched against our environment, then `SetEnv`.
fn environment(config: &ClientConfig) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for (name, value) in std::env::vars() {
        let wanted = config.send_env.iter().any(|pattern| {
            !pattern.starts_with('-') && oxssh_config::match_pattern(&name, pattern)
        });
        if wanted {
            env.push((name, value));
        }
    }
    for item in &config.set_env {
        if let Some((name, value)) = item.split_once('=') {
            env.push((name.to_owned(), value.to_owned()));
        }
    }
    env
}

/// Decides what to run and whether to allocate a pty (OpenSSH's RequestTTY rules).
pub(super) fn session_settings(args: &Args, config: &ClientConfig) -> Option<SessionSettings> {
    let command = args
        .command_line()
        .or_else(|| config.remote_command.clone().map(String::into_bytes));
    let run = match config.session_type {
        SessionType::None => return None,
        SessionType::Subsystem => {
            Run::Subsystem(String::from_utf8_lossy(&command.unwrap_or_default()).into_owned())
        }
        SessionType::Default => match command {
            Some(c) => Run::Exec(c),
            None => Run::Shell,
        },
    };
    // OpenSSH: a pty is wanted for -t, or for a shell; it is only allocated when stdin
    // is a terminal (and not -n), unless forced; a wanted one not allocated is said.
    let stdin_is_tty = nix::unistd::isatty(std::io::stdin()).unwrap_or(false);
    let wanted = match config.request_tty {
        RequestTty::No => false,
        RequestTty::Force | RequestTty::Yes => true,
        RequestTty::Auto => run == Run::Shell,
    };
    let pty =
        config.request_tty == RequestTty::Force || (wanted && stdin_is_tty && !config.stdin_null);
    if wanted && !pty && !quiet(config) {
        eprintln!("Pseudo-terminal will not be allocated because stdin is not a terminal.");
    }
    let escape = match config.escape_char {
        EscapeChar::None => None,
        EscapeChar::Byte(b) => Some(b),
    };
    Some(SessionSettings {
        run,
        pty,
        escape,
        stdin_null: config.stdin_null,
        env: environment(config),
        forward_agent: config.forward_agent != oxssh_config::ForwardAgent::No,
        command_line: config.enable_escape_commandline,
        term: std::env::var("TERM").unwrap_or_else(|_| "dumb".into()),
    })
}
