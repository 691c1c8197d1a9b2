//! Replays every file of `fuzz/corpus/wire_messages/` through the same decoders the
//! `wire_messages` fuzz target runs (its source is included by path), so CI catches a
//! regression without building the fuzzer. Public key blobs are the fuzzer's other half,
//! in oxssh-keys, which this crate cannot depend on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/src/corpus.rs"]
mod corpus;
#[path = "../../../fuzz/src/wire.rs"]
mod wire;

use corpus::is_seed;

fn corpus_files(target: &str) -> Vec<std::path::PathBuf> {
    corpus::corpus_files(env!("CARGO_MANIFEST_DIR"), target)
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
