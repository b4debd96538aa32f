//! Runs `lifecycle-core` models on AWS. This crate is being built (issue 3); today it only
//! re-exports the core so models can name one crate.

pub use lifecycle_core as core;
