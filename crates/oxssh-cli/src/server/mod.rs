//! `oxsshd`: the SSH server. With a configuration (`-f FILE`, or
//! `/etc/oxssh/sshd_config` when it exists) it is the system daemon: it reads
//! `sshd_config` as sshd does, authenticates system users (keys, PAM passwords and
//! keyboard-interactive) and runs their sessions as them. Without one it runs the
//! embedded default: a personal server for the user who started it on 127.0.0.1:2222,
//! with an ed25519 host key created on first start (started by root, it serves every
//! system user by public key). Both are the same server; the embedded default is a
//! configuration written in code.

mod args;
mod auth;
mod certauth;
mod childio;
mod conn;
mod daemon;
mod environment;
mod forward;
mod forward_policy;
mod hostkey;
mod log;
mod logging;
mod login;
mod rc;
mod records;
mod relay;
mod revoked;
mod session;
mod settings;
mod stream;
mod streamlocal;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oxssh_config::sshd::ConnectionContext;
use oxssh_keys::HashAlg;
use oxssh_os::SystemUser;

use crate::background::{self, ReadySignal, SERVER_READY_ENV};
pub use args::{parse_args, Args, ArgsError};
use settings::{Settings, SYSTEM_CONFIG};

/// Exit status for start-up failures and refused flags, as sshd.
pub const EXIT_FAILURE: i32 = 255;

/// The `Subsystem`/`ForceCommand` value served by oxsshd itself, and the program name
/// (argv[0]) under which the oxsshd binary runs as the SFTP server for a session.
pub const INTERNAL_SFTP: &str = "internal-sftp";

/// Runs `oxsshd` with the command line `argv` (without the program name); returns the
/// exit status.
pub fn main(argv: Vec<std::ffi::OsString>) -> i32 {
    if let Ok(rc_file) = std::env::var(rc::LAUNCHER_ENV) {
        // A session's process, as its user: run the rc file, then the shell.
        return rc::run_launcher(&rc_file, argv);
    }
    let args = match parse_args(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("oxsshd: {e}");
            return EXIT_FAILURE;
        }
    };
    let config_path = args.config_file.clone().map(PathBuf::from).or_else(|| {
        Path::new(SYSTEM_CONFIG)
            .exists()
            .then(|| PathBuf::from(SYSTEM_CONFIG))
    });
    if args.test || args.dump {
        return check_config(&args, config_path.as_deref());
    }
    // The system daemon's configuration is read first: its LogLevel and
    // SyslogFacility decide the logging, and errors are seen before detaching.
    let system = match &config_path {
        Some(path) => match Settings::from_file(path, &args) {
            Ok(settings) => Some((path.clone(), settings)),
            Err(lines) => {
                for line in lines {
                    eprintln!("{line}");
                }
                return EXIT_FAILURE;
            }
        },
        None => None,
    };
    let ready = ReadySignal::from_env(SERVER_READY_ENV);
    let detach = system.is_some() && !args.foreground && args.debug == 0 && !args.inetd;
    if detach && ready.is_none() {
        // sshd without -D: the daemon goes to the background once it listens.
        return i32::from(background::run_in_background(
            "oxsshd",
            SERVER_READY_ENV,
            true,
            false,
        ));
    }
    let log_config = system
        .as_ref()
        .map(|(_, s)| (s.config.log_level, s.config.syslog_facility));
    logging::init(&args, log_config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("oxsshd: cannot start the runtime: {e}");
            return EXIT_FAILURE;
        }
    };
    let result = match system {
        Some((path, settings)) => runtime.block_on(run_system(args, path, settings, ready)),
        None => runtime.block_on(run_embedded(args)),
    };
    match result {
        Ok(()) => 0,
        Err(lines) => {
            for line in lines {
                // A detached daemon's stderr may be gone: never panic writing to it.
                let _ = writeln!(std::io::stderr(), "{line}");
                tracing::error!("{line}");
            }
            EXIT_FAILURE
        }
    }
}

/// `-t` (check) and `-T` (print the effective configuration).
fn check_config(args: &Args, path: Option<&Path>) -> i32 {
    let settings = match path {
        Some(path) => Settings::from_file(path, args),
        None => embedded_settings(args),
    };
    let settings = match settings {
        Ok(s) => s,
        Err(lines) => {
            for line in lines {
                eprintln!("{line}");
            }
            return EXIT_FAILURE;
        }
    };
    // Like `sshd -t`, a usable configuration passes silently; its warnings (settings
    // not acted on, host keys that did not load) are logged when the server starts.
    if args.dump {
        let config = match connection_spec(&args.connection_spec) {
            Ok(Some(ctx)) => settings.for_connection(&ctx),
            Ok(None) => settings.config.clone(),
            Err(e) => {
                eprintln!("{e}");
                return EXIT_FAILURE;
            }
        };
        print!("{}", config.dump());
    }
    0
}

/// `-C user=u,host=h,addr=a,laddr=l,lport=p` as sshd reads it.
fn connection_spec(specs: &[String]) -> Result<Option<ConnectionContext>, String> {
    if specs.is_empty() {
        return Ok(None);
    }
    let mut ctx = ConnectionContext::default();
    for item in specs.iter().flat_map(|s| s.split(',')) {
        let Some((key, value)) = item.split_once('=') else {
            return Err(format!("Invalid test mode specification {item}"));
        };
        let value = value.to_owned();
        match key {
            "user" => {
                ctx.groups = SystemUser::by_name(&value)
                    .ok()
                    .flatten()
                    .and_then(|u| u.group_names().ok());
                ctx.user = Some(value);
            }
            "host" => ctx.host = Some(value),
            "addr" => ctx.address = Some(value),
            "laddr" => ctx.local_address = Some(value),
            "lport" => ctx.local_port = value.parse().ok(),
            "rdomain" => ctx.rdomain = Some(value),
            _ => return Err(format!("Invalid test mode specification {item}")),
        }
    }
    Ok(Some(ctx))
}

/// The account a personal server serves: the running user, with `HOME` and `SHELL` as
/// their environment says.
fn personal_account() -> Result<SystemUser, String> {
    let uid = nix::unistd::getuid().as_raw();
    let mut user = SystemUser::by_uid(uid)
        .ok()
        .flatten()
        .ok_or_else(|| format!("no user name for uid {uid}"))?;
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(home) = env("HOME") {
        user.home = PathBuf::from(home);
    }
    if let Some(shell) = env("SHELL") {
        user.shell = PathBuf::from(shell);
    }
    Ok(user)
}

fn embedded_settings(args: &Args) -> Result<Settings, Vec<String>> {
    let account = personal_account().map_err(|e| vec![e])?;
    let key_path = hostkey::default_path(&account.home).map_err(|e| vec![e])?;
    let port = args.ports.first().copied().unwrap_or(2222);
    Settings::embedded(account, port, &key_path, args)
}

async fn run_embedded(args: Args) -> Result<(), Vec<String>> {
    let settings = embedded_settings(&args)?;
    if args.inetd {
        return serve_inetd(settings).await;
    }
    let listeners = daemon::bind(&settings, &[]).await.map_err(|e| vec![e])?;
    let port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map_or(2222, |a| a.port());
    let who = settings
        .personal
        .as_ref()
        .map_or_else(String::new, |u| u.name.clone());
    if let Some(key) = settings.host_keys.first() {
        let fingerprint = key.public_key().fingerprint(HashAlg::Sha256);
        println!("oxsshd: listening on 127.0.0.1:{port} for user {who}");
        println!(
            "oxsshd: host key {} {fingerprint} ({})",
            key.public_key().key_type(),
            settings.config.host_keys.first().map_or("", String::as_str)
        );
        println!("oxsshd: connect with: oxssh -p {port} {who}@127.0.0.1");
        println!("oxsshd:           or: ssh -p {port} {who}@127.0.0.1");
    }
    let reload_args = args.clone();
    daemon::serve(listeners, Arc::new(settings), move || {
        embedded_settings(&reload_args)
    })
    .await
    .map_err(|e| vec![format!("listener failed: {e}")])
}

async fn run_system(
    args: Args,
    path: PathBuf,
    settings: Settings,
    ready: Option<ReadySignal>,
) -> Result<(), Vec<String>> {
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    if args.inetd {
        return serve_inetd(settings).await;
    }
    let listeners = daemon::bind(&settings, &args.ports)
        .await
        .map_err(|e| vec![e])?;
    let pid_file = settings.config.pid_file.clone();
    let pid_file = (pid_file != "none").then_some(pid_file);
    if let Some(file) = &pid_file {
        if let Err(e) = std::fs::write(file, format!("{}\n", std::process::id())) {
            tracing::error!("Couldn't create pid file \"{file}\": {e}");
        }
    }
    if let Some(ready) = ready {
        ready.notify();
    }
    let reload_args = args.clone();
    let result = daemon::serve(listeners, Arc::new(settings), move || {
        Settings::from_file(&path, &reload_args)
    })
    .await;
    if let Some(file) = &pid_file {
        let _ = std::fs::remove_file(file);
    }
    result.map_err(|e| vec![format!("listener failed: {e}")])
}

/// `-i`: one connection on stdin and stdout.
async fn serve_inetd(settings: Settings) -> Result<(), Vec<String>> {
    let stream = stream::Stream::stdio().map_err(|e| vec![format!("stdin/stdout: {e}")])?;
    let unknown = std::net::SocketAddr::from(([0, 0, 0, 0], 65535));
    let ends = match &stream {
        stream::Stream::Socket(s) => auth::Endpoints {
            peer: s.peer_addr().unwrap_or(unknown),
            local: s.local_addr().unwrap_or(unknown),
        },
        stream::Stream::Pipes(..) => auth::Endpoints {
            peer: unknown,
            local: unknown,
        },
    };
    let settings = Arc::new(settings);
    log::connection(&settings, ends);
    conn::serve(stream, ends, settings, None).await;
    Ok(())
}
