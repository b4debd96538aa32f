//! The fuzz targets' seeds, run as tests: every input of `fuzz/corpus/handle_invocation` and
//! `fuzz/corpus/decode_event` through the whole handling of an invocation (the regressions
//! the fuzzers and crafted inputs found among them), so CI, which runs no fuzzer, keeps them.

use std::path::Path;

#[test]
fn every_seed_is_handled_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut seeds = 0;
    for corpus in ["handle_invocation", "decode_event"] {
        let mut entries: Vec<_> = std::fs::read_dir(root.join(corpus))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let bytes = std::fs::read(&path).unwrap();
            lifecycle_tests::invocation::handle_invocation(&bytes);
            seeds += 1;
        }
    }
    assert!(seeds >= 25, "{seeds} seeds");
}
