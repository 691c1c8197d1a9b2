//! The transfer progress meter, in the spirit of OpenSSH's: name, percentage, amount,
//! rate and time left, redrawn in place on a terminal at most a few times a second;
//! and the `-l` bandwidth limit, which paces a transfer to the given rate.

use std::io::Write;
use std::time::{Duration, Instant};

/// One transfer's meter (drawn only when `visible`) and pacing.
#[derive(Debug)]
pub struct Meter {
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

const REDRAW: Duration = Duration::from_millis(250);

impl Meter {
    /// A meter for `name` of `total` bytes of which `base` are already there (resume).
    pub fn new(name: &str, total: u64, base: u64, visible: bool, limit_kbps: Option<u64>) -> Self {
        Self {
            name: name.to_owned(),
            total,
            start: Instant::now(),
            drawn: None,
            ended: None,
            visible,
            limit_bytes_per_sec: limit_kbps.map(|k| k.saturating_mul(1000) / 8),
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
            self.draw(done, false);
            self.drawn = Some(Instant::now());
        }
    }

    /// Stops the clock without drawing: a later [`Meter::finish`] shows the time the
    /// transfer took, not the time until it was drawn.
    pub fn stop(&mut self) {
        self.ended.get_or_insert_with(Instant::now);
    }

    /// The transfer ended with `done` bytes moved.
    pub fn finish(&mut self, done: u64) {
        if self.visible {
            self.draw(done, true);
        }
    }

    fn draw(&self, done: u64, last: bool) {
        let have = self.base + done;
        let pct = have
            .saturating_mul(100)
            .checked_div(self.total)
            .map_or(100, |p| p.min(100));
        let elapsed = self
            .ended
            .map_or_else(|| self.start.elapsed(), |end| end - self.start);
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
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<usize>().ok())
            .unwrap_or(80);
        let name_width = width.saturating_sub(36).max(8);
        let mut name: String = self.name.chars().take(name_width).collect();
        while name.chars().count() < name_width {
            name.push(' ');
        }
        let line = format!(
            "\r{name} {pct:>3}% {:>5} {:>7}/s   {tail}",
            scaled(have),
            scaled(rate as u64)
        );
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        if last {
            let _ = out.write_all(b"\n");
        }
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
    use super::scaled;

    #[test]
    fn sizes_scale_with_binary_units() {
        assert_eq!(scaled(512), "512B");
        assert_eq!(scaled(1536), "1.5KB");
        assert_eq!(scaled(30 << 20), "30.0MB");
        assert_eq!(scaled(252 << 30), "252GB");
    }
}
