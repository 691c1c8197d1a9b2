//! scp's legacy protocol (`oxscp -O`, rcp's): the remote side runs `scp -t TARGET`
//! (upload: we are the source) or `scp -f SOURCE` (download: we are the sink) on an exec
//! channel, and the two speak control lines: `T<mtime> 0 <atime> 0` (times, with `-p`),
//! `C<mode> <size> <name>` (a file, then its bytes), `D<mode> 0 <name>` ... `E` (a
//! directory, with `-r`), each acknowledged by one byte: `\0` ok, `\1` a warning line,
//! `\2` a fatal line.
//!
//! As OpenSSH's scp, the remote path goes to the remote shell unquoted (so remote globs
//! work and the user quotes for that shell), and the sink refuses names from the peer
//! that could escape the target (`/` inside, `.`, `..`) or, without `-r` and `-T`, that
//! do not match the requested file name pattern (CVE-2019-6111). Memory is bounded:
//! control lines are at most [`MAX_LINE`] bytes, file data is streamed in chunks.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::sftp::progress::Meter;
use crate::strerror::strerror;
use crate::width::escape_bytes;

/// The longest control line accepted from the peer.
const MAX_LINE: usize = 8192;
/// File data moves in chunks of this size.
const CHUNK: usize = 64 * 1024;
/// scp's `FILEMODEMASK`: the permission bits plus set-uid and set-gid.
const MODE_MASK: u32 = 0o6777;

/// What the command line asked of a legacy transfer.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Flags {
    pub recursive: bool,
    pub preserve: bool,
    pub verbose: bool,
    /// `-T`: no check of the names the remote sends against the requested ones.
    pub no_name_check: bool,
    /// A progress meter per file (stdout a terminal, no `-q`), as scp draws.
    pub progress: bool,
    /// `-l`: file data paced to this many Kbit/s.
    pub limit_kbps: Option<u64>,
    /// `-A`: each remote `scp` is given the agent (its connection serves it).
    pub forward_agent: bool,
}

/// The remote `scp` command line, as OpenSSH's scp builds it.
fn remote_command(flags: Flags, mode: &str, path: &str, should_be_dir: bool) -> String {
    let mut cmd = String::from("scp");
    for (on, flag) in [
        (flags.verbose, " -v"),
        (flags.recursive, " -r"),
        (flags.preserve, " -p"),
        (should_be_dir, " -d"),
    ] {
        if on {
            cmd.push_str(flag);
        }
    }
    let path = if path.is_empty() { "." } else { path };
    let dashes = if path.starts_with('-') { "-- " } else { "" };
    format!("{cmd} {mode} {dashes}{path}")
}

/// Why a transfer stopped.
#[derive(Debug)]
enum Stop {
    /// The peer went away or broke the protocol: the message, exit 1.
    Fatal(String),
}

type Step<T> = Result<T, Stop>;

/// One end of the protocol over a channel's stdout (`r`) and stdin (`w`).
struct Wire<R, W> {
    r: BufReader<R>,
    w: W,
    /// Warnings and errors seen (exit status 1 when any).
    errors: u32,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Wire<R, W> {
    fn new(r: R, w: W) -> Self {
        Self {
            r: BufReader::with_capacity(CHUNK, r),
            w,
            errors: 0,
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Step<()> {
        self.w.write_all(bytes).await.map_err(lost)?;
        self.w.flush().await.map_err(lost)
    }

    /// A byte, `None` at the end of the stream.
    async fn byte(&mut self) -> Step<Option<u8>> {
        let mut b = [0u8; 1];
        match self.r.read(&mut b).await.map_err(lost)? {
            0 => Ok(None),
            _ => Ok(Some(b[0])),
        }
    }

    /// The rest of a line (without its newline), bounded by [`MAX_LINE`].
    async fn line(&mut self) -> Step<Vec<u8>> {
        let mut line = Vec::new();
        loop {
            match self.byte().await? {
                None => return Err(lost_connection()),
                Some(b'\n') => return Ok(line),
                Some(b) if line.len() < MAX_LINE => line.push(b),
                Some(_) => return Err(Stop::Fatal("protocol error: line too long".into())),
            }
        }
    }

    /// scp's `response()`: `Ok(true)` for `\0`; a warning is printed and counted
    /// (`Ok(false)`: skip this item); a fatal line or the end of the stream stops.
    async fn response(&mut self) -> Step<bool> {
        let Some(kind) = self.byte().await? else {
            return Err(lost_connection());
        };
        if kind == 0 {
            return Ok(true);
        }
        let mut text = vec![kind];
        text.extend(self.line().await?);
        // The peer's words, escaped as scp shows them (they must not drive the terminal).
        let message = escape_bytes(text.get(1..).unwrap_or(&[]));
        self.errors += 1;
        match kind {
            1 => {
                eprintln!("{message}");
                Ok(false)
            }
            2 => Err(Stop::Fatal(message)),
            _ => Err(Stop::Fatal(escape_bytes(&text))),
        }
    }

    /// Reports a local problem as scp's `run_err` does: on our stderr (without the
    /// `scp: ` the peer's copy carries) and to the peer as a warning line.
    async fn warn(&mut self, message: &str) -> Step<()> {
        eprintln!("{message}");
        self.errors += 1;
        let mut line = vec![1u8];
        line.extend_from_slice(format!("scp: {message}\n").as_bytes());
        self.send(&line).await
    }
}

fn lost(_: std::io::Error) -> Stop {
    lost_connection()
}

fn lost_connection() -> Stop {
    Stop::Fatal("lost connection".into())
}

/// Uploads `paths` to `to` on the remote (`upload`), or downloads remote `paths` to our
/// `to`.
pub(super) async fn copy(
    via: Via<'_>,
    flags: Flags,
    upload: bool,
    paths: &[String],
    to: &str,
) -> u8 {
    if upload {
        self::upload(via, flags, paths, to).await
    } else {
        download(via, flags, paths, to).await
    }
}

/// Uploads `sources` to `target` on the remote (`scp -t`).
async fn upload(via: Via<'_>, flags: Flags, sources: &[String], target: &str) -> u8 {
    let command = remote_command(flags, "-t", target, sources.len() > 1);
    over(via, command, flags, Job::Send(sources)).await
}

async fn send_all<R, W>(wire: &mut Wire<R, W>, flags: Flags, sources: &[String]) -> Step<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // The sink speaks first.
    if !wire.response().await? {
        return Ok(());
    }
    for source in sources {
        send_path(wire, flags, Path::new(source)).await?;
    }
    Ok(())
}

/// One local path: a file, or with `-r` a directory tree (iteratively, bounded by the
/// tree's depth in open directory listings).
async fn send_path<R, W>(wire: &mut Wire<R, W>, flags: Flags, top: &Path) -> Step<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // Each pending item is a path to send, or the end of a directory.
    enum Item {
        Path(PathBuf),
        End,
    }
    let mut pending = vec![Item::Path(top.to_path_buf())];
    while let Some(item) = pending.pop() {
        let path = match item {
            Item::End => {
                wire.send(b"E\n").await?;
                wire.response().await?;
                continue;
            }
            Item::Path(path) => path,
        };
        let shown = path.display().to_string();
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) => {
                wire.warn(&format!("{shown}: {}", strerror(&e))).await?;
                continue;
            }
        };
        let name = match path.file_name() {
            Some(name) => name.to_string_lossy().into_owned(),
            None => shown.clone(),
        };
        if meta.is_dir() {
            if !flags.recursive {
                wire.warn(&format!("{shown}: not a regular file")).await?;
                continue;
            }
            let mut entries = match std::fs::read_dir(&path) {
                Ok(dir) => dir
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .collect::<Vec<_>>(),
                Err(e) => {
                    wire.warn(&format!("{shown}: {}", strerror(&e))).await?;
                    continue;
                }
            };
            if flags.preserve && !send_times(wire, &meta).await? {
                continue;
            }
            let line = format!("D{:04o} 0 {name}\n", meta.mode() & MODE_MASK);
            wire.send(line.as_bytes()).await?;
            if !wire.response().await? {
                continue;
            }
            entries.sort();
            pending.push(Item::End);
            pending.extend(entries.into_iter().rev().map(Item::Path));
            continue;
        }
        if !meta.is_file() {
            wire.warn(&format!("{shown}: not a regular file")).await?;
            continue;
        }
        send_file(wire, flags, &path, &meta, &name).await?;
    }
    Ok(())
}

/// `T<mtime> 0 <atime> 0`; `Ok(false)` when the sink refused it.
async fn send_times<R, W>(wire: &mut Wire<R, W>, meta: &std::fs::Metadata) -> Step<bool>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let line = format!("T{} 0 {} 0\n", meta.mtime().max(0), meta.atime().max(0));
    wire.send(line.as_bytes()).await?;
    wire.response().await
}

async fn send_file<R, W>(
    wire: &mut Wire<R, W>,
    flags: Flags,
    path: &Path,
    meta: &std::fs::Metadata,
    name: &str,
) -> Step<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let shown = path.display();
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) => return wire.warn(&format!("{shown}: {}", strerror(&e))).await,
    };
    if flags.preserve && !send_times(wire, meta).await? {
        return Ok(());
    }
    let size = meta.len();
    let line = format!("C{:04o} {size} {name}\n", meta.mode() & MODE_MASK);
    wire.send(line.as_bytes()).await?;
    if !wire.response().await? {
        return Ok(());
    }
    // The declared size is sent whatever happens; a read error pads with zeros and
    // is reported instead of the final `\0`.
    let mut meter = Meter::new(name, size, 0, flags.progress, flags.limit_kbps);
    let mut buf = vec![0u8; CHUNK];
    let mut left = size;
    let mut failure = None;
    while left > 0 {
        meter.update(size - left);
        let want = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
        let chunk = buf.get_mut(..want).unwrap_or_default();
        if failure.is_none() {
            match file.read(chunk) {
                Ok(0) => failure = Some("file changed size".to_owned()),
                Ok(n) => {
                    let part = chunk.get(..n).unwrap_or_default();
                    wire.w.write_all(part).await.map_err(lost)?;
                    left -= n as u64;
                    continue;
                }
                Err(e) => failure = Some(strerror(&e)),
            }
        }
        chunk.fill(0);
        wire.w.write_all(chunk).await.map_err(lost)?;
        left -= want as u64;
    }
    // Paced for the last chunk too.
    meter.update(size);
    match failure {
        None => wire.send(&[0]).await?,
        Some(why) => wire.warn(&format!("{shown}: {why}")).await?,
    }
    wire.response().await?;
    // As scp, the meter stops once the sink has answered.
    meter.finish(size);
    Ok(())
}

/// Downloads each remote `source` (one `scp -f` each, as scp does) into `target`.
async fn download(via: Via<'_>, flags: Flags, sources: &[String], target: &str) -> u8 {
    let target = PathBuf::from(target);
    if sources.len() > 1 && !target.is_dir() {
        eprintln!("scp: {}: Not a directory", target.display());
        return 1;
    }
    let mut code = 0;
    for source in sources {
        // scp's command carries -d for every source when there are several.
        let command = remote_command(flags, "-f", source, sources.len() > 1);
        let pattern = Path::new(source)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|_| !flags.recursive && !flags.no_name_check);
        let job = Job::Receive {
            target: &target,
            pattern: pattern.as_deref(),
        };
        code = code.max(over(via, command, flags, job).await);
    }
    code
}

/// A directory being received: where, and what to set on it at its `E`.
struct OpenDir {
    path: PathBuf,
    mode: u32,
    times: Option<(u64, u64)>,
}

/// The sink: reads control lines until the source closes.
async fn receive<R, W>(
    wire: &mut Wire<R, W>,
    flags: Flags,
    target: &Path,
    pattern: Option<&str>,
) -> Step<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let target_is_dir = target.is_dir();
    let mut dirs: Vec<OpenDir> = Vec::new();
    let mut times: Option<(u64, u64)> = None;
    wire.send(&[0]).await?;
    let mut first = true;
    loop {
        let Some(kind) = wire.byte().await? else {
            return if dirs.is_empty() {
                Ok(())
            } else {
                Err(lost_connection())
            };
        };
        let line = wire.line().await?;
        let text = String::from_utf8_lossy(&line).into_owned();
        match kind {
            1 | 2 => {
                eprintln!("{}", escape_bytes(&line));
                wire.errors += 1;
                if kind == 2 {
                    return Err(Stop::Fatal(String::new()));
                }
            }
            b'E' => {
                let Some(done) = dirs.pop() else {
                    return Err(Stop::Fatal("protocol error: unexpected E".into()));
                };
                wire.send(&[0]).await?;
                if flags.preserve {
                    let _ = std::fs::set_permissions(
                        &done.path,
                        std::fs::Permissions::from_mode(done.mode),
                    );
                    if let Some(t) = done.times {
                        set_times(&done.path, t);
                    }
                }
            }
            b'T' => {
                times = Some(parse_times(&text)?);
                wire.send(&[0]).await?;
            }
            b'C' | b'D' => {
                let (mode, size, name) = parse_entry(&text)?;
                check_name(name, pattern)?;
                let path = match dirs.last() {
                    Some(dir) => dir.path.join(name),
                    None if target_is_dir => target.join(name),
                    None => target.to_path_buf(),
                };
                let item_times = times.take();
                if kind == b'D' {
                    if !flags.recursive {
                        return Err(Stop::Fatal("received directory without -r".into()));
                    }
                    if let Err(e) = make_dir(&path, mode, flags.preserve) {
                        wire.warn(&format!("{}: {}", path.display(), strerror(&e)))
                            .await?;
                        return Err(Stop::Fatal(String::new()));
                    }
                    dirs.push(OpenDir {
                        path,
                        mode,
                        times: item_times,
                    });
                    wire.send(&[0]).await?;
                } else {
                    let file = Incoming {
                        path: &path,
                        name,
                        mode,
                        size,
                        times: item_times,
                    };
                    receive_file(wire, flags, file).await?;
                }
            }
            _ if first => {
                // The remote's own complaint (e.g. its shell's), escaped.
                let mut all = vec![kind];
                all.extend_from_slice(&line);
                return Err(Stop::Fatal(escape_bytes(&all)));
            }
            _ => {
                return Err(Stop::Fatal(
                    "protocol error: expected control record".into(),
                ))
            }
        }
        first = false;
    }
}

fn make_dir(path: &Path, mode: u32, preserve: bool) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            if preserve {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
            }
            Ok(())
        }
        Ok(_) => Err(std::io::Error::from_raw_os_error(nix::libc::ENOTDIR)),
        Err(_) => std::fs::DirBuilder::new().mode(mode | 0o700).create(path),
    }
}

/// A file the source announced (`C` line), and where it goes.
struct Incoming<'a> {
    path: &'a Path,
    /// The name in the `C` line (the meter's, as scp's).
    name: &'a str,
    mode: u32,
    size: u64,
    times: Option<(u64, u64)>,
}

async fn receive_file<R, W>(wire: &mut Wire<R, W>, flags: Flags, file: Incoming<'_>) -> Step<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Incoming {
        path,
        name,
        mode,
        size,
        times,
    } = file;
    let existed = path.exists();
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(mode)
        .open(path)
    {
        Ok(file) => file,
        // Refused instead of acknowledged: the source skips the file's data.
        Err(e) => {
            return wire
                .warn(&format!("{}: {}", path.display(), strerror(&e)))
                .await
        }
    };
    wire.send(&[0]).await?;
    let mut meter = Meter::new(name, size, 0, flags.progress, flags.limit_kbps);
    let mut failure: Option<String> = None;
    let mut buf = vec![0u8; CHUNK];
    let mut left = size;
    while left > 0 {
        meter.update(size - left);
        let want = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
        let chunk = buf.get_mut(..want).unwrap_or_default();
        let n = wire.r.read(chunk).await.map_err(lost)?;
        if n == 0 {
            return Err(lost_connection());
        }
        left -= n as u64;
        if failure.is_none() {
            if let Err(e) = file.write_all(chunk.get(..n).unwrap_or_default()) {
                failure = Some(strerror(&e));
            }
        }
    }
    meter.update(size);
    meter.finish(size);
    if failure.is_none() {
        let f = &file;
        let done = f.set_len(size).and_then(|()| {
            if flags.preserve || !existed {
                let keep = if flags.preserve {
                    mode
                } else {
                    mode & !umask()
                };
                f.set_permissions(std::fs::Permissions::from_mode(keep))?;
            }
            Ok(())
        });
        if let Err(e) = done {
            failure = Some(strerror(&e));
        }
    }
    drop(file);
    // The source's verdict on what it sent.
    let sent_ok = wire.response().await?;
    if let (true, Some(t)) = (flags.preserve && sent_ok, times) {
        set_times(path, t);
    }
    match failure {
        None => wire.send(&[0]).await,
        Some(why) => wire.warn(&format!("{}: {why}", path.display())).await,
    }
}

/// The process umask (read by setting and restoring it).
fn umask() -> u32 {
    use nix::sys::stat::{umask, Mode};
    let old = umask(Mode::from_bits_truncate(0o022));
    umask(old);
    old.bits()
}

fn set_times(path: &Path, (mtime, atime): (u64, u64)) {
    // Peer-supplied: a time the system cannot represent is not applied.
    let at = |s: u64| UNIX_EPOCH.checked_add(Duration::from_secs(s));
    let (Some(mtime), Some(atime)) = (at(mtime), at(atime)) else {
        return;
    };
    // futimens needs ownership, not a writable descriptor: this works for directories.
    if let Ok(file) = File::open(path) {
        let times = std::fs::FileTimes::new()
            .set_modified(mtime)
            .set_accessed(atime);
        let _ = file.set_times(times);
    }
}

mod headers;
mod relay;
mod remote;
use headers::{check_name, parse_entry, parse_times};
pub(super) use relay::run as through_local;
pub(super) use remote::Via;
use remote::{over, Job};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
