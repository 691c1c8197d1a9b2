//! Forwarding through a shared connection (PROTOCOL.mux `MUX_C_OPEN_FWD` and
//! `MUX_C_CLOSE_FWD`), both ways: OpenSSH's `ssh -S` asking an `oxssh` master and
//! `oxssh -S` asking an OpenSSH master for `-L`, `-R` (port 0 answered with
//! `MUX_S_REMOTE_PORT`, printed by `-O forward`) and `-D` forwards with `-O forward`,
//! cancelling them with `-O cancel`, and a client run with `-L` leaving its forward in
//! the master, all over the master's one login. Bytes moved are compared by SHA-256.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::time::Duration;

use support::agent::Agent;
use support::client::{assert_exit, wait_until, Ssh};
use support::forward::{connect, echo_server, echo_through, socks5_connect, wait_for_port};
use support::free_port;
use support::mux::{control_path, logins, start_master};
use support::openssh::{sshd_opts, Fixture};
use support::{require_peer, Output};

/// Bytes moved through each forward.
const BULK: u64 = 8 * 1024 * 1024;
const LIMIT: Duration = Duration::from_secs(20);

/// `client -S path -O command forward-flags...`.
fn control(client: Ssh, path: &Path, command: &str, flags: &[&str]) -> Output {
    let path_arg = path.to_str().unwrap().to_owned();
    client
        .args(["-S", &path_arg, "-O", command])
        .args(flags)
        .run_no_command(b"")
}

fn moves_bytes(stream: TcpStream, what: &str) {
    let (sent, received) = echo_through(stream, BULK);
    assert_eq!(sent.len, BULK, "{what}");
    assert_eq!(sent, received, "{what}");
}

fn wait_closed(port: u16) {
    wait_until(&format!("port {port} to close"), LIMIT, || {
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err()
    });
}

/// `-O forward` and `-O cancel` of each kind, then a client run that brings its own
/// `-L`, all through the master at `path`; `client` makes the clients.
fn forwards_through_a_master(f: &Fixture, path: &Path, client: &dyn Fn() -> Ssh) {
    let echo = echo_server();
    let (local, remote, dynamic) = (free_port(), free_port(), free_port());
    let l_spec = format!("{local}:127.0.0.1:{echo}");
    let r_spec = format!("{remote}:127.0.0.1:{echo}");
    let flags = ["-L", &l_spec, "-R", &r_spec, "-D", &dynamic.to_string()];
    let out = control(client(), path, "forward", &flags);
    assert_exit(&out, 0, &f.peer);
    wait_for_port(local);
    moves_bytes(connect(local), "-L through the master");
    wait_for_port(remote);
    moves_bytes(connect(remote), "-R through the master");
    let socks = socks5_connect(dynamic, "127.0.0.1", echo).expect("SOCKS5 CONNECT");
    moves_bytes(socks, "-D through the master");

    // Port 0: the server's choice comes back as MUX_S_REMOTE_PORT, printed on stdout.
    let zero = format!("0:127.0.0.1:{echo}");
    let out = control(client(), path, "forward", &["-R", &zero]);
    assert_exit(&out, 0, &f.peer);
    let allocated: u16 = out
        .stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no port on stdout: {out:?}"));
    moves_bytes(connect(allocated), "-R 0 through the master");

    let out = control(client(), path, "cancel", &flags);
    assert_exit(&out, 0, &f.peer);
    wait_closed(local);
    wait_closed(remote);
    wait_closed(dynamic);
    // Cancelling what is not there: said, but not an error (OpenSSH exits 0).
    let out = control(client(), path, "cancel", &["-L", &l_spec]);
    assert_exit(&out, 0, &f.peer);
    assert!(
        out.stderr
            .contains("forwarding request failed: port not forwarded"),
        "{out:?}"
    );

    // A client run asking for a forward: the master sets it up and keeps it.
    let later = free_port();
    let spec = format!("{later}:127.0.0.1:{echo}");
    let path_arg = path.to_str().unwrap().to_owned();
    let out = client()
        .args(["-S", &path_arg, "-L", &spec])
        .run("echo through-master", b"");
    assert_exit(&out, 0, &f.peer);
    assert_eq!(out.stdout, "through-master\n");
    wait_for_port(later);
    moves_bytes(connect(later), "-L of a client run, kept by the master");
    assert_eq!(logins(f), 1, "{}", f.peer.log());
}

#[test]
fn openssh_clients_forward_and_cancel_through_an_oxssh_master() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    f.trust_host();
    let path = control_path(&f);
    let _master = start_master(f.oxssh(), &path);
    forwards_through_a_master(&f, &path, &|| f.openssh());
}

#[test]
fn oxssh_clients_forward_and_cancel_through_an_openssh_master() {
    if !require_peer("ssh") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    f.trust_host();
    let path = control_path(&f);
    let _master = start_master(f.openssh(), &path);
    forwards_through_a_master(&f, &path, &|| f.oxssh());
}

#[test]
fn oxssh_clients_forward_and_cancel_through_an_oxssh_master_on_oxsshd() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    f.trust_host();
    let path = control_path(&f);
    let _master = start_master(f.oxssh(), &path);
    forwards_through_a_master(&f, &path, &|| f.oxssh());
}

#[test]
fn a_refused_forward_is_reported_as_openssh_reports_it() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    f.trust_host();
    let path = control_path(&f);
    let _master = start_master(f.oxssh(), &path);
    // The port is taken: the master cannot listen.
    let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let spec = format!("127.0.0.1:{port}:127.0.0.1:9");
    for client in [f.openssh(), f.oxssh()] {
        let out = control(client, &path, "forward", &["-L", &spec]);
        assert_exit(&out, 255, &f.peer);
        assert!(
            out.stderr
                .contains("forwarding request failed: Port forwarding failed"),
            "{out:?}"
        );
        assert!(
            out.stderr.contains("master forward request failed"),
            "{out:?}"
        );
    }
}

/// `client -S path -W echo` moves `data` through the master at `path` and back.
fn stdio_forward_through(f: &Fixture, path: &Path, client: Ssh) {
    let echo = echo_server();
    let data: String = (0..40_000).map(|i| format!("line {i}\n")).collect();
    let target = format!("127.0.0.1:{echo}");
    let path_arg = path.to_str().unwrap().to_owned();
    let out = client
        .args(["-S", &path_arg, "-W", &target])
        .run_no_command(data.as_bytes());
    assert_exit(&out, 0, &f.peer);
    assert_eq!(out.stdout.len(), data.len(), "{}", out.stderr);
    assert!(out.stdout == data, "echoed bytes differ");
}

#[test]
fn stdio_forwards_run_through_a_master_both_ways() {
    if !require_peer("ssh") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    f.trust_host();
    // MUX_C_NEW_STDIO_FWD from both clients to an oxssh master, then from oxssh to an
    // OpenSSH master; each master's one login carries them all.
    let path = control_path(&f);
    let master = start_master(f.oxssh(), &path);
    stdio_forward_through(&f, &path, f.openssh());
    stdio_forward_through(&f, &path, f.oxssh());
    assert_eq!(logins(&f), 1, "{}", f.peer.log());
    drop(master);
    let _ = std::fs::remove_file(&path);
    let _master = start_master(f.openssh(), &path);
    stdio_forward_through(&f, &path, f.oxssh());
    assert_eq!(logins(&f), 2, "{}", f.peer.log());
}

/// What a session through the master at `path` sees of the agent: `ssh-add -l`'s status
/// and whether it listed the key with `-A`, and whether `$SSH_AUTH_SOCK` is set without.
fn agent_seen_through(client: Ssh, path: &Path, agent: &Agent) -> (Option<i32>, bool, bool) {
    let path_arg = path.to_str().unwrap().to_owned();
    let with = client
        .clone()
        .env("SSH_AUTH_SOCK", &agent.socket)
        .args(["-A", "-S", &path_arg])
        .run("ssh-add -l", b"");
    let without = client
        .env("SSH_AUTH_SOCK", &agent.socket)
        .args(["-S", &path_arg])
        .run("echo \"[$SSH_AUTH_SOCK]\"", b"");
    (
        with.code(),
        with.stdout.contains("(ED25519)"),
        without.stdout != "[]\n",
    )
}

/// Agent forwarding through a shared connection: the client's `-A` rides in
/// `MUX_C_NEW_SESSION` and the master's own ForwardAgent decides, for OpenSSH's master
/// and ours alike; either way the session goes through the master (one login each).
#[test]
fn agent_forwarding_through_a_master_follows_the_masters_forward_agent() {
    if !require_peer("ssh") || !require_peer("ssh-agent") {
        return;
    }
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    f.trust_host();
    let agent = Agent::start("ssh-agent", &f.key.path);
    let path = control_path(&f);
    let mut masters = 0;
    for master_forwards in [true, false] {
        let mut seen = Vec::new();
        for master_is_ours in [true, false] {
            let program = if master_is_ours {
                f.oxssh()
            } else {
                f.openssh()
            };
            let mut program = program.env("SSH_AUTH_SOCK", &agent.socket);
            if master_forwards {
                program = program.args(["-A"]);
            }
            let master = start_master(program, &path);
            masters += 1;
            for client in [f.openssh(), f.oxssh()] {
                seen.push(agent_seen_through(client, &path, &agent));
            }
            assert_eq!(logins(&f), masters, "{}", f.peer.log());
            drop(master);
            let _ = std::fs::remove_file(&path);
        }
        // The same answers through both masters, both clients; the key listed exactly
        // when the master forwards. (sshd keeps a connection's agent socket once one
        // session asked for it, so later sessions without -A see it too, either way.)
        let (ours, theirs) = seen.split_at(2);
        assert_eq!(ours, theirs, "oxssh master, then OpenSSH's");
        for (i, (code, listed, _)) in seen.iter().enumerate() {
            assert_eq!(*listed, master_forwards, "run {i}: {seen:?}");
            assert_eq!(*code, Some(if master_forwards { 0 } else { 2 }), "run {i}");
        }
    }
}
