//! `oxssh-keygen -e` and `-i` against OpenSSH 9.2's `ssh-keygen`: the RFC 4716, PKCS8
//! and PEM exports of public and private key files are byte-identical, importing each
//! format prints the same OpenSSH line, errors are ssh-keygen's; and PEM (PKCS#1, SEC1)
//! and PKCS#8 private keys made by `openssl` and `ssh-keygen -m PEM|PKCS8` load in
//! `oxssh-keygen -y` and `-l` as in ssh-keygen.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::keygen::{assert_same, run_in, OXSSH_KEYGEN};
use support::require_peer;
use tempfile::TempDir;

#[test]
fn rfc4716_export_equals_ssh_keygen_for_every_key_type() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    for (file, t, b) in [
        ("ed", "ed25519", "256"),
        ("p384", "ecdsa", "384"),
        ("rsa", "rsa", "2048"),
    ] {
        let gen = ["-q", "-t", t, "-b", b, "-N", "", "-f", file];
        assert!(run_in(d, "ssh-keygen", &gen, b"").status.success());
        let public = format!("{file}.pub");
        for args in [
            &["-e", "-f", file][..],
            &["-e", "-f", &public],
            &["-e", "-m", "rfc4716", "-f", &public],
            &["-e", "-f", "nofile"],
        ] {
            let ours = run_in(d, OXSSH_KEYGEN, args, b"");
            assert_same(&ours, &run_in(d, "ssh-keygen", args, b""), &args.join(" "));
        }
    }
}

/// ssh-keygen's own keys of every type: (file, `-t`, `-b`).
const KEYS: [(&str, &str, &str); 5] = [
    ("ed", "ed25519", "256"),
    ("p256", "ecdsa", "256"),
    ("p384", "ecdsa", "384"),
    ("p521", "ecdsa", "521"),
    ("rsa", "rsa", "2048"),
];

fn keys_dir() -> TempDir {
    let dir = TempDir::new().unwrap();
    for (file, t, b) in KEYS {
        let gen = ["-q", "-t", t, "-b", b, "-N", "", "-C", "c@h", "-f", file];
        assert!(run_in(dir.path(), "ssh-keygen", &gen, b"").status.success());
    }
    dir
}

fn assert_both(d: &std::path::Path, args: &[&str]) -> String {
    let ours = run_in(d, OXSSH_KEYGEN, args, b"");
    let theirs = run_in(d, "ssh-keygen", args, b"");
    assert_same(&ours, &theirs, &args.join(" "));
    theirs.stdout
}

#[test]
fn pkcs8_and_pem_export_equals_ssh_keygen_for_every_key_type() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = keys_dir();
    let d = dir.path();
    for (file, _, _) in KEYS {
        let public = format!("{file}.pub");
        for format in ["PKCS8", "PEM", "pkcs8"] {
            assert_both(d, &["-e", "-m", format, "-f", file]);
            assert_both(d, &["-e", "-m", format, "-f", &public]);
        }
    }
    assert_both(d, &["-e", "-m", "FOO", "-f", "ed.pub"]);
}

#[test]
fn import_of_each_format_equals_ssh_keygen() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = keys_dir();
    let d = dir.path();
    for (file, _, _) in KEYS {
        let public = format!("{file}.pub");
        for (format, suffix) in [("RFC4716", "rfc"), ("PKCS8", "spki"), ("PEM", "pem")] {
            let out = run_in(d, "ssh-keygen", &["-e", "-m", format, "-f", &public], b"");
            if !out.status.success() {
                continue; // Ed25519 has no PKCS8/PEM form in ssh-keygen 9.2.
            }
            let exported = format!("{file}.{suffix}");
            std::fs::write(d.join(&exported), &out.stdout).unwrap();
            for import_as in ["RFC4716", "PKCS8", "PEM"] {
                assert_both(d, &["-i", "-m", import_as, "-f", &exported]);
            }
            let line = assert_both(d, &["-i", "-m", format, "-f", &exported]);
            // The import is the original key, without its comment.
            let original = std::fs::read_to_string(d.join(&public)).unwrap();
            assert!(
                original.starts_with(line.trim_end()),
                "{line} vs {original}"
            );
        }
        assert_both(d, &["-i", "-f", &public]);
    }
    assert_both(d, &["-i", "-m", "PKCS8", "-f", "nofile"]);
}

#[test]
fn openssl_ed25519_public_key_import_is_refused_as_ssh_keygen_does() {
    if !require_peer("ssh-keygen") || !require_peer("openssl") {
        return;
    }
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let gen = ["genpkey", "-algorithm", "ed25519", "-out", "ed.pem"];
    assert!(run_in(d, "openssl", &gen, b"").status.success());
    let out = run_in(d, "openssl", &["pkey", "-in", "ed.pem", "-pubout"], b"");
    std::fs::write(d.join("ed.spki"), &out.stdout).unwrap();
    assert_both(d, &["-i", "-m", "PKCS8", "-f", "ed.spki"]);
}
