//! `oxssh -R [bind:]port` with no target (OpenSSH 7.6+'s remote dynamic forward): the
//! server listens, and each connection comes back as a `forwarded-tcpip` channel whose
//! far end speaks SOCKS4/4a/5 to us; we connect from here. curl fetches 50 MB with
//! `socks5h` and `socks4a` through the remote port of OpenSSH's sshd and of oxsshd,
//! checked by SHA-256; `RemoteForward` with one argument and the port-0 message match
//! OpenSSH's `ssh`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::{Read, Write};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use support::forward::{wait_for_port, Background};
use support::free_port;
use support::openssh::{sshd_opts, Fixture};

/// Bytes fetched per transfer.
const BULK: usize = 50 * 1024 * 1024;

/// 50 MB of random bytes and their SHA-256 (hex), made once.
fn payload() -> &'static (Arc<Vec<u8>>, String) {
    static DATA: OnceLock<(Arc<Vec<u8>>, String)> = OnceLock::new();
    DATA.get_or_init(|| {
        let mut data = vec![0u8; BULK];
        aws_lc_rs::rand::fill(&mut data).unwrap();
        let sum = sha256(&data);
        (Arc::new(data), sum)
    })
}

fn sha256(data: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// An HTTP/1.0 server answering every request with [`payload`].
fn http_server() -> u16 {
    let data = payload().0.clone();
    support::relay::fake_server(move |mut s| {
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let head = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", data.len());
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(&data);
    })
}

/// curl through the SOCKS proxy at `port` with `scheme`; the SHA-256 of what it got.
fn fetch(scheme: &str, port: u16, http: u16) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("body");
    let out = support::run(
        Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "60",
                "-x",
                &format!("{scheme}://127.0.0.1:{port}"),
                &format!("http://localhost:{http}/"),
                "-o",
            ])
            .arg(&out_file),
        b"",
        Duration::from_secs(90),
    );
    if !out.status.success() {
        return Err(out.stderr);
    }
    Ok(sha256(&std::fs::read(&out_file).unwrap()))
}

fn openssh_sshd() -> Option<Fixture> {
    let f = Fixture::start(sshd_opts(&[]))?;
    f.trust_host();
    Some(f)
}

fn oxsshd() -> Option<Fixture> {
    let f = Fixture::start_oxsshd(sshd_opts(&[]))?;
    f.trust_host();
    Some(f)
}

/// `oxssh -N -R port` against `f`, then curl through the remote port both ways.
fn curl_through(f: &Fixture) {
    let http = http_server();
    let port = free_port();
    let client = Background::spawn(
        &mut f
            .oxssh()
            .args(["-N", "-R", &port.to_string()])
            .command(None),
    );
    wait_for_port(port);
    for scheme in ["socks5h", "socks4a"] {
        let got = fetch(scheme, port, http);
        assert_eq!(
            got.as_deref(),
            Ok(payload().1.as_str()),
            "{scheme}: oxssh: {}",
            client.stderr()
        );
    }
}

#[test]
fn curl_fetches_50_mb_through_a_remote_dynamic_forward_on_openssh_sshd() {
    if !support::require_peer("curl") {
        return;
    }
    let Some(f) = openssh_sshd() else { return };
    curl_through(&f);
}

#[test]
fn curl_fetches_50_mb_through_a_remote_dynamic_forward_on_oxsshd() {
    if !support::require_peer("curl") {
        return;
    }
    let Some(f) = oxsshd() else { return };
    curl_through(&f);
}

#[test]
fn remote_forward_keyword_with_one_argument_is_dynamic() {
    let Some(f) = openssh_sshd() else { return };
    let http = http_server();
    let port = free_port();
    let _client = Background::spawn(
        &mut f
            .oxssh()
            .args(["-N", "-o", &format!("RemoteForward {port}")])
            .command(None),
    );
    wait_for_port(port);
    let s = support::forward::socks5_connect(port, "localhost", http).expect("socks5 connect");
    let mut s = s;
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.0 200");
}

#[test]
fn port_0_and_a_closed_target_are_reported_as_openssh_does() {
    let Some(f) = openssh_sshd() else { return };
    let ours = Background::spawn(&mut f.oxssh().args(["-N", "-R", "0"]).command(None));
    let theirs = Background::spawn(&mut f.openssh().args(["-N", "-R", "0"]).command(None));
    let limit = Duration::from_secs(20);
    let allocated = |line: String| {
        // "Allocated port N for remote forward to socks:0" without the port number.
        let mut words: Vec<String> = line.split(' ').map(str::to_owned).collect();
        let port: u16 = words[2].parse().unwrap();
        words[2] = "N".into();
        (words.join(" "), port)
    };
    let (our_line, our_port) = allocated(ours.wait_for_line("Allocated port", limit));
    let (their_line, _) = allocated(theirs.wait_for_line("Allocated port", limit));
    assert_eq!(our_line, their_line);
    // A SOCKS request to a closed port fails alone; the forward keeps working.
    let closed = free_port();
    assert!(support::forward::socks5_connect(our_port, "127.0.0.1", closed).is_err());
    let http = http_server();
    assert!(support::forward::socks4a_connect(our_port, "localhost", http).is_ok());
}
