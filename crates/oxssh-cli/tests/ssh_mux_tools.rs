//! Tools that run `ssh` many times, with `oxssh` as their ssh and connection sharing on
//! (`ControlMaster=auto`, `ControlPersist`), against OpenSSH's sshd and oxsshd: `git
//! clone`/`push` through `GIT_SSH_COMMAND`, `rsync -e`, and Ansible's default options
//! for a run of sequential commands. Contents are compared, and the server's log must
//! show one connection and one login for the whole run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::client::{assert_exit, shell_quote, OXSSH};
use support::openssh::{both_servers, Fixture};
use support::users::TEST_USER;
use support::{require_peer, run, Output};

const LIMIT: Duration = Duration::from_secs(120);

/// The server's connections and logins so far (the harness's own readiness probe
/// counts as a connection: compare with a count taken before the run).
fn connections_and_logins(f: &Fixture) -> (usize, usize) {
    let log = f.peer.log();
    (
        log.matches("Connection from 127.0.0.1").count(),
        log.matches("Accepted publickey").count(),
    )
}

/// The counts before a run. The harness's readiness probe (one TCP connect) reaches
/// the log asynchronously: its line is waited for, briefly, so it is not counted as
/// the run's connection.
fn baseline(f: &Fixture) -> (usize, usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while connections_and_logins(f).0 == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    connections_and_logins(f)
}

/// Asserts one more connection and one more login than `before`.
fn assert_one_connection(f: &Fixture, before: (usize, usize), what: &str) {
    let (connections, logins) = connections_and_logins(f);
    assert_eq!(
        (connections - before.0, logins - before.1),
        (1, 1),
        "{what}: one connection and one login for the whole run\n{}",
        f.peer.log()
    );
}

/// A directory the test user may write in (the sessions run as that user).
fn shared_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

/// `oxssh` as a tool's ssh command, with multiplexing on, as one shell word list.
struct Shared {
    words: Vec<String>,
    port: u16,
}

impl Shared {
    fn new(f: &Fixture, persist: &str) -> Self {
        let control_path = f.client.path().join("cm-%C");
        let words = [
            OXSSH,
            "-F",
            "/dev/null",
            "-i",
            f.key.path.to_str().unwrap(),
            "-o",
            &format!("UserKnownHostsFile={}", f.client.known_hosts().display()),
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            "BatchMode=yes",
            "-o",
            "ControlMaster=auto",
            "-o",
            &format!("ControlPath={}", control_path.display()),
            "-o",
            &format!("ControlPersist={persist}"),
        ]
        .iter()
        .map(|w| (*w).to_owned())
        .collect();
        Self {
            words,
            port: f.peer.port(),
        }
    }

    fn line(&self) -> String {
        self.words
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn command(&self, f: &Fixture, remote: Option<&str>) -> Command {
        let mut cmd = Command::new(&self.words[0]);
        cmd.args(&self.words[1..])
            .args(["-p", &self.port.to_string(), "-l", TEST_USER, "127.0.0.1"])
            .env("HOME", f.client.home());
        if let Some(remote) = remote {
            cmd.arg(remote);
        }
        cmd
    }

    /// `oxssh ... remote` through the shared connection.
    fn run(&self, f: &Fixture, remote: &str, stdin: &[u8]) -> Output {
        run(&mut self.command(f, Some(remote)), stdin, LIMIT)
    }
}

impl Drop for Shared {
    /// Ends the persisted master (`-O exit`), so no background process outlives the test.
    fn drop(&mut self) {
        let mut cmd = Command::new(&self.words[0]);
        cmd.args(&self.words[1..])
            .args(["-p", &self.port.to_string(), "-l", TEST_USER])
            .args(["-O", "exit", "127.0.0.1"]);
        let _ = run(&mut cmd, b"", Duration::from_secs(20));
    }
}

/// Runs `program args` in `dir` with `env`; asserts success.
fn tool(dir: &Path, program: &str, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir).args(args);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = run(&mut cmd, b"", LIMIT);
    assert_eq!(out.code(), Some(0), "{program} {args:?}: {out:?}");
    out
}

fn write_random(path: &Path, len: usize) {
    let mut data = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut data).unwrap();
    std::fs::write(path, data).unwrap();
}

/// Every file under `dir` (relative path, SHA-256 of the contents), sorted; `.git`
/// left out.
fn tree(dir: &Path) -> Vec<(PathBuf, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_name() == ".git" {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_owned();
                let data = std::fs::read(&path).unwrap();
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &data);
                let hex = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
                out.push((rel, hex));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn git_clone_and_push_over_oxssh_with_a_shared_connection() {
    if !require_peer("git") {
        return;
    }
    for (server, f) in both_servers() {
        f.trust_host();
        let shared = Shared::new(&f, "60");
        let remote_dir = shared_dir();
        let repo = remote_dir.path().join("repo.git");
        let before = baseline(&f);
        let init = format!(
            "git init -q --bare --initial-branch=main {}",
            repo.display()
        );
        let out = shared.run(&f, &init, b"");
        assert_exit(&out, 0, &f.peer);
        let url = format!(
            "ssh://{TEST_USER}@127.0.0.1:{}{}",
            f.peer.port(),
            repo.display()
        );
        let local = tempfile::tempdir().unwrap();
        let env = [
            ("HOME", f.client.home().display().to_string()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("GIT_SSH_COMMAND", shared.line()),
            ("GIT_SSH_VARIANT", "ssh".into()),
            ("GIT_AUTHOR_NAME", "t".into()),
            ("GIT_AUTHOR_EMAIL", "t@example.org".into()),
            ("GIT_COMMITTER_NAME", "t".into()),
            ("GIT_COMMITTER_EMAIL", "t@example.org".into()),
        ];
        let work = local.path().join("work");
        std::fs::create_dir_all(work.join("sub")).unwrap();
        write_random(&work.join("big.bin"), 3 * 1024 * 1024);
        std::fs::write(work.join("sub/readme.txt"), "hello through a master\n").unwrap();
        tool(&work, "git", &["init", "-q", "-b", "main"], &env);
        tool(&work, "git", &["add", "."], &env);
        tool(&work, "git", &["commit", "-q", "-m", "first"], &env);
        tool(&work, "git", &["push", "-q", &url, "main"], &env);
        tool(local.path(), "git", &["clone", "-q", &url, "clone"], &env);
        let clone = local.path().join("clone");
        assert_eq!(tree(&clone), tree(&work), "{server}: the clone's files");
        // A second push from the clone, then a fetch back into the first tree.
        std::fs::write(clone.join("second.txt"), "pushed from the clone\n").unwrap();
        tool(&clone, "git", &["add", "."], &env);
        tool(&clone, "git", &["commit", "-q", "-m", "second"], &env);
        tool(&clone, "git", &["push", "-q", "origin", "main"], &env);
        tool(&work, "git", &["pull", "-q", &url, "main"], &env);
        assert_eq!(tree(&clone), tree(&work), "{server}: after the second push");
        let head = |dir: &Path| tool(dir, "git", &["rev-parse", "HEAD"], &env).stdout;
        assert_eq!(head(&clone), head(&work), "{server}");
        let out = shared.run(&f, &format!("git -C {} log --oneline", repo.display()), b"");
        assert_exit(&out, 0, &f.peer);
        assert_eq!(out.stdout.lines().count(), 2, "{server}: {}", out.stdout);
        assert_one_connection(&f, before, &format!("{server}: git"));
    }
}

#[test]
fn rsync_over_oxssh_with_a_shared_connection() {
    if !require_peer("rsync") {
        return;
    }
    for (server, f) in both_servers() {
        f.trust_host();
        let shared = Shared::new(&f, "60");
        let remote_dir = shared_dir();
        let local = tempfile::tempdir().unwrap();
        let src = local.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        write_random(&src.join("big.bin"), 5 * 1024 * 1024);
        for i in 0..20 {
            write_random(&src.join(format!("a/b/small-{i}")), 1000 + i * 37);
        }
        let before = baseline(&f);
        let rsh = format!("{} -p {}", shared.line(), f.peer.port());
        let dest = format!(
            "{TEST_USER}@127.0.0.1:{}/copy/",
            remote_dir.path().display()
        );
        let env = [("HOME", f.client.home().display().to_string())];
        tool(
            local.path(),
            "rsync",
            &["-a", "-e", &rsh, "src/", &dest],
            &env,
        );
        // Changed in place: rsync sends the difference; then everything comes back.
        let mut big = std::fs::read(src.join("big.bin")).unwrap();
        big[1_000_000..1_000_100].fill(7);
        std::fs::write(src.join("big.bin"), &big).unwrap();
        // -I: the same size within the same second would pass rsync's quick check.
        tool(
            local.path(),
            "rsync",
            &["-aI", "-e", &rsh, "src/", &dest],
            &env,
        );
        let back = local.path().join("back");
        tool(
            local.path(),
            "rsync",
            &["-a", "-e", &rsh, &dest, "back/"],
            &env,
        );
        assert_eq!(
            tree(&back),
            tree(&src),
            "{server}: the tree after the round trip"
        );
        assert_one_connection(&f, before, &format!("{server}: rsync"));
    }
}

#[test]
fn ansible_default_options_run_sequential_commands_over_one_connection() {
    for (server, f) in both_servers() {
        f.trust_host();
        // Ansible's ssh connection plugin: ControlMaster=auto ControlPersist=60s, then
        // one ssh run per step (a temporary directory, a module piped in, clean-up).
        let shared = Shared::new(&f, "60s");
        let before = baseline(&f);
        let home = shared.run(&f, "/bin/sh -c 'echo ~ && sleep 0'", b"");
        assert_exit(&home, 0, &f.peer);
        let tmp = format!("/tmp/ansible-tmp-{}-{server}", std::process::id());
        let steps = [
            format!("/bin/sh -c 'umask 77 && mkdir -p {tmp} && echo made'"),
            format!("/bin/sh -c 'cat > {tmp}/module.sh && echo stored'"),
            format!("/bin/sh -c 'sh {tmp}/module.sh; echo rc=$?'"),
            format!("/bin/sh -c 'rm -rf {tmp} && echo cleaned'"),
        ];
        let module = b"echo '{\"changed\": false, \"ping\": \"pong\"}'\n";
        let expect = [
            "made\n",
            "stored\n",
            "{\"changed\": false, \"ping\": \"pong\"}\nrc=0\n",
            "cleaned\n",
        ];
        for (step, want) in steps.iter().zip(expect) {
            let out = shared.run(&f, step, module);
            assert_exit(&out, 0, &f.peer);
            assert_eq!(out.stdout, want, "{server}: {step}");
        }
        assert_one_connection(&f, before, &format!("{server}: five Ansible steps"));
    }
}
