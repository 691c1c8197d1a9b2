//! Several directories listed at once: [`Sftp::read_dirs`] keeps their OPENDIR,
//! READDIR and CLOSE requests in flight together (at most the session's request count,
//! `-R`), so walking a tree costs about one round trip per level rather than three or
//! more per directory.

use std::collections::HashMap;

use tokio::io::{AsyncRead, AsyncWrite};

use super::{unexpected, Error, Handle, Result, Sftp};
use crate::codec::{status, NameEntry, Request, Response};

/// Told of each entry a server listed under a name holding a `/` (which the listing
/// drops): the directory listed, and the name.
pub type SuspectNameReport = Box<dyn FnMut(&[u8], &[u8]) + Send>;

/// What one listing call may hold by default: 1 GiB, several million entries of
/// ordinary names (see [`Sftp::set_listing_limit`]).
pub const DEFAULT_LISTING_LIMIT: usize = 1 << 30;

/// What an entry is counted for against the limit: its names and extended attributes,
/// and a fixed share for the entry itself.
fn listing_cost(entry: &NameEntry) -> usize {
    const PER_ENTRY: usize = 128;
    let extended: usize = entry
        .attrs
        .extended
        .iter()
        .map(|(name, value)| name.len() + value.len() + 48)
        .sum();
    PER_ENTRY + entry.filename.len() + entry.longname.len() + extended
}

/// Where a session reports the names it dropped (none set: a tracing warning).
#[derive(Default)]
pub(super) struct SuspectNames(Option<SuspectNameReport>);

impl std::fmt::Debug for SuspectNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "SuspectNames(set)"
        } else {
            "SuspectNames"
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Pending {
    Open(usize),
    Read(usize),
    Close(usize),
}

/// One directory being listed.
#[derive(Debug, Default)]
struct Listing {
    handle: Vec<u8>,
    entries: Vec<NameEntry>,
    failure: Option<Error>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Sftp<R, W> {
    /// Sets where listings report the entries they drop. A directory lists its own
    /// children, so a name holding a `/` (`../../.ssh/authorized_keys`) can only be a
    /// server's attempt to lead a recursive download or a glob out of its target:
    /// [`Sftp::read_dir`] and [`Sftp::read_dirs`] drop such names, as OpenSSH's sftp
    /// does, and tell `report` (e.g. to print sftp's "Server sent suspect path" line).
    pub fn on_suspect_name(&mut self, report: SuspectNameReport) {
        self.suspect = SuspectNames(Some(report));
    }

    /// Bounds what one [`Sftp::read_dir`] or [`Sftp::read_dirs`] call holds: a server
    /// can list without end, and a listing is kept whole. Past `bytes` (names, long
    /// names and attributes, and a share per entry; [`DEFAULT_LISTING_LIMIT`] unless
    /// set) the call fails with [`Error::Protocol`].
    pub fn set_listing_limit(&mut self, bytes: usize) {
        self.listing_limit = bytes;
    }

    /// Moves `names` listed in directory `dir` into `entries`, but those holding a `/`,
    /// spending `budget` (what the call may still hold).
    fn keep_plain_names(
        &mut self,
        dir: &[u8],
        names: Vec<NameEntry>,
        entries: &mut Vec<NameEntry>,
        budget: &mut usize,
    ) -> Result<()> {
        for entry in names {
            *budget = budget.checked_sub(listing_cost(&entry)).ok_or_else(|| {
                Error::Protocol(format!(
                    "directory listing over {} bytes",
                    self.listing_limit
                ))
            })?;
            if !entry.filename.contains(&b'/') {
                entries.push(entry);
            } else if let Some(report) = self.suspect.0.as_mut() {
                report(dir, &entry.filename);
            } else {
                tracing::warn!(
                    "server listed suspect name {:?} in {:?}",
                    String::from_utf8_lossy(&entry.filename),
                    String::from_utf8_lossy(dir)
                );
            }
        }
        Ok(())
    }

    /// The entries of directory `path` (`.` and `..` included when the server lists
    /// them; names holding a `/` dropped, see [`Sftp::on_suspect_name`]). Stopped through
    /// [`Sftp::interrupter`] ([`Error::Interrupted`]); bounded by
    /// [`Sftp::set_listing_limit`].
    pub async fn read_dir(&mut self, path: &[u8]) -> Result<Vec<NameEntry>> {
        let handle = match self
            .call(Request::Opendir {
                path: path.to_vec(),
            })
            .await?
        {
            Response::Handle(h) => Handle(h),
            other => return Err(unexpected(other)),
        };
        let mut entries = Vec::new();
        let mut budget = self.listing_limit;
        let result = loop {
            // A long listing stops between READDIRs when interrupted (the handle is
            // still closed).
            if self.interrupted() {
                break Err(Error::Interrupted);
            }
            match self
                .call(Request::Readdir {
                    handle: handle.0.clone(),
                })
                .await
            {
                Ok(Response::Name(names)) => {
                    if let Err(e) = self.keep_plain_names(path, names, &mut entries, &mut budget) {
                        break Err(e);
                    }
                }
                Ok(Response::Status { code, .. }) if code == status::EOF => break Ok(()),
                Ok(other) => break Err(unexpected(other)),
                Err(e) => break Err(e),
            }
        };
        let closed = self.close(handle).await;
        result?;
        closed?;
        Ok(entries)
    }

    /// The entries of each directory of `paths` (as [`Sftp::read_dir`] gives them),
    /// or why it could not be listed; in the order of `paths`. An `Err` means the
    /// session itself failed, the listings went over [`Sftp::set_listing_limit`]
    /// together, or [`Error::Interrupted`]: once the session's interrupter
    /// is set, no directory is opened any more and the open ones are closed instead of
    /// read on.
    pub async fn read_dirs(&mut self, paths: &[Vec<u8>]) -> Result<Vec<Result<Vec<NameEntry>>>> {
        let mut listings: Vec<Listing> = paths.iter().map(|_| Listing::default()).collect();
        let mut budget = self.listing_limit;
        let mut pending: HashMap<u32, Pending> = HashMap::new();
        let mut next = 0;
        loop {
            while !self.interrupted() && next < paths.len() && pending.len() < self.requests {
                let path = paths.get(next).cloned().unwrap_or_default();
                let id = self.send(&Request::Opendir { path });
                pending.insert(id, Pending::Open(next));
                next += 1;
            }
            if pending.is_empty() {
                break;
            }
            let (id, response) = self.recv().await?;
            let Some(what) = pending.remove(&id) else {
                return Err(Error::Protocol(format!("answer to unknown request {id}")));
            };
            let (Pending::Open(i) | Pending::Read(i) | Pending::Close(i)) = what;
            let Some(listing) = listings.get_mut(i) else {
                continue;
            };
            let request = match (what, response) {
                (Pending::Open(_), Response::Handle(handle)) => {
                    listing.handle = handle;
                    Some((
                        Request::Readdir {
                            handle: listing.handle.clone(),
                        },
                        Pending::Read(i),
                    ))
                }
                (Pending::Read(_), Response::Name(names)) => {
                    let dir = paths.get(i).map_or(&[][..], Vec::as_slice);
                    self.keep_plain_names(dir, names, &mut listing.entries, &mut budget)?;
                    Some((
                        Request::Readdir {
                            handle: listing.handle.clone(),
                        },
                        Pending::Read(i),
                    ))
                }
                (Pending::Read(_), Response::Status { code, .. }) if code == status::EOF => Some((
                    Request::Close {
                        handle: listing.handle.clone(),
                    },
                    Pending::Close(i),
                )),
                (Pending::Close(_), Response::Status { code, .. }) if code == status::OK => None,
                (Pending::Read(_), other) => {
                    listing.failure = Some(unexpected(other));
                    Some((
                        Request::Close {
                            handle: listing.handle.clone(),
                        },
                        Pending::Close(i),
                    ))
                }
                (_, other) => {
                    listing.failure.get_or_insert(unexpected(other));
                    None
                }
            };
            let request = request.map(|(request, what)| match request {
                Request::Readdir { handle } if self.interrupted() => {
                    (Request::Close { handle }, Pending::Close(i))
                }
                other => (other, what),
            });
            if let Some((request, what)) = request {
                let id = self.send(&request);
                pending.insert(id, what);
            }
        }
        if self.interrupted() {
            return Err(Error::Interrupted);
        }
        Ok(listings
            .into_iter()
            .map(|l| match l.failure {
                Some(e) => Err(e),
                None => Ok(l.entries),
            })
            .collect())
    }
}
