//! Many files at once: [`Sftp::download_many`] and [`Sftp::upload_many`] keep several
//! files open and their OPEN, READ/WRITE, FSETSTAT/FSYNC and CLOSE requests in flight
//! together, so a tree of small files costs bandwidth rather than one round trip per
//! request. Bounded: at most [`MAX_OPEN_FILES`] remote handles and the session's
//! request count (`-R`) of requests, hence `-R × -B` bytes, in flight.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use tokio::io::{AsyncRead, AsyncWrite};

use super::{expect_ok, read_full_at, unexpected, Error, Result, Sftp, FLUSH_AT};
use crate::codec::{status, Attrs, Extended, Request, Response};

/// Remote files open at once in a multi-file transfer.
pub const MAX_OPEN_FILES: usize = 32;

/// One file of [`Sftp::download_many`].
#[derive(Debug, Clone)]
pub struct Download {
    pub remote: Vec<u8>,
    /// Created (or truncated) once the remote file is open.
    pub local: PathBuf,
    /// Permission bits for a newly created local file.
    pub mode: u32,
    /// The size the listing gave: the first READs cover it and the EOF after it at
    /// once (0 when unknown).
    pub size_hint: u64,
}

/// One file of [`Sftp::upload_many`].
#[derive(Debug, Clone)]
pub struct Upload {
    pub local: PathBuf,
    /// Created or truncated with `attrs` (its permission bits).
    pub remote: Vec<u8>,
    pub attrs: Attrs,
    /// Set on the open file before it is closed (`-p`).
    pub preserve: Option<Attrs>,
    /// `fsync@openssh.com` before closing (`-f`).
    pub fsync: bool,
}

/// Progress of a multi-file transfer, by index into the jobs given.
#[derive(Debug)]
pub enum Event {
    /// The file's OPEN went out.
    Started(usize),
    /// Bytes of the file moved so far (after each READ or WRITE answered); the
    /// answer to it is ignored.
    Progress(usize, u64),
    /// The file is closed: its final length, or the step that failed and why.
    Finished(usize, std::result::Result<u64, (Step, Error)>),
}

/// The step of one file's transfer that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The remote OPEN.
    Open,
    /// Opening, reading or writing the local file.
    Local,
    /// A remote READ or WRITE.
    Transfer,
    /// FSETSTAT (`-p`) or FSYNC.
    Finish,
    /// The remote CLOSE.
    Close,
}

type Outcome = std::result::Result<u64, (Step, Error)>;

#[derive(Debug, Clone, Copy)]
enum Job<'a> {
    Get(&'a Download),
    Put(&'a Upload),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    ExpectHandle,
    Moving,
    ExpectSteps,
    ExpectClose,
}

#[derive(Debug, Clone, Copy)]
enum Pending {
    Open,
    Read { at: u64, len: u32 },
    Write { n: u64 },
    Step,
    Close,
}

/// One open (or opening) file.
#[derive(Debug)]
struct Slot {
    job: usize,
    stage: Stage,
    local: Option<File>,
    handle: Vec<u8>,
    next: u64,
    /// Downloads: READs go out up to here (the size hint, then what arrived);
    /// uploads: the local file's size when opened (WRITEs are sized by it).
    limit: u64,
    /// Downloads: where the file ended; uploads: the local file is read to its end.
    end: Option<u64>,
    moved: u64,
    in_flight: usize,
    failure: Option<(Step, Error)>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Sftp<R, W> {
    /// Downloads every file of `jobs`, many at once; `on` hears of each start and end
    /// and returns whether to start more files (files already open are finished).
    /// An `Err` means the session itself failed.
    pub async fn download_many(
        &mut self,
        jobs: &[Download],
        on: &mut dyn FnMut(Event) -> bool,
    ) -> Result<()> {
        let jobs: Vec<Job<'_>> = jobs.iter().map(Job::Get).collect();
        self.run_many(&jobs, on).await
    }

    /// Uploads every file of `jobs`, many at once; `on` as for [`Sftp::download_many`].
    pub async fn upload_many(
        &mut self,
        jobs: &[Upload],
        on: &mut dyn FnMut(Event) -> bool,
    ) -> Result<()> {
        let jobs: Vec<Job<'_>> = jobs.iter().map(Job::Put).collect();
        self.run_many(&jobs, on).await
    }

    async fn run_many(
        &mut self,
        jobs: &[Job<'_>],
        on: &mut dyn FnMut(Event) -> bool,
    ) -> Result<()> {
        let max_files = self
            .limits
            .and_then(|l| usize::try_from(l.max_open_handles).ok())
            .filter(|&n| n > 0)
            .map_or(MAX_OPEN_FILES, |n| n.min(MAX_OPEN_FILES));
        let mut queue = jobs.iter().enumerate();
        let mut slots: BTreeMap<usize, Slot> = BTreeMap::new();
        let mut pending: HashMap<u32, (usize, Pending)> = HashMap::new();
        let mut admitting = true;
        loop {
            // Open more files while there is room.
            if self.interrupted() {
                admitting = false;
            }
            while admitting && slots.len() < max_files && pending.len() < self.requests {
                let Some((index, job)) = queue.next() else {
                    admitting = false;
                    break;
                };
                let (path, pflags, attrs, local) = match job {
                    Job::Get(d) => (&d.remote, super::READ, Attrs::default(), None),
                    Job::Put(u) => match File::open(&u.local) {
                        Ok(f) => (&u.remote, super::WRITE_TRUNCATE, u.attrs.clone(), Some(f)),
                        Err(e) => {
                            admitting = on(Event::Finished(index, Err((Step::Local, e.into()))));
                            continue;
                        }
                    },
                };
                let id = self.send(&Request::Open {
                    path: path.clone(),
                    pflags,
                    attrs,
                });
                pending.insert(id, (index, Pending::Open));
                let limit = match (job, &local) {
                    (Job::Get(d), _) => d.size_hint,
                    // Uploads: the local file's size when opened (it may still grow).
                    (Job::Put(_), Some(f)) => f.metadata().map_or(u64::MAX, |m| m.len()),
                    (Job::Put(_), None) => u64::MAX,
                };
                slots.insert(
                    index,
                    Slot {
                        job: index,
                        stage: Stage::ExpectHandle,
                        local,
                        handle: Vec::new(),
                        next: 0,
                        limit,
                        end: None,
                        moved: 0,
                        in_flight: 1,
                        failure: None,
                    },
                );
                admitting = on(Event::Started(index));
            }
            // Move data for the open files, oldest first, and finish the drained ones.
            let keys: Vec<usize> = slots.keys().copied().collect();
            for key in keys {
                let Some(slot) = slots.get_mut(&key) else {
                    continue;
                };
                let job = jobs.get(slot.job).copied();
                if slot.stage == Stage::Moving {
                    self.fill(slot, job, &mut pending).await?;
                }
                if slot.in_flight == 0 {
                    if let Some(done) = self.advance(slot, job, &mut pending) {
                        slots.remove(&key);
                        admitting &= on(Event::Finished(key, done));
                    }
                }
            }
            if pending.is_empty() {
                if slots.is_empty() && !admitting {
                    return Ok(());
                }
                if slots.is_empty() {
                    continue;
                }
            }
            let (id, response) = self.recv().await?;
            let Some((key, what)) = pending.remove(&id) else {
                return Err(Error::Protocol(format!("answer to unknown request {id}")));
            };
            let Some(slot) = slots.get_mut(&key) else {
                continue;
            };
            slot.in_flight = slot.in_flight.saturating_sub(1);
            let job = jobs.get(slot.job).copied();
            if let Some(done) = self.answer(slot, job, what, response, &mut pending) {
                slots.remove(&key);
                admitting &= on(Event::Finished(key, done));
            } else if matches!(what, Pending::Read { .. } | Pending::Write { .. }) {
                on(Event::Progress(key, slot.moved));
            }
        }
    }

    /// Sends READs or WRITEs for `slot` while the session has requests to spare.
    async fn fill(
        &mut self,
        slot: &mut Slot,
        job: Option<Job<'_>>,
        pending: &mut HashMap<u32, (usize, Pending)>,
    ) -> Result<()> {
        let chunk = self.buffer;
        if self.interrupted() {
            slot.failure
                .get_or_insert((Step::Transfer, Error::Interrupted));
        }
        while slot.failure.is_none() && slot.end.is_none() && pending.len() < self.requests {
            match job {
                Some(Job::Get(_)) => {
                    if slot.next > slot.limit {
                        break;
                    }
                    let len = match slot.limit.checked_sub(slot.next) {
                        Some(left) if left > 0 => u32::try_from(left).unwrap_or(chunk).min(chunk),
                        _ => chunk,
                    };
                    let id = self.send(&Request::Read {
                        handle: slot.handle.clone(),
                        offset: slot.next,
                        len,
                    });
                    pending.insert(id, (slot.job, Pending::Read { at: slot.next, len }));
                    slot.next += u64::from(len);
                }
                Some(Job::Put(_)) => {
                    let Some(file) = &slot.local else { break };
                    // Read straight into the WRITE; room for one byte past the size the
                    // file had when opened, so a small file costs no 255 KiB request
                    // buffer, and a short read still marks its end.
                    let max = slot
                        .limit
                        .checked_sub(slot.next)
                        .and_then(|left| usize::try_from(left.saturating_add(1)).ok())
                        .map_or(chunk as usize, |n| n.min(chunk as usize));
                    let at = slot.next;
                    let (id, n) = match self
                        .send_write_with(&slot.handle, at, max, |dst| read_full_at(file, dst, at))
                    {
                        Ok(sent) => sent,
                        Err(e) => {
                            slot.failure = Some((Step::Local, e.into()));
                            break;
                        }
                    };
                    if n < max {
                        slot.end = Some(slot.next + n as u64);
                    }
                    if n == 0 {
                        break;
                    }
                    pending.insert(id, (slot.job, Pending::Write { n: n as u64 }));
                    slot.next += n as u64;
                    if self.out.len() >= FLUSH_AT {
                        self.flush().await?;
                    }
                }
                None => break,
            }
            slot.in_flight += 1;
        }
        Ok(())
    }

    /// Moves a slot with nothing in flight to its next stage; `Some` when it is done.
    fn advance(
        &mut self,
        slot: &mut Slot,
        job: Option<Job<'_>>,
        pending: &mut HashMap<u32, (usize, Pending)>,
    ) -> Option<Outcome> {
        match slot.stage {
            Stage::ExpectHandle | Stage::ExpectClose => None,
            Stage::Moving => {
                if slot.failure.is_none() && slot.end.is_none() {
                    return None;
                }
                let mut steps = Vec::new();
                match job {
                    Some(Job::Get(_)) => {
                        let end = slot.end.unwrap_or(slot.next);
                        if let Some(Err(e)) = slot.local.as_ref().map(|f| f.set_len(end)) {
                            slot.failure.get_or_insert((Step::Local, e.into()));
                        }
                    }
                    Some(Job::Put(u)) if slot.failure.is_none() => {
                        if let Some(attrs) = &u.preserve {
                            steps.push(Request::Fsetstat {
                                handle: slot.handle.clone(),
                                attrs: attrs.clone(),
                            });
                        }
                        if u.fsync && self.has_extension(crate::codec::ext::FSYNC) {
                            steps.push(Request::Extended(Extended::Fsync {
                                handle: slot.handle.clone(),
                            }));
                        }
                    }
                    _ => {}
                }
                if steps.is_empty() {
                    self.send_close(slot, pending);
                } else {
                    for step in &steps {
                        let id = self.send(step);
                        pending.insert(id, (slot.job, Pending::Step));
                        slot.in_flight += 1;
                    }
                    slot.stage = Stage::ExpectSteps;
                }
                None
            }
            Stage::ExpectSteps => {
                self.send_close(slot, pending);
                None
            }
        }
    }

    fn send_close(&mut self, slot: &mut Slot, pending: &mut HashMap<u32, (usize, Pending)>) {
        let id = self.send(&Request::Close {
            handle: slot.handle.clone(),
        });
        pending.insert(id, (slot.job, Pending::Close));
        slot.in_flight += 1;
        slot.stage = Stage::ExpectClose;
    }

    /// Takes one answer for `slot`; `Some` when the file is done.
    fn answer(
        &mut self,
        slot: &mut Slot,
        job: Option<Job<'_>>,
        what: Pending,
        response: Response,
        pending: &mut HashMap<u32, (usize, Pending)>,
    ) -> Option<Outcome> {
        match what {
            Pending::Open => match response {
                Response::Handle(handle) => {
                    slot.handle = handle;
                    slot.stage = Stage::Moving;
                    if let Some(Job::Get(d)) = job {
                        let created = OpenOptions::new()
                            .write(true)
                            .create(true)
                            .truncate(true)
                            .mode(d.mode)
                            .open(&d.local);
                        match created {
                            Ok(f) => slot.local = Some(f),
                            Err(e) => slot.failure = Some((Step::Local, e.into())),
                        }
                    }
                    None
                }
                other => Some(Err((Step::Open, unexpected(other)))),
            },
            Pending::Read { at, len } => {
                match response {
                    Response::Data(data) if data.len() <= len as usize => {
                        if slot.failure.is_some() {
                            return None;
                        }
                        if data.is_empty() {
                            slot.end = Some(slot.end.map_or(at, |e| e.min(at)));
                            return None;
                        }
                        let written = slot
                            .local
                            .as_ref()
                            .map(|f| std::os::unix::fs::FileExt::write_all_at(f, &data, at));
                        if let Some(Err(e)) = written {
                            slot.failure = Some((Step::Local, e.into()));
                            return None;
                        }
                        let got = data.len() as u32;
                        slot.moved += u64::from(got);
                        slot.limit = slot.limit.max(at + u64::from(got));
                        if got < len && slot.end.is_none() {
                            // A short read: ask for the rest (EOF answers it if the file ended).
                            let rest_at = at + u64::from(got);
                            let id = self.send(&Request::Read {
                                handle: slot.handle.clone(),
                                offset: rest_at,
                                len: len - got,
                            });
                            pending.insert(
                                id,
                                (
                                    slot.job,
                                    Pending::Read {
                                        at: rest_at,
                                        len: len - got,
                                    },
                                ),
                            );
                            slot.in_flight += 1;
                        }
                    }
                    Response::Status { code, .. } if code == status::EOF => {
                        slot.end = Some(slot.end.map_or(at, |e| e.min(at)));
                    }
                    other => {
                        slot.failure
                            .get_or_insert((Step::Transfer, unexpected(other)));
                    }
                }
                None
            }
            Pending::Write { n } => {
                match expect_ok(response) {
                    Ok(()) => slot.moved += n,
                    Err(e) => {
                        slot.failure.get_or_insert((Step::Transfer, e));
                    }
                }
                None
            }
            Pending::Step => {
                if let Err(e) = expect_ok(response) {
                    slot.failure.get_or_insert((Step::Finish, e));
                }
                None
            }
            Pending::Close => {
                let closed = expect_ok(response);
                let end = match job {
                    Some(Job::Get(_)) => slot.end.unwrap_or(slot.next),
                    _ => slot.next,
                };
                Some(match slot.failure.take() {
                    Some(e) => Err(e),
                    None => closed.map(|()| end).map_err(|e| (Step::Close, e)),
                })
            }
        }
    }
}
