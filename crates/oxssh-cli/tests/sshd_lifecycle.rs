//! `oxsshd`'s life as a daemon: without `-D` it goes to the background once it listens
//! (the foreground process exits 0, the PID file names the daemon, SIGTERM ends it and
//! removes the file; a port in use fails in the foreground with 255), and
//! `ClientAliveInterval`/`ClientAliveCountMax` disconnect a client that stops answering
//! mid-session (a relay swallows everything it sends, as a dead network would) while
//! the server goes on serving. An interactive login on a pty is greeted with the last
//! login and leaves login and logout records in wtmp, as sshd's do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::client::{assert_exit, spawn_quiet, wait_until, Ssh, CLIENT_TIMEOUT};
use support::openssh::{sshd_opts, Fixture};
use support::relay::{stalling_relay, Stall};
use support::users::TEST_USER;
use support::{free_port, run, OXSSHD, RUN_TIMEOUT};

#[test]
fn client_alive_interval_disconnects_a_silent_client() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[
        "ClientAliveInterval 1",
        "ClientAliveCountMax 2",
    ])) else {
        return;
    };
    let stall = Arc::new(Stall::default());
    let relay = stalling_relay(f.peer.port(), stall.clone());
    let mut child = spawn_quiet(
        &mut Ssh::program("ssh", &f.client, relay, TEST_USER)
            .identity(&f.key.path)
            .option("ServerAliveInterval=0")
            .command(Some("echo started; sleep 30")),
    );
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 8];
    let reader = thread::spawn(move || stdout.read_exact(&mut first).map(|()| first));
    wait_until("the remote command to start", CLIENT_TIMEOUT, || {
        reader.is_finished()
    });
    assert_eq!(&reader.join().unwrap().unwrap(), b"started\n");
    // The client goes silent: its answers to the server's probes never arrive.
    stall.up.store(true, Ordering::SeqCst);
    let stalled_at = Instant::now();
    wait_until(
        "oxsshd to give up on the client",
        Duration::from_secs(15),
        || {
            f.peer
                .log()
                .contains("Timeout, client not responding from user oxssh-test")
        },
    );
    let waited = stalled_at.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(8),
        "gave up after {waited:?}\n{}",
        f.peer.log()
    );
    let _ = child.kill();
    let _ = child.wait();
    // The server still serves others.
    let out = f.openssh().run("echo still here", b"");
    assert_exit(&out, 0, &f.peer);
    assert_eq!(out.stdout, "still here\n");
}

/// An sshd_config for a detaching oxsshd on `port`, with a fresh host key in `dir`.
fn detached_config(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let key = dir.join("host_key");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(keygen.success());
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nUsePAM no\n",
            key.display(),
            dir.join("oxsshd.pid").display()
        ),
    )
    .unwrap();
    config
}

#[test]
fn without_dash_d_the_daemon_detaches_once_listening() {
    if !support::require_peer("ssh-keygen") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = detached_config(dir.path(), port);
    let out = run(
        std::process::Command::new(OXSSHD).arg("-f").arg(&config),
        b"",
        RUN_TIMEOUT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let pid_file = dir.path().join("oxsshd.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    // A second one cannot bind the port: it says so in the foreground.
    let second = run(
        std::process::Command::new(OXSSHD).arg("-f").arg(&config),
        b"",
        RUN_TIMEOUT,
    );
    assert_eq!(second.code(), Some(255), "{}", second.stderr);
    assert!(
        second.stderr.contains("Cannot bind any address"),
        "{}",
        second.stderr
    );
    // The daemon we started, by the PID it wrote.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    wait_until("the daemon to exit", Duration::from_secs(10), || {
        !pid_file.exists()
    });
}

/// wtmp records of `user` (`USER_PROCESS`) and logouts of their lines (`DEAD_PROCESS`).
fn wtmp_records(user: &str) -> (usize, usize) {
    use oxssh_os::login_records::{read_records, DEAD_PROCESS, USER_PROCESS, WTMP_PATH};
    let records = read_records(std::path::Path::new(WTMP_PATH)).unwrap_or_default();
    let lines: Vec<String> = records
        .iter()
        .filter(|r| r.ut_type == USER_PROCESS && r.user == user)
        .map(|r| r.line.clone())
        .collect();
    let logouts = records
        .iter()
        .filter(|r| r.ut_type == DEAD_PROCESS && lines.contains(&r.line))
        .count();
    (lines.len(), logouts)
}

#[test]
fn interactive_login_shows_the_last_login_and_writes_wtmp() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&["PrintLastLog yes", "PrintMotd no"])) else {
        return;
    };
    // The system's login records, as a Debian system has them (never created by us).
    for file in ["/var/log/wtmp", "/var/log/lastlog"] {
        if !std::path::Path::new(file).exists() {
            std::fs::File::create(file).unwrap();
        }
    }
    let (logins_before, logouts_before) = wtmp_records(TEST_USER);
    let shell = || f.openssh().args(["-tt"]).run_no_command(b"exit\n");
    let first = shell();
    assert_exit(&first, 0, &f.peer);
    let second = shell();
    assert_exit(&second, 0, &f.peer);
    assert!(
        second.stdout.contains("Last login: ") && second.stdout.contains(" from 127.0.0.1\r\n"),
        "{:?}",
        second.stdout
    );
    // A command on a pty is not an interactive login: no greeting.
    let command = f.openssh().args(["-tt"]).run("echo quiet", b"");
    assert_eq!(command.stdout, "quiet\r\n");
    // The server writes a logout record once it has reaped the session, which may be
    // just after the client has gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (logins_after, logouts) = loop {
        let (logins, logouts) = wtmp_records(TEST_USER);
        if logouts >= logouts_before + 3 || std::time::Instant::now() > deadline {
            break (logins, logouts);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        logins_after >= logins_before + 3,
        "{logins_before} -> {logins_after}"
    );
    assert!(
        logouts >= logouts_before + 3,
        "{logouts_before} -> {logouts} logout records"
    );
}
