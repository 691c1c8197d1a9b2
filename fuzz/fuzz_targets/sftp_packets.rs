//! SFTP packet bodies through the request/response decoders and the server core.
//! Seeds: `fuzz/corpus/sftp_packets/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    oxssh_fuzz::sftp::decode_sftp(data);
});
