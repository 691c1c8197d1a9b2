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
    // Certificates: whole in RFC 4716, their key in the X.509 forms.
    for (file, _, _) in KEYS {
        let public = format!("{file}.pub");
        let sign = ["-q", "-s", "ed", "-I", "x", "-n", "u", &public];
        assert!(run_in(d, "ssh-keygen", &sign, b"").status.success());
        let cert = format!("{file}-cert.pub");
        for format in ["RFC4716", "PKCS8", "PEM"] {
            assert_both(d, &["-e", "-m", format, "-f", &cert]);
        }
    }
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

/// Private keys in PEM (PKCS#1, SEC1) and PKCS#8 files, made by `ssh-keygen -m` and by
/// `openssl`: (file, program, arguments).
const PEM_KEYS: [(&str, &str, &[&str]); 10] = [
    (
        "sk-rsa-pem",
        "ssh-keygen",
        &["-t", "rsa", "-b", "2048", "-m", "PEM"],
    ),
    (
        "sk-rsa-p8",
        "ssh-keygen",
        &["-t", "rsa", "-b", "3072", "-m", "PKCS8"],
    ),
    (
        "sk-p256-pem",
        "ssh-keygen",
        &["-t", "ecdsa", "-b", "256", "-m", "PEM"],
    ),
    (
        "sk-p384-p8",
        "ssh-keygen",
        &["-t", "ecdsa", "-b", "384", "-m", "PKCS8"],
    ),
    (
        "sk-p521-pem",
        "ssh-keygen",
        &["-t", "ecdsa", "-b", "521", "-m", "PEM"],
    ),
    (
        "ossl-rsa-p8",
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ],
    ),
    (
        "ossl-rsa-pem",
        "openssl",
        &["genrsa", "-traditional", "2048"],
    ),
    (
        "ossl-p256-p8",
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ],
    ),
    (
        "ossl-p384-sec1",
        "openssl",
        &["ecparam", "-genkey", "-noout", "-name", "secp384r1"],
    ),
    (
        "ossl-ed25519-p8",
        "openssl",
        &["genpkey", "-algorithm", "ed25519"],
    ),
];

/// Makes the `PEM_KEYS` in `d`, mode 0600 and without `.pub` files, so `-l` reads the
/// private key.
fn pem_keys(d: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    for (file, program, args) in PEM_KEYS {
        let path = d.join(file);
        if program == "ssh-keygen" {
            let mut all = vec!["-q", "-N", "", "-f", file];
            all.extend_from_slice(args);
            assert!(run_in(d, program, &all, b"").status.success(), "{file}");
            std::fs::remove_file(d.join(format!("{file}.pub"))).unwrap();
        } else {
            let out = run_in(d, program, args, b"");
            assert!(out.status.success(), "{file}: {}", out.stderr);
            std::fs::write(&path, &out.stdout).unwrap();
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn pem_and_pkcs8_private_keys_load_in_y_and_l_as_in_ssh_keygen() {
    if !require_peer("ssh-keygen") || !require_peer("openssl") {
        return;
    }
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    pem_keys(d);
    for (file, _, _) in PEM_KEYS {
        if file == "ossl-ed25519-p8" {
            continue; // ssh-keygen 9.2 cannot read Ed25519 PKCS#8; see the next test.
        }
        let text = std::fs::read_to_string(d.join(file)).unwrap();
        assert!(
            text.starts_with("-----BEGIN ") && !text.contains("OPENSSH"),
            "{file}"
        );
        let line = assert_both(d, &["-y", "-f", file]);
        assert!(
            line.starts_with("ssh-") || line.starts_with("ecdsa-"),
            "{line}"
        );
        assert_both(d, &["-l", "-f", file]);
        assert_both(d, &["-l", "-E", "md5", "-f", file]);
    }
}

/// ssh-keygen 9.2 refuses Ed25519 PKCS#8 keys ("invalid format"; later OpenSSH reads
/// them); we read them, and the public key is the one openssl derives.
#[test]
fn ed25519_pkcs8_private_key_from_openssl_loads_with_openssl_public_key() {
    use base64::Engine as _;
    if !require_peer("ssh-keygen") || !require_peer("openssl") {
        return;
    }
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    pem_keys(d);
    let file = "ossl-ed25519-p8";
    let theirs = run_in(d, "ssh-keygen", &["-y", "-f", file], b"");
    assert_eq!(theirs.code(), Some(255));
    let ours = run_in(d, OXSSH_KEYGEN, &["-y", "-f", file], b"");
    assert!(ours.status.success(), "{}", ours.stderr);
    let b64 = ours.stdout.split(' ').nth(1).unwrap().trim();
    let blob = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let spki = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(d.join(file))
        .output()
        .unwrap()
        .stdout;
    assert_eq!(blob[blob.len() - 32..], spki[spki.len() - 32..]);
}

/// `oxssh -i` logs in to OpenSSH's sshd with PEM and PKCS#8 private keys.
#[test]
fn oxssh_logs_in_with_pem_and_pkcs8_identities() {
    if !require_peer("ssh-keygen") || !require_peer("openssl") || !require_peer("sshd") {
        return;
    }
    support::users::test_user();
    let client = support::client::ClientDir::new();
    let d = client.path();
    pem_keys(d);
    let mut authorized = Vec::new();
    for (file, _, _) in PEM_KEYS {
        let out = run_in(d, OXSSH_KEYGEN, &["-y", "-f", file], b"");
        assert!(out.status.success(), "{file}: {}", out.stderr);
        authorized.push(out.stdout.trim().to_owned());
    }
    let mut opts = support::openssh::sshd_opts(&[]);
    opts.authorized_keys = authorized;
    let peer = support::start_sshd(&opts);
    for (file, _, _) in PEM_KEYS {
        let out = support::client::Ssh::oxssh(&client, &peer, support::users::TEST_USER)
            .identity(&d.join(file))
            .run("echo pem-identity", b"");
        assert_eq!(
            out.stdout,
            "pem-identity\n",
            "{file}: {}\n{}",
            out.stderr,
            peer.log()
        );
    }
}

/// oxsshd serves PEM and PKCS#8 host keys; OpenSSH's ssh verifies each against the
/// public key `oxssh-keygen -y` derives.
#[test]
fn oxsshd_serves_pem_and_pkcs8_host_keys() {
    if !require_peer("ssh-keygen") || !require_peer("openssl") || !require_peer("ssh") {
        return;
    }
    support::users::test_user();
    let client = support::client::ClientDir::new();
    let d = client.path();
    pem_keys(d);
    let host_keys = [
        ("sk-rsa-pem", "rsa-sha2-512"),
        ("ossl-p256-p8", "ecdsa-sha2-nistp256"),
        ("ossl-p384-sec1", "ecdsa-sha2-nistp384"),
        ("ossl-ed25519-p8", "ssh-ed25519"),
    ];
    let user = client.key("id_user", support::HostKey::Ed25519, None);
    let lines: Vec<String> = host_keys
        .iter()
        .map(|(f, _)| format!("HostKey {}", d.join(f).display()))
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut opts = support::openssh::sshd_opts(&refs);
    opts.host_keys.clear();
    opts.authorized_keys.push(user.public.clone());
    let peer = support::start_oxsshd(&opts);
    for (file, alg) in host_keys {
        let public = run_in(d, OXSSH_KEYGEN, &["-y", "-f", file], b"");
        std::fs::write(
            client.known_hosts(),
            format!("{} {}", support::openssh::host_name(&peer), public.stdout),
        )
        .unwrap();
        let out = support::client::Ssh::openssh(&client, &peer, support::users::TEST_USER)
            .identity(&user.path)
            .option("StrictHostKeyChecking=yes")
            .option(&format!("HostKeyAlgorithms={alg}"))
            .run("echo pem-host-key", b"");
        assert_eq!(
            out.stdout,
            "pem-host-key\n",
            "{file}: {}\n{}",
            out.stderr,
            peer.log()
        );
    }
}
