//! What the benchmark reads from /proc: process trees, CPU ticks and PSS.

use std::fs;

/// Clock ticks per second of the CPU times in /proc/PID/stat (USER_HZ: 100 on Linux).
pub const TICKS_PER_SEC: f64 = 100.0;

/// One process's name and CPU times, in clock ticks.
#[derive(Debug, Clone)]
pub struct Stat {
    /// The executable's name (`comm`).
    pub comm: String,
    /// utime + stime.
    pub own: u64,
    /// cutime + cstime: the children this process has waited for, with their own children.
    pub reaped: u64,
}

/// `/proc/PID/stat` of `pid` ("self" works too), or None when it has gone.
pub fn stat(pid: &str) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // After the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt
    // cmajflt utime stime cutime cstime (fields 3-17 of proc(5)).
    let num = |i: usize| rest.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        comm,
        own: num(11)? + num(12)?,
        reaped: num(13)? + num(14)?,
    })
}

/// The direct children of `pid`, over all of its threads.
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        if let Ok(text) = fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// `root` and all its descendants alive now.
pub fn tree(root: u32) -> Vec<u32> {
    let mut out = vec![root];
    let mut next = 0;
    while let Some(&pid) = out.get(next) {
        out.extend(children(pid));
        next += 1;
    }
    out
}

/// CPU ticks used so far by `root` and every descendant, alive or reaped (a reaped
/// process's time is in its parent's cutime/cstime once waited for).
pub fn tree_ticks(root: u32) -> u64 {
    tree(root)
        .iter()
        .filter_map(|p| stat(&p.to_string()))
        .map(|s| s.own + s.reaped)
        .sum()
}

/// CPU ticks of the children this process has waited for.
pub fn self_reaped_ticks() -> u64 {
    stat("self").map_or(0, |s| s.reaped)
}

/// Proportional set size of `pid` in kB (smaps_rollup), 0 when it has gone.
pub fn pss_kb(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Total PSS (kB) and process count of the processes in `root`'s tree named `comm`
/// (the server's own processes: session commands are left out).
pub fn server_pss(root: u32, comm: &str) -> (u64, usize) {
    let pids: Vec<u32> = tree(root)
        .into_iter()
        .filter(|p| stat(&p.to_string()).is_some_and(|s| s.comm == comm))
        .collect();
    (pids.iter().map(|&p| pss_kb(p)).sum(), pids.len())
}

/// The soft limit on open files of this process.
pub fn open_files_limit() -> Option<u64> {
    let text = fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The 1-minute load average.
pub fn load1() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}
