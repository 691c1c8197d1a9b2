//! Running OpenSSH's ssh-keygen from tests: fixtures are made at test time in temporary
//! directories, and its output is the reference ours is compared with.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const SSH_KEYGEN: &str = "ssh-keygen";

/// Whether ssh-keygen can run. Missing under CI=true is a failure (.ci/run installs
/// openssh-client); elsewhere the test is skipped loudly.
pub fn have_keygen() -> bool {
    let ok = Command::new(SSH_KEYGEN)
        .arg("-?")
        .output()
        .map(|o| !o.stderr.is_empty())
        .unwrap_or(false);
    if ok {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{SSH_KEYGEN} is missing: .ci/run must install openssh-client");
    }
    eprintln!("SKIP: {SSH_KEYGEN} not installed; OpenSSH interop not tested");
    false
}

/// Runs ssh-keygen with `args` in `dir`.
pub fn keygen(dir: &Path, args: &[&str]) -> Output {
    Command::new(SSH_KEYGEN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run ssh-keygen")
}

/// Runs ssh-keygen and returns its stdout, failing the test on a non-zero exit.
pub fn keygen_ok(dir: &Path, args: &[&str]) -> String {
    let out = keygen(dir, args);
    assert!(
        out.status.success(),
        "ssh-keygen {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Generates a key pair `dir/name` (+ `.pub`) with ssh-keygen and returns the path.
pub fn generate(dir: &Path, name: &str, kind: &[&str], passphrase: &str, comment: &str) -> PathBuf {
    let mut args = vec!["-q"];
    args.extend_from_slice(kind);
    args.extend_from_slice(&["-N", passphrase, "-C", comment, "-f", name]);
    keygen_ok(dir, &args);
    dir.join(name)
}

/// The key kinds the client supports, as ssh-keygen arguments, with a file-name label.
pub const KINDS: &[(&str, &[&str])] = &[
    ("ed25519", &["-t", "ed25519"]),
    ("ecdsa256", &["-t", "ecdsa", "-b", "256"]),
    ("ecdsa384", &["-t", "ecdsa", "-b", "384"]),
    ("ecdsa521", &["-t", "ecdsa", "-b", "521"]),
    ("rsa2048", &["-t", "rsa", "-b", "2048"]),
];
