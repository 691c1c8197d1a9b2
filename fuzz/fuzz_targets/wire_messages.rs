//! Every transport message decoder, the name-list parser, the wire reader and the public
//! key blob parser, fed arbitrary bytes. Seeds: `fuzz/corpus/wire_messages/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    oxssh_fuzz::wire::decode_wire(data);
    oxssh_fuzz::keys::decode_key(data);
});
