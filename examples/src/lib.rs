//! Example lifecycle models, and the local runner built on them.
//!
//! - [`cluster`]: a cluster node (docker-swarm style) that joins on launch and leaves on
//!   termination, with a graceful failure path.
//! - [`backup`]: a nightly backup started by a scheduled rule named `backup`.
//! - [`route53`]: the cluster's DNS in Route 53, for the Lambda.
//! - [`local`]: a simulated Auto Scaling group run through the Lambda's code path on an
//!   in-memory (or DynamoDB-compatible) node table (the `lifecycle-local` binary).
//! - [`status`]: an operator's view of a node table (`lifecycle-local status`).

#![warn(missing_docs)]

pub mod backup;
pub mod cluster;
pub mod local;
pub mod route53;
pub mod status;
