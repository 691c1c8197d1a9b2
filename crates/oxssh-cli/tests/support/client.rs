//! Running `oxssh` (and OpenSSH's `ssh`, for comparison) against a [`Peer`] the way a
//! user would: a private `HOME`, its own known_hosts, no agent and no config files
//! unless a test asks, `SSH_ASKPASS` scripts for prompts, and a time limit on every run.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::ops::{Deref, DerefMut};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{run, run_ok, HostKey, Output, Peer};

/// The program under test.
pub const OXSSH: &str = env!("CARGO_BIN_EXE_oxssh");
/// Upper bound for one client run: generous, as a failure is a hang, not slowness.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A generated user key.
#[derive(Debug, Clone)]
pub struct UserKey {
    /// The private key file (the public one is next to it, `.pub`).
    pub path: PathBuf,
    /// The public key line.
    pub public: String,
}

/// `path.pub`, where ssh-keygen writes the public half of `path`.
pub fn public_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Where a client keeps its files: `HOME`, known_hosts, keys and askpass scripts.
#[derive(Debug)]
pub struct ClientDir {
    dir: TempDir,
}

impl Default for ClientDir {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientDir {
    /// A fresh, empty client directory.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("home")).expect("mkdir home");
        Self { dir }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `HOME` for the client (empty: no default identities, no user config).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The `UserKnownHostsFile`.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// Generates a user key `name` of `kind`, encrypted with `passphrase` if given.
    pub fn key(&self, name: &str, kind: HostKey, passphrase: Option<&str>) -> UserKey {
        let path = self.dir.path().join(name);
        run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-C", name, "-N", passphrase.unwrap_or(""), "-f"])
                .arg(&path)
                .args(kind.ssh_keygen_args()),
        );
        let public = std::fs::read_to_string(public_path(&path)).expect("read public key");
        UserKey {
            path,
            public: public.trim().to_owned(),
        }
    }

    /// An `SSH_ASKPASS` program that answers every question with `answer` and logs
    /// each question, one a line, to [`ClientDir::prompts`].
    pub fn askpass(&self, answer: &str) -> PathBuf {
        let script = self.dir.path().join("askpass");
        let log = self.dir.path().join("askpass.log");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\nprintf '%s\\n' '{answer}'\n",
                log.display()
            ),
        )
        .expect("write askpass");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .expect("chmod askpass");
        script
    }

    /// The questions askpass was asked so far.
    pub fn prompts(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("askpass.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// One client invocation: `program [args] [defaults] -p port -l user 127.0.0.1 [cmd]`.
/// Test arguments come first, so their `-o` values win over the defaults (ssh_config
/// keeps the first value).
#[derive(Debug, Clone)]
pub struct Ssh {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    port: u16,
    user: String,
    home: PathBuf,
    known_hosts: PathBuf,
    batch: bool,
    destination: Option<String>,
}

impl Ssh {
    /// `oxssh` as `user` against `peer`.
    pub fn oxssh(client: &ClientDir, peer: &Peer, user: &str) -> Self {
        Self::program(OXSSH, client, peer.port(), user)
    }

    /// OpenSSH's `ssh`, set up the same way, to compare with.
    pub fn openssh(client: &ClientDir, peer: &Peer, user: &str) -> Self {
        Self::program("ssh", client, peer.port(), user)
    }

    /// `program` against `127.0.0.1:port`.
    pub fn program(program: &str, client: &ClientDir, port: u16, user: &str) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            port,
            user: user.to_owned(),
            home: client.home(),
            known_hosts: client.known_hosts(),
            batch: true,
            destination: None,
        }
    }

    /// Adds arguments (before the defaults).
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds `-o option`.
    #[must_use]
    pub fn option(self, option: &str) -> Self {
        self.args(["-o", option])
    }

    /// Adds `-i path`.
    #[must_use]
    pub fn identity(self, path: &Path) -> Self {
        self.args([OsString::from("-i"), path.as_os_str().to_owned()])
    }

    /// Sets an environment variable for the client.
    #[must_use]
    pub fn env(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Replaces `-p port -l user 127.0.0.1` with `destination` (a URI, `user@host`).
    #[must_use]
    pub fn destination(mut self, destination: &str) -> Self {
        self.destination = Some(destination.to_owned());
        self
    }

    /// Drops `BatchMode`, so the terminal may be asked.
    #[must_use]
    pub fn interactive(mut self) -> Self {
        self.batch = false;
        self
    }

    /// Answers prompts through `askpass` (and drops `BatchMode`, which forbids them).
    #[must_use]
    pub fn askpass(mut self, askpass: &Path) -> Self {
        self.batch = false;
        self.env("SSH_ASKPASS", askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
    }

    /// The command line, ready to spawn, with `remote` as the remote command (if any).
    pub fn command(&self, remote: Option<&str>) -> Command {
        let mut cmd = Command::new(&self.program);
        for var in [
            "SSH_AUTH_SOCK",
            "SSH_ASKPASS",
            "SSH_ASKPASS_REQUIRE",
            "DISPLAY",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HOME", &self.home);
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        cmd.args(&self.args);
        cmd.args(["-F", "/dev/null", "-o"])
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args([
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "StrictHostKeyChecking=accept-new",
            ]);
        if self.batch {
            cmd.args(["-o", "BatchMode=yes"]);
        }
        match &self.destination {
            Some(destination) => cmd.arg(destination),
            None => cmd
                .arg("-p")
                .arg(self.port.to_string())
                .arg("-l")
                .arg(&self.user)
                .arg("127.0.0.1"),
        };
        if let Some(remote) = remote {
            cmd.arg(remote);
        }
        cmd
    }

    /// Runs `remote` with `stdin`, within [`CLIENT_TIMEOUT`].
    pub fn run(&self, remote: &str, stdin: &[u8]) -> Output {
        run(&mut self.command(Some(remote)), stdin, CLIENT_TIMEOUT)
    }

    /// Runs without a remote command (`-N`, `-G`, a shell).
    pub fn run_no_command(&self, stdin: &[u8]) -> Output {
        run(&mut self.command(None), stdin, CLIENT_TIMEOUT)
    }
}

/// Asserts `out` exited with `code`, showing everything on failure.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32, peer: &Peer) {
    assert_eq!(
        out.code(),
        Some(code),
        "exit status\nstdout:\n{}\nstderr:\n{}\npeer log:\n{}",
        out.stdout,
        out.stderr,
        peer.log()
    );
}

/// Byte count and SHA-256 of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// Bytes seen.
    pub len: u64,
    /// SHA-256, lowercase hex (as `sha256sum` prints it).
    pub sha256: String,
}

struct Hasher {
    ctx: aws_lc_rs::digest::Context,
    len: u64,
}

impl Hasher {
    fn new() -> Self {
        Self {
            ctx: aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256),
            len: 0,
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
        self.len += data.len() as u64;
    }

    fn finish(self) -> Digest {
        let sha256 = self
            .ctx
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Digest {
            len: self.len,
            sha256,
        }
    }
}

/// What a bulk run sent and received.
#[derive(Debug)]
pub struct Transfer {
    /// Exit status and stderr (stdout is only hashed).
    pub output: Output,
    /// What was written to stdin.
    pub sent: Digest,
    /// What came out of stdout.
    pub received: Digest,
}

/// Runs `cmd` writing `stdin_len` random bytes to its stdin and hashing both streams,
/// without holding them in memory; kills it (failing the test) after `limit`.
pub fn run_transfer(cmd: &mut Command, stdin_len: u64, limit: Duration) -> Transfer {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let writer = thread::spawn(move || {
        let mut hasher = Hasher::new();
        let mut chunk = vec![0u8; 1 << 20];
        let mut left = stdin_len;
        while left > 0 {
            let n = usize::try_from(left.min(chunk.len() as u64)).expect("chunk size");
            let part = &mut chunk[..n];
            aws_lc_rs::rand::fill(part).expect("random bytes");
            if input.write_all(part).is_err() {
                break;
            }
            hasher.update(part);
            left -= n as u64;
        }
        hasher.finish()
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = thread::spawn(move || {
        let mut hasher = Hasher::new();
        let mut chunk = vec![0u8; 1 << 20];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 {
                break;
            }
            hasher.update(&chunk[..n]);
        }
        hasher.finish()
    });
    let mut stderr_pipe = child.stderr.take().expect("stderr");
    let stderr = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still running after {limit:?}; killed");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    Transfer {
        sent: writer.join().expect("writer"),
        received: reader.join().expect("reader"),
        output: Output {
            status,
            stdout: String::new(),
            stderr: stderr.join().expect("stderr"),
            elapsed,
        },
    }
}

/// A remote command that writes `n` random bytes to stdout and their `sha256sum` line
/// to stderr. The copy goes through a FIFO, not `/dev/fd/N`: Dropbear's stdout is a
/// socket, which cannot be reopened that way.
pub fn random_stdout(n: u64) -> String {
    format!(
        "d=$(mktemp -d) && mkfifo \"$d/f\" && {{ sha256sum < \"$d/f\" >&2 & }} && \
         head -c {n} /dev/urandom | tee \"$d/f\"; wait; rm -r \"$d\""
    )
}

/// Runs `jobs` on up to `parallel` threads at once, returning results in order.
pub fn in_parallel<T: Send, R: Send>(
    jobs: Vec<T>,
    parallel: usize,
    work: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let mut results = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        let batch: Vec<T> = jobs.by_ref().take(parallel.max(1)).collect();
        thread::scope(|scope| {
            let handles: Vec<_> = batch
                .into_iter()
                .map(|job| scope.spawn(|| work(job)))
                .collect();
            for handle in handles {
                results.push(handle.join().expect("job panicked"));
            }
        });
    }
    results
}

/// OpenSSH ends its messages on stderr with `\r\n` (its terminal may be in raw mode);
/// oxssh with `\n`. The text is what must match.
pub fn text(stderr: &str) -> String {
    stderr.replace("\r\n", "\n")
}

/// Quotes `arg` for `sh`.
pub fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// A command line as one `sh` string (for `script -c`).
pub fn shell_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `shell_cmd` under `script` (a real pty), feeding `stdin` to the terminal.
/// `script` turns the end of its stdin into a NUL, which the terminal may echo as
/// `^@` anywhere in the output: that is removed.
pub fn under_script(shell_cmd: &str, stdin: &[u8]) -> Output {
    let mut out = run(
        Command::new("script")
            .args(["-qfec", shell_cmd, "/dev/null"])
            .env("SHELL", "/bin/sh")
            .env("TERM", "xterm"),
        stdin,
        CLIENT_TIMEOUT,
    );
    out.stdout = out.stdout.replace("^@", "");
    out
}

/// A spawned process, killed and reaped when dropped: a test that fails while it runs
/// leaves nothing behind.
#[derive(Debug)]
pub struct Running(pub Child);

impl Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `cmd` with null stdin and piped output.
pub fn spawn_quiet(cmd: &mut Command) -> Running {
    Running(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}")),
    )
}

/// Polls `done` every 10 ms until it holds, failing after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// A program running on a real terminal (under `script`) that a test converses with:
/// it waits for text to appear, then types.
#[derive(Debug)]
pub struct Terminal {
    process: Running,
    input: Option<std::process::ChildStdin>,
    screen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Terminal {
    /// Starts `shell_cmd` under `script`.
    pub fn start(shell_cmd: &str) -> Self {
        let mut process = Running(
            Command::new("script")
                .args(["-qfec", shell_cmd, "/dev/null"])
                .env("SHELL", "/bin/sh")
                .env("TERM", "xterm")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run script: {e}")),
        );
        let input = process.stdin.take();
        let mut output = process.stdout.take().expect("stdout");
        let screen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = screen.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = output.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("screen").extend_from_slice(&buf[..n]);
            }
        });
        Self {
            process,
            input,
            screen,
        }
    }

    /// Everything printed so far, lossily decoded, `^@` removed (see [`under_script`]).
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().expect("screen")).replace("^@", "")
    }

    /// Waits until the screen shows `text`, failing after `limit`.
    pub fn wait_for(&self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.screen().contains(text) {
            assert!(
                Instant::now() < deadline,
                "{text:?} did not appear; the screen:\n{}",
                self.screen()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Types `text`.
    pub fn type_text(&mut self, text: &str) {
        let input = self.input.as_mut().expect("terminal input open");
        input.write_all(text.as_bytes()).expect("type");
        input.flush().expect("flush");
    }

    /// Ends the input and waits (at most `limit`) for the program to exit.
    pub fn finish(mut self, limit: Duration) -> (ExitStatus, String) {
        drop(self.input.take());
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.process.try_wait().expect("try_wait") {
                // The reader drains what is left once the program is gone.
                thread::sleep(Duration::from_millis(50));
                return (status, self.screen());
            }
            assert!(
                Instant::now() < deadline,
                "still running after {limit:?}; the screen:\n{}",
                self.screen()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}
