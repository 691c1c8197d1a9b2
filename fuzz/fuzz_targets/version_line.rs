//! The identification-line parser, both roles, whole and byte by byte.
//! Seeds: `fuzz/corpus/version_line/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| oxssh_proto::fuzzing::version_line(data));
