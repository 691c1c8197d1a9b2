//! `oxssh-keygen -e` against OpenSSH 9.2's `ssh-keygen -e`: the RFC 4716 export of
//! public and private key files is byte-identical; formats not implemented yet are
//! refused by name with exit 255.
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
    for args in [
        &["-e", "-m", "PKCS8", "-f", "ed.pub"][..],
        &["-i", "-f", "ed.pub"],
    ] {
        let out = run_in(d, OXSSH_KEYGEN, args, b"");
        assert_eq!(out.code(), Some(255));
        assert!(out.stderr.contains("not supported"), "{}", out.stderr);
    }
}
