//! `oxssh-agent`: a drop-in for OpenSSH's `ssh-agent`. It prints the shell lines that
//! set `SSH_AUTH_SOCK`/`SSH_AGENT_PID`, then serves from the background (a re-executed
//! copy, see [`crate::background`]); `-D`/`-d` stay in the foreground; `-k` kills the
//! agent named by `SSH_AGENT_PID`; with a command, runs it with the variables set and
//! exits with its status (the agent ends when that parent is gone).

mod args;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};
use oxssh_agent::server::{bind, fresh_socket_path, Agent, AskpassConfirm, Confirm};

use crate::background::{self, Outcome, ReadySignal, AGENT_READY_ENV};
pub use args::{Options, USAGE};

/// The socket the background copy binds.
const SOCKET_ENV: &str = "OXSSH_AGENT_SOCKET";
/// Set when the socket's directory was made for this agent (removed at exit).
const SOCKET_DIR_ENV: &str = "OXSSH_AGENT_SOCKET_DIR";
/// In command mode: the pid whose exit ends the agent.
const PARENT_ENV: &str = "OXSSH_AGENT_PARENT";

/// `oxssh-agent`'s main.
pub fn main() -> ExitCode {
    let opts = match args::parse(std::env::args_os().skip(1)) {
        Ok(opts) => opts,
        Err(message) => {
            // Each message carries its own line end (getopt's go through OpenSSH's
            // logger: CR LF).
            eprint!("{message}");
            eprint!("{USAGE}");
            return ExitCode::from(1);
        }
    };
    ExitCode::from(run(&opts))
}

fn csh(opts: &Options) -> bool {
    opts.csh || (!opts.sh && std::env::var("SHELL").is_ok_and(|shell| shell.ends_with("csh")))
}

fn set_line(csh: bool, name: &str, value: &str) -> String {
    if csh {
        format!("setenv {name} {value};\n")
    } else {
        format!("{name}={value}; export {name};\n")
    }
}

fn run(opts: &Options) -> u8 {
    if opts.kill {
        return kill(csh(opts));
    }
    if let Some(ready) = ReadySignal::from_env(AGENT_READY_ENV) {
        return background_copy(opts, ready);
    }
    let (socket, fresh_dir) = match socket_path(opts) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("oxssh-agent: mkdtemp: private socket dir: {e}");
            return 1;
        }
    };
    if opts.debug || opts.foreground {
        init_logging(if opts.debug { "debug" } else { "info" });
        return foreground(opts, &socket, fresh_dir.as_deref());
    }
    let mut env: Vec<(&str, OsString)> = vec![(SOCKET_ENV, socket.clone().into_os_string())];
    if let Some(dir) = &fresh_dir {
        env.push((SOCKET_DIR_ENV, dir.clone().into_os_string()));
    }
    if !opts.command.is_empty() {
        env.push((PARENT_ENV, std::process::id().to_string().into()));
    }
    let env_refs: Vec<(&str, &std::ffi::OsStr)> =
        env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let pid = match background::spawn_daemon(AGENT_READY_ENV, true, &env_refs) {
        Ok(Outcome::Ready(pid)) => pid,
        Ok(Outcome::Exited(code)) => {
            remove_socket_dir(fresh_dir.as_deref());
            return code;
        }
        Err(e) => {
            eprintln!("oxssh-agent: cannot go to the background: {e}");
            remove_socket_dir(fresh_dir.as_deref());
            return 1;
        }
    };
    let socket_text = socket.display().to_string();
    if let Some((program, rest)) = opts.command.split_first() {
        let status = std::process::Command::new(program)
            .args(rest)
            .env("SSH_AUTH_SOCK", &socket)
            .env("SSH_AGENT_PID", pid.to_string())
            .status();
        return match status {
            Ok(status) => status.code().map_or(1, |c| (c & 0xff) as u8),
            Err(e) => {
                eprintln!("{}: {e}", program.to_string_lossy());
                // The agent ends on its own once we are gone.
                1
            }
        };
    }
    let csh = csh(opts);
    println!(
        "{}{}echo Agent pid {pid};",
        set_line(csh, "SSH_AUTH_SOCK", &socket_text),
        set_line(csh, "SSH_AGENT_PID", &pid.to_string())
    );
    0
}

fn socket_path(opts: &Options) -> std::io::Result<(PathBuf, Option<PathBuf>)> {
    if let Some(path) = &opts.bind_address {
        return Ok((path.clone(), None));
    }
    let path = fresh_socket_path(std::process::id())?;
    let dir = path.parent().map(Path::to_path_buf);
    Ok((path, dir))
}

fn remove_socket_dir(dir: Option<&Path>) {
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn agent(opts: &Options) -> Agent {
    let confirm: Option<Arc<dyn Confirm>> = std::env::var_os("SSH_ASKPASS")
        .filter(|p| !p.is_empty())
        .map(|program| {
            Arc::new(AskpassConfirm {
                program: PathBuf::from(program),
            }) as Arc<dyn Confirm>
        });
    Agent::new(opts.lifetime, confirm)
}

/// Ends the process on SIGTERM/SIGINT/SIGHUP after removing the socket (and its
/// directory when we made it). The signals are blocked in every thread and taken here
/// with `sigwait`, so no handler code runs in signal context.
fn cleanup_on_signals(socket: PathBuf, dir: Option<PathBuf>) {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.add(Signal::SIGHUP);
    if let Err(e) = set.thread_block() {
        tracing::debug!("sigprocmask: {e}");
        return;
    }
    std::thread::spawn(move || {
        let signal = set.wait();
        tracing::debug!("{signal:?}: exiting");
        let _ = std::fs::remove_file(&socket);
        remove_socket_dir(dir.as_deref());
        std::process::exit(0);
    });
}

/// Binds and serves; the caller has already called [`cleanup_on_signals`] (before any
/// thread exists, so every thread inherits the blocked signals).
fn serve(opts: &Options, socket: &Path, dir: Option<&Path>, ready: impl FnOnce()) -> u8 {
    let listener = match bind(socket) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("oxssh-agent: bind: {e}");
            remove_socket_dir(dir);
            return 1;
        }
    };
    ready();
    let result = agent(opts).serve(&listener);
    let _ = std::fs::remove_file(socket);
    remove_socket_dir(dir);
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("oxssh-agent: {e}");
            1
        }
    }
}

fn foreground(opts: &Options, socket: &Path, dir: Option<&Path>) -> u8 {
    cleanup_on_signals(socket.to_path_buf(), dir.map(Path::to_path_buf));
    let csh = csh(opts);
    serve(opts, socket, dir, || {
        use std::io::Write as _;
        println!(
            "{}echo Agent pid {};",
            set_line(csh, "SSH_AUTH_SOCK", &socket.display().to_string()),
            std::process::id()
        );
        let _ = std::io::stdout().flush();
    })
}

fn background_copy(opts: &Options, ready: ReadySignal) -> u8 {
    let Some(socket) = take_env(SOCKET_ENV) else {
        eprintln!("oxssh-agent: no socket named by the foreground process");
        return 1;
    };
    let dir = take_env(SOCKET_DIR_ENV);
    cleanup_on_signals(socket.clone(), dir.clone());
    if let Some(parent) =
        take_env(PARENT_ENV).and_then(|p| p.to_str().and_then(|p| p.parse::<i32>().ok()))
    {
        let (socket, dir) = (socket.clone(), dir.clone());
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            if nix::unistd::getppid().as_raw() != parent {
                let _ = std::fs::remove_file(&socket);
                remove_socket_dir(dir.as_deref());
                std::process::exit(0);
            }
        });
    }
    serve(opts, &socket, dir.as_deref(), || ready.notify())
}

fn take_env(name: &str) -> Option<PathBuf> {
    let value = std::env::var_os(name)?;
    std::env::remove_var(name);
    Some(PathBuf::from(value))
}

fn kill(csh: bool) -> u8 {
    let Ok(text) = std::env::var("SSH_AGENT_PID") else {
        eprintln!("SSH_AGENT_PID not set, cannot kill agent");
        return 1;
    };
    let pid = text.parse::<i32>().unwrap_or(0);
    if pid < 2 {
        eprintln!("SSH_AGENT_PID={text}, which is not a good PID");
        return 1;
    }
    if let Err(e) = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM) {
        eprintln!("kill: {}", e.desc());
        return 1;
    }
    let unset = if csh { "unsetenv" } else { "unset" };
    print!("{unset} SSH_AUTH_SOCK;\n{unset} SSH_AGENT_PID;\necho Agent pid {pid} killed;\n");
    0
}

fn init_logging(level: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .try_init();
}
