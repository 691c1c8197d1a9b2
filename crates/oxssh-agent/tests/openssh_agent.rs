//! Our agent client against OpenSSH's real `ssh-agent`: list keys added with
//! `ssh-add`, sign with each (RSA with both SHA-2 flags), verify the signatures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oxssh_agent::AgentClient;
use oxssh_proto::crypto::SigningKey;

fn have(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{program} is missing: .ci/run must install openssh-client");
        }
        eprintln!("SKIP: {program} not installed");
    }
    found
}

struct Agent(Child);
impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_agent(sock: &Path) -> Agent {
    let child = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(sock)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "ssh-agent did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Agent(child)
}

#[test]
fn lists_and_signs_with_keys_held_by_openssh_agent() {
    if !have("ssh-agent") || !have("ssh-add") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let _agent = start_agent(&sock);
    for (name, args) in [
        ("ed", &["-t", "ed25519"][..]),
        ("ec", &["-t", "ecdsa", "-b", "384"]),
        ("rsa", &["-t", "rsa", "-b", "2048"]),
    ] {
        let path = dir.path().join(name);
        let ok = Command::new("ssh-keygen")
            .args(["-q", "-N", "", "-C", name, "-f"])
            .arg(&path)
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let ok = Command::new("ssh-add")
            .arg(&path)
            .env("SSH_AUTH_SOCK", &sock)
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
    let provider = oxssh_crypto::default_provider();
    let keys = AgentClient::connect(&sock).unwrap().keys().unwrap();
    let comments: Vec<_> = keys.iter().map(|k| k.comment().to_owned()).collect();
    assert_eq!(comments, vec!["ed", "ec", "rsa"]);
    for key in &keys {
        for alg in key.signature_algorithms() {
            let sig = key.sign(alg, b"data to sign").unwrap();
            provider
                .signature(alg)
                .unwrap()
                .verify(key.public_key(), b"data to sign", &sig)
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
        }
    }
}
