//! `oxsshd` as the system daemon against `oxssh` itself (exit codes, 100 MB each way, a
//! pty, mlkem768x25519-sha256, which OpenSSH 9.2 lacks, every cipher and MAC) and
//! `ssh-audit` on the default configuration (no `[fail]`, DESIGN.md "Algorithms").
//! Fixture: `support/daemon_clients.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::process::Command;
use std::time::Duration;

use support::client::{
    assert_exit, in_parallel, random_stdout, run_transfer, shell_line, under_script, ClientDir,
};
use support::daemon_clients::{
    Setup, AEAD_CIPHERS, BULK_TIMEOUT, HUNDRED_MB, MACS, MAC_CIPHERS, PARALLEL,
};
use support::openssh::sshd_opts;
use support::users::TEST_USER;
use support::{require_peer, run, HostKey, Output, SshdOptions, OXSSHD, RUN_TIMEOUT};

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

/// stdout as a regular file (written directly, not polled as a pipe) and as a pipe
/// whose reader is slower than the connection: every byte lands once, in order.
#[test]
fn oxssh_writes_a_download_whole_into_a_file_and_a_slow_pipe() {
    let Some(s) = Setup::start(&[]) else {
        return;
    };
    const SIZE: u64 = 20 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("down");
    let oxssh = shell_line(
        &s.oxssh()
            .option("LogLevel=ERROR")
            .command(Some(&random_stdout(SIZE))),
    );
    let sinks = [
        format!("{oxssh} > {}", file.display()),
        format!(
            "{oxssh} | {{ sleep 1; dd bs=4096 status=none > {}; }}",
            file.display()
        ),
    ];
    for sink in sinks {
        let out = run(Command::new("sh").args(["-c", &sink]), b"", BULK_TIMEOUT);
        assert_exit(&out, 0, &s.peer);
        let local = run(Command::new("sha256sum").arg(&file), b"", RUN_TIMEOUT);
        let remote_sum = out.stderr.split_whitespace().next().unwrap_or_default();
        assert_eq!(
            local.stdout.split_whitespace().next(),
            Some(remote_sum),
            "{sink}"
        );
        assert_eq!(std::fs::metadata(&file).unwrap().len(), SIZE);
    }
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
