//! Replays every file of `fuzz/corpus/agent_messages/` through the same code the
//! `agent_messages` fuzz target runs (its source is included by path), so CI catches a
//! regression without building the fuzzer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/src/agent.rs"]
mod agent;
#[path = "../../../fuzz/src/corpus.rs"]
mod corpus;

#[test]
fn agent_messages_corpus_replays_without_panic() {
    for file in corpus::corpus_files(env!("CARGO_MANIFEST_DIR"), "agent_messages") {
        let input = std::fs::read(&file).unwrap();
        let decoded = agent::agent_messages(&input);
        // The hand-made seeds each hold at least one frame that decodes as a request.
        assert!(
            !corpus::is_seed(&file) || decoded > 0,
            "{} decodes as nothing",
            file.display()
        );
    }
}
