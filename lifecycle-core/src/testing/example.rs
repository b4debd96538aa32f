//! The README's example model, shipped so that examples (the README's, the documentation's,
//! yours) can use it in one line instead of pasting it: a cluster node that joins with an SSM
//! command, waits for its result, and is abandoned through a clean-up when a task fails.
//!
//! ```
//! use lifecycle_core::testing::example::{Node, NodeState};
//! use lifecycle_core::testing::{block_on, Harness};
//! block_on(async {
//!     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
//!     harness.launch("i-1").await.unwrap();
//!     assert_eq!(harness.commands()[0].request.document_name, "ClusterJoin");
//!     assert_eq!(harness.state("i-1"), Some(NodeState::JoiningCluster));
//! });
//! ```

use crate::{CommandRequest, Context, EffectError, lifecycle_model};

/// What a [`Node`] task can fail with: its command could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The command failed to send.
    #[error(transparent)]
    Command(#[from] EffectError),
}

/// A cluster node: joins with `ClusterJoin` when it launches, and is abandoned through
/// `clean_up` if that fails.
pub struct Node;

#[lifecycle_model(
    states(New, Pending, FinishedCloudInit, JoiningCluster, Ready, Failure, Abandoned),
    before_initial(New, Pending),
    initial = FinishedCloudInit,
    terminal(Ready, Abandoned),
    failure = Failure,
    error = NodeError,
    crate = crate,
)]
impl Node {
    /// Sends the join command and waits for its result.
    #[transition(from = FinishedCloudInit, to = JoiningCluster, on(launching), wait)]
    async fn join_cluster(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        let instance = ctx.record().ident.clone();
        ctx.send_command(CommandRequest::new("ClusterJoin", [instance]))
            .await?;
        Ok(())
    }

    /// The join command's result: the node is ready.
    #[transition(from = JoiningCluster, to = Ready, on(command))]
    async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
        Ok(())
    }

    /// After a failure: nothing to undo here; the launch ends ABANDON.
    #[transition(from = Failure, to = Abandoned, ignore_errors)]
    async fn clean_up(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
        Ok(())
    }
}
