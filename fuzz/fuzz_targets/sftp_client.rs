//! The SFTP client library fed a hostile server's answers. Seeds:
//! `fuzz/corpus/sftp_client/`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// Where downloads land: one scratch directory per fuzzing process.
fn scratch() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("oxssh-fuzz-sftp-client-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        dir
    })
}

fuzz_target!(|data: &[u8]| oxssh_fuzz::sftp_client::sftp_client(data, scratch()));
