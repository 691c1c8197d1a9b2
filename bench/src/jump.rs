//! Login latency through a jump host: `CLIENT -J hop target true`, OpenSSH's `ssh`
//! through sshd hops against `oxssh` through oxsshd hops, with the direct login of each
//! pair as the baseline. The hop's connection is a second client process (the
//! ProxyJump command, `CLIENT -W`), so a jump costs one more process start, key
//! exchange and authentication.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::measure::ClientProg;
use crate::servers::{Impl, Server, USER};
use crate::stats::{summarize, Summary};
use crate::Res;

/// One measured case: its label and the wall times in ms.
#[derive(Debug, Clone, Default)]
pub struct Case {
    pub label: String,
    pub ms: Vec<f64>,
    pub failed: usize,
}

/// The section's results: for each implementation, direct then jumped.
#[derive(Debug, Clone, Default)]
pub struct JumpResults {
    pub cases: Vec<Case>,
    pub runs: usize,
}

/// An ssh_config the hop's own client reads too (ProxyJump passes `-F` on).
fn write_config(dir: &Path, key: &Path) -> Res<PathBuf> {
    let path = dir.join("jump_config");
    std::fs::write(
        &path,
        format!(
            "Host *\n  User {USER}\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
             StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  BatchMode yes\n  \
             LogLevel ERROR\n  AddressFamily inet\n",
            key.display()
        ),
    )?;
    Ok(path)
}

/// Wall time in ms of `CLIENT -F config [-J localhost:hop] -p port 127.0.0.1 true`.
fn once(client: &ClientProg, config: &Path, hop: Option<u16>, port: u16) -> Res<f64> {
    let mut cmd = Command::new(&client.path);
    cmd.arg("-F").arg(config);
    if let Some(hop) = hop {
        // By name: the same address and port as the target would be a jump loop.
        cmd.arg("-J").arg(format!("localhost:{hop}"));
    }
    cmd.args(["-p", &port.to_string(), "127.0.0.1", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd.output()?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if !out.status.success() {
        return Err(format!(
            "{} jump: {}",
            client.name(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(ms)
}

/// `runs` of each case, interleaved; each pair's hop is its own kind of server.
pub fn run(
    clients: [&ClientProg; 2],
    servers: [&Server; 2],
    dir: &Path,
    runs: usize,
) -> Res<JumpResults> {
    let config = write_config(dir, &clients[0].key)?;
    let mut cases = Vec::new();
    for (client, server) in clients.iter().zip(servers.iter()) {
        let s = match server.which {
            Impl::OpenSsh => "sshd",
            Impl::Oxssh => "oxsshd",
        };
        for hop in [None, Some(server.port)] {
            let label = match hop {
                None => format!("{} → {s} (direct)", client.name()),
                Some(_) => format!("{} -J {s} → {s}", client.name()),
            };
            cases.push((
                *client,
                hop,
                server.port,
                Case {
                    label,
                    ..Case::default()
                },
            ));
        }
    }
    for _ in 0..runs {
        for (client, hop, port, case) in &mut cases {
            match once(client, &config, *hop, *port) {
                Ok(ms) => case.ms.push(ms),
                Err(e) => {
                    case.failed += 1;
                    eprintln!("oxssh-bench: {e}");
                }
            }
        }
    }
    for (_, _, _, case) in &cases {
        if let Some(s) = summarize(&case.ms) {
            eprintln!(
                "{}: median {:.1} ms (min {:.1}, max {:.1}), {} failed",
                case.label, s.median, s.min, s.max, case.failed
            );
        }
    }
    Ok(JumpResults {
        cases: cases.into_iter().map(|(_, _, _, c)| c).collect(),
        runs,
    })
}

fn cell(s: Option<Summary>) -> String {
    s.map_or_else(
        || "–".into(),
        |s| format!("{:.1} ({:.1}–{:.1})", s.median, s.min, s.max),
    )
}

/// The section of the report.
pub fn markdown(r: &JumpResults) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Login through a jump host\n\n`CLIENT -J localhost:PORT -p PORT 127.0.0.1 true` \
         (`AddressFamily inet`), the hop and the target being the same server, {} runs each, interleaved; \
         wall ms, median (min–max).\n",
        r.runs
    );
    let _ = writeln!(out, "| case | ms | failed |\n|---|---|---|");
    for c in &r.cases {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            c.label,
            cell(summarize(&c.ms)),
            c.failed
        );
    }
    let jumped = |i: usize| r.cases.get(i).and_then(|c| summarize(&c.ms));
    if let (Some(ssh), Some(ox)) = (jumped(1), jumped(3)) {
        let _ = writeln!(
            out,
            "\nThrough a hop, oxssh/oxsshd takes {:.2}x the time of ssh/sshd (median).",
            ox.median / ssh.median
        );
    }
    out.push('\n');
    out
}
