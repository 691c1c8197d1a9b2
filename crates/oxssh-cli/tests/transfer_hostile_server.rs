//! A hostile SFTP server (`support/hostile_sftp_server.py`, run through `-D`) lists
//! names holding a `/` (`../escape`, `sub/../../evil`, the directory `x/..`) and a
//! directory chain without end: oxsftp and oxscp drop the names with OpenSSH's message,
//! write only inside their target, and stop 64 levels down, as sftp and scp do; a local
//! tree deeper than that is cut at the same depth by `put -r`. Names that would drive
//! the terminal are shown escaped, as sftp shows them in a UTF-8 and in the C locale,
//! and so are a legacy (`-O`) remote scp's error lines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::sftp::{openssh_sftp_server, oxscp, oxsftp, run_direct, TRANSFER_TIMEOUT};

/// OpenSSH's `MAX_DIR_DEPTH`: directories at this depth below the top are not made.
const MAX_DIR_DEPTH: usize = 64;

fn hostile_server() -> Option<String> {
    if !support::require_peer("sftp") || !support::require_peer("python3") {
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/hostile_sftp_server.py");
    Some(script.display().to_string())
}

/// Every file under `root`, relative to it, sorted.
fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn recursive_get_drops_names_holding_a_slash_as_sftp_does() {
    let Some(server) = hostile_server() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let mut said = Vec::new();
    for program in ["sftp".to_owned(), oxsftp()] {
        // The download lands two levels down, so a climb out of it would show.
        let outer = scratch.path().join(said.len().to_string());
        let target = outer.join("a/b");
        std::fs::create_dir_all(&target).unwrap();
        said.push(run_direct(&program, &server, &target, "get -r /d\n", true));
        assert_eq!(
            files_under(&outer),
            [PathBuf::from("a/b/d/good")],
            "{program}"
        );
    }
    assert_eq!(said[1], said[0]);
    let (code, _, stderr) = &said[0];
    assert_eq!(*code, Some(0));
    for name in ["../escape", "sub/../../evil", "x/.."] {
        let line = format!("Server sent suspect path \"{name}\" during readdir of \"/d\"");
        assert!(stderr.lines().any(|l| l == line), "{stderr}");
    }
}

#[test]
fn recursive_scp_drops_names_holding_a_slash_as_scp_does() {
    let Some(server) = hostile_server() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let mut said = Vec::new();
    for program in ["scp".to_owned(), oxscp()] {
        let outer = scratch.path().join(said.len().to_string());
        let target = outer.join("a/b");
        std::fs::create_dir_all(&target).unwrap();
        let mut cmd = Command::new(&program);
        cmd.current_dir(&target)
            .args(["-D", &server, "-r", "h:/d", "got"]);
        let out = support::run(&mut cmd, b"", TRANSFER_TIMEOUT);
        assert_eq!(
            files_under(&outer),
            [PathBuf::from("a/b/got/good")],
            "{program}"
        );
        said.push((out.code(), out.stdout, out.stderr.replace('\r', "")));
    }
    assert_eq!(said[1], said[0]);
    assert_eq!(said[0].0, Some(0));
    assert!(said[0]
        .2
        .contains("scp: Server sent suspect path \"x/..\" during readdir of \"/d\""));
}

/// Every directory under `root` (itself included), relative to it.
fn dirs_under(root: &Path) -> usize {
    let mut count = 0;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        count += 1;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            }
        }
    }
    count
}

#[test]
fn recursive_downloads_stop_sixty_four_levels_down_as_sftp_and_scp_do() {
    let Some(server) = hostile_server() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let mut said = Vec::new();
    for program in ["sftp".to_owned(), oxsftp()] {
        let target = scratch.path().join(format!("sftp{}", said.len()));
        std::fs::create_dir(&target).unwrap();
        said.push(run_direct(
            &program,
            &server,
            &target,
            "get -r /deep\n",
            true,
        ));
        assert_eq!(dirs_under(&target.join("deep")), MAX_DIR_DEPTH, "{program}");
    }
    assert_eq!(said[1], said[0]);
    assert_eq!(said[0].0, Some(1));
    assert_eq!(said[0].2, "Maximum directory depth exceeded: 64 levels\n");
    let mut said = Vec::new();
    for program in ["scp".to_owned(), oxscp()] {
        let target = scratch.path().join(format!("scp{}", said.len()));
        std::fs::create_dir(&target).unwrap();
        let mut cmd = Command::new(&program);
        cmd.current_dir(&target)
            .args(["-D", &server, "-r", "h:/deep", "got"]);
        let out = support::run(&mut cmd, b"", TRANSFER_TIMEOUT);
        assert_eq!(dirs_under(&target.join("got")), MAX_DIR_DEPTH, "{program}");
        said.push((out.code(), out.stdout, out.stderr.replace('\r', "")));
    }
    assert_eq!(said[1], said[0]);
    assert_eq!(said[0].0, Some(1));
    assert_eq!(
        said[0].2,
        "scp: Maximum directory depth exceeded: 64 levels\n"
    );
}

#[test]
fn recursive_upload_of_a_deeper_tree_stops_sixty_four_levels_down_as_sftp_does() {
    if !support::require_peer("sftp") {
        return;
    }
    let Some(server) = openssh_sftp_server() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let mut deepest = scratch.path().join("src");
    for _ in 0..MAX_DIR_DEPTH + 6 {
        deepest.push("x");
    }
    std::fs::create_dir_all(&deepest).unwrap();
    std::fs::write(scratch.path().join("src/top"), "top\n").unwrap();
    std::fs::write(scratch.path().join("src/x/x/inner"), "inner\n").unwrap();
    let mut said = Vec::new();
    for (i, program) in ["sftp".to_owned(), oxsftp()].iter().enumerate() {
        said.push(run_direct(
            program,
            server,
            scratch.path(),
            &format!("put -r src dst{i}\n"),
            true,
        ));
        let dst = scratch.path().join(format!("dst{i}"));
        assert_eq!(dirs_under(&dst), MAX_DIR_DEPTH, "{program}");
        assert_eq!(
            std::fs::read_to_string(dst.join("x/x/inner")).unwrap(),
            "inner\n"
        );
        assert_eq!(std::fs::read_to_string(dst.join("top")).unwrap(), "top\n");
    }
    // The commands differ in their destination's name only.
    assert_eq!(said[1].2, said[0].2);
    assert_eq!(said[1].0, said[0].0);
    assert_eq!(said[1].1.replace("dst1", "dst0"), said[0].1);
    assert_eq!(said[0].0, Some(1));
    assert_eq!(said[0].2, "Maximum directory depth exceeded: 64 levels\n");
}

#[test]
fn names_that_would_drive_the_terminal_are_shown_escaped_as_sftp_shows_them() {
    let Some(server) = hostile_server() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let batch = scratch.path().join("batch");
    std::fs::write(&batch, "ls /t\nls -1 /t\nls -l /t\nget -r /t\n").unwrap();
    for locale in ["C.UTF-8", "C"] {
        let mut said = Vec::new();
        for program in ["sftp".to_owned(), oxsftp()] {
            let target = scratch.path().join(format!("{locale}-{}", said.len()));
            std::fs::create_dir(&target).unwrap();
            let mut cmd = Command::new(&program);
            cmd.current_dir(&target)
                .env("LANG", locale)
                .env_remove("LC_ALL")
                .env_remove("LC_CTYPE")
                .args(["-D", &server, "-b"])
                .arg(&batch);
            let out = support::run(&mut cmd, b"", TRANSFER_TIMEOUT);
            said.push((
                out.code(),
                out.stdout,
                out.stderr.replace('\r', ""),
                files_under(&target),
            ));
        }
        assert_eq!(said[1], said[0], "{locale}");
        let (code, stdout, _, files) = &said[0];
        assert_eq!(*code, Some(0));
        assert_eq!(files.len(), 4, "{files:?}");
        // Nothing the server named reaches the terminal as a control character.
        assert!(!stdout.contains(['\x1b', '\x07']), "{stdout:?}");
        assert!(stdout.contains("/t/esc\\033[31m"), "{stdout}");
        assert!(stdout.contains("Retrieving /t/esc\\033[31m"), "{stdout}");
        let utf8 = locale == "C.UTF-8";
        assert_eq!(stdout.contains("caf\u{e9}"), utf8, "{stdout}");
        assert_eq!(stdout.contains("caf\\303\\251"), !utf8, "{stdout}");
    }
}

#[test]
fn legacy_scp_shows_the_peer_error_lines_escaped_as_scp_does() {
    if !support::require_peer("scp") {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    // A remote `scp -f` that waits for the sink's first answer, then reports two
    // errors whose text would drive the terminal.
    let program = scratch.path().join("remote-scp");
    std::fs::write(
        &program,
        "#!/bin/sh\nhead -c 1 >/dev/null\n\
         printf '\\001scp: bad\\033]0;owned\\007name: Permission denied\\n'\n\
         printf '\\001scp: caf\\303\\251 \\377: No such file or directory\\n'\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    for locale in ["C.UTF-8", "C"] {
        let mut said = Vec::new();
        for tool in ["scp".to_owned(), oxscp()] {
            let mut cmd = Command::new(&tool);
            cmd.current_dir(scratch.path())
                .env("LANG", locale)
                .env_remove("LC_ALL")
                .env_remove("LC_CTYPE")
                .arg("-O")
                .arg("-S")
                .arg(&program)
                .args(["h:file", "got"]);
            let out = support::run(&mut cmd, b"", TRANSFER_TIMEOUT);
            said.push((out.code(), out.stdout, out.stderr));
        }
        assert_eq!(said[1], said[0], "{locale}");
        assert_eq!(said[0].0, Some(1));
        assert!(
            said[0]
                .2
                .starts_with("scp: bad\\033]0;owned\\007name: Permission denied\n"),
            "{}",
            said[0].2
        );
    }
}
