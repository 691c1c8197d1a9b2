//! `oxsftp -A` and `oxscp -A` (also `-3`, and `-O`) forward the agent to the SFTP
//! session or the remote `scp` as `sftp -A` and `scp -A` do (and, without `-A`, do not):
//! the server's sftp subsystem (or, for `-O`, its forced command) is a script that
//! records whether it was given an agent and what keys it holds, then runs sftp-server
//! (or the command asked for).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::sftp::oxscp;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use support::agent::Agent;
use support::openssh::{sshd_opts, Fixture};
use support::sftp::{client, oxsftp, RemoteDir, TRANSFER_TIMEOUT};
use support::users::TEST_USER;

/// A script in `remote` that records in `said` whether it was given an agent and the
/// agent's key fingerprints, then runs `then`.
fn recording_script(remote: &Path, said: &Path, then: &str) -> PathBuf {
    let script = remote.join("recorder");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n{{ echo \"agent=${{SSH_AUTH_SOCK:+yes}}\"; ssh-add -l 2>&1 | cut -d' ' -f2; }} \
             > {}\n{then}\n",
            said.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn agent_peers_present() -> bool {
    support::require_peer("sftp")
        && support::require_peer("scp")
        && support::require_peer("ssh-agent")
        && support::require_peer("ssh-add")
}

/// Runs each `(ours, theirs, operands)` from `cwd` with and without `-A`, the agent
/// holding the fixture's key, and checks that ours records what theirs records.
fn same_agent_as_openssh(
    f: &Fixture,
    agent: &Agent,
    cwd: &Path,
    said: &Path,
    runs: &[(String, &str, &[String])],
) {
    let run_one = |program: &str, forward: bool, operands: &[String]| {
        let _ = std::fs::remove_file(said);
        let mut cmd = client(program, f);
        cmd.env("SSH_AUTH_SOCK", &agent.socket).current_dir(cwd);
        if forward {
            cmd.arg("-A");
        }
        cmd.args(operands);
        let out = support::run(&mut cmd, b"", TRANSFER_TIMEOUT);
        assert_eq!(out.code(), Some(0), "{program}: {}", out.stderr);
        std::fs::read_to_string(said).unwrap()
    };
    for (ours, theirs, operands) in runs {
        for forward in [true, false] {
            let expected = run_one(theirs, forward, operands);
            let recorded = run_one(ours, forward, operands);
            assert_eq!(recorded, expected, "{theirs} {operands:?} -A: {forward}");
            assert_eq!(
                expected.starts_with("agent=yes\nSHA256:"),
                forward,
                "{expected}"
            );
        }
    }
}

#[test]
fn the_agent_reaches_the_sftp_session_with_dash_a_only() {
    if !agent_peers_present() {
        return;
    }
    let Some(server) = support::sftp::openssh_sftp_server() else {
        return;
    };
    let remote = RemoteDir::new("agent");
    let said = remote.path().join("said");
    let script = recording_script(remote.path(), &said, &format!("exec {server}"));
    let subsystem = format!("Subsystem sftp {}", script.display());
    let Some(f) = Fixture::start(sshd_opts(&[&subsystem])) else {
        return;
    };
    let agent = Agent::start("ssh-agent", &f.key.path);
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("batch"), "pwd\n").unwrap();
    std::fs::write(local.path().join("file"), "x\n").unwrap();
    let host = format!("{TEST_USER}@127.0.0.1");
    let on_remote = |name: &str| format!("{host}:{}/{name}", remote.path().display());
    let batch = ["-b".to_owned(), "batch".into(), host.clone()];
    let upload = ["file".to_owned(), on_remote("copied")];
    // Between two remote paths through this host (-3): both sessions get the agent.
    let through = ["-3".to_owned(), on_remote("copied"), on_remote("copied-3")];
    let runs = [
        (oxsftp(), "sftp", &batch[..]),
        (oxscp(), "scp", &upload),
        (oxscp(), "scp", &through),
    ];
    same_agent_as_openssh(&f, &agent, local.path(), &said, &runs);
}

#[test]
fn the_agent_reaches_the_legacy_remote_scp_with_dash_a_only() {
    if !agent_peers_present() {
        return;
    }
    let remote = RemoteDir::new("agent-legacy");
    let said = remote.path().join("said");
    let script = recording_script(
        remote.path(),
        &said,
        "exec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"",
    );
    let forced = format!("ForceCommand {}", script.display());
    let Some(f) = Fixture::start(sshd_opts(&[&forced])) else {
        return;
    };
    let agent = Agent::start("ssh-agent", &f.key.path);
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("file"), "x\n").unwrap();
    let host = format!("{TEST_USER}@127.0.0.1");
    let on_remote = |name: &str| format!("{host}:{}/{name}", remote.path().display());
    let legacy = |operands: &[String]| {
        std::iter::once("-O".to_owned())
            .chain(operands.iter().cloned())
            .collect::<Vec<_>>()
    };
    let upload = legacy(&["file".to_owned(), on_remote("copied")]);
    let download = legacy(&[on_remote("copied"), "back".to_owned()]);
    // Between two remote paths through this host: both remote scps get the agent.
    let through = legacy(&[on_remote("copied"), on_remote("copied-3")]);
    let runs = [
        (oxscp(), "scp", &upload[..]),
        (oxscp(), "scp", &download),
        (oxscp(), "scp", &through),
    ];
    same_agent_as_openssh(&f, &agent, local.path(), &said, &runs);
    assert_eq!(std::fs::read(local.path().join("back")).unwrap(), b"x\n");
}
