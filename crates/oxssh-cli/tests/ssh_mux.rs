//! Connection sharing with OpenSSH's multiplexing protocol (PROTOCOL.mux), both ways:
//! OpenSSH's `ssh -S` as the client of an `oxssh -M` master and `oxssh -S` as the
//! client of an OpenSSH `ssh -M` master, with exit statuses, stdout, stderr and stdin
//! intact; `-O check|exit|stop` answered as OpenSSH answers; Ansible's
//! `ControlMaster=auto ControlPersist=60s` run twice over one connection (counted in
//! the server's log); and a master or client of another user refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::client::{assert_exit, spawn_quiet, wait_until, Running, Ssh, CLIENT_TIMEOUT};
use support::mux::{control_path, logins, start_master, START_LIMIT};
use support::openssh::{sshd_opts, Fixture};
use support::users::TEST_USER;
use support::{require_peer, run, Output};

/// `client -S path -O command`.
fn control(client: Ssh, path: &Path, command: &str) -> Output {
    let path_arg = path.to_str().unwrap().to_owned();
    client
        .args(["-S", &path_arg, "-O", command])
        .run_no_command(b"")
}

fn through(client: Ssh, path: &Path) -> Ssh {
    let path_arg = path.to_str().unwrap().to_owned();
    client.args(["-S", &path_arg])
}

/// Runs the stream checks through a master with `client`.
fn check_session(f: &Fixture, client: Ssh, what: &str) {
    let out = client.run("cat; echo to-stderr >&2; exit 3", b"line one\nline two\n");
    assert_exit(&out, 3, &f.peer);
    assert_eq!(out.stdout, "line one\nline two\n", "{what}");
    assert!(out.stderr.contains("to-stderr"), "{what}: {}", out.stderr);
}

fn wait_exit(mut master: Running, what: &str) {
    let deadline = Instant::now() + START_LIMIT;
    loop {
        if let Some(status) = master.0.try_wait().unwrap() {
            assert!(status.code().is_some(), "{what}: {status:?}");
            return;
        }
        assert!(Instant::now() < deadline, "{what}: the master did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn openssh_clients_share_an_oxssh_master() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let path = control_path(&f);
    let master = start_master(f.oxssh(), &path);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    for _ in 0..2 {
        check_session(&f, through(f.openssh(), &path), "ssh via oxssh master");
    }
    check_session(&f, through(f.oxssh(), &path), "oxssh via oxssh master");
    // Several at once.
    let outs = support::client::in_parallel(vec![1, 2, 3, 4], 4, |n| {
        through(f.openssh(), &path).run(&format!("echo {n}; exit {n}"), b"")
    });
    for (n, out) in outs.iter().enumerate() {
        assert_exit(out, i32::try_from(n + 1).unwrap(), &f.peer);
    }
    assert_eq!(logins(&f), 1, "{}", f.peer.log());
    let out = control(f.openssh(), &path, "exit");
    assert_exit(&out, 0, &f.peer);
    assert_eq!(out.stderr, "Exit request sent.\r\n");
    wait_exit(master, "oxssh master after ssh -O exit");
    assert!(!path.exists());
}

#[test]
fn oxssh_clients_share_an_openssh_master() {
    if !require_peer("ssh") {
        return;
    }
    for server in ["sshd", "oxsshd"] {
        let f = if server == "sshd" {
            Fixture::start(sshd_opts(&[]))
        } else {
            Fixture::start_oxsshd(sshd_opts(&[]))
        };
        let Some(f) = f else {
            return;
        };
        let path = control_path(&f);
        let master = start_master(f.openssh(), &path);
        check_session(&f, through(f.oxssh(), &path), server);
        let out = through(f.oxssh(), &path).run("echo no-input", b"");
        assert_exit(&out, 0, &f.peer);
        assert_eq!(out.stdout, "no-input\n");
        let check = control(f.oxssh(), &path, "check");
        assert_exit(&check, 0, &f.peer);
        assert_eq!(
            check.stderr,
            format!("Master running (pid={})\r\n", master.0.id()),
            "{server}"
        );
        let out = control(f.oxssh(), &path, "exit");
        assert_exit(&out, 0, &f.peer);
        assert_eq!(out.stderr, "Exit request sent.\r\n");
        wait_exit(master, "ssh master after oxssh -O exit");
    }
}

#[test]
fn control_commands_answer_as_openssh_does() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let path = control_path(&f);
    // No master yet: the same message and status from both.
    for client in [f.openssh(), f.oxssh()] {
        let out = control(client, &path, "check");
        assert_exit(&out, 255, &f.peer);
        assert_eq!(
            out.stderr.trim_end(),
            format!(
                "Control socket connect({}): No such file or directory",
                path.display()
            )
        );
    }
    let master = start_master(f.oxssh(), &path);
    let ours = control(f.oxssh(), &path, "check");
    let theirs = control(f.openssh(), &path, "check");
    assert_exit(&ours, 0, &f.peer);
    assert_eq!(ours.stderr, theirs.stderr);
    assert_eq!(
        ours.stderr,
        format!("Master running (pid={})\r\n", master.0.id())
    );
    // stop: no new clients, the socket goes, the master stays for its sessions.
    let out = control(f.oxssh(), &path, "stop");
    assert_exit(&out, 0, &f.peer);
    assert_eq!(out.stderr, "Stop listening request sent.\r\n");
    wait_until("the socket to go", START_LIMIT, || !path.exists());
    let out = control(f.oxssh(), &path, "forward");
    assert_exit(&out, 255, &f.peer);
    drop(master);
}

#[test]
fn ansible_style_persist_runs_twice_over_one_connection() {
    for server in ["sshd", "oxsshd"] {
        let f = if server == "sshd" {
            Fixture::start(sshd_opts(&[]))
        } else {
            Fixture::start_oxsshd(sshd_opts(&[]))
        };
        let Some(f) = f else {
            return;
        };
        let path = control_path(&f);
        let ansible = || {
            f.oxssh()
                .option("ControlMaster=auto")
                .option("ControlPersist=60s")
                .option(&format!("ControlPath={}", path.display()))
        };
        let first = ansible().run("echo first; exit 2", b"");
        assert_exit(&first, 2, &f.peer);
        assert_eq!(first.stdout, "first\n", "{server}");
        assert!(
            path.exists(),
            "{server}: the master stays in the background"
        );
        let second = ansible().run("cat", b"second\n");
        assert_exit(&second, 0, &f.peer);
        assert_eq!(second.stdout, "second\n", "{server}");
        if server == "sshd" {
            assert_eq!(logins(&f), 1, "{}", f.peer.log());
        }
        // OpenSSH's ssh, configured the same way, reuses it too.
        let third = f
            .openssh()
            .option("ControlMaster=auto")
            .option("ControlPersist=60s")
            .option(&format!("ControlPath={}", path.display()))
            .run("echo third", b"");
        assert_exit(&third, 0, &f.peer);
        if server == "sshd" {
            assert_eq!(logins(&f), 1, "{}", f.peer.log());
        }
        let out = control(f.oxssh(), &path, "exit");
        assert_exit(&out, 0, &f.peer);
        wait_until("the persistent master to exit", START_LIMIT, || {
            !path.exists()
        });
    }
}

#[test]
fn control_persist_master_exits_after_its_idle_time() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let path = control_path(&f);
    let out = f
        .oxssh()
        .option("ControlMaster=auto")
        .option("ControlPersist=1")
        .option(&format!("ControlPath={}", path.display()))
        .run("true", b"");
    assert_exit(&out, 0, &f.peer);
    assert!(path.exists());
    wait_until("the idle master to exit", Duration::from_secs(10), || {
        !path.exists()
    });
}

/// Runs `program args` as the test user (`setpriv`), with a time limit.
fn as_test_user(program: &str, args: &[&str]) -> Output {
    let id = |flag: &str| {
        let out = Command::new("id").args([flag, TEST_USER]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let (uid, gid) = (id("-u"), id("-g"));
    let mut cmd = Command::new("setpriv");
    cmd.args([
        &format!("--reuid={uid}"),
        &format!("--regid={gid}"),
        "--clear-groups",
        "--",
        program,
    ])
    .args(args)
    .env("HOME", "/tmp");
    run(&mut cmd, b"", CLIENT_TIMEOUT)
}

#[test]
fn a_master_refuses_clients_of_another_user() {
    if !require_peer("setpriv") || !require_peer("ssh") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("cm");
    let master = start_master(f.oxssh(), &path);
    // Let the other user reach the socket, so only the master's own check stops it.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    let p = path.to_str().unwrap();
    for client in ["ssh", support::client::OXSSH] {
        let out = as_test_user(client, &["-F", "/dev/null", "-S", p, "-O", "check", "x"]);
        assert_eq!(out.code(), Some(255), "{client}: {out:?}");
        assert!(!out.stderr.contains("Master running"), "{client}: {out:?}");
    }
    // Root's own check still works.
    assert_exit(&control(f.oxssh(), &path, "check"), 0, &f.peer);
    drop(master);
}

/// A "master" run by another user: oxssh will not hand it anything.
const FAKE_MASTER: &str = r#"
import os, socket, struct, sys, time
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
os.chmod(path, 0o777)
s.listen(1)
s.settimeout(20)
c, _ = s.accept()
c.sendall(struct.pack(">III", 8, 1, 4))
time.sleep(2)
"#;

#[test]
fn a_socket_served_by_another_user_is_refused() {
    if !require_peer("setpriv") || !require_peer("python3") {
        return;
    }
    support::users::test_user();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let script = dir.path().join("fake.py");
    std::fs::write(&script, FAKE_MASTER).unwrap();
    let path = dir.path().join("cm");
    let p = path.to_str().unwrap().to_owned();
    let s = script.to_str().unwrap().to_owned();
    // The system's python: one under root's home is out of the test user's reach.
    let fake = std::thread::spawn(move || as_test_user("/usr/bin/python3", &[&s, &p]));
    wait_until("the fake master", START_LIMIT, || path.exists());
    let out = run(
        Command::new(support::client::OXSSH).args([
            "-F",
            "/dev/null",
            "-S",
            path.to_str().unwrap(),
            "-O",
            "check",
            "x",
        ]),
        b"",
        CLIENT_TIMEOUT,
    );
    assert_eq!(out.code(), Some(255), "{out:?}");
    assert!(out.stderr.contains("refusing it"), "{out:?}");
    let _ = fake.join();
}

#[test]
fn shared_sessions_get_a_pty_of_the_clients_terminal() {
    if !require_peer("script") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let path = control_path(&f);
    let master = start_master(f.oxssh(), &path);
    for client in [f.openssh(), f.oxssh()] {
        let line = support::client::shell_line(
            &through(client, &path)
                .args(["-tt"])
                .command(Some("tty; stty size; echo TERM=$TERM; exit 5")),
        );
        let out =
            support::client::under_script(&format!("stty rows 33 cols 111; exec {line}"), b"");
        assert_exit(&out, 5, &f.peer);
        assert!(out.stdout.contains("/dev/pts/"), "{}", out.stdout);
        assert!(out.stdout.contains("33 111\r\n"), "{}", out.stdout);
        assert!(out.stdout.contains("TERM=xterm\r\n"), "{}", out.stdout);
        assert!(
            out.stdout
                .contains("Shared connection to 127.0.0.1 closed."),
            "{}",
            out.stdout
        );
    }
    drop(master);
}

#[test]
fn tilde_dot_ends_only_the_shared_session() {
    if !require_peer("script") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let path = control_path(&f);
    let master = start_master(f.oxssh(), &path);
    let line = support::client::shell_line(
        &through(f.openssh(), &path)
            .args(["-tt"])
            .command(Some("sleep 25")),
    );
    let started = Instant::now();
    let out = support::client::under_script(&format!("exec {line}"), b"\n~.");
    assert_eq!(out.code(), Some(255), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(20), "{out:?}");
    // The master lives on for the next client.
    let out = through(f.openssh(), &path).run("echo still", b"");
    assert_exit(&out, 0, &f.peer);
    assert_eq!(out.stdout, "still\n");
    drop(master);
}

#[test]
fn control_master_ask_confirms_each_session_through_askpass() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let path = control_path(&f);
    let answer = f.client.path().join("answer");
    let prompts = f.client.path().join("prompts");
    let askpass = f.client.path().join("askpass.sh");
    std::fs::write(
        &askpass,
        format!(
            "#!/bin/sh\necho \"$1\" >> {}\nexec cat {}\n",
            prompts.display(),
            answer.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = path.to_str().unwrap().to_owned();
    let mut cmd = f
        .oxssh()
        .env("SSH_ASKPASS", &askpass)
        .args(["-o", "ControlMaster=ask", "-N", "-S", &p])
        .command(None);
    let master = spawn_quiet(&mut cmd);
    wait_until("the master's socket", START_LIMIT, || path.exists());
    // Refused: the message, then the client connects by itself, as ssh does.
    std::fs::write(&answer, "no\n").unwrap();
    for client in [f.openssh(), f.oxssh()] {
        let out = through(client, &path).run("echo direct", b"");
        assert_exit(&out, 0, &f.peer);
        assert_eq!(out.stdout, "direct\n");
        assert!(
            out.stderr
                .contains("Master refused session request: Permission denied"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(logins(&f), 3, "the master's login and two direct ones");
    std::fs::write(&answer, "yes\n").unwrap();
    let out = through(f.openssh(), &path).run("echo allowed", b"");
    assert_exit(&out, 0, &f.peer);
    assert_eq!(out.stdout, "allowed\n");
    assert_eq!(logins(&f), 3, "the allowed session is shared");
    assert_eq!(
        std::fs::read_to_string(&prompts).unwrap(),
        "Allow shared connection to 127.0.0.1? \n".repeat(3)
    );
    drop(master);
}

/// Regression: the master once polled a finished one-shot when the client's stdin ended
/// before the command's output, and the session's task died.
#[test]
fn output_after_the_clients_stdin_ended_still_arrives() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let path = control_path(&f);
    let master = start_master(f.oxssh(), &path);
    let out = through(f.openssh(), &path).run("sleep 1; echo late; exit 6", b"");
    assert_exit(&out, 6, &f.peer);
    assert_eq!(out.stdout, "late\n");
    drop(master);
}

#[test]
fn control_path_tokens_name_the_same_socket_for_ssh_and_oxssh() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let pattern = format!("ControlPath={}/%C-%r@%h:%p", f.client.path().display());
    let mut cmd = f.oxssh().option(&pattern).args(["-M", "-N"]).command(None);
    let master = spawn_quiet(&mut cmd);
    wait_until("a socket", START_LIMIT, || {
        std::fs::read_dir(f.client.path()).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .contains("@127.0.0.1:")
        })
    });
    let out = f
        .openssh()
        .option(&pattern)
        .args(["-O", "check"])
        .run_no_command(b"");
    assert_exit(&out, 0, &f.peer);
    assert_eq!(
        out.stderr,
        format!("Master running (pid={})\r\n", master.0.id())
    );
    drop(master);
}

/// Was flaky: `under_script` closes `script`'s input at once, and `script` turns that
/// into an end-of-file on the terminal. A master that read the client's terminal before
/// the client switched it to raw mode got that EOF and sent it on (as OpenSSH's master
/// does too); sshd then closes the pty descriptor it also resizes through, so every
/// later window-change was lost. The terminal's input now stays open until the client
/// is done. The remote side waits for the final size (`stty rows 40 cols 100` resizes
/// in two steps, two SIGWINCHs), and clients and master listen for SIGWINCH before the
/// session starts, so a resize right after the first output is never lost.
#[test]
fn terminal_resize_reaches_a_shared_session() {
    if !require_peer("script") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let path = control_path(&f);
    let master = start_master(f.oxssh(), &path);
    // As in ssh_openssh.rs: the remote side prints its size, waits for the new one,
    // prints it again; the client's terminal is resized once the first size is out.
    let remote = "stty size; for i in $(seq 100); do \
                  [ \"$(stty size)\" = '40 100' ] && break; sleep 0.1; done; stty size";
    for (name, client) in [("ssh", f.openssh()), ("oxssh", f.oxssh())] {
        let line = support::client::shell_line(
            &through(client, &path).args(["-tt"]).command(Some(remote)),
        );
        let out_file = f.client.path().join(format!("pty-output-{name}"));
        let out = support::client::shell_line(&Command::new(&out_file));
        let local = format!(
            "stty rows 10 cols 20; {line} </dev/tty >{out} 2>&1 & \
             for i in $(seq 200); do grep -q '10 20' {out} && break; sleep 0.05; done; \
             stty rows 40 cols 100; wait $!; echo \"client exit $?\""
        );
        let terminal = support::client::Terminal::start(&local);
        terminal.wait_for("client exit ", CLIENT_TIMEOUT);
        let screen = terminal.screen();
        let (status, _) = terminal.finish(START_LIMIT);
        assert!(status.success(), "{name}: {status:?}");
        assert!(screen.contains("client exit 0"), "{name}: {screen}");
        let printed = std::fs::read_to_string(&out_file)
            .unwrap_or_default()
            .replace("^@", "");
        assert!(
            printed.contains("10 20\r\n40 100\r\n"),
            "{name}: {printed:?}"
        );
    }
    drop(master);
}
