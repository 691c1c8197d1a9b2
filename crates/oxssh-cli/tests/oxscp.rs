//! `oxscp` (SFTP mode) against OpenSSH's sshd and oxsshd's `internal-sftp`: a big file
//! and a tree of awkward names up and back with `-r -p`, byte for byte with modes; a
//! missing source fails with status 1; `-A` with `-O` is refused by name; copies between two
//! remote paths go through this host (`-3`, the default) as with OpenSSH's `scp`, and
//! local-to-local ones through cp, as scp makes them. (`-O`, the legacy
//! protocol: `scp_legacy.rs`.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::sftp::oxscp;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::openssh::{sshd_opts, Fixture};
use support::sftp::{
    assert_copies_alike, assert_same_tree, awkward_tree, client, modes, random_file, sha256,
    RemoteDir, TRANSFER_TIMEOUT,
};
use support::users::TEST_USER;
use support::{run, Output};

fn scp(f: &Fixture, cwd: &Path, args: &[String]) -> Output {
    let mut cmd = client(&oxscp(), f);
    cmd.current_dir(cwd).args(args);
    run(&mut cmd, b"", TRANSFER_TIMEOUT)
}

fn round_trip(f: &Fixture, tag: &str) {
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new(tag);
    random_file(&local.path().join("file"), 21 << 20, 41);
    awkward_tree(&local.path().join("tree"), 200);
    let target = format!("{TEST_USER}@127.0.0.1:{}/", remote.path().display());
    let out = scp(
        f,
        local.path(),
        &[
            "-r".into(),
            "-p".into(),
            "file".into(),
            "tree".into(),
            target.clone(),
        ],
    );
    assert_eq!(out.code(), Some(0), "{}\n{}", out.stderr, f.peer.log());
    std::fs::create_dir(local.path().join("back")).unwrap();
    let out = scp(
        f,
        local.path(),
        &[
            "-rp".into(),
            format!("{target}tree"),
            format!("{target}file"),
            "back".into(),
        ],
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let file = local.path().join("file");
    assert_eq!(sha256(&file), sha256(&remote.path().join("file")));
    assert_eq!(sha256(&file), sha256(&local.path().join("back/file")));
    assert_same_tree(&local.path().join("tree"), &remote.path().join("tree"));
    assert_same_tree(&local.path().join("tree"), &local.path().join("back/tree"));
    assert_eq!(
        modes(&local.path().join("tree")),
        modes(&local.path().join("back/tree"))
    );
}

#[test]
fn oxscp_copies_files_and_trees_with_openssh_sshd() {
    let Some(f) = Fixture::start(sshd_opts(&["Subsystem sftp /usr/lib/openssh/sftp-server"]))
    else {
        return;
    };
    round_trip(&f, "scp-openssh");
}

#[test]
fn oxscp_copies_files_and_trees_with_internal_sftp() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&["Subsystem sftp internal-sftp"])) else {
        return;
    };
    round_trip(&f, "scp-internal");
}

#[test]
fn oxscp_fails_on_a_missing_source() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&["Subsystem sftp internal-sftp"])) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("scp-missing");
    let source = format!("{TEST_USER}@127.0.0.1:{}/nope", remote.path().display());
    let out = scp(&f, local.path(), &[source, ".".into()]);
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("nope: No such file or directory"),
        "{}",
        out.stderr
    );
}

#[test]
fn oxscp_messages_and_exit_codes_match_openssh_scp() {
    if !support::require_peer("scp") {
        return;
    }
    let Some(sftp_server) = support::sftp::openssh_sftp_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    std::fs::write(dir.path().join("a"), b"x").unwrap();
    let d = dir.path().display();
    let cases = [
        vec![format!("h:{d}/nope"), ".".to_owned()],
        vec!["nope".to_owned(), format!("h:{d}/x")],
        vec!["d".to_owned(), format!("h:{d}/x")],
        vec![format!("h:{d}/d"), ".".to_owned()],
        vec!["a".to_owned(), format!("h:{d}/a2")],
        vec!["a".to_owned(), format!("h:{d}/nodir/x")],
        // -X: applied, or refused with scp's fatal words.
        ["-X", "buffer=1k", "-X", "nrequests=2", "a"]
            .map(str::to_owned)
            .into_iter()
            .chain([format!("h:{d}/a2")])
            .collect(),
        vec![
            "-X".into(),
            "buffer=0".into(),
            "a".into(),
            format!("h:{d}/a2"),
        ],
        vec![
            "-X".into(),
            "buffer=1M".into(),
            "a".into(),
            format!("h:{d}/a2"),
        ],
        vec![
            "-X".into(),
            "nrequests=x".into(),
            "a".into(),
            format!("h:{d}/a2"),
        ],
        vec![
            "-X".into(),
            "nrequests=0".into(),
            "a".into(),
            format!("h:{d}/a2"),
        ],
        vec![
            "-X".into(),
            "color=red".into(),
            "a".into(),
            format!("h:{d}/a2"),
        ],
    ];
    for case in cases {
        let run_one = |program: &str| {
            let mut cmd = std::process::Command::new(program);
            cmd.current_dir(dir.path())
                .args(["-D", sftp_server])
                .args(&case);
            let out = run(&mut cmd, b"", TRANSFER_TIMEOUT);
            let _ = std::fs::remove_file(dir.path().join("a2"));
            (out.code(), out.stdout, out.stderr.replace('\r', ""))
        };
        let theirs = run_one("scp");
        let ours = run_one(&oxscp());
        assert_eq!(ours, theirs, "{case:?}");
    }
}

/// Sources on several hosts, or local ones among remote ones, to a local target: each
/// copied on its own as scp's `tolocal` copies them (a session per remote source, `cp`
/// for a local one), with scp's messages, exit codes and copies. (`-D` serves every
/// "host" from a local sftp-server, for both programs.)
#[test]
fn oxscp_copies_mixed_and_multi_host_sources_as_openssh_scp() {
    if !support::require_peer("scp") {
        return;
    }
    let Some(sftp_server) = support::sftp::openssh_sftp_server() else {
        return;
    };
    let run_all = |program: &str| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        std::fs::write(dir.path().join("a"), b"local\n").unwrap();
        std::fs::write(dir.path().join("b"), b"on h\n").unwrap();
        std::fs::write(dir.path().join("c"), b"on g\n").unwrap();
        for out in ["out", "out2", "out3"] {
            std::fs::create_dir(dir.path().join(out)).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("t/sub")).unwrap();
        std::fs::write(dir.path().join("t/sub/f"), b"deep\n").unwrap();
        let cases: [Vec<String>; 5] = [
            vec![
                "a".into(),
                format!("h:{d}/b"),
                format!("g:{d}/c"),
                "out/".into(),
            ],
            vec![
                "a".into(),
                format!("h:{d}/nope"),
                "missing".into(),
                format!("g:{d}/b"),
                "out2".into(),
            ],
            vec!["a".into(), format!("h:{d}/b"), "nodir/".into()],
            vec![format!("h:{d}/b"), format!("g:{d}/c"), "a".into()],
            vec!["-r".into(), "t".into(), format!("h:{d}/t"), "out3".into()],
        ];
        let said: Vec<(Option<i32>, String)> = cases
            .iter()
            .map(|args| {
                let mut cmd = std::process::Command::new(program);
                cmd.current_dir(dir.path())
                    .args(["-D", sftp_server])
                    .args(args);
                let out = run(&mut cmd, b"", TRANSFER_TIMEOUT);
                (out.code(), out.stderr.replace(&d, "DIR").replace('\r', ""))
            })
            .collect();
        let copied = [
            "out/a",
            "out/b",
            "out/c",
            "out2/a",
            "out2/b",
            "a",
            "out3/t/sub/f",
        ]
        .map(|p| std::fs::read(dir.path().join(p)).ok());
        (said, copied)
    };
    let theirs = run_all("scp");
    assert_eq!(run_all(&oxscp()), theirs);
    assert_eq!(theirs.0[0], (Some(0), String::new()));
    assert_eq!(theirs.1[2].as_deref(), Some(&b"on g\n"[..]));
    assert_eq!(theirs.1[6].as_deref(), Some(&b"deep\n"[..]));
}

/// `-S program`: oxscp runs the program with the arguments scp hands its ssh (the same
/// list, recorded by a wrapper that then runs OpenSSH's ssh), up, back and between two
/// remotes through this host (`-3`, a program per remote), in SFTP mode and with `-O`.
#[test]
fn oxscp_connects_through_an_ssh_program_as_scp_does() {
    if !support::require_peer("scp") || !support::require_peer("ssh") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&["Subsystem sftp /usr/lib/openssh/sftp-server"]))
    else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let wrapper = local.path().join("wrap");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\nprintf '[%s]\\n' \"$@\" >> \"$0.args\"\nexec ssh \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    random_file(&local.path().join("file"), 100_000, 7);
    let remote = RemoteDir::new("scp-dash-s");
    let r = format!("{TEST_USER}@127.0.0.1:{}", remote.path().display());
    let run_one = |program: &str, copy: &str, mode: &[&str]| {
        let _ = std::fs::remove_file(wrapper.with_extension("args"));
        for operands in [
            vec!["file".to_owned(), format!("{r}/{copy}")],
            vec![format!("{r}/{copy}"), format!("{copy}-back")],
            vec![
                "-3".to_owned(),
                format!("{r}/{copy}"),
                format!("{r}/{copy}-3"),
            ],
        ] {
            let mut cmd = client(program, &f);
            cmd.current_dir(local.path())
                .arg("-S")
                .arg(&wrapper)
                .args(["-C", "-q"])
                .args(mode)
                .args(&operands);
            let out = run(&mut cmd, b"", TRANSFER_TIMEOUT);
            assert_eq!(out.code(), Some(0), "{program}: {}", out.stderr);
        }
        let original = sha256(&local.path().join("file"));
        assert_eq!(sha256(&local.path().join(format!("{copy}-back"))), original);
        assert_eq!(sha256(&remote.path().join(format!("{copy}-3"))), original);
        // `-3` starts two programs at once: their lines in the order they ran.
        let said = std::fs::read_to_string(wrapper.with_extension("args")).unwrap();
        let mut runs: Vec<String> = said
            .split("[-x]\n")
            .filter(|r| !r.is_empty())
            .map(|r| format!("[-x]\n{r}"))
            .collect();
        runs.sort_unstable();
        runs.concat()
    };
    let theirs = run_one("scp", "theirs", &[]);
    assert_eq!(run_one(&oxscp(), "ours", &[]), theirs);
    assert!(
        theirs.contains("[-s]\n[--]\n[127.0.0.1]\n[sftp]\n"),
        "{theirs}"
    );
    // The legacy protocol: the remote scp's command after the host.
    let theirs = run_one("scp", "theirs-o", &["-O"]);
    assert_eq!(
        run_one(&oxscp(), "ours-o", &["-O"]),
        theirs.replace("theirs-o", "ours-o")
    );
    assert!(theirs.contains("[127.0.0.1]\n[scp -t "), "{theirs}");
    // A program that copied but then exited with 3: scp's status 1 (sftp's 0).
    let failing = local.path().join("fail3");
    std::fs::write(&failing, "#!/bin/sh\nssh \"$@\"\nexit 3\n").unwrap();
    std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o755)).unwrap();
    let status = |program: &str, copy: &str| {
        let mut cmd = client(program, &f);
        cmd.current_dir(local.path()).arg("-S").arg(&failing).args([
            "-q",
            "file",
            &format!("{r}/{copy}"),
        ]);
        run(&mut cmd, b"", TRANSFER_TIMEOUT).code()
    };
    let theirs = status("scp", "theirs-3");
    assert_eq!(status(&oxscp(), "ours-3"), theirs);
    assert_eq!(theirs, Some(1));
    assert_eq!(
        sha256(&remote.path().join("ours-3")),
        sha256(&local.path().join("file"))
    );
}

/// `-v` with `-S`: before each run of the ssh program, oxscp names it, the host, the
/// user and the remote command in scp's words (a second program, the sink of a legacy
/// copy between remotes, as scp's "2nd program").
#[test]
fn oxscp_dash_v_names_each_ssh_program_run_as_scp_does() {
    if !support::require_peer("scp") {
        return;
    }
    let cases: [&[&str]; 5] = [
        &["/etc/hostname", "h:x"],
        &["u@h:x", "y"],
        &["-3", "u@h:x", "g:y"],
        &["-O", "-3", "u@h:x", "g:y"],
        &["-O", "/etc/hostname", "u@h:x"],
    ];
    let dir = tempfile::tempdir().unwrap();
    let runs = |program: &str| -> Vec<String> {
        cases
            .iter()
            .map(|args| {
                let mut cmd = std::process::Command::new(program);
                cmd.current_dir(dir.path())
                    .args(["-v", "-S", "/bin/false"])
                    .args(*args);
                let out = run(&mut cmd, b"", TRANSFER_TIMEOUT);
                let lines = out.stderr.lines().filter(|l| l.starts_with("Executing"));
                lines.collect::<Vec<_>>().join("\n")
            })
            .collect()
    };
    let theirs = runs("scp");
    assert_eq!(runs(&oxscp()), theirs);
    assert_eq!(
        theirs[3],
        "Executing: program /bin/false host h, user u, command scp -v -f x\n\
         Executing: 2nd program /bin/false host g, user (unspecified), command scp -v -t y"
    );
}

/// With every operand local, oxscp copies with the system's cp as scp does: the same
/// messages, exit codes and copies.
#[test]
fn oxscp_copies_local_files_with_cp_as_openssh_scp() {
    if !support::require_peer("scp") {
        return;
    }
    let cases: [&[&str]; 5] = [
        &["a", "b", "nodir/"],
        &["a", "nodir/"],
        &["-v", "a", "missing", "d/"],
        &["-rp", "d", "d2"],
        &["a", "c"],
    ];
    let run_all = |program: &str| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"hello\n").unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/f"), b"x\n").unwrap();
        let said: Vec<(Option<i32>, String)> = cases
            .iter()
            .map(|args| {
                let mut cmd = std::process::Command::new(program);
                cmd.current_dir(dir.path()).args(*args);
                let out = run(&mut cmd, b"", TRANSFER_TIMEOUT);
                (out.code(), out.stderr)
            })
            .collect();
        let copied = ["d/a", "d2/f", "c"].map(|p| std::fs::read(dir.path().join(p)).ok());
        (said, copied)
    };
    let theirs = run_all("scp");
    assert_eq!(run_all(&oxscp()), theirs);
    assert_eq!(theirs.0[0].0, Some(1), "{:?}", theirs.0);
    assert_eq!(theirs.1[2].as_deref(), Some(&b"hello\n"[..]));
}

/// `-R`: the origin host's own scp copies to the target (here both are this sshd; the
/// origin's scp, run as the test user, reaches it through an alias in that user's ssh
/// config), as scp -R has it done: the same tree and modes arrive both ways.
#[test]
fn oxscp_copies_by_the_origin_host_with_dash_r_as_openssh_scp() {
    if !support::require_peer("scp") || !support::require_peer("ssh") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&["Subsystem sftp /usr/lib/openssh/sftp-server"]))
    else {
        return;
    };
    let port = f.peer.port();
    let remote = RemoteDir::new("scp-r");
    let user = oxssh_os::SystemUser::by_name(TEST_USER).unwrap().unwrap();
    let owned = |path: &Path, mode: u32| {
        std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid)).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let key = remote.path().join("id");
    std::fs::copy(&f.key.path, &key).unwrap();
    owned(&key, 0o600);
    let ssh_dir = user.home.join(".ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    owned(&ssh_dir, 0o700);
    let alias = format!("oxscp-origin-{}", std::process::id());
    let config = ssh_dir.join("config");
    std::fs::write(
        &config,
        format!(
            "Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  IdentityFile {}\n  \
             IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  \
             BatchMode yes\n  LogLevel ERROR\n",
            key.display()
        ),
    )
    .unwrap();
    owned(&config, 0o600);
    awkward_tree(&remote.path().join("tree"), 30);
    random_file(&remote.path().join("tree/big"), 2 << 20, 9);
    support::sftp::chown_to_test_user(&remote.path().join("tree"));
    let from = format!("{TEST_USER}@127.0.0.1:{}/tree", remote.path().display());
    for (program, copy) in [(oxscp(), "ours"), ("scp".to_owned(), "theirs")] {
        let mut cmd = std::process::Command::new(&program);
        support::sftp::client_options(&mut cmd, &f);
        cmd.args(["-o", &format!("Port={port}"), "-R", "-rp", &from])
            .arg(format!("{alias}:{}/{copy}", remote.path().display()));
        let out = run(&mut cmd, b"", TRANSFER_TIMEOUT);
        assert_eq!(out.code(), Some(0), "{program}: {}", out.stderr);
    }
    let _ = std::fs::remove_file(&config);
    assert_copies_alike(remote.path());
}

#[test]
fn oxscp_copies_remote_to_remote_through_the_local_host_as_openssh_scp() {
    if !support::require_peer("scp") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&["Subsystem sftp /usr/lib/openssh/sftp-server"]))
    else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("scp-3");
    awkward_tree(&remote.path().join("tree"), 60);
    random_file(&remote.path().join("file"), 3 << 20, 5);
    // The user's own files (the tree's modes would hide root's from them).
    support::sftp::chown_to_test_user(remote.path());
    let r = format!("{TEST_USER}@127.0.0.1:{}", remote.path().display());
    for (program, copy) in [(oxscp(), "ours"), ("scp".to_owned(), "theirs")] {
        let mut cmd = client(&program, &f);
        cmd.current_dir(local.path()).args([
            "-3".to_owned(),
            "-rp".to_owned(),
            format!("{r}/tree"),
            format!("{r}/{copy}"),
        ]);
        let out = run(&mut cmd, b"", TRANSFER_TIMEOUT);
        assert_eq!(out.code(), Some(0), "{program}: {}", out.stderr);
        // Without -3: through this host all the same, scp's default.
        let mut cmd = client(&program, &f);
        cmd.current_dir(local.path())
            .args([format!("{r}/file"), format!("{r}/{copy}-file")]);
        let out = run(&mut cmd, b"", TRANSFER_TIMEOUT);
        assert_eq!(out.code(), Some(0), "{program}: {}", out.stderr);
    }
    let tree = remote.path().join("tree");
    assert_copies_alike(remote.path());
    assert_eq!(modes(&tree), modes(&remote.path().join("ours")));
    let file = remote.path().join("file");
    assert_eq!(sha256(&file), sha256(&remote.path().join("ours-file")));
    assert_eq!(sha256(&file), sha256(&remote.path().join("theirs-file")));
    // Nothing staged is left behind.
    let left = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with("oxscp-3."));
    assert!(!left);
}
