//! Progress of a multi-file transfer (`get -r`, `put -r`, `oxscp -r`), where several
//! files move at once: one line per file, in the order the files started, as OpenSSH's
//! one-file-at-a-time meter looks. The oldest file still moving data has its line
//! redrawn live (at most a few times a second) as its bytes arrive; a file whose data
//! is all there (its size reached, or its end reported) has its clock stopped, and its
//! final line is drawn when the files before it are drawn. Also the `-l` limit across
//! all the files in flight.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::progress::Meter;
use super::shell::base_name;

/// The meters of the files in flight, and the pacing.
pub(super) struct Meters {
    visible: bool,
    /// Files started and not yet drawn as finished: their meter, their size, and
    /// their final byte count once their data is all there.
    files: BTreeMap<usize, (Meter, u64, Option<u64>)>,
    pace: Option<Pace>,
}

/// `-l`: the bytes moved by all the files together, held to a rate.
struct Pace {
    start: Instant,
    bytes_per_sec: u64,
    moved: HashMap<usize, u64>,
    total: u64,
}

impl Meters {
    /// Meters drawn when `visible`; transfers paced to `limit_kbps` (Kbit/s) if given.
    pub(super) fn new(visible: bool, limit_kbps: Option<u64>) -> Self {
        Self {
            visible,
            files: BTreeMap::new(),
            pace: limit_kbps
                .map(|k| k.saturating_mul(1000) / 8)
                .filter(|&r| r > 0)
                .map(|bytes_per_sec| Pace {
                    start: Instant::now(),
                    bytes_per_sec,
                    moved: HashMap::new(),
                    total: 0,
                }),
        }
    }

    /// File `i` (`path`, `size` bytes) started.
    pub(super) fn start(&mut self, i: usize, path: &[u8], size: u64) {
        if self.visible {
            let name = base_name(path).display().to_string();
            self.files
                .insert(i, (Meter::new(&name, size, 0, true, None), size, None));
        }
    }

    /// File `i` has moved `done` bytes.
    pub(super) fn progress(&mut self, i: usize, done: u64) {
        if let Some(pace) = &mut self.pace {
            pace.advance(i, done);
        }
        if self
            .files
            .get(&i)
            .is_some_and(|(_, size, _)| *size > 0 && done >= *size)
        {
            // All its data is there: only the closing is left.
            self.ended(i, done);
            return;
        }
        if let Some((&oldest, (meter, _, None))) = self.files.iter_mut().next() {
            if oldest == i {
                meter.update(done);
            }
        }
    }

    /// File `i` ended with `done` bytes moved.
    pub(super) fn finish(&mut self, i: usize, done: u64) {
        if let Some(pace) = &mut self.pace {
            pace.moved.remove(&i);
        }
        self.ended(i, done);
    }

    /// File `i`'s data is all there (`done` bytes): its clock stops, and the final
    /// lines that are next in order are drawn.
    fn ended(&mut self, i: usize, done: u64) {
        if let Some((meter, _, end @ None)) = self.files.get_mut(&i) {
            meter.stop();
            *end = Some(done);
        }
        while let Some(entry) = self.files.first_entry() {
            let Some(done) = entry.get().2 else {
                break;
            };
            entry.remove().0.finish(done);
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
