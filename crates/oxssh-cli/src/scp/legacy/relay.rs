//! `-O` copies between two remote hosts through this host (scp's default since OpenSSH
//! 8.7, `-3`): for each source, the source's host runs `scp -f SOURCE` and the target's
//! host `scp -t TARGET`, and their channels are joined here byte for byte, as scp joins
//! its two ssh processes: the two remote scps speak the protocol to each other, their
//! stderr is ours. Status 1 when a side failed.

use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};

use super::remote::exec;
use super::{remote_command, upload, Flags, Via, CHUNK};
use crate::scp::{target_for, Args, Remote};
use crate::sftp::{runtime, Prepared};

/// Copies every source to `to` (a local source is uploaded there); scp's status.
pub(in crate::scp) fn run(
    args: &Args,
    flags: Flags,
    sources: &[String],
    remotes: &[Option<Remote>],
    to: &Remote,
) -> u8 {
    // Every host's configuration first: a bad one fails before anything is copied.
    let dest = match Prepared::resolve(&target_for(args, to)) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut origins = Vec::new();
    for remote in remotes {
        origins.push(match remote {
            Some(r) => match Prepared::resolve(&target_for(args, r)) {
                Ok(p) => Some(p),
                Err(code) => return code,
            },
            None => None,
        });
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let several = sources.len() > 1;
    let code = rt.block_on(async {
        // One connection to the target serves every source, a session each.
        let Ok(target) = dest.connect_serving_agent().await else {
            return 255;
        };
        let mut code = 0;
        for ((source, remote), origin) in sources.iter().zip(remotes).zip(&origins) {
            let copied = match (remote, origin) {
                (Some(remote), Some(origin)) => match origin.connect_serving_agent().await {
                    Ok(from) => {
                        let path = remote.path.as_str();
                        let copied = relay(&from, &target, flags, path, &to.path, several).await;
                        from.disconnect().await;
                        copied
                    }
                    Err(failed) => failed,
                },
                _ => {
                    let one = std::slice::from_ref(source);
                    upload(Via::Client(&target), flags, one, &to.path).await
                }
            };
            code = code.max(copied);
        }
        target.disconnect().await;
        code
    });
    rt.shutdown_background();
    code
}

/// Copies `source` (on `from`'s host) to `target` (on `to`'s host).
async fn relay(
    from: &oxssh::Client,
    to: &oxssh::Client,
    flags: Flags,
    source: &str,
    target: &str,
    should_be_dir: bool,
) -> u8 {
    let (Some((mut sink, _)), Some((mut origin, _))) = (
        exec(
            to,
            &remote_command(flags, "-t", target, should_be_dir),
            flags,
        )
        .await,
        exec(
            from,
            &remote_command(flags, "-f", source, should_be_dir),
            flags,
        )
        .await,
    ) else {
        return 1;
    };
    let mut sink_writer = sink.writer();
    let mut origin_writer = origin.writer();
    // File data in the protocol's chunks, not tokio::io::copy's 8 KiB ones (each write
    // is a data packet).
    let forward = async {
        let mut from = BufReader::with_capacity(CHUNK, &mut origin);
        let _ = tokio::io::copy_buf(&mut from, &mut sink_writer).await;
        let _ = sink_writer.shutdown().await;
    };
    let back = async {
        let _ = tokio::io::copy(&mut sink, &mut origin_writer).await;
        let _ = origin_writer.shutdown().await;
    };
    tokio::join!(forward, back);
    let ok = |status| matches!(status, Ok(Ok(oxssh::ExitStatus::Code(0))));
    let limit = Duration::from_secs(10);
    let origin_ok = ok(tokio::time::timeout(limit, origin.wait()).await);
    let sink_ok = ok(tokio::time::timeout(limit, sink.wait()).await);
    u8::from(!(origin_ok && sink_ok))
}
