//! Replays every fuzz corpus file of the proto targets through the same entry points
//! the fuzzers use, so CI catches a regression without building the fuzzers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/src/corpus.rs"]
mod corpus_dir;
mod pair;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    corpus_dir::corpus_files(env!("CARGO_MANIFEST_DIR"), target)
        .iter()
        .map(|f| std::fs::read(f).unwrap())
        .collect()
}

#[test]
fn version_line_corpus_replays_without_panic() {
    for input in corpus("version_line") {
        oxssh_proto::fuzzing::version_line(&input);
    }
}

#[test]
fn deframer_corpus_replays_without_panic() {
    for input in corpus("deframer") {
        oxssh_proto::fuzzing::deframe(&input);
    }
}

#[test]
fn server_transport_corpus_replays_without_panic() {
    let provider = pair::provider();
    let key = pair::host_key("ed25519");
    for input in corpus("server_transport") {
        oxssh_proto::fuzzing::server_transport(provider.clone(), key.clone(), &input);
    }
}

#[test]
fn certificate_corpus_replays_without_panic() {
    for input in corpus("certificate") {
        oxssh_proto::fuzzing::certificate(&input);
        // The seeds are ssh-keygen's: they re-encode to the same bytes.
        let cert = oxssh_keys::certificate::Certificate::from_blob(&input).unwrap();
        assert_eq!(cert.to_blob(), input);
        // Every prefix too: truncated certificates are the common hostile input.
        for len in 0..input.len() {
            oxssh_proto::fuzzing::certificate(&input[..len]);
        }
    }
}

#[test]
fn client_transport_corpus_replays_without_panic() {
    let provider = pair::provider();
    for input in corpus("client_transport") {
        oxssh_proto::fuzzing::client_transport(provider.clone(), &input);
    }
}

#[test]
fn auth_server_corpus_replays_without_panic() {
    let provider = pair::provider();
    for input in corpus("auth_server") {
        oxssh_proto::fuzzing::auth_server(provider.clone(), &input);
    }
}

#[test]
fn auth_client_corpus_replays_without_panic() {
    for input in corpus("auth_client") {
        oxssh_proto::fuzzing::auth_client(&input);
    }
}

#[test]
fn connection_corpus_replays_without_panic() {
    let provider = pair::provider();
    for input in corpus("connection") {
        oxssh_proto::fuzzing::connection(provider.clone(), &input);
    }
}
