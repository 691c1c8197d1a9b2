//! `oxssh` forwarding through OpenSSH's `sshd`: `-L`, `-R` (port 0 included), `-D` as
//! SOCKS4a and SOCKS5 with names resolved by the server, `-A` with a real agent; bulk
//! data checked by SHA-256 through an echo service; refusals and failures reported as
//! OpenSSH reports them while the session carries on.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use support::agent::Agent;
use support::client::wait_until;
use support::forward::{
    assert_closed_without_data, connect, echo_server, echo_through, local_forwards,
    many_connections_finish_past_a_stalled_one, socks4a_connect, socks5_connect, wait_for_port,
    Background,
};
use support::free_port;
use support::openssh::{sshd_opts, Fixture};

/// Bytes moved through each bulk forward.
const BULK: u64 = 50 * 1024 * 1024;

fn fixture() -> Option<Fixture> {
    let f = Fixture::start(sshd_opts(&[]))?;
    f.trust_host();
    Some(f)
}

#[test]
fn local_forward_moves_50_mib_through_openssh_sshd() {
    let Some(f) = fixture() else { return };
    let echo = echo_server();
    let port = free_port();
    let spec = format!("{port}:127.0.0.1:{echo}");
    let client = Background::spawn(&mut f.oxssh().args(["-N", "-L", &spec]).command(None));
    wait_for_port(port);
    let (sent, received) = echo_through(connect(port), BULK);
    assert_eq!(sent.len, BULK);
    assert_eq!(sent, received, "stderr: {}", client.stderr());
}

#[test]
fn remote_forward_on_port_0_reports_the_allocated_port_and_moves_data() {
    let Some(f) = fixture() else { return };
    let echo = echo_server();
    let spec = format!("0:127.0.0.1:{echo}");
    let client = Background::spawn(&mut f.oxssh().args(["-N", "-R", &spec]).command(None));
    let line = client.wait_for_line("Allocated port", Duration::from_secs(20));
    let port: u16 = line
        .strip_prefix("Allocated port ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("bad line: {line}"));
    assert_eq!(
        line,
        format!("Allocated port {port} for remote forward to 127.0.0.1:{echo}")
    );
    let (sent, received) = echo_through(connect(port), BULK);
    assert_eq!(sent, received, "stderr: {}", client.stderr());
}

#[test]
fn dynamic_forward_speaks_socks5h_and_socks4a_with_names_resolved_by_the_server() {
    let Some(f) = fixture() else { return };
    let echo = echo_server();
    let port = free_port();
    let client = Background::spawn(
        &mut f
            .oxssh()
            .args(["-N", "-D", &format!("127.0.0.1:{port}")])
            .command(None),
    );
    wait_for_port(port);
    let s5 = socks5_connect(port, "localhost", echo).expect("socks5 connect");
    let (sent, received) = echo_through(s5, BULK);
    assert_eq!(sent, received);
    let s4 = socks4a_connect(port, "localhost", echo).expect("socks4a connect");
    let (sent, received) = echo_through(s4, 1024 * 1024);
    assert_eq!(sent, received, "stderr: {}", client.stderr());
    // A target nobody listens on: refused in the SOCKS reply, the proxy lives on.
    let closed = free_port();
    assert_eq!(socks5_connect(port, "127.0.0.1", closed).err(), Some(5));
    assert!(socks5_connect(port, "localhost", echo).is_ok());
}

#[test]
fn curl_fetches_through_the_dynamic_forward_with_socks5h_and_socks4a() {
    let Some(f) = fixture() else { return };
    if !support::require_peer("curl") {
        return;
    }
    let http = support::relay::fake_server(|mut s| {
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhello\n");
    });
    let port = free_port();
    let _client = Background::spawn(
        &mut f
            .oxssh()
            .args(["-N", "-D", &port.to_string()])
            .command(None),
    );
    wait_for_port(port);
    for scheme in ["socks5h", "socks4a"] {
        let out = support::run(
            Command::new("curl").args([
                "-sS",
                "--max-time",
                "20",
                "-x",
                &format!("{scheme}://127.0.0.1:{port}"),
                &format!("http://localhost:{http}/"),
            ]),
            b"",
            Duration::from_secs(30),
        );
        assert_eq!(out.stdout, "hello\n", "{scheme}: {}", out.stderr);
    }
}

#[test]
fn socks_client_sending_garbage_is_dropped_alone() {
    let Some(f) = fixture() else { return };
    let echo = echo_server();
    let port = free_port();
    let client = Background::spawn(
        &mut f
            .oxssh()
            .args(["-N", "-D", &port.to_string()])
            .command(None),
    );
    wait_for_port(port);
    let good = socks5_connect(port, "127.0.0.1", echo).expect("socks5 connect");
    let mut bad = connect(port);
    bad.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    bad.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut sink = Vec::new();
    assert_eq!(bad.read_to_end(&mut sink).unwrap_or(0), 0, "dropped");
    let (sent, received) = echo_through(good, 1024 * 1024);
    assert_eq!(sent, received, "stderr: {}", client.stderr());
}

#[test]
fn forward_to_a_closed_port_reports_open_failure_and_the_session_continues() {
    let Some(f) = fixture() else { return };
    let closed = free_port();
    let port = free_port();
    let mut client = Background::spawn(
        &mut f
            .oxssh()
            .args(["-L", &format!("{port}:127.0.0.1:{closed}")])
            .command(Some("sleep 3; echo still here")),
    );
    wait_for_port(port);
    assert_closed_without_data(port, "refused");
    client.wait_for_line(
        "open failed: connect failed: Connection refused",
        Duration::from_secs(20),
    );
    wait_until("the session to end", Duration::from_secs(20), || {
        !client.running()
    });
    let status = client.process.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {}", client.stderr());
}

#[test]
fn exit_on_forward_failure_ends_oxssh_when_the_local_port_is_taken() {
    let Some(f) = fixture() else { return };
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = f
        .oxssh()
        .args([
            "-o",
            "ExitOnForwardFailure=yes",
            "-L",
            &format!("127.0.0.1:{port}:127.0.0.1:22"),
        ])
        .run("echo not reached", b"");
    assert_eq!(out.code(), Some(255), "{}", out.stderr);
    assert!(
        out.stderr.contains("Could not request local forwarding."),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("not reached"));
}

#[test]
fn bad_forward_specifications_are_refused_as_openssh_does() {
    let Some(f) = fixture() else { return };
    for (flag, what) in [("-L", "local"), ("-R", "remote"), ("-D", "dynamic")] {
        let out = f.oxssh().args([flag, "a:b:c:d:e"]).run("true", b"");
        assert_eq!(out.code(), Some(255));
        assert_eq!(
            out.stderr.trim(),
            format!("Bad {what} forwarding specification 'a:b:c:d:e'")
        );
    }
}

#[test]
fn agent_forwarding_through_openssh_sshd_lists_the_agents_key() {
    let Some(f) = fixture() else { return };
    for program in ["ssh-agent", env!("CARGO_BIN_EXE_oxssh-agent")] {
        let agent = Agent::start(program, &f.key.path);
        let out = f
            .oxssh()
            .env("SSH_AUTH_SOCK", &agent.socket)
            .args(["-A"])
            .run("ssh-add -l", b"");
        assert_eq!(out.code(), Some(0), "{program}: {}", out.stderr);
        assert!(
            out.stdout.contains("id_ed25519 (ED25519)"),
            "{program}: {}",
            out.stdout
        );
        // Without -A the session has no agent.
        let out = f
            .oxssh()
            .env("SSH_AUTH_SOCK", &agent.socket)
            .run("echo \"[$SSH_AUTH_SOCK]\"", b"");
        assert_eq!(out.stdout, "[]\n");
    }
}

/// Issue 8: 100 forwarded connections at once through one `-L`, past one whose reader
/// stalled; each is its own channel with its own window, so all finish.
#[test]
fn a_hundred_forwarded_connections_finish_while_one_reader_stalls() {
    let Some(f) = fixture() else { return };
    let (client, ports) = local_forwards(f.oxssh(), &[echo_server()]);
    let context = || format!("oxssh: {}", client.stderr());
    many_connections_finish_past_a_stalled_one(ports[0], 100, 1024 * 1024, &context);
}

#[test]
fn refused_remote_forward_warns_or_ends_oxssh_with_exit_on_forward_failure() {
    let Some(f) = Fixture::start(sshd_opts(&["AllowTcpForwarding local"])) else {
        return;
    };
    f.trust_host();
    let spec = format!("{}:127.0.0.1:9", free_port());
    let port = spec.split(':').next().unwrap().to_owned();
    let out = f.oxssh().args(["-R", &spec]).run("echo reached", b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "reached\n");
    assert!(
        out.stderr.contains(&format!(
            "Warning: remote port forwarding failed for listen port {port}"
        )),
        "{}",
        out.stderr
    );
    let out = f
        .oxssh()
        .args(["-o", "ExitOnForwardFailure=yes", "-R", &spec])
        .run("echo not reached", b"");
    assert_eq!(out.code(), Some(255), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "Error: remote port forwarding failed for listen port {port}"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}

/// A directory every user may create sockets in (sshd runs the session as the test user).
fn shared_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

#[test]
fn local_forwards_to_and_from_unix_sockets_through_openssh_sshd() {
    let Some(f) = fixture() else { return };
    let dir = shared_dir();
    let remote = dir.path().join("remote.sock");
    support::forward::unix_echo_server(&remote);
    let local = dir.path().join("local.sock");
    let echo = echo_server();
    let port = free_port();
    let client = Background::spawn(
        &mut f
            .oxssh()
            .args([
                "-N",
                "-L",
                &format!("{port}:{}", remote.display()),
                "-L",
                &format!("{}:127.0.0.1:{echo}", local.display()),
            ])
            .command(None),
    );
    wait_for_port(port);
    let (sent, received) = echo_through(connect(port), 8 * 1024 * 1024);
    assert_eq!(sent, received, "stderr: {}", client.stderr());
    wait_until("the local socket", Duration::from_secs(20), || {
        UnixStream::connect(&local).is_ok()
    });
    let (sent, received) =
        support::forward::unix_echo_through(UnixStream::connect(&local).unwrap(), 8 << 20);
    assert_eq!(sent, received, "stderr: {}", client.stderr());
}

#[test]
fn remote_forwards_to_and_from_unix_sockets_through_openssh_sshd() {
    let Some(f) = fixture() else { return };
    let dir = shared_dir();
    let local = dir.path().join("local.sock");
    support::forward::unix_echo_server(&local);
    let remote = dir.path().join("remote.sock");
    let echo = echo_server();
    let port = free_port();
    let client = Background::spawn(
        &mut f
            .oxssh()
            .args([
                "-N",
                "-R",
                &format!("{port}:{}", local.display()),
                "-R",
                &format!("{}:127.0.0.1:{echo}", remote.display()),
            ])
            .command(None),
    );
    wait_for_port(port);
    let (sent, received) = echo_through(connect(port), 8 * 1024 * 1024);
    assert_eq!(sent, received, "stderr: {}", client.stderr());
    wait_until("the remote socket", Duration::from_secs(20), || {
        UnixStream::connect(&remote).is_ok()
    });
    let (sent, received) =
        support::forward::unix_echo_through(UnixStream::connect(&remote).unwrap(), 8 << 20);
    assert_eq!(sent, received, "stderr: {}", client.stderr());
}

#[test]
fn forwards_from_config_keywords_and_clear_all_forwardings() {
    let Some(f) = fixture() else { return };
    let echo = echo_server();
    let port = free_port();
    let client = Background::spawn(
        &mut f
            .oxssh()
            .args(["-N", "-o", &format!("LocalForward {port} 127.0.0.1:{echo}")])
            .command(None),
    );
    wait_for_port(port);
    let (sent, received) = echo_through(connect(port), 1024 * 1024);
    assert_eq!(sent, received, "stderr: {}", client.stderr());
    drop(client);
    // ClearAllForwardings drops them all, the command line's too.
    let cleared = free_port();
    let mut client = Background::spawn(
        &mut f
            .oxssh()
            .args([
                "-o",
                "ClearAllForwardings=yes",
                "-L",
                &format!("{cleared}:127.0.0.1:{echo}"),
            ])
            .command(Some("echo started >&2; sleep 2")),
    );
    client.wait_for_line("started", Duration::from_secs(20));
    assert!(std::net::TcpStream::connect(("127.0.0.1", cleared)).is_err());
    wait_until("the session to end", Duration::from_secs(20), || {
        !client.running()
    });
}

#[test]
fn forward_agent_names_the_socket_by_path_or_variable() {
    let Some(f) = fixture() else { return };
    let agent = Agent::start("ssh-agent", &f.key.path);
    let by_path = f
        .oxssh()
        .option(&format!("ForwardAgent={}", agent.socket.display()))
        .run("ssh-add -l", b"");
    assert!(
        by_path.stdout.contains("id_ed25519 (ED25519)"),
        "{}",
        by_path.stderr
    );
    let by_variable = f
        .oxssh()
        .env("MY_AGENT", &agent.socket)
        .option("ForwardAgent=$MY_AGENT")
        .run("ssh-add -l", b"");
    assert!(
        by_variable.stdout.contains("id_ed25519 (ED25519)"),
        "{}",
        by_variable.stderr
    );
}
