//! Sessions as a real system user: lookup, spawning on pipes and on a pty (modes, window
//! size and its changes, the controlling terminal, the login shell), and signals.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use oxssh_os::{
    group_id, login_env, Pty, PtyMaster, Session, SessionSpec, SessionStdio, TerminalModes,
    WindowSize,
};
use support::{require_root, test_user, TEST_GROUP, TEST_USER, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn size(rows: u32, cols: u32) -> WindowSize {
    WindowSize {
        rows,
        cols,
        ..WindowSize::default()
    }
}

/// Everything the pty master yields until the session's side closes, `\r\n` as `\n`.
async fn read_to_eof(master: &PtyMaster) -> String {
    let mut out = Vec::new();
    let mut reader = master;
    tokio::time::timeout(WAIT, reader.read_to_end(&mut out))
        .await
        .expect("pty output ends in time")
        .expect("read pty");
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}

/// Reads from the master until the output so far contains `needle`; returns it all.
async fn read_until(master: &PtyMaster, seen: &mut String, needle: &str) {
    let mut reader = master;
    let mut buf = [0u8; 4096];
    tokio::time::timeout(WAIT, async {
        while !seen.contains(needle) {
            let n = reader.read(&mut buf).await.expect("read pty");
            assert!(n > 0, "pty closed before {needle:?}; got {seen:?}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]).replace("\r\n", "\n"));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle:?} in time; got {seen:?}"));
}

async fn wait(session: &mut Session) -> ExitStatus {
    match tokio::time::timeout(WAIT, session.child.wait()).await {
        Ok(status) => status.expect("wait"),
        Err(_) => {
            let _ = session.child.start_kill();
            panic!("session did not end in time");
        }
    }
}

#[test]
fn looks_up_the_test_user_and_their_groups() {
    if !require_root() {
        return;
    }
    let user = test_user();
    assert_eq!(user.name, TEST_USER);
    assert_ne!(user.uid, 0);
    assert_eq!(
        user.home,
        std::path::PathBuf::from(format!("/tmp/{TEST_USER}-home"))
    );
    assert_eq!(user.login_shell(), std::path::Path::new("/bin/sh"));
    let groups = user.group_ids().unwrap();
    assert_eq!(groups.first(), Some(&user.gid));
    let extra = group_id(TEST_GROUP).unwrap().expect("test group exists");
    assert!(groups.contains(&extra), "{groups:?} lacks {extra}");
    assert!(user.group_names().unwrap().iter().any(|g| g == TEST_GROUP));
}

#[tokio::test]
async fn command_on_pipes_runs_as_the_user_with_their_groups_home_and_env() {
    if !require_root() {
        return;
    }
    let user = test_user();
    let groups = user.group_ids().unwrap();
    let mut session = SessionSpec::new(user.clone())
        .unwrap()
        .envs(login_env(&user))
        .env("SSH_CONNECTION", "127.0.0.1 5555 127.0.0.1 22")
        .command("id -un; id -u; id -G; pwd; echo \"$HOME\"; echo \"$SSH_CONNECTION\"; echo $0; env | grep -c ^OXSSH_LEAK")
        .spawn(SessionStdio::Pipes)
        .unwrap();
    assert!(session.pty.is_none());
    drop(session.child.stdin.take());
    let mut stdout = String::new();
    let mut out = session.child.stdout.take().unwrap();
    tokio::time::timeout(WAIT, out.read_to_string(&mut stdout))
        .await
        .unwrap()
        .unwrap();
    let status = wait(&mut session).await;
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], TEST_USER, "{stdout}");
    assert_eq!(lines[1], user.uid.to_string());
    let mut got: Vec<u32> = lines[2].split(' ').map(|g| g.parse().unwrap()).collect();
    let mut want = groups.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "supplementary groups");
    assert_eq!(lines[3], user.home.to_str().unwrap());
    assert_eq!(lines[4], user.home.to_str().unwrap());
    assert_eq!(lines[5], "127.0.0.1 5555 127.0.0.1 22");
    assert_eq!(lines[6], "sh", "argv[0] is the shell's basename");
    assert_eq!(lines[7], "0", "the environment is only the caller's");
    // grep -c exits 1 on no match: the exit status is the command's.
    assert_eq!(status.code(), Some(1));
}

#[tokio::test]
async fn a_program_runs_directly_as_the_user_without_the_login_shell() {
    if !require_root() {
        return;
    }
    let mut user = test_user();
    // The shell is never used: a nologin account still runs the program.
    user.shell = "/usr/sbin/nologin".into();
    let mut session = SessionSpec::new(user.clone())
        .unwrap()
        .command("echo through-the-shell")
        .program(
            "/bin/sh",
            "named-by-us",
            vec!["-c".into(), "id -un; echo $0; pwd".into()],
        )
        .spawn(SessionStdio::Pipes)
        .unwrap();
    drop(session.child.stdin.take());
    let mut stdout = String::new();
    let mut out = session.child.stdout.take().unwrap();
    tokio::time::timeout(WAIT, out.read_to_string(&mut stdout))
        .await
        .unwrap()
        .unwrap();
    let status = wait(&mut session).await;
    assert!(status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [TEST_USER, "named-by-us", user.home.to_str().unwrap()]
    );
}

#[tokio::test]
async fn missing_home_falls_back_to_root_dir_with_sshds_message() {
    if !require_root() {
        return;
    }
    let mut user = test_user();
    user.home = "/nonexistent/oxssh-os".into();
    let mut session = SessionSpec::new(user)
        .unwrap()
        .command("pwd")
        .spawn(SessionStdio::Pipes)
        .unwrap();
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut out = session.child.stdout.take().unwrap();
    let mut err = session.child.stderr.take().unwrap();
    tokio::time::timeout(WAIT, async {
        out.read_to_string(&mut stdout).await.unwrap();
        err.read_to_string(&mut stderr).await.unwrap();
    })
    .await
    .unwrap();
    assert!(wait(&mut session).await.success());
    assert_eq!(stdout, "/\n");
    assert_eq!(
        stderr,
        "Could not chdir to home directory /nonexistent/oxssh-os: No such file or directory\n"
    );
}

#[tokio::test]
async fn pty_session_gets_tty_modes_size_and_ownership() {
    if !require_root() {
        return;
    }
    let user = test_user();
    let pty = Pty::open(size(40, 100)).unwrap();
    // ECHO off, ICANON on, 38400 baud both ways, then TTY_OP_END.
    let mut modes = Vec::new();
    for (op, value) in [(53u8, 0u32), (51, 1), (128, 38400), (129, 38400)] {
        modes.push(op);
        modes.extend_from_slice(&value.to_be_bytes());
    }
    modes.push(0);
    pty.apply_modes(&TerminalModes::decode(&modes)).unwrap();
    pty.set_owner(&user).unwrap();
    let meta = std::fs::metadata(pty.path()).unwrap();
    assert_eq!(meta.uid(), user.uid);
    assert_eq!(meta.gid(), group_id("tty").unwrap().unwrap_or(user.gid));
    assert_eq!(meta.mode() & 0o777, 0o620);
    let path = pty.path().to_path_buf();
    assert!(path.starts_with("/dev/pts"), "{}", path.display());
    assert_eq!(pty.tty_name(), path.strip_prefix("/dev").unwrap());

    let mut session = SessionSpec::new(user.clone())
        .unwrap()
        .envs(login_env(&user))
        .env("SSH_TTY", &path)
        .command("tty; echo \"$SSH_TTY\"; stty size; stty -a; echo err >&2; ps -o stat= -p $$")
        .spawn(SessionStdio::Pty(pty))
        .unwrap();
    let master = session.pty.take().unwrap();
    let out = read_to_eof(&master).await;
    assert!(wait(&mut session).await.success(), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], path.to_str().unwrap(), "{out}");
    assert_eq!(lines[1], path.to_str().unwrap());
    assert_eq!(lines[2], "40 100");
    assert!(out.contains("speed 38400 baud"), "{out}");
    assert!(out.contains(" -echo "), "{out}");
    assert!(out.contains(" icanon "), "{out}");
    assert!(out.contains("rows 40; columns 100"), "{out}");
    assert!(out.contains("\nerr\n"), "stderr goes to the pty too: {out}");
    // `s` (session leader) and `+` (in the foreground group of its controlling tty).
    let stat = lines.last().unwrap().trim();
    assert!(stat.contains('s') && stat.contains('+'), "ps stat {stat:?}");
}

#[tokio::test]
async fn window_change_reaches_the_session() {
    if !require_root() {
        return;
    }
    let user = test_user();
    let pty = Pty::open(size(24, 80)).unwrap();
    let mut session = SessionSpec::new(user)
        .unwrap()
        .command("trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.1; done")
        .spawn(SessionStdio::Pty(pty))
        .unwrap();
    let master = session.pty.take().unwrap();
    let mut seen = String::new();
    read_until(&master, &mut seen, "ready\n").await;
    master.resize(size(50, 132)).unwrap();
    read_until(&master, &mut seen, "50 132\n").await;
    assert!(wait(&mut session).await.success());
}

#[tokio::test]
async fn interactive_session_is_a_login_shell_on_its_tty() {
    if !require_root() {
        return;
    }
    let user = test_user();
    let pty = Pty::open(size(24, 80)).unwrap();
    let path = pty.path().to_path_buf();
    let mut session = SessionSpec::new(user.clone())
        .unwrap()
        .envs(login_env(&user))
        .env("PS1", "$ ")
        .spawn(SessionStdio::Pty(pty))
        .unwrap();
    let mut master = session.pty.take().unwrap();
    tokio::time::timeout(WAIT, master.write_all(b"echo \"zero=$0\"; tty; exit 3\n"))
        .await
        .unwrap()
        .unwrap();
    let out = read_to_eof(&master).await;
    let status = wait(&mut session).await;
    assert!(out.contains("zero=-sh\n"), "{out}");
    assert!(out.contains(&format!("{}\n", path.display())), "{out}");
    assert_eq!(status.code(), Some(3));
}

#[tokio::test]
async fn signal_requests_reach_the_process_group() {
    if !require_root() {
        return;
    }
    let user = test_user();
    // On pipes: TERM kills the shell (and its sleep, in the same group).
    let mut session = SessionSpec::new(user.clone())
        .unwrap()
        .command("echo started; sleep 30; echo not-reached")
        .spawn(SessionStdio::Pipes)
        .unwrap();
    let mut out = session.child.stdout.take().unwrap();
    let mut buf = [0u8; 8];
    tokio::time::timeout(WAIT, out.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"started\n");
    assert!(matches!(
        session.signal("SIGTERM"),
        Err(oxssh_os::Error::UnknownSignal(_))
    ));
    session.signal("TERM").unwrap();
    let status = wait(&mut session).await;
    assert_eq!(status.signal(), Some(libc_sig("TERM")));
    let mut rest = String::new();
    tokio::time::timeout(WAIT, out.read_to_string(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, "", "sleep was killed with the shell's group");
    assert!(session.signal("TERM").is_err(), "no signal after wait");

    // On a pty: KILL.
    let pty = Pty::open(size(24, 80)).unwrap();
    let mut session = SessionSpec::new(user)
        .unwrap()
        .command("echo started; exec sleep 30")
        .spawn(SessionStdio::Pty(pty))
        .unwrap();
    let master = session.pty.take().unwrap();
    let mut seen = String::new();
    read_until(&master, &mut seen, "started\n").await;
    session.signal("KILL").unwrap();
    assert_eq!(wait(&mut session).await.signal(), Some(libc_sig("KILL")));
}

fn libc_sig(name: &str) -> i32 {
    oxssh_os::signal_by_name(name).unwrap() as i32
}
