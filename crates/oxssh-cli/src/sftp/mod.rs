//! `oxsftp`, a drop-in for OpenSSH's `sftp`: flags and destination, then the `oxssh`
//! client's configuration, connection and authentication (`client::run`), the `sftp`
//! subsystem on a session channel, and the command interpreter ([`shell`]) reading a
//! batch file (`-b`) or the terminal.
//!
//! Exit status as sftp's: 0, 1 when a batch command failed (or a start-up transfer
//! did), 255 when the connection could not be made.

pub mod args;
mod commands;
mod complete;
mod editor;
mod ls;
mod meters;
pub mod progress;
mod prompt;
pub(crate) mod shell;
mod transfer;
pub(crate) mod tree;
mod units;

use std::io::BufRead;
use std::sync::Arc;

use oxssh_config::{Options, OsEnv};
use oxssh_proto::connection::channel::MIN_IN_PLACE_PACKET;

use crate::client::run::{connect_authenticated, expand_tilde, fail, init_logging, resolve_config};
pub(crate) use shell::{Outcome, Shell, Transfers};

/// The SFTP session: over an SSH channel, or the pipes of a local server (`-D`).
pub(crate) type Session = oxssh_sftp::Sftp<
    Box<dyn tokio::io::AsyncRead + Unpin + Send>,
    Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
>;

/// Where a file-transfer program connects, from its flags and destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Target {
    pub host: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<String>,
    /// `-o` lines and the flags that are ssh options.
    pub options: Vec<String>,
    pub config_file: Option<String>,
    /// `-s`: a subsystem name, or a server program path (contains `/`).
    pub subsystem: Option<String>,
}

/// Resolves the configuration, then runs `body` on a one-thread runtime with a
/// connected, authenticated client and an SFTP session (the agent forwarded to it when
/// the configuration says so, `-A`); returns the exit status (255 when the connection
/// or the session could not be made).
pub(crate) fn with_session<F, Fut>(target: &Target, body: F) -> u8
where
    F: FnOnce(Session, String) -> Fut,
    Fut: std::future::Future<Output = u8>,
{
    let prepared = match Prepared::resolve(target) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // The connection serves the agent when the configuration forwards it (-A); the
    // session then asks for it.
    let forward_agent = crate::client::forward::Plan::agent_only(&prepared.config).is_some();
    let subsystem = target.subsystem.clone();
    connected(&prepared, |client, host| async move {
        match open_sftp(&client, subsystem.as_deref(), forward_agent).await {
            Ok(sftp) => body(sftp, host).await,
            Err(code) => code,
        }
    })
}

/// Resolves the configuration, then runs `body` on a one-thread runtime with a
/// connected, authenticated client (and the host name), disconnecting afterwards;
/// returns the exit status (255 when the connection could not be made). With `-A` the
/// connection serves the agent to the sessions that ask for it.
pub(crate) fn with_client<F, Fut>(target: &Target, body: F) -> u8
where
    F: FnOnce(oxssh::Client, String) -> Fut,
    Fut: std::future::Future<Output = u8>,
{
    match Prepared::resolve(target) {
        Ok(prepared) => connected(&prepared, body),
        Err(code) => code,
    }
}

/// Runs `body` on a one-thread runtime with a client connected as `prepared` says
/// (serving the agent when it forwards it).
fn connected<F, Fut>(prepared: &Prepared, body: F) -> u8
where
    F: FnOnce(oxssh::Client, String) -> Fut,
    Fut: std::future::Future<Output = u8>,
{
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let code = runtime.block_on(async {
        let client = match prepared.connect_serving_agent().await {
            Ok(client) => client,
            Err(code) => return code,
        };
        let code = body(client.clone(), prepared.config.hostname.clone()).await;
        client.disconnect().await;
        code
    });
    runtime.shutdown_background();
    code
}

/// A one-thread runtime for a file-transfer program; the error is the exit status.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(&[format!("cannot start the runtime: {e}")]))
}

/// A target's resolved configuration (logging set up from it), ready to connect:
/// resolved before any runtime starts, so configuration errors come first.
pub(crate) struct Prepared {
    pub config: oxssh_config::ClientConfig,
    env: OsEnv,
    provider: Arc<oxssh_proto::crypto::CryptoProvider>,
}

impl Prepared {
    /// Resolves `target`'s configuration; the error is the exit status.
    pub(crate) fn resolve(target: &Target) -> Result<Self, u8> {
        let provider = oxssh_crypto::default_provider();
        let env = OsEnv::new();
        let mut options = Options::new();
        options.user = target.user.clone();
        options.port = target.port;
        for path in &target.identity_files {
            options.add_identity_file(&expand_tilde(path), true);
        }
        let config = resolve_config(
            &target.host,
            options,
            &target.options,
            target.config_file.as_deref(),
            &env,
            &provider,
        )
        .map_err(|lines| fail(&lines))?;
        init_logging(config.log_level, None);
        Ok(Self {
            config,
            env,
            provider: Arc::new(provider),
        })
    }

    /// Connects and authenticates; the error is the exit status (255).
    pub(crate) async fn connect(&self) -> Result<oxssh::Client, u8> {
        connect_authenticated(&self.config, &self.env, Arc::clone(&self.provider)).await
    }

    /// [`Prepared::connect`], and when the configuration forwards the agent (`-A`), the
    /// connection serves it for as long as it lives to the sessions that ask for it.
    pub(crate) async fn connect_serving_agent(&self) -> Result<oxssh::Client, u8> {
        let client = self.connect().await?;
        if let Some(plan) = crate::client::forward::Plan::agent_only(&self.config) {
            if let Err(message) = crate::client::forward::start(&client, &plan).await {
                client.disconnect().await;
                return Err(fail(&[message]));
            }
        }
        Ok(client)
    }
}

/// The `sftp` subsystem (or `subsystem`) on a new session channel.
pub(crate) async fn open_sftp(
    client: &oxssh::Client,
    subsystem: Option<&str>,
    forward_agent: bool,
) -> Result<Session, u8> {
    let channel = match client.open_session().await {
        Ok(channel) => channel,
        Err(e) => {
            return Err(fail(&[
                format!("cannot open a session: {e}"),
                "Connection closed".into(),
            ]))
        }
    };
    if forward_agent {
        // No reply is asked for, as with ssh: a server that refuses says nothing.
        let _ = channel.request_agent_forwarding();
    }
    let subsystem = subsystem.unwrap_or("sftp");
    let started = if subsystem.contains('/') {
        channel.exec(subsystem).await
    } else {
        channel.subsystem(subsystem).await
    };
    if started.is_err() {
        return Err(fail(&[
            "subsystem request failed on channel 0".into(),
            "Connection closed".into(),
        ]));
    }
    let writer = channel.writer();
    let packets = ChannelPackets(channel.writer());
    let mut sftp = oxssh_sftp::Sftp::new(Box::new(channel) as _, Box::new(writer) as _)
        .await
        .map_err(|e| fail(&[format!("{e}"), "Connection closed".into()]))?;
    // A WRITE built in place fits one data packet: with small packets (OpenSSH's
    // sshd takes 32 KiB) that would be several times the requests for the server's
    // sftp-server, which costs it more than the copy saves us.
    if packets.0.peer_max_packet().unwrap_or(0) >= MIN_IN_PLACE_PACKET {
        sftp.set_in_place_writer(Box::new(packets));
    }
    Ok(sftp)
}

/// The session channel as a stream that builds an SFTP request in place in a data
/// packet (an upload's WRITEs are read from the file straight into their packets).
#[derive(Debug)]
struct ChannelPackets(oxssh::ChannelWriter);

impl oxssh_sftp::client::InPlaceWrite for ChannelPackets {
    fn poll_write_with(
        &mut self,
        cx: &mut std::task::Context<'_>,
        min: usize,
        max: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> std::io::Result<usize>,
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.poll_write_with(cx, min, max, fill)
    }
}

/// The program: returns the exit status.
pub fn main() -> u8 {
    let args = match args::parse(std::env::args_os().skip(1).collect()) {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("oxsftp: {message}");
            }
            eprint!("{}", args::USAGE);
            return 1;
        }
    };
    if let Some(server) = &args.direct {
        return direct(server, &args);
    }
    let dest = match args::destination(&args.destination) {
        Ok(dest) => dest,
        Err(message) => {
            eprintln!("{message}");
            return 1;
        }
    };
    if let Some(program) = &args.program {
        let argv = args::ssh_command(&args, &dest);
        let name = dest.host.clone();
        return with_server_program(program, &argv, name, &SFTP_END, |sftp, host| {
            session(sftp, &args, &dest, host)
        });
    }
    let target = Target {
        host: dest.host.clone(),
        user: dest.user.clone(),
        port: args.port.or(dest.port),
        identity_files: args.ssh.identity_files.clone(),
        options: args.ssh.options.clone(),
        config_file: args.ssh.config_file.clone(),
        subsystem: args.subsystem.clone(),
    };
    with_session(&target, |sftp, host| session(sftp, &args, &dest, host))
}

/// How a file-transfer program takes the end of its server program (`-S`, `-D`).
pub(crate) struct ProgramEnd {
    /// Written (status 255) when the program ends before the server answers.
    pub closed: &'static str,
    /// Whether a program that did not exit with 0 makes the status 1: scp checks it,
    /// sftp only waits for the program.
    pub status_counts: bool,
}

/// sftp's: it says this when its server program ends before answering (mostly: when
/// the program's end races sftp's first read, sftp can say `Connection closed.` first).
const SFTP_END: ProgramEnd = ProgramEnd {
    closed: "Connection closed\r\n",
    status_counts: false,
};

/// Waits (10 s at most, then kills it) for a server program whose session has ended;
/// whether it exited with 0.
pub(crate) async fn program_ended(mut child: tokio::process::Child) -> bool {
    let limit = std::time::Duration::from_secs(10);
    matches!(
        tokio::time::timeout(limit, child.wait()).await,
        Ok(Ok(status)) if status.success()
    )
}

/// `-D command` (oxsftp and oxscp): runs `body` with an SFTP session over the pipes of a
/// local server program instead of an SSH connection; returns the exit status, the
/// program's end taken as `end` says.
pub(crate) fn with_local_server<F, Fut>(command: &str, end: &ProgramEnd, body: F) -> u8
where
    F: FnOnce(Session, String) -> Fut,
    Fut: std::future::Future<Output = u8>,
{
    let words: Vec<&str> = command.split_whitespace().collect();
    let Some((program, rest)) = words.split_first() else {
        return fail(&["-D needs a command".into()]);
    };
    with_server_program(program, rest, (*program).to_owned(), end, body)
}

/// Runs `body` (told the server's `name`) with an SFTP session over the stdin and
/// stdout of `program args`: a local server (`-D`) or an ssh program (`-S`); once the
/// session has ended, waits for the program as `end` says.
pub(crate) fn with_server_program<F, Fut, A>(
    program: &str,
    args: &[A],
    name: String,
    end: &ProgramEnd,
    body: F,
) -> u8
where
    F: FnOnce(Session, String) -> Fut,
    Fut: std::future::Future<Output = u8>,
    A: AsRef<std::ffi::OsStr>,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&[format!("cannot start the runtime: {e}")]),
    };
    let code = runtime.block_on(async {
        let (child, sftp) = match spawn_server(program, args, end.closed).await {
            Ok(spawned) => spawned,
            Err(code) => return code,
        };
        // The session (and with it the program's stdin) is dropped when `body` ends.
        let code = body(sftp, name).await;
        if program_ended(child).await || !end.status_counts {
            code
        } else {
            code.max(1)
        }
    });
    runtime.shutdown_background();
    code
}

/// Starts `program args` and an SFTP session over its stdin and stdout: the program
/// (killed when dropped) and the session. When it ends before the session starts,
/// says `closed` (255).
pub(crate) async fn spawn_server<A: AsRef<std::ffi::OsStr>>(
    program: &str,
    args: &[A],
    closed: &str,
) -> Result<(tokio::process::Child, Session), u8> {
    let mut child = match spawn_piped(program, args) {
        Ok(child) => child,
        Err(e) => return Err(fail(&[format!("{program}: {e}")])),
    };
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(fail(&["no pipes to the server".into()]));
    };
    match oxssh_sftp::Sftp::new(Box::new(stdout) as _, Box::new(stdin) as _).await {
        Ok(sftp) => Ok((child, sftp)),
        Err(oxssh_sftp::Error::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::BrokenPipe
            ) =>
        {
            eprint!("{closed}");
            Err(255)
        }
        Err(e) => Err(fail(&[format!("{e}"), "Connection closed".into()])),
    }
}

/// Starts `program args` with its stdin and stdout ours (its stderr ours too); the
/// program is killed if the handle is dropped before it has exited.
pub(crate) fn spawn_piped<A: AsRef<std::ffi::OsStr>>(
    program: &str,
    args: impl IntoIterator<Item = A>,
) -> std::io::Result<tokio::process::Child> {
    tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
}

/// `oxsftp -D command`.
fn direct(command: &str, args: &args::Args) -> u8 {
    let dest = args::Destination {
        user: None,
        host: String::new(),
        port: None,
        path: None,
    };
    with_local_server(command, &SFTP_END, |sftp, name| {
        session(sftp, args, &dest, name)
    })
}

async fn session(
    mut sftp: Session,
    args: &args::Args,
    dest: &args::Destination,
    host: String,
) -> u8 {
    sftp.set_transfer(args.buffer, args.requests);
    let interactive_tty = nix::unistd::isatty(std::io::stdout()).unwrap_or(false);
    let transfers = Transfers {
        preserve: args.preserve,
        recursive: args.recursive,
        resume: args.resume,
        fsync: args.fsync,
    };
    // Batch mode is quiet, as sftp's: no "Fetching"/"Uploading" lines.
    let quiet = args.quiet || args.batch.is_some();
    let mut shell = match Shell::start(
        sftp,
        transfers,
        quiet,
        interactive_tty && !args.quiet && args.batch.is_none(),
        args.limit_kbps,
    )
    .await
    {
        Ok(shell) => shell,
        Err(message) => return fail(&[message]),
    };
    if !quiet {
        // On stderr, as sftp; `-D` (no host): sftp's word for a local server.
        let how = if dest.host.is_empty() {
            "Attached to"
        } else {
            "Connected to"
        };
        eprintln!("{how} {host}.");
    }
    if let Some(path) = &dest.path {
        match shell.start_path(path).await {
            Ok(Some(code)) => return code,
            Ok(None) => {}
            Err(message) => return fail(&[message]),
        }
    }
    match &args.batch {
        Some(file) => run_batch(&mut shell, file).await,
        None => prompt::run_interactive(&mut shell).await,
    }
}

/// Runs a batch file: each command echoed after the prompt; a failing command ends the
/// run with status 1 unless prefixed with `-`; `@` suppresses the echo.
async fn run_batch(shell: &mut Shell, file: &str) -> u8 {
    let reader: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        match std::fs::File::open(file) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => return fail(&[format!("{file} ({e})")]),
        }
    };
    for line in reader.lines() {
        let Ok(line) = line else {
            return 1;
        };
        let CommandLine {
            command,
            ignore_errors,
            echo,
        } = CommandLine::parse(&line);
        // A line sftp cannot parse is reported before its echo, as sftp reports it.
        let unparsed = command.and_then(|c| commands::check(c).err());
        if let Some(message) = &unparsed {
            eprintln!("{message}");
        }
        if echo {
            println!("sftp> {line}");
        }
        let Some(cmd) = command else {
            continue;
        };
        let outcome = match unparsed {
            Some(_) => Outcome::Done(Err(String::new())),
            None => shell.run(cmd).await,
        };
        match outcome {
            Outcome::Quit => return 0,
            Outcome::Lost => return 255,
            Outcome::Done(Ok(())) => {}
            Outcome::Done(Err(message)) => {
                if !message.is_empty() {
                    eprintln!("{message}");
                }
                if !ignore_errors {
                    return 1;
                }
            }
        }
    }
    0
}

/// A command line as sftp reads it from a file or a pipe.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct CommandLine<'a> {
    /// The command, or `None` for a blank line or a comment (`#`).
    pub command: Option<&'a str>,
    /// Prefixed `-`: a failure does not end a batch.
    pub ignore_errors: bool,
    /// Echoed as it was written (blank lines and comments too), unless prefixed `@`.
    pub echo: bool,
}

impl<'a> CommandLine<'a> {
    pub fn parse(line: &'a str) -> Self {
        let mut cmd = line.trim_start();
        let mut ignore_errors = false;
        let mut echo = true;
        loop {
            if let Some(rest) = cmd.strip_prefix('-') {
                ignore_errors = true;
                cmd = rest;
            } else if let Some(rest) = cmd.strip_prefix('@') {
                echo = false;
                cmd = rest;
            } else {
                break;
            }
        }
        let cmd = cmd.trim();
        let command = (!cmd.is_empty() && !cmd.starts_with('#')).then_some(cmd);
        Self {
            command,
            ignore_errors,
            echo,
        }
    }
}
