//! Replays every file of `fuzz/corpus/agent_messages/` through the same code the
//! `agent_messages` fuzz target runs (its source is included by path), so CI catches a
//! regression without building the fuzzer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/src/agent.rs"]
mod agent;

use std::path::PathBuf;

#[test]
fn agent_messages_corpus_replays_without_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/agent_messages");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    for file in files {
        let input = std::fs::read(&file).unwrap();
        let decoded = agent::agent_messages(&input);
        // The hand-made seeds (the fuzzer names its finds by their SHA-1) each hold at
        // least one frame that decodes as a request.
        let name = file.file_name().unwrap().to_string_lossy();
        let found = name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit());
        assert!(
            found || decoded > 0,
            "{} decodes as nothing",
            file.display()
        );
    }
}
