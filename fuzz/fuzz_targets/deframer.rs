//! The binary packet deframer: lengths, padding, partial input.
//! Seeds: `fuzz/corpus/deframer/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| oxssh_proto::fuzzing::deframe(data));
