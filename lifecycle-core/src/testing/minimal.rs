//! The two smallest models the API documentation's examples use, so that an example names its
//! model in one line instead of pasting it: [`Node`] (a launch sends `ClusterJoin` and waits
//! for its result) and [`Drain`] (a termination drains the node, a manager through a guarded
//! trigger). The README's fuller model is [`example`](super::example).
//!
//! ```
//! use lifecycle_core::testing::minimal::{Node, NodeState};
//! use lifecycle_core::testing::{block_on, Harness};
//! block_on(async {
//!     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
//!     harness.launch("i-1").await.unwrap();
//!     assert_eq!(harness.state("i-1"), Some(NodeState::Joining));
//! });
//! ```

use crate::{CommandRequest, Context, lifecycle_model};

/// What a [`Node`] task can fail with (its command could not be sent).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JoinError(pub String);

/// Joins with `ClusterJoin` when it launches, and is ready when the command succeeds.
pub struct Node;

#[lifecycle_model(
    states(FinishedCloudInit, Joining, Ready, Failed),
    initial = FinishedCloudInit,
    terminal(Ready, Failed),
    failure = Failed,
    error = JoinError,
    crate = crate,
)]
impl Node {
    /// Sends the join command and waits for its result.
    #[transition(from = FinishedCloudInit, to = Joining, on(launching), wait)]
    async fn join(&mut self, ctx: &mut Context<'_>) -> Result<(), JoinError> {
        let id = ctx.record().ident.clone();
        ctx.send_command(CommandRequest::new("ClusterJoin", [id]))
            .await
            .map_err(|e| JoinError(e.to_string()))?;
        Ok(())
    }

    /// The join command's result: ready.
    #[transition(from = Joining, to = Ready, on(command))]
    async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), JoinError> {
        Ok(())
    }
}

/// What a [`Drain`] task can fail with.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DrainError(pub String);

/// Drains a node when it terminates (a manager through `demote`, guarded); the drain fails
/// when `unreachable` is set.
#[derive(Default)]
pub struct Drain {
    /// Makes `drain` fail ("node unreachable").
    pub unreachable: bool,
}

#[lifecycle_model(
    states(Pending, Ready, Draining, Drained, Failed),
    initial = Pending,
    terminal(Drained, Failed),
    failure = Failed,
    error = DrainError,
    crate = crate,
)]
impl Drain {
    /// Launched: ready.
    #[transition(from = Pending, to = Ready, on(launching))]
    async fn launched(&mut self, _ctx: &mut Context<'_>) -> Result<(), DrainError> {
        Ok(())
    }

    fn is_manager(&self, ctx: &Context<'_>) -> bool {
        ctx.record().item_type() == Some("manager")
    }

    /// A manager is demoted first.
    #[transition(from = Ready, to = Draining, on(terminating), when(is_manager))]
    async fn demote(&mut self, _ctx: &mut Context<'_>) -> Result<(), DrainError> {
        Ok(())
    }

    /// Any other node drains (and fails to, when unreachable); a Spot warning drains it too.
    #[transition(from = Ready, to = Draining, on(terminating, spot_interruption))]
    async fn drain(&mut self, _ctx: &mut Context<'_>) -> Result<(), DrainError> {
        if self.unreachable {
            return Err(DrainError("node unreachable".into()));
        }
        Ok(())
    }

    /// Drained.
    #[transition(from = Draining, to = Drained)]
    async fn drained(&mut self, _ctx: &mut Context<'_>) -> Result<(), DrainError> {
        Ok(())
    }
}
