//! Testing a model in memory: events as AWS would deliver them, and a [`Harness`] that feeds
//! them to a model the way the Lambda does — state in a [`MemoryStore`](crate::MemoryStore), commands recorded by
//! [`MemoryEffects`](crate::MemoryEffects), command results fed back to the record that waits for them — and remembers
//! which lifecycle actions ended, and how.
//!
//! The central pattern: a task sends a command and its transition `wait`s; the command's
//! result moves the record on.
//!
//! ```
//! use lifecycle_core::testing::Harness;
//! use lifecycle_core::{CommandRequest, CommandStatus, Context, LifecycleResult, lifecycle_model};
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("{0}")]
//! pub struct JoinError(String);
//!
//! pub struct Node;
//!
//! #[lifecycle_model(
//!     states(FinishedCloudInit, Joining, Ready, Failed),
//!     initial = FinishedCloudInit,
//!     terminal(Ready, Failed),
//!     failure = Failed,
//!     error = JoinError,
//! )]
//! impl Node {
//!     /// Ask the node to join the cluster, and wait for the command to finish.
//!     #[transition(from = FinishedCloudInit, to = Joining, on(launching), wait)]
//!     async fn join(&mut self, ctx: &mut Context<'_>) -> Result<(), JoinError> {
//!         let instance = ctx.record().ident.clone();
//!         ctx.send_command(CommandRequest::new("ClusterJoin", [instance]))
//!             .await
//!             .map_err(|e| JoinError(e.to_string()))?;
//!         Ok(())
//!     }
//!
//!     #[transition(from = Joining, to = Ready, on(command))]
//!     async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), JoinError> {
//!         Ok(())
//!     }
//! }
//!
//! lifecycle_core::testing::block_on(async {
//! let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
//!
//! // The launch sends the command and waits: the lifecycle action stays open.
//! let report = harness.launch("i-1").await.unwrap();
//! assert_eq!(report.end, NodeState::Joining);
//! assert_eq!(harness.commands()[0].request.document_name, "ClusterJoin");
//! assert!(harness.completions().is_empty());
//!
//! // The command's result moves the record on, and ends the lifecycle action.
//! harness.finish_command("i-1", CommandStatus::Success).await.unwrap();
//! assert_eq!(harness.state("i-1"), Some(NodeState::Ready));
//! assert_eq!(harness.completions()[0].result, LifecycleResult::Continue);
//!
//! // A failed command fails the launch: ABANDON.
//! let mut harness = Harness::new(Node).with_instance("i-2", NodeState::FinishedCloudInit);
//! harness.launch("i-2").await.unwrap();
//! harness.finish_command("i-2", CommandStatus::Failed).await.unwrap();
//! assert_eq!(harness.state("i-2"), Some(NodeState::Failed));
//! assert_eq!(harness.completions()[0].result, LifecycleResult::Abandon);
//! });
//! ```

mod events;
pub mod example;
mod harness;
pub mod minimal;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};

pub use events::{
    GROUP, action, command_result, instance_state, launching, lifecycle_in, maintenance, rebalance,
    routed, scheduled, spot_interruption, terminating,
};
pub use harness::{Completion, Harness};

/// Runs `future` to completion on the current thread, with no async runtime: enough for
/// models whose tasks only await the [`Context`](crate::Context). A task that needs a runtime
/// (a timer, a socket) is tested under `#[tokio::test]` instead.
///
/// ```
/// let answer = lifecycle_core::testing::block_on(async { 6 * 7 });
/// assert_eq!(answer, 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}
