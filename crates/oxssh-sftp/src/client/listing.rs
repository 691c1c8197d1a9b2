//! Several directories listed at once: [`Sftp::read_dirs`] keeps their OPENDIR,
//! READDIR and CLOSE requests in flight together (at most the session's request count,
//! `-R`), so walking a tree costs about one round trip per level rather than three or
//! more per directory.

use std::collections::HashMap;

use tokio::io::{AsyncRead, AsyncWrite};

use super::{unexpected, Error, Result, Sftp};
use crate::codec::{status, NameEntry, Request, Response};

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
    /// The entries of each directory of `paths` (as [`Sftp::read_dir`] gives them),
    /// or why it could not be listed; in the order of `paths`. An `Err` means the
    /// session itself failed, or [`Error::Interrupted`]: once the session's interrupter
    /// is set, no directory is opened any more and the open ones are closed instead of
    /// read on.
    pub async fn read_dirs(&mut self, paths: &[Vec<u8>]) -> Result<Vec<Result<Vec<NameEntry>>>> {
        let mut listings: Vec<Listing> = paths.iter().map(|_| Listing::default()).collect();
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
                    listing.entries.extend(names);
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
