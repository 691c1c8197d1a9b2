//! The `sftp_client` target: the client library against a server that answers INIT
//! with version 3 and then sends the input as its answers, whatever was asked: every
//! call a user's session makes (paths, attributes, listings, a pipelined download,
//! many downloads at once) must end in a result or an error, never a panic or a hang.
//! `crates/oxssh-sftp/tests/fuzz_corpus_replay.rs` includes this file by path.

use std::path::PathBuf;

use oxssh_sftp::client::{Download, Sftp, READ};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The server's VERSION: version 3, no extensions.
const VERSION: [u8; 9] = [0, 0, 0, 5, 2, 0, 0, 0, 3];

/// Runs one session against `answers`. Downloads land in `scratch` (one file, rewritten).
pub fn sftp_client(answers: &[u8], scratch: &std::path::Path) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    runtime.block_on(session(answers, scratch.join("download")));
}

async fn session(answers: &[u8], local: PathBuf) {
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let (read, write) = tokio::io::split(ours);
    let (mut requests, mut replies) = tokio::io::split(theirs);
    let server = async move {
        // Ends when the answers are out or the client is gone.
        let _ = replies.write_all(&VERSION).await;
        let _ = replies.write_all(answers).await;
        let _ = replies.shutdown().await;
    };
    let drain = async move {
        let mut sink = [0u8; 8192];
        while matches!(requests.read(&mut sink).await, Ok(n) if n > 0) {}
    };
    let client = async move {
        // Dropped at the end, which ends the server's writes and the drain.
        let Ok(mut sftp) = Sftp::new(read, write).await else {
            return;
        };
        let _ = sftp.realpath(b".").await;
        let _ = sftp.stat(b"/f").await;
        let _ = sftp.read_dir(b"/d").await;
        let _ = sftp.read_dirs(&[b"/a".to_vec(), b"/b".to_vec()]).await;
        if let Ok(handle) = sftp.open(b"/f", READ, Default::default()).await {
            if let Ok(file) = std::fs::File::create(&local) {
                let _ = sftp.download(&handle, &file, 0, &mut |_| {}).await;
            }
            let _ = sftp.close(handle).await;
        }
        let jobs = [0, 100_000].map(|size_hint| Download {
            remote: b"/g".to_vec(),
            local: local.clone(),
            mode: 0o600,
            size_hint,
        });
        let _ = sftp.download_many(&jobs, &mut |_| true).await;
        let _ = sftp.readlink(b"/l").await;
        let _ = sftp.statvfs(b"/").await;
    };
    tokio::join!(server, drain, client);
}
