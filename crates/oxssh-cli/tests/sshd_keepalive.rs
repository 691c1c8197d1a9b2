//! `oxsshd`'s `ClientAliveInterval`/`ClientAliveCountMax`: a client that stops answering
//! mid-session (a relay swallows everything it sends, as a dead network would) is
//! probed and then disconnected with sshd's log line, while the session's command is
//! hung up; the server goes on serving.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::client::{assert_exit, spawn_quiet, wait_until, Ssh, CLIENT_TIMEOUT};
use support::openssh::{sshd_opts, Fixture};
use support::relay::{stalling_relay, Stall};
use support::users::TEST_USER;

#[test]
fn client_alive_interval_disconnects_a_silent_client() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[
        "ClientAliveInterval 1",
        "ClientAliveCountMax 2",
    ])) else {
        return;
    };
    let stall = Arc::new(Stall::default());
    let relay = stalling_relay(f.peer.port(), stall.clone());
    let mut child = spawn_quiet(
        &mut Ssh::program("ssh", &f.client, relay, TEST_USER)
            .identity(&f.key.path)
            .option("ServerAliveInterval=0")
            .command(Some("echo started; sleep 30")),
    );
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 8];
    let reader = thread::spawn(move || stdout.read_exact(&mut first).map(|()| first));
    wait_until("the remote command to start", CLIENT_TIMEOUT, || {
        reader.is_finished()
    });
    assert_eq!(&reader.join().unwrap().unwrap(), b"started\n");
    // The client goes silent: its answers to the server's probes never arrive.
    stall.up.store(true, Ordering::SeqCst);
    let stalled_at = Instant::now();
    wait_until(
        "oxsshd to give up on the client",
        Duration::from_secs(15),
        || {
            f.peer
                .log()
                .contains("Timeout, client not responding from user oxssh-test")
        },
    );
    let waited = stalled_at.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(8),
        "gave up after {waited:?}\n{}",
        f.peer.log()
    );
    let _ = child.kill();
    let _ = child.wait();
    // The server still serves others.
    let out = f.openssh().run("echo still here", b"");
    assert_exit(&out, 0, &f.peer);
    assert_eq!(out.stdout, "still here\n");
}
