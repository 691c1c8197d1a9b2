//! The transfer progress meter, in the spirit of OpenSSH's: name, percentage, amount,
//! rate and time left, redrawn in place on a terminal at most a few times a second;
//! and the `-l` bandwidth limit, which paces a transfer to the given rate.
//!
//! A line fills the terminal's width less one column, counted in terminal columns
//! ([`super::width`]): the name (its control characters escaped) is cut or padded to
//! what the numbers leave, so a redraw always covers the previous line whole and a
//! wide character is never cut in half. Drawing happens only where OpenSSH's meter
//! draws: standard output a terminal, and this process in its foreground.

use std::io::Write;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use super::width;

/// One transfer's meter (drawn only when `visible`) and pacing.
#[derive(Debug)]
pub struct Meter {
    /// The name as shown (controls escaped).
    name: String,
    total: u64,
    start: Instant,
    drawn: Option<Instant>,
    /// When the transfer ended ([`Meter::stop`]), for a final line drawn later.
    ended: Option<Instant>,
    visible: bool,
    limit_bytes_per_sec: Option<u64>,
    base: u64,
}

/// How often a live line is redrawn at most.
pub(super) const REDRAW: Duration = Duration::from_millis(250);

impl Meter {
    /// A meter for `name` of `total` bytes of which `base` are already there (resume).
    pub fn new(name: &str, total: u64, base: u64, visible: bool, limit_kbps: Option<u64>) -> Self {
        let mut meter = Self::started_at(name, total, base, Instant::now());
        meter.visible = visible;
        meter.limit_bytes_per_sec = limit_kbps.map(|k| k.saturating_mul(1000) / 8);
        meter
    }

    /// A meter started at `start`, not drawn by itself and not pacing: for callers
    /// that draw its [`Meter::line`]s (the multi-file [`super::meters`]).
    pub(super) fn started_at(name: &str, total: u64, base: u64, start: Instant) -> Self {
        Self {
            name: width::escape(name).into_owned(),
            total,
            start,
            drawn: None,
            ended: None,
            visible: false,
            limit_bytes_per_sec: None,
            base,
        }
    }

    /// `done` bytes moved so far in this transfer.
    pub fn update(&mut self, done: u64) {
        if let Some(rate) = self.limit_bytes_per_sec.filter(|r| *r > 0) {
            let due = Duration::from_secs_f64(done as f64 / rate as f64);
            let elapsed = self.start.elapsed();
            if due > elapsed {
                std::thread::sleep(due - elapsed);
            }
        }
        if self.visible && self.drawn.is_none_or(|t| t.elapsed() >= REDRAW) {
            let now = Instant::now();
            show(&format!("\r{}", self.line(done, now, columns(), false)));
            self.drawn = Some(now);
        }
    }

    /// Stops the clock without drawing: a later [`Meter::finish`] shows the time the
    /// transfer took, not the time until it was drawn.
    pub fn stop(&mut self) {
        self.stop_at(Instant::now());
    }

    /// [`Meter::stop`] at `now` (the first stop counts).
    pub(super) fn stop_at(&mut self, now: Instant) {
        self.ended.get_or_insert(now);
    }

    /// The transfer ended with `done` bytes moved.
    pub fn finish(&mut self, done: u64) {
        if self.visible {
            let line = self.line(done, Instant::now(), columns(), true);
            show(&format!("\r{line}\n"));
        }
    }

    /// The meter's line at `now` with `done` bytes moved, for a terminal `cols` wide:
    /// exactly `cols - 1` columns (no `\r`, no newline). `last`: the final line, with
    /// the time taken instead of the time left.
    pub(super) fn line(&self, done: u64, now: Instant, cols: usize, last: bool) -> String {
        let have = self.base.saturating_add(done);
        let pct = have
            .saturating_mul(100)
            .checked_div(self.total)
            .map_or(100, |p| p.min(100));
        let elapsed = self
            .ended
            .unwrap_or(now)
            .saturating_duration_since(self.start);
        let secs = elapsed.as_secs_f64().max(0.001);
        let rate = done as f64 / secs;
        let tail = if last {
            let s = secs as u64;
            format!("{:02}:{:02}    ", s / 60, s % 60)
        } else if rate > 0.0 && self.total > have {
            let s = ((self.total - have) as f64 / rate) as u64;
            format!("{:02}:{:02} ETA", s / 60, s % 60)
        } else {
            "--:-- ETA".to_owned()
        };
        let numbers = format!(
            " {pct:>3}% {:>5} {:>7}/s   {tail}",
            scaled(have),
            scaled(rate as u64)
        );
        let room = cols.saturating_sub(1);
        let name = width::fit(&self.name, room.saturating_sub(numbers.len()));
        // A terminal too narrow for the numbers: the line is cut, never wrapped.
        width::fit(&(name + &numbers), room)
    }
}

/// The terminal's width: standard output's window, else `COLUMNS`, else 80 (at most
/// 512, as OpenSSH's meter).
pub(super) fn columns() -> usize {
    oxssh_os::pty::window_size(std::io::stdout().as_fd())
        .ok()
        .and_then(|w| usize::try_from(w.cols).ok())
        .filter(|&c| c > 0)
        .or_else(|| {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse::<usize>().ok())
        })
        .unwrap_or(80)
        .min(512)
}

/// Whether a meter may draw now: standard output is a terminal and this process is
/// in its foreground process group (a job sent to the background stays quiet).
pub(super) fn can_output() -> bool {
    let stdout = std::io::stdout();
    match (
        nix::unistd::tcgetpgrp(stdout.as_fd()),
        nix::unistd::getpgrp(),
    ) {
        (Ok(fg), own) => fg == own,
        (Err(_), _) => false,
    }
}

/// Writes `text` to standard output now, if a meter may draw.
pub(super) fn show(text: &str) {
    if can_output() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// A size with a binary unit: `512`, `1.5KB`, `30MB` (OpenSSH's meter style).
pub fn scaled(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("B");
    if unit == 0 {
        format!("{bytes}{name}")
    } else if value < 100.0 {
        format!("{value:.1}{name}")
    } else {
        format!("{value:.0}{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn a_line_fills_the_terminal_less_one_column() {
        let t0 = Instant::now();
        let meter = Meter::started_at("report.txt", 2048, 0, t0);
        let line = meter.line(1024, at(t0, 1000), 80, false);
        assert_eq!(
            line,
            format!(
                "report.txt{}  50% 1.0KB   1.0KB/s   00:01 ETA",
                " ".repeat(36)
            )
        );
        assert_eq!(width::width(&line), 79);
    }

    #[test]
    fn wide_names_are_cut_by_columns_and_the_line_keeps_its_width() {
        let t0 = Instant::now();
        let name = "日本語のとても長いファイル名前です😀.txt";
        let meter = Meter::started_at(name, 100, 0, t0);
        for cols in [40, 41, 50, 57, 80, 120] {
            for last in [false, true] {
                let line = meter.line(100, at(t0, 2000), cols, last);
                assert_eq!(width::width(&line), cols - 1, "{cols}: {line:?}");
                // The name is a whole-character prefix, padded by at most one column.
                let cut = line.split(" 100%").next().unwrap_or_default();
                let kept = cut.trim_end_matches(' ');
                assert!(name.starts_with(kept), "{kept:?}");
            }
        }
        // 41 columns: 40 less the 33 of numbers leave 7, and の would straddle the
        // edge: 日本語 and one column of padding.
        let line = meter.line(100, at(t0, 2000), 41, true);
        assert!(line.starts_with("日本語  100%"), "{line:?}");
    }

    #[test]
    fn combining_marks_and_controls_in_names_are_drawn_safely() {
        let t0 = Instant::now();
        let meter = Meter::started_at("e\u{301}te\u{301}\x1b[2J.txt", 10, 0, t0);
        let line = meter.line(10, at(t0, 1000), 60, true);
        assert!(
            line.starts_with("e\u{301}te\u{301}\\033[2J.txt "),
            "{line:?}"
        );
        assert!(!line.contains('\x1b'));
        assert_eq!(width::width(&line), 59);
    }

    #[test]
    fn the_final_line_shows_the_time_taken_to_the_stop() {
        let t0 = Instant::now();
        let mut meter = Meter::started_at("f", 4096, 1024, t0);
        meter.stop_at(at(t0, 3000));
        meter.stop_at(at(t0, 9000));
        let line = meter.line(3072, at(t0, 60_000), 40, true);
        assert_eq!(line, "f      100% 4.0KB   1.0KB/s   00:03    ");
    }

    #[test]
    fn a_narrow_terminal_cuts_the_line_without_wrapping() {
        let t0 = Instant::now();
        let meter = Meter::started_at("name", 10, 0, t0);
        let line = meter.line(5, at(t0, 1000), 20, false);
        assert_eq!(width::width(&line), 19);
        assert!(line.starts_with("  50%"), "{line:?}");
    }

    #[test]
    fn sizes_scale_with_binary_units() {
        assert_eq!(scaled(512), "512B");
        assert_eq!(scaled(1536), "1.5KB");
        assert_eq!(scaled(30 << 20), "30.0MB");
        assert_eq!(scaled(252 << 30), "252GB");
    }
}
