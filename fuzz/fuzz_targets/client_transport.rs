//! A whole client transport fed a server's bytes: version, KEXINIT, every kex method's
//! reply (host keys and certificates, ephemeral keys, KEM ciphertexts, group-exchange
//! primes), packets in any order. Seeds: `fuzz/corpus/client_transport/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    oxssh_proto::fuzzing::client_transport(oxssh_fuzz::provider(), data);
});
