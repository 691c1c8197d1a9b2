//! `oxssh` against servers that misbehave: silent or stalled servers are given up on
//! after `ConnectTimeout`, noise and absurd packets end in a clean error, and a server
//! that stops answering mid-session is detected by `ServerAliveInterval`. Every case
//! exits 255 promptly, never hangs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::client::{
    in_parallel, spawn_quiet, text, wait_until, ClientDir, Ssh, CLIENT_TIMEOUT, OXSSH,
};
use support::openssh::{sshd_opts, Fixture};
use support::relay::{fake_server, stalling_relay, Stall};
use support::users::TEST_USER;

// ---------------------------------------------------------------------------------
// Misbehaving servers
// ---------------------------------------------------------------------------------

/// `oxssh` against a fake server on `port`.
fn oxssh_at(client: &ClientDir, port: u16) -> Ssh {
    Ssh::program(OXSSH, client, port, TEST_USER)
}

#[test]
fn stalled_server_is_given_up_on_after_connect_timeout() {
    // Accepts and says nothing; or sends its identification and then nothing.
    let silent = fake_server(|stream| {
        thread::sleep(Duration::from_secs(30));
        drop(stream);
    });
    let ident_only = fake_server(|mut stream| {
        let _ = stream.write_all(b"SSH-2.0-Stalling_1.0\r\n");
        thread::sleep(Duration::from_secs(30));
    });
    let client = ClientDir::new();
    let outs = in_parallel(vec![silent, ident_only], 2, |port| {
        oxssh_at(&client, port)
            .option("ConnectTimeout=2")
            .run("true", b"")
    });
    for out in outs {
        assert_eq!(out.code(), Some(255), "{}", out.stderr);
        assert!(
            out.elapsed >= Duration::from_secs(2) && out.elapsed < Duration::from_secs(6),
            "took {:?}",
            out.elapsed
        );
        // OpenSSH's two lines.
        assert!(
            out.stderr
                .contains("Connection timed out during banner exchange"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("port") && out.stderr.contains(" timed out"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn garbage_from_the_server_fails_cleanly() {
    let client = ClientDir::new();
    // Endless binary noise instead of an identification line.
    let noise = fake_server(|mut stream| {
        let chunk: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
        while stream.write_all(&chunk).is_ok() {}
    });
    // A valid identification, then a packet claiming to be 4 GB long.
    let huge = fake_server(|mut stream| {
        let _ = stream.write_all(b"SSH-2.0-Fake_1.0\r\n\xff\xff\xff\xf0\x00\x00\x00\x00");
        thread::sleep(Duration::from_secs(30));
    });
    for port in [noise, huge] {
        let out = oxssh_at(&client, port).run("true", b"");
        assert_eq!(out.code(), Some(255), "port {port}: {}", out.stderr);
        assert!(
            out.elapsed < Duration::from_secs(10),
            "took {:?}",
            out.elapsed
        );
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn server_alive_interval_detects_a_dead_server() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let stall = Arc::new(Stall::default());
    let relay = stalling_relay(f.peer.port(), stall.clone());
    let mut child = spawn_quiet(
        &mut Ssh::program(OXSSH, &f.client, relay, TEST_USER)
            .identity(&f.key.path)
            .option("ServerAliveInterval=1")
            .option("ServerAliveCountMax=2")
            .command(Some("echo started; sleep 15")),
    );
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 8];
    let reader = thread::spawn(move || stdout.read_exact(&mut first).map(|()| first));
    wait_until("the remote command to start", CLIENT_TIMEOUT, || {
        reader.is_finished()
    });
    assert_eq!(&reader.join().unwrap().unwrap(), b"started\n");
    stall.up.store(true, Ordering::SeqCst);
    stall.down.store(true, Ordering::SeqCst);
    let stalled_at = Instant::now();
    let mut status = None;
    wait_until("oxssh to notice", Duration::from_secs(15), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let waited = stalled_at.elapsed();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.unwrap().code(), Some(255), "{stderr}");
    assert!(waited < Duration::from_secs(8), "took {waited:?}");
    assert!(
        stderr.contains("Timeout, server 127.0.0.1 not responding."),
        "{stderr}"
    );
}

#[test]
fn refused_connection_is_reported_as_openssh_does() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = ClientDir::new();
    let attempt = |program: &str| {
        Ssh::program(program, &client, port, TEST_USER)
            .option("ConnectionAttempts=2")
            .run("true", b"")
    };
    let ours = attempt(OXSSH);
    let theirs = attempt("ssh");
    assert_eq!(ours.code(), Some(255));
    assert_eq!(ours.stderr, text(&theirs.stderr));
    assert_eq!(
        ours.stderr,
        format!("ssh: connect to host 127.0.0.1 port {port}: Connection refused\n")
    );
}

#[test]
fn session_end_does_not_wait_for_a_server_that_stopped_reading() {
    let Some(f) = Fixture::start(sshd_opts(&[])) else {
        return;
    };
    let stall = Arc::new(Stall::default());
    let relay = stalling_relay(f.peer.port(), stall.clone());
    let mut child = spawn_quiet(
        &mut Ssh::program(OXSSH, &f.client, relay, TEST_USER)
            .identity(&f.key.path)
            .command(Some("echo started; sleep 0.5; echo done; exit 6")),
    );
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 8];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"started\n");
    // From now on the server sees nothing we send (not our channel close, not our
    // disconnect), yet it tells us everything: output, exit status, close.
    stall.up.store(true, Ordering::SeqCst);
    let mut status = None;
    wait_until("oxssh to exit", Duration::from_secs(10), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "done\n");
    assert_eq!(status.unwrap().code(), Some(6));
}
