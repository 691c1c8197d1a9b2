//! `oxssh` authentication and host verification against OpenSSH's `sshd`: user keys
//! of every type, plain and passphrase-protected (askpass), OpenSSH's agent and
//! `IdentitiesOnly`, passwords and keyboard-interactive (PAM), partial success,
//! banners; known_hosts written, checked and hashed as OpenSSH does it.
//!
//! Where OpenSSH's client defines the expected text (known_hosts lines, warnings,
//! prompts), the test runs `ssh` the same way and compares.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::Write;
use std::process::Command;

use support::agent::Agent;
use support::client::{
    assert_exit, in_parallel, public_path, shell_line, text, ClientDir, Ssh, Terminal, UserKey,
    CLIENT_TIMEOUT, OXSSH,
};
use support::openssh::{host_name, sshd_opts, Fixture};
use support::users::{password_user, test_user, PASSWORD, TEST_USER};
use support::{require_peer, run, start_sshd, HostKey, SshdOptions, RUN_TIMEOUT};

/// Concurrent client runs (the machine has few cores).
const PARALLEL: usize = 4;

// ---------------------------------------------------------------------------------
// User authentication
// ---------------------------------------------------------------------------------

/// The user key types, with file names.
const USER_KEYS: [(&str, HostKey); 5] = [
    ("id_ed25519", HostKey::Ed25519),
    ("id_ecdsa256", HostKey::EcdsaP256),
    ("id_ecdsa384", HostKey::EcdsaP384),
    ("id_ecdsa521", HostKey::EcdsaP521),
    ("id_rsa", HostKey::Rsa),
];

/// The `SHA256:...` fingerprint of a public key file, as sshd logs it.
fn fingerprint(key: &UserKey) -> String {
    let out = run(
        Command::new("ssh-keygen")
            .arg("-lf")
            .arg(public_path(&key.path)),
        b"",
        RUN_TIMEOUT,
    );
    out.stdout
        .split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_owned()
}

/// Generates every user key type (encrypted with `passphrase` if given), starts sshd
/// authorising them all, and logs in with each key alone.
fn log_in_with_each_key_type(passphrase: Option<&str>) {
    if !require_peer("sshd") {
        return;
    }
    test_user();
    let client = ClientDir::new();
    let keys: Vec<UserKey> = in_parallel(USER_KEYS.to_vec(), PARALLEL, |(name, kind)| {
        client.key(name, kind, passphrase)
    });
    let peer = start_sshd(&SshdOptions {
        authorized_keys: keys.iter().map(|k| k.public.clone()).collect(),
        ..sshd_opts(&[])
    });
    for key in &keys {
        let mut ssh = Ssh::oxssh(&client, &peer, TEST_USER).identity(&key.path);
        if let Some(passphrase) = passphrase {
            ssh = ssh.askpass(&client.askpass(passphrase));
        }
        let before = client.prompts().len();
        let out = ssh.run("id -un", b"");
        assert_exit(&out, 0, &peer);
        assert_eq!(out.stdout, format!("{TEST_USER}\n"));
        let accepted = format!("Accepted publickey for {TEST_USER} from 127.0.0.1 port");
        let log = peer.log();
        assert!(
            log.lines()
                .any(|l| l.contains(&accepted) && l.contains(&fingerprint(key))),
            "{} was not the key accepted\n{log}",
            key.path.display()
        );
        let asked: Vec<String> = client.prompts().split_off(before);
        if passphrase.is_some() {
            assert_eq!(
                asked,
                [format!(
                    "Enter passphrase for key '{}': ",
                    key.path.display()
                )]
            );
        }
    }
}

#[test]
fn user_keys_of_every_type_authenticate() {
    log_in_with_each_key_type(None);
}

#[test]
fn passphrase_protected_user_keys_unlock_through_askpass() {
    log_in_with_each_key_type(Some("correct horse"));
}

#[test]
fn wrong_passphrase_is_asked_for_as_openssh_asks_then_other_methods_follow() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let locked = f.client.key("id_locked", HostKey::Ed25519, Some("right"));
    std::fs::OpenOptions::new()
        .append(true)
        .open(f.peer.dir().join("authorized_keys"))
        .unwrap()
        .write_all(format!("{}\n", locked.public).as_bytes())
        .unwrap();
    // The wrong answer also fails the password method sshd offers next (the test
    // user has no password); sshd's keyboard-interactive (no PAM) asks nothing.
    f.trust_host();
    let askpass = f.client.askpass("wrong");
    let attempt = |ssh: Ssh| {
        ssh.identity(&locked.path)
            .askpass(&askpass)
            .run("true", b"")
    };
    let ours = attempt(Ssh::oxssh(&f.client, &f.peer, TEST_USER));
    let our_prompts = f.client.prompts();
    std::fs::remove_file(f.client.path().join("askpass.log")).unwrap();
    let theirs = attempt(Ssh::openssh(&f.client, &f.peer, TEST_USER));
    assert_exit(&ours, 255, &f.peer);
    assert_eq!(theirs.code(), Some(255));
    assert_eq!(our_prompts, f.client.prompts(), "prompts differ from ssh's");
    assert_eq!(
        our_prompts[0],
        format!("Enter passphrase for key '{}': ", locked.path.display())
    );
    // Same retries and final message: no "Too many authentication failures" from
    // attempts ssh would not have made.
    assert_eq!(ours.stderr, text(&theirs.stderr));
}

#[test]
fn agent_keys_authenticate_and_identities_only_restricts_them() {
    if !require_peer("sshd") || !require_peer("ssh-agent") || !require_peer("ssh-add") {
        return;
    }
    test_user();
    let client = ClientDir::new();
    // The authorised key is RSA: the agent must sign with rsa-sha2-* flags, as sshd
    // 9.2 refuses ssh-rsa (SHA-1) signatures.
    let (authorised, stranger) = {
        let mut keys = in_parallel(
            vec![
                ("id_agent", HostKey::Rsa),
                ("id_stranger", HostKey::Ed25519),
            ],
            2,
            |(name, kind)| client.key(name, kind, None),
        );
        let stranger = keys.pop().unwrap();
        (keys.pop().unwrap(), stranger)
    };
    let peer = start_sshd(&SshdOptions {
        authorized_keys: vec![authorised.public.clone()],
        ..sshd_opts(&[])
    });
    let agent = Agent::empty("ssh-agent");
    agent.add(&authorised.path);
    // Only the public half on disk, named by `-i`: IdentitiesOnly then allows the
    // agent's copy of that key.
    let public_only = client.path().join("id_public_only.pub");
    std::fs::copy(public_path(&authorised.path), &public_only).unwrap();
    let ssh = || Ssh::oxssh(&client, &peer, TEST_USER).env("SSH_AUTH_SOCK", &agent.socket);

    let agent_only = ssh().run("echo agent", b"");
    assert_exit(&agent_only, 0, &peer);
    assert_eq!(agent_only.stdout, "agent\n");

    let beside_file = ssh().identity(&stranger.path).run("echo both", b"");
    assert_exit(&beside_file, 0, &peer);

    let restricted = ssh()
        .identity(&stranger.path)
        .option("IdentitiesOnly=yes")
        .run("echo leaked", b"");
    assert_exit(&restricted, 255, &peer);
    assert!(
        restricted.stderr.contains("Permission denied (publickey"),
        "{}",
        restricted.stderr
    );

    let by_public = |ssh: Ssh| {
        ssh.env("SSH_AUTH_SOCK", &agent.socket)
            .identity(&public_only)
            .option("IdentitiesOnly=yes")
            .run("echo named", b"")
    };
    let theirs = by_public(Ssh::openssh(&client, &peer, TEST_USER));
    assert_eq!(theirs.code(), Some(0), "ssh: {}", theirs.stderr);
    let ours = by_public(Ssh::oxssh(&client, &peer, TEST_USER));
    assert_exit(&ours, 0, &peer);
    assert_eq!(ours.stdout, "named\n");
}

/// sshd with password logins for [`password_user`] (plus our key, for partial success).
fn password_fixture(extra: &[&str]) -> Option<Fixture> {
    if require_peer("sshd") {
        password_user();
    }
    Fixture::start(sshd_opts(extra))
}

#[test]
fn password_authentication_uses_openssh_prompt_and_retries() {
    let Some(f) = password_fixture(&[
        "PasswordAuthentication yes",
        "KbdInteractiveAuthentication no",
    ]) else {
        return;
    };
    let user = password_user();
    let good = f.client.askpass(PASSWORD);
    let out = Ssh::oxssh(&f.client, &f.peer, user)
        .askpass(&good)
        .run("id -un", b"");
    assert_exit(&out, 0, &f.peer);
    assert_eq!(out.stdout, format!("{user}\n"));
    assert_eq!(
        f.client.prompts(),
        [format!("{user}@127.0.0.1's password: ")]
    );

    // A wrong password: the same prompts, retries and final message as ssh.
    let bad = f.client.askpass("not the password");
    let ours = Ssh::oxssh(&f.client, &f.peer, user)
        .askpass(&bad)
        .run("true", b"");
    let theirs = Ssh::openssh(&f.client, &f.peer, user)
        .askpass(&bad)
        .run("true", b"");
    assert_exit(&ours, 255, &f.peer);
    assert_eq!(theirs.code(), Some(255));
    assert_eq!(ours.stderr, text(&theirs.stderr));
    let prompts = f.client.prompts();
    let (ours_asked, theirs_asked) = prompts[1..].split_at((prompts.len() - 1) / 2);
    assert_eq!(ours_asked, theirs_asked);
}

#[test]
fn password_typed_on_the_terminal_is_not_echoed() {
    if !require_peer("script") {
        return;
    }
    let Some(f) = password_fixture(&[
        "PasswordAuthentication yes",
        "KbdInteractiveAuthentication no",
    ]) else {
        return;
    };
    let user = password_user();
    f.trust_host();
    let command = shell_line(
        &Ssh::oxssh(&f.client, &f.peer, user)
            .interactive()
            .command(Some("id -un")),
    );
    let mut terminal = Terminal::start(&command);
    terminal.wait_for(&format!("{user}@127.0.0.1's password: "), CLIENT_TIMEOUT);
    terminal.type_text(&format!("{PASSWORD}\n"));
    let (status, screen) = terminal.finish(CLIENT_TIMEOUT);
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(screen.contains(&format!("\n{user}\r\n")), "{screen:?}");
    assert!(!screen.contains(PASSWORD), "password echoed: {screen:?}");
}

#[test]
fn keyboard_interactive_answers_pam_prompts() {
    let Some(f) = password_fixture(&[
        "UsePAM yes",
        "KbdInteractiveAuthentication yes",
        "PasswordAuthentication no",
    ]) else {
        return;
    };
    let user = password_user();
    let askpass = f.client.askpass(PASSWORD);
    let ours = Ssh::oxssh(&f.client, &f.peer, user)
        .askpass(&askpass)
        .run("id -un", b"");
    assert_exit(&ours, 0, &f.peer);
    assert_eq!(ours.stdout, format!("{user}\n"));
    assert!(
        f.peer
            .log()
            .contains(&format!("Accepted keyboard-interactive/pam for {user}")),
        "{}",
        f.peer.log()
    );
    let theirs = Ssh::openssh(&f.client, &f.peer, user)
        .askpass(&askpass)
        .run("id -un", b"");
    assert_eq!(theirs.code(), Some(0), "{}", theirs.stderr);
    let prompts = f.client.prompts();
    assert_eq!(prompts.len(), 2, "{prompts:?}");
    assert_eq!(prompts[0], prompts[1], "prompt differs from ssh's");
}

#[test]
fn partial_success_continues_with_the_next_required_method() {
    let Some(f) = password_fixture(&[
        "PasswordAuthentication yes",
        "KbdInteractiveAuthentication no",
        "AuthenticationMethods publickey,password",
    ]) else {
        return;
    };
    let user = password_user();
    let out = Ssh::oxssh(&f.client, &f.peer, user)
        .identity(&f.key.path)
        .askpass(&f.client.askpass(PASSWORD))
        .run("id -un", b"");
    assert_exit(&out, 0, &f.peer);
    assert_eq!(out.stdout, format!("{user}\n"));
    let log = f.peer.log();
    assert!(log.contains("Partial publickey"), "{log}");
    assert!(
        log.contains(&format!("Accepted password for {user}")),
        "{log}"
    );
}

#[test]
fn server_banner_is_shown_on_stderr_escaped_as_openssh_shows_it_unless_quiet() {
    let banner_file = tempfile::NamedTempFile::new().unwrap();
    // A hostile banner: a title change and a colour, between ordinary lines and a tab.
    let text_sent = "Authorised use only.\n\x1b]0;owned\x07\x1b[31mred\ttab\n";
    std::fs::write(banner_file.path(), text_sent).unwrap();
    let banner = format!("Banner {}", banner_file.path().display());
    let Some(f) = Fixture::start(sshd_opts(&[&banner])) else {
        return;
    };
    let out = f.oxssh().run("true", b"");
    assert_exit(&out, 0, &f.peer);
    assert!(
        out.stderr
            .contains("Authorised use only.\n\\033]0;owned\\007\\033[31mred\ttab\n"),
        "{}",
        out.stderr
    );
    // The same bytes as ssh's (its host-key line aside, which only the first run prints).
    let theirs_dir = ClientDir::new();
    let theirs = Ssh::openssh(&theirs_dir, &f.peer, TEST_USER)
        .identity(&f.key.path)
        .option("StrictHostKeyChecking=no")
        .option(&format!(
            "UserKnownHostsFile={}",
            f.client.known_hosts().display()
        ))
        .run("true", b"");
    assert_eq!(theirs.code(), Some(0), "{}", theirs.stderr);
    let again = f.oxssh().run("true", b"");
    assert_eq!(again.stderr, text(&theirs.stderr));
    let quiet = f.oxssh().args(["-q"]).run("true", b"");
    assert_eq!(quiet.stderr, "");
}

#[test]
fn a_server_disconnect_is_reported_with_openssh_lines() {
    // Two keys the server does not know, against MaxAuthTries 1: sshd ends the
    // connection with DISCONNECT "Too many authentication failures".
    let Some(f) = Fixture::start(sshd_opts(&["MaxAuthTries 1"])) else {
        return;
    };
    let stranger = f.client.key("stranger", HostKey::Ed25519, None);
    let other = f.client.key("other_stranger", HostKey::Ed25519, None);
    let run = |ssh: Ssh| {
        ssh.identity(&stranger.path)
            .identity(&other.path)
            .option("IdentitiesOnly=yes")
            .option("PreferredAuthentications=publickey")
            .option("StrictHostKeyChecking=no")
            .run("true", b"")
    };
    let ours = run(Ssh::oxssh(&f.client, &f.peer, TEST_USER));
    let theirs = run(Ssh::openssh(&f.client, &f.peer, TEST_USER));
    assert_eq!(theirs.code(), Some(255), "{}", theirs.stderr);
    assert_eq!(ours.code(), Some(255), "{}", ours.stderr);
    let port = f.peer.port();
    let expected = format!(
        "Received disconnect from 127.0.0.1 port {port}:2: Too many authentication failures\n\
         Disconnected from 127.0.0.1 port {port}\n"
    );
    assert!(
        text(&theirs.stderr).ends_with(&expected),
        "{}",
        theirs.stderr
    );
    assert!(ours.stderr.ends_with(&expected), "{}", ours.stderr);
}

// ---------------------------------------------------------------------------------
// known_hosts
// ---------------------------------------------------------------------------------

#[test]
fn accept_new_writes_the_same_known_hosts_line_as_openssh() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let theirs_dir = ClientDir::new();
    let theirs = Ssh::openssh(&theirs_dir, &f.peer, TEST_USER)
        .identity(&f.key.path)
        .run("true", b"");
    let ours = f.oxssh().run("true", b"");
    assert_exit(&ours, 0, &f.peer);
    assert_eq!(theirs.code(), Some(0), "{}", theirs.stderr);
    let ours_file = std::fs::read_to_string(f.client.known_hosts()).unwrap();
    let theirs_file = std::fs::read_to_string(theirs_dir.known_hosts()).unwrap();
    assert_eq!(ours_file, theirs_file);
    assert_eq!(ours.stderr, text(&theirs.stderr));
    // And it is used: strict checking now passes, silently.
    let again = f
        .oxssh()
        .option("StrictHostKeyChecking=yes")
        .run("true", b"");
    assert_exit(&again, 0, &f.peer);
    assert_eq!(again.stderr, "");
}

#[test]
fn changed_host_key_is_refused_with_openssh_warning() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let impostor = f.client.key("old_host_key", HostKey::Ed25519, None);
    let line = format!("{} {}\n", host_name(&f.peer), impostor.public);
    std::fs::write(f.client.known_hosts(), &line).unwrap();
    let ours = f.oxssh().run("echo should-not-run", b"");
    let theirs = f.openssh().run("echo should-not-run", b"");
    assert_exit(&ours, 255, &f.peer);
    assert_eq!(theirs.code(), Some(255));
    assert_eq!(ours.stdout, "");
    assert!(ours
        .stderr
        .contains("WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!"));
    assert_eq!(ours.stderr, text(&theirs.stderr));
    // The file is left alone.
    assert_eq!(
        std::fs::read_to_string(f.client.known_hosts()).unwrap(),
        line
    );
}

#[test]
fn strict_checking_refuses_an_unknown_host() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let ours = f
        .oxssh()
        .option("StrictHostKeyChecking=yes")
        .run("true", b"");
    let theirs = f
        .openssh()
        .option("StrictHostKeyChecking=yes")
        .run("true", b"");
    assert_exit(&ours, 255, &f.peer);
    assert_eq!(ours.stderr, text(&theirs.stderr));
    assert!(ours.stderr.ends_with("Host key verification failed.\n"));
    assert!(!f.client.known_hosts().exists());
}

/// Asks about an unknown host on a real terminal: `no` refuses it, `yes` (typed after
/// the question; what was typed before must not count) adds it. Returns the known_hosts
/// file written and the screen of the `yes` run.
fn answer_host_key_question(f: &Fixture, program: &str) -> (String, String) {
    let client = ClientDir::new();
    let go = client.path().join("go");
    let command = shell_line(
        &Ssh::program(program, &client, f.peer.port(), TEST_USER)
            .identity(&f.key.path)
            .interactive()
            .option("StrictHostKeyChecking=ask")
            .command(Some("echo connected")),
    );
    // The client starts only once the typed-ahead "yes" has reached the terminal.
    let gated = format!(
        "for i in $(seq 400); do [ -e {go} ] && break; sleep 0.05; done; exec {command}",
        go = shell_line(&Command::new(&go))
    );
    let question = "(yes/no/[fingerprint])? ";

    let mut refused = Terminal::start(&gated);
    refused.type_text("yes\n");
    refused.wait_for("yes", CLIENT_TIMEOUT);
    std::fs::write(&go, "").unwrap();
    refused.wait_for(question, CLIENT_TIMEOUT);
    refused.type_text("no\n");
    let (status, screen) = refused.finish(CLIENT_TIMEOUT);
    assert_eq!(status.code(), Some(255), "{program}: {screen}");
    assert!(screen.contains("Host key verification failed."), "{screen}");
    assert!(!client.known_hosts().exists(), "{program} wrote after `no`");

    let mut accepted = Terminal::start(&gated);
    accepted.wait_for(question, CLIENT_TIMEOUT);
    accepted.type_text("yes\n");
    let (status, screen) = accepted.finish(CLIENT_TIMEOUT);
    assert_eq!(status.code(), Some(0), "{program}: {screen}");
    assert!(screen.contains("connected"), "{screen}");
    (
        std::fs::read_to_string(client.known_hosts()).unwrap_or_default(),
        screen,
    )
}

#[test]
fn ask_mode_asks_on_the_terminal_and_adds_the_key_only_after_yes() {
    if !require_peer("script") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let (ours, our_screen) = answer_host_key_question(&f, OXSSH);
    let (theirs, their_screen) = answer_host_key_question(&f, "ssh");
    assert_eq!(ours, theirs);
    // The question reads the same, from the host line (with the address in
    // parentheses) to the prompt.
    let question = |screen: &str| -> Vec<String> {
        screen
            .replace('\r', "")
            .lines()
            .skip_while(|l| !l.contains("can't be established"))
            .take(4)
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(question(&our_screen).len(), 4, "{our_screen}");
    assert_eq!(question(&our_screen), question(&their_screen));
}

#[test]
fn hashed_known_hosts_entries_are_found_by_ssh_keygen_and_ssh() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let ours = f.oxssh().option("HashKnownHosts=yes").run("true", b"");
    assert_exit(&ours, 0, &f.peer);
    let file = std::fs::read_to_string(f.client.known_hosts()).unwrap();
    assert!(file.starts_with("|1|"), "not hashed: {file}");
    assert!(!file.contains("127.0.0.1"), "name in clear: {file}");
    let found = run(
        Command::new("ssh-keygen")
            .arg("-F")
            .arg(host_name(&f.peer))
            .arg("-f")
            .arg(f.client.known_hosts()),
        b"",
        RUN_TIMEOUT,
    );
    assert_eq!(
        found.code(),
        Some(0),
        "ssh-keygen -F found nothing in {file}"
    );
    assert!(found.stdout.contains(file.trim()), "{}", found.stdout);
    for ssh in [f.openssh(), f.oxssh()] {
        let out = ssh.option("StrictHostKeyChecking=yes").run("true", b"");
        assert_exit(&out, 0, &f.peer);
    }
}

#[test]
fn changed_host_key_without_strict_checking_disables_password_logins_like_openssh() {
    let Some(f) = password_fixture(&[
        "PasswordAuthentication yes",
        "KbdInteractiveAuthentication yes",
    ]) else {
        return;
    };
    let user = password_user();
    let impostor = f.client.key("old_host_key", HostKey::Ed25519, None);
    let line = format!("{} {}\n", host_name(&f.peer), impostor.public);
    std::fs::write(f.client.known_hosts(), &line).unwrap();
    // Whoever holds this host key must not be given the password.
    let askpass = f.client.askpass(PASSWORD);
    let attempt = |ssh: Ssh| {
        ssh.option("StrictHostKeyChecking=no")
            .askpass(&askpass)
            .run("echo logged-in", b"")
    };
    let ours = attempt(Ssh::oxssh(&f.client, &f.peer, user));
    let theirs = attempt(Ssh::openssh(&f.client, &f.peer, user));
    assert_eq!(theirs.code(), Some(255), "{}", theirs.stderr);
    assert_exit(&ours, 255, &f.peer);
    assert_eq!(ours.stdout, "");
    assert!(
        f.client.prompts().is_empty(),
        "asked {:?}",
        f.client.prompts()
    );
    assert_eq!(ours.stderr, text(&theirs.stderr));
}
