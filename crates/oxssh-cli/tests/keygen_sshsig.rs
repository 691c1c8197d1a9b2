//! `oxssh-keygen -Y` (SSHSIG) against OpenSSH's `ssh-keygen -Y`: signatures made by
//! either verify with the other; deterministic signatures (Ed25519, RSA) are
//! byte-identical; every verify, check-novalidate and find-principals run prints the
//! same bytes and exits alike, good or bad (tampered data, wrong namespace, unknown
//! identity, allowed_signers options and malformed lines); and git signs a commit with
//! `oxssh-keygen` as its `gpg.ssh.program` and verifies it with it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::Path;
use std::process::Command;

use support::keygen::{assert_same, run_in, OXSSH_KEYGEN};
use support::require_peer;
use tempfile::TempDir;

/// Key files made by ssh-keygen: (file, `-t`, `-b`).
const KEYS: [(&str, &str, &str); 5] = [
    ("ed", "ed25519", ""),
    ("p256", "ecdsa", "256"),
    ("p384", "ecdsa", "384"),
    ("p521", "ecdsa", "521"),
    ("rsa", "rsa", "2048"),
];

const MESSAGE: &[u8] = b"tree 1234\nauthor me\n\nA commit message\n";

fn ssh_keygen(dir: &Path, args: &[&str], stdin: &[u8]) -> support::Output {
    run_in(dir, "ssh-keygen", args, stdin)
}

fn ox(dir: &Path, args: &[&str], stdin: &[u8]) -> support::Output {
    run_in(dir, OXSSH_KEYGEN, args, stdin)
}

/// A directory with the keys, the message, and an allowed_signers file naming each key
/// `FILE@example.com`.
/// `out` with the time after each "verify time " (`YYYY-MM-DDTHH:MM:SS`) as `NOW`.
fn masked_now(mut out: support::Output) -> support::Output {
    let mask = |text: &str| {
        let mut rest = text;
        let mut masked = String::new();
        while let Some(at) = rest.find("verify time ") {
            let (head, tail) = rest.split_at(at + "verify time ".len());
            masked.push_str(head);
            masked.push_str("NOW");
            rest = tail.get(19..).unwrap_or_default();
        }
        masked + rest
    };
    out.stdout = mask(&out.stdout);
    out.stderr = mask(&out.stderr);
    out
}

fn setup() -> TempDir {
    let dir = TempDir::new().unwrap();
    let mut allowed = String::new();
    for (file, t, b) in KEYS {
        let mut args = vec!["-q", "-t", t, "-N", "", "-C", "", "-f", file];
        if !b.is_empty() {
            args.extend(["-b", b]);
        }
        assert!(ssh_keygen(dir.path(), &args, b"").status.success());
        let public = std::fs::read_to_string(dir.path().join(format!("{file}.pub"))).unwrap();
        allowed.push_str(&format!("{file}@example.com {public}"));
    }
    std::fs::write(dir.path().join("allowed"), allowed).unwrap();
    std::fs::write(dir.path().join("msg"), MESSAGE).unwrap();
    dir
}

#[test]
fn signatures_made_by_either_tool_verify_with_both_and_print_the_same_lines() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = setup();
    let d = dir.path();
    for (file, t, _) in KEYS {
        let ours = ox(d, &["-Y", "sign", "-f", file, "-n", "git"], MESSAGE);
        assert!(ours.status.success(), "{file}: {}", ours.stderr);
        assert_eq!(ours.stderr, "Signing data on standard input\n");
        let theirs = ssh_keygen(d, &["-Y", "sign", "-f", file, "-n", "git"], MESSAGE);
        assert!(theirs.status.success(), "{file}: {}", theirs.stderr);
        if t != "ecdsa" {
            // Ed25519 and RSA PKCS#1 v1.5 signatures are deterministic.
            assert_eq!(ours.stdout, theirs.stdout, "{file}: same signature bytes");
        }
        for (who, sig) in [("ours", &ours.stdout), ("theirs", &theirs.stdout)] {
            std::fs::write(d.join("s.sig"), sig).unwrap();
            let identity = format!("{file}@example.com");
            let verify = [
                "-Y", "verify", "-f", "allowed", "-I", &identity, "-n", "git", "-s", "s.sig",
            ];
            let a = ox(d, &verify, MESSAGE);
            let b = ssh_keygen(d, &verify, MESSAGE);
            assert!(b.status.success(), "{file} {who}: {}", b.stdout);
            assert_same(&a, &b, &format!("-Y verify of {who} {file} signature"));
            let check = ["-Y", "check-novalidate", "-n", "git", "-s", "s.sig"];
            assert_same(
                &ox(d, &check, MESSAGE),
                &ssh_keygen(d, &check, MESSAGE),
                &format!("-Y check-novalidate of {who} {file} signature"),
            );
            let find = ["-Y", "find-principals", "-f", "allowed", "-s", "s.sig"];
            let a = ox(d, &find, b"");
            assert_eq!(a.stdout, format!("{identity}\n"));
            assert_same(&a, &ssh_keygen(d, &find, b""), "-Y find-principals");
        }
    }
}

#[test]
fn signing_files_writes_dot_sig_like_ssh_keygen_and_asks_before_overwriting() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = setup();
    let d = dir.path();
    std::fs::copy(d.join("msg"), d.join("msg2")).unwrap();
    let ours = ox(d, &["-Y", "sign", "-f", "ed", "-n", "file", "msg"], b"");
    assert_eq!(
        ours.stderr,
        "Signing file msg\nWrite signature to msg.sig\n"
    );
    let our_sig = std::fs::read(d.join("msg.sig")).unwrap();
    let theirs = ssh_keygen(
        d,
        &["-Y", "sign", "-f", "ed.pub", "-n", "file", "msg2"],
        b"",
    );
    assert!(theirs.status.success());
    assert_eq!(our_sig, std::fs::read(d.join("msg2.sig")).unwrap());
    // Overwriting: both ask on stdout, and "n" keeps the old file.
    let args = ["-Y", "sign", "-f", "ed", "-n", "other", "msg"];
    let a = ox(d, &args, b"n\n");
    let b = ssh_keygen(d, &args, b"n\n");
    assert_same(&a, &b, "declined overwrite");
    assert_eq!(std::fs::read(d.join("msg.sig")).unwrap(), our_sig);
    // -q prints nothing.
    let a = ox(
        d,
        &["-q", "-Y", "sign", "-f", "ed", "-n", "file", "msg"],
        b"y\n",
    );
    assert_eq!(a.stderr, "");
    // Missing namespace, key, input file and key file: same messages and statuses.
    for args in [
        &["-Y", "sign", "-f", "ed", "msg"][..],
        &["-Y", "sign", "-n", "file", "msg"],
        &["-Y", "sign", "-f", "ed", "-n", "file", "nofile"],
        &["-Y", "sign", "-f", "nokey", "-n", "file", "msg"],
        &[
            "-Y", "verify", "-f", "allowed", "-n", "git", "-s", "msg.sig",
        ],
        &["-Y", "verify", "-I", "x", "-n", "git", "-s", "msg.sig"],
        &["-Y", "check-novalidate", "-s", "msg.sig"],
        &["-Y", "find-principals", "-s", "msg.sig"],
    ] {
        assert_same(
            &ox(d, args, b""),
            &ssh_keygen(d, args, b""),
            &args.join(" "),
        );
    }
    // -O hashalg= picks the message hash; other options are refused as ssh-keygen does.
    for option in ["hashalg=sha256", "hashalg=sha512", "hashalg=md5", "bogus"] {
        let args = ["-Y", "sign", "-f", "ed", "-n", "file", "-O", option];
        assert_same(
            &ox(d, &args, MESSAGE),
            &ssh_keygen(d, &args, MESSAGE),
            option,
        );
    }
    for op in [
        &["-Y", "check-novalidate", "-n", "file", "-s", "msg.sig"][..],
        &["-Y", "find-principals", "-f", "allowed", "-s", "msg.sig"],
    ] {
        for option in ["verify-time=x", "bogus"] {
            let mut args = op.to_vec();
            args.extend(["-O", option]);
            assert_same(
                &ox(d, &args, MESSAGE),
                &ssh_keygen(d, &args, MESSAGE),
                &args.join(" "),
            );
        }
    }
    let bogus = ox(d, &["-Y", "bogus"], b"");
    assert_eq!(bogus.code(), Some(1));
    assert!(bogus
        .stderr
        .starts_with("Unsupported operation for -Y: \"bogus\"\r\n"));
}

#[test]
fn bad_signatures_fail_with_ssh_keygen_messages_and_exit_255() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = setup();
    let d = dir.path();
    let sig = ox(d, &["-Y", "sign", "-f", "rsa", "-n", "git"], MESSAGE).stdout;
    std::fs::write(d.join("s.sig"), &sig).unwrap();
    std::fs::write(d.join("garbage.sig"), "garbage\n").unwrap();
    let tampered: &[u8] = b"tree 1234\nauthor eve\n\nA commit message\n";
    let cases: [(&[&str], &[u8]); 8] = [
        (
            &["-I", "rsa@example.com", "-n", "git", "-s", "s.sig"],
            tampered,
        ),
        (
            &["-I", "rsa@example.com", "-n", "email", "-s", "s.sig"],
            MESSAGE,
        ),
        (
            &["-I", "ed@example.com", "-n", "git", "-s", "s.sig"],
            MESSAGE,
        ),
        (&["-I", "nobody", "-n", "git", "-s", "s.sig"], MESSAGE),
        (
            &["-I", "rsa@example.com", "-n", "git", "-s", "nosig"],
            MESSAGE,
        ),
        (
            &["-I", "rsa@example.com", "-n", "git", "-s", "garbage.sig"],
            MESSAGE,
        ),
        (
            &[
                "-I",
                "rsa@example.com",
                "-n",
                "git",
                "-s",
                "s.sig",
                "-f",
                "missing",
            ],
            MESSAGE,
        ),
        (
            &["-q", "-I", "rsa@example.com", "-n", "git", "-s", "s.sig"],
            tampered,
        ),
    ];
    for (extra, stdin) in cases {
        let mut args = vec!["-Y", "verify", "-f", "allowed"];
        args.extend_from_slice(extra);
        let a = ox(d, &args, stdin);
        assert_eq!(a.code(), Some(255), "{args:?}");
        assert_same(&a, &ssh_keygen(d, &args, stdin), &args.join(" "));
    }
    for (ns, stdin) in [("git", tampered), ("email", MESSAGE)] {
        let args = ["-Y", "check-novalidate", "-n", ns, "-s", "s.sig"];
        let a = ox(d, &args, stdin);
        assert_eq!(a.code(), Some(255));
        assert_same(&a, &ssh_keygen(d, &args, stdin), &args.join(" "));
    }
}

#[test]
fn allowed_signers_patterns_options_and_bad_lines_match_ssh_keygen() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = setup();
    let d = dir.path();
    let key = std::fs::read_to_string(d.join("ed.pub")).unwrap();
    let key = key.trim_end();
    let sig = ox(d, &["-Y", "sign", "-f", "ed", "-n", "git"], MESSAGE).stdout;
    std::fs::write(d.join("s.sig"), sig).unwrap();
    let files = [
        format!("# comment\n\n*@example.com,!bad@example.com {key}\n"),
        format!("a,b namespaces=\"file,g*\" {key}\n"),
        format!("a namespaces=\"file\" {key}\n"),
        format!("a valid-after=\"20200101\",valid-before=\"20991231235959Z\" {key}\n"),
        format!("a valid-before=\"20200101\" {key}\n"),
        format!("a valid-after=\"20990101\" {key}\n"),
        format!("a valid-before=20200101 {key}\n"),
        format!("a bogus {key}\n"),
        format!("garbage line\nlonely\na {key}\n"),
        format!("a namespaces=\"git\" valid-after=\"1\" {key}\n"),
        format!("a cert-authority {key}\n"),
    ];
    for (i, text) in files.iter().enumerate() {
        let name = format!("allowed{i}");
        std::fs::write(d.join(&name), text).unwrap();
        // git passes the commit time as -O verify-time.
        for time in ["", "verify-time=20220101", "verify-time=21000101Z"] {
            for identity in ["a", "me@example.com", "bad@example.com"] {
                let mut args = vec![
                    "-Y", "verify", "-f", &name, "-I", identity, "-n", "git", "-s", "s.sig",
                ];
                if !time.is_empty() {
                    args.extend(["-O", time]);
                }
                // Without -O verify-time each reads the clock, which may tick between
                // the two runs: the time it prints is masked then.
                let clocked = |out: support::Output| {
                    if time.is_empty() {
                        masked_now(out)
                    } else {
                        out
                    }
                };
                assert_same(
                    &clocked(ox(d, &args, MESSAGE)),
                    &clocked(ssh_keygen(d, &args, MESSAGE)),
                    &format!("{text} for {identity} {time}"),
                );
            }
            let mut args = vec!["-Y", "find-principals", "-f", &name, "-s", "s.sig"];
            if !time.is_empty() {
                args.extend(["-O", time]);
            }
            assert_same(
                &ox(d, &args, b""),
                &ssh_keygen(d, &args, b""),
                &format!("find-principals in {text} {time}"),
            );
        }
    }
}

/// git with `gpg.format=ssh` runs `PROGRAM -Y sign -n git -f KEY FILE` and
/// `PROGRAM -Y verify -n git -f ALLOWED -I ID -s SIG` (and `find-principals`).
#[test]
fn git_signs_and_verifies_commits_with_oxssh_keygen() {
    if !require_peer("ssh-keygen") || !require_peer("git") {
        return;
    }
    let dir = setup();
    let d = dir.path();
    let repo = d.join("repo");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "gpg.format=ssh"])
            .args(["-c", &format!("gpg.ssh.program={OXSSH_KEYGEN}")])
            .args(["-c", &format!("user.signingkey={}", d.join("ed").display())])
            .args([
                "-c",
                &format!("gpg.ssh.allowedSignersFile={}", d.join("allowed").display()),
            ])
            .args(["-c", "user.name=Test", "-c", "user.email=ed@example.com"])
            .args(args)
            .current_dir(&repo)
            .env("HOME", d)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    std::fs::create_dir(&repo).unwrap();
    assert!(git(&["init", "-q"]).0);
    std::fs::write(repo.join("f"), "content\n").unwrap();
    assert!(git(&["add", "f"]).0);
    let (ok, out) = git(&["commit", "-q", "-S", "-m", "signed"]);
    assert!(ok, "commit -S: {out}");
    let (ok, out) = git(&["verify-commit", "-v", "HEAD"]);
    assert!(ok, "verify-commit: {out}");
    assert!(
        out.contains("Good \"git\" signature for ed@example.com with ED25519 key SHA256:"),
        "{out}"
    );
    // The same commit verifies with OpenSSH's ssh-keygen as the program.
    let out = Command::new("git")
        .args(["-c", "gpg.ssh.program=ssh-keygen"])
        .args([
            "-c",
            &format!("gpg.ssh.allowedSignersFile={}", d.join("allowed").display()),
        ])
        .args(["verify-commit", "HEAD"])
        .current_dir(&repo)
        .env("HOME", d)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn match_principals_prints_the_matching_lines_as_ssh_keygen() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = setup();
    let d = dir.path();
    let public = |f: &str| std::fs::read_to_string(d.join(format!("{f}.pub"))).unwrap();
    let allowed = format!(
        "alice,bob@x.org {}*@example.com namespaces=\"git\" {}# comment\n\ncarol,alice cert-authority {}",
        public("ed"),
        public("p256"),
        public("rsa")
    );
    std::fs::write(d.join("allowed"), allowed).unwrap();
    std::fs::write(
        d.join("bad"),
        "zed ssh-ed25519 nothing-like-a-key\nalice x\n",
    )
    .unwrap();
    for args in [
        &["-Y", "match-principals", "-I", "alice", "-f", "allowed"][..],
        &[
            "-Y",
            "match-principals",
            "-I",
            "zed@example.com",
            "-f",
            "allowed",
        ],
        &["-Y", "match-principals", "-I", "nobody", "-f", "allowed"],
        &["-Y", "match-principals", "-I", "alice", "-f", "bad"],
        &["-Y", "match-principals", "-I", "zed", "-f", "bad"],
        &["-Y", "match-principals", "-I", "alice", "-f", "nofile"],
        &["-Y", "match-principals", "-f", "allowed"],
        &["-Y", "match-principals", "-I", "alice"],
    ] {
        let theirs = ssh_keygen(d, args, b"");
        assert_same(&ox(d, args, b""), &theirs, &args.join(" "));
        if args[3..] == ["alice", "-f", "allowed"] {
            assert_eq!(theirs.stdout, "alice,bob@x.org\ncarol,alice\n");
        }
    }
}
