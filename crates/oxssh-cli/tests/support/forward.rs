//! Forwarding test plumbing: an echo service, bulk transfers through a forwarded port
//! with SHA-256 on both sides, a client process whose stderr is watched while it runs,
//! `-L` forwards started and waited for, the scenarios the client and server suites
//! share (a refused channel, many connections past a stalled one), a foreground agent,
//! and SOCKS requests written by hand.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::client::{wait_until, Running, Ssh};
use super::relay::fake_server;

/// A loopback service that sends back everything it receives, then half-closes.
pub fn echo_server() -> u16 {
    fake_server(|mut stream| {
        let Ok(mut back) = stream.try_clone() else {
            return;
        };
        let _ = std::io::copy(&mut stream, &mut back);
        let _ = back.shutdown(Shutdown::Write);
    })
}

/// Hex SHA-256 and length of what passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sum {
    pub len: u64,
    pub sha256: String,
}

fn hex(digest: aws_lc_rs::digest::Digest) -> String {
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `n` random bytes through `stream` (then half-closes) while reading the echo
/// back; returns what was sent and what came back.
pub fn echo_through(stream: TcpStream, n: u64) -> (Sum, Sum) {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = thread::spawn(move || {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        let mut chunk = vec![0u8; 256 * 1024];
        let mut left = n;
        while left > 0 {
            let k = usize::try_from(left.min(chunk.len() as u64)).unwrap();
            aws_lc_rs::rand::fill(&mut chunk[..k]).unwrap();
            if writer.write_all(&chunk[..k]).is_err() {
                break;
            }
            ctx.update(&chunk[..k]);
            left -= k as u64;
        }
        let _ = writer.shutdown(Shutdown::Write);
        Sum {
            len: n - left,
            sha256: hex(ctx.finish()),
        }
    });
    let mut reader = stream;
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut chunk = vec![0u8; 256 * 1024];
    let mut len = 0u64;
    while let Ok(k) = reader.read(&mut chunk) {
        if k == 0 {
            break;
        }
        ctx.update(&chunk[..k]);
        len += k as u64;
    }
    let received = Sum {
        len,
        sha256: hex(ctx.finish()),
    };
    (sender.join().unwrap(), received)
}

/// Connects to 127.0.0.1:`port`.
pub fn connect(port: u16) -> TcpStream {
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap()
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16) {
    wait_until(&format!("port {port}"), Duration::from_secs(20), || {
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
    });
}

/// A client process kept running (`-N`) whose stderr is collected as it comes.
pub struct Background {
    pub process: Running,
    stderr: Arc<Mutex<String>>,
}

impl Background {
    /// Spawns `cmd` with stdin from /dev/null.
    pub fn spawn(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        let pipe = child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Self {
            process: Running(child),
            stderr,
        }
    }

    /// Stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for a stderr line containing `text`; returns that line.
    pub fn wait_for_line(&self, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(line) = self.stderr().lines().find(|l| l.contains(text)) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {text:?} on stderr:\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.process.0.try_wait().unwrap().is_none()
    }
}

/// A SOCKS5 CONNECT to `host`:`port` by name (curl's `socks5h`); returns the stream
/// after a successful reply, or the reply code.
pub fn socks5_connect(proxy: u16, host: &str, port: u16) -> Result<TcpStream, u8> {
    let mut s = connect(proxy);
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(&[5, 1, 0]).unwrap();
    let mut answer = [0u8; 2];
    s.read_exact(&mut answer).unwrap();
    assert_eq!(answer, [5, 0]);
    let mut req = vec![5, 1, 0, 3, u8::try_from(host.len()).unwrap()];
    req.extend_from_slice(host.as_bytes());
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).unwrap();
    let mut reply = [0u8; 10];
    s.read_exact(&mut reply).map_err(|_| 255u8)?;
    if reply[1] == 0 {
        Ok(s)
    } else {
        Err(reply[1])
    }
}

/// A SOCKS4a CONNECT to `host`:`port` by name.
pub fn socks4a_connect(proxy: u16, host: &str, port: u16) -> Result<TcpStream, u8> {
    let mut s = connect(proxy);
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = vec![4, 1];
    req.extend_from_slice(&port.to_be_bytes());
    req.extend_from_slice(&[0, 0, 0, 1]);
    req.extend_from_slice(b"user\0");
    req.extend_from_slice(host.as_bytes());
    req.push(0);
    s.write_all(&req).unwrap();
    let mut reply = [0u8; 8];
    s.read_exact(&mut reply).map_err(|_| 255u8)?;
    if reply[1] == 90 {
        Ok(s)
    } else {
        Err(reply[1])
    }
}

/// A Unix-domain echo service at `path`, connectable by every user (mode 0777).
pub fn unix_echo_server(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let Ok(mut back) = stream.try_clone() else {
                    return;
                };
                let mut stream = stream;
                let _ = std::io::copy(&mut stream, &mut back);
                let _ = back.shutdown(Shutdown::Write);
            });
        }
    });
}

/// [`echo_through`] for a Unix-domain stream.
pub fn unix_echo_through(stream: std::os::unix::net::UnixStream, n: u64) -> (Sum, Sum) {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = thread::spawn(move || {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        let mut chunk = vec![0u8; 64 * 1024];
        let mut left = n;
        while left > 0 {
            let k = usize::try_from(left.min(chunk.len() as u64)).unwrap();
            aws_lc_rs::rand::fill(&mut chunk[..k]).unwrap();
            if writer.write_all(&chunk[..k]).is_err() {
                break;
            }
            ctx.update(&chunk[..k]);
            left -= k as u64;
        }
        let _ = writer.shutdown(Shutdown::Write);
        Sum {
            len: n - left,
            sha256: hex(ctx.finish()),
        }
    });
    let mut reader = stream;
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    while let Ok(k) = reader.read(&mut chunk) {
        if k == 0 {
            break;
        }
        ctx.update(&chunk[..k]);
        len += k as u64;
    }
    (
        sender.join().unwrap(),
        Sum {
            len,
            sha256: hex(ctx.finish()),
        },
    )
}

/// `client -N -L PORT:127.0.0.1:TARGET` for each of `targets` (ports chosen here), once
/// every forward accepts connections; the client and the forwards' ports.
pub fn local_forwards(client: Ssh, targets: &[u16]) -> (Background, Vec<u16>) {
    let ports: Vec<u16> = targets.iter().map(|_| super::free_port()).collect();
    let mut args = vec!["-N".to_owned()];
    for (port, target) in ports.iter().zip(targets) {
        args.push("-L".into());
        args.push(format!("{port}:127.0.0.1:{target}"));
    }
    let client = Background::spawn(&mut client.args(args).command(None));
    for port in &ports {
        wait_for_port(*port);
    }
    (client, ports)
}

/// A connection to a forward whose channel the server refuses: closed with no data.
pub fn assert_closed_without_data(port: u16, what: &str) {
    let mut s = connect(port);
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut sink = Vec::new();
    assert_eq!(s.read_to_end(&mut sink).unwrap_or(0), 0, "{what}");
}

/// Issue 8's flow test through the `-L` forward at `port`: one connection sends and
/// never reads (its echo backs up until every window and buffer is full), then
/// `count` connections at once each echo `each` bytes; all must finish, intact.
/// `context` is shown on failure (the client's stderr, the server's log).
pub fn many_connections_finish_past_a_stalled_one(
    port: u16,
    count: usize,
    each: u64,
    context: &dyn Fn() -> String,
) {
    let mut stalled = connect(port);
    stalled
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let chunk = vec![0xa5u8; 64 * 1024];
    let mut pushed = 0usize;
    while stalled.write_all(&chunk).is_ok() && pushed < 256 * 1024 * 1024 {
        pushed += chunk.len();
    }
    assert!(
        pushed < 256 * 1024 * 1024,
        "the stalled forward never filled up"
    );
    let started = Instant::now();
    let workers: Vec<_> = (0..count)
        .map(|_| thread::spawn(move || echo_through(connect(port), each)))
        .collect();
    for (i, worker) in workers.into_iter().enumerate() {
        let (sent, received) = worker.join().unwrap();
        assert_eq!(sent.len, each, "connection {i}: {}", context());
        assert_eq!(sent, received, "connection {i}: {}", context());
    }
    eprintln!(
        "{count} connections of {each} bytes past a stalled one: {:?}",
        started.elapsed()
    );
    // Still stalled, not lost: it was only waiting for its reader.
    drop(stalled);
}
