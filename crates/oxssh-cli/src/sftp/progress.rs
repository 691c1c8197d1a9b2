//! The transfer progress meter, OpenSSH's: name, percentage, amount, rate and time
//! left, redrawn in place on a terminal once a second; and the `-l` bandwidth limit,
//! which paces a transfer to the given rate.
//!
//! The line is laid out as OpenSSH's scp and sftp lay it out (`units` for its
//! columns): the name padded to the terminal's width less 35 columns, then 34 columns
//! of figures, the rate smoothed from one redraw to the next as OpenSSH smooths it, and
//! once the data is all there the total rate and the time the transfer took. Widths
//! are counted in terminal columns ([`crate::width`]): the name (its control characters
//! escaped) is cut or padded so a redraw always covers the previous line whole and a
//! wide character is never cut in half. Drawing happens only where OpenSSH's meter
//! draws: standard output a terminal, and this process in its foreground.

use std::io::Write;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use super::units::{meter_rate, meter_size};
use crate::width;

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
    /// The smoothed rate shown, in bytes per second.
    rate: f64,
    /// When the last line was worked out, and the bytes moved by then.
    sampled: (Instant, u64),
    /// How long no byte has moved, as of the last line.
    stalled: Duration,
}

/// How often a live line is redrawn at most (OpenSSH: once a second).
pub(super) const REDRAW: Duration = Duration::from_secs(1);

/// Weight of the previous rate in the smoothed one, at each redraw (OpenSSH's).
const AGE_FACTOR: f64 = 0.9;

/// How long without progress before the time left gives way to `- stalled -`.
const STALL_TIME: Duration = Duration::from_secs(5);

/// Columns of figures after the name: ` %3d%% `, amount, space, rate, `/s `, time.
const FIGURES: usize = 34;

impl Meter {
    /// A meter for `name` of `total` bytes of which `base` are already there (resume).
    /// A visible one draws its first line at once, as OpenSSH's does.
    pub fn new(name: &str, total: u64, base: u64, visible: bool, limit_kbps: Option<u64>) -> Self {
        let mut meter = Self::started_at(name, total, base, Instant::now());
        meter.visible = visible;
        meter.limit_bytes_per_sec = limit_kbps.map(|k| k.saturating_mul(1000) / 8);
        if visible {
            meter.draw(0, Instant::now());
        }
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
            rate: 0.0,
            sampled: (start, 0),
            stalled: Duration::ZERO,
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
            self.draw(done, Instant::now());
        }
    }

    fn draw(&mut self, done: u64, now: Instant) {
        let line = self.line(done, now, columns());
        show(&format!("\r{line}"));
        self.drawn = Some(now);
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

    /// The transfer ended with `done` bytes moved: the line is drawn once more unless
    /// the last one already showed the whole file, and the cursor goes to a new line.
    pub fn finish(&mut self, done: u64) {
        if self.visible {
            if self.drawn.is_none() || self.sampled.1 != done || !self.complete(done) {
                self.draw(done, Instant::now());
            }
            show("\n");
        }
    }

    fn complete(&self, done: u64) -> bool {
        self.base.saturating_add(done) >= self.total
    }

    /// The meter's line at `now` with `done` bytes moved, for a terminal `cols` wide:
    /// at most `cols - 1` columns (no `\r`, no newline). Each line moves the smoothed
    /// rate on; once all the data is there it shows the total rate and the time taken
    /// (to the stop, if the clock was stopped).
    pub(super) fn line(&mut self, done: u64, now: Instant, cols: usize) -> String {
        let have = self.base.saturating_add(done);
        let (moved, elapsed) = if self.complete(done) {
            let end = self.ended.unwrap_or(now);
            self.rate = 0.0;
            (done, end.saturating_duration_since(self.start))
        } else {
            let since = now.saturating_duration_since(self.sampled.0);
            (done.saturating_sub(self.sampled.1), since)
        };
        let secs = elapsed.as_secs_f64();
        let speed = if secs > 0.0 {
            moved as f64 / secs
        } else {
            moved as f64
        };
        self.rate = if self.rate > 0.0 {
            self.rate * AGE_FACTOR + speed * (1.0 - AGE_FACTOR)
        } else {
            speed
        };
        self.stalled = if moved == 0 {
            self.stalled + elapsed
        } else {
            Duration::ZERO
        };
        self.sampled = (now, done);
        let pct = if self.total == 0 || have == self.total {
            100
        } else {
            (have as f64 / self.total as f64 * 100.0) as u64
        };
        let rate = self.rate as u64;
        let left = self.total.saturating_sub(have);
        let time = if self.stalled >= STALL_TIME {
            "- stalled -".to_owned()
        } else if rate == 0 && left > 0 {
            "  --:-- ETA".to_owned()
        } else {
            let seconds = if left > 0 { left / rate } else { secs as u64 };
            let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
            let clock = if h > 0 {
                format!("{h}:{m:02}:{s:02}")
            } else {
                format!("  {m:02}:{s:02}")
            };
            clock + if left > 0 { " ETA" } else { "    " }
        };
        let figures = format!(
            " {pct:>3}% {} {}/s {time}",
            meter_size(have),
            meter_rate(rate)
        );
        let name_cols = cols.saturating_sub(FIGURES + 1);
        let name = if name_cols > 0 {
            width::fit(&self.name, name_cols)
        } else {
            String::new()
        };
        // A terminal too narrow for the figures: the line is cut, never wrapped.
        width::fit(&(name + &figures), cols.saturating_sub(1))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn lines_are_laid_out_as_scp_lays_them_out() {
        // scp 9.2 on an 80-column terminal, a 1000-byte file: its first line, then its
        // last (the name in 45 columns, 34 of figures).
        let t0 = Instant::now();
        let mut meter = Meter::started_at("s1000", 1000, 0, t0);
        assert_eq!(
            meter.line(0, t0, 80),
            format!("s1000{}   0%    0     0.0KB/s   --:-- ETA", " ".repeat(40))
        );
        meter.stop_at(at(t0, 400));
        assert_eq!(
            meter.line(1000, at(t0, 500), 80),
            format!("s1000{} 100% 1000     2.4KB/s   00:00    ", " ".repeat(40))
        );
    }

    #[test]
    fn the_rate_is_smoothed_from_line_to_line_as_openssh_smooths_it() {
        let t0 = Instant::now();
        let mut meter = Meter::started_at("big", 100 << 20, 0, t0);
        // 10 MiB in the first second, then 20 MiB in each of the next two.
        let first = meter.line(10 << 20, at(t0, 1000), 60);
        assert_eq!(
            first,
            format!("big{}  10%   10MB  10.0MB/s   00:09 ETA", " ".repeat(22))
        );
        let second = meter.line(30 << 20, at(t0, 2000), 60);
        // 0.9 x 10 + 0.1 x 20 = 11 MB/s; 70 MiB left.
        assert!(
            second.ends_with("  30%   30MB  11.0MB/s   00:06 ETA"),
            "{second:?}"
        );
        let third = meter.line(50 << 20, at(t0, 3000), 60);
        assert!(
            third.ends_with("  50%   50MB  11.9MB/s   00:04 ETA"),
            "{third:?}"
        );
        // The whole file: the total rate and the time taken.
        let last = meter.line(100 << 20, at(t0, 4000), 60);
        assert!(
            last.ends_with(" 100%  100MB  25.0MB/s   00:04    "),
            "{last:?}"
        );
        for line in [first, second, third, last] {
            assert_eq!(width::width(&line), 59);
        }
    }

    #[test]
    fn no_progress_for_five_seconds_shows_stalled_and_hours_show_when_needed() {
        let t0 = Instant::now();
        let mut meter = Meter::started_at("f", 10 << 30, 0, t0);
        let line = meter.line(1 << 20, at(t0, 1000), 60);
        assert!(
            line.ends_with("   0% 1024KB   1.0MB/s 2:50:39 ETA"),
            "{line:?}"
        );
        meter.line(1 << 20, at(t0, 4000), 60);
        let line = meter.line(1 << 20, at(t0, 6000), 60);
        assert!(line.ends_with("- stalled -"), "{line:?}");
        let line = meter.line(2 << 20, at(t0, 7000), 60);
        assert!(line.ends_with(" ETA"), "moving again: {line:?}");
    }

    #[test]
    fn wide_names_are_cut_by_columns_and_the_line_keeps_its_width() {
        let t0 = Instant::now();
        let name = "日本語のとても長いファイル名前です😀.txt";
        for cols in [40, 41, 50, 57, 80, 120] {
            for done in [50, 100] {
                let mut meter = Meter::started_at(name, 100, 0, t0);
                let line = meter.line(done, at(t0, 2000), cols);
                assert_eq!(width::width(&line), cols - 1, "{cols}: {line:?}");
                // The name is a whole-character prefix, padded by at most one column.
                let cut = line.split(" 100%").next().unwrap_or_default();
                let cut = cut.split("  50%").next().unwrap_or_default();
                let kept = cut.trim_end_matches(' ');
                assert!(name.starts_with(kept), "{kept:?}");
            }
        }
        // 41 columns leave the name 6, and の would straddle the edge: 日本語 alone.
        let mut meter = Meter::started_at(name, 100, 0, t0);
        let line = meter.line(100, at(t0, 2000), 41);
        assert!(line.starts_with("日本語 100%"), "{line:?}");
    }

    #[test]
    fn combining_marks_and_controls_in_names_are_drawn_safely() {
        let t0 = Instant::now();
        let mut meter = Meter::started_at("e\u{301}te\u{301}\x1b[2J.txt", 10, 0, t0);
        let line = meter.line(10, at(t0, 1000), 60);
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
        let line = meter.line(3072, at(t0, 60_000), 40);
        assert_eq!(line, "f     100% 4096     1.0KB/s   00:03    ");
    }

    #[test]
    fn a_narrow_terminal_cuts_the_line_without_wrapping() {
        let t0 = Instant::now();
        let mut meter = Meter::started_at("name", 10, 0, t0);
        let line = meter.line(5, at(t0, 1000), 20);
        assert_eq!(width::width(&line), 19);
        assert!(line.starts_with("  50%"), "{line:?}");
    }
}
