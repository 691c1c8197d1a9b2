//! known_hosts against OpenSSH's ssh-keygen: entries it hashes (`-H`) are found by our
//! check, entries we append are found by `ssh-keygen -F` (and our find prints what it
//! prints), and our remove leaves the same file and backup as `ssh-keygen -R`.
// Test helpers outside #[test] functions may fail loudly too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use oxssh_keys::fingerprint::type_label;
use oxssh_keys::known_hosts::{self, host_key_name, HostKeyMatch, KnownHosts, KnownHostsError};
use oxssh_keys::{HashAlg, PublicKey};
use std::fs;
use std::path::Path;
use support::{generate, have_keygen, keygen, keygen_ok};

/// Three host keys made by ssh-keygen: ed25519, ecdsa-256, rsa-2048.
fn host_keys(dir: &Path) -> Vec<PublicKey> {
    [
        ("hk_ed", &["-t", "ed25519"][..]),
        ("hk_ec", &["-t", "ecdsa", "-b", "256"][..]),
        ("hk_rsa", &["-t", "rsa", "-b", "2048"][..]),
    ]
    .iter()
    .map(|(name, kind)| {
        let path = generate(dir, name, kind, "", "");
        let line = fs::read_to_string(path.with_extension("pub")).unwrap();
        PublicKey::from_openssh(&line).unwrap()
    })
    .collect()
}

fn plain_line(names: &str, key: &PublicKey) -> String {
    format!("{names} {}\n", key.to_openssh().unwrap())
}

#[test]
fn entries_hashed_by_ssh_keygen_are_found_by_check() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keys = host_keys(dir.path());
    let text = format!(
        "{}{}{}{}",
        plain_line("alpha.example,10.1.2.3", &keys[0]),
        plain_line("[alpha.example]:2222", &keys[1]),
        plain_line("beta.example", &keys[2]),
        plain_line("beta.example", &keys[0]),
    );
    let path = dir.path().join("known_hosts");
    fs::write(&path, text).unwrap();
    keygen_ok(dir.path(), &["-H", "-f", "known_hosts"]);
    let hashed = fs::read_to_string(&path).unwrap();
    assert!(hashed.lines().all(|l| l.starts_with("|1|")), "{hashed}");

    let kh = KnownHosts::load(&path).unwrap();
    assert!(kh.bad_lines().is_empty());
    assert!(matches!(
        kh.check("alpha.example", 22, &keys[0]),
        HostKeyMatch::Found(_)
    ));
    assert!(matches!(
        kh.check("ALPHA.example", 22, &keys[0]),
        HostKeyMatch::Found(_)
    ));
    assert!(matches!(
        kh.check("10.1.2.3", 22, &keys[0]),
        HostKeyMatch::Found(_)
    ));
    assert!(matches!(
        kh.check("alpha.example", 2222, &keys[1]),
        HostKeyMatch::Found(_)
    ));
    assert!(matches!(
        kh.check("beta.example", 22, &keys[0]),
        HostKeyMatch::Found(_)
    ));
    assert!(matches!(
        kh.check("beta.example", 22, &keys[2]),
        HostKeyMatch::Found(_)
    ));
    assert_eq!(
        kh.check("gamma.example", 22, &keys[0]),
        HostKeyMatch::NotFound
    );
    assert_eq!(
        kh.check("alpha.example", 2200, &keys[1]),
        HostKeyMatch::NotFound
    );
    match kh.check("alpha.example", 2222, &keys[2]) {
        HostKeyMatch::Changed { offending, known } => {
            assert_eq!(offending.location().line, 3); // -H splits alpha,10.1.2.3 in two
            assert_eq!(known.len(), 1);
            assert_eq!(offending.display_hosts(), "[hashed name]");
        }
        other => panic!("{other:?}"),
    }
}

/// ssh-keygen -F's stdout for `name`, rebuilt from our find.
fn our_find_output(path: &Path, name: &str) -> String {
    known_hosts::find(path, name)
        .unwrap()
        .iter()
        .map(|f| format!("{}\n{}\n", f.header(name), f.line))
        .collect()
}

#[test]
fn ssh_keygen_finds_the_entries_we_append() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keys = host_keys(dir.path());
    let path = dir.path().join("dot_ssh").join("known_hosts");
    let cases = [
        ("plain.example", 22, false),
        ("Mixed.Example", 22, false),
        ("ported.example", 2222, false),
        ("hashed.example", 22, true),
        ("hashed.example", 2022, true),
        ("::1", 2200, false),
        ("192.0.2.7", 22, true),
    ];
    for (i, (host, port, hash)) in cases.iter().enumerate() {
        let key = &keys[i % keys.len()];
        let line = known_hosts::append_entry(&path, host, *port, key, *hash).unwrap();
        assert!(line.ends_with(&key.to_openssh().unwrap()));
    }
    // A comment and a second key for one host, written by hand.
    let mut text = fs::read_to_string(&path).unwrap();
    text.push_str("# hand-written\n");
    text.push_str(&plain_line("plain.example", &keys[2]));
    text.push_str(&format!(
        "@revoked plain.example {}\n",
        keys[1].to_openssh().unwrap()
    ));
    fs::write(&path, &text).unwrap();

    let kh = KnownHosts::load(&path).unwrap();
    for (i, (host, port, _)) in cases.iter().enumerate() {
        let name = host_key_name(host, *port);
        let theirs = keygen_ok(dir.path(), &["-F", &name, "-f", path.to_str().unwrap()]);
        assert!(theirs.contains("found: line"), "{name}: {theirs}");
        assert_eq!(theirs, our_find_output(&path, &name), "{name}");
        let key = &keys[i % keys.len()];
        assert!(
            matches!(kh.check(host, *port, key), HostKeyMatch::Found(_)),
            "{name}"
        );
        // -lF prints `name TYPE fingerprint`; ours agrees for each found line.
        let theirs = keygen_ok(dir.path(), &["-lF", &name, "-f", path.to_str().unwrap()]);
        for (found, their_line) in known_hosts::find(&path, &name)
            .unwrap()
            .iter()
            .zip(theirs.lines().filter(|l| !l.starts_with('#')))
        {
            let key = found.key.as_ref().unwrap().public_key().unwrap();
            let mut ours = format!(
                "{name} {} {}",
                type_label(key),
                key.fingerprint(HashAlg::Sha256)
            );
            if !found.comment.is_empty() {
                ours = format!("{ours} {}", found.comment);
            }
            assert_eq!(their_line, ours);
        }
    }
    assert!(matches!(
        kh.check("plain.example", 22, &keys[1]),
        HostKeyMatch::Revoked(_)
    ));
    let missing = keygen(dir.path(), &["-F", "nowhere", "-f", path.to_str().unwrap()]);
    assert!(!missing.status.success());
    assert!(known_hosts::find(&path, "nowhere").unwrap().is_empty());
}

#[test]
fn remove_leaves_what_ssh_keygen_r_leaves() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keys = host_keys(dir.path());
    let text = format!(
        "# top\n{}{}@cert-authority *.example {}{}{}|1|bad-salt|x {}",
        plain_line("target.example,other.example", &keys[0]),
        plain_line("[target.example]:2222", &keys[1]),
        plain_line("", &keys[2]).trim_start(),
        plain_line("other.example", &keys[1]),
        plain_line("target.example", &keys[2]),
        plain_line("", &keys[0]).trim_start(),
    );
    // The last line has a broken hash: first check that both refuse the file.
    for who in ["theirs", "ours"] {
        fs::write(dir.path().join(who), &text).unwrap();
    }
    let theirs = keygen(dir.path(), &["-R", "target.example", "-f", "theirs"]);
    assert!(!theirs.status.success());
    let ours = known_hosts::remove(&dir.path().join("ours"), "target.example");
    match ours {
        Err(KnownHostsError::InvalidFile { lines, .. }) => assert_eq!(lines, [7]),
        other => panic!("{other:?}"),
    }

    // Without the broken line both remove the same lines, keep the same backup.
    let text = text.trim_end().rsplit_once('\n').unwrap().0.to_owned() + "\n";
    for who in ["theirs", "ours"] {
        fs::write(dir.path().join(who), &text).unwrap();
    }
    for name in ["target.example", "[target.example]:2222", "absent.example"] {
        let theirs = keygen(dir.path(), &["-R", name, "-f", "theirs"]);
        let theirs_out = String::from_utf8_lossy(&theirs.stdout).into_owned();
        let outcome = known_hosts::remove(&dir.path().join("ours"), name).unwrap();
        let ours_headers: String = outcome
            .removed
            .iter()
            .map(|n| format!("# Host {name} found: line {n}\n"))
            .collect();
        assert!(theirs_out.starts_with(&ours_headers), "{theirs_out}");
        assert_eq!(
            fs::read_to_string(dir.path().join("theirs")).unwrap(),
            fs::read_to_string(dir.path().join("ours")).unwrap(),
            "{name}"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("theirs.old")).ok(),
            fs::read_to_string(dir.path().join("ours.old")).ok(),
            "{name}"
        );
        assert_eq!(outcome.backup.is_some(), !outcome.removed.is_empty());
    }
}
