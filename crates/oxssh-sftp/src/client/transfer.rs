//! One file's transfer: [`Sftp::download`] and [`Sftp::upload`] keep many READs or
//! WRITEs of one open file in flight (sized by `-B`/`-R` and the server's limits), and
//! the whole-file helpers around them.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

use tokio::io::{AsyncRead, AsyncWrite};

use super::{
    expect_ok, read_full_at, unexpected, Error, Handle, Result, Sftp, FLUSH_AT, READ,
    WRITE_TRUNCATE,
};
use crate::codec::{self, status, Attrs, Request, Response};

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Sftp<R, W> {
    /// Copies remote `path` from `offset` into `local` at the same offset, many READs
    /// in flight; `progress` gets the bytes done so far (counting from `offset`).
    /// Returns the file's final length.
    pub async fn download(
        &mut self,
        handle: &Handle,
        local: &File,
        offset: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let chunk = self.buffer;
        let mut in_flight: HashMap<u32, (u64, u32)> = HashMap::new();
        let mut next = offset;
        let mut eof_at: Option<u64> = None;
        let mut done = 0u64;
        let mut failure: Option<Error> = None;
        loop {
            if failure.is_none() && self.interrupted() {
                failure = Some(Error::Interrupted);
            }
            while failure.is_none() && eof_at.is_none() && in_flight.len() < self.requests {
                let id = self.send(&Request::Read {
                    handle: handle.0.clone(),
                    offset: next,
                    len: chunk,
                });
                in_flight.insert(id, (next, chunk));
                next += u64::from(chunk);
            }
            if in_flight.is_empty() {
                break;
            }
            let body = self.recv_raw().await?;
            let body = self.inbound.get(body);
            let response = match codec::decode_data(body) {
                Ok(Some((id, data))) => {
                    let Some((at, len)) = in_flight.remove(&id) else {
                        return Err(Error::Protocol(format!("answer to unknown request {id}")));
                    };
                    if data.len() > len as usize {
                        failure.get_or_insert(Error::Protocol(
                            "READ answered with too much data".into(),
                        ));
                        continue;
                    }
                    if failure.is_some() {
                        continue;
                    }
                    if data.is_empty() {
                        eof_at = Some(eof_at.map_or(at, |e| e.min(at)));
                        continue;
                    }
                    if let Err(e) = local.write_all_at(data, at) {
                        failure = Some(e.into());
                        continue;
                    }
                    let got = data.len() as u32;
                    done += u64::from(got);
                    progress(done);
                    if got < len {
                        // A short read: ask for the rest (EOF answers it if the file ended).
                        let rest_at = at + u64::from(got);
                        let id = self.send(&Request::Read {
                            handle: handle.0.clone(),
                            offset: rest_at,
                            len: len - got,
                        });
                        in_flight.insert(id, (rest_at, len - got));
                    }
                    continue;
                }
                Ok(None) => codec::decode_response(body)
                    .map_err(|e| Error::Protocol(format!("bad response: {e}")))?,
                Err(e) => return Err(Error::Protocol(format!("bad response: {e}"))),
            };
            let (id, response) = response;
            let Some((at, _)) = in_flight.remove(&id) else {
                return Err(Error::Protocol(format!("answer to unknown request {id}")));
            };
            match response {
                Response::Status { code, .. } if code == status::EOF => {
                    eof_at = Some(eof_at.map_or(at, |e| e.min(at)));
                }
                other => {
                    failure.get_or_insert(unexpected(other));
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(eof_at.unwrap_or(next))
    }

    /// Copies `local` from `offset` to its end into the remote file at the same offset,
    /// many WRITEs in flight; `progress` as for [`Sftp::download`].
    pub async fn upload(
        &mut self,
        local: &File,
        handle: &Handle,
        offset: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let chunk = self.buffer as usize;
        let mut in_flight: HashMap<u32, usize> = HashMap::new();
        let mut next = offset;
        let mut at_end = false;
        let mut done = 0u64;
        let mut failure: Option<Error> = None;
        loop {
            if failure.is_none() && self.interrupted() {
                failure = Some(Error::Interrupted);
            }
            while failure.is_none() && !at_end && in_flight.len() < self.requests {
                // The file's data is read straight into the packet carrying the
                // request, or else into the request being queued.
                let in_place = self.send_write_in_place(&handle.0, next, chunk, local);
                let (id, n) = match in_place.await? {
                    Some(sent) => sent,
                    None => self.send_write_with(&handle.0, next, chunk, |dst| {
                        read_full_at(local, dst, next)
                    })?,
                };
                if n == 0 {
                    at_end = true;
                    break;
                }
                in_flight.insert(id, n);
                next += n as u64;
                // Stream the writes out rather than queueing all of them in memory.
                if self.out.len() >= FLUSH_AT {
                    self.flush().await?;
                }
            }
            if in_flight.is_empty() {
                break;
            }
            let (id, response) = self.recv().await?;
            let Some(n) = in_flight.remove(&id) else {
                return Err(Error::Protocol(format!("answer to unknown request {id}")));
            };
            match expect_ok(response) {
                Ok(()) => {
                    done += n as u64;
                    progress(done);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(next),
        }
    }

    /// Downloads remote `path` into a new (or truncated) local file `local`; returns
    /// the bytes copied.
    pub async fn download_file(
        &mut self,
        path: &[u8],
        local: &std::path::Path,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let handle = self.open(path, READ, Attrs::default()).await?;
        let result = match File::create(local) {
            Ok(file) => self
                .download(&handle, &file, 0, progress)
                .await
                .and_then(|end| file.set_len(end).map(|()| end).map_err(Error::Io)),
            Err(e) => Err(Error::Io(e)),
        };
        let closed = self.close(handle).await;
        let end = result?;
        closed?;
        Ok(end)
    }

    /// Uploads local file `local` to remote `path` (created or truncated, with the
    /// local file's permission bits); returns the bytes copied.
    pub async fn upload_file(
        &mut self,
        local: &std::path::Path,
        path: &[u8],
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        use std::os::unix::fs::PermissionsExt;
        let file = File::open(local)?;
        let mode = file.metadata()?.permissions().mode() & 0o777;
        let attrs = Attrs {
            permissions: Some(mode),
            ..Attrs::default()
        };
        let handle = self.open(path, WRITE_TRUNCATE, attrs).await?;
        let result = self.upload(&file, &handle, 0, progress).await;
        let closed = self.close(handle).await;
        let end = result?;
        closed?;
        Ok(end)
    }
}
