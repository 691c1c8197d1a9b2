//! One file from one server to another through this host's memory ([`crossload`], what
//! `scp -3` does): READs pipelined on the origin session, each answer sent on as a WRITE
//! on the destination session, the WRITEs' answers collected as they come. Nothing
//! touches the local disk. Bounded: at most the origin's request count (`-R`) of READs,
//! and no more than [`IN_FLIGHT_BYTES`] of them, and as many WRITEs in flight, so
//! memory stays under about 16 MiB plus the sessions' buffers, whatever the file's size.

use std::collections::HashMap;
use std::convert::Infallible;

use tokio::io::{AsyncRead, AsyncWrite};

use super::{expect_ok, unexpected, Error, Handle, Sftp, FLUSH_AT};
use crate::codec::{self, status, Request, Response};

/// READ data in flight at most, and as much again of WRITEs (so at most 64 requests
/// of 128 KiB, or 32 of the 255 KiB OpenSSH's servers allow, each way).
const IN_FLIGHT_BYTES: usize = 8 << 20;

/// Which server a [`crossload`] failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The server read from.
    Origin,
    /// The server written to.
    Dest,
}

/// Copies the open file `from_handle` on `from` into the open (created or truncated)
/// file `to_handle` on `to`, both from offset 0; `progress` gets the bytes the
/// destination has acknowledged so far. Returns the bytes copied; on failure, which
/// side failed and why (a status error leaves both sessions usable; the caller closes
/// the handles). Stopped through either session's interrupter ([`Error::Interrupted`]).
pub async fn crossload<R1, W1, R2, W2>(
    from: &mut Sftp<R1, W1>,
    from_handle: &Handle,
    to: &mut Sftp<R2, W2>,
    to_handle: &Handle,
    progress: &mut dyn FnMut(u64),
) -> std::result::Result<u64, (Side, Error)>
where
    R1: AsyncRead + Unpin,
    W1: AsyncWrite + Unpin,
    R2: AsyncRead + Unpin,
    W2: AsyncWrite + Unpin,
{
    let chunk = from.buffer.min(to.buffer).max(1);
    let window = from.requests.min(IN_FLIGHT_BYTES / chunk as usize).max(1);
    // READs in flight: id -> (offset, length asked).
    let mut reads: HashMap<u32, (u64, u32)> = HashMap::new();
    // WRITEs in flight: id -> bytes.
    let mut writes: HashMap<u32, u64> = HashMap::new();
    let mut next = 0u64;
    let mut eof_at: Option<u64> = None;
    let mut acked = 0u64;
    let mut failure: Option<(Side, Error)> = None;
    loop {
        if failure.is_none() && (from.interrupted() || to.interrupted()) {
            failure = Some((Side::Origin, Error::Interrupted));
        }
        while failure.is_none() && eof_at.is_none() && reads.len() < window && writes.len() < window
        {
            let id = from.send(&Request::Read {
                handle: from_handle.0.clone(),
                offset: next,
                len: chunk,
            });
            reads.insert(id, (next, chunk));
            next += u64::from(chunk);
        }
        if reads.is_empty() && writes.is_empty() {
            break;
        }
        if !reads.is_empty() && writes.len() < window {
            // Let the destination work on the WRITEs queued so far while the origin
            // answers.
            to.flush().await.map_err(|e| (Side::Dest, e))?;
            let body = from.recv_raw().await.map_err(|e| (Side::Origin, e))?;
            let body = from.inbound.get(body);
            let (id, response) = match codec::decode_data(body) {
                Ok(Some((id, data))) => {
                    let Some((at, len)) = reads.remove(&id) else {
                        return Err((Side::Origin, unknown(id)));
                    };
                    if data.len() > len as usize {
                        let e = Error::Protocol("READ answered with too much data".into());
                        return Err((Side::Origin, e));
                    }
                    if failure.is_some() {
                        continue;
                    }
                    if data.is_empty() {
                        eof_at = Some(eof_at.map_or(at, |e| e.min(at)));
                        continue;
                    }
                    let got = data.len() as u32;
                    // Straight from the READ answer into the WRITE being queued.
                    let copy = |dst: &mut [u8]| -> std::result::Result<usize, Infallible> {
                        let n = data.len().min(dst.len());
                        if let (Some(out), Some(bytes)) = (dst.get_mut(..n), data.get(..n)) {
                            out.copy_from_slice(bytes);
                        }
                        Ok(n)
                    };
                    let Ok((id, _)) = to.send_write_with(&to_handle.0, at, data.len(), copy);
                    writes.insert(id, u64::from(got));
                    if got < len {
                        // A short read: ask for the rest (EOF answers it if the file ended).
                        let rest_at = at + u64::from(got);
                        let id = from.send(&Request::Read {
                            handle: from_handle.0.clone(),
                            offset: rest_at,
                            len: len - got,
                        });
                        reads.insert(id, (rest_at, len - got));
                    }
                    if to.out.len() >= FLUSH_AT {
                        to.flush().await.map_err(|e| (Side::Dest, e))?;
                    }
                    continue;
                }
                Ok(None) => codec::decode_response(body)
                    .map_err(|e| (Side::Origin, Error::Protocol(format!("bad response: {e}"))))?,
                Err(e) => {
                    return Err((Side::Origin, Error::Protocol(format!("bad response: {e}"))))
                }
            };
            let Some((at, _)) = reads.remove(&id) else {
                return Err((Side::Origin, unknown(id)));
            };
            match response {
                Response::Status { code, .. } if code == status::EOF => {
                    eof_at = Some(eof_at.map_or(at, |e| e.min(at)));
                }
                other => {
                    failure.get_or_insert((Side::Origin, unexpected(other)));
                }
            }
        } else {
            let (id, response) = to.recv().await.map_err(|e| (Side::Dest, e))?;
            let Some(n) = writes.remove(&id) else {
                return Err((Side::Dest, unknown(id)));
            };
            match expect_ok(response) {
                Ok(()) => {
                    acked += n;
                    progress(acked);
                }
                Err(e) => {
                    failure.get_or_insert((Side::Dest, e));
                }
            }
        }
    }
    match failure {
        Some(f) => Err(f),
        None => Ok(acked),
    }
}

fn unknown(id: u32) -> Error {
    Error::Protocol(format!("answer to unknown request {id}"))
}
