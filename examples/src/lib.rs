//! Example lifecycle models, and the local runner built on them.
//!
//! - [`cluster`]: a cluster node (docker-swarm style) that joins on launch and leaves on
//!   termination, with a graceful failure path.
//! - [`local`]: a simulated Auto Scaling group run through the cluster model on the in-memory
//!   store (the `lifecycle-local` binary).

#![warn(missing_docs)]

pub mod cluster;
pub mod local;
