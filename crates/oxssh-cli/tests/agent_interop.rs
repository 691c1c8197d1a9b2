//! `oxssh-agent` and `oxssh-add` against OpenSSH's `ssh-add`, `ssh-agent`, `ssh` and
//! `sshd`: the same session of `ssh-add` commands gives the same output and exit codes
//! whichever agent and whichever client run it; `ssh` logs in with keys held only by
//! `oxssh-agent`; broken clients and other users are refused while others are served.
//! Every agent started here is killed by its pid when the test ends, also on failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::client::{wait_until, ClientDir, Ssh};
use support::openssh::{sshd_opts, Fixture};
use support::users::{test_user, TEST_USER};
use support::{require_peer, run, HostKey, RUN_TIMEOUT};

const OXSSH_AGENT: &str = env!("CARGO_BIN_EXE_oxssh-agent");
const OXSSH_ADD: &str = env!("CARGO_BIN_EXE_oxssh-add");

/// A foreground agent (`-D -a socket`), killed by its pid on drop.
struct Agent {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    fn start(program: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let child = Command::new(program)
            .args(extra)
            .arg("-a")
            .arg(&socket)
            .env_remove("SSH_ASKPASS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        let agent = Self {
            child,
            socket,
            _dir: dir,
        };
        wait_until("the agent socket", Duration::from_secs(10), || {
            UnixStream::connect(&agent.socket).is_ok()
        });
        agent
    }

    /// `oxssh-agent -D`, or `-d` (foreground with debug output, which excludes `-D`).
    fn oxssh(extra: &[&str]) -> Self {
        let mut args = if extra.contains(&"-d") {
            vec![]
        } else {
            vec!["-D"]
        };
        args.extend_from_slice(extra);
        Self::start(OXSSH_AGENT, &args)
    }

    fn openssh() -> Self {
        Self::start("ssh-agent", &["-D"])
    }

    /// Stops the agent and returns what it logged on stderr.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut log = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut log);
        }
        log
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Keys made by ssh-keygen, and askpass programs.
struct Keys {
    client: ClientDir,
    files: Vec<PathBuf>,
    protected: PathBuf,
}

fn keys() -> Keys {
    let client = ClientDir::new();
    let files = vec![
        client.key("k_ed25519", HostKey::Ed25519, None).path,
        client.key("k_ecdsa", HostKey::EcdsaP384, None).path,
        client.key("k_rsa", HostKey::Rsa, None).path,
    ];
    let protected = client.key("k_protected", HostKey::Ed25519, Some("pw")).path;
    Keys {
        client,
        files,
        protected,
    }
}

fn askpass(dir: &Path, name: &str, answer: &str) -> PathBuf {
    let script = dir.join(name);
    std::fs::write(&script, format!("#!/bin/sh\nprintf '%s\\n' '{answer}'\n")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// Runs `client args` against `socket` in `dir`; the transcript line of one step.
fn step(client: &str, socket: &Path, dir: &Path, args: &[&str], pass: Option<&Path>) -> String {
    let mut cmd = Command::new(client);
    cmd.args(args)
        .current_dir(dir)
        .env("SSH_AUTH_SOCK", socket)
        .env("HOME", dir)
        .env_remove("DISPLAY");
    match pass {
        Some(askpass) => {
            cmd.env("SSH_ASKPASS", askpass)
                .env("SSH_ASKPASS_REQUIRE", "force");
        }
        None => {
            cmd.env_remove("SSH_ASKPASS");
        }
    }
    let out = run(&mut cmd, b"", RUN_TIMEOUT);
    format!(
        "$ ssh-add {}\n{}{}[exit {:?}]\n",
        args.join(" "),
        out.stdout,
        out.stderr,
        out.code()
    )
}

/// One session of adds, lists, removals, lock and lifetime; its full transcript.
fn session(client: &str, socket: &Path, keys: &Keys) -> String {
    let dir = keys.client.path();
    let right = askpass(dir, "askpass-right", "pw");
    let wrong = askpass(dir, "askpass-wrong", "nope");
    let name = |p: &PathBuf| p.file_name().unwrap().to_str().unwrap().to_owned();
    let files: Vec<String> = keys.files.iter().map(name).collect();
    let protected = name(&keys.protected);
    let s = |args: &[&str], pass: Option<&Path>| step(client, socket, dir, args, pass);
    let mut t = String::new();
    t += &s(&["-l"], None);
    for file in &files {
        t += &s(&[file], None);
    }
    t += &s(&[&protected], Some(&right));
    t += &s(&["-l"], None);
    t += &s(&["-l", "-E", "md5"], None);
    t += &s(&["-L"], None);
    t += &s(&["-d", &files[1]], None);
    t += &s(&["-d", &files[1]], None);
    t += &s(&["-l"], None);
    t += &s(&["-x"], Some(&right));
    t += &s(&["-l"], None);
    t += &s(&["-X"], Some(&wrong));
    t += &s(&["-l"], None);
    t += &s(&["-X"], Some(&right));
    t += &s(&["-l"], None);
    t += &s(&["-D"], None);
    t += &s(&["-l"], None);
    t += &s(&["-t", "2", &files[0]], None);
    t += &s(&["-t", "1h", &files[2]], None);
    t += &s(&["-l"], None);
    std::thread::sleep(Duration::from_millis(3500));
    t += &s(&["-l"], None);
    t
}

fn peers() -> bool {
    require_peer("ssh-agent") && require_peer("ssh-add") && require_peer("ssh-keygen")
}

#[test]
fn ssh_add_drives_oxssh_agent_exactly_as_it_drives_openssh_agent() {
    if !peers() {
        return;
    }
    let keys = keys();
    let theirs = Agent::openssh();
    let expected = session("ssh-add", &theirs.socket, &keys);
    drop(theirs);
    let ours = Agent::oxssh(&[]);
    let got = session("ssh-add", &ours.socket, &keys);
    assert_eq!(got, expected);
    assert!(
        got.contains("Identity added: k_protected (k_protected)"),
        "{got}"
    );
    assert!(got.contains("Agent locked."), "{got}");
}

#[test]
fn oxssh_add_drives_openssh_agent_exactly_as_ssh_add_does() {
    if !peers() {
        return;
    }
    let keys = keys();
    let theirs = Agent::openssh();
    let expected = session("ssh-add", &theirs.socket, &keys);
    drop(theirs);
    let theirs = Agent::openssh();
    let got = session(OXSSH_ADD, &theirs.socket, &keys);
    assert_eq!(got, expected);
    drop(theirs);
    // And both of ours together.
    let ours = Agent::oxssh(&[]);
    assert_eq!(session(OXSSH_ADD, &ours.socket, &keys), expected);
}

#[test]
fn add_without_an_agent_fails_as_ssh_add_does() {
    if !peers() {
        return;
    }
    for program in ["ssh-add", OXSSH_ADD] {
        let out = run(
            Command::new(program).arg("-l").env_remove("SSH_AUTH_SOCK"),
            b"",
            RUN_TIMEOUT,
        );
        assert_eq!(out.code(), Some(2), "{program}");
        assert_eq!(
            out.stderr,
            "Could not open a connection to your authentication agent.\n"
        );
    }
}

#[test]
fn confirm_constraint_is_refused_without_askpass() {
    if !peers() {
        return;
    }
    let keys = keys();
    let ours = Agent::oxssh(&[]);
    let file = keys.files[0].file_name().unwrap().to_str().unwrap();
    let t = step(
        "ssh-add",
        &ours.socket,
        keys.client.path(),
        &["-c", file],
        None,
    );
    assert!(
        t.contains("Could not add identity \"k_ed25519\": agent refused operation"),
        "{t}"
    );
    let log = ours.stop();
    assert!(log.contains("confirmation (-c) needs SSH_ASKPASS"), "{log}");
}

#[test]
fn ssh_logs_in_to_sshd_with_keys_held_only_by_oxssh_agent() {
    if !peers() || !require_peer("ssh") {
        return;
    }
    let Some(mut fx) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    // A second server with an RSA key authorised, for rsa-sha2-512.
    let rsa = fx.client.key("id_rsa_agent", HostKey::Rsa, None);
    let mut opts = sshd_opts(&[]);
    opts.authorized_keys.push(rsa.public.clone());
    opts.authorized_keys.push(fx.key.public.clone());
    fx.peer = support::start_sshd(&opts);
    let agent = Agent::oxssh(&["-d"]);
    for key in [&fx.key.path, &rsa.path] {
        let out = run(
            Command::new("ssh-add")
                .arg(key)
                .env("SSH_AUTH_SOCK", &agent.socket),
            b"",
            RUN_TIMEOUT,
        );
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
    }
    let ssh = |algorithms: &str| {
        Ssh::openssh(&fx.client, &fx.peer, TEST_USER)
            .env("SSH_AUTH_SOCK", &agent.socket)
            .option(&format!("PubkeyAcceptedAlgorithms={algorithms}"))
            .run("echo logged-in", b"")
    };
    let out = ssh("ssh-ed25519");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "logged-in\n");
    let out = ssh("rsa-sha2-512");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "logged-in\n");
    // Our client signs through our agent too.
    let out = Ssh::oxssh(&fx.client, &fx.peer, TEST_USER)
        .env("SSH_AUTH_SOCK", &agent.socket)
        .run("echo logged-in", b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "logged-in\n");
    let log = agent.stop();
    assert!(
        log.contains("flags 4"),
        "no rsa-sha2-512 sign request:\n{log}"
    );
    assert!(log.contains("session bound"), "no session-bind:\n{log}");
    let _ = test_user();
}

fn raw_request(stream: &mut UnixStream, frame: &[u8]) -> Vec<u8> {
    stream.write_all(frame).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.len() >= 4
            && answer.len() >= 4 + u32::from_be_bytes(answer[..4].try_into().unwrap()) as usize
        {
            break;
        }
    }
    answer
}

fn identities_ok(socket: &Path) -> bool {
    let out = run(
        Command::new("ssh-add")
            .arg("-l")
            .env("SSH_AUTH_SOCK", socket),
        b"",
        RUN_TIMEOUT,
    );
    out.code() == Some(1) && out.stdout == "The agent has no identities.\n"
}

#[test]
fn garbage_and_oversized_frames_drop_only_that_client() {
    if !peers() {
        return;
    }
    let agent = Agent::oxssh(&[]);
    // A client stalled half-way through a frame does not block the others.
    let mut stalled = UnixStream::connect(&agent.socket).unwrap();
    stalled.write_all(&[0, 0, 0, 10, 11]).unwrap();
    for frame in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &[0x40, 0, 0, 0, 11][..],
        &[0xff, 0xff, 0xff, 0xff][..],
        &[0, 0, 0, 0][..],
    ] {
        let mut client = UnixStream::connect(&agent.socket).unwrap();
        assert_eq!(raw_request(&mut client, frame), b"", "{frame:?}");
        assert!(identities_ok(&agent.socket));
    }
    let mut client = UnixStream::connect(&agent.socket).unwrap();
    // An unknown message and a truncated sign request: FAILURE, and the client stays.
    assert_eq!(
        raw_request(&mut client, &[0, 0, 0, 1, 200]),
        [0, 0, 0, 1, 5]
    );
    assert_eq!(
        raw_request(&mut client, &[0, 0, 0, 6, 13, 0, 0, 0, 9, 1]),
        [0, 0, 0, 1, 5]
    );
    assert_eq!(
        raw_request(&mut client, &[0, 0, 0, 1, 11]),
        [0, 0, 0, 5, 12, 0, 0, 0, 0]
    );
    assert!(identities_ok(&agent.socket));
    drop(stalled);
}

#[test]
fn a_client_of_another_uid_is_refused() {
    if !peers() || !require_peer("runuser") {
        return;
    }
    let user = test_user();
    let agent = Agent::oxssh(&["-d"]);
    // Make the socket reachable for the test; the uid check must refuse the peer.
    std::fs::set_permissions(agent._dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&agent.socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = run(
        Command::new("runuser")
            .args(["-u", user, "--", "ssh-add", "-l"])
            .env("SSH_AUTH_SOCK", &agent.socket),
        b"",
        RUN_TIMEOUT,
    );
    assert_ne!(out.code(), Some(0), "{}", out.stdout);
    assert!(!out.stdout.contains("no identities"), "{}", out.stdout);
    assert!(identities_ok(&agent.socket));
    let log = agent.stop();
    assert!(log.contains("uid mismatch"), "{log}");
}

/// An agent started in the background (`oxssh-agent -s`), killed by pid on drop.
struct Background(i32);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

fn alive(pid: i32) -> bool {
    // A zombie would still answer kill(0); our background agents are not our children.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

#[test]
fn background_agent_prints_shell_lines_and_dies_with_k() {
    if !peers() {
        return;
    }
    let out = run(Command::new(OXSSH_AGENT).arg("-s"), b"", RUN_TIMEOUT);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    let socket = lines[0]
        .strip_prefix("SSH_AUTH_SOCK=")
        .and_then(|l| l.strip_suffix("; export SSH_AUTH_SOCK;"))
        .unwrap();
    let pid: i32 = lines[1]
        .strip_prefix("SSH_AGENT_PID=")
        .and_then(|l| l.strip_suffix("; export SSH_AGENT_PID;"))
        .unwrap()
        .parse()
        .unwrap();
    let _guard = Background(pid);
    assert_eq!(lines[2], format!("echo Agent pid {pid};"));
    let socket = PathBuf::from(socket);
    let dir = socket.parent().unwrap();
    let name = dir.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("ssh-") && name.len() == 14, "{name}");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(dir).unwrap().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(&socket).unwrap().mode() & 0o777, 0o600);
    assert!(identities_ok(&socket));
    let csh = run(
        Command::new(OXSSH_AGENT)
            .args(["-c", "-k"])
            .env("SSH_AGENT_PID", pid.to_string()),
        b"",
        RUN_TIMEOUT,
    );
    assert_eq!(
        csh.stdout,
        format!("unsetenv SSH_AUTH_SOCK;\nunsetenv SSH_AGENT_PID;\necho Agent pid {pid} killed;\n")
    );
    wait_until("the agent to exit", Duration::from_secs(10), || !alive(pid));
    assert!(!dir.exists(), "socket directory left behind");
}

#[test]
fn agent_runs_a_command_with_the_variables_and_exits_with_its_status() {
    if !peers() {
        return;
    }
    let out = run(
        Command::new(OXSSH_AGENT).args(["sh", "-c", "ssh-add -l; echo pid=$SSH_AGENT_PID; exit 3"]),
        b"",
        RUN_TIMEOUT,
    );
    assert_eq!(out.code(), Some(3), "{}", out.stderr);
    assert!(
        out.stdout.starts_with("The agent has no identities.\npid="),
        "{}",
        out.stdout
    );
    let pid: i32 = out
        .stdout
        .trim_end()
        .rsplit('=')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let _guard = Background(pid);
    wait_until(
        "the agent to follow its parent",
        Duration::from_secs(10),
        || !alive(pid),
    );
}

/// A foreground `oxssh-agent` with `SSH_ASKPASS` set in its environment.
fn oxssh_agent_with_askpass(askpass: &Path) -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let child = Command::new(OXSSH_AGENT)
        .arg("-d")
        .arg("-a")
        .arg(&socket)
        .env("SSH_ASKPASS", askpass)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let agent = Agent {
        child,
        socket,
        _dir: dir,
    };
    wait_until("the agent socket", Duration::from_secs(10), || {
        UnixStream::connect(&agent.socket).is_ok()
    });
    agent
}

#[test]
fn confirmed_keys_sign_only_when_askpass_allows() {
    if !peers() || !require_peer("ssh-keygen") {
        return;
    }
    let keys = keys();
    let dir = keys.client.path();
    let allow = dir.join("allow");
    std::fs::write(&allow, "#!/bin/sh\n[ \"$SSH_ASKPASS_PROMPT\" = confirm ] || exit 1\nprintf '%s\\n' \"$1\" >> \"$0.log\"\ncat allow.answer 2>/dev/null; exit $(cat \"$0.status\")\n").unwrap();
    std::fs::set_permissions(&allow, std::fs::Permissions::from_mode(0o755)).unwrap();
    let agent = oxssh_agent_with_askpass(&allow);
    let file = keys.files[0].file_name().unwrap().to_str().unwrap();
    let t = step("ssh-add", &agent.socket, dir, &["-c", file], None);
    assert!(
        t.contains("The user must confirm each use of the key"),
        "{t}"
    );
    // `ssh-keygen -Y sign` with the agent-held key signs through the agent.
    let public = format!("{}.pub", keys.files[0].display());
    std::fs::write(dir.join("msg"), "hello").unwrap();
    let sign = |status: &str| {
        std::fs::write(dir.join("allow.status"), status).unwrap();
        let _ = std::fs::remove_file(dir.join("msg.sig"));
        run(
            Command::new("ssh-keygen")
                .args(["-Y", "sign", "-n", "file", "-f", &public, "msg"])
                .current_dir(dir)
                .env("SSH_AUTH_SOCK", &agent.socket),
            b"",
            RUN_TIMEOUT,
        )
    };
    let refused = sign("1");
    assert_ne!(refused.code(), Some(0), "{}", refused.stderr);
    let allowed = sign("0");
    assert_eq!(allowed.code(), Some(0), "{}", allowed.stderr);
    let asked = std::fs::read_to_string(dir.join("allow.log")).unwrap();
    assert!(
        asked.starts_with("Allow use of key k_ed25519?\nKey fingerprint SHA256:"),
        "{asked}"
    );
}

/// A user of our own for the default-key test: ssh-add reads `~/.ssh` from the
/// password database, so the keys must live in a real account's home.
const DEFAULT_KEYS_USER: &str = "oxssh-addtest";

fn default_keys_user() -> Option<(u32, u32, PathBuf)> {
    let script = format!(
        "id {DEFAULT_KEYS_USER} >/dev/null 2>&1 || useradd --create-home \
         --home-dir /tmp/{DEFAULT_KEYS_USER}-home --shell /bin/sh {DEFAULT_KEYS_USER}"
    );
    let _ = run(Command::new("sh").args(["-c", &script]), b"", RUN_TIMEOUT);
    let user = nix::unistd::User::from_name(DEFAULT_KEYS_USER)
        .ok()
        .flatten()?;
    Some((user.uid.as_raw(), user.gid.as_raw(), user.dir))
}

/// `program args` as `ids` (std's safe set-id spawn) in `dir`, with `socket`; `HOME`
/// points elsewhere, as ssh-add must not read it.
fn as_user(program: &str, args: &[&str], ids: (u32, u32), dir: &Path, socket: &Path) -> String {
    use std::os::unix::process::CommandExt;
    let out = run(
        Command::new(program)
            .args(args)
            .uid(ids.0)
            .gid(ids.1)
            .current_dir(dir)
            .env("HOME", "/nonexistent")
            .env("SSH_AUTH_SOCK", socket)
            .env_remove("SSH_ASKPASS"),
        b"",
        RUN_TIMEOUT,
    );
    format!(
        "$ add {}\n{}{}[exit {:?}]\n",
        args.join(" "),
        out.stdout,
        out.stderr,
        out.code()
    )
}

/// `program -D -a socket` as `ids`, killed by its pid on drop.
fn agent_as_user(program: &str, ids: (u32, u32), socket: &Path) -> Agent {
    use std::os::unix::process::CommandExt;
    let child = Command::new(program)
        .args(["-D", "-a"])
        .arg(socket)
        .uid(ids.0)
        .gid(ids.1)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let agent = Agent {
        child,
        socket: socket.to_path_buf(),
        _dir: tempfile::tempdir().unwrap(),
    };
    wait_until("the agent socket", Duration::from_secs(10), || {
        UnixStream::connect(&agent.socket).is_ok()
    });
    agent
}

#[test]
fn default_keys_are_added_as_ssh_add_adds_them() {
    if !peers() {
        return;
    }
    let Some((uid, gid, home)) = default_keys_user() else {
        panic!("cannot create {DEFAULT_KEYS_USER} (run as root)");
    };
    let ids = (uid, gid);
    let ssh_dir = home.join(".ssh");
    let _ = std::fs::remove_dir_all(&ssh_dir);
    let transcript = |program: &str, agent: &str| {
        let socket = home.join(format!("agent.{}", std::process::id()));
        let _ = std::fs::remove_file(&socket);
        let agent = agent_as_user(agent, ids, &socket);
        let mut t = as_user(program, &[], ids, &home, &agent.socket);
        t += &as_user(program, &["-l"], ids, &home, &agent.socket);
        drop(agent);
        let _ = std::fs::remove_file(&socket);
        t
    };
    // No default key at all: nothing added, exit 1, as ssh-add.
    let expected = transcript("ssh-add", "ssh-agent");
    assert_eq!(transcript(OXSSH_ADD, OXSSH_AGENT), expected);
    std::fs::create_dir(&ssh_dir).unwrap();
    for (name, kind) in [("id_ed25519", "ed25519"), ("id_ecdsa", "ecdsa")] {
        let out = run(
            Command::new("ssh-keygen")
                .args(["-q", "-N", "", "-C", name, "-t", kind, "-f"])
                .arg(ssh_dir.join(name)),
            b"",
            RUN_TIMEOUT,
        );
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
    }
    let chown = run(
        Command::new("chown")
            .args(["-R", &format!("{uid}:{gid}")])
            .arg(&ssh_dir),
        b"",
        RUN_TIMEOUT,
    );
    assert_eq!(chown.code(), Some(0));
    let expected = transcript("ssh-add", "ssh-agent");
    assert!(expected.contains("Identity added: "), "{expected}");
    assert_eq!(transcript(OXSSH_ADD, OXSSH_AGENT), expected);
    let _ = std::fs::remove_dir_all(&ssh_dir);
}

#[test]
fn agent_default_lifetime_applies_to_keys_added_without_one() {
    if !peers() {
        return;
    }
    let keys = keys();
    let agent = Agent::oxssh(&["-t", "2"]);
    let file = keys.files[0].file_name().unwrap().to_str().unwrap();
    step("ssh-add", &agent.socket, keys.client.path(), &[file], None);
    let listed = step("ssh-add", &agent.socket, keys.client.path(), &["-l"], None);
    assert!(listed.contains("(ED25519)"), "{listed}");
    std::thread::sleep(Duration::from_millis(3500));
    assert!(identities_ok(&agent.socket));
}

/// Output with our program names replaced by OpenSSH's and usage indentation dropped
/// (our names are longer), for comparing refusals.
fn normalised(program: &str, text: &str) -> String {
    text.replace(&format!("ox{program}"), program)
        .split('\n')
        .map(|line| line.trim_start_matches(' '))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn bad_flags_are_refused_with_openssh_wording_and_codes() {
    if !peers() {
        return;
    }
    let agent = Agent::openssh();
    let keys = keys();
    let dir = keys.client.path();
    let file = keys.files[0].file_name().unwrap().to_str().unwrap();
    for args in [
        &["-Q"][..],
        &["-t"],
        &["-t", "xx", file],
        &["-E", "foo", "-l"],
        &["-d", "missing"],
        &["missing"],
    ] {
        let theirs = step("ssh-add", &agent.socket, dir, args, None);
        let ours = step(OXSSH_ADD, &agent.socket, dir, args, None);
        assert_eq!(
            normalised("ssh-add", &ours),
            normalised("ssh-add", &theirs),
            "{args:?}"
        );
    }
    for args in [
        &["-Q"][..],
        &["-t"],
        &["-t", "xx"],
        &["-a"],
        &["-c", "-s"],
        &["-k", "sh"],
        &["-D", "-d"],
    ] {
        let theirs = run(Command::new("ssh-agent").args(args), b"", RUN_TIMEOUT);
        let ours = run(Command::new(OXSSH_AGENT).args(args), b"", RUN_TIMEOUT);
        assert_eq!(ours.code(), theirs.code(), "{args:?}");
        assert_eq!(
            normalised("ssh-agent", &ours.stderr),
            normalised("ssh-agent", &theirs.stderr),
            "{args:?}"
        );
    }
    // -k without SSH_AGENT_PID.
    let theirs = run(
        Command::new("ssh-agent")
            .arg("-k")
            .env_remove("SSH_AGENT_PID"),
        b"",
        RUN_TIMEOUT,
    );
    let ours = run(
        Command::new(OXSSH_AGENT)
            .arg("-k")
            .env_remove("SSH_AGENT_PID"),
        b"",
        RUN_TIMEOUT,
    );
    assert_eq!((ours.code(), ours.stderr), (theirs.code(), theirs.stderr));
}
