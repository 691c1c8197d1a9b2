//! Real SSH peers for interop tests: OpenSSH `sshd` and Dropbear on loopback ports chosen
//! at run time, each in its own temporary directory with freshly generated host keys,
//! killed (by the PID we spawned) when dropped. Nothing is shared between tests, so
//! they run in parallel (nextest runs each test in its own process).
//!
//! A missing peer program skips a test with a loud message, except under `CI=true`,
//! where it fails: CI must never silently test less.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub mod agent;
pub mod algorithms;
pub mod client;
pub mod daemon_clients;
pub mod forward;
pub mod keygen;
pub mod mux;
pub mod openssh;
pub mod relay;
pub mod screen;
pub mod sftp;
pub mod users;

/// How long a peer may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at starting a peer: a port found free can be taken by a parallel test
/// before the peer binds it.
const START_ATTEMPTS: u32 = 5;
/// Upper bound for any one program run by a test (keygen, scans).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// Directories searched besides `PATH` (sshd and dropbear live in sbin).
const EXTRA_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/local/bin"];

/// The absolute path of `program`, if installed.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Whether `program` is installed. When it is not: panics under `CI=true`, otherwise
/// prints a loud SKIP line and returns false so the test can return early.
pub fn require_peer(program: &str) -> bool {
    if find_program(program).is_some() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{program} is not installed, and CI=true forbids skipping interop tests");
    }
    eprintln!(
        "\n*** SKIP: `{program}` is not installed; this interop test did not run. ***\n\
         *** Install it (see .ci/run) to run the test. ***\n"
    );
    false
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// What a finished program printed.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
    /// Wall-clock time it ran.
    pub elapsed: Duration,
}

impl Output {
    /// The exit code (None if killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Stdout lines, sorted (scanners print in completion order).
    pub fn sorted_stdout(&self) -> Vec<String> {
        sorted_lines(&self.stdout, |_| true)
    }

    /// The `# host:port version` comment lines of stderr, sorted.
    pub fn sorted_comments(&self) -> Vec<String> {
        sorted_lines(&self.stderr, |line| line.starts_with("# "))
    }
}

fn sorted_lines(text: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .filter(|line| keep(line))
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// Runs `cmd` to completion, feeding `stdin`, killing it (and failing the test) after
/// `limit`. Output pipes are drained on threads so a chatty child cannot block.
pub fn run(cmd: &mut Command, stdin: &[u8], limit: Duration) -> Output {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
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
    let _ = writer.join();
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        elapsed,
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs a setup program that must succeed (key generation).
pub fn run_ok(cmd: &mut Command) {
    let out = run(cmd, b"", RUN_TIMEOUT);
    assert!(out.status.success(), "{cmd:?} failed: {}", out.stderr);
}

/// A host key type to generate for a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKey {
    /// ssh-ed25519
    Ed25519,
    /// ecdsa-sha2-nistp256
    EcdsaP256,
    /// ecdsa-sha2-nistp384
    EcdsaP384,
    /// ecdsa-sha2-nistp521
    EcdsaP521,
    /// ssh-rsa, 2048 bits: the key size does not matter to a scan, and 3072-bit
    /// generation costs a CPU-second per test on a small CI machine.
    Rsa,
}

impl HostKey {
    /// Every type, ECDSA on all three curves.
    pub const ALL: [Self; 5] = [
        Self::Ed25519,
        Self::EcdsaP256,
        Self::EcdsaP384,
        Self::EcdsaP521,
        Self::Rsa,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            Self::Ed25519 => "host_ed25519",
            Self::EcdsaP256 => "host_ecdsa256",
            Self::EcdsaP384 => "host_ecdsa384",
            Self::EcdsaP521 => "host_ecdsa521",
            Self::Rsa => "host_rsa",
        }
    }

    /// `ssh-keygen` arguments for this type.
    pub fn ssh_keygen_args(self) -> &'static [&'static str] {
        match self {
            Self::Ed25519 => &["-t", "ed25519"],
            Self::EcdsaP256 => &["-t", "ecdsa", "-b", "256"],
            Self::EcdsaP384 => &["-t", "ecdsa", "-b", "384"],
            Self::EcdsaP521 => &["-t", "ecdsa", "-b", "521"],
            Self::Rsa => &["-t", "rsa", "-b", "2048"],
        }
    }

    /// `dropbearkey` arguments for this type.
    fn dropbearkey_args(self) -> &'static [&'static str] {
        match self {
            Self::Ed25519 => &["-t", "ed25519"],
            Self::EcdsaP256 => &["-t", "ecdsa", "-s", "256"],
            Self::EcdsaP384 => &["-t", "ecdsa", "-s", "384"],
            Self::EcdsaP521 => &["-t", "ecdsa", "-s", "521"],
            Self::Rsa => &["-t", "rsa", "-s", "2048"],
        }
    }
}

/// How to configure an `sshd`.
#[derive(Debug, Clone)]
pub struct SshdOptions {
    /// Host keys to generate and serve.
    pub host_keys: Vec<HostKey>,
    /// `KexAlgorithms`, when overridden.
    pub kex_algorithms: Option<String>,
    /// `HostKeyAlgorithms`, when overridden.
    pub host_key_algorithms: Option<String>,
    /// `Ciphers`, when overridden.
    pub ciphers: Option<String>,
    /// `MACs`, when overridden.
    pub macs: Option<String>,
    /// Public key lines authorised for every user (`AuthorizedKeysFile` in the peer's
    /// directory, made world-readable: sshd reads it with the user's rights).
    pub authorized_keys: Vec<String>,
    /// Extra config lines, written first: sshd keeps the first value of a keyword, so
    /// these override the harness's defaults (`UsePAM yes`, `LogLevel DEBUG1`).
    pub extra: Vec<String>,
    /// Config lines written last (`Match` blocks, which would capture what follows).
    pub tail: Vec<String>,
    /// Extra command-line arguments for the server (`--log-format json`).
    pub args: Vec<String>,
    /// Log to syslog (no `-e`) in a private mount namespace whose `/dev` is this
    /// directory: its `log` socket is the test's, its `null`, `zero` and `urandom` the
    /// real ones.
    pub syslog_dev: Option<PathBuf>,
}

impl Default for SshdOptions {
    fn default() -> Self {
        Self {
            host_keys: HostKey::ALL.to_vec(),
            kex_algorithms: None,
            host_key_algorithms: None,
            ciphers: None,
            macs: None,
            authorized_keys: Vec::new(),
            extra: Vec::new(),
            tail: Vec::new(),
            args: Vec::new(),
            syslog_dev: None,
        }
    }
}

impl SshdOptions {
    /// Default options with `KexAlgorithms kex`.
    pub fn with_kex(kex: &str) -> Self {
        Self {
            kex_algorithms: Some(kex.to_owned()),
            ..Self::default()
        }
    }
}

/// A running peer server; killed and its directory removed on drop.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    port: u16,
    log: PathBuf,
    dir: TempDir,
}

impl Peer {
    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The temporary directory holding its config and keys.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Only the process we spawned, by its handle (its PID); per-connection children
        // exit when their client disconnects.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server program under test.
pub const OXSSHD: &str = env!("CARGO_BIN_EXE_oxsshd");

/// Starts OpenSSH's sshd with `opts` on a free port.
pub fn start_sshd(opts: &SshdOptions) -> Peer {
    let sshd = find_program("sshd").expect("sshd installed (call require_peer first)");
    ensure_privsep_dir();
    start_sshd_program(opts, &sshd)
}

/// Starts `oxsshd` as the system daemon with the same configuration file the sshd
/// harness writes (`-D -e -f sshd_config`).
pub fn start_oxsshd(opts: &SshdOptions) -> Peer {
    start_sshd_program(opts, Path::new(OXSSHD))
}

/// Starts `program` (sshd or oxsshd) with an sshd_config made from `opts`.
fn start_sshd_program(opts: &SshdOptions, program: &Path) -> Peer {
    let sshd = program.to_path_buf();
    let dir = tempfile::tempdir().expect("tempdir");
    if !opts.authorized_keys.is_empty() {
        write_authorized_keys(dir.path(), &opts.authorized_keys);
    }
    let mut keys = Vec::new();
    for &key in &opts.host_keys {
        let path = dir.path().join(key.file_name());
        run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-N", "", "-C", "", "-f"])
                .arg(&path)
                .args(key.ssh_keygen_args()),
        );
        keys.push(path);
    }
    start_with_retries(dir, |dir, port| {
        let config = dir.join("sshd_config");
        std::fs::write(&config, sshd_config(dir, port, &keys, opts)).expect("write sshd_config");
        let Some(dev) = &opts.syslog_dev else {
            let mut cmd = Command::new(&sshd);
            cmd.arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&config)
                .args(&opts.args);
            return cmd;
        };
        let mut script = String::new();
        for node in ["null", "zero", "urandom"] {
            std::fs::write(dev.join(node), b"").expect("mount point");
            let _ = write!(
                script,
                "mount --bind /dev/{node} {}/{node} && ",
                dev.display()
            );
        }
        let _ = write!(
            script,
            "mount --rbind {} /dev && exec {} -D -f {}",
            dev.display(),
            sshd.display(),
            config.display()
        );
        for arg in &opts.args {
            let _ = write!(script, " {arg}");
        }
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "sh", "-c", &script]);
        cmd
    })
}

fn sshd_config(dir: &Path, port: u16, keys: &[PathBuf], opts: &SshdOptions) -> String {
    let mut config = String::new();
    for line in &opts.extra {
        let _ = writeln!(config, "{line}");
    }
    if !opts.authorized_keys.is_empty() {
        let _ = writeln!(
            config,
            "AuthorizedKeysFile {}",
            dir.join(AUTHORIZED_KEYS).display()
        );
    }
    let _ = write!(
        config,
        "Port {port}\n\
         ListenAddress 127.0.0.1\n\
         PidFile {}\n\
         UsePAM no\n\
         StrictModes no\n\
         LogLevel VERBOSE\n\
         LoginGraceTime 30\n\
         MaxStartups 100\n",
        dir.join("peer.pid").display()
    );
    for key in keys {
        let _ = writeln!(config, "HostKey {}", key.display());
    }
    let overrides = [
        ("KexAlgorithms", &opts.kex_algorithms),
        ("HostKeyAlgorithms", &opts.host_key_algorithms),
        ("Ciphers", &opts.ciphers),
        ("MACs", &opts.macs),
    ];
    for (keyword, value) in overrides {
        if let Some(value) = value {
            let _ = writeln!(config, "{keyword} {value}");
        }
    }
    for line in &opts.tail {
        let _ = writeln!(config, "{line}");
    }
    config
}

/// The authorized_keys file name inside a peer's directory.
const AUTHORIZED_KEYS: &str = "authorized_keys";

/// Writes `lines` as the peer's authorized_keys, readable by the test user: the
/// directory becomes 0755 (host keys inside stay 0600).
fn write_authorized_keys(dir: &Path, lines: &[String]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let path = dir.join(AUTHORIZED_KEYS);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).expect("write authorized_keys");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
        .expect("chmod authorized_keys");
}

/// sshd refuses to start as root without its privilege-separation directory.
fn ensure_privsep_dir() {
    let dir = Path::new("/run/sshd");
    if !dir.exists() {
        let _ = std::fs::create_dir_all(dir);
    }
}

/// Starts Dropbear serving `host_keys` on a free port.
pub fn start_dropbear(host_keys: &[HostKey]) -> Peer {
    let dropbear = find_program("dropbear").expect("dropbear installed (call require_peer first)");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut keys = Vec::new();
    for &key in host_keys {
        let path = dir.path().join(key.file_name());
        run_ok(
            Command::new("dropbearkey")
                .args(key.dropbearkey_args())
                .arg("-f")
                .arg(&path),
        );
        keys.push(path);
    }
    start_with_retries(dir, |dir, port| {
        let mut cmd = Command::new(&dropbear);
        // -F: foreground, -E: log to stderr, -s: no passwords; -r: our keys only.
        cmd.args(["-F", "-E", "-s", "-p"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-P")
            .arg(dir.join("peer.pid"));
        for key in &keys {
            cmd.arg("-r").arg(key);
        }
        cmd
    })
}

/// Spawns the server built by `command(dir, port)` until one instance is listening.
fn start_with_retries(dir: TempDir, command: impl Fn(&Path, u16) -> Command) -> Peer {
    let log = dir.path().join("peer.log");
    let pid_file = dir.path().join("peer.pid");
    let mut failures = String::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port();
        let _ = std::fs::remove_file(&pid_file);
        let log_file = std::fs::File::create(&log).expect("create log");
        let mut cmd = command(dir.path(), port);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("dup log"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        match wait_listening(&mut child, port, &pid_file) {
            Ok(()) => {
                return Peer {
                    child,
                    port,
                    log,
                    dir,
                }
            }
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let _ = writeln!(failures, "port {port}: {why}\n{text}");
            }
        }
    }
    panic!("peer did not start after {START_ATTEMPTS} attempts:\n{failures}");
}

/// Waits until the server wrote its PID file (both sshd and Dropbear write it only
/// after binding) with its own PID, and the port accepts; fails if it exits first.
fn wait_listening(child: &mut Child, port: u16, pid_file: &Path) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let own_pid = child.id().to_string();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("exited with {status}"));
        }
        let written = std::fs::read_to_string(pid_file).unwrap_or_default();
        if written.trim() == own_pid
            && TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("not listening after {START_TIMEOUT:?}"));
        }
        thread::sleep(Duration::from_millis(10));
    }
}
