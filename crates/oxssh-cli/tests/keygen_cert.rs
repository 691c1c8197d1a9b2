//! `oxssh-keygen -s` (certificate signing) and `-L` against OpenSSH 9.2: certificates we
//! sign print identically in `ssh-keygen -L` and ours (every CA type, user and host,
//! each validity form and option), certificates ssh-keygen signs print identically in
//! `oxssh-keygen -L`, signing prints ssh-keygen's line, bad arguments get its messages,
//! and OpenSSH's sshd accepts a login by OpenSSH's ssh with a user certificate we signed
//! (and refuses one for another principal).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::Path;

use support::client::{ClientDir, Ssh};
use support::keygen::{assert_same, run_in, OXSSH_KEYGEN};
use support::openssh::{host_name, sshd_opts};
use support::users::{test_user, TEST_USER};
use support::{require_peer, start_sshd, HostKey, Output};
use tempfile::TempDir;

fn ox(dir: &Path, args: &[&str]) -> Output {
    run_in(dir, OXSSH_KEYGEN, args, b"")
}

fn ssh_keygen(dir: &Path, args: &[&str]) -> Output {
    run_in(dir, "ssh-keygen", args, b"")
}

/// CA and subject keys made by ssh-keygen: (file, `-t`, `-b`).
const KEYS: [(&str, &str, &str); 4] = [
    ("ed", "ed25519", ""),
    ("p256", "ecdsa", "256"),
    ("p521", "ecdsa", "521"),
    ("rsa", "rsa", "2048"),
];

fn setup() -> TempDir {
    let dir = TempDir::new().unwrap();
    for (file, t, b) in KEYS {
        let mut args = vec!["-q", "-t", t, "-N", "", "-C", "me@host", "-f", file];
        if !b.is_empty() {
            args.extend(["-b", b]);
        }
        assert!(ssh_keygen(dir.path(), &args).status.success());
    }
    dir
}

/// (extra arguments, whether the validity is fixed so that the "Signed" line and the
/// certificate body are the same whichever tool signs).
const VARIANTS: [(&[&str], bool); 7] = [
    (&[], true),
    (&["-h", "-n", "h1.example,h2", "-z", "42"], true),
    (&["-n", "alice,bob", "-V", "20240101:20300101123456Z"], true),
    (&["-V", "always:20300101", "-z", "+7"], true),
    (&["-V", "-1d:+52w", "-n", "oxssh-test"], false),
    (
        &[
            "-O",
            "clear",
            "-O",
            "permit-pty",
            "-O",
            "force-command=/bin/true",
            "-O",
            "source-address=127.0.0.1/32,::1",
            "-O",
            "extension:foo@example.com=bar",
            "-O",
            "critical:zz@example.com",
        ],
        true,
    ),
    (
        &[
            "-O",
            "no-x11-forwarding",
            "-O",
            "no-user-rc",
            "-O",
            "verify-required",
            "-O",
            "no-touch-required",
        ],
        true,
    ),
];

#[test]
fn certificates_print_the_same_in_both_tools_whoever_signed_them() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = setup();
    let d = dir.path();
    for (ca, _, _) in KEYS {
        for (subject, _, _) in [KEYS[0], KEYS[1], KEYS[3]] {
            for (extra, fixed) in VARIANTS {
                let mut args = vec!["-s", ca, "-I", "id-1"];
                args.extend_from_slice(extra);
                let pub_file = format!("{subject}.pub");
                args.push(&pub_file);
                let cert = format!("{subject}-cert.pub");
                let what = format!("CA {ca} subject {subject} {extra:?}");
                let theirs = ssh_keygen(d, &args);
                assert!(theirs.status.success(), "{what}: {}", theirs.stderr);
                let their_list = ssh_keygen(d, &["-L", "-f", &cert]);
                assert_same(&ox(d, &["-L", "-f", &cert]), &their_list, &what);
                let ours = ox(d, &args);
                assert!(ours.status.success(), "{what}: {}", ours.stderr);
                let our_list = ssh_keygen(d, &["-L", "-f", &cert]);
                assert!(our_list.status.success(), "{what}: {}", our_list.stderr);
                assert_same(&ox(d, &["-L", "-f", &cert]), &our_list, &what);
                if fixed {
                    assert_same(&ours, &theirs, &format!("signing line of {what}"));
                    assert_eq!(our_list.stdout, their_list.stdout, "{what}");
                }
                // The comment of the subject key is kept.
                let text = std::fs::read_to_string(d.join(&cert)).unwrap();
                assert!(text.ends_with(" me@host\n"), "{what}: {text}");
            }
        }
    }
}

#[test]
fn bad_certificate_requests_get_ssh_keygen_messages() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = setup();
    let d = dir.path();
    assert!(ox(d, &["-s", "ed", "-I", "x", "rsa.pub"]).status.success());
    std::fs::write(d.join("two"), {
        let mut t = std::fs::read_to_string(d.join("ed.pub")).unwrap();
        t.push_str(&std::fs::read_to_string(d.join("rsa-cert.pub")).unwrap());
        t
    })
    .unwrap();
    for args in [
        &["-s", "ed", "ed.pub"][..],
        &["-s", "ed", "-I", "x", "-V", "bogus", "ed.pub"],
        &["-s", "ed", "-I", "x", "-V", "+5x", "ed.pub"],
        &["-s", "ed", "-I", "x", "-V", "20300101:20200101", "ed.pub"],
        &["-s", "ed", "-I", "x", "-V", "-5d:x", "ed.pub"],
        &["-s", "ed", "-I", "x", "-z", "abc", "ed.pub"],
        &["-s", "ed", "-I", "x", "-O", "bogus", "ed.pub"],
        &["-s", "ed", "-I", "x", "-O", "force-command=", "ed.pub"],
        &["-s", "ed", "-I", "x", "-n", "a,,b", "ed.pub"],
        &["-s", "ed", "-I", "x", "nofile.pub"],
        &["-s", "nokey", "-I", "x", "ed.pub"],
        &["-s", "ed", "-I", "x", "rsa-cert.pub"],
        &["-L", "-f", "ed.pub"],
        &["-L", "-f", "nofile"],
        &["-L", "-f", "two"],
    ] {
        assert_same(&ox(d, args), &ssh_keygen(d, args), &args.join(" "));
    }
    let out = ox(d, &["-s", "ed", "-I", "x"]);
    assert_eq!(out.code(), Some(1));
    assert!(out.stderr.starts_with("Too few arguments.\r\nusage: "));
}

/// sshd trusts our CA through `TrustedUserCAKeys`; OpenSSH's ssh offers `KEY-cert.pub`
/// next to `-i KEY` by itself.
#[test]
fn openssh_sshd_accepts_a_user_certificate_signed_by_oxssh_keygen() {
    if !require_peer("sshd") || !require_peer("ssh") || !require_peer("ssh-keygen") {
        return;
    }
    test_user();
    let client = ClientDir::new();
    let ca = client.key("ca", HostKey::Ed25519, None);
    let user = client.key("id_user", HostKey::EcdsaP256, None);
    let other = client.key("id_other", HostKey::Ed25519, None);
    let ca_pub = client.path().join("ca.pub");
    for (key, principal, serial) in [(&user, TEST_USER, "7"), (&other, "someone-else", "8")] {
        let out = ox(
            client.path(),
            &[
                "-s",
                ca.path.to_str().unwrap(),
                "-I",
                "oxssh-cert",
                "-n",
                principal,
                "-V",
                "-5m:+1h",
                "-z",
                serial,
                &format!("{}.pub", key.path.display()),
            ],
        );
        assert!(out.status.success(), "{}", out.stderr);
    }
    let trusted = format!("TrustedUserCAKeys {}", ca_pub.display());
    let peer = start_sshd(&sshd_opts(&[&trusted]));
    let host_key = std::fs::read_to_string(peer.dir().join("host_ed25519.pub")).unwrap();
    std::fs::write(
        client.known_hosts(),
        format!("{} {host_key}", host_name(&peer)),
    )
    .unwrap();

    let ok = Ssh::openssh(&client, &peer, TEST_USER)
        .identity(&user.path)
        .run("echo certificate-login", b"");
    assert_eq!(
        ok.stdout,
        "certificate-login\n",
        "{}\n{}",
        ok.stderr,
        peer.log()
    );
    assert!(
        peer.log().contains("ECDSA-CERT") && peer.log().contains("ID oxssh-cert (serial 7)"),
        "{}",
        peer.log()
    );
    let refused = Ssh::openssh(&client, &peer, TEST_USER)
        .identity(&other.path)
        .run("echo should-not-run", b"");
    assert_eq!(refused.code(), Some(255));
    assert!(
        peer.log().contains("name is not a listed principal"),
        "{}",
        peer.log()
    );
}

/// `-l` (and `-lv`, `-E md5`) on certificate files prints ssh-keygen's `TYPE-CERT` lines
/// and randomart, for every key type.
#[test]
fn fingerprints_of_certificates_equal_ssh_keygen() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = setup();
    let d = dir.path();
    for (file, _, _) in KEYS {
        let public = format!("{file}.pub");
        let out = ssh_keygen(d, &["-q", "-s", "ed", "-I", "fp", "-n", "u", &public]);
        assert!(out.status.success(), "{}", out.stderr);
        let cert = format!("{file}-cert.pub");
        for args in [
            &["-l", "-f", &cert][..],
            &["-lv", "-f", &cert],
            &["-l", "-E", "md5", "-f", &cert],
        ] {
            assert_same(&ox(d, args), &ssh_keygen(d, args), &args.join(" "));
        }
    }
}
