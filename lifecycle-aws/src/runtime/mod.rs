//! From an invocation's payload to dispatches, stored states and completed lifecycle actions.
//!
//! The runtime's parts, a file each: its construction and settings (`settings.rs`), what an
//! invocation holds and where each notification goes (`route.rs`), a lifecycle run on a
//! record with its claim, clean-up and completion (`lifecycle.rs`), the answer and its wire
//! types (`answer.rs`), the errors (`error.rs`), the clock (`clock.rs`), the sweep of the waits
//! that are due (`sweep.rs`), which limit ends a wait (`deadline.rs`) and Auto Scaling's view
//! against the table (`reconcile.rs`).
//!
//! ```
//! # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
//! lifecycle_aws::testing::block_on(async {
//!     let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
//!     let answer = runtime.handle_bytes(launch.to_string().as_bytes()).await.unwrap();
//!     assert_eq!(serde_json::to_value(&answer).unwrap()["outcomes"][0]["end"], "joining_cluster");
//!     let (command_id, _) = commands.sent().remove(0);
//!     let done = lifecycle_aws::testing::command_status_event(&command_id, "i-0abc123def4567890", "ClusterJoin", "Success");
//!     runtime.handle(&done).await.unwrap();
//!     assert_eq!(actions.completions().len(), 1);
//! });
//! ```

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use lifecycle_core::{
    DispatchError, Event, EventKind, LifecycleModel, LifecycleProgress, LifecycleResult,
    LifecycleTransition, ModelReport, Record, State, StopReason, dispatch,
};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use crate::actions::{ActionError, AutoScalingActions, Completed, LifecycleActions};
use crate::decode::{
    CommandProgress, DecodeError, Invocation, Notification, READY_TAG, StreamChange, decode_value,
};
use crate::effects::{AwsEffects, CommandSender, SsmCommands};
use crate::fleet::Fleet;
use crate::instances::{InstanceDirectory, MemoryInstances};
use crate::store::{
    DynamoStore, NodeTable, PendingLifecycle, RegisteredCommand, StoreError, pending_from_image,
};

mod answer;
mod clock;
mod deadline;
mod error;
mod lifecycle;
mod reconcile;
mod route;
mod settings;
mod sweep;

pub use answer::{Answer, BatchItemFailure, Outcome, Step};
pub use clock::{Clock, SystemClock};
pub use deadline::Limit;
pub use error::HandleError;
pub use reconcile::UnhandledAction;
pub use settings::Settings;

use answer::{ignored, summary};
pub(crate) use clock::epoch_seconds;
use clock::requested_within;
use lifecycle::next_write_token;

/// Handles invocations for model `M` on node table `T`: one per Lambda container, reused
/// across invocations.
///
/// ```
/// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
/// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
/// lifecycle_aws::testing::block_on(async {
///     runtime.handle(&launch).await.unwrap();
///     assert_eq!(commands.sent()[0].1.document_name, "ClusterJoin");
///     assert_eq!(runtime.store().records().get("i-0abc123def4567890").unwrap().state, "joining_cluster");
/// });
/// ```
pub struct Runtime<M, F, T = DynamoStore> {
    store: T,
    commands: Arc<dyn CommandSender>,
    actions: Arc<dyn LifecycleActions>,
    instances: Arc<dyn InstanceDirectory>,
    new_model: F,
    settings: Settings,
    clock: Arc<dyn Clock>,
    fleet: Option<Arc<dyn Fleet>>,
    metrics: crate::metrics::Metrics,
    hooks: deadline::HookCache,
    _model: std::marker::PhantomData<fn() -> M>,
}

tokio::task_local! {
    /// When the invocation being handled must be done (the Lambda's deadline): no claim lasts
    /// longer.
    static INVOCATION_DEADLINE: SystemTime;
}
