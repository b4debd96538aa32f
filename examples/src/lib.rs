//! Example lifecycle models, and the pieces of the local runner.
//!
//! - [`cluster`]: a cluster node (docker-swarm style) that joins on launch and leaves on
//!   termination, with a graceful failure path.

pub mod cluster;
