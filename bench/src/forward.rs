//! The `forward` section: throughput of one `-L` forward (iperf-style: a sink or source
//! in this process behind the tunnel, bytes pushed through it one way), ssh→sshd and
//! oxssh→oxsshd interleaved; and the latency of `true` run through a ControlMaster
//! slave (each client as the slave of a master of its own kind), next to a fresh
//! connection's, for every client/server pair.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::measure::ClientProg;
use crate::servers::{Impl, Server};
use crate::stats::{summarize, Summary};
use crate::{Res, BULK_KEX, PAIRS};

/// The cipher both pairs use for the tunnel.
pub const CIPHER: &str = "aes128-gcm@openssh.com";
/// How long a forward or a master may take to come up, and a transfer to finish.
const START_LIMIT: Duration = Duration::from_secs(30);
const TRANSFER_LIMIT: Duration = Duration::from_secs(600);
const CHUNK: usize = 256 * 1024;

/// Direction through the tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// From the forward's local end to the target behind the server.
    Up,
    /// From the target back to the local end.
    Down,
}

const DIRS: [Dir; 2] = [Dir::Up, Dir::Down];
/// The pairs whose throughput is compared: ssh→sshd and oxssh→oxsshd.
const THROUGHPUT_PAIRS: [usize; 2] = [0, 3];

/// Everything the section measured.
#[derive(Debug, Default)]
pub struct ForwardResults {
    pub size_mib: u64,
    pub runs: usize,
    /// (direction, pair) -> MB/s per round.
    rates: Vec<((usize, usize), Vec<f64>)>,
    /// pair -> `true` through a slave, ms.
    shared_ms: Vec<(usize, Vec<f64>)>,
    /// pair -> `true` on a fresh connection, ms.
    fresh_ms: Vec<(usize, Vec<f64>)>,
    pub notes: Vec<String>,
}

fn push<K: PartialEq>(list: &mut Vec<(K, Vec<f64>)>, key: K, value: f64) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, v)) => v.push(value),
        None => list.push((key, vec![value])),
    }
}

fn get<K: PartialEq>(list: &[(K, Vec<f64>)], key: K) -> Option<Summary> {
    list.iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| summarize(v))
}

/// A spawned client, killed and reaped when dropped.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn quiet(cmd: &mut Command) -> Res<Spawned> {
    Ok(Spawned(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    ))
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) -> Res<()> {
    let deadline = Instant::now() + START_LIMIT;
    while !ready() {
        if Instant::now() > deadline {
            return Err(format!("{what}: not ready after {START_LIMIT:?}").into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// The target behind the tunnel: takes one connection and sinks (`Up`) or sends
/// (`Down`) `size` bytes; reports when the last byte was received or sent.
fn target(dir: Dir, size: u64) -> Res<(u16, mpsc::Receiver<Res<Instant>>)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let port = listener.local_addr()?.port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = (|| -> Res<Instant> {
            let (mut stream, _) = listener.accept()?;
            stream.set_read_timeout(Some(TRANSFER_LIMIT))?;
            match dir {
                Dir::Up => sink(&mut stream, size),
                Dir::Down => {
                    source(&mut stream, size)?;
                    Ok(Instant::now())
                }
            }
        })();
        let _ = tx.send(result);
    });
    Ok((port, rx))
}

fn sink(stream: &mut TcpStream, size: u64) -> Res<Instant> {
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    while got < size {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(format!("tunnel closed after {got} of {size} bytes").into());
        }
        got += n as u64;
    }
    Ok(Instant::now())
}

fn source(stream: &mut TcpStream, size: u64) -> Res<()> {
    let buf = vec![0u8; CHUNK];
    let mut left = size;
    while left > 0 {
        let n = usize::try_from(left.min(CHUNK as u64))?;
        stream.write_all(buf.get(..n).unwrap_or_default())?;
        left -= n as u64;
    }
    stream.shutdown(Shutdown::Write)?;
    Ok(())
}

fn free_port() -> Res<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// One transfer of `size` bytes through a fresh `-L` forward; MB/s.
fn through_forward(client: &ClientProg, server: &Server, dir: Dir, size: u64) -> Res<f64> {
    let (target_port, done) = target(dir, size)?;
    let entry = free_port()?;
    let spec = format!("127.0.0.1:{entry}:127.0.0.1:{target_port}");
    let kex = format!("KexAlgorithms={BULK_KEX}");
    let extra = [
        "-N",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        &kex,
        "-c",
        CIPHER,
        "-L",
        &spec,
    ];
    let _client = quiet(&mut client.no_command(server.port, &extra))?;
    // The forward listens once the client has logged in.
    let mut stream = None;
    wait_until("the forward", || {
        stream = TcpStream::connect((Ipv4Addr::LOCALHOST, entry)).ok();
        stream.is_some()
    })?;
    let mut stream = stream.ok_or("no forward")?;
    stream.set_read_timeout(Some(TRANSFER_LIMIT))?;
    let started = Instant::now();
    let finished = match dir {
        Dir::Up => {
            source(&mut stream, size)?;
            done.recv_timeout(TRANSFER_LIMIT)??
        }
        Dir::Down => {
            let at = sink(&mut stream, size)?;
            done.recv_timeout(TRANSFER_LIMIT)??;
            at
        }
    };
    let secs = finished.duration_since(started).as_secs_f64();
    Ok(size as f64 / secs / 1e6)
}

/// A master of `client`'s kind on `server`, listening at `path`.
fn start_master(client: &ClientProg, server: &Server, path: &Path) -> Res<Spawned> {
    let path_arg = path.display().to_string();
    let kex = format!("KexAlgorithms={BULK_KEX}");
    let extra = [
        "-M",
        "-N",
        "-S",
        &path_arg,
        "-o",
        "ControlPersist=no",
        "-o",
        &kex,
    ];
    let master = quiet(&mut client.no_command(server.port, &extra))?;
    wait_until("the master's socket", || path.exists())?;
    Ok(master)
}

/// Wall time of one `CLIENT [extra] host true`, in ms.
fn run_true(client: &ClientProg, server: &Server, extra: &[&str]) -> Res<f64> {
    let started = Instant::now();
    let status = client
        .command(server.port, extra, "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if !status.success() {
        return Err(format!("{} true: {status}", client.name()).into());
    }
    Ok(ms)
}

/// Runs the section: `rounds` transfers of `size_mib` each way per pair, interleaved,
/// then `runs` `true` latencies per pair through a master and fresh, interleaved.
pub fn run(
    clients: [&ClientProg; 2],
    servers: [&Server; 2],
    dir: &Path,
    size_mib: u64,
    rounds: usize,
    runs: usize,
) -> Res<ForwardResults> {
    let client_of = |i: Impl| {
        if i == Impl::OpenSsh {
            clients[0]
        } else {
            clients[1]
        }
    };
    let server_of = |i: Impl| {
        if i == Impl::OpenSsh {
            servers[0]
        } else {
            servers[1]
        }
    };
    let mut r = ForwardResults {
        size_mib,
        runs,
        ..ForwardResults::default()
    };
    let size = size_mib << 20;
    for round in 0..rounds {
        for (di, d) in DIRS.iter().enumerate() {
            for pi in THROUGHPUT_PAIRS {
                let (c, s) = PAIRS.get(pi).copied().ok_or("pair")?;
                let (client, server) = (client_of(c), server_of(s));
                match through_forward(client, server, *d, size) {
                    Ok(rate) => {
                        eprintln!(
                            "forward round {} {d:?} {}->{}: {rate:.0} MB/s",
                            round + 1,
                            client.name(),
                            server.name()
                        );
                        push(&mut r.rates, (di, pi), rate);
                    }
                    Err(e) => r.notes.push(format!(
                        "forward {d:?} {}->{}: {e}",
                        client.name(),
                        server.name()
                    )),
                }
            }
        }
    }
    let mut masters = Vec::new();
    for (pi, (c, s)) in PAIRS.iter().enumerate() {
        let path: PathBuf = dir.join(format!("mux-{pi}"));
        masters.push((
            pi,
            path.clone(),
            start_master(client_of(*c), server_of(*s), &path)?,
        ));
    }
    for _ in 0..runs {
        for (pi, path, _) in &masters {
            let (c, s) = PAIRS.get(*pi).copied().ok_or("pair")?;
            let (client, server) = (client_of(c), server_of(s));
            let path_arg = path.display().to_string();
            match run_true(client, server, &["-S", &path_arg]) {
                Ok(ms) => push(&mut r.shared_ms, *pi, ms),
                Err(e) => r.notes.push(format!("through a master: {e}")),
            }
            let kex = format!("KexAlgorithms={BULK_KEX}");
            match run_true(client, server, &["-o", &kex]) {
                Ok(ms) => push(&mut r.fresh_ms, *pi, ms),
                Err(e) => r.notes.push(format!("fresh connection: {e}")),
            }
        }
    }
    drop(masters);
    eprintln!("oxssh-bench: forward done");
    Ok(r)
}

fn cell(s: Option<Summary>, digits: usize) -> String {
    s.map_or_else(
        || "–".into(),
        |s| format!("{:.d$} ({:.d$}–{:.d$})", s.median, s.min, s.max, d = digits),
    )
}

fn ratio(a: Option<Summary>, b: Option<Summary>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b.median > 0.0 => format!("{:.2}×", a.median / b.median),
        _ => "–".into(),
    }
}

fn pair_name(pi: usize) -> String {
    let name = |i: Impl, server: bool| match (i, server) {
        (Impl::OpenSsh, false) => "ssh",
        (Impl::OpenSsh, true) => "sshd",
        (Impl::Oxssh, false) => "oxssh",
        (Impl::Oxssh, true) => "oxsshd",
    };
    PAIRS
        .get(pi)
        .map(|(c, s)| format!("{}→{}", name(*c, false), name(*s, true)))
        .unwrap_or_default()
}

/// The section's part of the report.
pub fn markdown(r: &ForwardResults) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Forwarding and connection sharing\n\n\
         Throughput of one `-L` forward: {} MiB pushed through a fresh `CLIENT -N -L` \
         (`-c {CIPHER}`, `KexAlgorithms {BULK_KEX}`) to a sink (up) or from a source \
         (down) in the benchmark process, timed from the first byte to the last; MB/s, \
         median (min–max) over the rounds, the pairs interleaved.\n",
        r.size_mib
    );
    let _ = writeln!(
        out,
        "| direction | ssh→sshd | oxssh→oxsshd | oxssh→oxsshd / ssh→sshd |\n|---|---|---|---|"
    );
    for (di, d) in DIRS.iter().enumerate() {
        let a = get(&r.rates, (di, 0));
        let b = get(&r.rates, (di, 3));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            if *d == Dir::Up { "up" } else { "down" },
            cell(a, 0),
            cell(b, 0),
            ratio(b, a)
        );
    }
    let _ = writeln!(
        out,
        "\n`CLIENT host true`, wall time in ms, median (min–max) of {} runs per pair, \
         interleaved: as the slave of a running master of the client's own kind \
         (`-M -N -S`), and on a fresh connection.\n",
        r.runs
    );
    let _ = writeln!(
        out,
        "| client→server | through a master | fresh connection |\n|---|---|---|"
    );
    for pi in 0..PAIRS.len() {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            pair_name(pi),
            cell(get(&r.shared_ms, pi), 1),
            cell(get(&r.fresh_ms, pi), 1)
        );
    }
    let _ = writeln!(
        out,
        "\nThrough a master, oxssh (slave of oxssh) / ssh (slave of ssh): {}.\n",
        ratio(get(&r.shared_ms, 3), get(&r.shared_ms, 0))
    );
    for n in &r.notes {
        let _ = writeln!(out, "- {n}");
    }
    out
}
