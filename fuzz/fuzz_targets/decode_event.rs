//! Any bytes into the decoder: an event, or a typed error, never a panic.
//!
//! `cargo +nightly fuzz run decode_event -- -max_total_time=300` (from the repository root).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = lifecycle_aws::decode::decode_event(bytes);
});
