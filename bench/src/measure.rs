//! Measurements that run the client programs: bulk transfers, login latency and logins
//! per second.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::procfs::{self, TICKS_PER_SEC};
use crate::servers::{Impl, Server, USER};
use crate::Res;

/// A client program and the key it logs in with.
#[derive(Debug, Clone)]
pub struct ClientProg {
    pub which: Impl,
    pub path: PathBuf,
    pub key: PathBuf,
}

impl ClientProg {
    /// "ssh" or "oxssh".
    pub fn name(&self) -> &'static str {
        match self.which {
            Impl::OpenSsh => "ssh",
            Impl::Oxssh => "oxssh",
        }
    }

    /// `CLIENT [options] [extra] -p PORT oxssh-test@127.0.0.1 REMOTE`.
    pub fn command(&self, port: u16, extra: &[&str], remote: &str) -> Command {
        let mut cmd = self.no_command(port, extra);
        cmd.arg(remote);
        cmd
    }

    /// `CLIENT [options] [extra] -p PORT oxssh-test@127.0.0.1`, no remote command.
    pub fn no_command(&self, port: u16, extra: &[&str]) -> Command {
        let mut cmd = Command::new(&self.path);
        cmd.args(["-F", "/dev/null", "-i"])
            .arg(&self.key)
            .args([
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "LogLevel=ERROR",
            ])
            .args(extra)
            .arg("-p")
            .arg(port.to_string())
            .arg(format!("{USER}@127.0.0.1"));
        cmd
    }
}

/// Direction of a bulk transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// `head -c SIZE /dev/zero | CLIENT host 'cat >/dev/null'`
    Up,
    /// `CLIENT host 'head -c SIZE /dev/zero' >/dev/null`
    Down,
}

/// One bulk transfer's result.
#[derive(Debug, Clone, Copy)]
pub struct Transfer {
    pub secs: f64,
    /// user+sys seconds of the client process.
    pub client_cpu: f64,
    /// user+sys seconds of the server's processes (the session command excluded).
    pub server_cpu: f64,
}

/// Sums the four `XmY.Zs` times printed by the shell's `times` builtin.
fn parse_times(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut seen = 0;
    for token in text.split_whitespace() {
        let Some(t) = token.strip_suffix('s') else {
            continue;
        };
        let Some((m, s)) = t.split_once('m') else {
            continue;
        };
        if let (Ok(m), Ok(s)) = (m.parse::<f64>(), s.parse::<f64>()) {
            total += m * 60.0 + s;
            seen += 1;
        }
    }
    (seen >= 4).then_some(total)
}

/// One transfer of `size` bytes through one connection. The benchmark itself feeds the
/// client's stdin with zeros (as `head -c SIZE /dev/zero |` would) or drains its stdout;
/// the remote command ends with `times >&2` so the session command's own CPU (shell,
/// cat/head) is known exactly and left out of the server's figure.
pub fn transfer(
    client: &ClientProg,
    server: &Server,
    extra: &[&str],
    dir: Dir,
    size: u64,
) -> Res<Transfer> {
    let remote = match dir {
        Dir::Up => "cat >/dev/null; times >&2".to_string(),
        Dir::Down => format!("head -c {size} /dev/zero; times >&2"),
    };
    if !server.wait_idle(Duration::from_secs(10)) {
        return Err(format!("{} still has children before a transfer", server.name()).into());
    }
    let server_before = server.cpu_secs();
    let client_before = procfs::self_reaped_ticks();
    let mut cmd = client.command(server.port, extra, &remote);
    cmd.stdin(if dir == Dir::Up {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(if dir == Dir::Down {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let (status, received, err_text) = std::thread::scope(|s| {
        let writer = s.spawn(move || -> std::io::Result<()> {
            if let Some(mut stdin) = stdin {
                let buf = vec![0u8; 1 << 20];
                let mut left = size;
                while left > 0 {
                    let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
                    stdin.write_all(buf.get(..n).unwrap_or(&buf))?;
                    left -= n as u64;
                }
            }
            Ok(())
        });
        let reader = s.spawn(move || -> u64 {
            let mut total = 0u64;
            if let Some(mut out) = stdout {
                let mut buf = vec![0u8; 1 << 20];
                while let Ok(n) = out.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    total += n as u64;
                }
            }
            total
        });
        let mut err_text = String::new();
        let _ = stderr.read_to_string(&mut err_text);
        let status = child.wait();
        let wrote = writer.join();
        let received = reader.join().unwrap_or(0);
        (status.map(|st| (st, wrote)), received, err_text)
    });
    let secs = start.elapsed().as_secs_f64();
    let (status, wrote) = status?;
    let client_cpu = (procfs::self_reaped_ticks() - client_before) as f64 / TICKS_PER_SEC;
    if !status.success() || !matches!(wrote, Ok(Ok(()))) {
        return Err(format!(
            "{} -> {}: transfer failed ({status}): {}",
            client.name(),
            server.name(),
            err_text.trim()
        )
        .into());
    }
    if dir == Dir::Down && received != size {
        return Err(format!("received {received} of {size} bytes").into());
    }
    let command_cpu = parse_times(&err_text)
        .ok_or_else(|| format!("no `times` output from the session: {}", err_text.trim()))?;
    if !server.wait_idle(Duration::from_secs(10)) {
        return Err(format!("{} kept children after a transfer", server.name()).into());
    }
    let server_total = server.cpu_secs() - server_before;
    Ok(Transfer {
        secs,
        client_cpu,
        server_cpu: (server_total - command_cpu).max(0.0),
    })
}

/// Wall time in ms of one `CLIENT host true` with the given key exchange.
pub fn login(client: &ClientProg, server: &Server, kex: &str) -> Res<f64> {
    let opt = format!("KexAlgorithms={kex}");
    let start = Instant::now();
    let out = client
        .command(server.port, &["-o", &opt], "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if !out.status.success() {
        return Err(format!(
            "{} -> {} ({kex}): {}",
            client.name(),
            server.name(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(ms)
}

/// Logins per second: `concurrency` loops each running `CLIENT host true` until
/// `duration` has passed; logins that succeed before the deadline count.
pub fn logins_per_sec(
    client: &ClientProg,
    server: &Server,
    kex: &str,
    concurrency: usize,
    duration: Duration,
) -> (f64, u64) {
    let ok = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let opt = format!("KexAlgorithms={kex}");
    let start = Instant::now();
    let deadline = start + duration;
    std::thread::scope(|s| {
        for _ in 0..concurrency {
            s.spawn(|| {
                while Instant::now() < deadline {
                    let status = client
                        .command(server.port, &["-o", &opt], "true")
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                    if Instant::now() > deadline {
                        break;
                    }
                    match status {
                        Ok(st) if st.success() => ok.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            });
        }
    });
    let _ = server.wait_idle(Duration::from_secs(30));
    (
        ok.load(Ordering::Relaxed) as f64 / duration.as_secs_f64(),
        failed.load(Ordering::Relaxed),
    )
}

/// The first line of `program -V` (OpenSSH prints it on stderr).
pub fn version(program: &Path) -> String {
    Command::new(program)
        .arg("-V")
        .stdin(Stdio::null())
        .output()
        .map(|o| {
            let text = if o.stderr.is_empty() {
                o.stdout
            } else {
                o.stderr
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dash_and_bash_times() {
        let dash = "0m0.004000s 0m0.000000s\n0m0.120000s 0m0.500000s\n";
        assert!((parse_times(dash).unwrap() - 0.624).abs() < 1e-9);
        assert!(
            (parse_times("0m0.001s 0m0.002s\n1m0.000s 0m0.000s").unwrap() - 60.003).abs() < 1e-9
        );
        assert!(parse_times("Connection closed").is_none());
    }
}
