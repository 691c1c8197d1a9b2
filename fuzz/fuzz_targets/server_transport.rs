//! A whole server transport fed a client's bytes: version, KEXINIT, every kex method's
//! messages, packets in any order. Seeds: `fuzz/corpus/server_transport/`.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use oxssh_proto::crypto::{CryptoProvider, SigningKey};

fn fixtures() -> &'static (Arc<CryptoProvider>, Arc<dyn SigningKey>) {
    static FIXTURES: OnceLock<(Arc<CryptoProvider>, Arc<dyn SigningKey>)> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let key = oxssh_crypto::generate_signing_key(oxssh_crypto::KeyKind::Ed25519)
            .expect("ed25519 key generation");
        (Arc::new(oxssh_crypto::default_provider()), Arc::from(key))
    })
}

fuzz_target!(|data: &[u8]| {
    let (provider, key) = fixtures();
    oxssh_proto::fuzzing::server_transport(provider.clone(), key.clone(), data);
});
