//! How a session's process is started (`clone(CLONE_VM | CLONE_VFORK)` + `execve`, no
//! fork): exec failures reported as before, the exact environment, `PATH` search, no
//! descriptor of the server leaking in, signals reset, and the child waited for, killed
//! and reaped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;

use oxssh_os::{Error, Session, SessionSpec, SessionStdio};
use support::{require_root, test_user, TEST_USER, WAIT};
use tokio::io::AsyncReadExt;

/// Runs `spec` on pipes; returns its stdout, stderr and exit status.
async fn run(spec: SessionSpec) -> (String, String, std::process::ExitStatus) {
    let mut session: Session = spec.spawn(SessionStdio::Pipes).expect("spawn");
    drop(session.child.stdin.take());
    let mut out = session.child.stdout.take().unwrap();
    let mut err = session.child.stderr.take().unwrap();
    let (mut stdout, mut stderr) = (String::new(), String::new());
    tokio::time::timeout(WAIT, async {
        out.read_to_string(&mut stdout).await.unwrap();
        err.read_to_string(&mut stderr).await.unwrap();
    })
    .await
    .expect("output ends in time");
    let status = tokio::time::timeout(WAIT, session.child.wait())
        .await
        .expect("exits in time")
        .expect("wait");
    assert_eq!(session.child.id(), None, "no pid once reaped");
    (stdout, stderr, status)
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_error_with_its_name_and_enoent() {
    if !require_root() {
        return;
    }
    let spec = SessionSpec::new(test_user()).unwrap().program(
        "/nonexistent/oxssh-os-prog",
        "prog",
        vec![],
    );
    let Err(err) = spec.spawn(SessionStdio::Pipes) else {
        panic!("a missing program started");
    };
    let Error::Spawn { program, source } = &err else {
        panic!("not a spawn error: {err:?}");
    };
    assert_eq!(program, "/nonexistent/oxssh-os-prog");
    assert_eq!(source.raw_os_error(), Some(nix::libc::ENOENT));
    assert_eq!(
        err.to_string(),
        "cannot start /nonexistent/oxssh-os-prog: No such file or directory (os error 2)"
    );
}

#[tokio::test]
async fn a_program_without_exec_permission_is_eacces() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-executable");
    std::fs::write(&path, "#!/bin/sh\necho ran\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let spec = SessionSpec::new(test_user())
        .unwrap()
        .program(&path, "x", vec![]);
    match spec.spawn(SessionStdio::Pipes) {
        Err(Error::Spawn { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(nix::libc::EACCES));
        }
        other => panic!("expected EACCES, got {other:?}"),
    }
}

#[tokio::test]
async fn a_bare_program_name_is_searched_in_the_sessions_path_and_env_is_exact() {
    if !require_root() {
        return;
    }
    let spec = SessionSpec::new(test_user())
        .unwrap()
        .env("ZZ_LAST", "z")
        .env("PATH", "/nonexistent/bin:/usr/bin:/bin")
        .env("AA_FIRST", "a b")
        .program("printenv", "printenv", vec![]);
    let (stdout, stderr, status) = run(spec).await;
    assert!(status.success(), "{stderr}");
    assert_eq!(
        stdout, "AA_FIRST=a b\nPATH=/nonexistent/bin:/usr/bin:/bin\nZZ_LAST=z\n",
        "only the caller's variables, in name order"
    );
}

#[tokio::test]
async fn the_servers_descriptors_do_not_reach_the_session() {
    if !require_root() {
        return;
    }
    // A descriptor opened without O_CLOEXEC, as a careless library would.
    let leaky = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDONLY,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap();
    let spec = SessionSpec::new(test_user()).unwrap().program(
        "/bin/ls",
        "ls",
        vec!["/proc/self/fd".into()],
    );
    let (stdout, stderr, status) = run(spec).await;
    assert!(status.success(), "{stderr}");
    let fds: Vec<i32> = stdout.lines().map(|l| l.parse().unwrap()).collect();
    assert!(
        !fds.contains(&leaky.as_raw_fd()),
        "fd {} leaked: {fds:?}",
        leaky.as_raw_fd()
    );
    // 0, 1, 2 and the directory ls itself opened.
    assert_eq!(fds.len(), 4, "{fds:?}");
    assert_eq!(&fds[..3], &[0, 1, 2]);
}

#[tokio::test]
async fn the_session_starts_with_no_blocked_or_ignored_signal_as_the_user_in_home() {
    if !require_root() {
        return;
    }
    // Rust ignores SIGPIPE in this process; exec keeps SIG_IGN, so the child must reset
    // it (a shell pipeline in the session relies on SIGPIPE).
    let sigpipe = 1u64 << (nix::libc::SIGPIPE - 1);
    let ours = std::fs::read_to_string("/proc/self/status").unwrap();
    assert_ne!(sig_mask(&ours, "SigIgn:") & sigpipe, 0, "precondition");
    let user = test_user();
    let spec = SessionSpec::new(user.clone()).unwrap().program(
        "/bin/sh",
        "sh",
        vec![
            "-c".into(),
            "grep -E '^(SigBlk|SigIgn|Uid|Gid)' /proc/self/status; pwd".into(),
        ],
    );
    let (stdout, stderr, status) = run(spec).await;
    assert!(status.success(), "{stderr}");
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(sig_mask(&stdout, "SigBlk:"), 0, "no signal blocked");
    // The standard signals 1-31; the C library's reserved real-time ones (32, 33) it
    // refuses to reset, so they stay as inherited (as they did with fork).
    assert_eq!(sig_mask(&stdout, "SigIgn:") & 0x7fff_ffff, 0, "{stdout}");
    let uid = user.uid.to_string();
    let gid = user.gid.to_string();
    assert_eq!(
        field("Uid:"),
        [uid.as_str(); 4],
        "real, effective, saved, fs"
    );
    assert_eq!(field("Gid:"), [gid.as_str(); 4]);
    assert!(
        stdout.lines().any(|l| l == user.home.to_str().unwrap()),
        "cwd is {TEST_USER}'s home: {stdout}"
    );
}

/// The signals a status line of /proc/PID/status lists, as a bit mask.
fn sig_mask(status: &str, name: &str) -> u64 {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} in {status}"));
    u64::from_str_radix(hex.trim(), 16).unwrap()
}

#[tokio::test]
async fn start_kill_ends_the_child_and_wait_reports_the_signal() {
    if !require_root() {
        return;
    }
    let mut session = SessionSpec::new(test_user())
        .unwrap()
        .command("sleep 30")
        .spawn(SessionStdio::Pipes)
        .unwrap();
    assert!(session.child.id().is_some());
    assert_eq!(session.child.try_wait().unwrap(), None, "still running");
    session.child.start_kill().unwrap();
    let status = tokio::time::timeout(WAIT, session.child.wait())
        .await
        .expect("exits in time")
        .unwrap();
    assert_eq!(status.signal(), Some(nix::libc::SIGKILL));
    session
        .child
        .start_kill()
        .expect("killing a reaped child is a no-op");
}

#[tokio::test]
async fn a_child_dropped_before_it_exits_is_still_reaped() {
    if !require_root() {
        return;
    }
    let session = SessionSpec::new(test_user())
        .unwrap()
        .command("sleep 0.2")
        .spawn(SessionStdio::Pipes)
        .unwrap();
    let pid = session.child.id().unwrap();
    drop(session);
    // A zombie keeps its /proc entry until it is reaped.
    let proc = format!("/proc/{pid}");
    tokio::time::timeout(WAIT, async {
        while std::path::Path::new(&proc).exists() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{proc} still there: not reaped"));
}
