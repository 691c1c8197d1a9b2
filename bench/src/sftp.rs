//! File transfer: OpenSSH's `sftp` and `oxsftp` against sshd (with its `sftp-server`)
//! and oxsshd (internal-sftp), interleaved: `get`/`put` of one large file (MB/s) and
//! `get -r`/`put -r` of a tree of many small files (files/s), each a whole `CLIENT -b
//! batch` run (login included, a few milliseconds). Both clients use their default
//! request pipelining and the same cipher and key exchange.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::servers::{Impl, Server, USER};
use crate::stats::{summarize, Summary};
use crate::{Res, BULK_KEX, PAIRS};

/// The cipher both clients are given (each defaults to another: OpenSSH's to
/// chacha20-poly1305, ours to aes128-gcm).
pub const CIPHER: &str = "aes128-gcm@openssh.com";

/// What is transferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    PutFile,
    GetFile,
    PutTree,
    GetTree,
}

pub const OPS: [Op; 4] = [Op::PutFile, Op::GetFile, Op::PutTree, Op::GetTree];

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::PutFile => "put large file",
            Op::GetFile => "get large file",
            Op::PutTree => "put -r small files",
            Op::GetTree => "get -r small files",
        }
    }

    fn is_tree(self) -> bool {
        matches!(self, Op::PutTree | Op::GetTree)
    }
}

/// The section's settings and samples.
#[derive(Debug, Default)]
pub struct SftpResults {
    pub size_mib: u64,
    pub files: usize,
    /// (op, pair) -> seconds per run
    pub secs: std::collections::BTreeMap<(Op, usize), Vec<f64>>,
    pub failed: Vec<String>,
}

/// The two clients.
#[derive(Debug)]
pub struct Clients {
    pub sftp: PathBuf,
    pub oxsftp: PathBuf,
    pub key: PathBuf,
}

/// Local and remote working directories; the remote one (in the user's home, theirs)
/// is removed on drop.
struct Dirs {
    local: PathBuf,
    remote: PathBuf,
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.remote);
        let _ = fs::remove_dir_all(&self.local);
    }
}

fn user_ids() -> Res<(u32, u32, PathBuf)> {
    let passwd = fs::read_to_string("/etc/passwd")?;
    let line = passwd
        .lines()
        .find(|l| l.split(':').next() == Some(USER))
        .ok_or("no benchmark user")?;
    let f: Vec<&str> = line.split(':').collect();
    let num = |i: usize| -> Res<u32> { Ok(f.get(i).ok_or("passwd line")?.parse()?) };
    Ok((
        num(2)?,
        num(3)?,
        PathBuf::from(f.get(5).ok_or("passwd line")?),
    ))
}

/// Pseudo-random bytes (xorshift), written in 1 MiB chunks: no compression helps.
fn write_file(path: &Path, len: u64, seed: u64) -> Res<()> {
    let mut file = std::io::BufWriter::new(fs::File::create(path)?);
    let mut state = seed | 1;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let bytes = state.to_le_bytes();
            chunk.copy_from_slice(bytes.get(..chunk.len()).unwrap_or(&bytes));
        }
        let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        file.write_all(buf.get(..n).unwrap_or(&buf))?;
        left -= n as u64;
    }
    file.flush()?;
    Ok(())
}

/// `files` files of 1–8 KiB in 20 directories.
fn write_tree(root: &Path, files: usize) -> Res<()> {
    for i in 0..files {
        let dir = root.join(format!("d{:02}", i % 20));
        fs::create_dir_all(&dir)?;
        write_file(
            &dir.join(format!("f{i}")),
            1024 * (1 + (i as u64 % 8)),
            i as u64,
        )?;
    }
    Ok(())
}

fn count_files(root: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(_) => n += 1,
                Err(_) => {}
            }
        }
    }
    n
}

fn chown_tree(root: &Path, uid: u32, gid: u32) -> Res<()> {
    std::os::unix::fs::chown(root, Some(uid), Some(gid))?;
    if root.is_dir() {
        for e in fs::read_dir(root)? {
            chown_tree(&e?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Runs every operation for every pair, `rounds` times, interleaved.
pub fn run(
    clients: &Clients,
    servers: [&Server; 2],
    work: &Path,
    size_mib: u64,
    files: usize,
    rounds: usize,
) -> Res<SftpResults> {
    let (uid, gid, home) = user_ids()?;
    let dirs = Dirs {
        local: work.join("sftp-local"),
        remote: home.join(format!("oxssh-bench-sftp-{}", std::process::id())),
    };
    fs::create_dir_all(&dirs.local)?;
    let _ = fs::remove_dir_all(&dirs.remote);
    fs::create_dir_all(&dirs.remote)?;
    fs::set_permissions(&dirs.remote, fs::Permissions::from_mode(0o755))?;
    eprintln!("oxssh-bench: sftp: writing {size_mib} MiB and {files} files on each side");
    let size = size_mib << 20;
    write_file(&dirs.local.join("big"), size, 1)?;
    write_file(&dirs.remote.join("big"), size, 2)?;
    write_tree(&dirs.local.join("tree"), files)?;
    write_tree(&dirs.remote.join("tree"), files)?;
    chown_tree(&dirs.remote, uid, gid)?;
    let mut results = SftpResults {
        size_mib,
        files,
        ..SftpResults::default()
    };
    let mut run_no = 0;
    for round in 0..rounds {
        for op in OPS {
            for (pi, (c, s)) in PAIRS.iter().enumerate() {
                let server = match s {
                    Impl::OpenSsh => servers[0],
                    Impl::Oxssh => servers[1],
                };
                run_no += 1;
                match once(clients, *c, server, &dirs, op, (size, files), run_no) {
                    Ok(secs) => {
                        eprintln!(
                            "round {} sftp {} {}->{}: {secs:.2} s",
                            round + 1,
                            op.label(),
                            client_name(*c),
                            server.name()
                        );
                        results.secs.entry((op, pi)).or_default().push(secs);
                    }
                    Err(e) => {
                        let text = format!(
                            "sftp {} {}->{}: {e}",
                            op.label(),
                            client_name(*c),
                            server.name()
                        );
                        eprintln!("oxssh-bench: {text}");
                        results.failed.push(text);
                    }
                }
            }
        }
    }
    Ok(results)
}

fn client_name(c: Impl) -> &'static str {
    match c {
        Impl::OpenSsh => "sftp",
        Impl::Oxssh => "oxsftp",
    }
}

/// The destination of run number `run_no` of `op`: the large file's is cleared and
/// reused; each tree run gets a new directory, left until the section ends. Deleting
/// the last run's 2,000 files just before would time the filesystem instead of the
/// transfer: ext4 without a journal skips inodes freed in the last 30 s, testing each
/// one again for every file it creates (`find_inode_bit`, `recently_deleted`), which
/// made creating 2,000 small files cost ~0.7 ms each, the same for every client.
fn destination(dirs: &Dirs, op: Op, run_no: usize) -> (String, PathBuf) {
    let (local, remote) = (&dirs.local, &dirs.remote);
    match op {
        Op::PutFile => (
            format!("put big {}/put-big\n", remote.display()),
            remote.join("put-big"),
        ),
        Op::GetFile => (
            format!("get {}/big got-big\n", remote.display()),
            local.join("got-big"),
        ),
        Op::PutTree => {
            let dest = remote.join(format!("put-tree-{run_no}"));
            (format!("put -r tree {}\n", dest.display()), dest)
        }
        Op::GetTree => {
            let dest = local.join(format!("got-tree-{run_no}"));
            (
                format!("get -r {}/tree {}\n", remote.display(), dest.display()),
                dest,
            )
        }
    }
}

/// One timed `CLIENT -b batch` run, its destination new or cleared first and checked
/// after.
fn once(
    clients: &Clients,
    client: Impl,
    server: &Server,
    dirs: &Dirs,
    op: Op,
    (size, files): (u64, usize),
    run_no: usize,
) -> Res<f64> {
    let local = &dirs.local;
    let (command, dest) = destination(dirs, op, run_no);
    let _ = fs::remove_dir_all(&dest);
    let _ = fs::remove_file(&dest);
    let batch = local.join("batch");
    fs::write(&batch, command)?;
    if !server.wait_idle(Duration::from_secs(10)) {
        return Err(format!("{} still has children", server.name()).into());
    }
    let program = match client {
        Impl::OpenSsh => &clients.sftp,
        Impl::Oxssh => &clients.oxsftp,
    };
    let kex = format!("KexAlgorithms={BULK_KEX}");
    let mut cmd = Command::new(program);
    cmd.current_dir(local)
        .args(["-F", "/dev/null", "-i"])
        .arg(&clients.key)
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
            "-o",
            &kex,
            "-c",
            CIPHER,
            "-P",
        ])
        .arg(server.port.to_string())
        .arg("-b")
        .arg(&batch)
        .arg(format!("{USER}@127.0.0.1"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd.output()?;
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    if op.is_tree() {
        let n = count_files(&dest);
        if n != files {
            return Err(format!("{n} of {files} files arrived").into());
        }
    } else {
        let got = fs::metadata(&dest)?.len();
        if got != size {
            return Err(format!("{got} of {size} bytes arrived").into());
        }
    }
    Ok(secs)
}

/// Rate summary of one cell: MB/s for the large file, files/s for the tree.
fn rate(r: &SftpResults, op: Op, pi: usize) -> Option<Summary> {
    let amount = if op.is_tree() {
        r.files as f64
    } else {
        (r.size_mib << 20) as f64 / 1e6
    };
    let v: Vec<f64> = r.secs.get(&(op, pi))?.iter().map(|s| amount / s).collect();
    summarize(&v)
}

fn cell(s: Option<Summary>) -> String {
    match s {
        None => "–".into(),
        Some(s) if s.n == 1 => format!("{:.0}", s.median),
        Some(s) => format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max),
    }
}

fn ratio(a: Option<Summary>, b: Option<Summary>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b.median > 0.0 => Some(a.median / b.median),
        _ => None,
    }
}

fn pair_label(pi: usize) -> String {
    PAIRS.get(pi).map_or_else(String::new, |(c, s)| {
        let s = if *s == Impl::OpenSsh {
            "sshd"
        } else {
            "oxsshd"
        };
        format!("{}→{s}", client_name(*c))
    })
}

/// The section of the report.
pub fn markdown(r: &SftpResults) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## File transfer (SFTP)\n\n\
         Each figure is one whole `CLIENT -b batch` run (login included): a {} MiB file \
         (MB/s) and a tree of {} files of 1–8 KiB in 20 directories (files/s), between a \
         local directory and one in the user's home, on the same disk; each tree run \
         writes a new directory (deleting the last one just before would time ext4's \
         search past recently freed inodes instead). sshd serves SFTP \
         with `/usr/lib/openssh/sftp-server`, oxsshd with internal-sftp. Both clients: \
         `-c {CIPHER}`, `KexAlgorithms {BULK_KEX}`, their default pipelining. Median \
         (min–max) over the rounds. Targets (issue 7): oxsftp ≥ 1.5× sftp for the large \
         file and ≥ 2× for the tree, against the same server.\n",
        r.size_mib, r.files
    );
    let mut cols: Vec<String> = vec!["transfer".into(), "unit".into()];
    cols.extend((0..PAIRS.len()).map(pair_label));
    cols.extend([
        "oxsftp/sftp on sshd".into(),
        "oxsftp/sftp on oxsshd".into(),
        "oxsftp→oxsshd / sftp→sshd".into(),
        "target".into(),
        "met".into(),
    ]);
    let _ = writeln!(out, "| {} |", cols.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(cols.len()));
    for op in OPS {
        let s: Vec<Option<Summary>> = (0..PAIRS.len()).map(|pi| rate(r, op, pi)).collect();
        let get = |i: usize| s.get(i).copied().flatten();
        // PAIRS: sftp→sshd, oxsftp→sshd, sftp→oxsshd, oxsftp→oxsshd.
        let on_sshd = ratio(get(1), get(0));
        let on_oxsshd = ratio(get(3), get(2));
        let whole = ratio(get(3), get(0));
        let target = if op.is_tree() { 2.0 } else { 1.5 };
        let met = match (on_sshd, on_oxsshd) {
            (Some(a), Some(b)) => {
                if a >= target && b >= target {
                    "yes"
                } else {
                    "**no**"
                }
            }
            _ => "–",
        };
        let ratio_cell = |x: Option<f64>| x.map_or_else(|| "–".into(), |x| format!("{x:.2}×"));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | ≥ {target}× | {met} |",
            op.label(),
            if op.is_tree() { "files/s" } else { "MB/s" },
            cell(get(0)),
            cell(get(1)),
            cell(get(2)),
            cell(get(3)),
            ratio_cell(on_sshd),
            ratio_cell(on_oxsshd),
            ratio_cell(whole),
        );
    }
    out.push('\n');
    if !r.failed.is_empty() {
        for f in &r.failed {
            let _ = writeln!(out, "- failed: {f}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_ratios_come_from_medians() {
        let mut r = SftpResults {
            size_mib: 100,
            files: 1000,
            ..SftpResults::default()
        };
        r.secs.insert((Op::GetTree, 0), vec![2.0, 4.0, 3.0]);
        r.secs.insert((Op::GetTree, 1), vec![1.0]);
        let base = rate(&r, Op::GetTree, 0).unwrap();
        assert!((base.median - 1000.0 / 3.0).abs() < 1e-9);
        let ours = rate(&r, Op::GetTree, 1);
        assert!((ratio(ours, Some(base)).unwrap() - 3.0).abs() < 1e-9);
        let text = markdown(&r);
        assert!(text.contains("| get -r small files | files/s | 333 (250–500) | 1000 |"));
    }
}
