//! Replays every file of `fuzz/corpus/sftp_packets/` through the same code the
//! `sftp_packets` fuzz target runs (its source is included by path), so CI catches a
//! regression without building the fuzzer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/src/sftp.rs"]
mod sftp;

use std::path::PathBuf;

#[test]
fn sftp_packets_corpus_replays_without_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sftp_packets");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for file in files {
        let input = std::fs::read(&file).unwrap();
        // Seeds are valid encodings of something.
        assert!(
            sftp::decode_sftp(&input) > 0,
            "{} decodes as nothing",
            file.display()
        );
    }
}

#[test]
fn truncations_of_every_seed_never_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sftp_packets");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let input = std::fs::read(entry.unwrap().path()).unwrap();
        for cut in 0..input.len() {
            sftp::decode_sftp(input.get(..cut).unwrap());
        }
    }
}
