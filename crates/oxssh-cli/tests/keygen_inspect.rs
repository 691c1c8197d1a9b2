//! `oxssh-keygen -l/-p/-c/-F/-R/-H/-A` next to OpenSSH's `ssh-keygen` on the same files:
//! stdout, stderr and exit status equal byte for byte (our program name aside), and the
//! files left behind equal (or, for hashing, equivalent: the salts are random).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::Path;

use support::keygen::{assert_same, mode, ox, ssh};
use support::require_peer;
use tempfile::TempDir;

/// Key files made by ssh-keygen in `dir`: plain and encrypted keys of each type.
fn make_keys(dir: &Path) {
    for (name, t, pass, comment) in [
        ("ed", "ed25519", "", "ed@host"),
        ("ec", "ecdsa", "", "ec@host"),
        ("rsa", "rsa", "", ""),
        ("enc", "ed25519", "pw", "enc@host"),
    ] {
        let mut args = vec!["-q", "-t", t, "-f", name, "-N", pass, "-C", comment];
        if t == "rsa" {
            args.extend(["-b", "2048"]);
        }
        let out = ssh(dir, &args);
        assert!(out.status.success(), "{name}: {}", out.stderr);
    }
}

fn pub_key(dir: &Path, name: &str) -> String {
    let line = std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
    line.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

#[test]
fn fingerprints_equal_ssh_keygen_s_for_every_kind_of_file() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    make_keys(d);
    let (ed, ec, rsa) = (pub_key(d, "ed"), pub_key(d, "ec"), pub_key(d, "rsa"));
    std::fs::write(
        d.join("authorized_keys"),
        format!(
            "# comment\n  {ed}\n{ed} me@laptop\n\ncommand=\"echo hi there\",no-pty {ec} from opts\n\
             from=\"10.0.0.1\" {rsa}\nx  {ed}\n{ed}  two  spaces \ngarbage line\n"
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("known_hosts"),
        format!(
            "host1,10.0.0.1 {ed}\n[host2]:2222 {ec} trailing comment\n\
             @cert-authority *.example {rsa}\n|1|JfKTdBh7rNbXkVAQCRp4OQoPfmI=|USECr3SWf1JUPsms5AqfD5QfxkM= {ed}\n"
        ),
    )
    .unwrap();
    // (A key line without a comment after one with options is left out: ssh-keygen 9.2
    // then prints a stale comment pointer, the whole line.)
    // A private key without its .pub: the comment comes from the key itself, or is
    // missing when the key is encrypted.
    for name in ["ed", "enc", "rsa"] {
        std::fs::copy(d.join(name), d.join(format!("{name}_alone"))).unwrap();
    }
    let files = [
        "ed",
        "ec",
        "rsa",
        "enc",
        "ed.pub",
        "rsa.pub",
        "ed_alone",
        "enc_alone",
        "rsa_alone",
        "authorized_keys",
        "known_hosts",
        "missing",
    ];
    for file in files {
        for flags in [
            &["-l"][..],
            &["-l", "-E", "md5"],
            &["-lv"],
            &["-lv", "-E", "md5"],
            &["-l", "-E", "SHA256"],
        ] {
            let mut args = flags.to_vec();
            args.extend(["-f", file]);
            assert_same(&ox(d, &args), &ssh(d, &args), &args.join(" "));
        }
    }
}

#[test]
fn change_passphrase_and_comment_as_ssh_keygen() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let theirs_dir = TempDir::new().unwrap();
    let ours_dir = TempDir::new().unwrap();
    make_keys(theirs_dir.path());
    for name in ["ed", "ed.pub", "enc", "enc.pub", "rsa", "rsa.pub"] {
        std::fs::copy(theirs_dir.path().join(name), ours_dir.path().join(name)).unwrap();
    }
    let steps: [&[&str]; 6] = [
        &["-p", "-f", "ed", "-N", "new pass"],
        &["-p", "-f", "enc", "-P", "pw", "-N", ""],
        &["-c", "-f", "rsa", "-C", "now named"],
        &["-c", "-f", "ed", "-P", "new pass", "-C", ""],
        &["-c", "-f", "enc", "-C", "enc@host"],
        &["-c", "-f", "missing", "-C", "x"],
    ];
    for args in steps {
        let ours = ox(ours_dir.path(), args);
        let theirs = ssh(theirs_dir.path(), args);
        assert_same(&ours, &theirs, &args.join(" "));
    }
    for name in ["ed", "enc", "rsa"] {
        assert_eq!(mode(&ours_dir.path().join(name)), 0o600);
        let pubs = |d: &Path| std::fs::read_to_string(d.join(format!("{name}.pub"))).unwrap();
        assert_eq!(pubs(ours_dir.path()), pubs(theirs_dir.path()), "{name}.pub");
        // The keys we rewrote open in ssh-keygen with the new passphrase.
        let pass = if name == "ed" { "new pass" } else { "" };
        let ours = ssh(ours_dir.path(), &["-y", "-P", pass, "-f", name]);
        let theirs = ssh(theirs_dir.path(), &["-y", "-P", pass, "-f", name]);
        assert_eq!(ours.stdout, theirs.stdout, "{name}: {}", ours.stderr);
        assert!(ours.status.success());
    }
}

fn known_hosts(dir: &Path) -> String {
    make_keys(dir);
    let (ed, ec, rsa) = (pub_key(dir, "ed"), pub_key(dir, "ec"), pub_key(dir, "rsa"));
    format!(
        "# my hosts\nhost1,Host2 {ed} c1\n[host1]:2222 {ec}\n*.wild {ed}\n\
         @cert-authority host1 {rsa}\n@revoked host3 {ec}\n\nhost3 {rsa}\nhost1 {ec}\n"
    )
}

#[test]
fn find_and_remove_hosts_as_ssh_keygen() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let ours = TempDir::new().unwrap();
    let theirs = TempDir::new().unwrap();
    let text = known_hosts(theirs.path());
    for d in [ours.path(), theirs.path()] {
        std::fs::write(d.join("kh"), &text).unwrap();
    }
    let finds: [&[&str]; 8] = [
        &["-F", "host1", "-f", "kh"],
        &["-F", "HOST2", "-f", "kh"],
        &["-F", "[host1]:2222", "-f", "kh"],
        &["-F", "x.wild", "-f", "kh"],
        &["-F", "nope", "-f", "kh"],
        &["-lF", "host1", "-f", "kh"],
        &["-lvF", "host3", "-f", "kh", "-E", "md5"],
        &["-qF", "host3", "-f", "kh"],
    ];
    for args in finds {
        assert_same(
            &ox(ours.path(), args),
            &ssh(theirs.path(), args),
            &args.join(" "),
        );
    }
    let removes: [&[&str]; 4] = [
        &["-R", "host1", "-f", "kh"],
        &["-R", "nope", "-f", "kh"],
        &["-R", "host3", "-f", "kh"],
        &["-R", "host1", "-f", "missing"],
    ];
    for args in removes {
        assert_same(
            &ox(ours.path(), args),
            &ssh(theirs.path(), args),
            &args.join(" "),
        );
        for file in ["kh", "kh.old"] {
            let read = |d: &Path| std::fs::read(d.join(file)).ok();
            assert_eq!(
                read(ours.path()),
                read(theirs.path()),
                "{file} after {args:?}"
            );
        }
    }
}

#[test]
fn hashing_known_hosts_matches_ssh_keygen() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let ours = TempDir::new().unwrap();
    let theirs = TempDir::new().unwrap();
    let text = known_hosts(theirs.path());
    for d in [ours.path(), theirs.path()] {
        std::fs::write(d.join("kh"), &text).unwrap();
    }
    let args = ["-H", "-f", "kh"];
    assert_same(&ox(ours.path(), &args), &ssh(theirs.path(), &args), "-H");
    let read = |d: &Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(read(ours.path(), "kh.old"), text);
    let (a, b) = (read(ours.path(), "kh"), read(theirs.path(), "kh"));
    assert_eq!(a.lines().count(), b.lines().count());
    assert!(!a.contains("host1,") && !a.contains("\nhost3"));
    // Every name is still found, by both programs, on the same lines.
    for host in ["host1", "host2", "[host1]:2222", "host3", "x.wild", "nope"] {
        let find = ["-F", host, "-f", "kh"];
        let theirs_on_ours = ssh(ours.path(), &find);
        let theirs_on_theirs = ssh(theirs.path(), &find);
        let headers = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            headers(&theirs_on_ours.stdout),
            headers(&theirs_on_theirs.stdout),
            "{host}"
        );
        assert_eq!(
            ox(ours.path(), &find).stdout,
            theirs_on_ours.stdout,
            "{host}"
        );
    }
}

#[test]
fn host_keys_under_a_prefix_as_ssh_keygen() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let ours = TempDir::new().unwrap();
    let theirs = TempDir::new().unwrap();
    for d in [ours.path(), theirs.path()] {
        std::fs::create_dir_all(d.join("etc/ssh")).unwrap();
        // An existing key is kept; an empty file is replaced.
        std::fs::write(d.join("etc/ssh/ssh_host_ecdsa_key"), "keep").unwrap();
        std::fs::write(d.join("etc/ssh/ssh_host_ed25519_key"), "").unwrap();
    }
    let run = |d: &Path, f: fn(&Path, &[&str]) -> support::Output| {
        let prefix = d.to_str().unwrap().to_owned();
        f(d, &["-A", "-f", &prefix])
    };
    let (o, t) = (run(ours.path(), ox), run(theirs.path(), ssh));
    assert_same(&o, &t, "-A");
    assert_eq!(
        o.stdout,
        "oxssh-keygen: generating new host keys: RSA ED25519 \n"
    );
    assert_same(&run(ours.path(), ox), &run(theirs.path(), ssh), "-A again");
    for name in ["ssh_host_rsa_key", "ssh_host_ed25519_key"] {
        let path = ours.path().join("etc/ssh").join(name);
        assert_eq!(mode(&path), 0o600);
        let l = ssh(ours.path(), &["-l", "-f", path.to_str().unwrap()]);
        assert!(l.status.success(), "{name}: {}", l.stderr);
    }
    let kept = std::fs::read(ours.path().join("etc/ssh/ssh_host_ecdsa_key")).unwrap();
    assert_eq!(kept, b"keep");
}
