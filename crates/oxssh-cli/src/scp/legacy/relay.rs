//! `-O` copies between two remote hosts through this host (scp's default since OpenSSH
//! 8.7, `-3`): for each source, the source's host runs `scp -f SOURCE` and the target's
//! host `scp -t TARGET`, and their channels are joined here byte for byte, as scp joins
//! its two ssh processes: the two remote scps speak the protocol to each other, their
//! stderr is ours. With `-S`, each remote scp runs through scp's ssh program. Status 1
//! when a side failed.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use super::remote::{exec, spawn};
use super::{remote_command, upload, Flags, Via, CHUNK};
use crate::scp::program::SshProgram;
use crate::scp::{target_for, Args, Remote};
use crate::sftp::{program_ended, runtime, Prepared};

/// Copies every source to `to` (a local source is uploaded there); scp's status.
pub(in crate::scp) fn run(
    args: &Args,
    flags: Flags,
    sources: &[String],
    remotes: &[Option<Remote>],
    to: &Remote,
) -> u8 {
    if let Some(program) = &args.program {
        return run_programs(args, program, flags, sources, remotes, to);
    }
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

/// [`run`] through scp's ssh program (`-S`): for each source, one program runs the
/// source's `scp -f` and a second one the target's `scp -t`, as scp runs them.
fn run_programs(
    args: &Args,
    program: &str,
    flags: Flags,
    sources: &[String],
    remotes: &[Option<Remote>],
    to: &Remote,
) -> u8 {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let several = sources.len() > 1;
    let uploader = SshProgram::new(args, program, to, false);
    let sink = SshProgram::new(args, program, to, false).second();
    let code = rt.block_on(async {
        let mut code = 0;
        for (source, remote) in sources.iter().zip(remotes) {
            let copied = match remote {
                Some(remote) => {
                    let origin = SshProgram::new(args, program, remote, false);
                    let ends = Ends {
                        origin: (&origin, &remote.path),
                        sink: (&sink, &to.path),
                    };
                    relay_programs(ends, flags, several).await
                }
                None => {
                    let one = std::slice::from_ref(source);
                    upload(Via::Program(&uploader), flags, one, &to.path).await
                }
            };
            code = code.max(copied);
        }
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
    let (sink_writer, origin_writer) = (sink.writer(), origin.writer());
    join(&mut origin, origin_writer, &mut sink, sink_writer).await;
    let ok = |status| matches!(status, Ok(Ok(oxssh::ExitStatus::Code(0))));
    let origin_ok = ok(tokio::time::timeout(EXIT_WAIT, origin.wait()).await);
    let sink_ok = ok(tokio::time::timeout(EXIT_WAIT, sink.wait()).await);
    u8::from(!(origin_ok && sink_ok))
}

/// How long a remote scp is given to exit once its streams have ended.
const EXIT_WAIT: Duration = Duration::from_secs(10);

/// The ssh program and the path, for each end.
struct Ends<'a> {
    origin: (&'a SshProgram, &'a str),
    sink: (&'a SshProgram, &'a str),
}

/// [`relay`] through two runs of the ssh program, the origin's first as scp starts them.
async fn relay_programs(ends: Ends<'_>, flags: Flags, should_be_dir: bool) -> u8 {
    let (program, source) = ends.origin;
    let command = remote_command(flags, "-f", source, should_be_dir);
    let Some(mut origin) = spawn(program, "", &command, flags) else {
        return 1;
    };
    let (program, target) = ends.sink;
    let command = remote_command(flags, "-t", target, should_be_dir);
    let Some(mut sink) = spawn(program, "2nd ", &command, flags) else {
        return 1;
    };
    let (Some(origin_out), Some(origin_in), Some(sink_out), Some(sink_in)) = (
        origin.stdout.take(),
        origin.stdin.take(),
        sink.stdout.take(),
        sink.stdin.take(),
    ) else {
        return 1;
    };
    join(origin_out, origin_in, sink_out, sink_in).await;
    let origin_ok = program_ended(origin).await;
    let sink_ok = program_ended(sink).await;
    u8::from(!(origin_ok && sink_ok))
}

/// Joins the two remote scps: the origin's output to the sink's input and back, each
/// input closed when the other side's output ends.
async fn join<OR, OW, SR, SW>(origin_out: OR, mut origin_in: OW, mut sink_out: SR, mut sink_in: SW)
where
    OR: AsyncRead + Unpin,
    OW: AsyncWrite + Unpin,
    SR: AsyncRead + Unpin,
    SW: AsyncWrite + Unpin,
{
    // File data in the protocol's chunks, not tokio::io::copy's 8 KiB ones (each write
    // is a data packet). Each input is dropped once shut down: a pipe closes only then.
    let forward = async move {
        let mut from = BufReader::with_capacity(CHUNK, origin_out);
        let _ = tokio::io::copy_buf(&mut from, &mut sink_in).await;
        let _ = sink_in.shutdown().await;
        drop(sink_in);
    };
    let back = async move {
        let _ = tokio::io::copy(&mut sink_out, &mut origin_in).await;
        let _ = origin_in.shutdown().await;
        drop(origin_in);
    };
    tokio::join!(forward, back);
}
