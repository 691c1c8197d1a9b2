//! `oxsshd` as the system daemon against Paramiko and AsyncSSH: small Python scripts this
//! file writes, each printing `name=json` lines the test compares (exec, `cat`, pty
//! sessions, a shell with window-change, and AsyncSSH over every key exchange, cipher,
//! MAC and host key it shares with us). Fixture: `support/daemon_clients.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use support::client::{assert_exit, in_parallel, CLIENT_TIMEOUT};
use support::daemon_clients::{Setup, AEAD_CIPHERS, MACS, MAC_CIPHERS, PARALLEL};
use support::openssh::{host_name, sshd_opts};
use support::users::{PASSWORD, PASSWORD_USER, TEST_USER};
use support::{require_peer, run, HostKey, Output, SshdOptions, RUN_TIMEOUT};

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

/// Paramiko offering two keys, the first one unknown to the server: it sends a fresh
/// SERVICE_REQUEST before each key, which oxsshd must accept as sshd does.
const PARAMIKO_TWO_KEYS: &str = r#"
import sys
import paramiko
port, known_hosts, user, stranger, key = sys.argv[1:6]
client = paramiko.SSHClient()
client.load_host_keys(known_hosts)
client.set_missing_host_key_policy(paramiko.RejectPolicy())
client.connect("127.0.0.1", port=int(port), username=user, key_filename=[stranger, key],
               allow_agent=False, look_for_keys=False, timeout=20, banner_timeout=20,
               auth_timeout=20)
_, stdout, _ = client.exec_command("id -un")
print(stdout.read().decode().strip(), flush=True)
client.close()
"#;

#[test]
fn paramiko_trying_a_second_key_after_a_refused_one_logs_in() {
    if !require_python_module("paramiko") {
        return;
    }
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    let stranger = s.client.key("stranger", HostKey::Ed25519, None);
    let path = s.client.path().join("paramiko_two_keys.py");
    std::fs::write(&path, PARAMIKO_TWO_KEYS).unwrap();
    let out = run(
        Command::new("python3")
            .arg(&path)
            .arg(s.peer.port().to_string())
            .arg(s.known_hosts())
            .arg(TEST_USER)
            .arg(&stranger.path)
            .arg(&s.ed25519.path),
        b"",
        CLIENT_TIMEOUT,
    );
    assert_exit(&out, 0, &s.peer);
    assert_eq!(out.stdout, format!("{TEST_USER}\n"), "{}", out.stderr);
    let log = s.peer.log();
    assert!(
        log.contains(&format!("Failed publickey for {TEST_USER}")),
        "{log}"
    );
    s.assert_accepted("publickey", TEST_USER, Some("ED25519"));
}
