//! `oxsshd` in its embedded default mode against real clients: OpenSSH's `ssh` and our
//! `oxssh` log in with a key from `~/.ssh/authorized_keys`, run commands (stdout,
//! stderr, exit status, 20 MB through `cat`), a wrong key is refused, the host key
//! persists across restarts, 20 sessions run at once, SIGTERM stops the server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const OXSSHD: &str = env!("CARGO_BIN_EXE_oxsshd");
const OXSSH: &str = env!("CARGO_BIN_EXE_oxssh");
const SSH: &str = "/usr/bin/ssh";
const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";
/// Upper bound for any one wait: a failure is a hang, not slowness.
const TIMEOUT: Duration = Duration::from_secs(60);

fn have_openssh() -> bool {
    if Path::new(SSH).exists() && Path::new(SSH_KEYGEN).exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{SSH} is missing: .ci/run must install openssh-client");
    }
    eprintln!("SKIP: OpenSSH not installed; oxsshd not tested");
    false
}

fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits for `child` with a time limit; kills it on timeout and fails.
fn wait(child: &mut Child, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: timed out");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A run's results (stdout and stderr went through files: no pipe deadlocks).
#[derive(Debug)]
struct Run {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

fn run(mut cmd: Command, stdin: Option<&Path>, dir: &Path, tag: &str) -> Run {
    let out = dir.join(format!("{tag}.stdout"));
    let err = dir.join(format!("{tag}.stderr"));
    cmd.stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .stdin(match stdin {
            Some(path) => Stdio::from(File::open(path).unwrap()),
            None => Stdio::null(),
        });
    let mut child = cmd.spawn().unwrap();
    let status = wait(&mut child, tag);
    Run {
        status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
    }
}

/// A home with `.ssh/authorized_keys` holding a fresh key, and a client side.
struct Setup {
    dir: tempfile::TempDir,
    user: String,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["home/.ssh", "client"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let setup = Self {
            dir,
            user: whoami(),
        };
        let public = setup.keygen("id_ed25519");
        std::fs::write(
            setup.home().join(".ssh/authorized_keys"),
            // The first line with the key decides (as in sshd): its options apply.
            format!("# a comment\n\nbad-option {public}\nenvironment=\"X=1\" {public}\n{public}\n"),
        )
        .unwrap();
        setup
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    fn state(&self) -> PathBuf {
        self.path().join("state")
    }

    fn key_file(&self) -> PathBuf {
        self.state().join("oxssh/ssh_host_ed25519_key")
    }

    /// Makes a client key; returns its public line.
    fn keygen(&self, name: &str) -> String {
        let path = self.path().join("client").join(name);
        let status = Command::new(SSH_KEYGEN)
            .args(["-q", "-N", "", "-t", "ed25519", "-C", name, "-f"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read_to_string(path.with_extension("pub"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// `program` with OpenSSH's options for our server, as a user would run it.
    fn client(&self, program: &str, server: &Server, key: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("HOME", self.path().join("client"))
            .env_remove("SSH_AUTH_SOCK")
            .args(["-F", "/dev/null", "-o"])
            .arg(format!(
                "UserKnownHostsFile={}",
                self.path().join("client/known_hosts").display()
            ))
            .args(["-o", "StrictHostKeyChecking=accept-new"])
            .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i"])
            .arg(self.path().join("client").join(key))
            .args(["-p", &server.port.to_string()])
            .arg(format!("{}@127.0.0.1", self.user));
        cmd
    }

    fn start(&self) -> Server {
        Server::start(self)
    }
}

/// A running `oxsshd`, killed by its PID when dropped.
struct Server {
    child: Child,
    port: u16,
    stdout: PathBuf,
}

impl Server {
    fn start(setup: &Setup) -> Self {
        let port = free_port();
        let stdout = setup.path().join(format!("oxsshd-{port}.stdout"));
        let stderr = setup.path().join(format!("oxsshd-{port}.stderr"));
        let mut child = Command::new(OXSSHD)
            .args(["-D", "-e", "-p", &port.to_string()])
            .env("HOME", setup.home())
            .env("XDG_STATE_HOME", setup.state())
            .env("SHELL", "/bin/sh")
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).unwrap())
            .stderr(File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "oxsshd exited with {status}: {}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
            if start.elapsed() > TIMEOUT {
                let _ = child.kill();
                panic!("oxsshd did not listen on {port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            stdout,
        }
    }

    /// The `SHA256:...` fingerprint it printed.
    fn fingerprint(&self) -> String {
        let text = std::fs::read_to_string(&self.stdout).unwrap();
        text.split_whitespace()
            .find(|w| w.starts_with("SHA256:"))
            .unwrap_or_else(|| panic!("no fingerprint in {text:?}"))
            .to_owned()
    }

    fn banner(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap()
    }

    fn sigterm(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        wait(&mut self.child, "oxsshd after SIGTERM")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SCRIPT: &str = "echo out; echo err >&2; exit 7";

fn assert_exec(run: &Run) {
    assert_eq!(String::from_utf8_lossy(&run.stdout), "out\n", "{run:?}");
    assert!(
        run.stderr.lines().any(|l| l == "err"),
        "stderr {:?}",
        run.stderr
    );
    assert_eq!(run.status.code(), Some(7), "{run:?}");
}

#[test]
fn openssh_runs_a_command() {
    if !have_openssh() {
        return;
    }
    let setup = Setup::new();
    let server = setup.start();
    let banner = server.banner();
    assert!(
        banner.contains(&format!(
            "oxssh -p {} {}@127.0.0.1",
            server.port, setup.user
        )),
        "{banner}"
    );
    let mut cmd = setup.client(SSH, &server, "id_ed25519");
    cmd.arg(SCRIPT);
    assert_exec(&run(cmd, None, setup.path(), "ssh"));
}

#[test]
fn oxssh_runs_a_command() {
    if !have_openssh() {
        return;
    }
    let setup = Setup::new();
    let server = setup.start();
    let mut cmd = setup.client(OXSSH, &server, "id_ed25519");
    cmd.arg(SCRIPT);
    assert_exec(&run(cmd, None, setup.path(), "oxssh"));
}

#[test]
fn twenty_megabytes_through_cat() {
    if !have_openssh() {
        return;
    }
    let setup = Setup::new();
    let server = setup.start();
    let input = setup.path().join("input");
    let mut data = vec![0u8; 20 * 1024 * 1024];
    aws_lc_rs::rand::fill(&mut data).unwrap();
    std::fs::write(&input, &data).unwrap();
    let expected = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &data);
    for program in [SSH, OXSSH] {
        let mut cmd = setup.client(program, &server, "id_ed25519");
        cmd.arg("cat");
        let run = run(cmd, Some(&input), setup.path(), "cat");
        assert!(run.status.success(), "{program}: {}", run.stderr);
        assert_eq!(run.stdout.len(), data.len(), "{program}");
        let got = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &run.stdout);
        assert_eq!(got.as_ref(), expected.as_ref(), "{program}: sha256");
    }
}

#[test]
fn wrong_key_is_refused() {
    if !have_openssh() {
        return;
    }
    let setup = Setup::new();
    setup.keygen("id_other");
    let server = setup.start();
    let mut cmd = setup.client(SSH, &server, "id_other");
    cmd.arg("true");
    let run = run(cmd, None, setup.path(), "wrong");
    assert_eq!(run.status.code(), Some(255), "{run:?}");
    assert!(
        run.stderr.contains("Permission denied (publickey)"),
        "{}",
        run.stderr
    );
}

#[test]
fn host_key_persists_across_restarts() {
    if !have_openssh() {
        return;
    }
    let setup = Setup::new();
    let first = {
        let server = setup.start();
        server.fingerprint()
    };
    let mode = std::fs::metadata(setup.key_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(setup.state().join("oxssh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let server = setup.start();
    assert_eq!(server.fingerprint(), first);
    // The printed fingerprint is the one a client sees.
    let out = Command::new(SSH_KEYGEN)
        .arg("-lf")
        .arg(setup.key_file())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&first));
}

#[test]
fn twenty_concurrent_oxssh_sessions() {
    if !have_openssh() {
        return;
    }
    let setup = Setup::new();
    let server = setup.start();
    // Learn the host key once, so the sessions do not race on known_hosts.
    let mut cmd = setup.client(OXSSH, &server, "id_ed25519");
    cmd.arg("true");
    assert!(run(cmd, None, setup.path(), "first").status.success());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let setup = &setup;
                let server = &server;
                scope.spawn(move || {
                    let mut cmd = setup.client(OXSSH, server, "id_ed25519");
                    cmd.arg(format!("sleep 0.2; echo session {i}"));
                    let run = run(cmd, None, setup.path(), &format!("c{i}"));
                    assert!(run.status.success(), "{i}: {run:?}");
                    assert_eq!(
                        String::from_utf8_lossy(&run.stdout),
                        format!("session {i}\n")
                    );
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

#[test]
fn sigterm_lets_a_session_finish() {
    if !have_openssh() {
        return;
    }
    let setup = Setup::new();
    let mut server = setup.start();
    let out = setup.path().join("slow.stdout");
    let mut client = setup.client(SSH, &server, "id_ed25519");
    client
        .arg("sleep 1; echo done")
        .stdin(Stdio::null())
        .stdout(File::create(&out).unwrap())
        .stderr(Stdio::null());
    let mut client = client.spawn().unwrap();
    // Wait until the session runs, then ask the server to stop.
    let start = Instant::now();
    while !std::fs::read_to_string(server.stdout.with_extension("stderr"))
        .unwrap_or_default()
        .contains("Starting session")
    {
        assert!(start.elapsed() < TIMEOUT, "session did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = server.sigterm();
    assert!(status.success(), "{status}");
    assert!(wait(&mut client, "ssh").success());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "done\n");
    assert!(TcpStream::connect(("127.0.0.1", server.port)).is_err());
}

#[test]
fn unsupported_flags_are_refused() {
    // Bounded: a flag that is accepted would start a server.
    let out = support::run(
        Command::new(OXSSHD).args(["-c", "host-cert.pub"]),
        b"",
        support::RUN_TIMEOUT,
    );
    assert_eq!(out.code(), Some(255));
    assert!(out.stderr.contains("option -c is not supported yet"));
    // A configuration without usable host keys cannot serve, as sshd says.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sshd_config");
    std::fs::write(&config, "HostKey /nonexistent/host_key\n").unwrap();
    let out = Command::new(OXSSHD)
        .arg("-t")
        .arg("-f")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no hostkeys available"));
}

#[test]
fn shell_without_pty_env_and_exit_signal() {
    if !have_openssh() {
        return;
    }
    let setup = Setup::new();
    let server = setup.start();
    // `shell` (no pty): the script comes on stdin.
    let script = setup.path().join("script");
    std::fs::write(&script, "echo \"hi $LANG-$FOO\"\nexit 3\n").unwrap();
    let mut cmd = setup.client(SSH, &server, "id_ed25519");
    cmd.args(["-T", "-o", "SetEnv=LANG=C.UTF-8 FOO=bar"]);
    let run_shell = run(cmd, Some(&script), setup.path(), "shell");
    assert_eq!(
        String::from_utf8_lossy(&run_shell.stdout),
        "hi C.UTF-8-\n",
        "{run_shell:?}"
    );
    assert_eq!(run_shell.status.code(), Some(3), "{run_shell:?}");
    // A forced pty: the command sees a terminal.
    let mut cmd = setup.client(SSH, &server, "id_ed25519");
    cmd.args(["-tt", "test -t 0 && echo on-a-tty"]);
    let run_pty = run(cmd, None, setup.path(), "pty");
    assert_eq!(
        String::from_utf8_lossy(&run_pty.stdout),
        "on-a-tty\r\n",
        "{run_pty:?}"
    );
    // A command killed by a signal: exit-signal with its name.
    let mut cmd = setup.client(SSH, &server, "id_ed25519");
    cmd.args(["-v", "kill -TERM $$"]);
    let run_sig = run(cmd, None, setup.path(), "signal");
    assert_eq!(run_sig.status.code(), Some(255), "{run_sig:?}");
    assert!(
        run_sig.stderr.contains("rtype exit-signal"),
        "{}",
        run_sig.stderr
    );
}

#[test]
fn openssh_sftp_works_with_the_embedded_default() {
    let sftp = "/usr/bin/sftp";
    if !have_openssh() || !Path::new(sftp).exists() {
        return;
    }
    let setup = Setup::new();
    let server = setup.start();
    let mut data = vec![0u8; 3 * 1024 * 1024];
    aws_lc_rs::rand::fill(&mut data).unwrap();
    std::fs::write(setup.path().join("up"), &data).unwrap();
    let batch = setup.path().join("batch");
    let dir = setup.path().display().to_string();
    std::fs::write(
        &batch,
        format!("put {dir}/up {dir}/remote\nget {dir}/remote {dir}/down\n"),
    )
    .unwrap();
    let mut cmd = Command::new(sftp);
    cmd.env("HOME", setup.path().join("client"))
        .env_remove("SSH_AUTH_SOCK")
        .args(["-F", "/dev/null", "-o"])
        .arg(format!(
            "UserKnownHostsFile={}",
            setup.path().join("client/known_hosts").display()
        ))
        .args(["-o", "StrictHostKeyChecking=accept-new", "-i"])
        .arg(setup.path().join("client/id_ed25519"))
        .args(["-P", &server.port.to_string(), "-b"])
        .arg(&batch)
        .arg(format!("{}@127.0.0.1", setup.user));
    let result = run(cmd, None, setup.path(), "sftp");
    assert!(result.status.success(), "{result:?}");
    assert_eq!(std::fs::read(setup.path().join("down")).unwrap(), data);
}
