//! Progress of a multi-file transfer (`get -r`, `put -r`, `oxscp -r`), where several
//! files move at once, drawn as OpenSSH's one-file-at-a-time meter looks: one line per
//! file. Each file's final line is printed once, when its data is all there (its size
//! reached, or its end reported; a failed file at what it had moved), in the order
//! the files complete. Below the final lines one live line is redrawn in place (at
//! most once a second): a file that is moving data, kept until it completes
//! or stalls while another moves. A final line printed while another file is live
//! takes the live line's place and the live line is drawn again under it. Files still
//! open when the transfer stops get their final lines then, in the order they started.
//! Nothing is drawn unless the meter is on (`progress`, not `-q`, standard output a
//! terminal in the foreground: [`super::progress::show`]). Also the `-l` limit across
//! all the files in flight.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::progress::{self, Meter, REDRAW};
use super::shell::base_name;

/// A live file with no new bytes for this long gives the line to one that moves.
const STALLED: Duration = Duration::from_secs(1);

/// Where the lines go: the terminal, or a test's record.
pub(super) trait Screen {
    /// The terminal's width.
    fn columns(&self) -> usize;
    /// Writes `text` now.
    fn show(&mut self, text: &str);
}

/// Standard output, as [`progress`] draws.
struct Terminal;

impl Screen for Terminal {
    fn columns(&self) -> usize {
        progress::columns()
    }

    fn show(&mut self, text: &str) {
        progress::show(text);
    }
}

/// The meters of the files in flight, and the pacing.
pub(super) struct Meters {
    visible: bool,
    screen: Box<dyn Screen>,
    /// Files started whose final line is not printed yet, by start order.
    files: BTreeMap<usize, Moving>,
    /// The file on the live line, and when that line was last drawn.
    live: Option<(usize, Instant)>,
    pace: Option<Pace>,
}

/// A file in flight.
struct Moving {
    meter: Meter,
    size: u64,
    /// Bytes moved so far.
    done: u64,
    /// When bytes last moved (or the file started).
    moved: Instant,
}

/// `-l`: the bytes moved by all the files together, held to a rate.
struct Pace {
    start: Instant,
    bytes_per_sec: u64,
    moved: HashMap<usize, u64>,
    total: u64,
}

impl Meters {
    /// Meters drawn on the terminal when `visible`; transfers paced to `limit_kbps`
    /// (Kbit/s) if given.
    pub(super) fn new(visible: bool, limit_kbps: Option<u64>) -> Self {
        let mut meters = Self::drawn_on(Box::new(Terminal), visible);
        meters.pace = limit_kbps
            .map(|k| k.saturating_mul(1000) / 8)
            .filter(|&r| r > 0)
            .map(|bytes_per_sec| Pace {
                start: Instant::now(),
                bytes_per_sec,
                moved: HashMap::new(),
                total: 0,
            });
        meters
    }

    /// Meters drawn on `screen` when `visible`, not paced.
    fn drawn_on(screen: Box<dyn Screen>, visible: bool) -> Self {
        Self {
            visible,
            screen,
            files: BTreeMap::new(),
            live: None,
            pace: None,
        }
    }

    /// File `i` (`path`, `size` bytes) started.
    pub(super) fn start(&mut self, i: usize, path: &[u8], size: u64) {
        self.start_at(i, path, size, Instant::now());
    }

    /// File `i` has moved `done` bytes.
    pub(super) fn progress(&mut self, i: usize, done: u64) {
        if let Some(pace) = &mut self.pace {
            pace.advance(i, done);
        }
        self.progress_at(i, done, Instant::now());
    }

    /// File `i` ended with `done` bytes moved.
    pub(super) fn finish(&mut self, i: usize, done: u64) {
        self.finish_at(i, Some(done), Instant::now());
    }

    /// File `i` failed: its final line shows what it had moved.
    pub(super) fn fail(&mut self, i: usize) {
        self.fail_at(i, Instant::now());
    }

    fn fail_at(&mut self, i: usize, now: Instant) {
        self.finish_at(i, None, now);
    }

    fn start_at(&mut self, i: usize, path: &[u8], size: u64, now: Instant) {
        if self.visible {
            let name = base_name(path).display().to_string();
            let moving = Moving {
                meter: Meter::started_at(&name, size, 0, now),
                size,
                done: 0,
                moved: now,
            };
            self.files.insert(i, moving);
        }
    }

    fn progress_at(&mut self, i: usize, done: u64, now: Instant) {
        let Some(file) = self.files.get_mut(&i) else {
            return;
        };
        if done > file.done {
            file.done = done;
            file.moved = now;
        }
        if file.size > 0 && file.done >= file.size {
            // All its data is there: only the closing is left.
            self.ended(i, now);
            return;
        }
        match self.live {
            Some((j, drawn)) if j == i => {
                if now.saturating_duration_since(drawn) >= REDRAW {
                    self.draw_live(i, now);
                }
            }
            Some((j, _))
                if self
                    .files
                    .get(&j)
                    .is_some_and(|f| now.saturating_duration_since(f.moved) < STALLED) => {}
            // No live line, or its file stalled while this one moves.
            _ => self.draw_live(i, now),
        }
    }

    fn finish_at(&mut self, i: usize, done: Option<u64>, now: Instant) {
        if let Some(pace) = &mut self.pace {
            pace.moved.remove(&i);
        }
        if let (Some(file), Some(done)) = (self.files.get_mut(&i), done) {
            file.done = done;
        }
        self.ended(i, now);
    }

    /// Draws file `i`'s line in place as the live line.
    fn draw_live(&mut self, i: usize, now: Instant) {
        let cols = self.screen.columns();
        if let Some(file) = self.files.get_mut(&i) {
            let line = file.meter.line(file.done, now, cols);
            self.screen.show(&format!("\r{line}"));
            self.live = Some((i, now));
        }
    }

    /// File `i`'s data is all there: its clock stops and its final line is printed
    /// (once: a file already ended is not in `files`), over the live line, which is
    /// drawn again under it if it showed another file.
    fn ended(&mut self, i: usize, now: Instant) {
        let Some(mut file) = self.files.remove(&i) else {
            return;
        };
        file.meter.stop_at(now);
        let line = file.meter.line(file.done, now, self.screen.columns());
        self.screen.show(&format!("\r{line}\n"));
        match self.live {
            Some((j, _)) if j != i => self.draw_live(j, now),
            _ => self.live = None,
        }
    }
}

impl Drop for Meters {
    /// Files still open when the transfer stopped (an error, an interrupt) get their
    /// final lines, so none is lost and the cursor ends on a fresh line.
    fn drop(&mut self) {
        let now = Instant::now();
        self.live = None;
        while let Some((&i, _)) = self.files.first_key_value() {
            self.ended(i, now);
        }
    }
}

impl Pace {
    /// Counts file `i` at `done` bytes; sleeps while the total runs ahead of the rate.
    fn advance(&mut self, i: usize, done: u64) {
        let before = self.moved.insert(i, done).unwrap_or(0);
        self.total += done.saturating_sub(before);
        let due = Duration::from_secs_f64(self.total as f64 / self.bytes_per_sec as f64);
        let elapsed = self.start.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
    }
}

/// Meters driven by interleaved events of several files at made-up times, the exact
/// bytes they write checked.
#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::{Duration, Instant};

    use super::{Meters, Screen};

    /// A screen 50 columns wide that keeps what is written: a line is 49 columns, the
    /// figures 34 of them, the name 15.
    struct Record(Rc<RefCell<String>>);

    impl Screen for Record {
        fn columns(&self) -> usize {
            50
        }

        fn show(&mut self, text: &str) {
            self.0.borrow_mut().push_str(text);
        }
    }

    /// Visible meters on a recorded screen, the record, and the start of time.
    fn recorded(visible: bool) -> (Meters, Rc<RefCell<String>>, Instant) {
        let out = Rc::new(RefCell::new(String::new()));
        let meters = Meters::drawn_on(Box::new(Record(out.clone())), visible);
        (meters, out, Instant::now())
    }

    /// A redrawn line: `name` in its 15 columns, then `numbers`.
    fn live(name: &str, numbers: &str) -> String {
        format!("\r{name:<15}{numbers}")
    }

    /// A final line.
    fn last(name: &str, numbers: &str) -> String {
        format!("\r{name:<15}{numbers}\n")
    }

    fn ms(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    /// What was written since the last call, split after each `\r`-redraw and newline
    /// for readable comparisons.
    fn take(out: &Rc<RefCell<String>>) -> Vec<String> {
        let text = std::mem::take(&mut *out.borrow_mut());
        let mut frames = Vec::new();
        for piece in text.split_inclusive('\n') {
            for (n, part) in piece.split('\r').enumerate() {
                if n > 0 || !part.is_empty() {
                    frames.push(if n > 0 {
                        format!("\r{part}")
                    } else {
                        part.into()
                    });
                }
            }
        }
        frames.retain(|f| !f.is_empty());
        frames
    }

    #[test]
    fn final_lines_come_once_in_completion_order_under_a_live_line() {
        let (mut m, out, t0) = recorded(true);
        m.start_at(0, b"dir/big.bin", 4096, t0);
        m.start_at(1, b"dir/small.txt", 1024, t0);
        m.start_at(2, b"dir/mid.dat", 2048, t0);
        assert_eq!(
            take(&out),
            Vec::<String>::new(),
            "nothing before data moves"
        );
        // big moves first: it takes the live line.
        m.progress_at(0, 1024, ms(t0, 1000));
        assert_eq!(
            take(&out),
            [live("big.bin", "  25% 1024     1.0KB/s   00:03 ETA")]
        );
        // small moves under it, then completes: its final line replaces the live line,
        // which is drawn again below.
        m.progress_at(1, 512, ms(t0, 1100));
        assert_eq!(take(&out), Vec::<String>::new());
        m.progress_at(1, 1024, ms(t0, 2000));
        assert_eq!(
            take(&out),
            [
                last("small.txt", " 100% 1024     0.5KB/s   00:02    "),
                live("big.bin", "  25% 1024     0.9KB/s   00:03 ETA"),
            ]
        );
        // Its close reported later prints nothing more.
        m.finish_at(1, Some(1024), ms(t0, 2100));
        assert_eq!(take(&out), Vec::<String>::new());
        // big redraws at most once a second; its rate is smoothed (0.9 old + 0.1 new).
        m.progress_at(0, 2048, ms(t0, 2100));
        assert_eq!(take(&out), Vec::<String>::new());
        m.progress_at(0, 3072, ms(t0, 3000));
        assert_eq!(
            take(&out),
            [live("big.bin", "  75% 3072     1.0KB/s   00:00 ETA")]
        );
        // mid moves; big completes: no live line until a moving file draws one.
        m.progress_at(2, 1024, ms(t0, 3500));
        m.progress_at(0, 4096, ms(t0, 4000));
        assert_eq!(
            take(&out),
            [last("big.bin", " 100% 4096     1.0KB/s   00:04    ")]
        );
        m.progress_at(2, 1536, ms(t0, 4500));
        assert_eq!(
            take(&out),
            [live("mid.dat", "  75% 1536     0.3KB/s   00:01 ETA")]
        );
        m.finish_at(2, Some(2048), ms(t0, 5000));
        assert_eq!(
            take(&out),
            [last("mid.dat", " 100% 2048     0.4KB/s   00:05    ")]
        );
        drop(m);
        assert_eq!(take(&out), Vec::<String>::new(), "each line came once");
    }

    #[test]
    fn every_line_is_one_column_narrower_than_the_terminal() {
        let (mut m, out, t0) = recorded(true);
        m.start_at(0, "日本語のファイル名前です😀.txt".as_bytes(), 100, t0);
        m.start_at(1, b"e\xcc\x81t\xc3\xa9", 100, t0);
        m.progress_at(0, 10, ms(t0, 100));
        m.progress_at(1, 100, ms(t0, 200));
        m.finish_at(0, Some(100), ms(t0, 300));
        let frames = take(&out);
        assert_eq!(frames.len(), 4, "{frames:?}");
        for frame in frames {
            let line = frame.trim_start_matches('\r').trim_end_matches('\n');
            assert_eq!(crate::width::width(line), 49, "{frame:?}");
        }
    }

    #[test]
    fn a_stalled_live_file_gives_the_line_to_a_moving_one() {
        let (mut m, out, t0) = recorded(true);
        m.start_at(0, b"slow", 1000, t0);
        m.start_at(1, b"fast", 1000, t0);
        m.progress_at(0, 100, ms(t0, 100));
        m.progress_at(1, 100, ms(t0, 500));
        assert_eq!(take(&out).len(), 1, "slow keeps the line while it moves");
        // slow has been still for a second: fast takes the line.
        m.progress_at(1, 500, ms(t0, 1200));
        let frames = take(&out);
        assert_eq!(frames.len(), 1);
        assert!(frames[0].starts_with("\rfast "), "{frames:?}");
        // slow ends meanwhile: its final line, then fast's live line again.
        m.finish_at(0, Some(1000), ms(t0, 1300));
        let frames = take(&out);
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert!(frames[0].starts_with("\rslow ") && frames[0].ends_with('\n'));
        assert!(frames[1].starts_with("\rfast ") && frames[1].contains("ETA"));
    }

    #[test]
    fn failed_and_unfinished_files_still_get_one_final_line() {
        let (mut m, out, t0) = recorded(true);
        m.start_at(0, b"broken", 1000, t0);
        m.start_at(1, b"cut-short", 1000, t0);
        m.start_at(2, b"never-moved", 1000, t0);
        m.progress_at(0, 300, ms(t0, 1000));
        m.progress_at(1, 600, ms(t0, 1000));
        take(&out);
        // A failure shows what had moved, not zero.
        m.fail_at(0, ms(t0, 1500));
        assert_eq!(
            take(&out),
            [last("broken", "  30%  300     0.3KB/s   00:02 ETA")]
        );
        m.fail_at(0, ms(t0, 1600));
        assert_eq!(take(&out), Vec::<String>::new());
        // The transfer stops: the others close in start order, once each.
        drop(m);
        let frames = take(&out);
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert!(
            frames[0].starts_with(&live("cut-short", "  60%")),
            "{frames:?}"
        );
        assert!(
            frames[1].starts_with(&live("never-moved", "   0%")),
            "{frames:?}"
        );
        assert!(frames.iter().all(|f| f.ends_with('\n')));
    }

    #[test]
    fn an_empty_file_gets_its_final_line() {
        let (mut m, out, t0) = recorded(true);
        m.start_at(0, b"empty", 0, t0);
        m.finish_at(0, Some(0), ms(t0, 10));
        let frames = take(&out);
        assert_eq!(frames.len(), 1);
        assert_eq!(
            frames,
            [last("empty", " 100%    0     0.0KB/s   00:00    ")]
        );
    }

    #[test]
    fn meters_off_draw_nothing() {
        let (mut m, out, t0) = recorded(false);
        m.start_at(0, b"a", 100, t0);
        m.progress_at(0, 50, ms(t0, 500));
        m.progress_at(0, 100, ms(t0, 900));
        m.finish_at(0, Some(100), ms(t0, 1000));
        drop(m);
        assert_eq!(*out.borrow(), "");
    }
}
