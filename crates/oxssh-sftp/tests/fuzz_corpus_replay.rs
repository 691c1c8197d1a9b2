//! Replays every file of `fuzz/corpus/sftp_packets/` and `fuzz/corpus/sftp_client/`
//! through the same code the `sftp_packets` and `sftp_client` fuzz targets run (their
//! sources are included by path), so CI catches a regression without building the
//! fuzzers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/src/sftp.rs"]
mod sftp;
#[path = "../../../fuzz/src/sftp_client.rs"]
mod sftp_client;

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

#[test]
fn sftp_client_corpus_replays_without_panic_or_hang() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sftp_client");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().to_path_buf();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for file in files {
            sftp_client::sftp_client(&std::fs::read(&file).unwrap(), &root);
        }
        let _ = done.send(());
    });
    // Each session ends when the answers run out: a hang is a failure.
    finished
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("a session against the corpus still running after 120 s");
}
