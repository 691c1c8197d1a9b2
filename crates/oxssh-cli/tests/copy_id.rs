//! `oxssh-copy-id` against OpenSSH's sshd and against oxsshd (both as root, password
//! logins through PAM typed by `sshpass`), each scenario also run with OpenSSH 9.2's own
//! `ssh-copy-id` (over OpenSSH's `ssh`) so the two programs' stdout, stderr and exit
//! codes compare line by line, modulo the program name.
//!
//! Each server direction installs keys for an account of its own, so parallel tests
//! never touch each other's `~/.ssh`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use support::agent::Agent;
use support::client::{public_path, CLIENT_TIMEOUT, OXSSH};
use support::openssh::{host_name, sshd_opts};
use support::users::{own_password_user, PASSWORD};
use support::{find_program, require_peer, run, start_oxsshd, start_sshd, Output, Peer};

/// The program under test.
const OXSSH_COPY_ID: &str = env!("CARGO_BIN_EXE_oxssh-copy-id");

/// Which server the keys are installed on.
#[derive(Debug, Clone, Copy)]
enum Server {
    OpenSsh,
    Oxsshd,
}

/// A server, an account on it, and a client home holding two fresh keys.
struct Scene {
    peer: Peer,
    user: &'static str,
    client: tempfile::TempDir,
    k1: PathBuf,
    k2: PathBuf,
}

impl Scene {
    /// `None` (after a loud SKIP) when a peer program is missing.
    fn start(server: Server, user: &'static str) -> Option<Self> {
        Self::start_with(server, user, &[])
    }

    /// The same, with `extra` sshd_config lines.
    fn start_with(server: Server, user: &'static str, extra: &[&str]) -> Option<Self> {
        for program in ["ssh-keygen", "ssh", "ssh-copy-id", "sshpass"] {
            if !require_peer(program) {
                return None;
            }
        }
        if matches!(server, Server::OpenSsh) && !require_peer("sshd") {
            return None;
        }
        let user = own_password_user(user);
        let mut lines = vec!["UsePAM yes"];
        lines.extend_from_slice(extra);
        let opts = sshd_opts(&lines);
        let peer = match server {
            Server::OpenSsh => start_sshd(&opts),
            Server::Oxsshd => start_oxsshd(&opts),
        };
        let client = tempfile::tempdir().unwrap();
        let ssh_dir = client.path().join(".ssh");
        std::fs::create_dir(&ssh_dir).unwrap();
        std::fs::set_permissions(&ssh_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let host_key = std::fs::read_to_string(peer.dir().join("host_ed25519.pub")).unwrap();
        std::fs::write(
            ssh_dir.join("known_hosts"),
            format!("{} {host_key}", host_name(&peer)),
        )
        .unwrap();
        let key = |name: &str| {
            let path = ssh_dir.join(name);
            let out = run(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
                    .arg(&path),
                b"",
                CLIENT_TIMEOUT,
            );
            assert!(out.status.success(), "ssh-keygen: {}", out.stderr);
            path
        };
        let k1 = key("k1");
        let k2 = key("k2");
        Some(Self {
            peer,
            user,
            client,
            k1,
            k2,
        })
    }

    fn remote_ssh_dir(&self) -> PathBuf {
        PathBuf::from(format!("/tmp/{}-home/.ssh", self.user))
    }

    fn authorized_keys(&self) -> PathBuf {
        self.remote_ssh_dir().join("authorized_keys")
    }

    /// Removes the account's `~/.ssh`, as before a first `ssh-copy-id`.
    fn reset(&self) {
        let _ = std::fs::remove_dir_all(self.remote_ssh_dir());
    }

    /// The installed keys file (empty if none).
    fn installed(&self) -> String {
        std::fs::read_to_string(self.authorized_keys()).unwrap_or_default()
    }

    fn known_hosts(&self) -> PathBuf {
        self.client.path().join(".ssh/known_hosts")
    }

    /// `program args... -p PORT -o UserKnownHostsFile=... user@127.0.0.1` under
    /// `sshpass`, with the client's `HOME` and no agent.
    fn copy_id(&self, program: &str, args: &[&str]) -> Output {
        self.copy_id_with_agent(program, args, None)
    }

    /// The same, with `SSH_AUTH_SOCK` set to `agent` when given.
    fn copy_id_with_agent(&self, program: &str, args: &[&str], agent: Option<&Path>) -> Output {
        let mut cmd = Command::new("sshpass");
        cmd.args(["-p", PASSWORD, program])
            .args(args)
            .arg("-p")
            .arg(self.peer.port().to_string())
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                self.known_hosts().display()
            ))
            .arg(format!("{}@127.0.0.1", self.user))
            .env("HOME", self.client.path())
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("SSH_ASKPASS")
            .env_remove("DISPLAY");
        if let Some(agent) = agent {
            cmd.env("SSH_AUTH_SOCK", agent);
        }
        run(&mut cmd, b"", CLIENT_TIMEOUT)
    }

    fn ours(&self, args: &[&str]) -> Output {
        self.copy_id(OXSSH_COPY_ID, args)
    }

    fn theirs(&self, args: &[&str]) -> Output {
        let program = find_program("ssh-copy-id").unwrap();
        self.copy_id(program.to_str().unwrap(), args)
    }

    /// A password-less login with `key` alone runs `id -un`.
    fn login_with(&self, key: &Path) -> Output {
        let mut cmd = Command::new(OXSSH);
        cmd.arg("-i")
            .arg(key)
            .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o"])
            .arg(format!(
                "UserKnownHostsFile={}",
                self.known_hosts().display()
            ))
            .arg("-p")
            .arg(self.peer.port().to_string())
            .arg(format!("{}@127.0.0.1", self.user))
            .args(["id", "-un"])
            .env("HOME", self.client.path())
            .env_remove("SSH_AUTH_SOCK");
        run(&mut cmd, b"", CLIENT_TIMEOUT)
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn public_line(key: &Path) -> String {
    std::fs::read_to_string(public_path(key))
        .unwrap()
        .trim()
        .to_owned()
}

/// Output lines with either program's name replaced by `PROG`, and our closing hint's
/// `"oxssh ...` (the client we log in with) read as ssh-copy-id's `"ssh ...`.
fn normalized(text: &str) -> Vec<String> {
    let theirs = find_program("ssh-copy-id").unwrap();
    text.lines()
        .map(|line| {
            line.replace(OXSSH_COPY_ID, "PROG")
                .replace(path_str(&theirs), "PROG")
                .replace("with:   \"oxssh ", "with:   \"ssh ")
        })
        .collect()
}

#[track_caller]
fn assert_same(ours: &Output, theirs: &Output) {
    assert_eq!(
        ours.code(),
        theirs.code(),
        "exit codes differ\nours: {ours:?}\ntheirs: {theirs:?}"
    );
    assert_eq!(
        normalized(&ours.stdout),
        normalized(&theirs.stdout),
        "stdout differs"
    );
    assert_eq!(
        normalized(&ours.stderr),
        normalized(&theirs.stderr),
        "stderr differs"
    );
}

#[track_caller]
fn assert_ok(out: &Output, scene: &Scene) {
    assert_eq!(
        out.code(),
        Some(0),
        "{out:?}\nserver log:\n{}",
        scene.peer.log()
    );
}

/// The whole ssh-copy-id workflow on one server, each step compared with ssh-copy-id's.
fn copy_id_workflow(server: Server, user: &'static str) {
    let Some(s) = Scene::start(server, user) else {
        return;
    };
    let k1 = path_str(&s.k1);
    let k2 = path_str(&s.k2);
    let k1_line = public_line(&s.k1);
    let k2_line = public_line(&s.k2);

    // ssh-copy-id's output for each step, from an empty ~/.ssh.
    s.reset();
    let theirs_first = s.theirs(&["-i", k1]);
    assert_ok(&theirs_first, &s);
    let theirs_again = s.theirs(&["-i", k1]);
    let theirs_dry = s.theirs(&["-n", "-i", k2]);
    let theirs_forced = s.theirs(&["-f", "-i", k1]);
    assert_eq!(s.installed(), format!("{k1_line}\n{k1_line}\n"));

    // Ours: a new key is installed, with ~/.ssh 0700 and the file 0600, the user's.
    s.reset();
    let first = s.ours(&["-i", k1]);
    assert_ok(&first, &s);
    assert_same(&first, &theirs_first);
    assert_eq!(s.installed(), format!("{k1_line}\n"));
    let uid = run(Command::new("id").args(["-u", user]), b"", CLIENT_TIMEOUT);
    let uid: u32 = uid.stdout.trim().parse().unwrap();
    for (path, mode) in [(s.remote_ssh_dir(), 0o700), (s.authorized_keys(), 0o600)] {
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o7777, mode, "{}", path.display());
        assert_eq!(meta.uid(), uid, "{} owner", path.display());
    }

    // The key now logs in without a password.
    let login = s.login_with(&s.k1);
    assert_ok(&login, &s);
    assert_eq!(login.stdout.trim(), user);

    // Again: nothing to add, the warning, exit 0.
    let again = s.ours(&["-i", k1]);
    assert_ok(&again, &s);
    assert!(again
        .stderr
        .contains("WARNING: All keys were skipped because they already exist"));
    assert_same(&again, &theirs_again);
    assert_eq!(s.installed(), format!("{k1_line}\n"));

    // -n: what would be added, nothing changed.
    let dry = s.ours(&["-n", "-i", k2]);
    assert_ok(&dry, &s);
    assert!(dry.stdout.contains(&k2_line), "{dry:?}");
    assert_same(&dry, &theirs_dry);
    assert_eq!(s.installed(), format!("{k1_line}\n"));

    // -f: no check, a duplicate line.
    let forced = s.ours(&["-f", "-i", k1]);
    assert_ok(&forced, &s);
    assert_same(&forced, &theirs_forced);
    assert_eq!(s.installed(), format!("{k1_line}\n{k1_line}\n"));

    // A file without a final newline gets one before the new key.
    std::fs::write(s.authorized_keys(), &k1_line).unwrap();
    let added = s.ours(&["-i", k2]);
    assert_ok(&added, &s);
    assert_eq!(s.installed(), format!("{k1_line}\n{k2_line}\n"));
    assert!(added.stdout.contains("Number of key(s) added: 1"));
    assert_ok(&s.login_with(&s.k2), &s);
}

#[test]
fn copy_id_installs_missing_keys_on_openssh_sshd_as_ssh_copy_id_does() {
    copy_id_workflow(Server::OpenSsh, "oxssh-cid-sshd");
}

#[test]
fn copy_id_installs_missing_keys_on_oxsshd_as_ssh_copy_id_does() {
    copy_id_workflow(Server::Oxsshd, "oxssh-cid-oxsshd");
}

#[test]
fn keys_come_from_the_agent_else_the_newest_id_file_as_ssh_copy_id_picks_them() {
    if !require_peer("ssh-agent") || !require_peer("ssh-add") {
        return;
    }
    let Some(s) = Scene::start(Server::Oxsshd, "oxssh-cid-agent") else {
        return;
    };
    // No -i, no agent: the newest ~/.ssh/id*.pub (k1 as id_ed25519).
    let ssh_dir = s.client.path().join(".ssh");
    std::fs::copy(&s.k1, ssh_dir.join("id_ed25519")).unwrap();
    std::fs::copy(public_path(&s.k1), ssh_dir.join("id_ed25519.pub")).unwrap();
    s.reset();
    let theirs = s.theirs(&[]);
    assert_ok(&theirs, &s);
    s.reset();
    let ours = s.ours(&[]);
    assert_ok(&ours, &s);
    assert_same(&ours, &theirs);
    assert_eq!(s.installed(), format!("{}\n", public_line(&s.k1)));

    // An agent with keys wins over the files: its keys are filtered through it.
    let agent = Agent::empty("ssh-agent");
    agent.add(&s.k2);
    let real = find_program("ssh-copy-id").unwrap();
    let real = real.to_str().unwrap();
    s.reset();
    let theirs_first = s.copy_id_with_agent(real, &[], Some(&agent.socket));
    assert_ok(&theirs_first, &s);
    let theirs_again = s.copy_id_with_agent(real, &[], Some(&agent.socket));
    s.reset();
    let first = s.copy_id_with_agent(OXSSH_COPY_ID, &[], Some(&agent.socket));
    assert_ok(&first, &s);
    assert_same(&first, &theirs_first);
    let again = s.copy_id_with_agent(OXSSH_COPY_ID, &[], Some(&agent.socket));
    assert_same(&again, &theirs_again);
    let installed = s.installed();
    assert_eq!(installed.lines().count(), 1, "{installed}");
    assert!(installed.starts_with(public_line(&s.k2).rsplit_once(' ').unwrap().0));

    // Two keys in the agent, one installed: only the other is added.
    agent.add(&s.k1);
    let theirs_partial = s.copy_id_with_agent(real, &[], Some(&agent.socket));
    assert_ok(&theirs_partial, &s);
    std::fs::write(s.authorized_keys(), &installed).unwrap();
    let partial = s.copy_id_with_agent(OXSSH_COPY_ID, &[], Some(&agent.socket));
    assert_ok(&partial, &s);
    assert!(partial
        .stderr
        .contains("INFO: 1 key(s) remain to be installed"));
    assert_same(&partial, &theirs_partial);
    assert_eq!(s.installed().lines().count(), 2);
}

#[test]
fn a_password_from_ssh_askpass_installs_the_key() {
    let Some(s) = Scene::start(Server::OpenSsh, "oxssh-cid-askpass") else {
        return;
    };
    let askpass = s.client.path().join("askpass");
    std::fs::write(&askpass, format!("#!/bin/sh\necho '{PASSWORD}'\n")).unwrap();
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.reset();
    let out = run(
        Command::new(OXSSH_COPY_ID)
            .arg("-i")
            .arg(&s.k1)
            .arg("-p")
            .arg(s.peer.port().to_string())
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", s.known_hosts().display()))
            .arg(format!("{}@127.0.0.1", s.user))
            .env("HOME", s.client.path())
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env_remove("SSH_AUTH_SOCK"),
        b"",
        CLIENT_TIMEOUT,
    );
    assert_ok(&out, &s);
    assert_eq!(s.installed(), format!("{}\n", public_line(&s.k1)));
    assert_eq!(s.login_with(&s.k1).stdout.trim(), s.user);
}

#[test]
fn an_unreachable_host_fails_with_the_logins_error_as_ssh_copy_id_does() {
    if !require_peer("ssh-copy-id") || !require_peer("ssh-keygen") {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".ssh")).unwrap();
    let key = home.path().join(".ssh/k");
    let out = run(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key),
        b"",
        CLIENT_TIMEOUT,
    );
    assert!(out.status.success());
    // A port that was free a moment ago: nothing listens there.
    let port = support::free_port().to_string();
    let args = ["-i", path_str(&key), "-p", &port, "someone@127.0.0.1"];
    let theirs = find_program("ssh-copy-id").unwrap();
    let real = bare(theirs.to_str().unwrap(), &args, home.path());
    let ours = bare(OXSSH_COPY_ID, &args, home.path());
    assert_eq!(ours.code(), Some(1));
    assert!(ours
        .stderr
        .contains("ERROR: ssh: connect to host 127.0.0.1 port"));
    assert_same(&ours, &real);
}

#[test]
fn on_dropbear_keys_go_to_etc_dropbear_as_with_ssh_copy_id_9_2() {
    for program in ["dropbear", "ssh-copy-id", "ssh-keygen"] {
        if !require_peer(program) {
            return;
        }
    }
    let user = support::users::test_user();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".ssh")).unwrap();
    let key = |name: &str| {
        let path = home.path().join(".ssh").join(name);
        let out = run(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
                .arg(&path),
            b"",
            CLIENT_TIMEOUT,
        );
        assert!(out.status.success());
        path
    };
    // Dropbear takes no passwords here: the install login uses a key it already has.
    let login = key("login");
    let new = key("new");
    let _authorized = support::users::HomeAuthorizedKey::add(&public_line(&login));
    let peer = support::start_dropbear(&[support::HostKey::Ed25519]);
    let port = peer.port().to_string();
    let identity = format!("IdentityFile={}", path_str(&login));
    // -f: the filter would log in with the login key too and skip the new one.
    let args = [
        "-f",
        "-i",
        path_str(&new),
        "-p",
        &port,
        "-o",
        &identity,
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        &format!("{user}@127.0.0.1"),
    ]
    .map(str::to_owned);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let theirs = find_program("ssh-copy-id").unwrap();
    let real = bare(theirs.to_str().unwrap(), &args, home.path());
    let ours = bare(OXSSH_COPY_ID, &args, home.path());
    // As the test user, the remote command cannot create /etc/dropbear: both fail alike.
    assert_eq!(ours.code(), Some(1), "{ours:?}");
    assert!(ours.stderr.contains("/etc/dropbear"), "{ours:?}");
    assert_same(&ours, &real);
}

#[test]
fn a_signal_removes_the_scratch_directory() {
    if !require_peer("ssh-keygen") {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let ssh_dir = home.path().join(".ssh");
    std::fs::create_dir(&ssh_dir).unwrap();
    let key = ssh_dir.join("k");
    let out = run(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key),
        b"",
        CLIENT_TIMEOUT,
    );
    assert!(out.status.success());
    // A server that never speaks: the first login waits for its version line.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let mut child = Command::new(OXSSH_COPY_ID)
        .arg("-i")
        .arg(&key)
        .args(["-p", &port, "someone@127.0.0.1"])
        .env("HOME", home.path())
        .env_remove("SSH_AUTH_SOCK")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let scratch = || {
        std::fs::read_dir(&ssh_dir).unwrap().flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("oxssh-copy-id.")
        })
    };
    let deadline = std::time::Instant::now() + CLIENT_TIMEOUT;
    while !scratch() {
        assert!(std::time::Instant::now() < deadline, "no scratch directory");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let killed = run(
        Command::new("kill").args(["-TERM", &child.id().to_string()]),
        b"",
        CLIENT_TIMEOUT,
    );
    assert!(killed.status.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15));
    assert!(!scratch(), "scratch directory left behind");
    // Closing the listener ends the orphaned login.
    drop(silent);
}

/// Runs a program with arguments alone (no server needed).
fn bare(program: &str, args: &[&str], home: &Path) -> Output {
    run(
        Command::new(program)
            .args(args)
            .env("HOME", home)
            .env_remove("SSH_AUTH_SOCK"),
        b"",
        CLIENT_TIMEOUT,
    )
}

#[test]
fn usage_errors_and_missing_keys_match_ssh_copy_id() {
    if !require_peer("ssh-copy-id") {
        return;
    }
    let theirs = find_program("ssh-copy-id").unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".ssh")).unwrap();
    let missing = home.path().join("nokey");
    let pub_only = home.path().join("only");
    std::fs::write(public_path(&pub_only), "ssh-ed25519 AAAA x\n").unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["-h"],
        vec!["-z", "host"],
        vec!["host"],
        vec!["-i", path_str(&missing), "host"],
        vec!["-i", path_str(&pub_only), "host"],
        vec!["-f", "-i", path_str(&pub_only), "-i", "b", "host"],
    ];
    for args in cases {
        let ours = bare(OXSSH_COPY_ID, &args, home.path());
        let real = bare(theirs.to_str().unwrap(), &args, home.path());
        assert_eq!(ours.code(), real.code(), "{args:?}: {ours:?} vs {real:?}");
        assert_eq!(
            normalized(&ours.stdout),
            normalized(&real.stdout),
            "{args:?}"
        );
        // getopts adds its own "Illegal option" line before the usage.
        let real_err: Vec<String> = normalized(&real.stderr)
            .into_iter()
            .filter(|l| !l.contains("Illegal option"))
            .collect();
        assert_eq!(normalized(&ours.stderr), real_err, "{args:?}");
    }
}

#[test]
fn two_hosts_are_refused_naming_them() {
    // ssh-copy-id 9.2 prints "got: " and nothing (its $SAVEARGS is never set).
    let home = tempfile::tempdir().unwrap();
    let out = bare(OXSSH_COPY_ID, &["-n", "one", "two"], home.path());
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr
            .contains("ERROR: Too many arguments.  Expecting a target hostname, got: one two"),
        "{out:?}"
    );
}

#[test]
fn sftp_mode_installs_keys_through_the_sftp_subsystem() {
    let servers = [
        (
            Server::OpenSsh,
            "oxssh-cid-sftp1",
            "Subsystem sftp /usr/lib/openssh/sftp-server",
        ),
        (
            Server::Oxsshd,
            "oxssh-cid-sftp2",
            "Subsystem sftp internal-sftp",
        ),
    ];
    for (server, user, subsystem) in servers {
        let Some(s) = Scene::start_with(server, user, &[subsystem]) else {
            return;
        };
        s.reset();
        let k1_line = public_line(&s.k1);
        let first = s.ours(&["-s", "-i", path_str(&s.k1)]);
        assert_ok(&first, &s);
        assert!(
            first.stdout.contains("Number of key(s) added: 1"),
            "{first:?}"
        );
        assert_eq!(s.installed(), format!("{k1_line}\n"));
        let uid = run(Command::new("id").args(["-u", user]), b"", CLIENT_TIMEOUT);
        let uid: u32 = uid.stdout.trim().parse().unwrap();
        for (path, mode) in [(s.remote_ssh_dir(), 0o700), (s.authorized_keys(), 0o600)] {
            let meta = std::fs::metadata(&path).unwrap();
            assert_eq!(meta.mode() & 0o7777, mode, "{}", path.display());
            assert_eq!(meta.uid(), uid, "{} owner", path.display());
        }
        assert_ok(&s.login_with(&s.k1), &s);
        // A second key goes after the first, past a missing final newline.
        std::fs::write(s.authorized_keys(), &k1_line).unwrap();
        let second = s.ours(&["-s", "-i", path_str(&s.k2)]);
        assert_ok(&second, &s);
        assert_eq!(
            s.installed(),
            format!("{k1_line}\n{}\n", public_line(&s.k2))
        );
        assert_ok(&s.login_with(&s.k2), &s);
    }
}
