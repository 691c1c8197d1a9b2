//! oxssh-bench: OpenSSH and oxssh side by side on loopback, in one run, interleaved.
//! See the README's "Benchmarks" section.

mod forward;
mod holder;
mod jump;
mod measure;
mod procfs;
mod report;
mod servers;
mod sftp;
mod stats;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use measure::{ClientProg, Dir, Transfer};
use servers::{Impl, Server};

/// Errors end the run (after the servers are stopped).
pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Ciphers measured: display name and client options.
pub const CIPHERS: [(&str, &[&str]); 4] = [
    (
        "chacha20-poly1305",
        &["-c", "chacha20-poly1305@openssh.com"],
    ),
    ("aes128-gcm", &["-c", "aes128-gcm@openssh.com"]),
    ("aes256-gcm", &["-c", "aes256-gcm@openssh.com"]),
    (
        "aes128-ctr+hmac-sha2-256-etm",
        &["-c", "aes128-ctr", "-m", "hmac-sha2-256-etm@openssh.com"],
    ),
];
/// The key exchange forced for everything but the latency table.
pub const BULK_KEX: &str = "curve25519-sha256";
/// Key exchanges timed; the flag says whether OpenSSH 9.2 has it.
pub const KEXES: [(&str, bool); 3] = [
    ("curve25519-sha256", true),
    ("sntrup761x25519-sha512@openssh.com", true),
    ("mlkem768x25519-sha256", false),
];
/// Client and server of each pair, OpenSSH's pair first and oxssh's last.
pub const PAIRS: [(Impl, Impl); 4] = [
    (Impl::OpenSsh, Impl::OpenSsh),
    (Impl::Oxssh, Impl::OpenSsh),
    (Impl::OpenSsh, Impl::Oxssh),
    (Impl::Oxssh, Impl::Oxssh),
];
pub const CONCURRENCY: [usize; 2] = [8, 32];

/// Command-line settings.
#[derive(Debug, Clone)]
pub struct Opts {
    pub quick: bool,
    pub size_mib: u64,
    pub rounds: usize,
    pub logins: usize,
    pub cps_secs: u64,
    pub sessions: Vec<usize>,
    /// SFTP: the large file's size and the small-file tree's count.
    pub sftp_size_mib: u64,
    pub sftp_files: usize,
    pub bin_dir: PathBuf,
    pub sshd: PathBuf,
    pub ssh: PathBuf,
    pub out: PathBuf,
    pub only: Vec<String>,
}

const USAGE: &str = "usage: oxssh-bench [--quick] [--size MiB] [--rounds N] [--logins N] \
[--cps-secs S] [--sessions N,N] [--sftp-size MiB] [--sftp-files N] \
[--only throughput,latency,cps,sftp,forward,jump,memory] [--bin-dir DIR] [--sshd PATH] [--ssh PATH] [--out DIR]";

fn parse_opts() -> Res<Opts> {
    use lexopt::prelude::*;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut quick = false;
    let mut size = None;
    let mut rounds = None;
    let mut logins = None;
    let mut cps = None;
    let mut sessions = None;
    let mut sftp_size = None;
    let mut sftp_files = None;
    let mut only = Vec::new();
    let mut bin_dir = root.join("../target/release");
    let mut sshd = PathBuf::from("/usr/sbin/sshd");
    let mut ssh = PathBuf::from("/usr/bin/ssh");
    let mut out = root.join("results");
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("quick") => quick = true,
            Long("size") => size = Some(parser.value()?.parse()?),
            Long("rounds") => rounds = Some(parser.value()?.parse()?),
            Long("logins") => logins = Some(parser.value()?.parse()?),
            Long("cps-secs") => cps = Some(parser.value()?.parse()?),
            Long("sftp-size") => sftp_size = Some(parser.value()?.parse()?),
            Long("sftp-files") => sftp_files = Some(parser.value()?.parse()?),
            Long("sessions") => {
                let v: String = parser.value()?.parse()?;
                let list: Result<Vec<usize>, _> = v.split(',').map(str::parse).collect();
                sessions = Some(list?);
            }
            Long("only") => {
                let v: String = parser.value()?.parse()?;
                only = v.split(',').map(str::to_string).collect();
            }
            Long("bin-dir") => bin_dir = parser.value()?.into(),
            Long("sshd") => sshd = parser.value()?.into(),
            Long("ssh") => ssh = parser.value()?.into(),
            Long("out") => out = parser.value()?.into(),
            Short('h') | Long("help") => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(format!("{}\n{USAGE}", arg.unexpected()).into()),
        }
    }
    Ok(Opts {
        quick,
        size_mib: size.unwrap_or(if quick { 256 } else { 2048 }),
        rounds: rounds.unwrap_or(if quick { 1 } else { 2 }),
        logins: logins.unwrap_or(if quick { 5 } else { 30 }),
        cps_secs: cps.unwrap_or(if quick { 3 } else { 20 }),
        sessions: sessions.unwrap_or(if quick {
            vec![200]
        } else {
            vec![200, 2000, 10_000]
        }),
        sftp_size_mib: sftp_size.unwrap_or(if quick { 128 } else { 2048 }),
        sftp_files: sftp_files.unwrap_or(if quick { 500 } else { 2000 }),
        bin_dir,
        sshd,
        ssh,
        out,
        only,
    })
}

impl Opts {
    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

/// Memory of one server with `sessions` idle sessions.
#[derive(Debug, Clone)]
pub struct MemResult {
    /// Sessions asked for.
    pub requested: usize,
    /// Sessions that authenticated.
    pub sessions: usize,
    pub which: Impl,
    pub base_kb: u64,
    pub total_kb: u64,
    pub procs: usize,
    pub failed: usize,
}

/// Everything measured in one run.
#[derive(Debug, Default)]
pub struct Results {
    /// (cipher, direction 0 up/1 down, pair) -> transfers
    pub transfer: BTreeMap<(usize, usize, usize), Vec<Transfer>>,
    pub transfer_failed: BTreeMap<(usize, usize, usize), usize>,
    /// (kex, pair) -> login ms
    pub latency: BTreeMap<(usize, usize), Vec<f64>>,
    pub latency_failed: BTreeMap<(usize, usize), usize>,
    /// (concurrency, pair) -> (logins/s, failures)
    pub cps: BTreeMap<(usize, usize), (f64, u64)>,
    pub memory: Vec<MemResult>,
    pub sftp: Option<sftp::SftpResults>,
    pub forward: Option<forward::ForwardResults>,
    pub jump: Option<jump::JumpResults>,
    pub notes: Vec<String>,
}

fn note(results: &mut Results, text: String) {
    eprintln!("oxssh-bench: {text}");
    results.notes.push(text);
}

fn main() {
    match run() {
        Ok(()) => {}
        Err(e) => {
            eprintln!("oxssh-bench: {e}");
            std::process::exit(1);
        }
    }
}

fn run() -> Res<()> {
    let opts = parse_opts()?;
    if !procfs::stat("self").is_some_and(|_| is_root()) {
        return Err("run as root: both servers must serve another user".into());
    }
    let oxssh = opts.bin_dir.join("oxssh");
    let oxsshd = opts.bin_dir.join("oxsshd");
    for p in [&oxssh, &oxsshd, &opts.sshd, &opts.ssh] {
        if !p.exists() {
            return Err(format!(
                "{} missing (cargo build --release --bin oxssh --bin oxsshd)",
                p.display()
            )
            .into());
        }
    }
    let max_sessions = opts.sessions.iter().copied().max().unwrap_or(0);
    if let Some(limit) = procfs::open_files_limit() {
        if (limit as usize) < max_sessions + 200 {
            return Err(format!(
                "open files limit {limit} is too low for {max_sessions} sessions: ulimit -n {}",
                max_sessions * 2 + 200
            )
            .into());
        }
    }
    let started = Instant::now();
    let revision = report::revision();
    let load_before = procfs::load1();
    // Declared before the servers, so it outlives them (drop order is reverse).
    let setup = servers::prepare()?;
    let sshd = Server::start(Impl::OpenSsh, &opts.sshd, &setup)?;
    let oxd = Server::start(Impl::Oxssh, &oxsshd, &setup)?;
    let cpu_source = match (&sshd.cpu_group, &oxd.cpu_group) {
        (Some(a), Some(_)) => format!(
            "each server in its own control group ({}, a per-run group), which counts every process it forks, exited or not",
            a.describe()
        ),
        _ => "no control group available: /proc times of the server's process tree (OpenSSH's post-auth \
              processes are reaped by init, so sshd's server CPU is undercounted)"
            .to_string(),
    };
    let ssh_client = ClientProg {
        which: Impl::OpenSsh,
        path: opts.ssh.clone(),
        key: setup.user_key.clone(),
    };
    let ox_client = ClientProg {
        which: Impl::Oxssh,
        path: oxssh.clone(),
        key: setup.user_key.clone(),
    };
    let client_of = |i: Impl| match i {
        Impl::OpenSsh => &ssh_client,
        Impl::Oxssh => &ox_client,
    };
    let server_of = |i: Impl| match i {
        Impl::OpenSsh => &sshd,
        Impl::Oxssh => &oxd,
    };
    eprintln!(
        "oxssh-bench: sshd on 127.0.0.1:{}, oxsshd on 127.0.0.1:{} (MaxStartups {}), load {load_before}",
        sshd.port,
        oxd.port,
        servers::MAX_STARTUPS
    );
    let mut results = Results::default();

    if opts.wants("throughput") {
        let size = opts.size_mib << 20;
        let kex = format!("KexAlgorithms={BULK_KEX}");
        for round in 0..opts.rounds {
            for (ci, (cname, cargs)) in CIPHERS.iter().enumerate() {
                for (di, dir) in [Dir::Up, Dir::Down].into_iter().enumerate() {
                    for (pi, (c, s)) in PAIRS.iter().enumerate() {
                        let mut extra: Vec<&str> = vec!["-o", &kex];
                        extra.extend_from_slice(cargs);
                        let (client, server) = (client_of(*c), server_of(*s));
                        match measure::transfer(client, server, &extra, dir, size) {
                            Ok(t) => {
                                eprintln!(
                                    "round {} {cname} {dir:?} {}->{}: {:.0} MB/s, cpu client {:.2} s server {:.2} s",
                                    round + 1,
                                    client.name(),
                                    server.name(),
                                    size as f64 / t.secs / 1e6,
                                    t.client_cpu,
                                    t.server_cpu
                                );
                                results.transfer.entry((ci, di, pi)).or_default().push(t);
                            }
                            Err(e) => {
                                *results.transfer_failed.entry((ci, di, pi)).or_default() += 1;
                                note(&mut results, format!("{cname} {dir:?}: {e}"));
                            }
                        }
                    }
                }
            }
        }
    }

    if opts.wants("latency") {
        for _ in 0..opts.logins {
            for (ki, (kex, openssh_has)) in KEXES.iter().enumerate() {
                for (pi, (c, s)) in PAIRS.iter().enumerate() {
                    if !openssh_has && (*c == Impl::OpenSsh || *s == Impl::OpenSsh) {
                        continue;
                    }
                    match measure::login(client_of(*c), server_of(*s), kex) {
                        Ok(ms) => results.latency.entry((ki, pi)).or_default().push(ms),
                        Err(e) => {
                            *results.latency_failed.entry((ki, pi)).or_default() += 1;
                            note(&mut results, format!("login: {e}"));
                        }
                    }
                }
            }
        }
        eprintln!("oxssh-bench: latency done");
    }

    if opts.wants("cps") {
        for conc in CONCURRENCY {
            for (pi, (c, s)) in PAIRS.iter().enumerate() {
                let (client, server) = (client_of(*c), server_of(*s));
                let (rate, failed) = measure::logins_per_sec(
                    client,
                    server,
                    BULK_KEX,
                    conc,
                    Duration::from_secs(opts.cps_secs),
                );
                eprintln!(
                    "{conc} concurrent {}->{}: {rate:.1} logins/s ({failed} failed)",
                    client.name(),
                    server.name()
                );
                if failed > 0 {
                    note(
                        &mut results,
                        format!(
                            "{conc} concurrent {}->{}: {failed} logins failed",
                            client.name(),
                            server.name()
                        ),
                    );
                }
                results.cps.insert((conc, pi), (rate, failed));
            }
        }
    }

    if opts.wants("sftp") {
        let clients = sftp::Clients {
            sftp: opts.ssh.with_file_name("sftp"),
            oxsftp: opts.bin_dir.join("oxsftp"),
            key: setup.user_key.clone(),
        };
        for p in [&clients.sftp, &clients.oxsftp] {
            if !p.exists() {
                return Err(format!(
                    "{} missing (cargo build --release --bin oxsftp)",
                    p.display()
                )
                .into());
            }
        }
        results.sftp = Some(sftp::run(
            &clients,
            [&sshd, &oxd],
            setup.dir.path(),
            opts.sftp_size_mib,
            opts.sftp_files,
            opts.rounds,
        )?);
    }

    if opts.wants("forward") {
        let (clients, servers) = ([&ssh_client, &ox_client], [&sshd, &oxd]);
        let dir = setup.dir.path();
        let (size, rounds) = (opts.size_mib, opts.rounds);
        results.forward = Some(forward::run(clients, servers, dir, size, rounds, 30)?);
    }

    if opts.wants("jump") {
        results.jump = Some(jump::run(
            [&ssh_client, &ox_client],
            [&sshd, &oxd],
            setup.dir.path(),
            opts.logins,
        )?);
    }

    // Memory is measured on freshly started servers: a server whose heap already grew
    // during the transfers would hand the sessions memory it holds anyway.
    drop(oxd);
    drop(sshd);
    if opts.wants("memory") {
        let sshd = Server::start(Impl::OpenSsh, &opts.sshd, &setup)?;
        let oxd = Server::start(Impl::Oxssh, &oxsshd, &setup)?;
        memory(&opts, &setup, [&sshd, &oxd], &mut results)?;
    }

    let load_after = procfs::load1();
    drop(setup);
    let info = report::RunInfo {
        opts: opts.clone(),
        load_before,
        load_after,
        cpu_source,
        revision,
        elapsed: started.elapsed(),
        openssh: measure::version(&opts.ssh),
        oxssh: measure::version(&oxssh),
    };
    let mut markdown = report::markdown(&info, &results);
    if let Some(j) = &results.jump {
        markdown.push_str(&jump::markdown(j));
    }
    println!("{markdown}");
    std::fs::create_dir_all(&opts.out)?;
    let stem = format!(
        "{}{}",
        report::today(),
        if opts.quick { "-quick" } else { "" }
    );
    let md_path = opts.out.join(format!("{stem}.md"));
    let png_path = opts.out.join(format!("{stem}-throughput.png"));
    let png_note = if results.transfer.is_empty() {
        String::new()
    } else {
        match report::plot(&png_path, &results, &info) {
            Ok(()) => format!("\n![throughput per cipher]({stem}-throughput.png)\n"),
            Err(e) => {
                eprintln!("oxssh-bench: no plot: {e}");
                String::new()
            }
        }
    };
    std::fs::write(&md_path, format!("{markdown}{png_note}"))?;
    eprintln!("oxssh-bench: wrote {}", md_path.display());
    Ok(())
}

/// Above this many sessions sshd (a process each) is not measured: 10,000 would take
/// about 15 GB.
const SSHD_MAX_SESSIONS: usize = 2000;

/// Idle authenticated sessions: for each count, on each server in turn.
fn memory(
    opts: &Opts,
    setup: &servers::Setup,
    both: [&Server; 2],
    results: &mut Results,
) -> Res<()> {
    let key = holder::load_key(&setup.user_key)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    for &n in &opts.sessions {
        for server in both {
            if server.which == Impl::OpenSsh && n > SSHD_MAX_SESSIONS {
                note(
                    results,
                    format!(
                        "{n} sessions: sshd not measured (a process per session: about {} GB); \
                         its per-session figure at {SSHD_MAX_SESSIONS} stands",
                        n * 3 / 2000
                    ),
                );
                continue;
            }
            let _ = server.wait_idle(Duration::from_secs(30));
            let (base_kb, _) = procfs::server_pss(server.pid, server.comm);
            let (clients, failed, first_error) =
                rt.block_on(holder::open(server.port, n, key.clone()));
            std::thread::sleep(Duration::from_secs(if opts.quick { 1 } else { 3 }));
            let (total_kb, procs) = procfs::server_pss(server.pid, server.comm);
            eprintln!(
                "{n} sessions on {}: {total_kb} kB over {procs} processes (before {base_kb} kB), {failed} failed",
                server.name()
            );
            if failed > 0 {
                note(
                    results,
                    format!(
                        "{n} sessions on {}: {failed} failed ({first_error})",
                        server.name()
                    ),
                );
            }
            results.memory.push(MemResult {
                requested: n,
                sessions: clients.len(),
                which: server.which,
                base_kb,
                total_kb,
                procs,
                failed,
            });
            rt.block_on(holder::close(clients));
            if !server.wait_idle(Duration::from_secs(60)) {
                note(
                    results,
                    format!("{} kept processes after closing", server.name()),
                );
            }
        }
    }
    Ok(())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}
