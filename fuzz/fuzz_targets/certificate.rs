//! OpenSSH certificate blobs (`PROTOCOL.certkeys`), as a client or server receives them.
//! Seeds: `fuzz/corpus/certificate/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| oxssh_proto::fuzzing::certificate(data));
