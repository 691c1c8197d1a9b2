//! The markdown report and the throughput plot.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use plotters::prelude::*;

use crate::servers::{Impl, MAX_STARTUPS, USER};
use crate::stats::{summarize, Summary};
use crate::{Opts, Res, Results, BULK_KEX, CIPHERS, CONCURRENCY, KEXES, PAIRS};

/// What the report says about the run itself.
#[derive(Debug)]
pub struct RunInfo {
    pub opts: Opts,
    pub load_before: String,
    pub load_after: String,
    pub cpu_source: String,
    /// The source revision when the run started.
    pub revision: String,
    pub elapsed: Duration,
    pub openssh: String,
    pub oxssh: String,
}

/// Index of OpenSSH's pair and of oxssh's in `PAIRS`.
const BASE: usize = 0;
const OURS: usize = 3;
const DIRS: [&str; 2] = ["up", "down"];
const GIB: f64 = (1u64 << 30) as f64;

fn cmd_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The checkout's commit, and whether crates/ has uncommitted changes.
pub fn revision() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let commit = cmd_line("git", &["-C", dir, "rev-parse", "--short", "HEAD"]);
    let dirty = cmd_line(
        "git",
        &["-C", dir, "status", "--porcelain", "--", "../crates"],
    );
    if dirty.is_empty() {
        format!("commit {commit}")
    } else {
        format!("commit {commit} with uncommitted changes in crates/")
    }
}

/// Today's date (UTC), YYYY-MM-DD.
pub fn today() -> String {
    let d = cmd_line("date", &["-u", "+%F"]);
    if d.is_empty() {
        "undated".into()
    } else {
        d
    }
}

fn pair_name(pi: usize) -> String {
    PAIRS.get(pi).map_or_else(String::new, |(c, s)| {
        let c = if *c == Impl::OpenSsh { "ssh" } else { "oxssh" };
        let s = if *s == Impl::OpenSsh {
            "sshd"
        } else {
            "oxsshd"
        };
        format!("{c}→{s}")
    })
}

fn cell(s: Option<Summary>, digits: usize) -> String {
    match s {
        None => "–".into(),
        Some(s) if s.n == 1 => format!("{:.*}", digits, s.median),
        Some(s) => format!(
            "{:.*} ({:.*}–{:.*})",
            digits, s.median, digits, s.min, digits, s.max
        ),
    }
}

fn ratio(ours: Option<Summary>, base: Option<Summary>) -> Option<f64> {
    match (ours, base) {
        (Some(o), Some(b)) if b.median > 0.0 => Some(o.median / b.median),
        _ => None,
    }
}

fn ratio_cell(r: Option<f64>) -> String {
    r.map_or_else(|| "–".into(), |r| format!("{r:.2}×"))
}

fn met(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "–",
    }
}

fn header_row(out: &mut String, first: &[&str], last: &[&str]) {
    let mut cols: Vec<String> = first.iter().map(|s| s.to_string()).collect();
    cols.extend((0..PAIRS.len()).map(pair_name));
    cols.extend(last.iter().map(|s| s.to_string()));
    let _ = writeln!(out, "| {} |", cols.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(cols.len()));
}

/// Throughput summary (MB/s) of one cell of the matrix.
pub fn throughput(
    results: &Results,
    ci: usize,
    di: usize,
    pi: usize,
    size: u64,
) -> Option<Summary> {
    let v: Vec<f64> = results
        .transfer
        .get(&(ci, di, pi))?
        .iter()
        .map(|t| size as f64 / t.secs / 1e6)
        .collect();
    summarize(&v)
}

/// The markdown report.
pub fn markdown(info: &RunInfo, r: &Results) -> String {
    let o = &info.opts;
    let mut out = String::new();
    let now = cmd_line("date", &["-u", "+%F %H:%M UTC"]);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let ncpu = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(
        out,
        "# oxssh vs OpenSSH, {now} ({})\n",
        if o.quick { "--quick" } else { "full run" }
    );
    let _ = writeln!(
        out,
        "- Machine: {ncpu} CPUs ({cpu}), Linux {}; load average (1 min) {} before, {} after; the run took {:.0} s.",
        cmd_line("uname", &["-r"]),
        info.load_before,
        info.load_after,
        info.elapsed.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "- Peers: {} and oxssh {} ({} when the run started), release build.",
        info.openssh, info.oxssh, info.revision
    );
    let _ = writeln!(
        out,
        "- Servers: `sshd -D` and `oxsshd -D` as root on 127.0.0.1 with the same configuration and the same ed25519 \
         host key (public key only, `UsePAM no`, `StrictModes no`, **`MaxStartups {MAX_STARTUPS}` for both: OpenSSH's \
         default 10:30:100 would refuse concurrent logins, so it is raised to not be the limit**); sessions run as \
         `{USER}` (shell /bin/sh, no start-up files). Key exchange `{BULK_KEX}` everywhere but the latency table."
    );
    let _ = writeln!(
        out,
        "- Every measurement alternates the four pairs in turn; ratio = oxssh→oxsshd / ssh→sshd (median over median).\n"
    );

    // Throughput and CPU.
    let size = o.size_mib << 20;
    if !r.transfer.is_empty() {
        let _ = writeln!(
            out,
            "## Bulk throughput, one connection (MB/s = 10⁶ B/s; {} MiB per transfer; median (min–max) of {} round(s))\n\n\
             up: `head -c SIZE /dev/zero | CLIENT host 'cat >/dev/null'`; down: `CLIENT host 'head -c SIZE /dev/zero' >/dev/null` \
             (the benchmark itself feeds and drains the client's pipes).\n",
            o.size_mib, o.rounds
        );
        header_row(&mut out, &["cipher", "dir"], &["ratio", "target", "met"]);
        for (ci, (cname, _)) in CIPHERS.iter().enumerate() {
            let target = if cname.contains("gcm") { 1.5 } else { 1.3 };
            for (di, dname) in DIRS.iter().enumerate() {
                let cells: Vec<String> = (0..PAIRS.len())
                    .map(|pi| cell(throughput(r, ci, di, pi, size), 0))
                    .collect();
                let rt = ratio(
                    throughput(r, ci, di, OURS, size),
                    throughput(r, ci, di, BASE, size),
                );
                let _ = writeln!(
                    out,
                    "| {cname} | {dname} | {} | {} | ≥ {target}× | {} |",
                    cells.join(" | "),
                    ratio_cell(rt),
                    met(rt.map(|x| x >= target))
                );
            }
        }
        let _ = writeln!(
            out,
            "\n## CPU seconds per GiB (user+sys; client + server, median; server = the server's processes, \
             the session's shell and cat/head left out)\n\n\
             Client: the client process's user+sys (the benchmark's reaped-children times). Server: {}, \
             minus the session command's own CPU, which the remote command reports with the shell's `times`.\n",
            info.cpu_source
        );
        header_row(&mut out, &["cipher", "dir"], &["ratio", "target", "met"]);
        let cpu = |ci: usize, di: usize, pi: usize, f: &dyn Fn(&crate::Transfer) -> f64| {
            r.transfer.get(&(ci, di, pi)).and_then(|v| {
                summarize(
                    &v.iter()
                        .map(|t| f(t) * GIB / size as f64)
                        .collect::<Vec<_>>(),
                )
            })
        };
        let total = |t: &crate::Transfer| t.client_cpu + t.server_cpu;
        let client = |t: &crate::Transfer| t.client_cpu;
        let server = |t: &crate::Transfer| t.server_cpu;
        for (ci, (cname, _)) in CIPHERS.iter().enumerate() {
            for (di, dname) in DIRS.iter().enumerate() {
                let cells: Vec<String> = (0..PAIRS.len())
                    .map(|pi| {
                        match (
                            cpu(ci, di, pi, &total),
                            cpu(ci, di, pi, &client),
                            cpu(ci, di, pi, &server),
                        ) {
                            (Some(t), Some(c), Some(s)) => {
                                format!("{:.2} ({:.2} c + {:.2} s)", t.median, c.median, s.median)
                            }
                            _ => "–".into(),
                        }
                    })
                    .collect();
                let rt = ratio(cpu(ci, di, OURS, &total), cpu(ci, di, BASE, &total));
                let _ = writeln!(
                    out,
                    "| {cname} | {dname} | {} | {} | ≤ 0.6× | {} |",
                    cells.join(" | "),
                    ratio_cell(rt),
                    met(rt.map(|x| x <= 0.6))
                );
            }
        }
        out.push('\n');
    }

    // Latency.
    if !r.latency.is_empty() {
        let _ = writeln!(
            out,
            "## Login latency, `CLIENT host true` (ms, median (min–max) of {} runs)\n",
            o.logins
        );
        header_row(&mut out, &["key exchange"], &["ratio", "target", "met"]);
        for (ki, (kex, _)) in KEXES.iter().enumerate() {
            let s = |pi: usize| r.latency.get(&(ki, pi)).and_then(|v| summarize(v));
            let cells: Vec<String> = (0..PAIRS.len()).map(|pi| cell(s(pi), 1)).collect();
            let rt = ratio(s(OURS), s(BASE));
            let ok = match (rt, s(OURS)) {
                (Some(x), Some(ours)) => Some(x <= 0.1 && ours.median <= 10.0),
                (None, Some(ours)) => Some(ours.median <= 10.0),
                _ => None,
            };
            let _ = writeln!(
                out,
                "| {kex} | {} | {} | ≤ 0.1× and ≤ 10 ms | {} |",
                cells.join(" | "),
                ratio_cell(rt),
                met(ok)
            );
        }
        out.push('\n');
    }

    // Logins per second.
    if !r.cps.is_empty() {
        let _ = writeln!(
            out,
            "## Logins per second (`CLIENT host true` in N concurrent loops for {} s, {BULK_KEX})\n",
            o.cps_secs
        );
        header_row(
            &mut out,
            &["concurrent clients"],
            &["ratio", "target", "met"],
        );
        for conc in CONCURRENCY {
            let v = |pi: usize| r.cps.get(&(conc, pi)).copied();
            let cells: Vec<String> = (0..PAIRS.len())
                .map(|pi| match v(pi) {
                    Some((rate, 0)) => format!("{rate:.1}"),
                    Some((rate, failed)) => format!("{rate:.1} ({failed} failed)"),
                    None => "–".into(),
                })
                .collect();
            let rt = match (v(OURS), v(BASE)) {
                (Some((a, _)), Some((b, _))) if b > 0.0 => Some(a / b),
                _ => None,
            };
            let (target, ok) = if conc == 32 {
                ("≥ 8×", rt.map(|x| x >= 8.0))
            } else {
                ("", None)
            };
            let _ = writeln!(
                out,
                "| {conc} | {} | {} | {target} | {} |",
                cells.join(" | "),
                ratio_cell(rt),
                met(ok)
            );
        }
        out.push('\n');
    }

    // Memory.
    if !r.memory.is_empty() {
        let _ = writeln!(
            out,
            "## Server memory per idle authenticated session (PSS, /proc/PID/smaps_rollup summed over the server's own processes)\n\n\
             Sessions are opened by one process through the `oxssh` library: key exchange (each server's preferred) and public-key \
             authentication, then nothing (no session channel, as `ssh -N`), on servers started afresh for this table. Per session = (PSS with the sessions − PSS before) / sessions.\n"
        );
        let _ = writeln!(
            out,
            "| sessions | sshd per session | sshd total (processes) | oxsshd per session | oxsshd total (processes) | ratio | target | met |\n|---|---|---|---|---|---|---|---|"
        );
        let mut counts: Vec<usize> = o.sessions.clone();
        counts.dedup();
        for &count in &counts {
            let find = |w: Impl| {
                r.memory
                    .iter()
                    .find(|m| m.which == w && m.requested == count)
            };
            let per = |m: &crate::MemResult| {
                (m.total_kb.saturating_sub(m.base_kb)) as f64 / m.sessions.max(1) as f64
            };
            let desc = |m: Option<&crate::MemResult>| match m {
                Some(m) => (
                    format!("{:.0} kB", per(m)),
                    format!(
                        "{:.1} MB ({}){}",
                        m.total_kb as f64 / 1e3,
                        m.procs,
                        if m.failed > 0 {
                            format!(", {} failed", m.failed)
                        } else {
                            String::new()
                        }
                    ),
                ),
                None => ("–".into(), "–".into()),
            };
            let (a, b) = (find(Impl::OpenSsh), find(Impl::Oxssh));
            let rt = match (a, b) {
                (Some(a), Some(b)) if per(a) > 0.0 => Some(per(b) / per(a)),
                _ => None,
            };
            let n = b.or(a).map_or(0, |m| m.sessions);
            let (da, db) = (desc(a), desc(b));
            let _ = writeln!(
                out,
                "| {n} | {} | {} | {} | {} | {} | ≤ 0.04× and < 66 kB | {} |",
                da.0,
                da.1,
                db.0,
                db.1,
                ratio_cell(rt),
                met(match (rt, b) {
                    (Some(x), Some(b)) => Some(x <= 0.04 && per(b) < 66.0),
                    // Only oxsshd measured (sshd skipped at this count): the absolute bound.
                    (None, Some(b)) if a.is_none() => Some(per(b) < 66.0),
                    _ => None,
                })
            );
        }
        out.push('\n');
    }

    if let Some(sftp) = &r.sftp {
        out.push_str(&crate::sftp::markdown(sftp));
    }
    if let Some(forward) = &r.forward {
        out.push_str(&crate::forward::markdown(forward));
    }

    if !r.notes.is_empty() {
        let _ = writeln!(out, "## Notes\n");
        for n in &r.notes {
            let _ = writeln!(out, "- {n}");
        }
        out.push('\n');
    }
    out
}

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const COLORS: [RGBColor; 4] = [
    RGBColor(150, 150, 150),
    RGBColor(120, 170, 220),
    RGBColor(240, 160, 70),
    RGBColor(30, 90, 170),
];

/// Bar chart of median throughput per cipher and direction, one bar per pair.
pub fn plot(path: &Path, r: &Results, info: &RunInfo) -> Res<()> {
    let bytes = std::fs::read(FONT).map_err(|e| format!("{FONT}: {e}"))?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| format!("{FONT}: not a usable font"))?;
    let size = info.opts.size_mib << 20;
    let groups: Vec<(usize, usize)> = (0..CIPHERS.len())
        .flat_map(|c| (0..DIRS.len()).map(move |d| (c, d)))
        .collect();
    let ymax = groups
        .iter()
        .flat_map(|&(c, d)| (0..PAIRS.len()).filter_map(move |p| throughput(r, c, d, p, size)))
        .map(|s| s.max)
        .fold(0.0, f64::max)
        * 1.15;
    let ymax = if ymax > 0.0 { ymax } else { 1.0 };
    let root = BitMapBackend::new(path, (1400, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let labels: Vec<String> = groups
        .iter()
        .map(|&(c, d)| {
            let name = CIPHERS.get(c).map_or("", |x| x.0);
            let name = name.replace("+hmac-sha2-256-etm", "+etm");
            format!("{name} {}", DIRS.get(d).copied().unwrap_or(""))
        })
        .collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Throughput over one connection, MB/s (median, {} MiB, {} round(s))",
                info.opts.size_mib, info.opts.rounds
            ),
            ("sans-serif", 24),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..groups.len() as f64, 0f64..ymax)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len() * 2 + 1)
        .x_label_formatter(&|x| {
            // Labels fall on multiples of 0.5: name the group centres only.
            let i = (x - 0.5).round();
            if i >= 0.0 && (x - 0.5 - i).abs() < 1e-6 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_label_style(("sans-serif", 13))
        .y_desc("MB/s")
        .draw()
        .map_err(|e| e.to_string())?;
    let width = 0.8 / PAIRS.len() as f64;
    for (pi, color) in COLORS.iter().enumerate() {
        let bars: Vec<Rectangle<(f64, f64)>> = groups
            .iter()
            .enumerate()
            .filter_map(|(gi, &(c, d))| {
                let s = throughput(r, c, d, pi, size)?;
                let x0 = gi as f64 + 0.1 + pi as f64 * width;
                Some(Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.9, s.median)],
                    color.filled(),
                ))
            })
            .collect();
        let color = *color;
        chart
            .draw_series(bars)
            .map_err(|e| e.to_string())?
            .label(pair_name(pi))
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}
