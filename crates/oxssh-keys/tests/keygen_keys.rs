//! Private keys and fingerprints against OpenSSH's ssh-keygen: keys it makes load here
//! (plain and passphrase-protected), keys written here load and sign there, and our
//! fingerprints and randomart equal `ssh-keygen -l` / `-lv` byte for byte.
// Test helpers outside #[test] functions may fail loudly too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use oxssh_keys::fingerprint::{fingerprint_line, randomart};
use oxssh_keys::key_file::{read_private_key_file, write_private_key_file, KeyFileError};
use oxssh_keys::private::{self, Encryption, KeyCipher};
use oxssh_keys::{HashAlg, KeyFileFormat, PrivateKey, PrivateKeyError, PublicKey};
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use support::{generate, have_keygen, keygen, keygen_ok, KINDS};

fn read_pub(path: &Path) -> (PublicKey, String) {
    let text = fs::read_to_string(path.with_extension("pub")).unwrap();
    PublicKey::from_openssh_with_comment(&text).unwrap()
}

#[test]
fn fingerprints_and_randomart_equal_ssh_keygen() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (label, kind) in KINDS {
        let path = generate(dir.path(), label, kind, "", &format!("{label}@test"));
        let pub_path = format!("{label}.pub");
        let (key, comment) = read_pub(&path);
        for (alg, flag) in [(HashAlg::Sha256, "sha256"), (HashAlg::Md5, "md5")] {
            let theirs = keygen_ok(dir.path(), &["-l", "-E", flag, "-f", &pub_path]);
            assert_eq!(
                theirs.trim_end(),
                fingerprint_line(&key, alg, &comment),
                "{label} {flag}"
            );
            let theirs = keygen_ok(dir.path(), &["-lv", "-E", flag, "-f", &pub_path]);
            let (_, art) = theirs.split_once('\n').unwrap();
            assert_eq!(art.trim_end(), randomart(&key, alg), "{label} {flag}");
        }
    }
}

/// Writes `key` to `dir/name` with mode 0600, signs a file with it using ssh-keygen -Y
/// and checks the signature against `expected`: proof that the private material we
/// hold (and write back) is the real key.
fn signs_like(dir: &Path, name: &str, key: &PrivateKey, expected: &PublicKey, passphrase: &str) {
    let enc = Encryption::new(passphrase.as_bytes());
    let encryption = (!passphrase.is_empty()).then_some(&enc);
    write_private_key_file(&dir.join(name), key, encryption).unwrap();
    let mode = fs::metadata(dir.join(name)).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    fs::write(
        dir.join(format!("{name}.expected.pub")),
        expected.to_openssh().unwrap() + "\n",
    )
    .unwrap();
    fs::write(dir.join("data"), b"signed by oxssh-keys\n").unwrap();
    let _ = fs::remove_file(dir.join("data.sig"));
    let mut args = vec!["-Y", "sign", "-n", "file", "-f", name];
    if !passphrase.is_empty() {
        args.extend_from_slice(&["-P", passphrase]);
    }
    args.push("data");
    keygen_ok(dir, &args);
    let verify = std::process::Command::new(support::SSH_KEYGEN)
        .args([
            "-Y",
            "check-novalidate",
            "-n",
            "file",
            "-s",
            "data.sig",
            "-f",
        ])
        .arg(format!("{name}.expected.pub"))
        .current_dir(dir)
        .stdin(fs::File::open(dir.join("data")).unwrap())
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn unencrypted_keys_from_ssh_keygen_load_and_round_trip() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (label, kind) in KINDS {
        let path = generate(dir.path(), label, kind, "", &format!("{label}@test"));
        let text = read_private_key_file(&path).unwrap();
        assert!(!private::is_encrypted(&text).unwrap());
        let key = PrivateKey::from_openssh(&text).unwrap();
        let (public, comment) = read_pub(&path);
        assert_eq!(key.public_key(), &public, "{label}");
        assert_eq!(key.comment(), comment);
        assert_eq!(
            key.public_line().unwrap(),
            fs::read_to_string(path.with_extension("pub"))
                .unwrap()
                .trim_end()
        );
        signs_like(dir.path(), &format!("{label}.ours"), &key, &public, "");
        // And ssh-keygen -y derives the same public key from our file.
        let derived = keygen_ok(dir.path(), &["-y", "-f", &format!("{label}.ours")]);
        assert_eq!(PublicKey::from_openssh(&derived).unwrap(), public);
    }
}

#[test]
fn encrypted_keys_from_ssh_keygen_need_the_passphrase() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ciphers: &[&[&str]] = &[&[], &["-Z", "aes256-gcm@openssh.com"]];
    for (label, kind) in KINDS {
        for (i, cipher) in ciphers.iter().enumerate() {
            let name = format!("{label}-{i}");
            let mut args = kind.to_vec();
            args.extend_from_slice(cipher);
            let path = generate(dir.path(), &name, &args, "pass phrase", "enc");
            let text = fs::read_to_string(&path).unwrap();
            let (public, _) = read_pub(&path);
            assert!(private::is_encrypted(&text).unwrap());
            assert_eq!(private::read_public(&text).unwrap(), public);
            assert_eq!(
                PrivateKey::from_openssh(&text).unwrap_err(),
                PrivateKeyError::PassphraseRequired
            );
            let wrong = private::decrypt(&text, b"pass phrasE").unwrap_err();
            assert_eq!(wrong, PrivateKeyError::WrongPassphrase, "{name}");
            let key = private::decrypt(&text, b"pass phrase").unwrap();
            assert_eq!(key.public_key(), &public);
            assert_eq!(key.comment(), "enc");
        }
    }
}

#[test]
fn keys_we_encrypt_open_in_ssh_keygen() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = generate(dir.path(), "plain", &["-t", "ecdsa", "-b", "384"], "", "c");
    let key = PrivateKey::from_openssh(&fs::read_to_string(&path).unwrap()).unwrap();
    let (public, _) = read_pub(&path);
    signs_like(dir.path(), "ctr", &key, &public, "s3cret");
    for cipher in [KeyCipher::Aes256Ctr, KeyCipher::Aes256Gcm] {
        let mut enc = Encryption::new(b"s3cret");
        enc.cipher = cipher;
        enc.rounds = 8;
        write_private_key_file(&dir.path().join("ours"), &key, Some(&enc)).unwrap();
        let derived = keygen_ok(dir.path(), &["-y", "-P", "s3cret", "-f", "ours"]);
        assert_eq!(PublicKey::from_openssh(&derived).unwrap(), public);
        let wrong = keygen(dir.path(), &["-y", "-P", "nope", "-f", "ours"]);
        assert!(!wrong.status.success());
        let stderr = String::from_utf8_lossy(&wrong.stderr);
        assert!(
            stderr.contains(&PrivateKeyError::WrongPassphrase.to_string()),
            "{stderr}"
        );
    }
}

#[test]
fn pem_and_pkcs8_keys_are_refused_as_unsupported() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str], KeyFileFormat)] = &[
        (
            "pem",
            &["-t", "rsa", "-b", "2048", "-m", "PEM"],
            KeyFileFormat::PemRsa,
        ),
        ("ecpem", &["-t", "ecdsa", "-m", "PEM"], KeyFileFormat::PemEc),
        (
            "pkcs8",
            &["-t", "ecdsa", "-m", "PKCS8"],
            KeyFileFormat::Pkcs8,
        ),
    ];
    for (name, args, format) in cases {
        let path = generate(dir.path(), name, args, "", "");
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            PrivateKey::from_openssh(&text).unwrap_err(),
            PrivateKeyError::UnsupportedFormat(*format),
            "{name}"
        );
    }
}

#[test]
fn dsa_keys_are_refused_as_an_unsupported_type() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // OpenSSH builds without DSA cannot make one: nothing to test there.
    let made = keygen(dir.path(), &["-q", "-t", "dsa", "-N", "", "-f", "dsa"]);
    if !made.status.success() {
        eprintln!("SKIP: this ssh-keygen cannot make DSA keys");
        return;
    }
    let text = fs::read_to_string(dir.path().join("dsa")).unwrap();
    let expected = PrivateKeyError::UnsupportedKeyType("ssh-dss".to_owned());
    assert_eq!(PrivateKey::from_openssh(&text).unwrap_err(), expected);
    assert_eq!(private::read_public(&text).unwrap_err(), expected);
}

#[test]
fn unprotected_key_is_refused_with_openssh_s_warning() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = generate(dir.path(), "loose", &["-t", "ed25519"], "", "");
    for mode in [0o644, 0o640, 0o604] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        let theirs = keygen(dir.path(), &["-y", "-f", "loose"]);
        assert!(!theirs.status.success());
        let theirs = String::from_utf8_lossy(&theirs.stderr);
        // Our path is absolute, so compare with ssh-keygen told the same path.
        let theirs_abs = keygen(dir.path(), &["-y", "-f", path.to_str().unwrap()]);
        let theirs_abs = String::from_utf8_lossy(&theirs_abs.stderr).into_owned();
        match read_private_key_file(&path) {
            Err(KeyFileError::BadPermissions { warning }) => {
                let expected: Vec<&str> = theirs_abs.lines().take(warning.len()).collect();
                assert_eq!(warning, expected, "mode {mode:o}; relative run: {theirs}");
            }
            other => panic!("mode {mode:o}: {other:?}"),
        }
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(read_private_key_file(&path).is_ok());
}
