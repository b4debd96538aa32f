//! Testing a model through the Lambda's own code path, in memory: the JSON events AWS
//! delivers, and stand-ins for SSM and Auto Scaling that record what they were asked. With
//! [`MemoryTable`](crate::store::MemoryTable) and [`Runtime::with_parts`], a test runs decoding,
//! the runtime's exactly-once bookkeeping, the dispatcher and the completion, as deployed.
//!
//! ```
//! use std::sync::Arc;
//! use lifecycle_aws::store::MemoryTable;
//! use lifecycle_aws::runtime::Runtime;
//! use lifecycle_aws::testing::{MemoryActions, MemoryCommands, command_status_event, lifecycle_action_event};
//! use lifecycle_core::{CommandRequest, Context, LifecycleResult, LifecycleTransition, Record, lifecycle_model};
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error(transparent)]
//! pub struct JoinError(#[from] lifecycle_core::EffectError);
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
//!     #[transition(from = FinishedCloudInit, to = Joining, on(launching), wait)]
//!     async fn join(&mut self, ctx: &mut Context<'_>) -> Result<(), JoinError> {
//!         let instance = ctx.record().ident.clone();
//!         ctx.send_command(CommandRequest::new("ClusterJoin", [instance])).await?;
//!         Ok(())
//!     }
//!
//!     #[transition(from = Joining, to = Ready, on(command))]
//!     async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), JoinError> {
//!         Ok(())
//!     }
//! }
//!
//! lifecycle_aws::testing::block_on(async {
//! let table = MemoryTable::new();
//! table.records().insert(Record::new("i-0abc123def4567890", "finished_cloud_init"));
//! let commands = Arc::new(MemoryCommands::new());
//! let actions = Arc::new(MemoryActions::new());
//! let runtime = Runtime::with_parts(table, commands.clone(), actions.clone(), || Node);
//!
//! // The launch sends ClusterJoin and waits.
//! let launch = lifecycle_action_event("i-0abc123def4567890", "nodes", LifecycleTransition::Launching);
//! runtime.handle(&launch).await.unwrap();
//! let (command_id, request) = commands.sent().remove(0);
//! assert_eq!(request.document_name, "ClusterJoin");
//! assert!(actions.completions().is_empty());
//!
//! // SSM reports the command done: the launch completes CONTINUE, once.
//! let done = command_status_event(&command_id, "i-0abc123def4567890", "ClusterJoin", "Success");
//! runtime.handle(&done).await.unwrap();
//! runtime.handle(&done).await.unwrap(); // a duplicate changes nothing
//! let completions = actions.completions();
//! assert_eq!(completions.len(), 1);
//! assert_eq!(completions[0].result, LifecycleResult::Continue);
//! });
//! ```
//!
//! [`Runtime::with_parts`]: crate::runtime::Runtime::with_parts

mod events;
mod memory_actions;
mod memory_auto_scaling;
mod memory_commands;

use std::sync::Mutex;

use lifecycle_core::Record;
use lifecycle_core::testing::example::Node;

pub use events::{
    command_status_event, instance_state_event, lifecycle_action_event, maintenance_event,
    rebalance_event, routed_lifecycle_action_event, scheduled_event, spot_interruption_event,
    stream_record_event,
};
pub use memory_actions::{Completion, MemoryActions};
pub use memory_auto_scaling::{ApiFault, MemoryAutoScaling};
pub use memory_commands::MemoryCommands;

/// Runs `future` to completion on a fresh current-thread tokio runtime (timers and I/O
/// enabled): what an example or a test of the runtime awaits its handling with.
///
/// ```
/// assert_eq!(lifecycle_aws::testing::block_on(async { 6 * 7 }), 42);
/// ```
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime")
        .block_on(future)
}

/// The SDK configuration the documentation's examples build clients from: region
/// `eu-central-1` and static test credentials, so that nothing looks for real ones. The
/// examples' clients are mocked or never called: no request leaves the process.
///
/// ```
/// let config = lifecycle_aws::testing::example_sdk_config();
/// assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-central-1"));
/// ```
pub fn example_sdk_config() -> aws_config::SdkConfig {
    use aws_sdk_ssm::config::{Credentials, SharedCredentialsProvider};
    aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("eu-central-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "example",
        )))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build()
}

/// What [`example_runtime`] builds: the example model on an in-memory table.
pub type ExampleRuntime = crate::runtime::Runtime<Node, fn() -> Node, crate::store::MemoryTable>;

/// The runtime the documentation's examples share: [`lifecycle_core::testing::example::Node`]
/// (a launch sends `ClusterJoin` and waits for its result) on an in-memory table holding
/// `i-0abc123def4567890` in `finished_cloud_init`, with the SSM and Auto Scaling stand-ins it
/// records into. One line instead of a model and its setup in every example.
///
/// ```
/// use lifecycle_aws::testing::{example_runtime, lifecycle_action_event};
/// use lifecycle_core::LifecycleTransition;
/// let (runtime, commands, actions) = example_runtime();
/// let launch = lifecycle_action_event("i-0abc123def4567890", "nodes", LifecycleTransition::Launching);
/// lifecycle_aws::testing::block_on(async {
///     runtime.handle(&launch).await.unwrap();
/// });
/// assert_eq!(commands.sent()[0].1.document_name, "ClusterJoin");
/// assert!(actions.completions().is_empty(), "the launch waits for its command");
/// ```
pub fn example_runtime() -> (
    ExampleRuntime,
    std::sync::Arc<MemoryCommands>,
    std::sync::Arc<MemoryActions>,
) {
    let table = crate::store::MemoryTable::new();
    table
        .records()
        .insert(Record::new("i-0abc123def4567890", "finished_cloud_init"));
    let commands = std::sync::Arc::new(MemoryCommands::new());
    let actions = std::sync::Arc::new(MemoryActions::new());
    let new_node: fn() -> Node = || Node;
    let runtime =
        crate::runtime::Runtime::with_parts(table, commands.clone(), actions.clone(), new_node);
    (runtime, commands, actions)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
