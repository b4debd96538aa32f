//! The two ways `decode_event` reads a payload agree: the borrowed fast path (lifecycle
//! actions, direct or in SNS/SQS) decodes exactly what the `Value` path would, and takes
//! nothing the `Value` path rejects.
//!
//! `cargo +nightly fuzz run decode_paths_agree -- -max_total_time=300` (from the repository
//! root; the seeds of `decode_event` serve here too).

#![no_main]

use libfuzzer_sys::fuzz_target;
use lifecycle_aws::decode::{decode_event, decode_value};

fuzz_target!(|bytes: &[u8]| {
    let decoded = decode_event(bytes);
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => assert_eq!(decoded, decode_value(&value)),
        Err(_) => assert!(decoded.is_err(), "not JSON, yet decoded: {decoded:?}"),
    }
});
