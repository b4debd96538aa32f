//! Runs `lifecycle-core` models on AWS.
//!
//! - [`actions`]: completing lifecycle actions and heartbeats (Auto Scaling), behind a trait.
//! - [`decode`]: every event shape the Lambda receives, decoded into typed notifications.
//! - [`store`]: the node table in DynamoDB, with conditional writes, and in memory to run
//!   the same code path locally.
//! - [`effects`]: SSM commands and heartbeats for tasks.
//! - [`runtime`]: from an invocation's payload to dispatches and completed lifecycle actions.
//! - [`lambda`]: the Lambda: configuration, JSON logs, [`run`].
//! - [`testing`]: the events AWS delivers, and in-memory stand-ins for SSM and Auto Scaling.
//!
//! Every in-memory stand-in for a service is named `Memory*` after what it stands in for:
//! [`MemoryTable`](store::MemoryTable) (the node table),
//! [`MemoryInstances`](instances::MemoryInstances) (EC2's instance facts),
//! [`MemoryCommands`](testing::MemoryCommands) (SSM),
//! [`MemoryActions`](testing::MemoryActions) (lifecycle action completions),
//! [`MemoryAutoScaling`](testing::MemoryAutoScaling) (Auto Scaling with its groups and
//! hooks), beside `lifecycle-core`'s `MemoryStore` and `MemoryEffects`.
//!
//! ```
//! # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
//! lifecycle_aws::testing::block_on(async {
//!     // The Lambda's path: JSON in, the model run, the node table written, JSON out.
//!     let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
//!     let answer = runtime.handle(&launch).await.unwrap();
//!     assert_eq!(answer["outcomes"][0]["end"], "joining_cluster");
//! });
//! ```

#![warn(missing_docs)]

pub mod actions;
mod aws_error;
pub mod decode;
pub mod effects;
pub mod fleet;
pub mod instances;
pub mod lambda;
pub mod metrics;
pub mod runtime;
pub mod store;
pub mod testing;

#[cfg(feature = "lambda")]
pub use lambda::run;
pub use lifecycle_core as core;

/// The crate's README, compiled and run as a doctest so it cannot go stale.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
