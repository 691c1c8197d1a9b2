//! Bodies of the fuzz targets, kept out of the `fuzz_target!` files so the workspace's
//! corpus replay tests run exactly the same code (they include these files by path).

pub mod agent;
pub mod keys;
pub mod sftp;
pub mod sftp_client;
pub mod wire;

use std::sync::{Arc, OnceLock};

use oxssh_proto::crypto::CryptoProvider;

/// The default crypto provider, made once per fuzzing process.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(oxssh_crypto::default_provider()))
        .clone()
}
