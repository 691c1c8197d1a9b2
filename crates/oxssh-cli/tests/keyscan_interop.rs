//! `oxssh-keyscan` against real servers: for every key exchange OpenSSH 9.2 offers and
//! every host key type, it prints exactly what OpenSSH's `ssh-keyscan` prints for the same
//! server (stdout lines, `#` comment lines, exit status); the same against Dropbear;
//! `-H` output verifies; a man in the middle who corrupts the host key signature gets
//! no key printed; a silent server is given up on after `-T`.
//!
//! Scanners print in completion order, so lines are compared as sorted lists.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use support::{
    free_port, require_peer, run, start_dropbear, start_sshd, HostKey, Output, Peer, SshdOptions,
    RUN_TIMEOUT,
};

const OXSSH_KEYSCAN: &str = env!("CARGO_BIN_EXE_oxssh-keyscan");
/// Every key type oxssh-keyscan fetches, in one `-t`.
const ALL_TYPES: &str = "rsa,ecdsa,ed25519";

/// Whether every program a test needs is installed (see `require_peer`).
fn peers_available(programs: &[&str]) -> bool {
    programs.iter().all(|program| require_peer(program))
}

/// Runs a scanner with `args` then `-p port host`.
fn scan_with(program: &str, args: &[&str], port: u16, host: &str) -> Output {
    let port = port.to_string();
    run(
        Command::new(program).args(args).args(["-p", &port, host]),
        b"",
        RUN_TIMEOUT,
    )
}

/// Asserts oxssh-keyscan prints what ssh-keyscan prints for `peer` with `args`, and that
/// ssh-keyscan found something (so an empty-equals-empty pass is impossible).
fn assert_same_as_ssh_keyscan(peer: &Peer, args: &[&str]) {
    let theirs = scan_with("ssh-keyscan", args, peer.port(), "127.0.0.1");
    let ours = scan_with(OXSSH_KEYSCAN, args, peer.port(), "127.0.0.1");
    assert!(
        !theirs.stdout.is_empty(),
        "ssh-keyscan {args:?} found no key\nits stderr:\n{}\npeer log:\n{}",
        theirs.stderr,
        peer.log()
    );
    let context = format!(
        "args {args:?}\nours stderr:\n{}\ntheirs stderr:\n{}\npeer log:\n{}",
        ours.stderr,
        theirs.stderr,
        peer.log()
    );
    assert_eq!(
        ours.sorted_stdout(),
        theirs.sorted_stdout(),
        "stdout\n{context}"
    );
    assert_eq!(
        ours.sorted_comments(),
        theirs.sorted_comments(),
        "comments\n{context}"
    );
    assert_eq!(ours.code(), theirs.code(), "exit status\n{context}");
}

/// One sshd that only offers `kex`; both scanners fetch every key type from it.
fn same_keys_as_ssh_keyscan_with_kex(kex: &str) {
    if !peers_available(&["sshd", "ssh-keygen", "ssh-keyscan"]) {
        return;
    }
    let sshd = start_sshd(&SshdOptions::with_kex(kex));
    assert_same_as_ssh_keyscan(&sshd, &["-t", ALL_TYPES]);
}

macro_rules! kex_interop {
    ($($test:ident => $kex:expr;)*) => {$(
        #[test]
        fn $test() {
            same_keys_as_ssh_keyscan_with_kex($kex);
        }
    )*};
}

kex_interop! {
    same_keys_as_ssh_keyscan_over_curve25519_sha256 => "curve25519-sha256";
    same_keys_as_ssh_keyscan_over_curve25519_sha256_libssh => "curve25519-sha256@libssh.org";
    same_keys_as_ssh_keyscan_over_sntrup761x25519_sha512 => "sntrup761x25519-sha512@openssh.com";
    same_keys_as_ssh_keyscan_over_ecdh_sha2_nistp256 => "ecdh-sha2-nistp256";
    same_keys_as_ssh_keyscan_over_ecdh_sha2_nistp384 => "ecdh-sha2-nistp384";
    same_keys_as_ssh_keyscan_over_ecdh_sha2_nistp521 => "ecdh-sha2-nistp521";
    same_keys_as_ssh_keyscan_over_dh_group_exchange_sha256 => "diffie-hellman-group-exchange-sha256";
    same_keys_as_ssh_keyscan_over_dh_group16_sha512 => "diffie-hellman-group16-sha512";
    same_keys_as_ssh_keyscan_over_dh_group18_sha512 => "diffie-hellman-group18-sha512";
    same_keys_as_ssh_keyscan_over_dh_group14_sha256 => "diffie-hellman-group14-sha256";
}

#[test]
fn each_key_type_alone_matches_ssh_keyscan() {
    if !peers_available(&["sshd", "ssh-keygen", "ssh-keyscan"]) {
        return;
    }
    let sshd = start_sshd(&SshdOptions::default());
    for key_type in ["rsa", "ecdsa", "ed25519"] {
        assert_same_as_ssh_keyscan(&sshd, &["-t", key_type]);
    }
}

#[test]
fn ecdsa_keys_on_every_curve_match_ssh_keyscan() {
    if !peers_available(&["sshd", "ssh-keygen", "ssh-keyscan"]) {
        return;
    }
    // An sshd holding one ECDSA key offers only that curve's algorithm.
    for curve in [HostKey::EcdsaP256, HostKey::EcdsaP384, HostKey::EcdsaP521] {
        let sshd = start_sshd(&SshdOptions {
            host_keys: vec![curve],
            ..SshdOptions::default()
        });
        assert_same_as_ssh_keyscan(&sshd, &["-t", "ecdsa"]);
    }
}

#[test]
fn rsa_keys_match_ssh_keyscan_with_every_rsa_signature_algorithm() {
    if !peers_available(&["sshd", "ssh-keygen", "ssh-keyscan"]) {
        return;
    }
    // rsa-sha2-512 is what the default runs use; force the other two.
    for algorithm in ["rsa-sha2-256", "ssh-rsa"] {
        let sshd = start_sshd(&SshdOptions {
            host_keys: vec![HostKey::Rsa],
            host_key_algorithms: Some(algorithm.to_owned()),
            ..SshdOptions::default()
        });
        assert_same_as_ssh_keyscan(&sshd, &["-t", "rsa"]);
    }
}

#[test]
fn negotiates_every_cipher_and_mac_with_sshd() {
    if !peers_available(&["sshd", "ssh-keygen", "ssh-keyscan"]) {
        return;
    }
    let ciphers = [
        "chacha20-poly1305@openssh.com",
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-ctr",
        "aes192-ctr",
        "aes256-ctr",
    ];
    let macs = [
        "hmac-sha2-256-etm@openssh.com",
        "hmac-sha2-512-etm@openssh.com",
        "hmac-sha2-256",
        "hmac-sha2-512",
    ];
    let configs = ciphers
        .iter()
        .map(|cipher| (*cipher, None))
        .chain(macs.iter().map(|mac| ("aes128-ctr", Some(*mac))));
    for (cipher, mac) in configs {
        let sshd = start_sshd(&SshdOptions {
            host_keys: vec![HostKey::Ed25519],
            ciphers: Some(cipher.to_owned()),
            macs: mac.map(str::to_owned),
            ..SshdOptions::default()
        });
        assert_same_as_ssh_keyscan(&sshd, &["-t", "ed25519"]);
    }
}

#[test]
fn dropbear_keys_match_ssh_keyscan() {
    if !peers_available(&["dropbear", "dropbearkey", "ssh-keyscan"]) {
        return;
    }
    let dropbear = start_dropbear(&[HostKey::Ed25519, HostKey::EcdsaP256, HostKey::Rsa]);
    assert_same_as_ssh_keyscan(&dropbear, &["-t", ALL_TYPES]);
    for key_type in ["rsa", "ecdsa", "ed25519"] {
        assert_same_as_ssh_keyscan(&dropbear, &["-t", key_type]);
    }
}

#[test]
fn host_lists_aliases_and_stdin_match_ssh_keyscan() {
    if !peers_available(&["sshd", "ssh-keygen", "ssh-keyscan"]) {
        return;
    }
    let sshd = start_sshd(&SshdOptions {
        host_keys: vec![HostKey::Ed25519, HostKey::EcdsaP256],
        ..SshdOptions::default()
    });
    // Only 127.0.0.1 is connected to; the namelists are what the output calls it.
    let list = "# hosts to scan\n\
                127.0.0.1\n\
                \n\
                127.0.0.1 Alias.One,alias-two   # trailing comment\n\
                \t127.0.0.1,127.0.0.1\tThird.Example\n";
    let file = sshd.dir().join("hosts");
    std::fs::write(&file, list).unwrap();
    let file = file.to_str().unwrap();
    let port = sshd.port().to_string();
    let common = ["-t", "ed25519,ecdsa", "-p", &port];
    let cases: [(Vec<&str>, &[u8]); 3] = [
        (vec!["-f", file], b""),
        (vec!["-f", "-", "127.0.0.1 Cli.Name"], list.as_bytes()),
        (
            vec!["127.0.0.1", "127.0.0.1 X.Example,y", "127.0.0.1/32"],
            b"",
        ),
    ];
    for (extra, stdin) in cases {
        let args: Vec<&str> = common.iter().copied().chain(extra).collect();
        let theirs = run(Command::new("ssh-keyscan").args(&args), stdin, RUN_TIMEOUT);
        let ours = run(Command::new(OXSSH_KEYSCAN).args(&args), stdin, RUN_TIMEOUT);
        let context = format!(
            "args {args:?}\nours stderr:\n{}\ntheirs stderr:\n{}",
            ours.stderr, theirs.stderr
        );
        assert!(theirs.stdout.lines().count() >= 4, "{context}");
        assert_eq!(ours.sorted_stdout(), theirs.sorted_stdout(), "{context}");
        assert_eq!(
            ours.sorted_comments(),
            theirs.sorted_comments(),
            "{context}"
        );
        assert_eq!(ours.code(), theirs.code(), "{context}");
    }
}

/// Splits a hashed known_hosts line into (salt, hash, key).
fn split_hashed(line: &str) -> (Vec<u8>, Vec<u8>, String) {
    let (host, key) = line.split_once(' ').expect("host and key");
    let fields: Vec<&str> = host.split('|').collect();
    assert_eq!(fields.len(), 4, "not |1|salt|hash: {host}");
    assert_eq!((fields[0], fields[1]), ("", "1"), "{host}");
    let salt = BASE64.decode(fields[2]).expect("salt is base64");
    let hash = BASE64.decode(fields[3]).expect("hash is base64");
    assert_eq!(salt.len(), 20, "salt length");
    (salt, hash, key.to_owned())
}

fn hmac_sha1(salt: &[u8], name: &str) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, salt);
    hmac::sign(&key, name.as_bytes()).as_ref().to_vec()
}

#[test]
fn hashed_names_verify_and_ssh_keygen_finds_them() {
    if !peers_available(&["sshd", "ssh-keygen", "ssh-keyscan"]) {
        return;
    }
    let sshd = start_sshd(&SshdOptions {
        host_keys: vec![HostKey::Ed25519],
        ..SshdOptions::default()
    });
    let port = sshd.port();
    let plain = scan_with("ssh-keyscan", &["-t", "ed25519"], port, "127.0.0.1");
    let expected_key = plain
        .stdout
        .lines()
        .next()
        .and_then(|line| line.split_once(' '))
        .map(|(_, key)| key.to_owned())
        .expect("ssh-keyscan found the key");

    let ours = scan_with(
        OXSSH_KEYSCAN,
        &["-H", "-t", "ed25519"],
        port,
        "127.0.0.1 Alias.Example,other",
    );
    assert_eq!(ours.code(), Some(0), "stderr:\n{}", ours.stderr);
    let lines: Vec<&str> = ours.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "one hashed line per name:\n{}", ours.stdout);
    let names = [format!("[alias.example]:{port}"), format!("[other]:{port}")];
    for name in &names {
        let matching = lines
            .iter()
            .filter(|line| {
                let (salt, hash, key) = split_hashed(line);
                assert_eq!(key, expected_key);
                hmac_sha1(&salt, name) == hash
            })
            .count();
        assert_eq!(matching, 1, "{name} hashes to exactly one line");
    }

    let known_hosts = sshd.dir().join("known_hosts");
    std::fs::write(&known_hosts, &ours.stdout).unwrap();
    for name in &names {
        let found = run(
            Command::new("ssh-keygen")
                .args(["-F", name, "-f"])
                .arg(&known_hosts),
            b"",
            RUN_TIMEOUT,
        );
        assert_eq!(
            found.code(),
            Some(0),
            "ssh-keygen -F {name}: {}",
            found.stderr
        );
        assert!(found.stdout.contains(&expected_key), "{}", found.stdout);
    }
}

/// SSH message numbers the proxy looks for (RFC 4253 §12, RFC 4419, RFC 5656).
const MSG_NEWKEYS: u8 = 21;
const MSG_KEX_ECDH_REPLY: u8 = 31;
const MSG_KEX_DH_GEX_REPLY: u8 = 33;
/// Plaintext packets are small; a bigger length means the proxy lost the framing.
const MAX_PLAIN_PACKET: usize = 256 * 1024;
/// Idle bound on proxied sockets so no proxy thread outlives its test by long.
const PROXY_IDLE: Duration = Duration::from_secs(30);

/// A TCP proxy to `upstream` that can flip the last byte of the host key signature in
/// the server's key exchange reply (message `reply`: K_S, the server's public value
/// and the signature are three `string`s, an mpint being a string on the wire).
struct MitmProxy {
    port: u16,
    corrupted: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    accept_thread: Option<thread::JoinHandle<()>>,
}

impl MitmProxy {
    fn start(upstream: SocketAddr, reply: u8, corrupt: bool) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let corrupted = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, stopping) = (Arc::clone(&corrupted), Arc::clone(&stop));
        let accept_thread = thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let flag = Arc::clone(&flag);
                        thread::spawn(move || {
                            let _ = proxy_connection(client, upstream, reply, corrupt, &flag);
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => return,
                }
            }
        });
        Self {
            port,
            corrupted,
            stop,
            accept_thread: Some(accept_thread),
        }
    }
}

impl Drop for MitmProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.accept_thread.take() {
            let _ = handle.join();
        }
    }
}

fn proxy_connection(
    client: TcpStream,
    upstream: SocketAddr,
    reply: u8,
    corrupt: bool,
    corrupted: &AtomicBool,
) -> io::Result<()> {
    client.set_nonblocking(false)?;
    let server = TcpStream::connect(upstream)?;
    for stream in [&client, &server] {
        stream.set_read_timeout(Some(PROXY_IDLE))?;
        stream.set_write_timeout(Some(PROXY_IDLE))?;
    }
    let (mut client_in, mut server_out) = (client.try_clone()?, server.try_clone()?);
    let upward = thread::spawn(move || {
        let _ = io::copy(&mut client_in, &mut server_out);
        let _ = server_out.shutdown(Shutdown::Write);
    });
    let result = relay_downward(server, client, reply, corrupt, corrupted);
    let _ = upward.join();
    result
}

/// Server to client: the version line, then plaintext packets (uint32 length, byte
/// padding length, payload, padding; no MAC before NEWKEYS), then raw bytes.
fn relay_downward(
    server: TcpStream,
    mut client: TcpStream,
    reply: u8,
    corrupt: bool,
    corrupted: &AtomicBool,
) -> io::Result<()> {
    let mut reader = BufReader::new(server);
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        client.write_all(&line)?;
        if line.starts_with(b"SSH-") {
            break;
        }
    }
    loop {
        let mut length = [0u8; 4];
        reader.read_exact(&mut length)?;
        let packet_len = u32::from_be_bytes(length) as usize;
        assert!(packet_len <= MAX_PLAIN_PACKET, "lost framing: {packet_len}");
        let mut packet = vec![0u8; packet_len];
        reader.read_exact(&mut packet)?;
        let padding = usize::from(packet[0]);
        let payload = &mut packet[1..packet_len - padding];
        let number = payload[0];
        if corrupt && number == reply {
            flip_signature_last_byte(payload);
            corrupted.store(true, Ordering::SeqCst);
        }
        client.write_all(&length)?;
        client.write_all(&packet)?;
        if number == MSG_NEWKEYS {
            break;
        }
    }
    let _ = io::copy(&mut reader, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    Ok(())
}

/// `payload` = byte number, string K_S, string (Q_S or f), string signature.
fn flip_signature_last_byte(payload: &mut [u8]) {
    let mut offset = 1;
    for _ in 0..2 {
        let len = u32::from_be_bytes(payload[offset..offset + 4].try_into().unwrap()) as usize;
        offset += 4 + len;
    }
    let sig_len = u32::from_be_bytes(payload[offset..offset + 4].try_into().unwrap()) as usize;
    let last = offset + 4 + sig_len - 1;
    assert_eq!(
        last + 1,
        payload.len(),
        "signature is the reply's last field"
    );
    payload[last] ^= 0x01;
}

/// Through a transparent proxy oxssh-keyscan prints the key; through a proxy that
/// corrupts the signature it prints nothing, says why, and exits 1.
fn man_in_the_middle_is_rejected(kex: &str, host_key: HostKey, key_type: &str, reply: u8) {
    if !peers_available(&["sshd", "ssh-keygen", "ssh-keyscan"]) {
        return;
    }
    let sshd = start_sshd(&SshdOptions {
        host_keys: vec![host_key],
        ..SshdOptions::with_kex(kex)
    });
    let direct = scan_with("ssh-keyscan", &["-t", key_type], sshd.port(), "127.0.0.1");
    let key = direct
        .stdout
        .lines()
        .next()
        .and_then(|line| line.split_once(' '))
        .map(|(_, key)| key.to_owned())
        .expect("ssh-keyscan found the key");

    let honest = MitmProxy::start(sshd.addr(), reply, false);
    let ours = scan_with(OXSSH_KEYSCAN, &["-t", key_type], honest.port, "127.0.0.1");
    assert_eq!(
        ours.stdout,
        format!("[127.0.0.1]:{} {key}\n", honest.port),
        "through an honest proxy\nstderr:\n{}\npeer log:\n{}",
        ours.stderr,
        sshd.log()
    );

    let mitm = MitmProxy::start(sshd.addr(), reply, true);
    let attacked = scan_with(OXSSH_KEYSCAN, &["-t", key_type], mitm.port, "127.0.0.1");
    assert!(
        mitm.corrupted.load(Ordering::SeqCst),
        "the proxy never saw message {reply}"
    );
    assert_eq!(
        attacked.stdout, "",
        "a key with a bad signature was printed"
    );
    assert_eq!(attacked.code(), Some(1), "stderr:\n{}", attacked.stderr);
    assert!(
        attacked.stderr.contains("127.0.0.1"),
        "the failure is reported: {:?}",
        attacked.stderr
    );

    // ssh-keyscan prints whatever key the server names before checking the signature,
    // which also shows the corrupting proxy kept the framing intact.
    let unverified = scan_with("ssh-keyscan", &["-t", key_type], mitm.port, "127.0.0.1");
    assert!(unverified.stdout.contains(&key), "{}", unverified.stderr);
}

#[test]
fn man_in_the_middle_ecdh_reply_signature_is_rejected() {
    man_in_the_middle_is_rejected(
        "curve25519-sha256",
        HostKey::Ed25519,
        "ed25519",
        MSG_KEX_ECDH_REPLY,
    );
}

#[test]
fn man_in_the_middle_dh_reply_signature_is_rejected() {
    man_in_the_middle_is_rejected(
        "diffie-hellman-group14-sha256",
        HostKey::Rsa,
        "rsa",
        MSG_KEX_ECDH_REPLY,
    );
}

#[test]
fn man_in_the_middle_gex_reply_signature_is_rejected() {
    man_in_the_middle_is_rejected(
        "diffie-hellman-group-exchange-sha256",
        HostKey::EcdsaP256,
        "ecdsa",
        MSG_KEX_DH_GEX_REPLY,
    );
}

/// Accepts connections and never sends a byte; records how long each client kept its
/// connection open (which measures the scanner's timeout, not process start-up).
struct SilentServer {
    port: u16,
    lifetimes: Arc<Mutex<Vec<Duration>>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl SilentServer {
    fn start() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let lifetimes = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (record, stopping) = (Arc::clone(&lifetimes), Arc::clone(&stop));
        let thread = thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let record = Arc::clone(&record);
                        thread::spawn(move || hold_until_closed(stream, &record));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => return,
                }
            }
        });
        Self {
            port,
            lifetimes,
            stop,
            thread: Some(thread),
        }
    }

    /// The lifetimes of the first `count` connections, once all have been closed.
    fn lifetimes(&self, count: usize) -> Vec<Duration> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let done = self.lifetimes.lock().unwrap().clone();
            if done.len() >= count || Instant::now() > deadline {
                return done;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Reads (and discards) until the client closes, then records how long that took.
fn hold_until_closed(mut stream: TcpStream, record: &Mutex<Vec<Duration>>) {
    let opened = Instant::now();
    let _ = stream.set_read_timeout(Some(PROXY_IDLE));
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    record.lock().unwrap().push(opened.elapsed());
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn gives_up_on_a_silent_server_after_the_timeout() {
    if !peers_available(&["ssh-keyscan"]) {
        return;
    }
    let silent = SilentServer::start();
    let args = ["-T", "1", "-t", "ed25519"];
    let ours = scan_with(OXSSH_KEYSCAN, &args, silent.port, "127.0.0.1");
    assert_eq!(ours.stdout, "");
    assert_eq!(ours.code(), Some(1), "stderr:\n{}", ours.stderr);
    let lifetimes = silent.lifetimes(1);
    assert_eq!(lifetimes.len(), 1, "one connection, closed by the scanner");
    let held = lifetimes[0];
    assert!(
        held >= Duration::from_millis(900) && held < Duration::from_secs(4),
        "-T 1 honoured: the connection was held {held:?}"
    );
    let theirs = scan_with("ssh-keyscan", &args, silent.port, "127.0.0.1");
    assert_eq!(
        ours.code(),
        theirs.code(),
        "same exit status as ssh-keyscan"
    );
}

#[test]
fn closed_port_prints_nothing_and_exits_1() {
    if !peers_available(&["ssh-keyscan"]) {
        return;
    }
    let port = free_port();
    let ours = scan_with(OXSSH_KEYSCAN, &["-t", "ed25519"], port, "127.0.0.1");
    let theirs = scan_with("ssh-keyscan", &["-t", "ed25519"], port, "127.0.0.1");
    assert_eq!(ours.stdout, "");
    assert_eq!(ours.code(), theirs.code());
    assert_eq!(ours.code(), Some(1));
}

#[test]
fn usage_errors_exit_like_ssh_keyscan() {
    if !peers_available(&["ssh-keyscan"]) {
        return;
    }
    let cases: [&[&str]; 6] = [
        &[],
        &["-t", "foo", "127.0.0.1"],
        &["-p", "0", "127.0.0.1"],
        &["-T", "0", "127.0.0.1"],
        &["-x", "127.0.0.1"],
        &["-vvvv", "127.0.0.1"],
    ];
    for args in cases {
        let ours = run(Command::new(OXSSH_KEYSCAN).args(args), b"", RUN_TIMEOUT);
        let theirs = run(Command::new("ssh-keyscan").args(args), b"", RUN_TIMEOUT);
        assert_eq!(ours.code(), theirs.code(), "{args:?}: {}", ours.stderr);
        assert_eq!(ours.stdout, "", "{args:?}");
        assert!(!ours.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn refuses_unsupported_flags_and_key_types() {
    for (args, says) in [
        (&["-t", "dsa", "127.0.0.1"][..], "DSA"),
        (&["-t", "ed25519-sk", "127.0.0.1"][..], "not supported"),
        (&["-D", "127.0.0.1"][..], "not supported"),
    ] {
        let out = run(Command::new(OXSSH_KEYSCAN).args(args), b"", RUN_TIMEOUT);
        assert_eq!(out.code(), Some(255), "{args:?}");
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "");
    }
}
