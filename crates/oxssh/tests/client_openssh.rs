//! The async client against OpenSSH's `sshd -i` (spawned with tokio pipes): host-key
//! verification, public-key login, exec with stdout/stderr/exit status, and a large
//! echo through `cat` with reads and writes running concurrently.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../oxssh-proto/tests/sshd/mod.rs"]
mod sshd;

use std::process::Stdio;
use std::sync::Arc;

use oxssh::{
    AcceptAnyHostKey, AuthResult, Client, ClientConfig, Error, ExitStatus, HostKeyVerifier,
};
use oxssh_keys::PublicKey;
use oxssh_proto::crypto::SigningKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Login {
    client: Client,
    _child: tokio::process::Child,
    _setup: sshd::SshdSetup,
}

async fn connect(
    verifier: Arc<dyn HostKeyVerifier>,
) -> (
    Result<Client, Error>,
    Box<dyn SigningKey>,
    tokio::process::Child,
    sshd::SshdSetup,
) {
    let key = oxssh_crypto::generate_signing_key(oxssh_crypto::KeyKind::Ed25519).unwrap();
    let setup = sshd::prepare("", Some(&key.public_key().to_openssh().unwrap()));
    let mut child = tokio::process::Command::from(setup.command())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let reader = child.stdout.take().unwrap();
    let writer = child.stdin.take().unwrap();
    let config = ClientConfig::new(&sshd::test_user(), verifier);
    let client = tokio::time::timeout(
        sshd::WAIT,
        Client::handshake(reader, writer, "localhost", 22, config),
    )
    .await
    .expect("handshake timed out");
    (client, key, child, setup)
}

async fn login() -> Login {
    let (client, key, child, setup) = connect(Arc::new(AcceptAnyHostKey)).await;
    let client = client.unwrap();
    match client.auth_none().await.unwrap() {
        AuthResult::Failure { methods, .. } => assert!(methods.contains(&"publickey".into())),
        AuthResult::Success => panic!("none must not succeed"),
    }
    assert_eq!(
        client.auth_publickey(key.as_ref()).await.unwrap(),
        AuthResult::Success
    );
    Login {
        client,
        _child: child,
        _setup: setup,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_gives_stdout_stderr_and_exit_status() {
    if !sshd::have_sshd() {
        return;
    }
    let login = login().await;
    let mut channel = login.client.open_session().await.unwrap();
    channel
        .exec("echo hello; echo oops >&2; exit 5")
        .await
        .unwrap();
    let mut stderr = channel.stderr();
    let mut out = String::new();
    let mut err = String::new();
    channel.read_to_string(&mut out).await.unwrap();
    stderr.read_to_string(&mut err).await.unwrap();
    assert_eq!(out, "hello\n");
    assert_eq!(err, "oops\n");
    assert_eq!(channel.wait().await.unwrap(), ExitStatus::Code(5));
    login.client.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cat_echoes_eight_megabytes_with_concurrent_reads_and_writes() {
    if !sshd::have_sshd() {
        return;
    }
    let login = login().await;
    let channel = login.client.open_session().await.unwrap();
    channel.exec("cat").await.unwrap();
    let data: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let (mut rd, mut wr) = tokio::io::split(channel);
    let expected = data.clone();
    let writer = tokio::spawn(async move {
        wr.write_all(&data).await.unwrap();
        wr.shutdown().await.unwrap();
    });
    let mut echoed = Vec::new();
    rd.read_to_end(&mut echoed).await.unwrap();
    writer.await.unwrap();
    assert_eq!(echoed.len(), expected.len());
    assert!(echoed == expected, "echo differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_written_in_place_arrives_in_order_within_the_window() {
    if !sshd::have_sshd() {
        return;
    }
    let login = login().await;
    let mut channel = login.client.open_session().await.unwrap();
    channel.exec("cat").await.unwrap();
    let mut writer = channel.writer();
    // More than OpenSSH's 2 MiB session window: the writes wait for window adjusts.
    let data: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    let sender = tokio::spawn(async move {
        // `min` above the peer's packet size (32 KiB for OpenSSH) is refused.
        let err = writer.write_with(1 << 20, 1 << 20, |_| Ok(1)).await;
        assert_eq!(err.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
        let mut at = 0;
        let mut packets = 0;
        while at < data.len() {
            let n = writer
                .write_with(1, 100_000, |room| {
                    assert!(
                        room.len() <= 32 * 1024,
                        "room beyond the peer's packet size"
                    );
                    let n = room.len().min(data.len() - at);
                    room[..n].copy_from_slice(&data[at..at + n]);
                    Ok(n)
                })
                .await
                .unwrap();
            // Nothing written and a failure send nothing.
            assert_eq!(writer.write_with(1, 10, |_| Ok(0)).await.unwrap(), 0);
            let failed = writer.write_with(1, 10, |_| Err(std::io::Error::other("x")));
            assert_eq!(failed.await.unwrap_err().to_string(), "x");
            at += n;
            packets += 1;
        }
        writer.shutdown().await.unwrap();
        packets
    });
    let mut echoed = Vec::new();
    channel.read_to_end(&mut echoed).await.unwrap();
    let packets = sender.await.unwrap();
    assert!(
        packets >= data_len_packets(expected.len()),
        "{packets} packets"
    );
    assert_eq!(echoed.len(), expected.len());
    assert!(echoed == expected, "echo differs");
}

/// Fewest packets of OpenSSH's 32 KiB session packet size for `len` bytes.
fn data_len_packets(len: usize) -> usize {
    len.div_ceil(32 * 1024)
}

struct Refuse;
impl HostKeyVerifier for Refuse {
    fn verify(&self, _host: &str, _port: u16, _key: &PublicKey) -> Result<(), String> {
        Err("not in known_hosts".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_host_key_ends_the_connection_before_authentication() {
    if !sshd::have_sshd() {
        return;
    }
    let (client, _key, _child, _setup) = connect(Arc::new(Refuse)).await;
    match client {
        Err(Error::HostKeyRejected(reason)) => assert_eq!(reason, "not in known_hosts"),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_taken_in_place_keeps_its_order_and_reopens_the_window() {
    if !sshd::have_sshd() {
        return;
    }
    let login = login().await;
    let channel = login.client.open_session().await.unwrap();
    channel.exec("cat").await.unwrap();
    // Four times the default window: the echo stalls unless taking reopens it.
    let data: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    let mut wr = channel.writer();
    let writer = tokio::spawn(async move {
        wr.write_all(&data).await.unwrap();
        wr.shutdown().await.unwrap();
    });
    let mut echoed = Vec::new();
    let mut refusals = 0;
    let mut calls = 0u32;
    let drain = async {
        while channel.readable().await {
            // A sink that is full once in a while: what it refuses stays buffered.
            calls += 1;
            let full = calls % 5 == 0;
            let taken = channel.take_with(|data| {
                if full {
                    return Err(std::io::ErrorKind::WouldBlock.into());
                }
                let n = data.len().min(10_000);
                echoed.extend_from_slice(&data[..n]);
                Ok(n)
            });
            match taken {
                Ok(n) => assert!(n > 0, "readable, yet nothing to take"),
                Err(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
                    refusals += 1;
                }
            }
        }
    };
    tokio::time::timeout(sshd::WAIT * 4, drain)
        .await
        .expect("the echo stalled: the window was not reopened");
    writer.await.unwrap();
    assert!(refusals > 0);
    assert_eq!(echoed.len(), expected.len());
    assert!(echoed == expected, "echo differs");
    // Nothing is left to take after the end.
    assert_eq!(channel.take_with(|d| Ok(d.len())).unwrap(), 0);
    assert_eq!(channel.wait().await.unwrap(), ExitStatus::Code(0));
    login.client.disconnect().await;
}

// One thread: the driver (which runs the sink) and this task never run at the same
// time, so each piece's place in `order` is the order it was taken in.
#[tokio::test(flavor = "current_thread")]
async fn a_stdout_sink_takes_data_in_order_with_the_rest_read_as_usual() {
    if !sshd::have_sshd() {
        return;
    }
    let login = login().await;
    let mut channel = login.client.open_session().await.unwrap();
    channel.exec("cat").await.unwrap();
    let data: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 241) as u8).collect();
    let expected = data.clone();
    // The sink takes at most 7,000 bytes of each packet and nothing every fourth time;
    // what it leaves must come through `read`, with the order of the whole kept.
    let taken = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(usize, Vec<u8>)>::new()));
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let order = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let (taken, calls, order) = (taken.clone(), calls.clone(), order.clone());
        channel.set_stdout_sink(Box::new(move |bytes: &[u8]| {
            if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 4 == 3 {
                return 0;
            }
            let n = bytes.len().min(7_000);
            let at = order.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
            taken.lock().unwrap().push((at, bytes[..n].to_vec()));
            n
        }));
    }
    let mut wr = channel.writer();
    let writer = tokio::spawn(async move {
        wr.write_all(&data).await.unwrap();
        wr.shutdown().await.unwrap();
    });
    let mut read = Vec::new();
    let mut buf = vec![0u8; 100_000];
    let drain = async {
        loop {
            let n = channel.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            let at = order.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
            read.push((at, buf[..n].to_vec()));
        }
    };
    tokio::time::timeout(sshd::WAIT * 4, drain)
        .await
        .expect("the echo stalled: the sink's share did not reopen the window");
    writer.await.unwrap();
    let mut pieces = std::mem::take(&mut *taken.lock().unwrap());
    assert!(
        !pieces.is_empty() && !read.is_empty(),
        "both paths carry data"
    );
    pieces.extend(read);
    pieces.sort_by_key(|(at, _)| *at);
    let echoed: Vec<u8> = pieces.into_iter().flat_map(|(_, bytes)| bytes).collect();
    assert_eq!(echoed.len(), expected.len());
    assert!(echoed == expected, "echo differs");
    login.client.disconnect().await;
}
