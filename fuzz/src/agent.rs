//! The `agent_messages` target: a stream of agent protocol frames fed to the agent
//! server's decoder and key store (adding, listing, signing, removing, locking keys as
//! the frames ask) and, each frame again, to the client's response decoder.
//! `crates/oxssh-agent/tests/fuzz_corpus_replay.rs` includes this file by path.

use std::time::Instant;

use oxssh_agent::server::{Action, ClientRequest, Keystore, SessionBind};
use oxssh_agent::Response;

/// Feeds each frame (a 4-byte length, cut to what is left, then the body) to a fresh
/// agent's store. Returns how many frames decoded as requests.
pub fn agent_messages(data: &[u8]) -> usize {
    let mut store = Keystore::new(None, false);
    let mut decoded = 0;
    let mut rest = data;
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = usize::try_from(u32::from_be_bytes(*len)).unwrap_or(usize::MAX);
        let (body, tail) = tail.split_at(len.min(tail.len()));
        rest = tail;
        let _ = Response::decode(body);
        let Ok(request) = ClientRequest::decode(body) else {
            continue;
        };
        decoded += 1;
        if let ClientRequest::Extension { contents, .. } = &request {
            let _ = SessionBind::decode(contents);
        }
        if let Action::Sign { key, data, flags } = store.dispatch(request, Instant::now()) {
            let _ = key.sign(&data, flags);
        }
    }
    decoded
}
