//! `oxsshd` operated as sshd is, with OpenSSH's `ssh` as the client: `-t` and `-T`
//! answer as `sshd -t`/`sshd -T` do on the same files, SIGHUP reloads the configuration
//! for new connections while an open session keeps running, SIGTERM stops accepting
//! and lets a running session finish, the PID file names the daemon, and inetd mode
//! (`-i`) serves ssh through `ProxyCommand`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::client::{
    assert_exit, shell_line, spawn_quiet, text, wait_until, Running, CLIENT_TIMEOUT,
};
use support::openssh::{sshd_opts, Fixture};
use support::users::{test_user, TEST_USER};
use support::{find_program, require_peer, run, Output, Peer, OXSSHD, RUN_TIMEOUT};

/// A host key for configuration checks, in `dir`.
fn host_key(dir: &Path) -> PathBuf {
    let path = dir.join("host_ed25519");
    let out = run(
        Command::new("ssh-keygen")
            .args(["-q", "-N", "", "-t", "ed25519", "-f"])
            .arg(&path),
        b"",
        RUN_TIMEOUT,
    );
    assert!(out.status.success(), "ssh-keygen: {}", out.stderr);
    path
}

/// Runs `program args -f config`.
fn check(program: &Path, args: &[&str], config: &Path) -> Output {
    run(
        Command::new(program).args(args).arg("-f").arg(config),
        b"",
        RUN_TIMEOUT,
    )
}

#[test]
fn dash_t_accepts_a_good_config_and_names_the_bad_line_as_sshd_does() {
    if !require_peer("sshd") || !require_peer("ssh-keygen") {
        return;
    }
    let sshd = find_program("sshd").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = host_key(dir.path());
    let head = format!("HostKey {}\nPort 2222\n", key.display());
    let configs = [
        (
            "good",
            "PermitRootLogin no\nMatch User nobody\n  ForceCommand true\n",
        ),
        ("unknown", "PasswordAuthentication no\nNoSuchKeyword yes\n"),
        ("bad-value", "PermitRootLogin maybe\n"),
        ("not-in-match", "Match User nobody\n  Port 23\n"),
    ];
    for (name, body) in configs {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{head}{body}")).unwrap();
        let ours = check(Path::new(OXSSHD), &["-t"], &path);
        let theirs = check(&sshd, &["-t"], &path);
        let expected = if name == "good" { 0 } else { 255 };
        assert_eq!(
            theirs.code(),
            Some(expected),
            "sshd -t {name}: {}",
            theirs.stderr
        );
        assert_eq!(
            ours.code(),
            Some(expected),
            "oxsshd -t {name}: {}",
            ours.stderr
        );
        assert_eq!(ours.stdout, "");
        // sshd ends lines on stderr with `\r\n` (its log may share a raw terminal).
        assert_eq!(ours.stderr, text(&theirs.stderr), "{name}");
        if name != "good" {
            assert!(ours.stderr.contains(" line "), "{name}: {}", ours.stderr);
        }
    }
}

#[test]
fn dash_capital_t_dumps_the_config_for_a_connection_as_sshd_does() {
    if !require_peer("sshd") || !require_peer("ssh-keygen") {
        return;
    }
    let sshd = find_program("sshd").unwrap();
    test_user();
    let dir = tempfile::tempdir().unwrap();
    let key = host_key(dir.path());
    let config = dir.path().join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "HostKey {}\nPort 2200\nListenAddress 127.0.0.1\nPermitRootLogin no\n\
             MaxAuthTries 3\nLoginGraceTime 45\nMaxStartups 5:20:50\n\
             Ciphers aes256-gcm@openssh.com,aes128-ctr\nKexAlgorithms curve25519-sha256\n\
             AcceptEnv LANG LC_*\nMatch User {TEST_USER}\n  PasswordAuthentication no\n  \
             ForceCommand echo matched\n  MaxSessions 2\n",
            key.display()
        ),
    )
    .unwrap();
    let keywords = [
        "port",
        "listenaddress",
        "permitrootlogin",
        "maxauthtries",
        "logingracetime",
        "maxstartups",
        "ciphers",
        "kexalgorithms",
        "acceptenv",
        "passwordauthentication",
        "forcecommand",
        "maxsessions",
        "usepam",
        "pubkeyauthentication",
    ];
    let pick = |dump: &str| -> Vec<String> {
        let mut lines: Vec<String> = dump
            .lines()
            .filter(|l| keywords.contains(&l.split(' ').next().unwrap_or("")))
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    for user in [TEST_USER, "nobody"] {
        let spec = format!("user={user},host=localhost,addr=127.0.0.1,laddr=127.0.0.1,lport=2200");
        let ours = check(Path::new(OXSSHD), &["-T", "-C", &spec], &config);
        let theirs = check(&sshd, &["-T", "-C", &spec], &config);
        assert_eq!(theirs.code(), Some(0), "sshd -T: {}", theirs.stderr);
        assert_eq!(ours.code(), Some(0), "oxsshd -T: {}", ours.stderr);
        let expected = pick(&theirs.stdout);
        assert!(expected.len() >= keywords.len(), "{expected:?}");
        assert_eq!(pick(&ours.stdout), expected, "-C {spec}");
    }
}

#[test]
fn command_line_options_override_the_file_as_sshd_lets_them() {
    if !require_peer("sshd") || !require_peer("ssh-keygen") {
        return;
    }
    let sshd = find_program("sshd").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = host_key(dir.path());
    let config = dir.path().join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "HostKey {}\nPort 2200\nLoginGraceTime 45\nMaxAuthTries 3\nUseDNS yes\n",
            key.display()
        ),
    )
    .unwrap();
    let keywords = [
        "port",
        "logingracetime",
        "maxauthtries",
        "usedns",
        "addressfamily",
    ];
    let pick = |dump: &str| -> Vec<String> {
        dump.lines()
            .filter(|l| keywords.contains(&l.split(' ').next().unwrap_or("")))
            .map(str::to_owned)
            .collect()
    };
    let runs: [&[&str]; 3] = [
        &[
            "-T",
            "-o",
            "MaxAuthTries=5",
            "-oUseDNS no",
            "-o",
            "Port 2201",
        ],
        // -g, -4 and -6 win over -o and the file; the last of -4/-6 wins.
        &["-T", "-o", "LoginGraceTime 5", "-g", "7", "-4", "-6"],
        &["-t", "-o", "NoSuchOption=1"],
    ];
    for args in runs {
        let ours = check(Path::new(OXSSHD), args, &config);
        let theirs = check(&sshd, args, &config);
        assert_eq!(ours.stderr, text(&theirs.stderr), "{args:?}");
        if args[0] == "-T" {
            assert_eq!(theirs.code(), Some(0), "sshd {args:?}: {}", theirs.stderr);
            assert_eq!(ours.code(), Some(0), "oxsshd {args:?}: {}", ours.stderr);
            assert_eq!(pick(&ours.stdout), pick(&theirs.stdout), "{args:?}");
        } else {
            assert_ne!(ours.code(), Some(0));
            assert!(
                ours.stderr.contains("command-line: line 0"),
                "{}",
                ours.stderr
            );
        }
    }
}

/// The daemon's PID, from its PID file.
fn daemon_pid(peer: &Peer) -> String {
    std::fs::read_to_string(peer.dir().join("peer.pid"))
        .unwrap()
        .trim()
        .to_owned()
}

/// Sends `signal` to the daemon we started (by the PID it wrote).
fn signal(peer: &Peer, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(daemon_pid(peer))
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal}");
}

/// Starts `ssh` running `remote` in the background; the test waits for it later.
fn background_session(f: &Fixture, remote: &str) -> Running {
    spawn_quiet(&mut f.openssh().option("LogLevel=ERROR").command(Some(remote)))
}

/// Waits for a background ssh and returns its exit code and stdout.
fn finish(mut session: Running) -> (Option<i32>, String) {
    let mut status = None;
    wait_until("the open session to finish", CLIENT_TIMEOUT, || {
        status = session.try_wait().unwrap();
        status.is_some()
    });
    let mut stdout = String::new();
    session
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    (status.unwrap().code(), stdout)
}

#[test]
fn pid_file_names_the_running_daemon() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    let pid = daemon_pid(&f.peer);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(cmdline.starts_with(OXSSHD), "{cmdline}");
    assert!(
        cmdline.contains(&f.peer.dir().join("sshd_config").display().to_string()),
        "{cmdline}"
    );
}

#[test]
fn sighup_reloads_the_config_for_new_connections_while_a_session_runs_on() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    let before = f.openssh().run("echo free", b"");
    assert_exit(&before, 0, &f.peer);
    assert_eq!(before.stdout, "free\n");
    let open = background_session(&f, "echo started; sleep 2; echo finished; exit 4");
    wait_until("the session to start", CLIENT_TIMEOUT, || {
        f.peer.log().matches("Starting session: command").count() == 2
    });
    // Keywords keep their first value: a line at the top wins.
    let config = f.peer.dir().join("sshd_config");
    let old = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("ForceCommand echo reloaded\n{old}")).unwrap();
    signal(&f.peer, "HUP");
    wait_until("the reload", CLIENT_TIMEOUT, || {
        f.peer.log().contains("Received SIGHUP")
    });
    let after = f.openssh().run("echo free", b"");
    assert_exit(&after, 0, &f.peer);
    assert_eq!(after.stdout, "reloaded\n");
    assert_eq!(finish(open), (Some(4), "started\nfinished\n".to_owned()));
    // A broken file is refused and the last good configuration stays.
    std::fs::write(&config, format!("NoSuchKeyword yes\n{old}")).unwrap();
    signal(&f.peer, "HUP");
    wait_until("the refused reload", CLIENT_TIMEOUT, || {
        f.peer.log().contains("keeping the old one")
    });
    let kept = f.openssh().run("echo free", b"");
    assert_exit(&kept, 0, &f.peer);
    assert_eq!(kept.stdout, "reloaded\n");
}

#[test]
fn sigterm_stops_accepting_and_lets_a_running_session_finish() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    let pid = daemon_pid(&f.peer);
    let open = background_session(&f, "echo started; sleep 2; echo finished; exit 6");
    wait_until("the session to start", CLIENT_TIMEOUT, || {
        f.peer.log().contains("Starting session: command")
    });
    signal(&f.peer, "TERM");
    wait_until("the listener to close", CLIENT_TIMEOUT, || {
        TcpStream::connect(f.peer.addr()).is_err()
    });
    assert_eq!(finish(open), (Some(6), "started\nfinished\n".to_owned()));
    // Then the daemon exits and removes its PID file.
    let gone = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |stat| stat.split(' ').nth(2) == Some("Z"))
    };
    wait_until("the daemon to exit", CLIENT_TIMEOUT, gone);
    assert!(
        !f.peer.dir().join("peer.pid").exists(),
        "PID file left behind"
    );
}

#[test]
fn inetd_mode_serves_ssh_through_proxy_command() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    let log = f.client.path().join("inetd.log");
    let proxy = shell_line(
        Command::new(OXSSHD)
            .arg("-i")
            .arg("-f")
            .arg(f.peer.dir().join("sshd_config"))
            .arg("-E")
            .arg(&log),
    );
    let out = f
        .openssh()
        .option(&format!("ProxyCommand={proxy}"))
        .option("LogLevel=ERROR")
        .run("id -un; echo \"$HOME\"", b"");
    assert_exit(&out, 0, &f.peer);
    assert_eq!(out.stdout, format!("{TEST_USER}\n/tmp/{TEST_USER}-home\n"));
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(
        written.contains(&format!("Accepted publickey for {TEST_USER}")),
        "{written}"
    );
    // The listening daemon saw none of it.
    assert!(
        !f.peer.log().contains("Accepted publickey"),
        "{}",
        f.peer.log()
    );
}
