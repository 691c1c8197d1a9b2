//! OpenSSH's `sshd` in inetd mode (`sshd -i`) over pipes, for interop tests: no port,
//! no race. Host keys of every type, our own config, and an optional authorised user key
//! for the unprivileged test user (root's shell set-up is slow and not what we test).
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

pub const SSHD: &str = "/usr/sbin/sshd";
/// The most any single wait for sshd may take.
pub const WAIT: Duration = Duration::from_secs(20);
/// The unprivileged account the tests log in as.
pub const TEST_USER: &str = "oxssh-test";

/// True when sshd exists; in CI a missing peer is a failure, elsewhere a loud skip.
pub fn have_sshd() -> bool {
    if Path::new(SSHD).exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{SSHD} is missing: .ci/run must install openssh-server");
    }
    eprintln!("SKIP: {SSHD} not installed; OpenSSH interop not tested");
    false
}

/// Makes sure the test account exists (created once, under a lock, when we are root).
/// Returns its name, or the current user's when it cannot be created.
pub fn test_user() -> String {
    let exists = || {
        Command::new("id")
            .arg(TEST_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !exists() {
        // flock serialises parallel test processes. Password `*`: no password, yet not
        // locked (sshd refuses locked accounts even for public keys).
        let _ = Command::new("flock")
            .args(["/tmp/oxssh-test-useradd.lock", "sh", "-c"])
            .arg(format!(
                "id {TEST_USER} >/dev/null 2>&1 || useradd --create-home --home-dir /tmp/{TEST_USER}-home --shell /bin/sh --password '*' {TEST_USER}"
            ))
            .status();
    }
    if exists() {
        TEST_USER.to_owned()
    } else {
        let me = std::env::var("USER").unwrap_or_else(|_| "root".into());
        eprintln!("NOTE: cannot create {TEST_USER}; logging in as {me}");
        me
    }
}

pub struct Sshd {
    pub child: Child,
    pub stdin: ChildStdin,
    pub output: Receiver<Vec<u8>>,
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sshd {
    /// sshd's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn keygen(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-f"])
        .arg(&path)
        .args(args)
        .status()
        .unwrap();
    assert!(status.success());
    path
}

/// Starts `sshd -i` with host keys of every type and the extra config lines.
pub fn sshd(extra: &str) -> Sshd {
    sshd_with_user_key(extra, None)
}

/// A prepared sshd: its directory (host keys, config, log) and the command to start it
/// in inetd mode. Tests with their own I/O (tokio) spawn the command themselves.
pub struct SshdSetup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub log: PathBuf,
}

impl SshdSetup {
    /// `sshd -i -f config -E log`, pipes not yet set.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(SSHD);
        cmd.arg("-i")
            .arg("-f")
            .arg(&self.config)
            .arg("-E")
            .arg(&self.log);
        cmd
    }
}

/// Writes host keys of every type and a config (plus `extra` lines), authorising
/// `user_key` (an OpenSSH public key line) when given.
pub fn prepare(extra: &str, user_key: Option<&str>) -> SshdSetup {
    let dir = tempfile::tempdir().unwrap();
    let mut config = String::new();
    if let Some(line) = user_key {
        // The file is read with the user's rights: make it world-readable.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join("authorized_keys");
        std::fs::write(&path, format!("{line}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        config.push_str(&format!(
            "AuthorizedKeysFile {}\nStrictModes no\nPermitRootLogin prohibit-password\n",
            path.display()
        ));
    }
    for (name, args) in [
        ("ed25519", &["-t", "ed25519"][..]),
        ("ecdsa256", &["-t", "ecdsa", "-b", "256"]),
        ("ecdsa384", &["-t", "ecdsa", "-b", "384"]),
        ("ecdsa521", &["-t", "ecdsa", "-b", "521"]),
        ("rsa", &["-t", "rsa", "-b", "2048"]),
    ] {
        let key = keygen(dir.path(), name, args);
        config.push_str(&format!("HostKey {}\n", key.display()));
    }
    config.push_str(&format!(
        "PidFile {}\nUsePAM no\nLogLevel DEBUG1\n{extra}\n",
        dir.path().join("pid").display()
    ));
    let cfg = dir.path().join("sshd_config");
    std::fs::write(&cfg, config).unwrap();
    let log = dir.path().join("log");
    std::fs::create_dir_all("/run/sshd").ok();
    SshdSetup {
        dir,
        config: cfg,
        log,
    }
}

/// As [`sshd`], authorising `user_key` (an OpenSSH public key line) for public-key login.
pub fn sshd_with_user_key(extra: &str, user_key: Option<&str>) -> Sshd {
    let setup = prepare(extra, user_key);
    let mut child = setup
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, output) = channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    Sshd {
        child,
        stdin,
        output,
        log: setup.log,
        dir: setup.dir,
    }
}
