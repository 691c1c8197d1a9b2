//! `oxsshd` authentication as the system daemon, with OpenSSH's `ssh` as the client:
//! PAM passwords (`sshpass`, askpass) and keyboard-interactive, `AuthenticationMethods`,
//! `PermitRootLogin`, `AllowUsers`/`DenyUsers`, `ForceCommand` in a `Match` block, the
//! authorized_keys options (`command=`, `from=`, `no-pty`, `environment=`, `restrict`),
//! and the auth log, as text (compared with sshd's own lines) and as JSON.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::process::Command;

use support::client::{assert_exit, in_parallel, text, ClientDir, Ssh, UserKey, CLIENT_TIMEOUT};
use support::openssh::{sshd_opts, Fixture};
use support::users::{password_user, test_user, PASSWORD, TEST_USER};
use support::{require_peer, run, start_oxsshd, start_sshd, HostKey, Output, Peer, SshdOptions};

/// A user name with no account.
const NO_SUCH_USER: &str = "oxssh-nosuch";

/// Password logins through PAM (and our key, for partial success), with `extra` lines.
fn password_fixture(extra: &[&str]) -> Option<Fixture> {
    if !require_peer("ssh-keygen") {
        return None;
    }
    password_user();
    let mut lines = vec!["UsePAM yes"];
    lines.extend_from_slice(extra);
    Fixture::start_oxsshd(sshd_opts(&lines))
}

/// `ssh` under `sshpass -p password`, which types the password at ssh's terminal prompt.
fn sshpass(ssh: &Ssh, password: &str, remote: &str) -> Output {
    let inner = ssh.command(Some(remote));
    let mut cmd = Command::new("sshpass");
    cmd.arg("-p")
        .arg(password)
        .arg(inner.get_program())
        .args(inner.get_args());
    for (name, value) in inner.get_envs() {
        match value {
            Some(value) => cmd.env(name, value),
            None => cmd.env_remove(name),
        };
    }
    run(&mut cmd, b"", CLIENT_TIMEOUT)
}

/// The auth log lines (`Accepted ...`, `Failed ...`, `Invalid user ...`, `Partial ...`)
/// with the timestamp and level cut off and client ports replaced by `N`, so oxsshd's
/// and sshd's lines compare.
fn auth_lines(log: &str) -> Vec<String> {
    let starts = ["Accepted ", "Failed ", "Invalid user ", "Partial "];
    log.lines()
        .filter_map(|line| {
            let at = starts.iter().filter_map(|s| line.find(s)).min()?;
            let words: Vec<&str> = line[at..].split(' ').collect();
            let mut out = Vec::new();
            for (i, w) in words.iter().enumerate() {
                if i > 0 && words[i - 1] == "port" {
                    out.push("N");
                } else {
                    out.push(w);
                }
            }
            Some(out.join(" ").trim_end().to_owned())
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// Passwords and keyboard-interactive (PAM)
// ---------------------------------------------------------------------------------

#[test]
fn an_expired_password_lets_the_user_in_only_to_change_it() {
    if !require_peer("sshpass") {
        return;
    }
    let Some(f) = password_fixture(&[
        "PasswordAuthentication yes",
        "KbdInteractiveAuthentication no",
    ]) else {
        return;
    };
    let user = support::users::expired_user();
    let ssh = Ssh::openssh(&f.client, &f.peer, user)
        .interactive()
        .option("PreferredAuthentications=password");
    // Without a terminal the command does not run: sshd's do_pwchange message, exit 1.
    let out = sshpass(&ssh, PASSWORD, "echo should-not-run");
    assert_eq!(out.code(), Some(1), "{}\n{}", out.stderr, f.peer.log());
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains(
            "WARNING: Your password has expired.\nPassword change required but no TTY available.\n"
        ),
        "{}",
        out.stderr
    );
    assert!(f
        .peer
        .log()
        .contains(&format!("Accepted password for {user}")));
}

#[test]
fn password_typed_by_sshpass_logs_a_system_user_in_through_pam() {
    if !require_peer("sshpass") {
        return;
    }
    let Some(f) = password_fixture(&[
        "PasswordAuthentication yes",
        "KbdInteractiveAuthentication no",
    ]) else {
        return;
    };
    let user = password_user();
    let ssh = Ssh::openssh(&f.client, &f.peer, user)
        .interactive()
        .option("PreferredAuthentications=password")
        .option("PubkeyAuthentication=no");
    let out = sshpass(&ssh, PASSWORD, "id -un; echo \"$HOME\"");
    assert_exit(&out, 0, &f.peer);
    assert_eq!(out.stdout, format!("{user}\n/tmp/{user}-home\n"));
    assert!(
        f.peer
            .log()
            .contains(&format!("Accepted password for {user} from 127.0.0.1 port")),
        "{}",
        f.peer.log()
    );
}

#[test]
fn wrong_password_is_refused_and_logged_as_sshd_logs_it() {
    if !require_peer("sshd") {
        return;
    }
    let Some(f) = password_fixture(&[
        "PasswordAuthentication yes",
        "KbdInteractiveAuthentication no",
    ]) else {
        return;
    };
    let user = password_user();
    // The same attempts against sshd with the same configuration, for its log lines.
    let sshd = start_sshd(&SshdOptions {
        authorized_keys: vec![f.key.public.clone()],
        ..sshd_opts(&[
            "UsePAM yes",
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no",
        ])
    });
    let wrong = f.client.askpass("not the password");
    // Both users against both servers at once: each refusal waits out a failure delay.
    let jobs = vec![
        (&f.peer, user),
        (&f.peer, NO_SUCH_USER),
        (&sshd, user),
        (&sshd, NO_SUCH_USER),
    ];
    let mut outs = in_parallel(jobs, 4, |(peer, name)| {
        Ssh::openssh(&f.client, peer, name)
            .askpass(&wrong)
            .option("PreferredAuthentications=password")
            .option("NumberOfPasswordPrompts=1")
            .option("LogLevel=ERROR")
            .run("echo never", b"")
    });
    let theirs = outs.split_off(2);
    let ours = outs;
    for (our, their) in ours.iter().zip(&theirs) {
        assert_exit(our, 255, &f.peer);
        assert_eq!(our.stdout, "");
        assert!(
            our.stderr
                .contains("Permission denied (publickey,password)."),
            "{}",
            our.stderr
        );
        assert_eq!(text(&our.stderr), text(&their.stderr));
    }
    let sorted = |log: &str| {
        let mut lines = auth_lines(log);
        lines.sort();
        lines
    };
    let our_lines = sorted(&f.peer.log());
    assert_eq!(
        our_lines,
        [
            format!("Failed password for invalid user {NO_SUCH_USER} from 127.0.0.1 port N ssh2"),
            format!("Failed password for {user} from 127.0.0.1 port N ssh2"),
            format!("Invalid user {NO_SUCH_USER} from 127.0.0.1 port N"),
        ],
        "{}",
        f.peer.log()
    );
    let their_lines: Vec<String> = sorted(&sshd.log())
        .into_iter()
        .filter(|l| !l.starts_with("Failed none"))
        .collect();
    assert_eq!(our_lines, their_lines, "sshd's log:\n{}", sshd.log());
}

#[test]
fn keyboard_interactive_asks_the_pam_question_through_askpass() {
    if !require_peer("sshd") {
        return;
    }
    let extra = [
        "UsePAM yes",
        "KbdInteractiveAuthentication yes",
        "PasswordAuthentication no",
    ];
    let Some(f) = password_fixture(&extra[1..]) else {
        return;
    };
    let user = password_user();
    let askpass = f.client.askpass(PASSWORD);
    let kbd = |peer: &Peer, name: &str| {
        Ssh::openssh(&f.client, peer, name)
            .askpass(&askpass)
            .option("PreferredAuthentications=keyboard-interactive")
            .option("NumberOfPasswordPrompts=1")
            .run("id -un", b"")
    };
    let ours = kbd(&f.peer, user);
    assert_exit(&ours, 0, &f.peer);
    assert_eq!(ours.stdout, format!("{user}\n"));
    assert!(
        f.peer.log().contains(&format!(
            "Accepted keyboard-interactive/pam for {user} from 127.0.0.1 port"
        )),
        "{}",
        f.peer.log()
    );
    // An unknown user is asked the same question, and refused after the answer.
    let unknown = kbd(&f.peer, NO_SUCH_USER);
    assert_exit(&unknown, 255, &f.peer);
    assert!(
        unknown.stderr.contains("Permission denied"),
        "{}",
        unknown.stderr
    );
    let our_prompts = f.client.prompts();
    assert_eq!(our_prompts.len(), 2, "{our_prompts:?}");
    assert_eq!(
        our_prompts[1],
        our_prompts[0].replace(user, NO_SUCH_USER),
        "an unknown user is asked differently"
    );
    // sshd asks the same question.
    std::fs::remove_file(f.client.path().join("askpass.log")).unwrap();
    let sshd = start_sshd(&sshd_opts(&extra));
    let theirs = kbd(&sshd, user);
    assert_eq!(theirs.code(), Some(0), "{}", theirs.stderr);
    assert_eq!(
        f.client.prompts(),
        our_prompts[..1],
        "prompt differs from sshd's"
    );
}

#[test]
fn authentication_methods_require_the_key_and_then_the_password() {
    let Some(f) = password_fixture(&[
        "PasswordAuthentication yes",
        "KbdInteractiveAuthentication no",
        "AuthenticationMethods publickey,password",
    ]) else {
        return;
    };
    let user = password_user();
    let both = Ssh::openssh(&f.client, &f.peer, user)
        .identity(&f.key.path)
        .askpass(&f.client.askpass(PASSWORD))
        .run("id -un", b"");
    assert_exit(&both, 0, &f.peer);
    assert_eq!(both.stdout, format!("{user}\n"));
    let log = f.peer.log();
    assert!(
        log.contains(&format!("Partial publickey for {user} from 127.0.0.1 port"))
            || log.contains(&format!(
                "Accepted publickey for {user} from 127.0.0.1 port"
            )),
        "{log}"
    );
    assert!(
        log.contains(&format!("Accepted password for {user} from 127.0.0.1 port")),
        "{log}"
    );
    // The password alone is not enough: the server offers only publickey first.
    let password_only = Ssh::openssh(&f.client, &f.peer, user)
        .option("PubkeyAuthentication=no")
        .askpass(&f.client.askpass(PASSWORD))
        .run("echo never", b"");
    assert_exit(&password_only, 255, &f.peer);
    assert!(
        password_only
            .stderr
            .contains("Permission denied (publickey)."),
        "{}",
        password_only.stderr
    );
    // The key alone is not enough either.
    let key_only = Ssh::openssh(&f.client, &f.peer, user)
        .identity(&f.key.path)
        .run("echo never", b"");
    assert_exit(&key_only, 255, &f.peer);
    assert!(
        key_only.stderr.contains("Permission denied (password)."),
        "{}",
        key_only.stderr
    );
}

// ---------------------------------------------------------------------------------
// Who may log in
// ---------------------------------------------------------------------------------

#[test]
fn permit_root_login_no_refuses_root_even_with_an_authorised_key() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&["PermitRootLogin no"])) else {
        return;
    };
    let out = Ssh::openssh(&f.client, &f.peer, "root")
        .identity(&f.key.path)
        .run("echo never", b"");
    assert_exit(&out, 255, &f.peer);
    assert!(out.stderr.contains("Permission denied"), "{}", out.stderr);
    assert!(
        f.peer.log().contains("ROOT LOGIN REFUSED FROM 127.0.0.1"),
        "{}",
        f.peer.log()
    );
    // The same key still lets a normal user in.
    let user = f.openssh().run("id -un", b"");
    assert_exit(&user, 0, &f.peer);
}

#[test]
fn permit_root_login_prohibit_password_lets_root_in_by_key() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&["PermitRootLogin prohibit-password"])) else {
        return;
    };
    let out = Ssh::openssh(&f.client, &f.peer, "root")
        .identity(&f.key.path)
        .run("id -un", b"");
    assert_exit(&out, 0, &f.peer);
    assert_eq!(out.stdout, "root\n");
}

#[test]
fn allow_users_and_deny_users_decide_who_may_log_in() {
    let Some(_) = password_fixture(&[]) else {
        return;
    };
    let user = password_user();
    for (line, refused, allowed, reason) in [
        (
            format!("AllowUsers {user}"),
            TEST_USER,
            user,
            "not listed in AllowUsers",
        ),
        (
            format!("DenyUsers {TEST_USER}"),
            TEST_USER,
            user,
            "listed in DenyUsers",
        ),
    ] {
        let f = Fixture::start_oxsshd(sshd_opts(&[&line])).unwrap();
        let out = Ssh::openssh(&f.client, &f.peer, refused)
            .identity(&f.key.path)
            .run("echo never", b"");
        assert_exit(&out, 255, &f.peer);
        assert!(out.stderr.contains("Permission denied"), "{}", out.stderr);
        let logged = format!("User {refused} from 127.0.0.1 not allowed because {reason}");
        assert!(f.peer.log().contains(&logged), "{line}: {}", f.peer.log());
        let ok = Ssh::openssh(&f.client, &f.peer, allowed)
            .identity(&f.key.path)
            .run("id -un", b"");
        assert_exit(&ok, 0, &f.peer);
        assert_eq!(ok.stdout, format!("{allowed}\n"), "{line}");
    }
}

#[test]
fn force_command_in_a_match_user_block_applies_to_that_user_only() {
    let Some(_) = password_fixture(&[]) else {
        return;
    };
    let user = password_user();
    let f = Fixture::start_oxsshd(SshdOptions {
        tail: vec![
            format!("Match User {user}"),
            "ForceCommand echo matched \"$SSH_ORIGINAL_COMMAND\"".into(),
        ],
        ..sshd_opts(&[])
    })
    .unwrap();
    let forced = Ssh::openssh(&f.client, &f.peer, user)
        .identity(&f.key.path)
        .run("id -un", b"");
    assert_exit(&forced, 0, &f.peer);
    assert_eq!(forced.stdout, "matched id -un\n");
    let free = f.openssh().run("id -un", b"");
    assert_exit(&free, 0, &f.peer);
    assert_eq!(free.stdout, format!("{TEST_USER}\n"));
}

// ---------------------------------------------------------------------------------
// authorized_keys options
// ---------------------------------------------------------------------------------

/// One server authorising a separate key for each option set in `options`.
fn keys_with_options(options: &[&str], extra: &[&str]) -> Option<(ClientDir, Peer, Vec<UserKey>)> {
    if !require_peer("ssh-keygen") {
        return None;
    }
    test_user();
    let client = ClientDir::new();
    let keys: Vec<UserKey> = (0..options.len())
        .map(|i| client.key(&format!("id_{i}"), HostKey::Ed25519, None))
        .collect();
    let lines = options
        .iter()
        .zip(&keys)
        .map(|(opts, key)| format!("{opts} {}", key.public))
        .collect();
    let peer = start_oxsshd(&SshdOptions {
        authorized_keys: lines,
        ..sshd_opts(extra)
    });
    Some((client, peer, keys))
}

/// ssh as the test user with `key` alone.
fn with_key(client: &ClientDir, peer: &Peer, key: &UserKey) -> Ssh {
    Ssh::openssh(client, peer, TEST_USER)
        .identity(&key.path)
        .option("IdentitiesOnly=yes")
}

#[test]
fn key_command_option_forces_the_command_and_keeps_the_original() {
    let Some((client, peer, keys)) =
        keys_with_options(&["command=\"echo forced $SSH_ORIGINAL_COMMAND\""], &[])
    else {
        return;
    };
    let out = with_key(&client, &peer, &keys[0]).run("id -un", b"");
    assert_exit(&out, 0, &peer);
    assert_eq!(out.stdout, "forced id -un\n");
}

#[test]
fn key_from_option_accepts_only_the_listed_addresses() {
    let Some((client, peer, keys)) =
        keys_with_options(&["from=\"10.0.0.1\"", "from=\"127.0.0.1\""], &[])
    else {
        return;
    };
    let refused = with_key(&client, &peer, &keys[0]).run("echo never", b"");
    assert_exit(&refused, 255, &peer);
    assert!(
        refused.stderr.contains("Permission denied (publickey)."),
        "{}",
        refused.stderr
    );
    assert!(
        peer.log().contains("not allowed by from="),
        "{}",
        peer.log()
    );
    let accepted = with_key(&client, &peer, &keys[1]).run("id -un", b"");
    assert_exit(&accepted, 0, &peer);
    assert_eq!(accepted.stdout, format!("{TEST_USER}\n"));
}

#[test]
fn no_pty_and_restrict_refuse_a_pty_and_restrict_pty_allows_it() {
    let Some((client, peer, keys)) =
        keys_with_options(&["no-pty", "restrict", "restrict,pty"], &[])
    else {
        return;
    };
    let tty = |key: &UserKey| {
        with_key(&client, &peer, key)
            .args(["-tt"])
            .run("tty; exit 3", b"")
    };
    // ssh treats a refused pty as fatal when one was explicitly requested (as against
    // sshd: it closes the channel, exit 255).
    for key in &keys[..2] {
        let out = tty(key);
        assert_exit(&out, 255, &peer);
        assert!(
            out.stderr
                .contains("PTY allocation request failed on channel 0"),
            "{}",
            out.stderr
        );
        assert_eq!(out.stdout, "");
    }
    assert_eq!(
        peer.log().matches("Pty allocation disabled.").count(),
        2,
        "{}",
        peer.log()
    );
    let out = tty(&keys[2]);
    assert_exit(&out, 3, &peer);
    assert!(out.stdout.starts_with("/dev/pts/"), "{}", out.stdout);
}

#[test]
fn key_environment_option_applies_only_with_permit_user_environment() {
    let options = ["environment=\"OXSSH_KEY_ENV=from-key\""];
    let show = "echo \"${OXSSH_KEY_ENV-unset}\"";
    let Some((client, peer, keys)) = keys_with_options(&options, &["PermitUserEnvironment yes"])
    else {
        return;
    };
    let out = with_key(&client, &peer, &keys[0]).run(show, b"");
    assert_exit(&out, 0, &peer);
    assert_eq!(out.stdout, "from-key\n");
    let (client, peer, keys) = keys_with_options(&options, &[]).unwrap();
    let out = with_key(&client, &peer, &keys[0]).run(show, b"");
    assert_exit(&out, 0, &peer);
    assert_eq!(out.stdout, "unset\n");
}

// ---------------------------------------------------------------------------------
// The log
// ---------------------------------------------------------------------------------

#[test]
fn accepted_publickey_is_logged_with_port_and_fingerprint() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    let out = f.openssh().args(["-v"]).run("true", b"");
    assert_exit(&out, 0, &f.peer);
    // ssh -v names the key it offered, with its fingerprint.
    let fp = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("debug1: Server accepts key: "))
        .and_then(|l| l.split(' ').find(|w| w.starts_with("SHA256:")))
        .unwrap_or_else(|| panic!("no accepted key in {}", out.stderr))
        .to_owned();
    let lines = auth_lines(&f.peer.log());
    assert_eq!(
        lines,
        [format!(
            "Accepted publickey for {TEST_USER} from 127.0.0.1 port N ssh2: ED25519 {fp}"
        )],
        "{}",
        f.peer.log()
    );
}

/// `"name":"value"` (or `"name":value` for numbers and booleans) in a JSON line.
fn has_field(line: &str, name: &str, value: &str) -> bool {
    line.contains(&format!("\"{name}\":\"{value}\""))
        || line.contains(&format!("\"{name}\":{value}"))
}

#[test]
fn json_log_format_writes_one_structured_event_per_line() {
    let Some(_) = password_fixture(&[]) else {
        return;
    };
    let user = password_user();
    let f = Fixture::start_oxsshd(SshdOptions {
        args: vec!["--log-format".into(), "json".into()],
        ..sshd_opts(&["UsePAM yes", "PasswordAuthentication yes"])
    })
    .unwrap();
    let good = f.openssh().run("true", b"");
    assert_exit(&good, 0, &f.peer);
    let bad = Ssh::openssh(&f.client, &f.peer, user)
        .askpass(&f.client.askpass("wrong"))
        .option("PreferredAuthentications=password")
        .option("NumberOfPasswordPrompts=1")
        .run("true", b"");
    assert_exit(&bad, 255, &f.peer);
    let unknown = Ssh::openssh(&f.client, &f.peer, NO_SUCH_USER)
        .identity(&f.key.path)
        .run("true", b"");
    assert_exit(&unknown, 255, &f.peer);

    let log = f.peer.log();
    for line in log.lines() {
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "not a JSON line: {line}\n{log}"
        );
    }
    let find = |what: &[(&str, &str)]| {
        log.lines()
            .any(|l| what.iter().all(|(name, value)| has_field(l, name, value)))
    };
    let expected: [&[(&str, &str)]; 6] = [
        &[("event", "connection"), ("addr", "127.0.0.1")],
        &[
            ("event", "auth"),
            ("result", "accepted"),
            ("user", TEST_USER),
            ("method", "publickey"),
            ("key_type", "ED25519"),
        ],
        &[("event", "session_start"), ("user", TEST_USER)],
        &[
            ("event", "auth"),
            ("result", "failed"),
            ("user", user),
            ("method", "password"),
        ],
        &[
            ("event", "auth"),
            ("result", "invalid_user"),
            ("user", NO_SUCH_USER),
        ],
        &[("event", "disconnect"), ("user", TEST_USER)],
    ];
    for fields in expected {
        assert!(find(fields), "no line with {fields:?} in\n{log}");
    }
    assert!(!log.contains("wrong"), "the password was logged:\n{log}");
}

// ---------------------------------------------------------------------------------
// Log levels
// ---------------------------------------------------------------------------------

/// The connection, authentication and session lines a login with an unauthorised key
/// tried first leaves in the log of the server `start` runs at `LogLevel level`, with
/// every port number replaced by `N`.
fn login_log_lines(start: fn(&SshdOptions) -> Peer, level: &str) -> Vec<String> {
    const MESSAGES: [&str; 5] = [
        "Connection from ",
        "Failed publickey ",
        "Postponed publickey ",
        "Accepted publickey ",
        "Starting session: ",
    ];
    let client = ClientDir::new();
    let stranger = client.key("id_stranger", HostKey::Ed25519, None);
    let known = client.key("id_known", HostKey::Ed25519, None);
    let peer = start(&SshdOptions {
        authorized_keys: vec![known.public.clone()],
        ..sshd_opts(&[&format!("LogLevel {level}")])
    });
    let out = Ssh::openssh(&client, &peer, TEST_USER)
        .identity(&stranger.path)
        .identity(&known.path)
        .option("IdentitiesOnly=yes")
        .run("true", b"");
    assert_exit(&out, 0, &peer);
    let log = peer.log();
    log.lines()
        .filter_map(|line| {
            let at = MESSAGES.iter().filter_map(|m| line.find(m)).min()?;
            let words: Vec<String> = line[at..]
                .split(' ')
                .scan(false, |after_port, word| {
                    let masked = if *after_port { "N" } else { word };
                    *after_port = word == "port";
                    Some(masked.to_owned())
                })
                .collect();
            Some(words.join(" "))
        })
        .collect()
}

#[test]
fn verbose_lines_appear_at_log_level_verbose_only_as_sshd_logs_them() {
    if !require_peer("sshd") || !require_peer("ssh-keygen") {
        return;
    }
    test_user();
    for level in ["INFO", "VERBOSE"] {
        let theirs = login_log_lines(start_sshd, level);
        let ours = login_log_lines(start_oxsshd, level);
        // Fingerprints differ (each run has its own keys): compare the lines' shapes.
        let shape = |lines: &[String]| -> Vec<String> {
            lines
                .iter()
                .map(|l| l.split(" SHA256:").next().unwrap().to_owned())
                .collect()
        };
        // The reference itself: INFO has the acceptance only, VERBOSE everything.
        let expected = if level == "INFO" { 1 } else { 6 };
        assert_eq!(theirs.len(), expected, "sshd at {level}: {theirs:#?}");
        assert_eq!(
            shape(&ours),
            shape(&theirs),
            "LogLevel {level}\nours: {ours:#?}"
        );
    }
}
