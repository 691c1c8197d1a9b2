//! The driver: one task per connection that owns the socket. It feeds received bytes
//! to the sans-IO core, routes events to the handles, flushes output when a handle
//! asks, and fires the core's timers. Nothing protocol-related happens here.

use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::shared::Shared;
use crate::Error;

/// Size of one socket read: several maximum-size packets at once.
const READ_CHUNK: usize = 256 * 1024;

/// Runs until the connection ends; the reason is left in the shared state.
pub(crate) async fn run<R, W>(shared: Arc<Shared>, mut reader: R, mut writer: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut out = Vec::new();
    let error = drive(&shared, &mut reader, &mut writer, &mut out).await;
    // Best effort: a DISCONNECT may be waiting in the output.
    let _ = flush(&shared, &mut writer, &mut out).await;
    let _ = writer.shutdown().await;
    shared.fail(error);
}

async fn drive<R, W>(shared: &Shared, reader: &mut R, writer: &mut W, out: &mut Vec<u8>) -> Error
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        if let Err(e) = flush(shared, writer, out).await {
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
            read = reader.read(&mut buf) => {
                let n = match read {
                    Ok(0) => return Error::Closed,
                    Ok(n) => n,
                    Err(e) => return e.into(),
                };
                let result = {
                    let mut inner = shared.lock();
                    inner
                        .conn
                        .recv(buf.get(..n).unwrap_or_default())
                        .map_err(Error::from)
                        .and_then(|_| inner.route_events())
                };
                shared.changed.notify_waiters();
                if let Err(e) = result {
                    let _ = flush(shared, writer, out).await;
                    return e;
                }
            }
            () = sleep => {
                let result = shared.lock().conn.handle_timeout(Instant::now());
                if let Err(e) = result {
                    let _ = flush(shared, writer, out).await;
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

/// Writes everything the core has queued. Copies through a reusable buffer so the
/// lock is never held across an await.
async fn flush<W: AsyncWrite + Unpin>(
    shared: &Shared,
    writer: &mut W,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    loop {
        out.clear();
        out.extend_from_slice(shared.lock().conn.transmit());
        if out.is_empty() {
            return writer.flush().await.map_err(Error::from);
        }
        writer.write_all(out).await?;
        shared.lock().conn.advance_transmit(out.len());
    }
}
