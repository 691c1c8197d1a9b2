//! The driver: one task per connection that owns the socket. It feeds received bytes
//! to the sans-IO core, routes events to the handles, flushes output when a handle
//! asks, and fires the core's timers. Nothing protocol-related happens here.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::shared::Shared;
use crate::Error;

/// Size of one socket read: several maximum-size packets at once.
const READ_CHUNK: usize = 256 * 1024;
/// Least room in the core's input buffer worth reading into in place.
const MIN_IN_PLACE_READ: usize = 64 * 1024;

/// Runs until the connection ends; the reason is left in the shared state.
pub(crate) async fn run<R, W>(shared: Arc<Shared>, mut reader: R, mut writer: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let error = drive(&shared, &mut reader, &mut writer).await;
    // Best effort: a DISCONNECT may be waiting in the output.
    let _ = flush(&shared, &mut writer).await;
    let _ = writer.shutdown().await;
    shared.fail(error);
}

async fn drive<R, W>(shared: &Shared, reader: &mut R, writer: &mut W) -> Error
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        if let Err(e) = flush(shared, writer).await {
            return e;
        }
        let deadline = shared.lock().conn.poll_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let wake = shared.driver.notified();
        tokio::select! {
            read = receive(shared, reader, &mut buf) => {
                let result = match read {
                    Ok(0) => return Error::Closed,
                    Ok(_) => shared.lock().route_events(),
                    Err(e) => Err(e),
                };
                shared.changed.notify_waiters();
                if let Err(e) = result {
                    let _ = flush(shared, writer).await;
                    return e;
                }
            }
            () = sleep => {
                let result = shared.lock().conn.handle_timeout(Instant::now());
                if let Err(e) = result {
                    let _ = flush(shared, writer).await;
                    return e.into();
                }
            }
            () = wake => {
                // A handle queued output or asked for an event check.
                let result = shared.lock().route_events();
                shared.changed.notify_waiters();
                if let Err(e) = result {
                    return e;
                }
            }
        }
    }
}

/// Reads what the socket has and hands it to the core: straight into the core's input
/// buffer when it has room (no copy), else through `buf`. Returns the bytes read, 0 at
/// the end of the stream. Nothing is kept between polls, so it may be cancelled.
async fn receive<R>(shared: &Shared, reader: &mut R, buf: &mut [u8]) -> Result<usize, Error>
where
    R: AsyncRead + Unpin,
{
    std::future::poll_fn(|cx| {
        let mut inner = shared.lock();
        if let Some(space) = inner.conn.recv_space(MIN_IN_PLACE_READ) {
            let mut room = ReadBuf::new(space);
            ready!(Pin::new(&mut *reader).poll_read(cx, &mut room))?;
            let n = room.filled().len();
            if n > 0 {
                inner.conn.recv_filled(n)?;
            }
            return Poll::Ready(Ok(n));
        }
        drop(inner);
        let mut room = ReadBuf::new(buf);
        ready!(Pin::new(&mut *reader).poll_read(cx, &mut room))?;
        let n = room.filled().len();
        shared.lock().conn.recv(room.filled())?;
        Poll::Ready(Ok(n))
    })
    .await
}

/// Writes everything the core has queued, straight from the core's buffer: each
/// write is one poll under the lock, which is never held across an await.
async fn flush<W: AsyncWrite + Unpin>(shared: &Shared, writer: &mut W) -> Result<(), Error> {
    loop {
        let written = std::future::poll_fn(|cx| {
            let mut inner = shared.lock();
            let pending = inner.conn.transmit();
            if pending.is_empty() {
                return Poll::Ready(Ok(None));
            }
            let result = ready!(Pin::new(&mut *writer).poll_write(cx, pending));
            Poll::Ready(result.map(|n| {
                inner.conn.advance_transmit(n);
                Some(n)
            }))
        })
        .await?;
        match written {
            None => return writer.flush().await.map_err(Error::from),
            Some(0) => return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into()),
            Some(_) => {}
        }
    }
}
