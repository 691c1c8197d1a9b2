//! A foreground `ssh-agent` or `oxssh-agent` (`-D -a socket`) in its own directory,
//! for tests that log in with, forward or install agent keys; killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::client::{wait_until, Running};
use super::{run, RUN_TIMEOUT};

pub struct Agent {
    _process: Running,
    pub socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    /// Starts `program` (`ssh-agent`, `oxssh-agent`) with no keys.
    pub fn empty(program: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let process = Running(
            Command::new(program)
                .args(["-D", "-a"])
                .arg(&socket)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {program}: {e}")),
        );
        wait_until("the agent socket", Duration::from_secs(10), || {
            std::os::unix::net::UnixStream::connect(&socket).is_ok()
        });
        Self {
            _process: process,
            socket,
            _dir: dir,
        }
    }

    /// Starts `program` holding `key` (added with `ssh-add`).
    pub fn start(program: &str, key: &Path) -> Self {
        let agent = Self::empty(program);
        agent.add(key);
        agent
    }

    /// Adds the private key at `key` with `ssh-add`.
    pub fn add(&self, key: &Path) {
        let out = run(
            Command::new("ssh-add")
                .arg(key)
                .env("SSH_AUTH_SOCK", &self.socket),
            b"",
            RUN_TIMEOUT,
        );
        assert!(out.status.success(), "ssh-add: {}", out.stderr);
    }
}
