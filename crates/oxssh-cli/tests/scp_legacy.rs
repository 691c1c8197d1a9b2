//! The legacy SCP protocol (`-O`): `oxscp -O` against OpenSSH's sshd (which runs the
//! system `scp -t`/`scp -f`) and oxsshd, up and back with `-r -p`, compared with what
//! OpenSSH's `scp -O` does with the same files (contents, modes, times, messages, exit
//! codes); copies between two remote paths through this host as `scp -O` makes them;
//! and OpenSSH's `scp -O` against oxsshd.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::sftp::oxscp;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use support::openssh::{sshd_opts, Fixture};
use support::sftp::{
    assert_copies_alike, assert_same_tree, awkward_tree, client, modes, random_file, sha256,
    RemoteDir, TRANSFER_TIMEOUT,
};
use support::users::TEST_USER;
use support::{require_peer, run, Output};

/// `program -O args...` from `cwd`, set up as the other transfer tests.
fn scp(program: &str, f: &Fixture, cwd: &Path, args: &[String]) -> Output {
    let mut cmd = client(program, f);
    cmd.current_dir(cwd).arg("-O").args(args);
    run(&mut cmd, b"", TRANSFER_TIMEOUT)
}

fn mtime(path: &Path) -> i64 {
    std::fs::metadata(path).unwrap().mtime()
}

/// Uploads a file and a tree with `-rp`, downloads them back, with `program`; returns
/// the local directory (with `back/`) and the remote one.
fn round_trip(program: &str, f: &Fixture, tag: &str) -> (tempfile::TempDir, RemoteDir) {
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new(tag);
    random_file(&local.path().join("file"), 9 << 20, 43);
    std::fs::set_permissions(
        local.path().join("file"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    awkward_tree(&local.path().join("tree"), 120);
    // Old times, so -p is visible.
    let _ = run(
        std::process::Command::new("touch")
            .args(["-d", "2001-02-03 04:05:06"])
            .arg(local.path().join("file")),
        b"",
        TRANSFER_TIMEOUT,
    );
    let target = format!("{TEST_USER}@127.0.0.1:{}/", remote.path().display());
    let out = scp(
        program,
        f,
        local.path(),
        &["-rp".into(), "file".into(), "tree".into(), target.clone()],
    );
    assert_eq!(
        out.code(),
        Some(0),
        "{program}: {}\n{}",
        out.stderr,
        f.peer.log()
    );
    std::fs::create_dir(local.path().join("back")).unwrap();
    let out = scp(
        program,
        f,
        local.path(),
        &[
            "-rp".into(),
            format!("{target}tree"),
            format!("{target}file"),
            "back".into(),
        ],
    );
    assert_eq!(out.code(), Some(0), "{program}: {}", out.stderr);
    let file = local.path().join("file");
    for copy in [remote.path().join("file"), local.path().join("back/file")] {
        assert_eq!(sha256(&file), sha256(&copy), "{program}");
        assert_eq!(mtime(&file), mtime(&copy), "{program}: -p times");
        assert_eq!(
            std::fs::metadata(&copy).unwrap().mode() & 0o7777,
            0o640,
            "{program}"
        );
    }
    assert_same_tree(&local.path().join("tree"), &remote.path().join("tree"));
    assert_same_tree(&local.path().join("tree"), &local.path().join("back/tree"));
    assert_eq!(
        modes(&local.path().join("tree")),
        modes(&local.path().join("back/tree")),
        "{program}"
    );
    (local, remote)
}

#[test]
fn oxscp_legacy_copies_like_openssh_scp_legacy_with_openssh_sshd() {
    if !require_peer("scp") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let (ours_local, ours_remote) = round_trip(&oxscp(), &f, "legacy-ox");
    let (theirs_local, theirs_remote) = round_trip("scp", &f, "legacy-openssh");
    // What lands on each side is the same as with OpenSSH's scp -O.
    assert_eq!(modes(ours_remote.path()), modes(theirs_remote.path()));
    assert_eq!(
        modes(&ours_local.path().join("back")),
        modes(&theirs_local.path().join("back"))
    );
}

#[test]
fn oxscp_legacy_copies_files_and_trees_with_oxsshd() {
    if !require_peer("scp") {
        return;
    }
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    round_trip(&oxscp(), &f, "legacy-ox-oxsshd");
}

#[test]
fn openssh_scp_legacy_works_against_oxsshd() {
    if !require_peer("scp") {
        return;
    }
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    round_trip("scp", &f, "legacy-openssh-oxsshd");
}

#[test]
fn oxscp_legacy_messages_and_exit_codes_match_openssh_scp() {
    if !require_peer("scp") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("legacy-errors");
    std::fs::create_dir(local.path().join("d")).unwrap();
    std::fs::write(local.path().join("a"), b"x").unwrap();
    std::fs::create_dir(remote.path().join("rd")).unwrap();
    std::fs::write(remote.path().join("rf"), b"remote\n").unwrap();
    std::fs::write(remote.path().join("rd/inner"), b"inner\n").unwrap();
    let r = format!("{TEST_USER}@127.0.0.1:{}", remote.path().display());
    let cases = [
        vec![format!("{r}/nope"), ".".to_owned()],
        vec!["nope".to_owned(), format!("{r}/x")],
        vec!["d".to_owned(), format!("{r}/x")],
        vec![format!("{r}/rd"), ".".to_owned()],
        vec!["a".to_owned(), format!("{r}/missing/a2")],
        vec!["a".to_owned(), format!("{r}/a2")],
        // A local file that cannot be created (its "directory" is a file).
        vec![format!("{r}/rf"), "a/x".to_owned()],
        // The remote sends the directory as ".", which scp 9.2's sink refuses.
        vec!["-r".to_owned(), format!("{r}/rd/."), "got".to_owned()],
    ];
    for case in cases {
        let _ = std::fs::remove_dir_all(local.path().join("got"));
        let run_one = |program: &str| {
            let out = scp(program, &f, local.path(), &case);
            let _ = std::fs::remove_file(remote.path().join("a2"));
            let stderr: Vec<String> = out
                .stderr
                .replace('\r', "")
                .lines()
                .filter(|l| !l.starts_with("Warning: Permanently added"))
                .map(str::to_owned)
                .collect();
            (out.code(), out.stdout, stderr)
        };
        let theirs = run_one("scp");
        let theirs_got = std::fs::read(local.path().join("got/inner")).ok();
        let _ = std::fs::remove_dir_all(local.path().join("got"));
        let ours = run_one(&oxscp());
        assert_eq!(ours, theirs, "{case:?}");
        let ours_got = std::fs::read(local.path().join("got/inner")).ok();
        assert_eq!(ours_got, theirs_got, "{case:?}");
    }
}

/// Remote to remote with `-O`: the two remote scps (`scp -f` on the source's host, `scp
/// -t` on the target's) talk through this host, as with OpenSSH's `scp -O` (`-3`, its
/// default): the same tree, file and modes arrive; a missing source gets scp's status
/// (and its silence).
#[test]
fn oxscp_legacy_copies_between_remote_hosts_through_this_host_as_openssh_scp() {
    if !require_peer("scp") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("legacy-3");
    awkward_tree(&remote.path().join("tree"), 40);
    random_file(&remote.path().join("file"), 3 << 20, 5);
    // The user's own files (the tree's modes would hide root's from them).
    support::sftp::chown_to_test_user(remote.path());
    let r = format!("{TEST_USER}@127.0.0.1:{}", remote.path().display());
    for (program, copy) in [(oxscp(), "ours"), ("scp".to_owned(), "theirs")] {
        let tree = ["-rp".to_owned(), format!("{r}/tree"), format!("{r}/{copy}")];
        let out = scp(&program, &f, local.path(), &tree);
        assert_eq!(out.code(), Some(0), "{program}: {}", out.stderr);
        let file = [format!("{r}/file"), format!("{r}/{copy}-file")];
        let out = scp(&program, &f, local.path(), &file);
        assert_eq!(out.code(), Some(0), "{program}: {}", out.stderr);
    }
    assert_copies_alike(remote.path());
    let file = sha256(&remote.path().join("file"));
    assert_eq!(sha256(&remote.path().join("ours-file")), file);
    assert_eq!(sha256(&remote.path().join("theirs-file")), file);
    let missing = [format!("{r}/nope"), format!("{r}/x")];
    let said = |program: &str| {
        let out = scp(program, &f, local.path(), &missing);
        let stderr = out.stderr.replace('\r', "");
        (out.code(), stderr)
    };
    let theirs = said("scp");
    assert_eq!(said(&oxscp()), theirs);
    // The error reaches only the target's `scp -t`, which, being remote, says nothing.
    assert_eq!(theirs.0, Some(1), "{theirs:?}");
}
