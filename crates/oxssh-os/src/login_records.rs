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

/// `time` as C's `ctime` writes it, without the newline: `Wed Dec  2 04:52:25 2026`.
/// Times are clamped to about a million years either side of 1970.
pub fn ctime(time: i64, tz: &TimeZone) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let time = clamp_time(time);
    let local = time + i64::from(tz.offset_at(time));
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS.get(weekday(days) as usize).unwrap_or(&"???");
    let month = MONTHS
        .get((month as usize).wrapping_sub(1))
        .unwrap_or(&"???");
    format!(
        "{weekday} {month} {day:>2} {:02}:{:02}:{:02} {year}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// A time zone read from a TZif file (RFC 8536, versions 1 to 4) or a POSIX `TZ` string:
/// enough to turn a UTC time into local time as glibc's `localtime` does (leap-second
/// `right/` zones are read as if they had none; before 1970 a bare POSIX rule applies its
/// daylight time where glibc applies none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeZone {
    /// Transition times, ascending.
    transitions: Vec<i64>,
    /// For each transition, the index of its type in `offsets`.
    types: Vec<u8>,
    /// Each type's offset from UTC in seconds (east positive).
    offsets: Vec<i32>,
    /// The rule after the last transition (the TZif footer), if any.
    rule: Option<PosixTz>,
}

impl TimeZone {
    /// UTC.
    pub fn utc() -> Self {
        Self::from_rule(PosixTz { std: 0, dst: None })
    }

    /// The process's local time zone as glibc finds it: `TZ` unset means
    /// `/etc/localtime`; empty means UTC; otherwise (without a leading `:`) a TZif file,
    /// absolute or under `/usr/share/zoneinfo`, else a POSIX rule such as
    /// `CET-1CEST,M3.5.0,M10.5.0/3`. Anything unreadable falls back to UTC.
    pub fn local() -> Self {
        let Some(tz) = std::env::var_os("TZ") else {
            return Self::from_file(Path::new("/etc/localtime")).unwrap_or_else(Self::utc);
        };
        let tz = tz.to_string_lossy();
        let name = tz.strip_prefix(':').unwrap_or(&tz);
        if name.is_empty() {
            return Self::utc();
        }
        let path = if name.starts_with('/') {
            PathBuf::from(name)
        } else {
            Path::new("/usr/share/zoneinfo").join(name)
        };
        Self::from_file(&path)
            .or_else(|| Self::from_posix(name))
            .unwrap_or_else(Self::utc)
    }

    /// Reads a TZif file; `None` when it cannot be read or parsed.
    pub fn from_file(path: &Path) -> Option<Self> {
        let data = std::fs::read(path).ok()?;
        Self::from_tzif(&data)
    }

    /// Parses TZif data (RFC 8536); `None` when malformed.
    pub fn from_tzif(data: &[u8]) -> Option<Self> {
        let mut input = Bytes(data);
        let header = TzifHeader::read(&mut input)?;
        if header.version == 0 {
            return header.read_body(&mut input, 4);
        }
        input.skip(header.body_len(4)?)?;
        let header = TzifHeader::read(&mut input)?;
        header.read_body(&mut input, 8)
    }

    /// A zone from a POSIX `TZ` rule string; `None` when malformed.
    pub fn from_posix(rule: &str) -> Option<Self> {
        PosixTz::parse(rule.as_bytes()).map(Self::from_rule)
    }

    fn from_rule(rule: PosixTz) -> Self {
        Self {
            transitions: Vec::new(),
            types: Vec::new(),
            offsets: Vec::new(),
            rule: Some(rule),
        }
    }

    /// The offset from UTC in seconds (east positive) at `time`.
    pub fn offset_at(&self, time: i64) -> i32 {
        let time = clamp_time(time);
        let after = self.transitions.partition_point(|&t| t <= time);
        if after == 0 {
            // Before the first transition: type 0 (RFC 8536 §3.2), or the rule alone.
            return match (&self.rule, self.offsets.first()) {
                (Some(rule), _) if self.transitions.is_empty() => rule.offset_at(time),
                (_, Some(&offset)) => offset,
                _ => 0,
            };
        }
        if after == self.transitions.len() {
            if let Some(rule) = &self.rule {
                return rule.offset_at(time);
            }
        }
        self.types
            .get(after - 1)
            .and_then(|&ty| self.offsets.get(usize::from(ty)))
            .copied()
            .unwrap_or(0)
    }
}

/// A POSIX `TZ` rule: standard offset and optionally daylight saving time.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PosixTz {
    /// Standard time's offset from UTC, seconds east.
    std: i32,
    dst: Option<Dst>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Dst {
    /// Daylight time's offset from UTC, seconds east.
    offset: i32,
    /// When it starts, in local standard time.
    start: Rule,
    /// When it ends, in local daylight time.
    end: Rule,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rule {
    date: RuleDate,
    /// Seconds after the day's local midnight (may be negative or beyond a day).
    time: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RuleDate {
    /// `Jn`: day 1 to 365, February 29 never counted.
    Julian1(i64),
    /// `n`: day 0 to 365, February 29 counted.
    Julian0(i64),
    /// `Mm.w.d`: weekday `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    MonthWeekDay(i64, i64, i64),
}

impl PosixTz {
    fn parse(s: &[u8]) -> Option<Self> {
        let mut p = Bytes(s);
        p.tz_name()?;
        let std = -p.tz_time(24)?;
        if p.0.is_empty() {
            return Some(Self { std, dst: None });
        }
        p.tz_name()?;
        let offset = match p.0.first() {
            Some(b',') | None => std + 3600,
            Some(_) => -p.tz_time(24)?,
        };
        let (start, end) = if p.0.is_empty() {
            // glibc's default: the US rules.
            let rule = |m, w| Rule {
                date: RuleDate::MonthWeekDay(m, w, 0),
                time: 7200,
            };
            (rule(3, 2), rule(11, 1))
        } else {
            p.byte(b',')?;
            let start = p.tz_rule()?;
            p.byte(b',')?;
            (start, p.tz_rule()?)
        };
        if !p.0.is_empty() {
            return None;
        }
        let dst = Dst { offset, start, end };
        Some(Self {
            std,
            dst: Some(dst),
        })
    }

    fn offset_at(&self, time: i64) -> i32 {
        let Some(dst) = &self.dst else {
            return self.std;
        };
        let (year, _, _) = civil_from_days((time + i64::from(self.std)).div_euclid(86_400));
        let start = dst.start.at(year) - i64::from(self.std);
        let end = dst.end.at(year) - i64::from(dst.offset);
        let in_dst = if start <= end {
            start <= time && time < end
        } else {
            !(end <= time && time < start)
        };
        if in_dst {
            dst.offset
        } else {
            self.std
        }
    }
}

impl Rule {
    /// The rule's moment in `year`, as seconds since the epoch in the rule's local time.
    fn at(&self, year: i64) -> i64 {
        let jan1 = days_from_civil(year, 1, 1);
        let leap = is_leap(year);
        let day = match self.date {
            RuleDate::Julian1(n) => jan1 + n - 1 + i64::from(leap && n >= 60),
            RuleDate::Julian0(n) => jan1 + n,
            RuleDate::MonthWeekDay(m, w, d) => {
                let first = days_from_civil(year, m, 1);
                let len = days_in_month(year, m);
                let mut day = first + (d - weekday(first)).rem_euclid(7) + (w - 1) * 7;
                while day >= first + len {
                    day -= 7;
                }
                day
            }
        };
        day * 86_400 + i64::from(self.time)
    }
}

/// A cursor over bytes, for TZif files and `TZ` strings; every read is checked.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(drop)
    }

    fn be_u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn be_time(&mut self, width: usize) -> Option<i64> {
        let bytes = self.take(width)?;
        Some(match width {
            4 => i64::from(i32::from_be_bytes(bytes.try_into().ok()?)),
            _ => i64::from_be_bytes(bytes.try_into().ok()?),
        })
    }

    fn byte(&mut self, want: u8) -> Option<()> {
        (self.take(1)? == [want]).then_some(())
    }

    fn peek_is(&self, f: impl Fn(u8) -> bool) -> bool {
        self.0.first().is_some_and(|&b| f(b))
    }

    fn number(&mut self) -> Option<i64> {
        let digits = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 6 {
            return None;
        }
        let text = std::str::from_utf8(self.take(digits)?).ok()?;
        text.parse().ok()
    }

    /// A zone abbreviation: `<...>` or at least three letters.
    fn tz_name(&mut self) -> Option<()> {
        if self.peek_is(|b| b == b'<') {
            let len = self.0.iter().position(|&b| b == b'>')?;
            return self.skip(len + 1);
        }
        let len = self
            .0
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        (len >= 3).then(|| self.skip(len))?
    }

    /// `[+-]hh[:mm[:ss]]` in seconds, hours at most `max_hours`.
    fn tz_time(&mut self, max_hours: i64) -> Option<i32> {
        let sign = match self.0.first() {
            Some(b'-') => -1,
            Some(b'+') => 1,
            _ => 0,
        };
        if sign != 0 {
            self.skip(1)?;
        }
        let hours = self.number()?;
        let mut secs = hours * 3600;
        for unit in [60, 1] {
            if !self.peek_is(|b| b == b':') {
                break;
            }
            self.skip(1)?;
            let n = self.number()?;
            if n > 59 {
                return None;
            }
            secs += n * unit;
        }
        if hours > max_hours {
            return None;
        }
        i32::try_from(if sign < 0 { -secs } else { secs }).ok()
    }

    /// `Jn`, `n` or `Mm.w.d`, then an optional `/time` (RFC 8536 allows -167 to 167 h).
    fn tz_rule(&mut self) -> Option<Rule> {
        let date = if self.peek_is(|b| b == b'J') {
            self.skip(1)?;
            let n = self.number()?;
            (1..=365).contains(&n).then_some(RuleDate::Julian1(n))?
        } else if self.peek_is(|b| b == b'M') {
            self.skip(1)?;
            let m = self.number()?;
            self.byte(b'.')?;
            let w = self.number()?;
            self.byte(b'.')?;
            let d = self.number()?;
            let valid = (1..=12).contains(&m) && (1..=5).contains(&w) && (0..=6).contains(&d);
            valid.then_some(RuleDate::MonthWeekDay(m, w, d))?
        } else {
            let n = self.number()?;
            (0..=365).contains(&n).then_some(RuleDate::Julian0(n))?
        };
        let time = if self.peek_is(|b| b == b'/') {
            self.skip(1)?;
            self.tz_time(167)?
        } else {
            7200
        };
        Some(Rule { date, time })
    }
}

/// A TZif header's version and counts.
struct TzifHeader {
    version: u8,
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

impl TzifHeader {
    fn read(input: &mut Bytes<'_>) -> Option<Self> {
        if input.take(4)? != b"TZif" {
            return None;
        }
        let version = match input.take(1)? {
            [0] => 0,
            [v] if v.is_ascii_digit() => *v - b'0',
            _ => return None,
        };
        input.skip(15)?;
        let mut count = || input.be_u32().and_then(|n| usize::try_from(n).ok());
        Some(Self {
            version,
            isutcnt: count()?,
            isstdcnt: count()?,
            leapcnt: count()?,
            timecnt: count()?,
            typecnt: count()?,
            charcnt: count()?,
        })
    }

    /// Bytes of the data block after the header, with `width`-byte times.
    fn body_len(&self, width: usize) -> Option<usize> {
        let parts = [
            self.timecnt.checked_mul(width + 1)?,
            self.typecnt.checked_mul(6)?,
            self.charcnt,
            self.leapcnt.checked_mul(width + 4)?,
            self.isstdcnt,
            self.isutcnt,
        ];
        parts.iter().try_fold(0usize, |sum, &n| sum.checked_add(n))
    }

    fn read_body(&self, input: &mut Bytes<'_>, width: usize) -> Option<TimeZone> {
        if self.typecnt == 0 || self.body_len(width)? > input.0.len() {
            return None;
        }
        let transitions = (0..self.timecnt)
            .map(|_| input.be_time(width))
            .collect::<Option<Vec<_>>>()?;
        let types = input.take(self.timecnt)?.to_vec();
        if types.iter().any(|&ty| usize::from(ty) >= self.typecnt) {
            return None;
        }
        let offsets = (0..self.typecnt)
            .map(|_| {
                let offset = input.be_u32()? as i32;
                input.skip(2)?;
                Some(offset)
            })
            .collect::<Option<Vec<_>>>()?;
        let rest = self.charcnt + self.leapcnt * (width + 4) + self.isstdcnt + self.isutcnt;
        input.skip(rest)?;
        // Version 2+: a footer line holding the POSIX rule for later times.
        let rule = if width == 8 {
            input.byte(b'\n')?;
            let len = input.0.iter().position(|&b| b == b'\n')?;
            let footer = input.take(len)?;
            if footer.is_empty() {
                None
            } else {
                Some(PosixTz::parse(footer)?)
            }
        } else {
            None
        };
        Some(TimeZone {
            transitions,
            types,
            offsets,
            rule,
        })
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

/// Keeps calendar arithmetic far from overflow: about a million years either side.
fn clamp_time(time: i64) -> i64 {
    time.clamp(-(1 << 45), 1 << 45)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// 0 = Sunday.
fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01: (year, month 1-12, day 1-31).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> io::Result<Self> {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("oxssh-login-records-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir)?;
            Ok(Self(dir))
        }

        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }

        /// The three files, created empty.
        fn records(&self) -> io::Result<LoginRecords> {
            let records = LoginRecords {
                utmp: self.path("utmp"),
                wtmp: self.path("wtmp"),
                lastlog: self.path("lastlog"),
            };
            for path in [&records.utmp, &records.wtmp, &records.lastlog] {
                File::create(path)?;
            }
            Ok(records)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn run(program: &str, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
        let out = Command::new(program).args(args).output()?;
        if !out.status.success() {
            return Err(format!(
                "{program} {args:?}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    fn at(secs: u64, usec: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, usec * 1000)
    }

    /// 2026-12-02T04:52:25Z.
    const T: u64 = 1_796_187_145;

    #[test]
    fn utmp_record_layout_matches_glibc_offsets() {
        let addr = "192.0.2.7".parse().ok();
        let rec = UtmpRecord::user_process(12345, "/dev/pts/3", "alice", "host", addr, at(T, 7));
        let bytes = rec.encode();
        assert_eq!(bytes.get(0..4), Some(&[7, 0, 0, 0][..]));
        assert_eq!(bytes.get(4..8), Some(&12345i32.to_le_bytes()[..]));
        assert_eq!(bytes.get(8..14), Some(&b"pts/3\0"[..]));
        assert_eq!(bytes.get(40..44), Some(&b"ts/3"[..]));
        assert_eq!(bytes.get(44..50), Some(&b"alice\0"[..]));
        assert_eq!(bytes.get(76..81), Some(&b"host\0"[..]));
        assert_eq!(bytes.get(340..344), Some(&(T as i32).to_le_bytes()[..]));
        assert_eq!(bytes.get(344..348), Some(&7i32.to_le_bytes()[..]));
        assert_eq!(bytes.get(348..352), Some(&[192, 0, 2, 7][..]));
        assert!(bytes
            .get(352..)
            .is_some_and(|rest| rest.iter().all(|&b| b == 0)));
        assert_eq!(UtmpRecord::decode(&bytes), rec);
        assert_eq!(rec.addr(), addr);
        assert_eq!(rec.line, "pts/3");
    }

    #[test]
    fn addresses_as_openssh_stores_them() {
        let rec = |addr: &str| {
            let addr = addr.parse().ok();
            UtmpRecord::user_process(1, "pts/0", "u", "h", addr, at(T, 0))
        };
        let mapped = rec("::ffff:127.0.0.1");
        assert_eq!(
            mapped.addr_v6,
            [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(mapped.addr(), "127.0.0.1".parse().ok());
        let v6 = rec("2001:db8::1");
        assert_eq!(
            v6.addr_v6,
            "2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .map(|a| a.octets())
                .unwrap_or_default()
        );
        assert_eq!(v6.addr(), "2001:db8::1".parse().ok());
        let none = UtmpRecord::user_process(1, "pts/0", "u", "h", None, at(T, 0));
        assert_eq!((none.addr_v6, none.addr()), ([0; 16], None));
    }

    #[test]
    fn encoding_is_byte_for_byte_what_utmpdump_writes() -> TestResult {
        let dir = TempDir::new()?;
        let records = dir.records()?;
        let addr = "192.0.2.7".parse().ok();
        let rec =
            UtmpRecord::user_process(12345, "pts/3", "alice", "192.0.2.7", addr, at(T, 123_456));
        assert_eq!(
            records.write(&rec)?,
            Written {
                utmp: true,
                wtmp: true
            }
        );

        // utmpdump's text for our file, field by field.
        let dump = run("utmpdump", &[&records.wtmp.to_string_lossy()])?;
        let fields: Vec<&str> = dump
            .trim_end()
            .split("] [")
            .map(|f| f.trim_matches(|c| c == '[' || c == ']').trim_end())
            .collect();
        assert_eq!(
            fields,
            [
                "7",
                "12345",
                "ts/3",
                "alice",
                "pts/3",
                "192.0.2.7",
                "192.0.2.7",
                "2026-12-02T04:52:25,123456+00:00"
            ],
            "{dump}"
        );

        // utmpdump -r turns that text back into the bytes we wrote.
        let reference = dir.path("reference");
        std::fs::write(dir.path("dump.txt"), &dump)?;
        let status = Command::new("sh")
            .arg("-c")
            .arg("TZ=UTC utmpdump -r < \"$1\" > \"$2\" 2>/dev/null")
            .arg("sh")
            .arg(dir.path("dump.txt"))
            .arg(&reference)
            .status()?;
        assert!(status.success());
        assert_eq!(std::fs::read(&reference)?, rec.encode().to_vec());
        assert_eq!(std::fs::read(&records.utmp)?, rec.encode().to_vec());
        Ok(())
    }

    /// Read only: sshd's own records in the system's wtmp (when an OpenSSH login left
    /// some) are exactly what `UtmpRecord::user_process` builds from the same fields.
    #[test]
    fn sshd_records_in_the_system_wtmp_are_rebuilt_exactly() -> TestResult {
        let Ok(bytes) = std::fs::read(WTMP_PATH) else {
            return Ok(());
        };
        let mut checked = 0;
        for raw in bytes.chunks_exact(UTMP_RECORD_LEN) {
            let rec = UtmpRecord::decode(raw);
            if rec.ut_type != USER_PROCESS || !rec.line.starts_with("pts/") {
                continue;
            }
            let time = at(u64::try_from(rec.time)?, u32::try_from(rec.usec)?);
            let built = UtmpRecord::user_process(
                rec.pid,
                &rec.line,
                &rec.user,
                &rec.host,
                rec.addr(),
                time,
            );
            assert_eq!(built.encode().as_slice(), raw, "{rec:?}");
            checked += 1;
        }
        eprintln!("{checked} pts login records from {WTMP_PATH} rebuilt byte for byte");
        Ok(())
    }

    #[test]
    fn last_and_who_read_our_records() -> TestResult {
        let dir = TempDir::new()?;
        let records = dir.records()?;
        let addr = "127.0.0.1".parse().ok();
        let pid = 4242;
        let login = UtmpRecord::user_process(pid, "pts/9", "oxlast", "127.0.0.1", addr, at(T, 0));
        assert_eq!(
            records.write(&login)?,
            Written {
                utmp: true,
                wtmp: true
            }
        );
        let who = run("who", &[&records.utmp.to_string_lossy()])?;
        assert!(who.starts_with("oxlast") && who.contains("pts/9"), "{who}");
        assert!(who.contains("(127.0.0.1)"), "{who}");
        let last = run("last", &["-f", &records.wtmp.to_string_lossy()])?;
        // `last` checks /proc/PID/loginuid against the user's uid: no such user here.
        assert!(last.contains("gone - no logout"), "{last}");

        records.write(&UtmpRecord::dead_process(pid, "pts/9", at(T + 125, 0)))?;
        let who = run("who", &[&records.utmp.to_string_lossy()])?;
        assert_eq!(who, "");
        let last = run("last", &["-f", &records.wtmp.to_string_lossy()])?;
        let first = last.lines().next().unwrap_or_default();
        let words: Vec<&str> = first.split_whitespace().collect();
        assert_eq!(
            words.get(..3),
            Some(&["oxlast", "pts/9", "127.0.0.1"][..]),
            "{last}"
        );
        assert!(!last.contains("no logout"), "{last}");
        assert!(first.ends_with("(00:02)"), "{last}");
        Ok(())
    }

    #[test]
    fn utmp_slots_are_reused_by_id_and_wtmp_appends() -> TestResult {
        let dir = TempDir::new()?;
        let records = dir.records()?;
        records.login(10, "pts/3", "alice", "a", None)?;
        records.login(11, "pts/4", "bob", "b", None)?;
        records.logout(10, "pts/3")?;
        let utmp = read_records(&records.utmp)?;
        let summary: Vec<_> = utmp
            .iter()
            .map(|r| {
                (
                    r.ut_type,
                    r.pid,
                    r.line.as_str(),
                    r.user.as_str(),
                    r.host.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (DEAD_PROCESS, 10, "pts/3", "", ""),
                (USER_PROCESS, 11, "pts/4", "bob", "b")
            ]
        );
        records.login(12, "pts/3", "carol", "c", None)?;
        let utmp = read_records(&records.utmp)?;
        assert_eq!(utmp.len(), 2);
        assert_eq!(utmp.first().map(|r| r.user.as_str()), Some("carol"));
        assert_eq!(read_records(&records.wtmp)?.len(), 4);

        // A torn record at the end is cut off before appending (glibc does the same).
        let torn = OpenOptions::new().append(true).open(&records.wtmp)?;
        torn.write_all_at(&[7; 100], 0)?;
        drop(torn);
        records.login(13, "pts/5", "dave", "d", None)?;
        assert_eq!(
            std::fs::metadata(&records.wtmp)?.len(),
            5 * UTMP_RECORD_LEN as u64
        );
        assert_eq!(read_records(&records.wtmp)?.last().map(|r| r.pid), Some(13));
        Ok(())
    }

    #[test]
    fn missing_files_are_skipped_and_never_created() -> TestResult {
        let dir = TempDir::new()?;
        let records = LoginRecords {
            utmp: dir.path("no-utmp"),
            wtmp: dir.path("no-wtmp"),
            lastlog: dir.path("no-lastlog"),
        };
        let none = Written {
            utmp: false,
            wtmp: false,
        };
        assert_eq!(records.login(1, "pts/1", "u", "h", None)?, none);
        assert_eq!(records.logout(1, "pts/1")?, none);
        assert!(!records.record_login(0, "pts/1", "h", 1)?);
        assert_eq!(records.last_login(0)?, None);
        assert!(read_records(&records.utmp)?.is_empty());
        for path in [&records.utmp, &records.wtmp, &records.lastlog] {
            assert!(!path.exists());
        }
        // A directory (OpenSSH's per-user lastlog layout) is skipped too.
        let dirs = LoginRecords {
            utmp: dir.0.clone(),
            wtmp: dir.0.clone(),
            lastlog: dir.0.clone(),
        };
        assert_eq!(dirs.login(1, "pts/1", "u", "h", None)?, none);
        assert!(!dirs.record_login(0, "pts/1", "h", 1)?);
        assert_eq!(dirs.last_login(0)?, None);
        // Only wtmp there: it is appended, utmp skipped.
        File::create(dir.path("only-wtmp"))?;
        let half = LoginRecords {
            wtmp: dir.path("only-wtmp"),
            ..records
        };
        assert_eq!(
            half.login(1, "pts/1", "u", "h", None)?,
            Written {
                utmp: false,
                wtmp: true
            }
        );
        Ok(())
    }

    #[test]
    fn concurrent_writers_leave_whole_records() -> TestResult {
        let dir = TempDir::new()?;
        let records = dir.records()?;
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let records = records.clone();
                std::thread::spawn(move || -> io::Result<()> {
                    for i in 0..100 {
                        let pid = t * 1000 + i;
                        let line = format!("pts/{pid}");
                        records.login(pid, &line, &format!("user{t}"), "127.0.0.1", None)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for thread in threads {
            thread.join().map_err(|_| "writer panicked")??;
        }
        assert_eq!(
            std::fs::metadata(&records.wtmp)?.len(),
            200 * UTMP_RECORD_LEN as u64
        );
        for path in [&records.wtmp, &records.utmp] {
            let mut pids: Vec<i32> = read_records(path)?
                .iter()
                .map(|r| {
                    assert_eq!(r.ut_type, USER_PROCESS);
                    assert_eq!(r.line, format!("pts/{}", r.pid));
                    assert_eq!(r.user, format!("user{}", r.pid / 1000));
                    r.pid
                })
                .collect();
            pids.sort_unstable();
            let want: Vec<i32> = (0..100).chain(1000..1100).collect();
            assert_eq!(pids, want, "{}", path.display());
        }
        Ok(())
    }

    /// Our lock conflicts with a classic `fcntl` lock (glibc's) held by another process:
    /// the write waits for it.
    #[test]
    fn writers_wait_for_another_process_fcntl_lock() -> TestResult {
        let dir = TempDir::new()?;
        let records = dir.records()?;
        let script = "import fcntl, sys, time\n\
                      f = open(sys.argv[1], 'r+')\n\
                      fcntl.lockf(f, fcntl.LOCK_EX)\n\
                      print('locked', flush=True)\n\
                      time.sleep(0.5)\n";
        let Ok(mut child) = Command::new("python3")
            .args(["-c", script])
            .arg(&records.utmp)
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("skipped: no python3");
            return Ok(());
        };
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        io::BufRead::read_line(&mut io::BufReader::new(stdout), &mut line)?;
        assert_eq!(line, "locked\n");
        let start = Instant::now();
        records.login(1, "pts/1", "u", "h", None)?;
        let waited = start.elapsed();
        child.wait()?;
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        assert_eq!(read_records(&records.utmp)?.len(), 1);
        Ok(())
    }

    #[test]
    fn lastlog_round_trip_short_and_zero_records() -> TestResult {
        let dir = TempDir::new()?;
        let records = dir.records()?;
        assert_eq!(records.last_login(1000)?, None); // empty file
        assert!(records.record_login(1000, "/dev/pts/2", "192.0.2.9", T as i64)?);
        assert_eq!(
            std::fs::metadata(&records.lastlog)?.len(),
            1001 * LASTLOG_RECORD_LEN as u64
        );
        let last = LastLogin {
            time: T as i64,
            line: "pts/2".into(),
            host: "192.0.2.9".into(),
        };
        assert_eq!(records.last_login(1000)?, Some(last.clone()));
        assert_eq!(records.last_login(999)?, None); // a hole: zero record
        assert_eq!(records.last_login(1001)?, None); // past the end
        let bytes = std::fs::read(&records.lastlog)?;
        let record = bytes.get(1000 * 292..).unwrap_or_default();
        assert_eq!(record.get(0..4), Some(&(T as i32).to_le_bytes()[..]));
        assert_eq!(record.get(4..10), Some(&b"pts/2\0"[..]));
        assert_eq!(record.get(36..46), Some(&b"192.0.2.9\0"[..]));
        // A file cut inside the record.
        let file = OpenOptions::new().write(true).open(&records.lastlog)?;
        file.set_len(1000 * 292 + 100)?;
        assert_eq!(records.last_login(1000)?, None);
        Ok(())
    }

    #[test]
    fn huge_uids_are_sparse_offsets_without_overflow() -> TestResult {
        let dir = TempDir::new()?;
        let records = dir.records()?;
        assert_eq!(lastlog_offset(u32::MAX)?, u64::from(u32::MAX) * 292);
        assert_eq!(records.last_login(u32::MAX)?, None);
        // ext4 takes the 1.25 TB sparse offset; a file system that does not may refuse
        // with an error, never a panic.
        match records.record_login(u32::MAX - 1, "pts/1", "h", 5) {
            Ok(true) => assert_eq!(records.last_login(u32::MAX - 1)?.map(|l| l.time), Some(5)),
            Ok(false) => return Err("skipped an existing file".into()),
            Err(err) => eprintln!("huge uid refused by the file system: {err}"),
        }
        Ok(())
    }

    #[test]
    fn string_fields_are_bounded_and_any_bytes_decode() {
        let long = "x".repeat(1000);
        let rec = UtmpRecord::user_process(1, &long, &long, &long, None, at(T, 0));
        let decoded = UtmpRecord::decode(&rec.encode());
        assert_eq!(decoded.line.len(), 32);
        assert_eq!(decoded.id, "xxxx");
        assert_eq!(decoded.user.len(), 32);
        assert_eq!(decoded.host.len(), 256);
        // NUL ends a string, as in C; non-ASCII is cut at any byte and decodes lossily.
        let rec = UtmpRecord::user_process(
            1,
            "pts/1\0junk",
            "a\0b",
            "é".repeat(200).as_str(),
            None,
            at(T, 0),
        );
        let decoded = UtmpRecord::decode(&rec.encode());
        assert_eq!(
            (decoded.line.as_str(), decoded.user.as_str()),
            ("pts/1", "a")
        );
        assert!(decoded.host.starts_with("éé"));
        assert_eq!(abbrev_id("ééé"), "éé");
        assert_eq!(abbrev_id("aéé"), "éé");
        assert_eq!(abbrev_id("tty1"), "tty1");
        assert_eq!(abbrev_id("console"), "sole");
        assert_eq!(abbrev_id(""), "");
        // lastlog's host keeps a NUL (strlcpy): 255 bytes at most.
        let last = LastLogin {
            time: 1,
            line: long.clone(),
            host: long.clone(),
        };
        let decoded = LastLogin::decode(&last.encode());
        assert_eq!((decoded.line.len(), decoded.host.len()), (32, 255));
        // Arbitrary and short inputs decode without panicking.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..1000 {
            let bytes: Vec<u8> = (0..len % 400)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let rec = UtmpRecord::decode(&bytes);
            let _ = (rec.addr(), rec.encode());
            let last = LastLogin::decode(&bytes);
            let _ = format_last_login_in(&last, &TimeZone::utc());
            let _ = TimeZone::from_tzif(&bytes);
            let _ = TimeZone::from_posix(&String::from_utf8_lossy(&bytes));
        }
        for time in [
            i64::MIN,
            i64::MAX,
            -1,
            0,
            i64::from(i32::MIN),
            i64::from(i32::MAX),
        ] {
            let _ = ctime(time, &TimeZone::utc());
        }
    }

    #[test]
    fn last_login_line_as_openssh_prints_it() {
        let utc = TimeZone::utc();
        let mut last = LastLogin {
            time: 1_796_187_145,
            line: "pts/0".into(),
            host: "127.0.0.1".into(),
        };
        assert_eq!(
            format_last_login_in(&last, &utc),
            "Last login: Wed Dec  2 04:52:25 2026 from 127.0.0.1"
        );
        last.host.clear();
        assert_eq!(
            format_last_login_in(&last, &utc),
            "Last login: Wed Dec  2 04:52:25 2026"
        );
        assert_eq!(ctime(0, &utc), "Thu Jan  1 00:00:00 1970");
        assert_eq!(ctime(-1, &utc), "Wed Dec 31 23:59:59 1969");
        assert_eq!(ctime(951_782_400, &utc), "Tue Feb 29 00:00:00 2000");
    }

    /// Local times from our TZif and POSIX-rule readers against `date` (glibc).
    #[test]
    fn local_time_agrees_with_date() -> TestResult {
        let zones = [
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Australia/Sydney",
            "Asia/Kolkata",
            "America/Santiago",
            "Pacific/Chatham",
            "Africa/Casablanca",
            "EST5EDT,M3.2.0,M11.1.0",
            "<+0330>-3:30",
            "AEST-10AEDT,M10.1.0,M4.1.0/3",
        ];
        let mut times: Vec<i64> = vec![-2_000_000_000, 0, 1_000_000_000, 1_796_187_145];
        // Around both 2026 Berlin/New York changes, and years past the TZif tables.
        for base in [
            1_774_746_000i64,
            1_792_890_000,
            1_772_953_200,
            1_793_512_800,
            2_500_000_000,
            4_000_000_000,
        ] {
            times.extend([base - 3601, base - 1, base, base + 1, base + 3601]);
        }
        for step in 0..40 {
            times.push(1_600_000_000 + step * 7_654_321);
        }
        let mut script = String::new();
        for zone in zones {
            for time in &times {
                script.push_str(&format!(
                    "TZ='{zone}' date -d @{time} '+%a %b %e %H:%M:%S %Y'\n"
                ));
            }
        }
        let out = run("sh", &["-c", &script])?;
        let mut want = out.lines();
        for zone in zones {
            let tz = if zone.contains(',') || zone.starts_with('<') {
                TimeZone::from_posix(zone).ok_or(zone)?
            } else {
                TimeZone::from_file(&Path::new("/usr/share/zoneinfo").join(zone)).ok_or(zone)?
            };
            for &time in &times {
                let want = want.next().unwrap_or_default();
                // glibc applies POSIX rules from 1970 on only (its `compute_change`).
                if time < 0 && zone.contains(',') {
                    continue;
                }
                assert_eq!(ctime(time, &tz), want, "{zone} @{time}");
            }
        }
        Ok(())
    }

    /// Only when root can make a private mount namespace: shadow's `lastlog` (no option
    /// for another file) reads and writes our temp file bound over /var/log/lastlog.
    #[test]
    fn shadow_lastlog_agrees_with_our_records() -> TestResult {
        let dir = TempDir::new()?;
        let records = dir.records()?;
        let lastlog = records.lastlog.to_string_lossy().into_owned();
        let in_namespace = |cmd: &str| {
            run(
                "unshare",
                &[
                    "-m",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    &format!("mount --bind \"$0\" /var/log/lastlog && TZ=UTC {cmd}"),
                    &lastlog,
                ],
            )
        };
        if in_namespace("true").is_err() {
            eprintln!("skipped: no private mount namespace (needs root)");
            return Ok(());
        }
        records.record_login(0, "pts/7", "192.0.2.44", T as i64)?;
        let out = in_namespace("lastlog -u root")?;
        let line = out.lines().nth(1).unwrap_or_default();
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            words,
            [
                "root",
                "pts/7",
                "192.0.2.44",
                "Wed",
                "Dec",
                "2",
                "04:52:25",
                "+0000",
                "2026"
            ],
            "{out}"
        );
        // The other way: shadow's lastlog -S stamps the record, we read it back.
        let before = unix_now();
        in_namespace("lastlog -S -u root")?;
        let last = records.last_login(0)?.ok_or("no record after lastlog -S")?;
        assert!((before..=unix_now()).contains(&last.time), "{last:?}");
        Ok(())
    }
}
