//! `ProxyCommand` and `ProxyUseFdpass` in `oxssh`, against OpenSSH's sshd and oxsshd:
//! the SSH stream over a relay command's stdin/stdout, a socket passed back by the
//! command, `%` tokens expanded exactly as OpenSSH's `ssh` expands them (both clients
//! run the same command, which records its arguments), and `ProxyCommand none`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::{Path, PathBuf};

use support::client::assert_exit;
use support::openssh::{both_servers, sshd_opts, Fixture};
use support::require_peer;

/// A tiny relay: records its arguments (after the target port) in the file named by
/// its first argument, connects to 127.0.0.1:<second argument>, then either relays
/// stdin/stdout (`pipe`) or passes the connected socket back over fd 1 (`fdpass`).
const RELAY: &str = r#"
import os, socket, sys, threading
log, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(log, "a") as f:
    f.write(" ".join(sys.argv[4:]) + "\n")
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.settimeout(None)
if mode == "fdpass":
    out = socket.socket(fileno=1)
    socket.send_fds(out, [b"\0"], [s.fileno()])
    sys.exit(0)
def up():
    while True:
        data = os.read(0, 65536)
        if not data:
            s.shutdown(socket.SHUT_WR)
            return
        s.sendall(data)
threading.Thread(target=up, daemon=True).start()
while True:
    data = s.recv(65536)
    if not data:
        break
    os.write(1, data)
"#;

struct Relay {
    script: PathBuf,
    log: PathBuf,
}

impl Relay {
    fn new(dir: &Path) -> Self {
        let script = dir.join("relay.py");
        std::fs::write(&script, RELAY).unwrap();
        Self {
            script,
            log: dir.join("relay.log"),
        }
    }

    /// The ProxyCommand option: the relay to `port`, recording `tokens`.
    fn option(&self, port: u16, mode: &str, tokens: &str) -> String {
        format!(
            "ProxyCommand=python3 {} {} {port} {mode} {tokens}",
            self.script.display(),
            self.log.display()
        )
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn proxy_command_relay_carries_the_session_to_sshd_and_oxsshd() {
    if !require_peer("python3") {
        return;
    }
    for (name, f) in both_servers() {
        let relay = Relay::new(f.client.path());
        let out = f
            .oxssh()
            .option(&relay.option(f.peer.port(), "pipe", "%h"))
            .run("cat; echo err >&2; exit 3", b"through the proxy\n");
        assert_exit(&out, 3, &f.peer);
        assert_eq!(out.stdout, "through the proxy\n", "{name}");
        assert!(out.stderr.contains("err"), "{name}: {}", out.stderr);
        assert_eq!(relay.lines(), vec!["127.0.0.1"], "{name}");
    }
}

#[test]
fn proxy_use_fdpass_runs_over_the_passed_socket() {
    if !require_peer("python3") {
        return;
    }
    for (name, f) in both_servers() {
        let relay = Relay::new(f.client.path());
        let out = f
            .oxssh()
            .option(&relay.option(f.peer.port(), "fdpass", "%p"))
            .option("ProxyUseFdpass=yes")
            .run("echo passed; exit 4", b"");
        assert_exit(&out, 4, &f.peer);
        assert_eq!(out.stdout, "passed\n", "{name}");
        assert_eq!(relay.lines(), vec![f.peer.port().to_string()], "{name}");
    }
}

#[test]
fn proxy_command_tokens_expand_as_openssh_does() {
    if !require_peer("python3") || !require_peer("ssh") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let relay = Relay::new(f.client.path());
    let tokens = "%h %p %r %n %% %%h x%%y";
    // A destination alias with a HostName, so %n and %h differ.
    for client in [f.openssh(), f.oxssh()] {
        let out = client
            .option(&relay.option(f.peer.port(), "pipe", tokens))
            .option("HostName=127.0.0.1")
            .option(&format!("Port={}", f.peer.port()))
            .option(&format!("User={}", support::users::TEST_USER))
            .destination("alias")
            .run("true", b"");
        assert_exit(&out, 0, &f.peer);
    }
    let lines = relay.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], lines[1], "ssh vs oxssh");
    assert_eq!(
        lines[1],
        format!(
            "127.0.0.1 {} {} alias % %h x%y",
            f.peer.port(),
            support::users::TEST_USER
        )
    );
}

#[test]
fn proxy_command_none_connects_directly() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let out = f
        .oxssh()
        .option("ProxyCommand=none")
        .run("echo direct", b"");
    assert_exit(&out, 0, &f.peer);
    assert_eq!(out.stdout, "direct\n");
}

#[test]
fn a_proxy_command_that_fails_is_a_connection_failure() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let out = f.oxssh().option("ProxyCommand=exit 1").run("true", b"");
    assert_exit(&out, 255, &f.peer);
}

#[test]
fn proxy_command_runs_an_inetd_mode_server_as_openssh_regress_does() {
    for (name, f) in both_servers() {
        let server = if name == "sshd" {
            support::find_program("sshd").unwrap()
        } else {
            PathBuf::from(support::OXSSHD)
        };
        let log = f.client.path().join("inetd.log");
        let proxy = support::client::shell_line(
            std::process::Command::new(server)
                .arg("-i")
                .arg("-f")
                .arg(f.peer.dir().join("sshd_config"))
                .arg("-E")
                .arg(&log),
        );
        let out = f
            .oxssh()
            .option(&format!("ProxyCommand={proxy}"))
            .run("echo inetd; exit 5", b"");
        assert_exit(&out, 5, &f.peer);
        assert_eq!(out.stdout, "inetd\n", "{name}");
        let written = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(written.contains("Accepted publickey"), "{name}: {written}");
    }
}
