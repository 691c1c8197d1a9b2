//! `oxsftp -A` and `oxscp -A` (also `-3`) forward the agent to the SFTP session as
//! `sftp -A` and `scp -A` do (and, without `-A`, do not): the server's sftp subsystem is a script that
//! records whether it was given an agent and what keys it holds, then runs sftp-server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::sftp::oxscp;

use std::os::unix::fs::PermissionsExt;

use support::agent::Agent;
use support::openssh::{sshd_opts, Fixture};
use support::sftp::{client, oxsftp, RemoteDir, TRANSFER_TIMEOUT};
use support::users::TEST_USER;

#[test]
fn the_agent_reaches_the_sftp_session_with_dash_a_only() {
    if !support::require_peer("sftp")
        || !support::require_peer("scp")
        || !support::require_peer("ssh-agent")
        || !support::require_peer("ssh-add")
    {
        return;
    }
    let Some(server) = support::sftp::openssh_sftp_server() else {
        return;
    };
    let remote = RemoteDir::new("agent");
    let said = remote.path().join("said");
    let script = remote.path().join("subsystem");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n{{ echo \"agent=${{SSH_AUTH_SOCK:+yes}}\"; ssh-add -l 2>&1 | cut -d' ' -f2; }} \
             > {}\nexec {server}\n",
            said.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
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
    let run_one = |program: &str, forward: bool, operands: &[String]| {
        let _ = std::fs::remove_file(&said);
        let mut cmd = client(program, &f);
        cmd.env("SSH_AUTH_SOCK", &agent.socket)
            .current_dir(local.path());
        if forward {
            cmd.arg("-A");
        }
        cmd.args(operands);
        let out = support::run(&mut cmd, b"", TRANSFER_TIMEOUT);
        assert_eq!(out.code(), Some(0), "{program}: {}", out.stderr);
        std::fs::read_to_string(&said).unwrap()
    };
    let batch = ["-b".to_owned(), "batch".into(), host.clone()];
    let upload = ["file".to_owned(), on_remote("copied")];
    // Between two remote paths through this host (-3): both sessions get the agent.
    let through = ["-3".to_owned(), on_remote("copied"), on_remote("copied-3")];
    for (ours, theirs, operands) in [
        (oxsftp(), "sftp", &batch[..]),
        (oxscp(), "scp", &upload),
        (oxscp(), "scp", &through),
    ] {
        for forward in [true, false] {
            let expected = run_one(theirs, forward, operands);
            let said = run_one(&ours, forward, operands);
            assert_eq!(said, expected, "{theirs} {operands:?} -A: {forward}");
            assert_eq!(
                expected.starts_with("agent=yes\nSHA256:"),
                forward,
                "{expected}"
            );
        }
    }
}
