//! `oxsshd` as the system daemon (`-f sshd_config`, run as root) against OpenSSH's `ssh`
//! 9.2, the mirror image of `ssh_openssh.rs`: a system user logs in by key and the
//! session runs as them with sshd's environment; exit codes and exit signals, separate
//! stdout and stderr, 100 MB each way intact, a shell on a real terminal with window
//! changes, `AcceptEnv`/`SetEnv`, and every cipher, MAC, key exchange, host key and user
//! key type ssh shares with us (checked in ssh's own `-v` log).
//! Authentication and the daemon's operations are in `sshd_system_auth.rs`, bad input
//! and load in `sshd_system_abuse.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::process::Command;
use std::time::Duration;

use support::algorithms::{AEAD_CIPHERS, KEXES, MACS, MAC_CIPHERS, SIGNED_HOST_KEY_ALGORITHMS};
use support::client::{
    assert_exit, in_parallel, public_path, random_stdout, run_transfer, shell_line, under_script,
    ClientDir, Ssh,
};
use support::openssh::{host_name, sshd_opts, Fixture};
use support::users::{test_user, TEST_USER};
use support::{require_peer, start_oxsshd, start_sshd, HostKey, Peer, SshdOptions};

/// Bulk transfer size the issue asks for.
const HUNDRED_MB: u64 = 100_000_000;
/// Time limit for bulk transfers (they take a few seconds).
const BULK_TIMEOUT: Duration = Duration::from_secs(90);
/// Concurrent client runs in the matrix tests (the machine has two cores).
const PARALLEL: usize = 3;

/// The client port of the (only) accepted publickey login in the server's log.
fn accepted_port(log: &str) -> u16 {
    let line = log
        .lines()
        .find(|l| {
            l.contains(&format!(
                "Accepted publickey for {TEST_USER} from 127.0.0.1"
            ))
        })
        .unwrap_or_else(|| panic!("no Accepted line in\n{log}"));
    let rest = line.split(" port ").nth(1).expect("port");
    rest.split(' ')
        .next()
        .unwrap()
        .parse()
        .expect("port number")
}

#[test]
fn a_system_user_logs_in_by_key_and_the_session_runs_as_them() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    let out = f.openssh().run(
        "id -un; echo \"$HOME\"; pwd; echo \"$USER $LOGNAME $SHELL\"",
        b"",
    );
    assert_exit(&out, 0, &f.peer);
    assert_eq!(
        out.stdout,
        format!(
            "{TEST_USER}\n/tmp/{TEST_USER}-home\n/tmp/{TEST_USER}-home\n{TEST_USER} {TEST_USER} /bin/sh\n"
        )
    );
}

/// The group list looked up for `AllowGroups` is the one the session gets: every group
/// of the user (as `id -G` lists them locally), and a `DenyGroups` naming one of them
/// refuses the login.
#[test]
fn the_session_gets_the_groups_allow_groups_and_deny_groups_saw() {
    let id = |flag: &str| {
        let out = Command::new("id").args([flag, TEST_USER]).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[&format!("AllowGroups {}", id("-gn").trim())]))
    else {
        return;
    };
    let out = f.openssh().run("id -G", b"");
    assert_exit(&out, 0, &f.peer);
    let sorted = |s: &str| {
        let mut ids: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
        ids.sort();
        ids
    };
    assert_eq!(sorted(&out.stdout), sorted(&id("-G")));
    let denied =
        Fixture::start_oxsshd(sshd_opts(&[&format!("DenyGroups {}", id("-gn").trim())])).unwrap();
    let out = denied.openssh().run("echo never", b"");
    assert_exit(&out, 255, &denied.peer);
    assert!(
        denied.peer.log().contains("listed in DenyGroups"),
        "{}",
        denied.peer.log()
    );
}

// ---------------------------------------------------------------------------------
// Exit status and streams
// ---------------------------------------------------------------------------------

#[test]
fn ssh_exits_with_the_remote_commands_status() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    let codes = vec![0, 1, 7];
    let outs = in_parallel(codes.clone(), 3, |code| {
        f.openssh().run(&format!("echo ran; exit {code}"), b"")
    });
    for (code, out) in codes.into_iter().zip(outs) {
        assert_exit(&out, code, &f.peer);
        assert_eq!(out.stdout, "ran\n");
    }
}

#[test]
fn a_command_killed_by_a_signal_is_reported_as_exit_signal() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    let out = f
        .openssh()
        .args(["-v"])
        .run("echo before; kill -9 $$; echo after", b"");
    assert_exit(&out, 255, &f.peer);
    assert_eq!(out.stdout, "before\n");
    assert!(
        out.stderr.contains("rtype exit-signal"),
        "no exit-signal: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("rtype exit-status"), "{}", out.stderr);
}

#[test]
fn stdout_and_stderr_are_kept_apart_over_many_windows() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    // Interleaved small writes, then 3 MB and 2 MB: more than one 2 MB window each
    // (ssh's default), so flow control on both streams is exercised.
    let script = "printf out1; printf err1 >&2; printf out2; printf err2 >&2; \
                  head -c 3000000 /dev/zero | tr '\\0' o; \
                  head -c 2000000 /dev/zero | tr '\\0' e >&2; exit 3";
    let out = f.openssh().option("LogLevel=ERROR").run(script, b"");
    assert_exit(&out, 3, &f.peer);
    assert!(
        out.stdout == format!("out1out2{}", "o".repeat(3_000_000)),
        "stdout differs ({} bytes)",
        out.stdout.len()
    );
    assert!(
        out.stderr == format!("err1err2{}", "e".repeat(2_000_000)),
        "stderr differs ({} bytes): {:?}",
        out.stderr.len(),
        &out.stderr[..out.stderr.len().min(200)]
    );
}

#[test]
fn hundred_megabytes_of_binary_stdin_arrive_intact() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    let mut cmd = f
        .openssh()
        .option("LogLevel=ERROR")
        .command(Some("sha256sum >&2"));
    let t = run_transfer(&mut cmd, HUNDRED_MB, BULK_TIMEOUT);
    assert_exit(&t.output, 0, &f.peer);
    assert_eq!(t.sent.len, HUNDRED_MB);
    assert_eq!(t.output.stderr, format!("{}  -\n", t.sent.sha256));
    assert_eq!(t.received.len, 0);
}

#[test]
fn hundred_megabytes_of_binary_stdout_arrive_intact() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    let mut cmd = f
        .openssh()
        .option("LogLevel=ERROR")
        .command(Some(&random_stdout(HUNDRED_MB)));
    let t = run_transfer(&mut cmd, 0, BULK_TIMEOUT);
    assert_exit(&t.output, 0, &f.peer);
    assert_eq!(t.received.len, HUNDRED_MB);
    assert_eq!(t.output.stderr, format!("{}  -\n", t.received.sha256));
}

#[test]
fn stdin_is_echoed_back_byte_for_byte() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    let mut cmd = f.openssh().option("LogLevel=ERROR").command(Some("cat"));
    let t = run_transfer(&mut cmd, 10_000_000, BULK_TIMEOUT);
    assert_exit(&t.output, 0, &f.peer);
    assert_eq!(t.received, t.sent);
}

#[test]
fn input_after_the_child_closed_its_stdin_is_discarded_and_the_session_ends() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    // Far more than the window: the client only finishes sending if the server keeps
    // taking (and dropping) what the child no longer reads.
    let input = vec![b'y'; 20_000_000];
    let out = f
        .openssh()
        .option("LogLevel=ERROR")
        .run("head -c 10; exec 0<&-; sleep 1; echo done", &input);
    assert_exit(&out, 0, &f.peer);
    assert_eq!(out.stdout, format!("{}done\n", "y".repeat(10)));
}

// ---------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------

#[test]
fn connection_variables_name_both_ends_and_no_tty_without_a_pty() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    let out = f.openssh().run(
        "echo \"$SSH_CONNECTION|$SSH_CLIENT|${SSH_TTY-unset}|${TERM-unset}\"",
        b"",
    );
    assert_exit(&out, 0, &f.peer);
    let client_port = accepted_port(&f.peer.log());
    let server_port = f.peer.port();
    assert_eq!(
        out.stdout,
        format!(
            "127.0.0.1 {client_port} 127.0.0.1 {server_port}|\
             127.0.0.1 {client_port} {server_port}|unset|unset\n"
        )
    );
}

#[test]
fn accept_env_lets_send_env_and_set_env_through_and_nothing_else() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[
        "AcceptEnv LANG LC_*",
        "SetEnv FROM_SERVER=server-set",
    ])) else {
        return;
    };
    let out = f
        .openssh()
        .option("SendEnv=LANG LC_* OXSSH_NOT_ACCEPTED")
        .option("SetEnv=LC_OXSSH_SET=set-env OXSSH_SET_REFUSED=no")
        .env("LANG", "C.UTF-8")
        .env("LC_OXSSH_SENT", "send-env")
        .env("OXSSH_NOT_ACCEPTED", "no")
        .run(
            "echo \"$LANG|$LC_OXSSH_SENT|$LC_OXSSH_SET|$FROM_SERVER|\
             ${OXSSH_NOT_ACCEPTED-unset}|${OXSSH_SET_REFUSED-unset}\"",
            b"",
        );
    assert_exit(&out, 0, &f.peer);
    assert_eq!(
        out.stdout,
        "C.UTF-8|send-env|set-env|server-set|unset|unset\n"
    );
}

// ---------------------------------------------------------------------------------
// Terminals
// ---------------------------------------------------------------------------------

#[test]
fn forced_tty_gets_a_pty_of_the_local_size_with_term_and_ssh_tty() {
    if !require_peer("script") {
        return;
    }
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    let ssh = shell_line(&f.openssh().args(["-tt"]).command(Some(
        "tty; stty size; echo TERM=$TERM; echo SSH_TTY=$SSH_TTY; exit 5",
    )));
    let out = under_script(&format!("stty rows 33 cols 111; exec {ssh}"), b"");
    assert_exit(&out, 5, &f.peer);
    let tty = out
        .stdout
        .lines()
        .find(|l| l.starts_with("/dev/pts/"))
        .unwrap_or_else(|| panic!("no tty in {}", out.stdout))
        .trim_end_matches('\r')
        .to_owned();
    assert!(out.stdout.contains("33 111\r\n"), "{}", out.stdout);
    assert!(out.stdout.contains("TERM=xterm\r\n"), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("SSH_TTY={tty}\r\n")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Connection to 127.0.0.1 closed."),
        "{}",
        out.stdout
    );
}

#[test]
fn interactive_shell_runs_typed_commands_on_a_pty() {
    if !require_peer("script") {
        return;
    }
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&["PrintMotd no"])) else {
        return;
    };
    let ssh = shell_line(&f.openssh().command(None));
    let out = under_script(
        &format!("exec {ssh}"),
        b"echo $((6 * 7)); tty; id -un; exit 4\n",
    );
    assert_exit(&out, 4, &f.peer);
    // The terminal echoes the typed line when it reaches the pty: before the shell's
    // first prompt ("...\r\n$ 42") or, when the shell starts first, after it
    // ("$ echo ...\r\n42"). Either way the prompt is there and the result is on a line
    // of its own, with the pty's \r\n.
    assert!(out.stdout.contains("$ "), "{}", out.stdout);
    assert!(
        out.stdout.contains("$ 42\r\n") || out.stdout.contains("\n42\r\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("/dev/pts/"), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("\n{TEST_USER}\r\n")),
        "{}",
        out.stdout
    );
    assert!(
        f.peer.log().contains("Starting session: shell on pts/"),
        "{}",
        f.peer.log()
    );
}

#[test]
fn terminal_resize_reaches_the_remote_program_as_window_change() {
    if !require_peer("script") {
        return;
    }
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    // The remote side prints its size, waits (at most 10 s) for it to change, and
    // prints it again; the local side resizes the terminal once the first size is out.
    let remote = "stty size; for i in $(seq 100); do \
                  [ \"$(stty size)\" = '10 20' ] || break; sleep 0.1; done; stty size";
    let ssh = shell_line(&f.openssh().args(["-tt"]).command(Some(remote)));
    let out_file = f.client.path().join("pty-output");
    let out = shell_line(&Command::new(&out_file));
    let local = format!(
        "stty rows 10 cols 20; {ssh} </dev/tty >{out} 2>&1 & \
         for i in $(seq 200); do grep -q '10 20' {out} && break; sleep 0.05; done; \
         stty rows 40 cols 100; wait $!"
    );
    let result = under_script(&local, b"");
    let printed = std::fs::read_to_string(&out_file)
        .unwrap_or_default()
        .replace("^@", "");
    assert_exit(&result, 0, &f.peer);
    assert!(printed.contains("10 20\r\n40 100\r\n"), "{printed:?}");
}

// ---------------------------------------------------------------------------------
// Algorithms
// ---------------------------------------------------------------------------------

/// Whether ssh's `-v` output shows `what` followed by exactly `value`.
fn negotiated(stderr: &str, what: &str, value: &str) -> bool {
    stderr.lines().any(|line| {
        line.split_once(what)
            .is_some_and(|(_, rest)| rest.trim_end() == value)
    })
}

#[test]
fn every_cipher_and_mac_pair_carries_a_session() {
    let all_ciphers = [MAC_CIPHERS.as_slice(), AEAD_CIPHERS.as_slice()].concat();
    let Some(f) = Fixture::start_oxsshd(SshdOptions {
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
        // Several packets each way, 100 kB in both directions.
        let input = format!("{cipher} {mac}\n").repeat(2500);
        let out = f
            .openssh()
            .args(["-v", "-c", cipher, "-m", mac])
            .run("cat", input.as_bytes());
        (out, input)
    });
    for ((cipher, mac), (out, input)) in pairs.into_iter().zip(outs) {
        assert_exit(&out, 0, &f.peer);
        assert!(out.stdout == input, "{cipher} {mac}: output differs");
        let used_mac = if AEAD_CIPHERS.contains(&cipher) {
            "<implicit>"
        } else {
            mac
        };
        for direction in ["client->server", "server->client"] {
            let line =
                format!("kex: {direction} cipher: {cipher} MAC: {used_mac} compression: none");
            assert!(
                out.stderr.contains(&line),
                "ssh never negotiated `{line}`\n{}",
                out.stderr
            );
        }
    }
}

#[test]
fn every_key_exchange_ssh_offers_works() {
    let Some(f) = Fixture::start_oxsshd(SshdOptions {
        kex_algorithms: Some(KEXES.join(",")),
        ..sshd_opts(&[])
    }) else {
        return;
    };
    let kexes = KEXES.to_vec();
    let outs = in_parallel(kexes.clone(), PARALLEL, |kex| {
        f.openssh()
            .args(["-v"])
            .option(&format!("KexAlgorithms={kex}"))
            .run(&format!("echo {kex}"), b"")
    });
    for (kex, out) in kexes.into_iter().zip(outs) {
        assert_exit(&out, 0, &f.peer);
        assert_eq!(out.stdout, format!("{kex}\n"));
        assert!(
            negotiated(&out.stderr, "kex: algorithm: ", kex),
            "ssh never used {kex}\n{}",
            out.stderr
        );
    }
}

#[test]
fn every_host_key_algorithm_is_verified_against_known_hosts() {
    let Some(f) = Fixture::start_oxsshd(SshdOptions {
        host_keys: HostKey::ALL.to_vec(),
        host_key_algorithms: Some(
            SIGNED_HOST_KEY_ALGORITHMS
                .iter()
                .map(|(alg, _)| *alg)
                .collect::<Vec<_>>()
                .join(","),
        ),
        ..SshdOptions::default()
    }) else {
        return;
    };
    let outs = in_parallel(
        SIGNED_HOST_KEY_ALGORITHMS.to_vec(),
        PARALLEL,
        |(alg, key)| {
            // A known_hosts holding only the right key, and strict checking: ssh must have
            // verified exactly this key's signature.
            let public =
                std::fs::read_to_string(public_path(&f.peer.dir().join(key.file_name()))).unwrap();
            let known = f.client.path().join(format!("known_hosts_{alg}"));
            std::fs::write(&known, format!("{} {public}", host_name(&f.peer))).unwrap();
            f.openssh()
                .args(["-v"])
                .option(&format!("UserKnownHostsFile={}", known.display()))
                .option("StrictHostKeyChecking=yes")
                .option(&format!("HostKeyAlgorithms={alg}"))
                .run("echo verified", b"")
        },
    );
    for ((alg, _), out) in SIGNED_HOST_KEY_ALGORITHMS.into_iter().zip(outs) {
        assert_exit(&out, 0, &f.peer);
        assert_eq!(out.stdout, "verified\n", "{alg}");
        assert!(
            negotiated(&out.stderr, "kex: host key algorithm: ", alg),
            "ssh never verified {alg}\n{}",
            out.stderr
        );
    }
}

/// The `SHA256:...` fingerprint of a public key file, as the auth log shows it.
fn fingerprint(path: &std::path::Path) -> String {
    let out = support::run(
        Command::new("ssh-keygen").arg("-lf").arg(public_path(path)),
        b"",
        support::RUN_TIMEOUT,
    );
    out.stdout
        .split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_owned()
}

#[test]
fn user_keys_of_every_type_authenticate_and_are_logged_by_fingerprint() {
    if !require_peer("ssh-keygen") {
        return;
    }
    test_user();
    let client = ClientDir::new();
    let kinds = vec![
        ("id_ed25519", HostKey::Ed25519, "ED25519"),
        ("id_ecdsa256", HostKey::EcdsaP256, "ECDSA"),
        ("id_ecdsa384", HostKey::EcdsaP384, "ECDSA"),
        ("id_ecdsa521", HostKey::EcdsaP521, "ECDSA"),
        ("id_rsa", HostKey::Rsa, "RSA"),
    ];
    let keys = in_parallel(kinds.clone(), 2, |(name, kind, _)| {
        client.key(name, kind, None)
    });
    let peer = start_oxsshd(&SshdOptions {
        authorized_keys: keys.iter().map(|k| k.public.clone()).collect(),
        ..sshd_opts(&[])
    });
    // Each key alone; RSA once per SHA-2 signature algorithm.
    let mut runs: Vec<(usize, Option<&str>)> = (0..keys.len()).map(|i| (i, None)).collect();
    runs.push((4, Some("rsa-sha2-256")));
    runs.push((4, Some("rsa-sha2-512")));
    for (i, alg) in runs {
        let key = &keys[i];
        let mut ssh = Ssh::openssh(&client, &peer, TEST_USER)
            .identity(&key.path)
            .option("IdentitiesOnly=yes");
        if let Some(alg) = alg {
            ssh = ssh.option(&format!("PubkeyAcceptedAlgorithms={alg}"));
        }
        let before = peer.log().lines().count();
        let out = ssh.run("id -un", b"");
        assert_exit(&out, 0, &peer);
        assert_eq!(out.stdout, format!("{TEST_USER}\n"));
        let log = peer.log();
        let new: Vec<&str> = log.lines().skip(before).collect();
        let label = kinds[i].2;
        let expected = format!("ssh2: {label} {}", fingerprint(&key.path));
        assert!(
            new.iter().any(|l| l.contains(&format!(
                "Accepted publickey for {TEST_USER} from 127.0.0.1 port"
            )) && l.ends_with(&expected)),
            "{} ({alg:?}) was not the key accepted\n{log}",
            key.path.display()
        );
    }
}

#[test]
fn pubkey_accepted_algorithms_limits_the_rsa_signature_algorithm() {
    if !require_peer("ssh-keygen") {
        return;
    }
    test_user();
    let client = ClientDir::new();
    let key = client.key("id_rsa", HostKey::Rsa, None);
    for (server_alg, other) in [
        ("rsa-sha2-256", "rsa-sha2-512"),
        ("rsa-sha2-512", "rsa-sha2-256"),
    ] {
        let peer = start_oxsshd(&SshdOptions {
            authorized_keys: vec![key.public.clone()],
            ..sshd_opts(&[&format!("PubkeyAcceptedAlgorithms {server_alg}")])
        });
        let ssh = |alg: &str| {
            Ssh::openssh(&client, &peer, TEST_USER)
                .identity(&key.path)
                .option("IdentitiesOnly=yes")
                .option(&format!("PubkeyAcceptedAlgorithms={alg}"))
                .run("echo in", b"")
        };
        let good = ssh(server_alg);
        assert_exit(&good, 0, &peer);
        assert_eq!(good.stdout, "in\n");
        let refused = ssh(other);
        assert_exit(&refused, 255, &peer);
        assert_eq!(refused.stdout, "");
        assert!(
            refused.stderr.contains("Permission denied (publickey)"),
            "{server_alg} server, {other} client: {}",
            refused.stderr
        );
    }
}

// ---------------------------------------------------------------------------------
// ~/.ssh/rc
// ---------------------------------------------------------------------------------

/// The rc file's line: who ran it, where, and whether its standard input was empty.
const RC_SCRIPT: &str = "if read line; then i=\"read $line\"; else i=empty; fi\n\
                         echo \"rc: $(id -un) $(pwd) $i\"\n";

/// What `~/.ssh/rc` printed, then the command's output, for each case, from the server
/// `start` runs.
fn rc_outputs(start: fn(&SshdOptions) -> Peer, user: &str) -> Vec<String> {
    let cases: [(&[&str], &str); 3] = [(&[], ""), (&["PermitUserRC no"], ""), (&[], "no-user-rc ")];
    cases
        .iter()
        .map(|(extra, key_options)| {
            let client = ClientDir::new();
            let key = client.key("id_ed25519", HostKey::Ed25519, None);
            let peer = start(&SshdOptions {
                authorized_keys: vec![format!("{key_options}{}", key.public)],
                ..sshd_opts(extra)
            });
            let out = Ssh::openssh(&client, &peer, user)
                .identity(&key.path)
                .run("echo command ran", b"input line\n");
            assert_exit(&out, 0, &peer);
            out.stdout
        })
        .collect()
}

#[test]
fn user_rc_runs_before_the_command_unless_permit_user_rc_or_the_key_forbids_it() {
    if !require_peer("sshd") || !require_peer("ssh-keygen") {
        return;
    }
    let user = support::users::own_password_user("oxssh-rc");
    let home = format!("/tmp/{user}-home");
    let script = format!(
        "mkdir -p {home}/.ssh && printf '%s' \"$1\" > {home}/.ssh/rc && \
         chown -R {user} {home}/.ssh && chmod 700 {home}/.ssh"
    );
    let status = Command::new("sh")
        .args(["-c", &script, "sh", RC_SCRIPT])
        .status()
        .unwrap();
    assert!(status.success());
    let ours = rc_outputs(start_oxsshd, user);
    let theirs = rc_outputs(start_sshd, user);
    let ran = format!("rc: {user} {home} empty\ncommand ran\n");
    assert_eq!(theirs, [ran.as_str(), "command ran\n", "command ran\n"]);
    assert_eq!(ours, theirs);
}
