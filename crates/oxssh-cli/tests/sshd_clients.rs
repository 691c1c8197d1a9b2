//! `oxsshd` as the system daemon (`-f sshd_config`, run as root) against clients other
//! than OpenSSH's: PuTTY's `plink` (host key pinned by fingerprint, `.ppk` keys made by
//! `puttygen`, passwords), Dropbear's `dbclient` (keys converted by `dropbearconvert`,
//! a password, a pty), Paramiko and AsyncSSH (small Python scripts this file writes,
//! each printing `name=json` lines the test compares: exec, `cat`, pty sessions, a shell
//! with window-change, and AsyncSSH over every key exchange, cipher, MAC and host key it
//! shares with us), `oxssh` itself (exit codes, 100 MB each way, a pty,
//! mlkem768x25519-sha256, which OpenSSH 9.2 lacks, every cipher and MAC), and
//! `ssh-audit` on the default configuration (no `[fail]`, DESIGN.md "Algorithms").
//!
//! Every session logs in as a system user (`oxssh-test` by key, `oxssh-pw` by password)
//! and runs as them: each client checks `id -un`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::client::{
    assert_exit, in_parallel, random_stdout, run_transfer, shell_line, under_script, ClientDir,
    Ssh, UserKey, CLIENT_TIMEOUT,
};
use support::openssh::{host_name, sshd_opts};
use support::users::{password_user, test_user, PASSWORD, PASSWORD_USER, TEST_USER};
use support::{
    require_peer, run, start_oxsshd, HostKey, Output, Peer, SshdOptions, OXSSHD, RUN_TIMEOUT,
};

/// Bulk size for the foreign clients.
const TEN_MB: u64 = 10_000_000;
/// Bulk size for `oxssh` (the issue's 100 MB).
const HUNDRED_MB: u64 = 100_000_000;
/// Time limit for a bulk transfer (they take about a second).
const BULK_TIMEOUT: Duration = Duration::from_secs(90);
/// Concurrent client runs (the CI machine has two cores).
const PARALLEL: usize = 3;
/// The command every client runs first: who it runs as, both streams, an exit status.
const WHO_AND_STREAMS: &str = "id -un; echo out; echo err >&2; exit 5";
/// Ciphers oxssh implements that need a separate MAC.
const MAC_CIPHERS: [&str; 3] = ["aes128-ctr", "aes192-ctr", "aes256-ctr"];
/// Ciphers with built-in authentication.
const AEAD_CIPHERS: [&str; 3] = [
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
];
/// Every MAC oxssh implements (`hmac-sha1*` only when configured, as here).
const MACS: [&str; 6] = [
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-sha1",
    "hmac-sha1-etm@openssh.com",
];

// ---------------------------------------------------------------------------------
// Set-up shared by every client
// ---------------------------------------------------------------------------------

/// An `oxsshd` with the test user's ed25519 and RSA keys authorised, passwords through
/// PAM, `AcceptEnv LC_*`, and ed25519 and RSA host keys.
struct Setup {
    peer: Peer,
    client: ClientDir,
    ed25519: UserKey,
    rsa: UserKey,
}

impl Setup {
    /// Starts the server with the harness's configuration plus `extra` lines; `None`
    /// (after a loud SKIP) without ssh-keygen.
    fn start(extra: &[&str]) -> Option<Self> {
        Self::start_with(sshd_opts(extra))
    }

    fn start_with(mut opts: SshdOptions) -> Option<Self> {
        if !require_peer("ssh-keygen") {
            return None;
        }
        test_user();
        password_user();
        let client = ClientDir::new();
        let ed25519 = client.key("id_ed25519", HostKey::Ed25519, None);
        let rsa = client.key("id_rsa", HostKey::Rsa, None);
        opts.authorized_keys.push(ed25519.public.clone());
        opts.authorized_keys.push(rsa.public.clone());
        opts.extra.extend(
            ["UsePAM yes", "PasswordAuthentication yes", "AcceptEnv LC_*"].map(str::to_owned),
        );
        let peer = start_oxsshd(&opts);
        Some(Self {
            peer,
            client,
            ed25519,
            rsa,
        })
    }

    /// The server's ed25519 host key, as an OpenSSH public key line.
    fn host_key(&self) -> String {
        std::fs::read_to_string(self.peer.dir().join("host_ed25519.pub"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// `SHA256:...`, the host key's fingerprint as `ssh-keygen -l` prints it.
    fn host_fingerprint(&self) -> String {
        fingerprint(&self.peer.dir().join("host_ed25519.pub"))
    }

    /// A known_hosts file naming only the ed25519 host key.
    fn known_hosts(&self) -> PathBuf {
        let path = self.client.path().join("known_hosts.pinned");
        std::fs::write(
            &path,
            format!("{} {}\n", host_name(&self.peer), self.host_key()),
        )
        .unwrap();
        path
    }

    /// `oxssh` as the test user with the ed25519 key.
    fn oxssh(&self) -> Ssh {
        Ssh::oxssh(&self.client, &self.peer, TEST_USER).identity(&self.ed25519.path)
    }

    /// Asserts the server logged accepting `method` for `user` (with `key_type` for keys).
    #[track_caller]
    fn assert_accepted(&self, method: &str, user: &str, key_type: Option<&str>) {
        let log = self.peer.log();
        let line = format!("Accepted {method} for {user} from 127.0.0.1 port ");
        let found = log.lines().any(|l| {
            l.contains(&line)
                && key_type.is_none_or(|kind| l.contains(&format!(" ssh2: {kind} SHA256:")))
        });
        assert!(
            found,
            "no `{line}` ({key_type:?}) in the server log:\n{log}"
        );
    }
}

/// The SHA-256 fingerprint of the public key in `path`, from `ssh-keygen -l`.
fn fingerprint(path: &Path) -> String {
    let out = run(
        Command::new("ssh-keygen")
            .args(["-l", "-E", "sha256", "-f"])
            .arg(path),
        b"",
        RUN_TIMEOUT,
    );
    assert!(out.status.success(), "ssh-keygen -l: {}", out.stderr);
    out.stdout
        .split(' ')
        .nth(1)
        .expect("fingerprint")
        .to_owned()
}

/// Runs a set-up program that must succeed (key conversions).
fn run_ok(cmd: &mut Command) {
    let out = run(cmd, b"", RUN_TIMEOUT);
    assert!(out.status.success(), "{cmd:?} failed: {}", out.stderr);
}

// ---------------------------------------------------------------------------------
// PuTTY: plink with keys from puttygen
// ---------------------------------------------------------------------------------

/// `plink -batch` against the setup's server with its host key pinned.
struct Plink<'a> {
    setup: &'a Setup,
    ed25519_ppk: PathBuf,
    rsa_ppk: PathBuf,
}

impl<'a> Plink<'a> {
    /// Converts the setup's keys with `puttygen`; `None` (after a loud SKIP) without PuTTY.
    fn new(setup: &'a Setup) -> Option<Self> {
        if !require_peer("plink") || !require_peer("puttygen") {
            return None;
        }
        let convert = |key: &UserKey, name: &str| {
            let ppk = setup.client.path().join(name);
            run_ok(
                Command::new("puttygen")
                    .arg(&key.path)
                    .args(["-O", "private", "-o"])
                    .arg(&ppk),
            );
            ppk
        };
        Some(Self {
            ed25519_ppk: convert(&setup.ed25519, "id_ed25519.ppk"),
            rsa_ppk: convert(&setup.rsa, "id_rsa.ppk"),
            setup,
        })
    }

    /// `plink -batch -ssh -P port -hostkey FP [auth] user@127.0.0.1 remote`, with a
    /// private HOME (plink's host key cache and saved sessions live there).
    fn command(&self, host_key: &str, auth: &[&str], user: &str, remote: &str) -> Command {
        let mut cmd = Command::new("plink");
        cmd.env("HOME", self.setup.client.home())
            .env_remove("SSH_AUTH_SOCK")
            .args(["-batch", "-ssh", "-noagent", "-P"])
            .arg(self.setup.peer.port().to_string())
            .args(["-hostkey", host_key])
            .args(auth)
            .arg(format!("{user}@127.0.0.1"))
            .arg(remote);
        cmd
    }

    /// Runs `remote` as the test user with `ppk`, the host key pinned.
    fn run_key(&self, ppk: &Path, remote: &str, stdin: &[u8]) -> Output {
        let fp = self.setup.host_fingerprint();
        let auth = ["-i", ppk.to_str().unwrap()];
        run(
            &mut self.command(&fp, &auth, TEST_USER, remote),
            stdin,
            CLIENT_TIMEOUT,
        )
    }
}

#[test]
fn plink_logs_in_with_puttygen_ed25519_and_rsa_keys_and_passes_the_exit_status() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let Some(plink) = Plink::new(&s) else {
        return;
    };
    let keys = vec![
        (plink.ed25519_ppk.clone(), "ED25519"),
        (plink.rsa_ppk.clone(), "RSA"),
    ];
    let outs = in_parallel(keys.clone(), 2, |(ppk, _)| {
        plink.run_key(&ppk, WHO_AND_STREAMS, b"")
    });
    for ((_, kind), out) in keys.into_iter().zip(outs) {
        assert_exit(&out, 5, &s.peer);
        assert_eq!(out.stdout, format!("{TEST_USER}\nout\n"), "{kind}");
        assert_eq!(out.stderr, "err\n", "{kind}");
        s.assert_accepted("publickey", TEST_USER, Some(kind));
    }
}

#[test]
fn plink_logs_in_with_a_password_by_keyboard_interactive_and_by_password() {
    if !require_peer("plink") {
        return;
    }
    // The default offers keyboard-interactive, which plink prefers; without it plink
    // falls back to the `password` method.
    for (extra, method) in [
        (None, "keyboard-interactive/pam"),
        (Some("KbdInteractiveAuthentication no"), "password"),
    ] {
        let Some(s) = Setup::start(extra.as_slice()) else {
            return;
        };
        let Some(plink) = Plink::new(&s) else {
            return;
        };
        let fp = s.host_fingerprint();
        let out = run(
            &mut plink.command(&fp, &["-pw", PASSWORD], PASSWORD_USER, "id -un; exit 3"),
            b"",
            CLIENT_TIMEOUT,
        );
        assert_exit(&out, 3, &s.peer);
        assert_eq!(out.stdout, format!("{PASSWORD_USER}\n"), "{method}");
        s.assert_accepted(method, PASSWORD_USER, None);
    }
}

#[test]
fn plink_carries_ten_megabytes_each_way() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let Some(plink) = Plink::new(&s) else {
        return;
    };
    let fp = s.host_fingerprint();
    let auth = ["-i", plink.ed25519_ppk.to_str().unwrap()];
    let up = run_transfer(
        &mut plink.command(&fp, &auth, TEST_USER, "cat"),
        TEN_MB,
        BULK_TIMEOUT,
    );
    assert_exit(&up.output, 0, &s.peer);
    assert_eq!(up.sent.len, TEN_MB);
    assert_eq!(up.received, up.sent);
    let down = run_transfer(
        &mut plink.command(&fp, &auth, TEST_USER, &random_stdout(TEN_MB)),
        0,
        BULK_TIMEOUT,
    );
    assert_exit(&down.output, 0, &s.peer);
    assert_eq!(down.received.len, TEN_MB);
    assert_eq!(down.output.stderr, format!("{}  -\n", down.received.sha256));
}

#[test]
fn plink_refuses_a_host_key_other_than_the_pinned_one() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let Some(plink) = Plink::new(&s) else {
        return;
    };
    // Another ed25519 key's fingerprint: the server's key must not match it.
    let other_dir = ClientDir::new();
    let other = other_dir.key("other", HostKey::Ed25519, None);
    let wrong = fingerprint(&support::client::public_path(&other.path));
    let auth = ["-i", plink.ed25519_ppk.to_str().unwrap()];
    let out = run(
        &mut plink.command(&wrong, &auth, TEST_USER, "echo should-not-run"),
        b"",
        CLIENT_TIMEOUT,
    );
    assert_ne!(out.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains("Host key not in manually configured list"),
        "{}",
        out.stderr
    );
    assert!(!s.peer.log().contains("Accepted "), "{}", s.peer.log());
    // The right fingerprint works against the same server.
    let out = plink.run_key(&plink.ed25519_ppk, "echo ran", b"");
    assert_exit(&out, 0, &s.peer);
    assert_eq!(out.stdout, "ran\n");
}

// ---------------------------------------------------------------------------------
// Dropbear: dbclient with keys from dropbearconvert
// ---------------------------------------------------------------------------------

/// `dbclient` against the setup's server with the setup's keys in Dropbear's format.
struct Dbclient<'a> {
    setup: &'a Setup,
    ed25519: PathBuf,
    rsa: PathBuf,
}

impl<'a> Dbclient<'a> {
    /// Converts the keys with `dropbearconvert`; `None` (after a loud SKIP) without it.
    fn new(setup: &'a Setup) -> Option<Self> {
        if !require_peer("dbclient") || !require_peer("dropbearconvert") {
            return None;
        }
        let convert = |key: &UserKey, name: &str| {
            let out = setup.client.path().join(name);
            run_ok(
                Command::new("dropbearconvert")
                    .args(["openssh", "dropbear"])
                    .arg(&key.path)
                    .arg(&out),
            );
            out
        };
        Some(Self {
            ed25519: convert(&setup.ed25519, "id_ed25519.db"),
            rsa: convert(&setup.rsa, "id_rsa.db"),
            setup,
        })
    }

    /// `dbclient -y -i key -p port [args] oxssh-test@127.0.0.1 remote`. `-y` accepts
    /// the unknown host key and prints its fingerprint, which the tests check.
    fn command(&self, key: &Path, args: &[&str], remote: &str) -> Command {
        let mut cmd = Command::new("dbclient");
        cmd.env("HOME", self.setup.client.home())
            .env_remove("SSH_AUTH_SOCK")
            .arg("-y")
            .arg("-i")
            .arg(key)
            .arg("-p")
            .arg(self.setup.peer.port().to_string())
            .args(args)
            .arg(format!("{TEST_USER}@127.0.0.1"))
            .arg(remote);
        cmd
    }

    /// The line dbclient prints about the host key it accepted.
    fn accepted_line(&self) -> String {
        format!(
            "(ssh-ed25519 fingerprint {})",
            self.setup.host_fingerprint()
        )
    }
}

#[test]
fn dbclient_logs_in_with_converted_ed25519_and_rsa_keys_and_passes_the_exit_status() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let Some(db) = Dbclient::new(&s) else {
        return;
    };
    let keys = vec![(db.ed25519.clone(), "ED25519"), (db.rsa.clone(), "RSA")];
    let outs = in_parallel(keys.clone(), 2, |(key, _)| {
        run(
            &mut db.command(&key, &[], WHO_AND_STREAMS),
            b"",
            CLIENT_TIMEOUT,
        )
    });
    for ((_, kind), out) in keys.into_iter().zip(outs) {
        assert_exit(&out, 5, &s.peer);
        assert_eq!(out.stdout, format!("{TEST_USER}\nout\n"), "{kind}");
        assert!(out.stderr.contains(&db.accepted_line()), "{}", out.stderr);
        assert!(out.stderr.ends_with("\nerr\n"), "{kind}: {:?}", out.stderr);
        s.assert_accepted("publickey", TEST_USER, Some(kind));
    }
}

#[test]
fn dbclient_carries_ten_megabytes_each_way() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let Some(db) = Dbclient::new(&s) else {
        return;
    };
    let up = run_transfer(
        &mut db.command(&db.ed25519, &[], "cat"),
        TEN_MB,
        BULK_TIMEOUT,
    );
    assert_exit(&up.output, 0, &s.peer);
    assert_eq!(up.sent.len, TEN_MB);
    assert_eq!(up.received, up.sent);
    let down = run_transfer(
        &mut db.command(&db.ed25519, &[], &random_stdout(TEN_MB)),
        0,
        BULK_TIMEOUT,
    );
    assert_exit(&down.output, 0, &s.peer);
    assert_eq!(down.received.len, TEN_MB);
    assert!(
        down.output
            .stderr
            .ends_with(&format!("\n{}  -\n", down.received.sha256)),
        "{}",
        down.output.stderr
    );
}

#[test]
fn dbclient_tty_gets_a_pty_of_the_local_size() {
    if !require_peer("script") {
        return;
    }
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let Some(db) = Dbclient::new(&s) else {
        return;
    };
    let dbclient = shell_line(&db.command(
        &db.ed25519,
        &["-t"],
        "id -un; tty; echo TERM=$TERM; stty size; exit 6",
    ));
    let out = under_script(&format!("stty rows 33 cols 111; exec {dbclient}"), b"");
    assert_exit(&out, 6, &s.peer);
    assert!(
        out.stdout.contains(&format!("{TEST_USER}\r\n/dev/pts/")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("TERM=xterm\r\n"), "{}", out.stdout);
    assert!(out.stdout.contains("33 111\r\n"), "{}", out.stdout);
}

#[test]
fn dbclient_logs_in_with_a_password_from_dropbear_password() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let Some(db) = Dbclient::new(&s) else {
        return;
    };
    // No key offered (`-i /dev/null` would be an error): a fresh HOME has none.
    let mut cmd = Command::new("dbclient");
    cmd.env("HOME", s.client.home())
        .env_remove("SSH_AUTH_SOCK")
        .env("DROPBEAR_PASSWORD", PASSWORD)
        .args(["-y", "-p", &s.peer.port().to_string()])
        .arg(format!("{PASSWORD_USER}@127.0.0.1"))
        .arg("id -un; exit 4");
    let out = run(&mut cmd, b"", CLIENT_TIMEOUT);
    assert_exit(&out, 4, &s.peer);
    assert_eq!(out.stdout, format!("{PASSWORD_USER}\n"));
    assert!(out.stderr.contains(&db.accepted_line()), "{}", out.stderr);
    s.assert_accepted("keyboard-interactive/pam", PASSWORD_USER, None);
}

// ---------------------------------------------------------------------------------
// Paramiko and AsyncSSH
// ---------------------------------------------------------------------------------

/// Whether `python3` can import `module`. When not: panics under `CI=true` (.ci/run
/// installs it), otherwise prints a loud SKIP line and returns false.
fn require_python_module(module: &str) -> bool {
    if !require_peer("python3") {
        return false;
    }
    let out = run(
        Command::new("python3").args(["-c", &format!("import {module}")]),
        b"",
        RUN_TIMEOUT,
    );
    if out.status.success() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "python3 cannot import {module} ({}), and CI=true forbids skipping",
            out.stderr
        );
    }
    eprintln!(
        "\n*** SKIP: python3 cannot import `{module}`; this interop test did not run. ***\n\
         *** Install it: python3 -m pip install {module} (see .ci/run). ***\n"
    );
    false
}

/// The part both Python scripts share: argv, and one `name=json` line per result.
const PYTHON_PRELUDE: &str = r#"
import json, os, sys
port, known_hosts, user, method, secret = sys.argv[1:6]

def out(name, value):
    print(f"{name}={json.dumps(value)}", flush=True)

DATA = os.urandom(2_000_000)
PTY_CMD = "tty; echo TERM=$TERM; stty size; echo LC=$LC_OXSSH_TEST; exit 3"
"#;

/// Paramiko: a pinned host key (RejectPolicy), then three sessions on one connection:
/// exec with both streams and a status, 2 MB through `cat`, a pty with `TERM`, size
/// and an `env` request.
const PARAMIKO: &str = r#"
import logging
import paramiko

# Paramiko names the key exchange it agreed on only in its debug log.
kex = []
class KexLog(logging.Handler):
    def emit(self, record):
        message = record.getMessage()
        if message.startswith("Kex: "):
            kex.append(message[5:])
log = logging.getLogger("paramiko.transport")
log.setLevel(logging.DEBUG)
log.addHandler(KexLog())

client = paramiko.SSHClient()
client.load_host_keys(known_hosts)
client.set_missing_host_key_policy(paramiko.RejectPolicy())
auth = {"password": secret} if method == "password" else {"key_filename": secret}
client.connect("127.0.0.1", port=int(port), username=user, allow_agent=False,
               look_for_keys=False, timeout=20, banner_timeout=20, auth_timeout=20, **auth)
t = client.get_transport()
out("kex", kex)

def session(cmd, data=b"", pty=None, env=None):
    chan = t.open_session(timeout=20)
    chan.settimeout(30)
    if env:
        chan.update_environment(env)
    if pty:
        chan.get_pty(term=pty[0], width=pty[1], height=pty[2])
    chan.exec_command(cmd)
    if data:
        chan.sendall(data)
    chan.shutdown_write()
    stdout = chan.makefile("rb").read()
    stderr = chan.makefile_stderr("rb").read()
    status = chan.recv_exit_status()
    chan.close()
    return status, stdout, stderr

status, so, se = session("id -un; echo out; echo err >&2; exit 5")
out("exec.status", status); out("exec.stdout", so.decode()); out("exec.stderr", se.decode())
status, so, se = session("cat", DATA)
out("cat.status", status); out("cat.same", so == DATA); out("cat.len", len(so))
status, so, se = session(PTY_CMD, pty=("vt220", 111, 33), env={"LC_OXSSH_TEST": "hello"})
out("pty.status", status); out("pty.stdout", so.decode()); out("pty.stderr", se.decode())
client.close()
"#;

/// AsyncSSH: the same sessions, plus a command killed by a signal (exit-signal).
const ASYNCSSH: &str = r#"
import asyncio
import asyncssh

async def main():
    if method == "password":
        auth = {"password": secret, "client_keys": None}
    else:
        auth = {"client_keys": [secret], "password": None}
    async with asyncssh.connect("127.0.0.1", int(port), username=user, known_hosts=known_hosts,
                                agent_path=None, login_timeout=20, **auth) as conn:
        r = await conn.run("id -un; echo out; echo err >&2; exit 5", check=False, timeout=30)
        out("exec.status", r.exit_status); out("exec.stdout", r.stdout); out("exec.stderr", r.stderr)
        r = await conn.run("cat", input=DATA, encoding=None, check=False, timeout=30)
        out("cat.status", r.exit_status); out("cat.same", r.stdout == DATA); out("cat.len", len(r.stdout))
        r = await conn.run(PTY_CMD, term_type="vt220", term_size=(111, 33),
                           env={"LC_OXSSH_TEST": "hello"}, check=False, timeout=30)
        out("pty.status", r.exit_status); out("pty.stdout", r.stdout); out("pty.stderr", r.stderr)
        r = await conn.run("kill -TERM $$", check=False, timeout=30)
        out("signal.status", r.exit_status)
        out("signal.name", r.exit_signal[0] if r.exit_signal else None)

asyncio.run(main())
"#;

/// The `name=json` lines a script printed, by name.
fn results(out: &Output) -> BTreeMap<String, String> {
    out.stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// Logs in with `library`'s script by each method (ed25519 key, RSA key, password,
/// which the server logs as `password_method`) and checks every result line.
fn python_client_runs_sessions(
    library: &str,
    script: &str,
    password_method: &str,
    extra: &[(&str, &str)],
) {
    if !require_python_module(library) {
        return;
    }
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let path = s.client.path().join(format!("{library}_client.py"));
    std::fs::write(&path, format!("{PYTHON_PRELUDE}{script}")).unwrap();
    let known_hosts = s.known_hosts();
    let ed25519 = s.ed25519.path.display().to_string();
    let rsa = s.rsa.path.display().to_string();
    let logins = vec![
        (TEST_USER, "key", ed25519, "publickey", Some("ED25519")),
        (TEST_USER, "key", rsa, "publickey", Some("RSA")),
        (
            PASSWORD_USER,
            "password",
            PASSWORD.to_owned(),
            password_method,
            None,
        ),
    ];
    let outs = in_parallel(logins.clone(), PARALLEL, |(user, method, secret, _, _)| {
        run(
            Command::new("python3")
                .arg(&path)
                .arg(s.peer.port().to_string())
                .arg(&known_hosts)
                .args([user, method, &secret]),
            b"",
            CLIENT_TIMEOUT,
        )
    });
    for ((user, _, _, auth_method, key_type), out) in logins.into_iter().zip(outs) {
        let what = format!("{library} as {user} by {auth_method} {key_type:?}");
        assert_exit(&out, 0, &s.peer);
        let got = results(&out);
        let mut want: Vec<(&str, String)> = vec![
            ("exec.status", "5".into()),
            ("exec.stdout", format!("\"{user}\\nout\\n\"")),
            ("exec.stderr", r#""err\n""#.into()),
            ("cat.status", "0".into()),
            ("cat.same", "true".into()),
            ("cat.len", "2000000".into()),
            ("pty.status", "3".into()),
            ("pty.stderr", r#""""#.into()),
        ];
        want.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        for (name, value) in want {
            assert_eq!(
                got.get(name),
                Some(&value),
                "{what}: {name}\nstdout:\n{}\nstderr:\n{}\nserver log:\n{}",
                out.stdout,
                out.stderr,
                s.peer.log()
            );
        }
        // A pty session merges stderr into stdout with CRLF line ends; the env
        // request passed AcceptEnv.
        let pty = got.get("pty.stdout").cloned().unwrap_or_default();
        assert!(
            pty.starts_with("\"/dev/pts/")
                && pty.ends_with(r#"\r\nTERM=vt220\r\n33 111\r\nLC=hello\r\n""#),
            "{what}: {pty}"
        );
        s.assert_accepted(auth_method, user, key_type);
    }
}

#[test]
fn paramiko_logs_in_by_ed25519_rsa_and_password_and_runs_exec_cat_and_pty_sessions() {
    // Paramiko (5.x) prefers mlkem768x25519-sha256: a second implementation of it
    // besides oxssh's that oxsshd must agree with.
    python_client_runs_sessions(
        "paramiko",
        PARAMIKO,
        "password",
        &[("kex", r#"["mlkem768x25519-sha256"]"#)],
    );
}

#[test]
fn asyncssh_logs_in_by_ed25519_rsa_and_password_and_runs_exec_cat_pty_and_signal_sessions() {
    python_client_runs_sessions(
        "asyncssh",
        ASYNCSSH,
        // AsyncSSH answers keyboard-interactive with the password when offered it.
        "keyboard-interactive/pam",
        &[("signal.status", "-1"), ("signal.name", r#""TERM""#)],
    );
}

/// Paramiko: an interactive shell on a pty (`invoke_shell`), typed commands, and a
/// `window-change` (`resize_pty`) the shell sees.
const PARAMIKO_SHELL: &str = r#"
import paramiko

client = paramiko.SSHClient()
client.load_host_keys(known_hosts)
client.set_missing_host_key_policy(paramiko.RejectPolicy())
client.connect("127.0.0.1", port=int(port), username=user, key_filename=secret,
               allow_agent=False, look_for_keys=False, timeout=20)
chan = client.invoke_shell(term="xterm", width=80, height=24)
chan.settimeout(30)
seen = b""
def wait_for(text):
    """Reads until `text` arrived or the channel closed (30 s without data: an error)."""
    global seen
    while text not in seen:
        chunk = chan.recv(4096)
        if not chunk:
            break
        seen += chunk
chan.send(b"stty size; echo TERM=$TERM\n")
wait_for(b"TERM=xterm\r\n")
chan.resize_pty(width=100, height=40)
# The window-change arrives before the next data, so the next command sees it.
chan.send(b"stty size\n")
wait_for(b"40 100\r\n")
chan.send(b"exit 9\n")
wait_for(b"(until the channel closes)")
out("shell.status", chan.recv_exit_status())
out("shell.first_size", "24 80\r\n" in seen.decode())
out("shell.resized", "40 100\r\n" in seen.decode())
client.close()
"#;

#[test]
fn paramiko_shell_on_a_pty_sees_window_change() {
    if !require_python_module("paramiko") {
        return;
    }
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let path = s.client.path().join("paramiko_shell.py");
    std::fs::write(&path, format!("{PYTHON_PRELUDE}{PARAMIKO_SHELL}")).unwrap();
    let out = run(
        Command::new("python3")
            .arg(&path)
            .arg(s.peer.port().to_string())
            .arg(s.known_hosts())
            .args([TEST_USER, "key"])
            .arg(&s.ed25519.path),
        b"",
        CLIENT_TIMEOUT,
    );
    assert_exit(&out, 0, &s.peer);
    let got = results(&out);
    for (name, value) in [
        ("shell.status", "9"),
        ("shell.first_size", "true"),
        ("shell.resized", "true"),
    ] {
        assert_eq!(
            got.get(name).map(String::as_str),
            Some(value),
            "{name}: {out:?}"
        );
    }
}

/// Key exchanges AsyncSSH shares with oxsshd (it lacks sntrup761 without liboqs).
const ASYNCSSH_KEXES: [&str; 11] = [
    "mlkem768x25519-sha256",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group14-sha1",
];
/// Host key algorithms (the server has a key of every type). (`ssh-rsa` is left out: oxsshd
/// does not offer it even when `HostKeyAlgorithms` names it, as its RSA host keys sign
/// only rsa-sha2-*; OpenSSH's sshd does. Reported to the server's owner.)
const ASYNCSSH_HOST_KEYS: [&str; 6] = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
];

/// AsyncSSH: one connection per algorithm (offering only that one), each carrying
/// 600 kB through `cat`, all at once; prints `kind name=ok` or the error.
const ASYNCSSH_MATRIX: &str = r#"
import asyncio
import asyncssh

async def one(kind, name, **algs):
    try:
        async with asyncssh.connect("127.0.0.1", int(port), username=user,
                                    known_hosts=known_hosts, client_keys=[secret],
                                    agent_path=None, login_timeout=30, **algs) as conn:
            data = (name + "\n").encode() * 20000
            r = await conn.run("cat", input=data, encoding=None, check=False, timeout=60)
            same = r.exit_status == 0 and r.stdout == data
            out(f"{kind} {name}", "ok" if same else f"status {r.exit_status}, output differs")
    except Exception as e:
        out(f"{kind} {name}", f"{type(e).__name__}: {e}")

async def main():
    jobs = [one("kex", k, kex_algs=[k]) for k in method.split(",")]
    jobs += [one("cipher", c, encryption_algs=[c]) for c in sys.argv[6].split(",")]
    jobs += [one("mac", m, encryption_algs=["aes128-ctr"], mac_algs=[m])
             for m in sys.argv[7].split(",")]
    jobs += [one("hostkey", h, server_host_key_algs=[h]) for h in sys.argv[8].split(",")]
    await asyncio.gather(*jobs)

asyncio.run(main())
"#;

#[test]
fn asyncssh_agrees_with_oxsshd_on_every_shared_kex_cipher_mac_and_host_key() {
    if !require_python_module("asyncssh") {
        return;
    }
    let all_ciphers = [MAC_CIPHERS.as_slice(), AEAD_CIPHERS.as_slice()].concat();
    let Some(s) = Setup::start_with(SshdOptions {
        host_keys: HostKey::ALL.to_vec(),
        kex_algorithms: Some(ASYNCSSH_KEXES.join(",")),
        ciphers: Some(all_ciphers.join(",")),
        macs: Some(MACS.join(",")),
        ..sshd_opts(&[])
    }) else {
        return;
    };
    // known_hosts names every host key, so each algorithm's key is verified.
    let known_hosts = s.client.path().join("known_hosts.all");
    let lines: String = HostKey::ALL
        .iter()
        .map(|key| {
            let public = s.peer.dir().join(format!("{}.pub", key.file_name()));
            let public = std::fs::read_to_string(public).unwrap();
            format!("{} {}\n", host_name(&s.peer), public.trim())
        })
        .collect();
    std::fs::write(&known_hosts, lines).unwrap();
    let path = s.client.path().join("asyncssh_matrix.py");
    std::fs::write(&path, format!("{PYTHON_PRELUDE}{ASYNCSSH_MATRIX}")).unwrap();
    let out = run(
        Command::new("python3")
            .args(["-W", "ignore"])
            .arg(&path)
            .arg(s.peer.port().to_string())
            .arg(&known_hosts)
            .arg(TEST_USER)
            .arg(ASYNCSSH_KEXES.join(","))
            .arg(&s.ed25519.path)
            .arg(all_ciphers.join(","))
            .arg(MACS.join(","))
            .arg(ASYNCSSH_HOST_KEYS.join(",")),
        b"",
        Duration::from_secs(120),
    );
    assert_exit(&out, 0, &s.peer);
    let got = results(&out);
    let expected = ASYNCSSH_KEXES
        .iter()
        .map(|k| format!("kex {k}"))
        .chain(all_ciphers.iter().map(|c| format!("cipher {c}")))
        .chain(MACS.iter().map(|m| format!("mac {m}")))
        .chain(ASYNCSSH_HOST_KEYS.iter().map(|h| format!("hostkey {h}")));
    let failed: Vec<String> = expected
        .filter(|name| got.get(name).map(String::as_str) != Some("\"ok\""))
        .map(|name| format!("{name}: {:?}", got.get(&name)))
        .collect();
    assert!(
        failed.is_empty(),
        "{failed:#?}\nstdout:\n{}\nstderr:\n{}\nserver log:\n{}",
        out.stdout,
        out.stderr,
        s.peer.log()
    );
}

// ---------------------------------------------------------------------------------
// oxssh against oxsshd
// ---------------------------------------------------------------------------------

#[test]
fn oxssh_gets_the_remote_exit_status_and_separate_streams() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let codes = vec![0, 1, 7];
    let outs = in_parallel(codes.clone(), PARALLEL, |code| {
        s.oxssh().option("LogLevel=ERROR").run(
            &format!("id -un; echo out; printf err >&2; exit {code}"),
            b"",
        )
    });
    for (code, out) in codes.into_iter().zip(outs) {
        assert_exit(&out, code, &s.peer);
        assert_eq!(out.stdout, format!("{TEST_USER}\nout\n"));
        assert_eq!(out.stderr, "err");
    }
}

#[test]
fn oxssh_carries_a_hundred_megabytes_each_way() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let mut up = s
        .oxssh()
        .option("LogLevel=ERROR")
        .command(Some("sha256sum >&2"));
    let up = run_transfer(&mut up, HUNDRED_MB, BULK_TIMEOUT);
    assert_exit(&up.output, 0, &s.peer);
    assert_eq!(up.sent.len, HUNDRED_MB);
    assert_eq!(up.output.stderr, format!("{}  -\n", up.sent.sha256));
    assert_eq!(up.received.len, 0);
    let mut down = s
        .oxssh()
        .option("LogLevel=ERROR")
        .command(Some(&random_stdout(HUNDRED_MB)));
    let down = run_transfer(&mut down, 0, BULK_TIMEOUT);
    assert_exit(&down.output, 0, &s.peer);
    assert_eq!(down.received.len, HUNDRED_MB);
    assert_eq!(down.output.stderr, format!("{}  -\n", down.received.sha256));
}

#[test]
fn oxssh_forced_tty_gets_a_pty_of_the_local_size() {
    if !require_peer("script") {
        return;
    }
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let oxssh = shell_line(
        &s.oxssh()
            .args(["-tt"])
            .command(Some("id -un; tty; stty size; echo TERM=$TERM; exit 5")),
    );
    let out = under_script(&format!("stty rows 33 cols 111; exec {oxssh}"), b"");
    assert_exit(&out, 5, &s.peer);
    assert!(
        out.stdout.contains(&format!("{TEST_USER}\r\n/dev/pts/")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("33 111\r\n"), "{}", out.stdout);
    assert!(out.stdout.contains("TERM=xterm\r\n"), "{}", out.stdout);
}

#[test]
fn oxssh_and_oxsshd_negotiate_mlkem768x25519_by_default_and_when_it_is_the_only_one() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let only = Setup::start_with(SshdOptions {
        kex_algorithms: Some("mlkem768x25519-sha256".into()),
        ..sshd_opts(&[])
    })
    .unwrap();
    for (setup, client_kex) in [
        (&s, None),
        (&only, Some("KexAlgorithms=mlkem768x25519-sha256")),
    ] {
        let mut oxssh = setup.oxssh().args(["-v"]);
        if let Some(option) = client_kex {
            oxssh = oxssh.option(option);
        }
        let out = oxssh.run("echo mlkem", b"");
        assert_exit(&out, 0, &setup.peer);
        assert_eq!(out.stdout, "mlkem\n");
        assert!(
            out.stderr
                .contains("debug1: kex: algorithm: mlkem768x25519-sha256\n"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn oxssh_and_oxsshd_agree_on_every_cipher_and_mac() {
    let all_ciphers = [MAC_CIPHERS.as_slice(), AEAD_CIPHERS.as_slice()].concat();
    let Some(s) = Setup::start_with(SshdOptions {
        ciphers: Some(all_ciphers.join(",")),
        macs: Some(MACS.join(",")),
        ..sshd_opts(&[])
    }) else {
        return;
    };
    let mut pairs: Vec<(&str, &str)> = MAC_CIPHERS
        .iter()
        .flat_map(|c| MACS.iter().map(move |m| (*c, *m)))
        .collect();
    // The MAC named with an AEAD cipher is offered but not used.
    pairs.extend(AEAD_CIPHERS.iter().map(|c| (*c, "hmac-sha2-256")));
    let outs = in_parallel(pairs.clone(), PARALLEL, |(cipher, mac)| {
        let input = format!("{cipher} {mac}\n").repeat(5000);
        let out = s
            .oxssh()
            .args(["-v", "-c", cipher, "-m", mac])
            .run("cat", input.as_bytes());
        (out, input)
    });
    for ((cipher, mac), (out, input)) in pairs.into_iter().zip(outs) {
        assert_exit(&out, 0, &s.peer);
        assert!(out.stdout == input, "{cipher} {mac}: output differs");
        let used_mac = if AEAD_CIPHERS.contains(&cipher) {
            "<implicit>"
        } else {
            mac
        };
        for direction in ["client->server", "server->client"] {
            let line =
                format!("kex: {direction} cipher: {cipher} MAC: {used_mac} compression: none");
            assert!(out.stderr.contains(&line), "no `{line}`:\n{}", out.stderr);
        }
    }
}

// ---------------------------------------------------------------------------------
// ssh-audit
// ---------------------------------------------------------------------------------

/// Runs `ssh-audit` (no colours, no connection-rate test) against `port`; returns its
/// output after checking it reached the server.
fn ssh_audit(port: u16) -> Output {
    let out = run(
        Command::new("ssh-audit")
            .args([
                "-n",
                "--skip-rate-test",
                "-p",
                &port.to_string(),
                "127.0.0.1",
            ])
            .env("HOME", ClientDir::new().home()),
        b"",
        RUN_TIMEOUT,
    );
    assert!(
        out.stdout.contains("(gen) banner: SSH-2.0-oxssh"),
        "ssh-audit did not reach oxsshd:\n{}{}",
        out.stdout,
        out.stderr
    );
    out
}

/// Asserts ssh-audit found nothing to fail, printing its warnings for the record.
#[track_caller]
fn assert_no_fail(what: &str, out: &Output) {
    let fails: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("[fail]"))
        .collect();
    assert!(
        fails.is_empty(),
        "{what}: ssh-audit failures:\n{}",
        out.stdout
    );
    // ssh-audit exits 3 on a failure, 2 on warnings only, 0 when all is good.
    assert!(matches!(out.code(), Some(0 | 2)), "{what}: {out:?}");
    for line in out.stdout.lines().filter(|l| l.contains("[warn]")) {
        eprintln!("ssh-audit {what}: {line}");
    }
}

#[test]
fn ssh_audit_finds_no_failure_in_the_system_daemons_default_algorithms() {
    if !require_peer("ssh-audit") {
        return;
    }
    // The harness's sshd_config sets no algorithm list; ed25519 and RSA host keys, as
    // a system's ssh-keygen -A makes (ECDSA host keys are an operator's choice that
    // ssh-audit fails for their NIST curve).
    let Some(s) = Setup::start_with(SshdOptions {
        host_keys: vec![HostKey::Ed25519, HostKey::Rsa],
        ..sshd_opts(&[])
    }) else {
        return;
    };
    let out = ssh_audit(s.peer.port());
    assert_no_fail("system daemon", &out);
    for algorithm in [
        "(kex) mlkem768x25519-sha256",
        "(key) ssh-ed25519",
        "(key) rsa-sha2-512",
    ] {
        assert!(
            out.stdout.contains(algorithm),
            "{algorithm}:\n{}",
            out.stdout
        );
    }
    for absent in ["sha1", "nistp", "cbc", "(key) ssh-rsa "] {
        assert!(
            !out.stdout.contains(absent),
            "{absent} offered:\n{}",
            out.stdout
        );
    }
}

#[test]
fn ssh_audit_finds_no_failure_in_the_embedded_default() {
    if !require_peer("ssh-audit") {
        return;
    }
    // The embedded default (no -f): its own ed25519 host key under XDG_STATE_HOME.
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let mut server = support::client::Running(
        Command::new(OXSSHD)
            .args(["-D", "-e", "-p", &port.to_string()])
            .env("HOME", dir.path())
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    support::client::wait_until("oxsshd to listen", Duration::from_secs(10), || {
        assert!(server.try_wait().unwrap().is_none(), "oxsshd exited");
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let out = ssh_audit(port);
    assert_no_fail("embedded default", &out);
}
