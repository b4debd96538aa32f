//! Runs `lifecycle-core` models on AWS.
//!
//! - [`decode`]: every event shape the Lambda receives, decoded into typed notifications.

#![warn(missing_docs)]

pub mod decode;

pub use lifecycle_core as core;
