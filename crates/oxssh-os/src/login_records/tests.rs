//! Login records against temp files and the system tools that read them.

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
        let dir =
            std::env::temp_dir().join(format!("oxssh-login-records-{}-{n}", std::process::id()));
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
    let rec = UtmpRecord::user_process(12345, "pts/3", "alice", "192.0.2.7", addr, at(T, 123_456));
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
        let built =
            UtmpRecord::user_process(rec.pid, &rec.line, &rec.user, &rec.host, rec.addr(), time);
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
