//! Replays every file of `fuzz/corpus/sftp_packets/` and `fuzz/corpus/sftp_client/`
//! through the same code the `sftp_packets` and `sftp_client` fuzz targets run (their
//! sources are included by path), so CI catches a regression without building the
//! fuzzers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/src/corpus.rs"]
mod corpus;
#[path = "../../../fuzz/src/sftp.rs"]
mod sftp;
#[path = "../../../fuzz/src/sftp_client.rs"]
mod sftp_client;

use corpus::corpus_files;

#[test]
fn sftp_packets_corpus_replays_without_panic() {
    for file in corpus_files(env!("CARGO_MANIFEST_DIR"), "sftp_packets") {
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
    for file in corpus_files(env!("CARGO_MANIFEST_DIR"), "sftp_packets") {
        let input = std::fs::read(file).unwrap();
        for cut in 0..input.len() {
            sftp::decode_sftp(input.get(..cut).unwrap());
        }
    }
}

#[test]
fn sftp_client_corpus_replays_without_panic_or_hang() {
    let files = corpus_files(env!("CARGO_MANIFEST_DIR"), "sftp_client");
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
