//! The server's user authentication fed a client's USERAUTH messages, each attempt
//! answered as the script says. Seeds: `fuzz/corpus/auth_server/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    oxssh_proto::fuzzing::auth_server(oxssh_fuzz::provider(), data);
});
