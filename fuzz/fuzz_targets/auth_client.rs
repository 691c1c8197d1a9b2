//! The client's user authentication fed a server's answers (failures, PK_OK, info
//! requests, banners). Seeds: `fuzz/corpus/auth_client/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| oxssh_proto::fuzzing::auth_client(data));
