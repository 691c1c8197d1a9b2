//! Replays every file of `fuzz/corpus/wire_messages/` through the same decoders the
//! `wire_messages` fuzz target runs (its source is included by path), so CI catches a
//! regression without building the fuzzer. Public key blobs are the fuzzer's other half,
//! in oxssh-keys, which this crate cannot depend on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/src/wire.rs"]
mod wire;

use std::path::{Path, PathBuf};

fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

/// Hand-written seeds have readable names; files the fuzzer adds are named by hash.
fn is_seed(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    !(name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[test]
fn wire_messages_corpus_replays_without_panic() {
    for file in corpus_files("wire_messages") {
        let input = std::fs::read(&file).unwrap();
        let accepted = wire::decode_wire(&input);
        let name = file.file_name().unwrap().to_string_lossy();
        // Seeds are valid encodings: a seed no decoder accepts has rotted and no longer
        // starts the fuzzer anywhere useful (key blobs are decoded by oxssh-keys).
        if is_seed(&file) && !name.starts_with("pubkey_") {
            assert!(accepted > 0, "seed {name} no longer decodes as anything");
        }
    }
}
