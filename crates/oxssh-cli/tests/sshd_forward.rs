//! Forwarding through `oxsshd` with OpenSSH's `ssh` (and `oxssh`): `-L`, `-R` (port 0
//! included), `-D`, `-A` (listing and signing through a real agent, a second hop), the
//! policies (`AllowTcpForwarding`, `PermitOpen`, `PermitListen`, `AllowAgentForwarding`,
//! authorized_keys `restrict`, `no-port-forwarding`, `permitopen=`) refused with
//! OpenSSH's messages, and per-channel flow control: a stalled forward stalls alone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::agent::Agent;
use support::client::{wait_until, ClientDir};
use support::forward::{
    assert_closed_without_data, connect, echo_server, echo_through, local_forwards,
    many_connections_finish_past_a_stalled_one, socks5_connect, wait_for_port, Background,
};
use support::openssh::{sshd_opts, Fixture};
use support::users::test_user;
use support::{free_port, start_oxsshd, HostKey};

/// Bytes moved through each bulk forward.
const BULK: u64 = 50 * 1024 * 1024;

fn oxsshd(extra: &[&str]) -> Option<Fixture> {
    let f = Fixture::start_oxsshd(sshd_opts(extra))?;
    f.trust_host();
    Some(f)
}

/// oxsshd with the user's key authorised under `options` (`restrict,...`).
fn oxsshd_with_key_options(options: &str) -> Option<Fixture> {
    if !support::require_peer("ssh-keygen") {
        return None;
    }
    test_user();
    let client = ClientDir::new();
    let key = client.key("id_ed25519", HostKey::Ed25519, None);
    let mut opts = sshd_opts(&[]);
    opts.authorized_keys
        .push(format!("{options} {}", key.public));
    let peer = start_oxsshd(&opts);
    let f = Fixture { peer, client, key };
    f.trust_host();
    Some(f)
}

fn allocated_port(client: &Background) -> u16 {
    let line = client.wait_for_line("Allocated port", Duration::from_secs(20));
    line.strip_prefix("Allocated port ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("bad line: {line}"))
}

#[test]
fn openssh_local_forward_moves_50_mib_through_oxsshd() {
    let Some(f) = oxsshd(&[]) else { return };
    let echo = echo_server();
    let port = free_port();
    let client = Background::spawn(
        &mut f
            .openssh()
            .args(["-N", "-L", &format!("{port}:127.0.0.1:{echo}")])
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
fn openssh_remote_forward_on_port_0_gets_a_port_and_moves_50_mib() {
    let Some(f) = oxsshd(&[]) else { return };
    let echo = echo_server();
    let client = Background::spawn(
        &mut f
            .openssh()
            .args(["-N", "-R", &format!("0:127.0.0.1:{echo}")])
            .command(None),
    );
    let port = allocated_port(&client);
    assert!(client.stderr().contains(&format!(
        "Allocated port {port} for remote forward to 127.0.0.1:{echo}"
    )));
    let (sent, received) = echo_through(connect(port), BULK);
    assert_eq!(
        sent,
        received,
        "ssh: {}\nlog: {}",
        client.stderr(),
        f.peer.log()
    );
}

#[test]
fn oxssh_remote_forward_through_oxsshd_and_cancel_at_exit() {
    let Some(f) = oxsshd(&[]) else { return };
    let echo = echo_server();
    let port = free_port();
    let mut client = Background::spawn(
        &mut f
            .oxssh()
            .args(["-R", &format!("{port}:127.0.0.1:{echo}")])
            .command(Some("sleep 2")),
    );
    wait_for_port(port);
    let (sent, received) = echo_through(connect(port), 8 * 1024 * 1024);
    assert_eq!(sent, received, "oxssh: {}", client.stderr());
    wait_until("oxssh to exit", Duration::from_secs(20), || {
        !client.running()
    });
    wait_until("the listener to close", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    });
}

#[test]
fn openssh_dynamic_forward_through_oxsshd_resolves_names_on_the_server() {
    let Some(f) = oxsshd(&[]) else { return };
    let echo = echo_server();
    let port = free_port();
    let _client = Background::spawn(
        &mut f
            .openssh()
            .args(["-N", "-D", &port.to_string()])
            .command(None),
    );
    wait_for_port(port);
    let s = socks5_connect(port, "localhost", echo).expect("socks5h connect");
    let (sent, received) = echo_through(s, 4 * 1024 * 1024);
    assert_eq!(sent, received);
}

#[test]
fn forward_to_a_closed_port_fails_with_connect_failed_and_the_session_continues() {
    let Some(f) = oxsshd(&[]) else { return };
    let closed = free_port();
    let port = free_port();
    let mut client = Background::spawn(
        &mut f
            .openssh()
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
    assert_eq!(client.process.0.wait().unwrap().code(), Some(0));
}

/// Issue 8: 100 forwarded connections at once through one `-L` of OpenSSH's ssh, past
/// one whose reader stalled; oxsshd gives each channel its own window, so all finish.
#[test]
fn a_hundred_forwarded_connections_finish_while_one_reader_stalls() {
    let Some(f) = oxsshd(&[]) else { return };
    let (client, ports) = local_forwards(f.openssh(), &[echo_server()]);
    let context = || format!("ssh: {}\nlog: {}", client.stderr(), f.peer.log());
    many_connections_finish_past_a_stalled_one(ports[0], 100, 1024 * 1024, &context);
}

#[test]
fn allow_tcp_forwarding_no_refuses_with_openssh_messages() {
    let Some(f) = oxsshd(&["AllowTcpForwarding no"]) else {
        return;
    };
    let echo = echo_server();
    let (client, ports) = local_forwards(f.openssh(), &[echo]);
    assert_closed_without_data(ports[0], "refused");
    client.wait_for_line(
        "open failed: administratively prohibited: open failed",
        Duration::from_secs(20),
    );
    let out = f
        .openssh()
        .args([
            "-o",
            "ExitOnForwardFailure=yes",
            "-R",
            &format!("{}:127.0.0.1:{echo}", free_port()),
        ])
        .run("echo not reached", b"");
    assert_eq!(out.code(), Some(255), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Error: remote port forwarding failed for listen port"),
        "{}",
        out.stderr
    );
}

#[test]
fn allow_tcp_forwarding_local_allows_only_local() {
    let Some(f) = oxsshd(&["AllowTcpForwarding local"]) else {
        return;
    };
    let echo = echo_server();
    let out = f
        .openssh()
        .args(["-R", &format!("{}:127.0.0.1:{echo}", free_port())])
        .run("true", b"");
    assert!(
        out.stderr
            .contains("Warning: remote port forwarding failed for listen port"),
        "{}",
        out.stderr
    );
    let port = free_port();
    let _client = Background::spawn(
        &mut f
            .openssh()
            .args(["-N", "-L", &format!("{port}:127.0.0.1:{echo}")])
            .command(None),
    );
    wait_for_port(port);
    let (sent, received) = echo_through(connect(port), 1024 * 1024);
    assert_eq!(sent, received);
}

#[test]
fn permit_open_and_permit_listen_limit_targets() {
    let echo = echo_server();
    let other = echo_server();
    let listen = free_port();
    let Some(f) = oxsshd(&[
        &format!("PermitOpen 127.0.0.1:{echo}"),
        &format!("PermitListen {listen}"),
    ]) else {
        return;
    };
    let (client, ports) = local_forwards(f.openssh(), &[echo, other]);
    let (sent, received) = echo_through(connect(ports[0]), 1024 * 1024);
    assert_eq!(sent, received);
    assert_closed_without_data(ports[1], "the other target");
    client.wait_for_line(
        "open failed: administratively prohibited: open failed",
        Duration::from_secs(20),
    );
    // A port other than the permitted one (free_port may hand the same one out again).
    let other_listen = std::iter::repeat_with(free_port)
        .find(|&p| p != listen)
        .unwrap();
    let denied = f
        .openssh()
        .args(["-R", &format!("{other_listen}:127.0.0.1:{echo}")])
        .run("true", b"");
    assert!(
        denied
            .stderr
            .contains("Warning: remote port forwarding failed for listen port"),
        "{}",
        denied.stderr
    );
    let allowed = f
        .openssh()
        .args(["-R", &format!("{listen}:127.0.0.1:{echo}")])
        .run("true", b"");
    assert!(!allowed.stderr.contains("failed"), "{}", allowed.stderr);
}

#[test]
fn authorized_keys_restrict_and_no_port_forwarding_refuse_forwarding() {
    for options in ["restrict", "no-port-forwarding"] {
        let Some(f) = oxsshd_with_key_options(options) else {
            return;
        };
        let (client, ports) = local_forwards(f.openssh(), &[echo_server()]);
        assert_closed_without_data(ports[0], options);
        client.wait_for_line(
            "open failed: administratively prohibited: open failed",
            Duration::from_secs(20),
        );
    }
}

#[test]
fn authorized_keys_permitopen_allows_only_its_target() {
    let echo = echo_server();
    let other = echo_server();
    let Some(f) = oxsshd_with_key_options(&format!("permitopen=\"127.0.0.1:{echo}\"")) else {
        return;
    };
    let (client, ports) = local_forwards(f.openssh(), &[echo, other]);
    let (sent, received) = echo_through(connect(ports[0]), 1024 * 1024);
    assert_eq!(sent, received);
    assert_closed_without_data(ports[1], "the other target");
    client.wait_for_line("administratively prohibited", Duration::from_secs(20));
}

#[test]
fn openssh_agent_forwarding_through_oxsshd_lists_keys_and_the_socket_goes_away() {
    let Some(f) = oxsshd(&[]) else { return };
    for program in ["ssh-agent", env!("CARGO_BIN_EXE_oxssh-agent")] {
        let agent = Agent::start(program, &f.key.path);
        let out = f
            .openssh()
            .env("SSH_AUTH_SOCK", &agent.socket)
            .args(["-A"])
            .run(
                "echo \"$SSH_AUTH_SOCK\"; ls -ld \"$(dirname \"$SSH_AUTH_SOCK\")\"; ssh-add -l",
                b"",
            );
        assert_eq!(
            out.code(),
            Some(0),
            "{program}: {}\n{}",
            out.stderr,
            f.peer.log()
        );
        let mut lines = out.stdout.lines();
        let sock = lines.next().unwrap().to_owned();
        assert!(
            sock.starts_with("/tmp/ssh-") && sock.contains("/agent."),
            "{sock}"
        );
        let dir_line = lines.next().unwrap();
        assert!(dir_line.starts_with("drwx------"), "{dir_line}");
        assert!(dir_line.contains("oxssh-test"), "{dir_line}");
        assert!(
            out.stdout.contains("id_ed25519 (ED25519)"),
            "{program}: {}",
            out.stdout
        );
        wait_until("the agent socket to go", Duration::from_secs(10), || {
            !Path::new(&sock).exists()
        });
    }
}

#[test]
fn oxssh_agent_forwarding_through_oxsshd_signs_a_second_hop_login() {
    let Some(f) = oxsshd(&[]) else { return };
    if !support::require_peer("ssh") {
        return;
    }
    let agent = Agent::start(env!("CARGO_BIN_EXE_oxssh-agent"), &f.key.path);
    let hop = format!(
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
         -o LogLevel=ERROR -p {} oxssh-test@127.0.0.1 echo second hop",
        f.peer.port()
    );
    for client in [f.oxssh(), f.openssh()] {
        let out = client
            .env("SSH_AUTH_SOCK", &agent.socket)
            .args(["-A"])
            .run(&hop, b"");
        assert_eq!(out.code(), Some(0), "{}\n{}", out.stderr, f.peer.log());
        assert_eq!(out.stdout, "second hop\n");
    }
}

#[test]
fn agent_forwarding_denied_leaves_no_auth_sock() {
    let Some(f) = oxsshd(&["AllowAgentForwarding no"]) else {
        return;
    };
    let agent = Agent::start("ssh-agent", &f.key.path);
    for client in [f.openssh(), f.oxssh()] {
        let out = client
            .env("SSH_AUTH_SOCK", &agent.socket)
            .args(["-A"])
            .run("echo \"[$SSH_AUTH_SOCK]\"", b"");
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        assert_eq!(out.stdout, "[]\n");
    }
    for options in ["no-agent-forwarding", "restrict"] {
        let Some(f) = oxsshd_with_key_options(options) else {
            return;
        };
        let out = f
            .openssh()
            .env("SSH_AUTH_SOCK", &agent.socket)
            .args(["-A"])
            .run("echo \"[$SSH_AUTH_SOCK]\"", b"");
        assert_eq!(out.stdout, "[]\n", "{options}: {}", out.stderr);
    }
}

#[test]
fn disable_forwarding_refuses_every_kind() {
    let Some(f) = oxsshd(&["DisableForwarding yes"]) else {
        return;
    };
    let agent = Agent::start("ssh-agent", &f.key.path);
    let echo = echo_server();
    let out = f
        .openssh()
        .env("SSH_AUTH_SOCK", &agent.socket)
        .args(["-A", "-R", &format!("{}:127.0.0.1:{echo}", free_port())])
        .run("echo \"[$SSH_AUTH_SOCK]\"", b"");
    assert_eq!(out.stdout, "[]\n", "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Warning: remote port forwarding failed for listen port"),
        "{}",
        out.stderr
    );
}

#[test]
fn gateway_ports_clientspecified_binds_the_address_the_client_names() {
    let Some(f) = oxsshd(&["GatewayPorts clientspecified"]) else {
        return;
    };
    let echo = echo_server();
    let port = free_port();
    let _client = Background::spawn(
        &mut f
            .openssh()
            .args(["-N", "-R", &format!("127.0.0.2:{port}:127.0.0.1:{echo}")])
            .command(None),
    );
    wait_until("the remote listener", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.2", port)).is_ok()
    });
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    let s = std::net::TcpStream::connect(("127.0.0.2", port)).unwrap();
    let (sent, received) = echo_through(s, 1024 * 1024);
    assert_eq!(sent, received);
}

#[test]
fn forward_to_a_missing_socket_fails_as_sshd_and_logs_why() {
    let Some(f) = oxsshd(&[]) else { return };
    let port = free_port();
    let client = Background::spawn(
        &mut f
            .openssh()
            .args(["-N", "-L", &format!("{port}:/tmp/oxssh-test-nowhere.sock")])
            .command(None),
    );
    wait_for_port(port);
    client.wait_for_line(
        "open failed: connect failed: open failed",
        Duration::from_secs(20),
    );
    wait_until("the log line", Duration::from_secs(20), || {
        f.peer.log().contains(
            "connect to /tmp/oxssh-test-nowhere.sock port -2 failed: No such file or directory",
        )
    });
}

#[test]
fn authorized_keys_permitlisten_allows_only_its_port() {
    let echo = echo_server();
    let allowed = free_port();
    let Some(f) = oxsshd_with_key_options(&format!("permitlisten=\"{allowed}\"")) else {
        return;
    };
    // A port other than the permitted one (free_port may hand the same one out again).
    let other_listen = std::iter::repeat_with(free_port)
        .find(|&p| p != allowed)
        .unwrap();
    let denied = f
        .openssh()
        .args(["-R", &format!("{other_listen}:127.0.0.1:{echo}")])
        .run("true", b"");
    assert!(
        denied
            .stderr
            .contains("Warning: remote port forwarding failed for listen port"),
        "{}",
        denied.stderr
    );
    let _client = Background::spawn(
        &mut f
            .openssh()
            .args(["-N", "-R", &format!("{allowed}:127.0.0.1:{echo}")])
            .command(None),
    );
    wait_for_port(allowed);
    let (sent, received) = echo_through(connect(allowed), 1024 * 1024);
    assert_eq!(sent, received);
}

#[test]
fn oxssh_local_and_dynamic_forwards_through_oxsshd() {
    let Some(f) = oxsshd(&[]) else { return };
    let echo = echo_server();
    let local = free_port();
    let socks = free_port();
    let client = Background::spawn(
        &mut f
            .oxssh()
            .args([
                "-N",
                "-L",
                &format!("{local}:127.0.0.1:{echo}"),
                "-D",
                &socks.to_string(),
            ])
            .command(None),
    );
    wait_for_port(local);
    wait_for_port(socks);
    let (sent, received) = echo_through(connect(local), BULK);
    assert_eq!(
        sent,
        received,
        "oxssh: {}\nlog: {}",
        client.stderr(),
        f.peer.log()
    );
    let s = socks5_connect(socks, "localhost", echo).expect("socks5h connect");
    let (sent, received) = echo_through(s, 4 * 1024 * 1024);
    assert_eq!(sent, received);
}

#[test]
fn agent_socket_goes_away_when_the_client_is_killed() {
    let Some(f) = oxsshd(&[]) else { return };
    let agent = Agent::start("ssh-agent", &f.key.path);
    let mut client = Background::spawn(
        &mut f
            .openssh()
            .env("SSH_AUTH_SOCK", &agent.socket)
            .args(["-A"])
            .command(Some("echo \"sock=$SSH_AUTH_SOCK\" >&2; sleep 60")),
    );
    let line = client.wait_for_line("sock=", Duration::from_secs(20));
    let sock = PathBuf::from(line.trim_start_matches("sock="));
    assert!(sock.exists(), "{}", sock.display());
    let _ = client.process.0.kill();
    let _ = client.process.0.wait();
    wait_until("the agent socket to go", Duration::from_secs(20), || {
        !sock.exists() && !sock.parent().unwrap().exists()
    });
}

/// The library's view: malformed forwarding data is refused without harm, and a
/// `tcpip-forward` on port 0 hands its connections to `Client::incoming_channels`.
#[test]
fn malformed_forwarding_requests_are_refused_and_the_connection_goes_on() {
    use oxssh_wire::forward::{decode_allocated_port, TcpipForward, TcpipOpen};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    test_user();
    let key = oxssh_crypto::generate_signing_key(oxssh_crypto::KeyKind::Ed25519).unwrap();
    let mut opts = sshd_opts(&[]);
    opts.authorized_keys
        .push(key.public_key().to_openssh().unwrap());
    let peer = start_oxsshd(&opts);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let work = async {
        let config = oxssh::ClientConfig::new(
            support::users::TEST_USER,
            std::sync::Arc::new(oxssh::AcceptAnyHostKey),
        );
        let addr = format!("127.0.0.1:{}", peer.port());
        let client = oxssh::Client::connect(&addr, "127.0.0.1", config)
            .await
            .unwrap();
        assert!(client
            .auth_publickey(key.as_ref())
            .await
            .unwrap()
            .is_success());
        let refused = |r: Result<oxssh::Channel, oxssh::Error>| match r {
            Err(oxssh::Error::ChannelOpen { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        // Truncated data, a port past 65535, port 0, an unknown channel type.
        assert_eq!(
            refused(
                client
                    .open_channel("direct-tcpip", &[0, 0, 0, 9, b'x'])
                    .await
            ),
            1
        );
        for port in [70_000, 0] {
            let open = TcpipOpen {
                host: "127.0.0.1".into(),
                port,
                originator: "127.0.0.1".into(),
                originator_port: 1,
            };
            assert_eq!(
                refused(client.open_channel("direct-tcpip", &open.encode()).await),
                1
            );
        }
        assert_eq!(refused(client.open_channel("x11", &[]).await), 1);
        for data in [&[1u8, 2, 3][..], &[0, 0, 0, 0, 0, 1, 0, 0, 0]] {
            assert!(matches!(
                client.global_request("tcpip-forward", data).await,
                Err(oxssh::Error::RequestFailed(_))
            ));
        }
        // Still a working connection: a remote forward on port 0, through the library.
        let mut incoming = client.incoming_channels();
        let request = TcpipForward {
            address: "127.0.0.1".into(),
            port: 0,
        };
        let reply = client
            .global_request("tcpip-forward", &request.encode())
            .await
            .unwrap();
        let port = decode_allocated_port(&reply).unwrap();
        let mut outside = tokio::net::TcpStream::connect(("127.0.0.1", port as u16))
            .await
            .unwrap();
        outside.write_all(b"hello").await.unwrap();
        outside.shutdown().await.unwrap();
        let offer = incoming.next().await.unwrap();
        assert_eq!(offer.channel_type(), "forwarded-tcpip");
        let open = TcpipOpen::decode(offer.data()).unwrap();
        assert_eq!((open.host.as_str(), open.port), ("127.0.0.1", port));
        let mut channel = offer.accept().unwrap();
        let mut got = Vec::new();
        channel.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello");
    };
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), work)
            .await
            .expect("timed out")
    });
}
