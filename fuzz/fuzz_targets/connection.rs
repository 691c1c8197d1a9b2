//! The connection protocol (channels, windows, requests) fed a peer's messages between
//! the application's own moves. Seeds: `fuzz/corpus/connection/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    oxssh_proto::fuzzing::connection(oxssh_fuzz::provider(), data);
});
