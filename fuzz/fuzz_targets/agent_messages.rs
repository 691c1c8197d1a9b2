//! Agent protocol frames through the agent's decoder and key store, and the client's
//! response decoder. Seeds: `fuzz/corpus/agent_messages/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    oxssh_fuzz::agent::agent_messages(data);
});
