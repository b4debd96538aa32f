//! Runs `lifecycle-core` models on AWS.
//!
//! - [`decode`]: every event shape the Lambda receives, decoded into typed notifications.
//! - [`store`]: the node table in DynamoDB, with conditional writes.

#![warn(missing_docs)]

pub mod decode;
pub mod store;

pub use lifecycle_core as core;
