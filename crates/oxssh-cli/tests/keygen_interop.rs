//! `oxssh-keygen` key files against the real tools: keys we make (each type, with and
//! without a passphrase) load in OpenSSH's `ssh-keygen -y` and in PuTTY's `puttygen`
//! with the same public key; keys `ssh-keygen` makes load in `oxssh-keygen -y` with the
//! same output; generation prints ssh-keygen's lines; bad files (truncated, corrupted,
//! wrong passphrase, loose permissions) get ssh-keygen's messages and exit statuses.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::Path;
use std::time::Duration;

use support::keygen::{assert_same, mode, ox, run_in, ssh, OXSSH_KEYGEN};
use support::require_peer;
use tempfile::TempDir;

/// (`-t`, `-b`) for every type and size we generate; RSA at 2048 to keep the suite fast.
const TYPES: [(&str, &str); 5] = [
    ("ed25519", ""),
    ("ecdsa", "256"),
    ("ecdsa", "384"),
    ("ecdsa", "521"),
    ("rsa", "2048"),
];

fn gen_args<'a>(t: &'a str, b: &'a str, file: &'a str, pass: &'a str) -> Vec<&'a str> {
    let mut args = vec!["-q", "-t", t, "-f", file, "-N", pass, "-C", "test@oxssh"];
    if !b.is_empty() {
        args.extend(["-b", b]);
    }
    args
}

fn pub_line(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{file}.pub"))).unwrap()
}

#[test]
fn keys_made_by_oxssh_keygen_load_in_ssh_keygen_with_the_same_public_key() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = TempDir::new().unwrap();
    for (t, b) in TYPES {
        for pass in ["", "correct horse"] {
            let file = format!("k_{t}{b}_{}", pass.len());
            let out = ox(dir.path(), &gen_args(t, b, &file, pass));
            assert!(out.status.success(), "{file}: {}", out.stderr);
            assert_eq!(out.stdout, "", "-q prints nothing");
            assert_eq!(mode(&dir.path().join(&file)), 0o600);
            assert_eq!(mode(&dir.path().join(format!("{file}.pub"))), 0o644);
            let theirs = ssh(dir.path(), &["-y", "-P", pass, "-f", &file]);
            assert!(theirs.status.success(), "{file}: {}", theirs.stderr);
            assert_eq!(theirs.stdout, pub_line(dir.path(), &file), "{file}");
            // Encrypted as ssh-keygen does (bcrypt + aes256-ctr): it checks the
            // passphrase, so a wrong one is refused.
            let wrong = ssh(dir.path(), &["-y", "-P", "wrong", "-f", &file]);
            assert_eq!(wrong.status.success(), pass.is_empty(), "{file}");
        }
    }
}

#[test]
fn keys_made_by_oxssh_keygen_convert_in_puttygen() {
    if !require_peer("puttygen") {
        return;
    }
    let dir = TempDir::new().unwrap();
    for (t, b) in TYPES {
        for pass in ["", "putty pass"] {
            let file = format!("p_{t}{b}_{}", pass.len());
            let out = ox(dir.path(), &gen_args(t, b, &file, pass));
            assert!(out.status.success(), "{file}: {}", out.stderr);
            let pass_file = dir.path().join(format!("{file}.pw"));
            std::fs::write(&pass_file, pass).unwrap();
            let mut args = vec![file.as_str(), "-O", "public-openssh"];
            let pass_path = pass_file.to_str().unwrap();
            if !pass.is_empty() {
                args.extend(["--old-passphrase", pass_path]);
            }
            let putty = run_in(dir.path(), "puttygen", &args, b"");
            assert!(putty.status.success(), "{file}: {}", putty.stderr);
            let line = pub_line(dir.path(), &file);
            let want: Vec<&str> = line.split(' ').take(2).collect();
            let got: Vec<&str> = putty.stdout.split_whitespace().take(2).collect();
            assert_eq!(got, want, "{file}");
        }
    }
}

#[test]
fn keys_made_by_ssh_keygen_load_in_oxssh_keygen() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = TempDir::new().unwrap();
    for (t, b) in TYPES {
        for pass in ["", "secret"] {
            let file = format!("s_{t}{b}_{}", pass.len());
            let out = ssh(dir.path(), &gen_args(t, b, &file, pass));
            assert!(out.status.success(), "{file}: {}", out.stderr);
            let args = ["-y", "-P", pass, "-f", &file];
            assert_same(&ox(dir.path(), &args), &ssh(dir.path(), &args), &file);
            // Without -P an encrypted key asks "Enter passphrase: " (on stderr without
            // a terminal) and reads the answer from stdin.
            let args = ["-y", "-f", file.as_str()];
            let input = format!("{pass}\n");
            let ours = run_in(dir.path(), OXSSH_KEYGEN, &args, input.as_bytes());
            let theirs = run_in(dir.path(), "ssh-keygen", &args, input.as_bytes());
            assert_same(&ours, &theirs, &format!("{file} with the passphrase asked"));
        }
    }
}

/// The lines that do not depend on the key itself, and the shape of the rest.
fn generation_lines(stdout: &str) -> (Vec<String>, Vec<usize>) {
    let lines: Vec<&str> = stdout.lines().collect();
    let fixed = [0, 1, 2, 3, 5, 6, 16]
        .iter()
        .map(|&i| lines.get(i).unwrap_or(&"").to_string())
        .collect();
    let widths = lines.iter().map(|l| l.len()).collect();
    (fixed, widths)
}

#[test]
fn generation_prints_ssh_keygen_s_lines_apart_from_the_key() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = TempDir::new().unwrap();
    for (t, b) in [("ed25519", ""), ("ecdsa", "384"), ("rsa", "2048")] {
        let mut args = vec!["-t", t, "-f", "same", "-N", "", "-C", "c"];
        if !b.is_empty() {
            args.extend(["-b", b]);
        }
        let ours = ox(dir.path(), &args);
        std::fs::remove_file(dir.path().join("same")).unwrap();
        let theirs = ssh(dir.path(), &args);
        assert_eq!(ours.code(), Some(0), "{}", ours.stderr);
        assert_eq!(ours.stderr, theirs.stderr);
        assert_eq!(
            generation_lines(&ours.stdout),
            generation_lines(&theirs.stdout),
            "ours:\n{}\ntheirs:\n{}",
            ours.stdout,
            theirs.stdout
        );
        let fp_line = ours.stdout.lines().nth(4).unwrap();
        assert!(fp_line.starts_with("SHA256:") && fp_line.ends_with(" c"));
        // The fingerprint and randomart are the ones ssh-keygen computes for the key.
        std::fs::remove_file(dir.path().join("same")).unwrap();
        let ours = ox(dir.path(), &args);
        let l = ssh(dir.path(), &["-lv", "-f", "same.pub"]);
        let art: Vec<&str> = l.stdout.lines().skip(1).collect();
        let printed: Vec<&str> = ours.stdout.lines().skip(6).collect();
        assert_eq!(printed, art);
        std::fs::remove_file(dir.path().join("same")).unwrap();
    }
}

#[test]
fn existing_file_asks_before_overwriting_as_ssh_keygen() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("k"), "keep").unwrap();
    let args = ["-t", "ed25519", "-f", "k", "-N", ""];
    for answer in [&b"n\n"[..], b""] {
        let ours = run_in(dir.path(), OXSSH_KEYGEN, &args, answer);
        let theirs = run_in(dir.path(), "ssh-keygen", &args, answer);
        assert_same(&ours, &theirs, "refused overwrite");
        assert_eq!(std::fs::read(dir.path().join("k")).unwrap(), b"keep");
    }
    let ours = run_in(dir.path(), OXSSH_KEYGEN, &args, b"y\n");
    assert!(ours
        .stdout
        .contains("k already exists.\nOverwrite (y/n)? Your identification"));
    assert_eq!(ours.code(), Some(0));
}

#[test]
fn prompts_for_file_and_passphrase_as_ssh_keygen() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("asked");
    let shown = path.to_str().unwrap();
    // Mismatched passphrases are asked again; the key is then saved encrypted.
    let input = format!("{shown}\npw1\npw2\npw\npw\n");
    let ours = run_in(
        dir.path(),
        OXSSH_KEYGEN,
        &["-t", "ed25519", "-C", "c"],
        input.as_bytes(),
    );
    assert_eq!(ours.code(), Some(0), "{}", ours.stderr);
    assert!(ours.stdout.starts_with(
        "Generating public/private ed25519 key pair.\n\
         Enter file in which to save the key ("
    ));
    assert!(ours.stdout.contains(&format!(
        "/.ssh/id_ed25519): Passphrases do not match.  Try again.\n\
         Your identification has been saved in {shown}\n"
    )));
    assert_eq!(
        ours.stderr,
        "Enter passphrase (empty for no passphrase): Enter same passphrase again: \
         Enter passphrase (empty for no passphrase): Enter same passphrase again: "
    );
    let theirs = ssh(dir.path(), &["-y", "-P", "pw", "-f", shown]);
    assert_eq!(theirs.stdout, pub_line(dir.path(), "asked"));
}

#[test]
fn bad_key_files_get_ssh_keygen_s_messages_and_status() {
    if !require_peer("ssh-keygen") {
        return;
    }
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    assert!(ssh(d, &["-q", "-t", "ed25519", "-f", "good", "-N", ""])
        .status
        .success());
    assert!(ssh(d, &["-q", "-t", "ed25519", "-f", "enc", "-N", "pw"])
        .status
        .success());
    let good = std::fs::read_to_string(d.join("good")).unwrap();
    let write = |name: &str, text: &str, mode: u32| {
        std::fs::write(d.join(name), text).unwrap();
        std::fs::set_permissions(d.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
    };
    write("truncated", &good[..200], 0o600);
    write("garbage", "garbage\n", 0o600);
    write("empty", "", 0o600);
    write("loose", &good, 0o644);
    let mut corrupted = good.clone().into_bytes();
    corrupted[120] = if corrupted[120] == b'A' { b'B' } else { b'A' };
    write("corrupt", std::str::from_utf8(&corrupted).unwrap(), 0o600);
    let cases: [&[&str]; 11] = [
        &["-y", "-f", "truncated"],
        &["-y", "-f", "garbage"],
        &["-y", "-f", "empty"],
        &["-y", "-f", "loose"],
        &["-y", "-f", "missing"],
        &["-y", "-f", "enc", "-P", "wrong"],
        &["-l", "-f", "loose"],
        &["-l", "-f", "garbage"],
        &["-l", "-f", "truncated"],
        &["-p", "-f", "enc", "-P", "wrong", "-N", "x"],
        &["-c", "-f", "enc", "-P", "wrong", "-C", "x"],
    ];
    for args in cases {
        assert_same(&ox(d, args), &ssh(d, args), &args.join(" "));
    }
    // A corrupted key fails in both (the exact reason differs: ssh-keygen decodes
    // further before its checks).
    let ours = ox(d, &["-y", "-f", "corrupt"]);
    assert_eq!(ours.code(), Some(255));
    assert!(ours.stderr.starts_with("Load key \"corrupt\": "));
}

#[test]
fn unimplemented_flags_are_refused_by_name() {
    let dir = TempDir::new().unwrap();
    for flag in ["-K", "-D", "-r", "-k", "-M"] {
        let out = ox(dir.path(), &[flag, "x"]);
        assert_eq!(out.code(), Some(255), "{flag}");
        assert!(out.stderr.contains(flag) && out.stderr.contains("not supported"));
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `-t rsa -b 4096`, 5 runs each, medians printed (run with `--ignored --nocapture`).
#[test]
#[ignore = "benchmark: run explicitly"]
fn rsa_4096_generation_time_next_to_ssh_keygen() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = TempDir::new().unwrap();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..5 {
        let args = |f: &'static str| vec!["-q", "-t", "rsa", "-b", "4096", "-N", "", "-f", f];
        let o = ox(dir.path(), &args(if i % 2 == 0 { "o1" } else { "o2" }));
        let _ = std::fs::remove_file(dir.path().join("o1"));
        let _ = std::fs::remove_file(dir.path().join("o2"));
        ours.push(o.elapsed);
        let t = ssh(dir.path(), &args("t1"));
        let _ = std::fs::remove_file(dir.path().join("t1"));
        theirs.push(t.elapsed);
    }
    println!(
        "rsa 4096 generation, median of 5: oxssh-keygen {:?}, ssh-keygen {:?}\n  ours {:?}\n  theirs {:?}",
        median(ours.clone()),
        median(theirs.clone()),
        ours,
        theirs
    );
}
