//! The whole handling of an invocation (`lifecycle_tests::invocation`, whose documentation
//! says what an input is): no panic from any payload or table item, nothing written for bad
//! input.
//!
//! `cargo +nightly fuzz run handle_invocation -- -max_total_time=300` (from the repository
//! root; seeds in `fuzz/corpus/handle_invocation`, which `tests/tests/fuzz_seeds.rs` also runs).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| lifecycle_tests::invocation::handle_invocation(bytes));
