//! The files of one target's corpus, for the workspace's replay tests (which include
//! this file by path; the fuzzers themselves never read it).
// Each replay test uses what it needs of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Whether `path` is a hand-written seed: the fuzzer names the files it adds by their
/// SHA-1, seeds have readable names.
pub fn is_seed(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    !(name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Every file of `fuzz/corpus/TARGET/`, sorted; `manifest_dir` is the replaying
/// crate's `CARGO_MANIFEST_DIR` (two levels below the repository's root). Panics on an
/// unreadable or empty corpus: replaying nothing proves nothing.
pub fn corpus_files(manifest_dir: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(manifest_dir)
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}
