//! Login records as OpenSSH's `loginrec.c` writes them on Linux: `utmp` (who is logged in
//! now), `wtmp` (the login history `last` reads) and `lastlog` (each uid's latest login,
//! shown as `Last login: ...` at the next one).
//!
//! The records are glibc's 64-bit layouts (x86_64 and aarch64), encoded field by field in
//! safe code: `struct utmp` (= `struct utmpx`) is [`UTMP_RECORD_LEN`] bytes with 32-bit
//! `ut_tv` seconds and microseconds, `struct lastlog` is [`LASTLOG_RECORD_LEN`] bytes at
//! offset `uid * 292`. All three files are "where available", as OpenSSH treats them: a missing
//! `utmp`, `wtmp` or `lastlog` file is skipped (reported as `false`), never created.
//!
//! Writers lock as glibc's `pututline`/`updwtmp` do: a whole-file write lock (Linux
//! open-file-description locks, which conflict with glibc's `fcntl` locks in other
//! processes and also exclude other threads of this one), waiting at most ten seconds.
//! Records are always written whole, at record boundaries; a torn record at the end of a
//! file is cut off before appending, as glibc does. Every call blocks (file I/O, the lock
//! wait): call it from a blocking thread.
//!
//! OpenSSH's order for a pty session, which [`LoginRecords`] leaves to the caller: read
//! [`LoginRecords::last_login`] and keep [`format_last_login`]'s line for the login
//! message, then [`LoginRecords::login`] and [`LoginRecords::record_login`] once the
//! session's process exists, and [`LoginRecords::logout`] when it ends. sshd records
//! pty sessions only; commands without a pty leave no record.
//!
//! ```no_run
//! use oxssh_os::login_records::{format_last_login, LoginRecords};
//! # fn demo(pid: i32, uid: u32) -> std::io::Result<()> {
//! let records = LoginRecords::system();
//! let message = records.last_login(uid)?.map(|last| format_last_login(&last));
//! records.login(pid, "pts/3", "alice", "192.0.2.7", "192.0.2.7".parse().ok())?;
//! records.record_login(uid, "pts/3", "192.0.2.7", oxssh_os::login_records::unix_now())?;
//! // ... the session runs ...
//! records.logout(pid, "pts/3")?;
//! # drop(message); Ok(()) }
//! ```

use std::fs::{File, OpenOptions};
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg};
use nix::libc;

mod localtime;

pub use localtime::{ctime, TimeZone};

/// The system's `utmp` file (glibc's `_PATH_UTMP`).
pub const UTMP_PATH: &str = "/var/run/utmp";
/// The system's `wtmp` file (glibc's `_PATH_WTMP`).
pub const WTMP_PATH: &str = "/var/log/wtmp";
/// The system's `lastlog` file (`_PATH_LASTLOG`).
pub const LASTLOG_PATH: &str = "/var/log/lastlog";

/// Bytes in one `struct utmp` record (glibc, 64-bit Linux).
pub const UTMP_RECORD_LEN: usize = 384;
/// Bytes in one `struct lastlog` record (glibc, 64-bit Linux).
pub const LASTLOG_RECORD_LEN: usize = 292;

/// `ut_type` of an unused record.
pub const EMPTY: i16 = 0;
/// `ut_type` of a record made by `init` for a terminal.
pub const INIT_PROCESS: i16 = 5;
/// `ut_type` of a `getty` waiting for a login.
pub const LOGIN_PROCESS: i16 = 6;
/// `ut_type` of a logged-in user's session.
pub const USER_PROCESS: i16 = 7;
/// `ut_type` of a session that has ended.
pub const DEAD_PROCESS: i16 = 8;

// `struct utmp` field offsets and sizes.
const UT_TYPE: usize = 0;
const UT_PID: usize = 4;
const UT_LINE: usize = 8;
const UT_LINESIZE: usize = 32;
const UT_ID: usize = 40;
const UT_IDSIZE: usize = 4;
const UT_USER: usize = 44;
const UT_NAMESIZE: usize = 32;
const UT_HOST: usize = 76;
const UT_HOSTSIZE: usize = 256;
const UT_EXIT_TERMINATION: usize = 332;
const UT_EXIT_EXIT: usize = 334;
const UT_SESSION: usize = 336;
const UT_TV_SEC: usize = 340;
const UT_TV_USEC: usize = 344;
const UT_ADDR_V6: usize = 348;

// `struct lastlog` field offsets and sizes.
const LL_TIME: usize = 0;
const LL_LINE: usize = 4;
const LL_HOST: usize = 36;
const LL_HOSTSIZE: usize = 256;

/// How long a writer waits for another process's lock (glibc's `TIMEOUT`).
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// One `utmp`/`wtmp` record, decoded. Strings are the bytes up to the first NUL (lossy
/// UTF-8); encoding truncates them to their field as `strncpy` does (no NUL when full).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UtmpRecord {
    /// `ut_type`: [`USER_PROCESS`], [`DEAD_PROCESS`], ...
    pub ut_type: i16,
    /// `ut_pid`: the session's process.
    pub pid: i32,
    /// `ut_line`: the terminal without `/dev/` (`pts/3`), at most 32 bytes.
    pub line: String,
    /// `ut_id`: the last four bytes of the line (`ts/3`).
    pub id: String,
    /// `ut_user`, at most 32 bytes.
    pub user: String,
    /// `ut_host`, at most 256 bytes.
    pub host: String,
    /// `ut_exit.e_termination`.
    pub exit_termination: i16,
    /// `ut_exit.e_exit`.
    pub exit_status: i16,
    /// `ut_session`.
    pub session: i32,
    /// `ut_tv.tv_sec`: stored as 32 bits (glibc's compat layout), so it wraps after 2038.
    pub time: i64,
    /// `ut_tv.tv_usec`.
    pub usec: i32,
    /// `ut_addr_v6` in network byte order: an IPv4 address in the first four bytes.
    pub addr_v6: [u8; 16],
}

impl UtmpRecord {
    /// The `USER_PROCESS` record OpenSSH's `construct_utmp` makes for a login on `line`
    /// (with or without `/dev/`) from `host` (a name or address text) at `addr`.
    pub fn user_process(
        pid: i32,
        line: &str,
        user: &str,
        host: &str,
        addr: Option<IpAddr>,
        time: SystemTime,
    ) -> Self {
        let mut record = Self::dead_process(pid, line, time);
        record.ut_type = USER_PROCESS;
        record.user = user.to_owned();
        record.host = host.to_owned();
        record.addr_v6 = addr.map_or([0; 16], addr_v6);
        record
    }

    /// The `DEAD_PROCESS` record for a logout: type, id, line, pid and time; user, host
    /// and address are left blank, as OpenSSH does.
    pub fn dead_process(pid: i32, line: &str, time: SystemTime) -> Self {
        let (time, usec) = split_time(time);
        let line = strip_dev(line);
        Self {
            ut_type: DEAD_PROCESS,
            pid,
            line: line.to_owned(),
            id: abbrev_id(line).to_owned(),
            time,
            usec,
            ..Self::default()
        }
    }

    /// The record's bytes, as glibc lays out `struct utmp` (little-endian).
    pub fn encode(&self) -> [u8; UTMP_RECORD_LEN] {
        let mut buf = [0; UTMP_RECORD_LEN];
        put(&mut buf, UT_TYPE, &self.ut_type.to_le_bytes());
        put(&mut buf, UT_PID, &self.pid.to_le_bytes());
        put_str(&mut buf, UT_LINE, UT_LINESIZE, &self.line);
        put_str(&mut buf, UT_ID, UT_IDSIZE, &self.id);
        put_str(&mut buf, UT_USER, UT_NAMESIZE, &self.user);
        put_str(&mut buf, UT_HOST, UT_HOSTSIZE, &self.host);
        put(
            &mut buf,
            UT_EXIT_TERMINATION,
            &self.exit_termination.to_le_bytes(),
        );
        put(&mut buf, UT_EXIT_EXIT, &self.exit_status.to_le_bytes());
        put(&mut buf, UT_SESSION, &self.session.to_le_bytes());
        // glibc keeps 32-bit seconds here on 64-bit targets; C's conversion wraps.
        put(&mut buf, UT_TV_SEC, &(self.time as i32).to_le_bytes());
        put(&mut buf, UT_TV_USEC, &self.usec.to_le_bytes());
        put(&mut buf, UT_ADDR_V6, &self.addr_v6);
        buf
    }

    /// Decodes a record (any bytes decode; missing bytes read as zero).
    pub fn decode(buf: &[u8]) -> Self {
        Self {
            ut_type: i16::from_le_bytes(get(buf, UT_TYPE)),
            pid: i32::from_le_bytes(get(buf, UT_PID)),
            line: get_str(buf, UT_LINE, UT_LINESIZE),
            id: get_str(buf, UT_ID, UT_IDSIZE),
            user: get_str(buf, UT_USER, UT_NAMESIZE),
            host: get_str(buf, UT_HOST, UT_HOSTSIZE),
            exit_termination: i16::from_le_bytes(get(buf, UT_EXIT_TERMINATION)),
            exit_status: i16::from_le_bytes(get(buf, UT_EXIT_EXIT)),
            session: i32::from_le_bytes(get(buf, UT_SESSION)),
            time: i64::from(i32::from_le_bytes(get(buf, UT_TV_SEC))),
            usec: i32::from_le_bytes(get(buf, UT_TV_USEC)),
            addr_v6: get(buf, UT_ADDR_V6),
        }
    }

    /// `ut_addr_v6` as an address: IPv4 when only the first four bytes are set, `None`
    /// when all are zero.
    pub fn addr(&self) -> Option<IpAddr> {
        let [a, b, c, d, rest @ ..] = self.addr_v6;
        if self.addr_v6 == [0; 16] {
            None
        } else if rest == [0; 12] {
            Some(IpAddr::from([a, b, c, d]))
        } else {
            Some(IpAddr::from(self.addr_v6))
        }
    }
}

/// What a [`LoginRecords`] write did: `false` for a file that does not exist (skipped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// The `utmp` slot was written.
    pub utmp: bool,
    /// The record was appended to `wtmp`.
    pub wtmp: bool,
}

/// A user's latest login from `lastlog`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastLogin {
    /// Seconds since the epoch (`ll_time`, 32 bits on disk).
    pub time: i64,
    /// The terminal (`pts/3`), at most 32 bytes.
    pub line: String,
    /// The remote host, at most 255 bytes; empty for a local login.
    pub host: String,
}

impl LastLogin {
    /// The record's bytes, as glibc lays out `struct lastlog`: the line is cut as
    /// `strncpy` does, the host as `strlcpy` does (OpenSSH's `construct_lastlog_entry`).
    pub fn encode(&self) -> [u8; LASTLOG_RECORD_LEN] {
        let mut buf = [0; LASTLOG_RECORD_LEN];
        put(&mut buf, LL_TIME, &(self.time as i32).to_le_bytes());
        put_str(&mut buf, LL_LINE, UT_LINESIZE, strip_dev(&self.line));
        put_str(&mut buf, LL_HOST, LL_HOSTSIZE - 1, &self.host);
        buf
    }

    /// Decodes a record (any bytes decode; missing bytes read as zero).
    pub fn decode(buf: &[u8]) -> Self {
        Self {
            time: i64::from(i32::from_le_bytes(get(buf, LL_TIME))),
            line: get_str(buf, LL_LINE, UT_LINESIZE),
            host: get_str(buf, LL_HOST, LL_HOSTSIZE),
        }
    }
}

/// The three files, by path: [`LoginRecords::system`] for the real ones, other paths for
/// tests and chroots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginRecords {
    /// `utmp` ([`UTMP_PATH`]).
    pub utmp: PathBuf,
    /// `wtmp` ([`WTMP_PATH`]).
    pub wtmp: PathBuf,
    /// `lastlog` ([`LASTLOG_PATH`]).
    pub lastlog: PathBuf,
}

impl Default for LoginRecords {
    fn default() -> Self {
        Self::system()
    }
}

impl LoginRecords {
    /// The system's files.
    pub fn system() -> Self {
        Self {
            utmp: PathBuf::from(UTMP_PATH),
            wtmp: PathBuf::from(WTMP_PATH),
            lastlog: PathBuf::from(LASTLOG_PATH),
        }
    }

    /// Records a login now: a `USER_PROCESS` record into `utmp`'s slot for the line and
    /// appended to `wtmp`. `host` is what OpenSSH puts there (the address text unless
    /// `UseDNS`), `addr` the client's address.
    pub fn login(
        &self,
        pid: i32,
        line: &str,
        user: &str,
        host: &str,
        addr: Option<IpAddr>,
    ) -> io::Result<Written> {
        let record = UtmpRecord::user_process(pid, line, user, host, addr, SystemTime::now());
        self.write(&record)
    }

    /// Records a logout now: a `DEAD_PROCESS` record (user and host cleared) into the
    /// line's `utmp` slot and appended to `wtmp`.
    pub fn logout(&self, pid: i32, line: &str) -> io::Result<Written> {
        self.write(&UtmpRecord::dead_process(pid, line, SystemTime::now()))
    }

    /// Writes `record` into `utmp` (see [`utmp_write`]) and appends it to `wtmp` (see
    /// [`wtmp_append`]). Both are tried; the first error is returned.
    pub fn write(&self, record: &UtmpRecord) -> io::Result<Written> {
        let utmp = utmp_write(&self.utmp, record);
        let wtmp = wtmp_append(&self.wtmp, record);
        Ok(Written {
            utmp: utmp?,
            wtmp: wtmp?,
        })
    }

    /// `uid`'s last login, as OpenSSH reads it for the login message: `None` when the
    /// file is missing or not a regular file, ends before the record, or the record's
    /// time is zero.
    pub fn last_login(&self, uid: u32) -> io::Result<Option<LastLogin>> {
        lastlog_read(&self.lastlog, uid)
    }

    /// Stores `uid`'s login on `line` from `host` at `time` (seconds since the epoch).
    /// `Ok(false)` when the file is missing or not a regular file (skipped).
    pub fn record_login(&self, uid: u32, line: &str, host: &str, time: i64) -> io::Result<bool> {
        let entry = LastLogin {
            time,
            line: line.to_owned(),
            host: host.to_owned(),
        };
        lastlog_write(&self.lastlog, uid, &entry)
    }
}

/// Seconds since the epoch now (0 before it).
pub fn unix_now() -> i64 {
    split_time(SystemTime::now()).0
}

/// Puts `record` into the `utmp` file at `path` as glibc's `pututline` does: under a
/// write lock, into the first slot whose `ut_id` (or `ut_line` when either id is empty)
/// matches, both of a process type; else appended. `Ok(false)` when the file does not
/// exist: it is never created.
pub fn utmp_write(path: &Path, record: &UtmpRecord) -> io::Result<bool> {
    let Some(file) = open_existing(path, OpenOptions::new().read(true).write(true))? else {
        return Ok(false);
    };
    lock(&file, true)?;
    let len = file.metadata()?.len();
    let whole = len - len % UTMP_RECORD_LEN as u64;
    let bytes = record.encode();
    let offset = match find_slot(&file, whole, &bytes)? {
        Some(offset) => offset,
        None => {
            if whole != len {
                file.set_len(whole)?;
            }
            whole
        }
    };
    file.write_all_at(&bytes, offset)?;
    Ok(true)
}

/// Appends `record` to the `wtmp` file at `path` as glibc's `updwtmp` does: under a write
/// lock, after cutting off a torn record at the end, undoing a failed write. `Ok(false)`
/// when the file does not exist: it is never created.
pub fn wtmp_append(path: &Path, record: &UtmpRecord) -> io::Result<bool> {
    let Some(file) = open_existing(path, OpenOptions::new().write(true))? else {
        return Ok(false);
    };
    lock(&file, true)?;
    let len = file.metadata()?.len();
    let whole = len - len % UTMP_RECORD_LEN as u64;
    if whole != len {
        file.set_len(whole)?;
    }
    if let Err(err) = file.write_all_at(&record.encode(), whole) {
        // Best effort, as glibc: leave no torn record behind.
        let _ = file.set_len(whole);
        return Err(err);
    }
    Ok(true)
}

/// Every whole record of a `utmp` or `wtmp` file, under a read lock; a torn record at the
/// end is ignored. Empty when the file does not exist.
pub fn read_records(path: &Path) -> io::Result<Vec<UtmpRecord>> {
    let Some(file) = open_existing(path, OpenOptions::new().read(true))? else {
        return Ok(Vec::new());
    };
    lock(&file, false)?;
    let mut records = Vec::new();
    let mut buf = [0; UTMP_RECORD_LEN];
    let mut offset = 0u64;
    while read_record_at(&file, &mut buf, offset)? {
        records.push(UtmpRecord::decode(&buf));
        offset += UTMP_RECORD_LEN as u64;
    }
    Ok(records)
}

/// `uid`'s `lastlog` record from the file at `path` (see [`LoginRecords::last_login`]).
pub fn lastlog_read(path: &Path, uid: u32) -> io::Result<Option<LastLogin>> {
    let Some(file) = open_existing(path, OpenOptions::new().read(true))? else {
        return Ok(None);
    };
    let mut buf = [0; LASTLOG_RECORD_LEN];
    if !read_record_at(&file, &mut buf, lastlog_offset(uid)?)? {
        return Ok(None);
    }
    let entry = LastLogin::decode(&buf);
    Ok((entry.time != 0).then_some(entry))
}

/// Writes `uid`'s `lastlog` record into the file at `path` at `uid * 292` (the file grows
/// sparse, as with OpenSSH). `Ok(false)` when the file is missing or not a regular file
/// (OpenSSH's per-user `lastlog` directories are not supported).
pub fn lastlog_write(path: &Path, uid: u32, entry: &LastLogin) -> io::Result<bool> {
    let Some(file) = open_existing(path, OpenOptions::new().write(true))? else {
        return Ok(false);
    };
    file.write_all_at(&entry.encode(), lastlog_offset(uid)?)?;
    Ok(true)
}

/// `Last login: Wed Dec  2 04:52:25 2026 from 127.0.0.1` in the local time zone (see
/// [`TimeZone::local`]), as OpenSSH's `store_lastlog_message` prints it (it adds
/// `"\r\n"`); without ` from ...` when the host is empty.
pub fn format_last_login(last: &LastLogin) -> String {
    format_last_login_in(last, &TimeZone::local())
}

/// [`format_last_login`] in the time zone `tz`.
pub fn format_last_login_in(last: &LastLogin, tz: &TimeZone) -> String {
    let when = ctime(last.time, tz);
    if last.host.is_empty() {
        format!("Last login: {when}")
    } else {
        format!("Last login: {when} from {}", last.host)
    }
}

/// Opens `path` if it exists as a regular file; `None` when it does not exist or is not a
/// regular file (OpenSSH skips those too).
fn open_existing(path: &Path, options: &OpenOptions) -> io::Result<Option<File>> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Ok(None),
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    // Replaced by something else between the two looks: skip it all the same.
    Ok(file.metadata()?.is_file().then_some(file))
}

/// Takes a whole-file lock (write or read), waiting up to [`LOCK_TIMEOUT`]. The lock goes
/// with the descriptor: it ends when the file is closed.
fn lock(file: &File, write: bool) -> io::Result<()> {
    let kind = if write { libc::F_WRLCK } else { libc::F_RDLCK };
    let request = libc::flock {
        l_type: kind as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    let deadline = Instant::now() + LOCK_TIMEOUT;
    loop {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let result = fcntl(file, FcntlArg::F_OFD_SETLK(&request));
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let result = fcntl(file, FcntlArg::F_SETLK(&request));
        match result {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN | Errno::EACCES) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(err) => return Err(io::Error::from(err)),
        }
    }
}

/// The offset of the first whole record before `end` that `pututline` would replace
/// with `new`.
fn find_slot(file: &File, end: u64, new: &[u8; UTMP_RECORD_LEN]) -> io::Result<Option<u64>> {
    let mut buf = [0; UTMP_RECORD_LEN];
    let mut offset = 0u64;
    while offset < end && read_record_at(file, &mut buf, offset)? {
        if slot_matches(new, &buf) {
            return Ok(Some(offset));
        }
        offset += UTMP_RECORD_LEN as u64;
    }
    Ok(None)
}

/// glibc's `matches`: both of a process type, and equal ids (or lines when an id is
/// empty), compared as `strncmp` does.
fn slot_matches(new: &[u8], old: &[u8]) -> bool {
    let is_process = |rec: &[u8]| {
        let ty = i16::from_le_bytes(get(rec, UT_TYPE));
        matches!(
            ty,
            INIT_PROCESS | LOGIN_PROCESS | USER_PROCESS | DEAD_PROCESS
        )
    };
    let field = |rec: &'_ [u8], at: usize, len: usize| -> Vec<u8> {
        let bytes = rec.get(at..at + len).unwrap_or_default();
        bytes.iter().copied().take_while(|&b| b != 0).collect()
    };
    if !is_process(new) || !is_process(old) {
        return false;
    }
    let (new_id, old_id) = (field(new, UT_ID, UT_IDSIZE), field(old, UT_ID, UT_IDSIZE));
    if !new_id.is_empty() && !old_id.is_empty() {
        new_id == old_id
    } else {
        field(new, UT_LINE, UT_LINESIZE) == field(old, UT_LINE, UT_LINESIZE)
    }
}

/// Reads one whole record at `offset`; `false` at (or across) the end of the file.
fn read_record_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<bool> {
    match file.read_exact_at(buf, offset) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(err) => Err(err),
    }
}

fn lastlog_offset(uid: u32) -> io::Result<u64> {
    u64::from(uid)
        .checked_mul(LASTLOG_RECORD_LEN as u64)
        .filter(|&offset| i64::try_from(offset).is_ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "lastlog offset overflows"))
}

/// OpenSSH's `line_stripname`: the line without a leading `/dev/`.
fn strip_dev(line: &str) -> &str {
    line.strip_prefix("/dev/").unwrap_or(line)
}

/// OpenSSH's `line_abbrevname` for `ut_id`: the last four bytes of the stripped line
/// (from a character boundary).
fn abbrev_id(line: &str) -> &str {
    let mut start = line.len().saturating_sub(UT_IDSIZE);
    while !line.is_char_boundary(start) {
        start += 1;
    }
    line.get(start..).unwrap_or_default()
}

/// OpenSSH's `ut_addr_v6`: an IPv4 address (or IPv4-mapped IPv6 one) in the first four
/// bytes, an IPv6 address in all sixteen.
fn addr_v6(addr: IpAddr) -> [u8; 16] {
    let v4 = match addr {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4,
            None => return v6.octets(),
        },
    };
    let [a, b, c, d] = v4.octets();
    [a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
}

/// Seconds and microseconds since the epoch (negative seconds before it).
fn split_time(time: SystemTime) -> (i64, i32) {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => (
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            since.subsec_micros() as i32,
        ),
        Err(err) => (
            i64::try_from(err.duration().as_secs()).map_or(i64::MIN, |s| -s),
            0,
        ),
    }
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// `strncpy` into a `len`-byte field: up to the first NUL, cut at `len` bytes.
fn put_str(buf: &mut [u8], at: usize, len: usize, s: &str) {
    let bytes = s.as_bytes();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let bytes = bytes.get(..end.min(len)).unwrap_or_default();
    put(buf, at, bytes);
}

fn get<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    if let Some(src) = buf.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

fn get_str(buf: &[u8], at: usize, len: usize) -> String {
    let field = buf.get(at..at + len).unwrap_or_default();
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(field.get(..end).unwrap_or_default()).into_owned()
}

#[cfg(test)]
mod tests;
