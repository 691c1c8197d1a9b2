//! Stream-local forwarding through `oxsshd` (OpenSSH PROTOCOL §2.4) with OpenSSH's
//! `ssh` and `oxssh`: `-L port:/socket` (`direct-streamlocal@openssh.com`) and
//! `-R /socket:host:port` (`streamlocal-forward@openssh.com`) moving 50 MiB with
//! checksums; the user's rights (a root-only socket or directory is refused, as sshd's
//! per-user child is refused); the policies (`AllowStreamLocalForwarding`,
//! `AllowTcpForwarding`, `DisableForwarding`, `PermitOpen`, `PermitListen`, `restrict`)
//! and `StreamLocalBindUnlink`/`StreamLocalBindMask`, each compared with OpenSSH's sshd.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use support::client::{wait_until, ClientDir};
use support::forward::{
    connect, echo_server, echo_through, unix_echo_server, unix_echo_through, wait_for_port,
    Background,
};
use support::openssh::{sshd_opts, Fixture};
use support::users::{test_user, TEST_USER};
use support::{free_port, start_oxsshd, start_sshd, HostKey};

/// Bytes moved through each bulk forward.
const BULK: u64 = 50 * 1024 * 1024;
/// How long a forward may take to come up or fail.
const SETTLE: Duration = Duration::from_secs(20);

/// Which server a comparison runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Oxsshd,
    Sshd,
}

/// The server with `extra` config lines and, if given, key options; `None` (after a
/// loud SKIP) without the peer programs.
fn server(which: Server, extra: &[&str], key_options: Option<&str>) -> Option<Fixture> {
    if !support::require_peer("ssh-keygen") || !support::require_peer("ssh") {
        return None;
    }
    if which == Server::Sshd && !support::require_peer("sshd") {
        return None;
    }
    test_user();
    let client = ClientDir::new();
    let key = client.key("id_ed25519", HostKey::Ed25519, None);
    let mut opts = sshd_opts(extra);
    opts.authorized_keys.push(match key_options {
        Some(o) => format!("{o} {}", key.public),
        None => key.public.clone(),
    });
    let peer = match which {
        Server::Oxsshd => start_oxsshd(&opts),
        Server::Sshd => start_sshd(&opts),
    };
    let f = Fixture { peer, client, key };
    f.trust_host();
    Some(f)
}

/// A fresh directory with `mode` (0777: the test user may create sockets there).
fn dir_with_mode(mode: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    dir
}

fn test_uid() -> u32 {
    let out = support::run(
        std::process::Command::new("id").args(["-u", TEST_USER]),
        b"",
        support::RUN_TIMEOUT,
    );
    out.stdout.trim().parse().unwrap()
}

#[test]
fn openssh_local_forward_to_a_socket_moves_50_mib_through_oxsshd() {
    let Some(f) = server(Server::Oxsshd, &[], None) else {
        return;
    };
    let dir = dir_with_mode(0o755);
    let target = dir.path().join("echo.sock");
    unix_echo_server(&target);
    let port = free_port();
    let client = Background::spawn(
        &mut f
            .openssh()
            .args(["-N", "-L", &format!("{port}:{}", target.display())])
            .command(None),
    );
    wait_for_port(port);
    let (sent, received) = echo_through(connect(port), BULK);
    assert_eq!(sent.len, BULK);
    assert_eq!(
        sent,
        received,
        "ssh: {}\nlog: {}",
        client.stderr(),
        f.peer.log()
    );
}

#[test]
fn openssh_remote_forward_from_a_socket_moves_50_mib_and_the_socket_is_the_users() {
    let Some(f) = server(Server::Oxsshd, &[], None) else {
        return;
    };
    let dir = dir_with_mode(0o777);
    let listen = dir.path().join("remote.sock");
    let echo = echo_server();
    let client = Background::spawn(
        &mut f
            .openssh()
            .args([
                "-N",
                "-R",
                &format!("{}:127.0.0.1:{echo}", listen.display()),
            ])
            .command(None),
    );
    wait_until("the forwarded socket", SETTLE, || {
        UnixStream::connect(&listen).is_ok()
    });
    // Made by the user, under StreamLocalBindMask 0177.
    let meta = std::fs::metadata(&listen).unwrap();
    assert_eq!(meta.uid(), test_uid());
    assert_eq!(meta.mode() & 0o777, 0o600);
    let (sent, received) = unix_echo_through(UnixStream::connect(&listen).unwrap(), BULK);
    assert_eq!(sent.len, BULK);
    assert_eq!(
        sent,
        received,
        "ssh: {}\nlog: {}",
        client.stderr(),
        f.peer.log()
    );
}

#[test]
fn oxssh_forwards_to_and_from_sockets_through_oxsshd() {
    let Some(f) = server(Server::Oxsshd, &[], None) else {
        return;
    };
    let dir = dir_with_mode(0o777);
    let target = dir.path().join("echo.sock");
    unix_echo_server(&target);
    let listen = dir.path().join("remote.sock");
    let echo = echo_server();
    let port = free_port();
    let client = Background::spawn(
        &mut f
            .oxssh()
            .args([
                "-N",
                "-L",
                &format!("{port}:{}", target.display()),
                "-R",
                &format!("{}:127.0.0.1:{echo}", listen.display()),
            ])
            .command(None),
    );
    wait_for_port(port);
    let (sent, received) = echo_through(connect(port), 8 << 20);
    assert_eq!(sent, received, "oxssh: {}", client.stderr());
    wait_until("the forwarded socket", SETTLE, || {
        UnixStream::connect(&listen).is_ok()
    });
    let (sent, received) = unix_echo_through(UnixStream::connect(&listen).unwrap(), 8 << 20);
    assert_eq!(sent, received, "oxssh: {}", client.stderr());
}

/// What a client saw of one `-L port:/socket` and one `-R /socket:...` forward.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// Data came back through the local forward.
    local_ok: bool,
    /// The local forward's failure line ("channel N: " left off), if any.
    local_failure: Option<String>,
    /// The remote socket accepted a connection.
    remote_ok: bool,
    /// ssh's warning about the remote forward, if any.
    remote_warning: Option<String>,
}

/// Runs ssh with one local forward to `target` and one remote forward at `listen`.
fn try_forwards(f: &Fixture, target: &Path, listen: &Path) -> Outcome {
    let echo = echo_server();
    let port = free_port();
    let client = Background::spawn(
        &mut f
            .openssh()
            .args([
                "-N",
                "-L",
                &format!("{port}:{}", target.display()),
                "-R",
                &format!("{}:127.0.0.1:{echo}", listen.display()),
            ])
            .command(None),
    );
    wait_for_port(port);
    let (sent, received) = echo_through(connect(port), 64 * 1024);
    let local_ok = received.len == sent.len && sent == received;
    let remote_warning = "remote port forwarding failed for listen path";
    wait_until("the remote forward to settle", SETTLE, || {
        client.stderr().contains(remote_warning) || UnixStream::connect(listen).is_ok()
    });
    if !local_ok {
        client.wait_for_line("open failed", SETTLE);
    }
    let stderr = client.stderr();
    let line = |what: &str| stderr.lines().find(|l| l.contains(what)).map(str::to_owned);
    Outcome {
        local_ok,
        local_failure: line("open failed").map(|l| {
            l.strip_prefix("channel ")
                .and_then(|rest| rest.split_once(": "))
                .map_or(l.clone(), |(_, rest)| rest.to_owned())
        }),
        remote_ok: UnixStream::connect(listen).is_ok(),
        remote_warning: line(remote_warning)
            .map(|l| l.replace(&listen.display().to_string(), "PATH")),
    }
}

/// [`try_forwards`] against one server: a world-reachable echo socket, a fresh path in
/// a directory the user may write.
fn outcome(which: Server, extra: &[&str], key_options: Option<&str>) -> Option<Outcome> {
    let f = server(which, extra, key_options)?;
    let dir = dir_with_mode(0o777);
    let target = dir.path().join("echo.sock");
    unix_echo_server(&target);
    Some(try_forwards(&f, &target, &dir.path().join("listen.sock")))
}

#[test]
fn policies_allow_and_refuse_stream_local_forwards_as_sshd() {
    let cases: &[(&[&str], Option<&str>)] = &[
        (&[], None),
        (&["AllowStreamLocalForwarding no"], None),
        (&["AllowStreamLocalForwarding local"], None),
        (&["AllowStreamLocalForwarding remote"], None),
        (&["AllowTcpForwarding no"], None),
        (&["AllowTcpForwarding local"], None),
        (&["DisableForwarding yes"], None),
        (&["PermitOpen 127.0.0.1:80", "PermitListen 1234"], None),
        (&["PermitOpen *:*"], None),
        (&[], Some("restrict")),
        (&[], Some("no-port-forwarding")),
        (
            &[],
            Some("permitopen=\"127.0.0.1:80\",permitlisten=\"1234\""),
        ),
    ];
    for (extra, key_options) in cases {
        let Some(ours) = outcome(Server::Oxsshd, extra, *key_options) else {
            return;
        };
        let Some(theirs) = outcome(Server::Sshd, extra, *key_options) else {
            return;
        };
        eprintln!("{extra:?} {key_options:?}: {ours:?}");
        assert_eq!(ours, theirs, "{extra:?} {key_options:?}");
    }
}

#[test]
fn refusals_give_openssh_messages_and_log_sshds_lines() {
    let Some(f) = server(Server::Oxsshd, &["AllowStreamLocalForwarding no"], None) else {
        return;
    };
    let dir = dir_with_mode(0o777);
    let target = dir.path().join("echo.sock");
    unix_echo_server(&target);
    let listen = dir.path().join("listen.sock");
    let got = try_forwards(&f, &target, &listen);
    assert_eq!(
        got.local_failure.as_deref(),
        Some("open failed: connect failed: open failed")
    );
    assert_eq!(
        got.remote_warning.as_deref(),
        Some("Warning: remote port forwarding failed for listen path PATH")
    );
    wait_until("the log line", SETTLE, || {
        f.peer
            .log()
            .contains("refused streamlocal port forward: originator 127.0.0.1 port")
    });
    assert!(f
        .peer
        .log()
        .contains(&format!(", target {}", target.display())));
}

/// What a user gets for a socket only root may connect to and a directory only root may
/// write, on one server.
fn root_only(which: Server) -> Option<(Outcome, String)> {
    let f = server(which, &[], None)?;
    let dir = dir_with_mode(0o755);
    let target = dir.path().join("root-only.sock");
    unix_echo_server(&target);
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    let got = try_forwards(&f, &target, &dir.path().join("listen.sock"));
    Some((got, f.peer.log()))
}

#[test]
fn a_user_cannot_reach_a_root_only_socket_nor_bind_in_a_root_only_directory() {
    let Some((ours, log)) = root_only(Server::Oxsshd) else {
        return;
    };
    assert!(!ours.local_ok && !ours.remote_ok, "{ours:?}");
    assert_eq!(
        ours.local_failure.as_deref(),
        Some("open failed: connect failed: open failed")
    );
    assert!(ours.remote_warning.is_some(), "{ours:?}");
    assert!(log.contains("port -2 failed: Permission denied"), "{log}");
    assert!(log.contains("cannot bind to path"), "{log}");
    let Some((theirs, _)) = root_only(Server::Sshd) else {
        return;
    };
    assert_eq!(ours, theirs);
}

/// On one server: whether a remote forward's socket stays after the client ends,
/// whether a second client can then forward the same path, and the mode it gets.
fn bind_unlink(which: Server, extra: &[&str]) -> Option<(bool, bool, u32)> {
    let f = server(which, extra, None)?;
    let dir = dir_with_mode(0o777);
    let listen = dir.path().join("s.sock");
    let spec = format!("{}:127.0.0.1:{}", listen.display(), echo_server());
    let first = f.openssh().args(["-R", &spec]).run("true", b"");
    assert_eq!(first.code(), Some(0), "{}", first.stderr);
    let stays = listen.exists();
    let second = f
        .openssh()
        .args(["-o", "ExitOnForwardFailure=yes", "-R", &spec])
        .run("true", b"");
    let mode = std::fs::metadata(&listen).map_or(0, |m| m.mode() & 0o777);
    Some((stays, second.code() == Some(0), mode))
}

#[test]
fn stream_local_bind_unlink_and_mask_behave_as_sshd() {
    // sshd leaves the file behind; without unlink the next forward of the path fails.
    for (extra, expected) in [
        (&[][..], (true, false, 0o600)),
        (&["StreamLocalBindUnlink yes"][..], (true, true, 0o600)),
        (
            &["StreamLocalBindUnlink yes", "StreamLocalBindMask 0111"][..],
            (true, true, 0o666),
        ),
    ] {
        let Some(ours) = bind_unlink(Server::Oxsshd, extra) else {
            return;
        };
        assert_eq!(ours, expected, "{extra:?}");
        let Some(theirs) = bind_unlink(Server::Sshd, extra) else {
            return;
        };
        assert_eq!(ours, theirs, "{extra:?}");
    }
}

/// On one server, through an OpenSSH mux master: whether a remote-forwarded socket
/// accepts after `-O forward`, then after `-O cancel`, and whether its file stays.
fn cancel(which: Server) -> Option<(bool, bool, bool)> {
    let f = server(which, &[], None)?;
    let dir = dir_with_mode(0o777);
    let control = dir.path().join("ctl");
    let master = Background::spawn(
        &mut f
            .openssh()
            .args(["-N", "-M", "-S", &control.display().to_string()])
            .command(None),
    );
    wait_until("the control socket", SETTLE, || {
        UnixStream::connect(&control).is_ok()
    });
    let listen = dir.path().join("s.sock");
    let spec = format!("{}:127.0.0.1:{}", listen.display(), echo_server());
    let mux = |op: &str| {
        let out = support::run(
            f.openssh()
                .args(["-S", &control.display().to_string(), "-O", op, "-R", &spec])
                .command(None)
                .stdin(std::process::Stdio::null()),
            b"",
            support::RUN_TIMEOUT,
        );
        assert!(
            out.status.success(),
            "-O {op}: {}\n{}",
            out.stderr,
            master.stderr()
        );
    };
    mux("forward");
    let forwarded = UnixStream::connect(&listen).is_ok();
    mux("cancel");
    wait_until("the cancel to land", SETTLE, || {
        UnixStream::connect(&listen).is_err()
    });
    let stays = listen.exists();
    Some((forwarded, UnixStream::connect(&listen).is_ok(), stays))
}

#[test]
fn cancel_stops_the_listener_and_leaves_the_file_as_sshd() {
    let Some(ours) = cancel(Server::Oxsshd) else {
        return;
    };
    assert_eq!(ours, (true, false, true));
    let Some(theirs) = cancel(Server::Sshd) else {
        return;
    };
    assert_eq!(ours, theirs);
}
