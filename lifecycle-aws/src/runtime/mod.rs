//! From an invocation's payload to dispatches, stored states and completed lifecycle actions.
//! The sweep of the waits that are due is in `runtime/sweep.rs`.
//!
//! ```
//! # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
//! # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! tokio.block_on(async {
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
use crate::instances::{InstanceDirectory, KnownInstances};
use crate::store::{
    DynamoStore, NodeTable, PendingLifecycle, RegisteredCommand, StoreError, pending_from_image,
};

mod deadline;
pub use deadline::Limit;
mod reconcile;
pub use reconcile::UnhandledAction;
mod sweep;

/// Why a notification could not be handled.
///
/// ```
/// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
/// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// use lifecycle_aws::runtime::HandleError;
/// tokio.block_on(async {
///     let event = lifecycle_aws::testing::lifecycle_action_event("i-unknown", "nodes", lifecycle_core::LifecycleTransition::Launching);
///     let error = runtime.handle(&event).await.unwrap_err();
///     assert!(matches!(&error, HandleError::UnknownInstance(id) if id == "i-unknown"));
///     assert!(error.is_retryable(), "cloud-init may not have registered it yet");
///     let garbage = runtime.handle_bytes(b"{not json").await.unwrap_err();
///     assert!(matches!(garbage, HandleError::Decode(_)) && !garbage.is_retryable());
/// });
/// ```
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The payload is not an event this library handles.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// No record for the instance: cloud-init has not registered it (yet). Redelivery retries.
    #[error("no record for instance `{0}` in the node table")]
    UnknownInstance(String),
    /// A scheduled rule whose name is no state of the model (or, with a name prefix, lacks it).
    #[error("scheduled rule `{0}` names no state of the model")]
    UnknownSchedule(String),
    /// A command result for a command not registered (yet): sent moments ago, its registration
    /// may still be on its way. Redelivery retries.
    #[error("command `{0}` is not registered yet")]
    CommandNotRegisteredYet(String),
    /// A command result that came before the write that makes the record wait for it (the gap
    /// between `SendCommand` and that write). Redelivery retries.
    #[error("the record does not wait for command `{0}` yet")]
    CommandNotAwaitedYet(String),
    /// Another delivery holds the record's claim: it is running a side-effecting task for it.
    /// Redelivery retries; once the claim is released or runs out, the event resumes.
    #[error("another delivery holds the claim on `{ident}` until {until} (epoch seconds)")]
    Busy {
        /// The record.
        ident: String,
        /// When the claim runs out.
        until: u64,
    },
    /// The dispatcher could not go on (unknown stored state, an error in failure handling, a
    /// cycle).
    #[error("dispatching {event_id} for {ident}: {message}")]
    Dispatch {
        /// The event.
        event_id: String,
        /// The record.
        ident: String,
        /// What went wrong.
        message: String,
    },
    /// A task failed on a transient error (throttling, a timeout) before its state change was
    /// stored. Redelivery retries; the record resumes where it is.
    #[error("dispatching {event_id} for {ident}: {message}")]
    Transient {
        /// The event.
        event_id: String,
        /// The record.
        ident: String,
        /// What failed.
        message: String,
    },
    /// A lifecycle action event without a lifecycle action token: Auto Scaling always sends
    /// one, so this one was written by someone else. Bad input, not retried.
    #[error(
        "lifecycle action event {event_id} for `{instance}` carries no LifecycleActionToken: Auto Scaling always sends one"
    )]
    NoActionToken {
        /// The event.
        event_id: String,
        /// The instance it names.
        instance: String,
    },
    /// EC2 could not be asked about an instance. Redelivery retries.
    #[error(transparent)]
    Directory(#[from] crate::instances::DirectoryError),
    /// DynamoDB failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Auto Scaling failed.
    #[error(transparent)]
    Action(#[from] ActionError),
}

impl HandleError {
    /// Whether delivering the same event again may succeed.
    ///
    /// ```
    /// use lifecycle_aws::runtime::HandleError;
    /// assert!(HandleError::CommandNotRegisteredYet("c-1".into()).is_retryable());
    /// assert!(!HandleError::UnknownSchedule("nightly".into()).is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            HandleError::UnknownInstance(_)
                | HandleError::Directory(_)
                | HandleError::CommandNotRegisteredYet(_)
                | HandleError::CommandNotAwaitedYet(_)
                | HandleError::Busy { .. }
                | HandleError::Transient { .. }
                | HandleError::Store(StoreError::Request {
                    transient: true,
                    ..
                })
        ) || matches!(self, HandleError::Action(e) if e.transient)
    }
}

/// What handling one notification did; the Lambda returns these as JSON.
///
/// ```
/// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
/// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
/// use lifecycle_aws::runtime::Outcome;
/// tokio.block_on(async {
///     let answer = runtime.handle_bytes(launch.to_string().as_bytes()).await.unwrap();
///     let Outcome::Dispatched { start, end, stop, .. } = &answer.outcomes[0] else { panic!("dispatched") };
///     assert_eq!((start.as_str(), end.as_str(), stop.as_str()), ("finished_cloud_init", "joining_cluster", "waiting"));
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The event ran through the model.
    Dispatched {
        /// The event.
        event_id: String,
        /// The record.
        ident: String,
        /// Its state before.
        start: String,
        /// Its state after.
        end: String,
        /// The triggers that fired.
        triggers: Vec<String>,
        /// Every step in order: each trigger that fired, and the move into the failure state.
        steps: Vec<Step>,
        /// Triggers of the state the event came to rest in whose guards said no.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        declined: Vec<String>,
        /// Why processing stopped.
        stop: String,
        /// The failure handled, if any.
        failure: Option<String>,
        /// The lifecycle action's completion, if this event ended it.
        completed: Option<String>,
        /// A termination that waited for this event's lifecycle to end, run after it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deferred: Option<Box<Outcome>>,
    },
    /// A launch for an instance still in cloud-init: parked on its record until the record
    /// reaches the initial state.
    Parked {
        /// The instance.
        ident: String,
    },
    /// An instance reported its cloud-init progress: its record was written from EC2's facts.
    Registered {
        /// The instance.
        ident: String,
        /// The state its record is in now.
        state: String,
    },
    /// A running command's progress: the lifecycle action got a heartbeat.
    Heartbeat {
        /// The command.
        command_id: String,
    },
    /// The sweep handled the waits that were due.
    Swept {
        /// Waits (command ids, instances with a parked launch) still within their deadline:
        /// their lifecycle action got a heartbeat, or their next look is their deadline.
        kept_alive: Vec<String>,
        /// Waits past their deadline (or whose lifecycle action Auto Scaling no longer has):
        /// a command handled as `TimedOut`, a parked launch completed ABANDON.
        expired: Vec<String>,
        /// Waits the sweep could not handle this time (the next sweep tries again).
        failed: Vec<String>,
        /// Malformed items in the index of waits, by `Ident`: logged and skipped.
        #[serde(default)]
        skipped: Vec<String>,
        /// The time budget ran out: the rest, still due, is left to the next sweep.
        #[serde(default)]
        unfinished: bool,
        /// Instances waiting in a lifecycle hook of the reconciled groups that no lifecycle
        /// handled (their event lost): their lifecycle was started, as if the event had come.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reconciled: Vec<String>,
        /// Instances whose lifecycle had ended but whose action Auto Scaling still held (the
        /// completion lost): completed again with the result noted on the record.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        recompleted: Vec<String>,
        /// Actions Auto Scaling holds that nothing here can handle, with the reason (no record:
        /// cloud-init never registered the instance): for the operator.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unhandled: Vec<String>,
        /// Records at rest whose instance Auto Scaling no longer knows (terminated outside its
        /// group, its events lost): the model was given `instance_state = "terminated"`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        vanished: Vec<String>,
    },
    /// Nothing to do.
    Ignored {
        /// Why.
        reason: String,
    },
    /// A lifecycle event whose action Auto Scaling does not hold (forged, replayed, or late
    /// after its action ended): nothing written, nothing sent, nothing completed.
    Refused {
        /// The event.
        event_id: String,
        /// The instance it names.
        ident: String,
        /// What Auto Scaling holds instead.
        reason: String,
    },
    /// An event about several instances (an AWS Health scheduled change): what it led to for
    /// each, in the event's order.
    PerInstance {
        /// One outcome per instance.
        outcomes: Vec<Outcome>,
    },
}

/// The answer to an invocation: what each event led to, and for a batch (SQS, a stream) the
/// items to deliver again (a partial batch response, `batchItemFailures`).
///
/// ```
/// use lifecycle_aws::runtime::{Answer, Outcome};
/// let answer = Answer { batch_item_failures: None, outcomes: vec![Outcome::Ignored { reason: "test notification".into() }] };
/// assert_eq!(answer.into_value()["outcomes"][0]["reason"], "test notification");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The batch items that failed, for the event source to deliver again; `None` for an
    /// invocation that is not a batch.
    #[serde(rename = "batchItemFailures", skip_serializing_if = "Option::is_none")]
    pub batch_item_failures: Option<Vec<BatchItemFailure>>,
    /// One outcome per event handled.
    pub outcomes: Vec<Outcome>,
}

impl Answer {
    /// The answer as JSON.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
    /// tokio.block_on(async {
    ///     let answer = runtime.handle_bytes(launch.to_string().as_bytes()).await.unwrap();
    ///     let value = answer.into_value();
    ///     assert_eq!(value["outcomes"][0]["outcome"], "dispatched");
    /// });
    /// ```
    pub fn into_value(self) -> Value {
        serde_json::to_value(self).expect("an answer is plain data")
    }
}

/// A batch item to deliver again.
///
/// ```
/// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
/// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// use lifecycle_aws::runtime::BatchItemFailure;
/// tokio.block_on(async {
///     // An SQS batch with one message that is not an event: only it is delivered again.
///     let batch = serde_json::json!({"Records": [{"messageId": "m-1", "eventSource": "aws:sqs", "body": "{not json"}]});
///     let answer = runtime.handle_bytes(batch.to_string().as_bytes()).await.unwrap();
///     assert_eq!(answer.batch_item_failures.unwrap(), [BatchItemFailure { item_identifier: "m-1".into() }]);
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchItemFailure {
    /// The SQS message id, or the stream record's sequence number.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// One step of a dispatch.
///
/// ```
/// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
/// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
/// use lifecycle_aws::runtime::Outcome;
/// tokio.block_on(async {
///     let answer = runtime.handle_bytes(launch.to_string().as_bytes()).await.unwrap();
///     let Outcome::Dispatched { steps, .. } = &answer.outcomes[0] else { panic!("dispatched") };
///     assert_eq!(steps[0].trigger.as_deref(), Some("join_cluster"));
///     assert_eq!((steps[0].from.as_str(), steps[0].to.as_str()), ("finished_cloud_init", "joining_cluster"));
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Step {
    /// The state it left.
    pub from: String,
    /// The state it entered (`from` for an internal transition).
    pub to: String,
    /// The trigger that fired; `None` for the move into the failure state.
    pub trigger: Option<String>,
    /// What failed, for the move into the failure state.
    pub failure: Option<String>,
    /// Triggers of the same state tried before this one, whose guards said no.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declined: Vec<String>,
}

/// Where the runtime gets the time: the system clock, or a test's.
///
/// ```
/// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
/// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// use std::sync::Arc;
/// use std::time::{Duration, SystemTime};
/// use lifecycle_aws::runtime::Clock;
/// /// A test's clock, fixed at a given time.
/// struct Fixed(SystemTime);
/// impl Clock for Fixed {
///     fn now(&self) -> SystemTime { self.0 }
/// }
/// let noon = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_158_400);
/// let runtime = runtime.with_clock(Arc::new(Fixed(noon)));
/// ```
pub trait Clock: Send + Sync {
    /// Now.
    ///
    /// ```
    /// use lifecycle_aws::runtime::{Clock, SystemClock};
    /// let now = SystemClock.now();
    /// assert!(now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() > 1_700_000_000);
    /// ```
    fn now(&self) -> SystemTime;
}

/// The system clock.
///
/// ```
/// use lifecycle_aws::runtime::{Clock, SystemClock};
/// assert!(SystemClock.now() > std::time::SystemTime::UNIX_EPOCH);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Handles invocations for model `M` on node table `T`: one per Lambda container, reused
/// across invocations.
///
/// ```
/// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
/// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
/// tokio.block_on(async {
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
    command_grace: Duration,
    clock: Arc<dyn Clock>,
    wait_deadline: Duration,
    claim_lease: Duration,
    heartbeat_interval: Duration,
    sweep_budget: Duration,
    retention: Duration,
    sweep_rule: String,
    name_prefix: String,
    fleet: Option<Arc<dyn Fleet>>,
    groups: Vec<String>,
    alive_check: Duration,
    metrics: crate::metrics::Metrics,
    hooks: deadline::HookCache,
    _model: std::marker::PhantomData<fn() -> M>,
}

tokio::task_local! {
    /// When the invocation being handled must be done (the Lambda's deadline): no claim lasts
    /// longer.
    static INVOCATION_DEADLINE: SystemTime;
}

impl<M, F> Runtime<M, F>
where
    M: LifecycleModel,
    F: Fn() -> M + Send + Sync,
{
    /// A runtime on the DynamoDB table `table`, with SSM and Auto Scaling clients built from
    /// `config`; each event gets a fresh model from `new_model`.
    ///
    /// ```
    /// use lifecycle_aws::runtime::Runtime;
    /// use lifecycle_core::testing::example::Node;
    /// // A runtime for the deployed table `lifecycle-nodes`; no request is made until an event comes.
    /// let config = aws_config::SdkConfig::builder()
    ///     .region(aws_config::Region::new("eu-central-1"))
    ///     .behavior_version(aws_config::BehaviorVersion::latest())
    ///     .build();
    /// let deployed = Runtime::new(&config, "lifecycle-nodes", || Node);
    /// assert_eq!(deployed.store().table(), "lifecycle-nodes");
    /// ```
    pub fn new(config: &SdkConfig, table: impl Into<String>, new_model: F) -> Self {
        // One Auto Scaling client for its actions and its view.
        let auto_scaling = Arc::new(AutoScalingActions::new(config));
        Runtime::with_parts(
            DynamoStore::new(aws_sdk_dynamodb::Client::new(config), table),
            Arc::new(SsmCommands(aws_sdk_ssm::Client::new(config))),
            auto_scaling.clone(),
            new_model,
        )
        .with_fleet(auto_scaling)
        .with_ec2_instances(config)
    }

    /// EC2 for the facts of instances reporting their cloud-init progress (feature `ec2`).
    #[cfg(feature = "ec2")]
    fn with_ec2_instances(self, config: &SdkConfig) -> Self {
        self.with_instances(Arc::new(crate::instances::Ec2Directory(
            aws_sdk_ec2::Client::new(config),
        )))
    }

    /// Without the `ec2` feature no EC2 client is built: an instance's cloud-init tag event
    /// finds no facts and writes nothing (give one with [`Runtime::with_instances`]).
    #[cfg(not(feature = "ec2"))]
    fn with_ec2_instances(self, _config: &SdkConfig) -> Self {
        self
    }
}

impl<M, F, T> Runtime<M, F, T>
where
    M: LifecycleModel,
    F: Fn() -> M + Send + Sync,
    T: NodeTable,
{
    /// A runtime on any node table, command sender and Auto Scaling: what local runs and
    /// simulations use, with the same code path as the Lambda.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::runtime::Runtime;
    /// use lifecycle_aws::testing::{RecordingActions, RecordingCommands};
    /// use lifecycle_core::testing::example::Node;
    /// let runtime = Runtime::with_parts(MemoryTable::new(), Arc::new(RecordingCommands::new()),
    ///     Arc::new(RecordingActions::new()), || Node);
    /// assert!(runtime.store().records().snapshot().is_empty());
    /// ```
    pub fn with_parts(
        table: T,
        commands: Arc<dyn CommandSender>,
        actions: Arc<dyn LifecycleActions>,
        new_model: F,
    ) -> Self {
        Runtime {
            store: table,
            commands,
            actions,
            // Local runs know no instances until told (`with_instances`).
            instances: Arc::new(KnownInstances::default()),
            new_model,
            command_grace: Duration::from_secs(120),
            clock: Arc::new(SystemClock),
            wait_deadline: Duration::from_secs(3600),
            claim_lease: Duration::from_secs(60),
            heartbeat_interval: Duration::from_secs(240),
            sweep_budget: Duration::from_secs(20),
            retention: Duration::from_secs(3 * 24 * 3600),
            sweep_rule: "lifecycle-sweep".to_owned(),
            name_prefix: String::new(),
            // Local runs have no Auto Scaling to ask (`with_fleet`).
            fleet: None,
            groups: Vec::new(),
            alive_check: Duration::from_secs(3600),
            // Local runs write no metric lines (`with_metrics`).
            metrics: crate::metrics::Metrics::default(),
            hooks: deadline::HookCache::default(),
            _model: std::marker::PhantomData,
        }
    }

    /// Where instances reporting their cloud-init progress are looked up: EC2 (what
    /// [`Runtime::new`] sets), or [`KnownInstances`] for local runs and tests.
    ///
    /// ```
    /// # let (runtime, _, _) = lifecycle_aws::testing::example_runtime();
    /// use std::sync::Arc;
    /// use lifecycle_aws::instances::{InstanceFacts, KnownInstances};
    /// let instances = KnownInstances::default();
    /// instances.add("i-0abc123def4567891", InstanceFacts { group: Some("nodes".into()), ..Default::default() });
    /// let runtime = runtime.with_instances(Arc::new(instances));
    /// ```
    pub fn with_instances(mut self, instances: Arc<dyn InstanceDirectory>) -> Self {
        self.instances = instances;
        self
    }

    /// Replaces the clock (tests).
    ///
    /// ```
    /// # let (runtime, _, _) = lifecycle_aws::testing::example_runtime();
    /// use std::sync::Arc;
    /// use lifecycle_aws::runtime::SystemClock;
    /// let runtime = runtime.with_clock(Arc::new(SystemClock));
    /// ```
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long a lifecycle may wait for a command's result. Until then the sweep and the
    /// command's progress events send heartbeats; after it, the command counts as `TimedOut`:
    /// the model handles that like any failed command (a launch ends ABANDON through the
    /// failure path, a termination CONTINUE). Default one hour.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// // Joins that take longer than 30 minutes count as failed.
    /// let runtime = runtime.with_wait_deadline(std::time::Duration::from_secs(30 * 60));
    /// ```
    pub fn with_wait_deadline(mut self, deadline: Duration) -> Self {
        self.wait_deadline = deadline;
        self
    }

    /// How long a claim holds at most (default 60 s): a delivery that dies holding one keeps
    /// the record from every other delivery until then. Within an invocation handled with
    /// [`Runtime::handle_before`], a claim never outlasts the invocation's deadline.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let runtime = runtime.with_claim_lease(std::time::Duration::from_secs(30));
    /// ```
    pub fn with_claim_lease(mut self, lease: Duration) -> Self {
        self.claim_lease = lease;
        self
    }

    /// How often the sweep sends a heartbeat for a lifecycle that waits (a command's result, a
    /// parked launch): default 240 s, below every hook's heartbeat timeout the template sets.
    /// The sweep runs every 5 minutes; a wait is looked at on the first run after it is due.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// // For hooks whose heartbeat timeout is 5 minutes.
    /// let runtime = runtime.with_heartbeat_interval(std::time::Duration::from_secs(120));
    /// ```
    pub fn with_heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// How long one sweep may work (default 20 s, within the function's 30 s timeout): it
    /// stops there and leaves the rest, still due, to the next run. It always handles at least
    /// one wait.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let runtime = runtime.with_sweep_budget(std::time::Duration::from_secs(10));
    /// ```
    pub fn with_sweep_budget(mut self, budget: Duration) -> Self {
        self.sweep_budget = budget;
        self
    }

    /// How long a finished lifecycle's record is kept (default 3 days): when its termination
    /// is completed at a terminal state, the record gets `ExpiresAt` and DynamoDB's TTL
    /// removes it then.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// // Keep finished records a week for audits.
    /// let runtime = runtime.with_retention(std::time::Duration::from_secs(7 * 24 * 3600));
    /// ```
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// The scheduled rule whose events run the sweep ([`Runtime::sweep`]); default
    /// `lifecycle-sweep`. It must name no state of the model.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let runtime = runtime.with_sweep_rule("nodes-sweep");
    /// tokio.block_on(async {
    ///     let swept = runtime.handle(&lifecycle_aws::testing::scheduled_event("nodes-sweep")).await.unwrap();
    ///     assert_eq!(swept["outcomes"][0]["outcome"], "swept");
    /// });
    /// ```
    pub fn with_sweep_rule(mut self, rule: impl Into<String>) -> Self {
        self.sweep_rule = rule.into();
        self
    }

    /// The prefix the deployment puts before the names of its scheduled rules and SSM
    /// documents, so that two stacks can share a region (the template uses
    /// `<stack name>-`). The model keeps the names it was written with: a rule
    /// `prod-backup` starts the state `backup`, `prod-lifecycle-sweep` is the sweep rule
    /// `lifecycle-sweep`, and `ClusterJoin` is sent as `prod-ClusterJoin`. A rule without
    /// the prefix is another stack's: [`HandleError::UnknownSchedule`]. Default: none.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::runtime::Runtime;
    /// use lifecycle_aws::testing::{lifecycle_action_event, scheduled_event, RecordingActions, RecordingCommands};
    /// use lifecycle_core::testing::example::Node;
    /// use lifecycle_core::{LifecycleTransition, Record};
    /// let (commands, table) = (Arc::new(RecordingCommands::new()), MemoryTable::new());
    /// table.records().insert(Record::new("i-1", "finished_cloud_init"));
    /// let runtime = Runtime::with_parts(table, commands.clone(), Arc::new(RecordingActions::new()), || Node)
    ///     .with_name_prefix("prod-");
    /// tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    ///     runtime.handle(&lifecycle_action_event("i-1", "workers", LifecycleTransition::Launching)).await.unwrap();
    ///     let swept = runtime.handle(&scheduled_event("prod-lifecycle-sweep")).await.unwrap();
    ///     assert_eq!(swept["outcomes"][0]["outcome"], "swept");
    ///     // Another stack's sweep is refused.
    ///     assert!(runtime.handle(&scheduled_event("lifecycle-sweep")).await.is_err());
    /// });
    /// assert_eq!(commands.sent()[0].1.document_name, "prod-ClusterJoin");
    /// ```
    pub fn with_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = prefix.into();
        self
    }

    /// Replaces the Auto Scaling calls (tests; other schedulers).
    ///
    /// ```
    /// # let (runtime, commands, first) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// use std::sync::Arc;
    /// use lifecycle_aws::testing::{command_status_event, lifecycle_action_event, RecordingActions};
    /// let other = Arc::new(RecordingActions::new());
    /// let runtime = runtime.with_actions(other.clone());
    /// tokio.block_on(async {
    ///     runtime.handle(&lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching)).await.unwrap();
    ///     let (id, _) = commands.sent().remove(0);
    ///     runtime.handle(&command_status_event(&id, "i-0abc123def4567890", "ClusterJoin", "Success")).await.unwrap();
    /// });
    /// assert_eq!((other.completions().len(), first.completions().len()), (1, 0));
    /// ```
    pub fn with_actions(mut self, actions: Arc<dyn LifecycleActions>) -> Self {
        self.actions = actions;
        self
    }

    /// How long after it was requested an unknown command's result is taken for one whose
    /// registration is still on its way (retried) rather than one that is not ours (ignored).
    /// Default 120 s; the gap between `SendCommand` and the registration is milliseconds.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let runtime = runtime.with_command_grace(std::time::Duration::from_secs(300));
    /// ```
    pub fn with_command_grace(mut self, grace: Duration) -> Self {
        self.command_grace = grace;
        self
    }

    /// Where Auto Scaling's own view comes from ([`Runtime::new`] sets the Auto Scaling API).
    /// With it, a lifecycle event is acted on only if Auto Scaling holds its action (one
    /// `DescribeAutoScalingInstances` before anything is written; otherwise
    /// [`Outcome::Refused`]), an event without a token is refused as bad input
    /// ([`HandleError::NoActionToken`]), and the sweep reconciles the groups of
    /// [`Runtime::with_groups`]. Without it (local runs), every event is taken as it comes.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::runtime::Runtime;
    /// use lifecycle_aws::testing::{FakeAutoScaling, RecordingCommands, lifecycle_action_event};
    /// use lifecycle_core::testing::example::Node;
    /// use lifecycle_core::{LifecycleTransition, Record};
    /// let aws = Arc::new(FakeAutoScaling::new().with_group("workers"));
    /// let table = MemoryTable::new();
    /// table.records().insert(Record::new("i-1", "finished_cloud_init"));
    /// let runtime = Runtime::with_parts(table, Arc::new(RecordingCommands::new()), aws.clone(), || Node)
    ///     .with_fleet(aws.clone());
    /// aws.set_instance("i-1", "workers", "InService");
    /// // A launch event for an instance in service: Auto Scaling holds no such action.
    /// let forged = lifecycle_action_event("i-1", "workers", LifecycleTransition::Launching);
    /// tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    ///     let answer = runtime.handle(&forged).await.unwrap();
    ///     assert_eq!(answer["outcomes"][0]["outcome"], "refused");
    /// });
    /// assert_eq!(runtime.store().records().get("i-1").unwrap().state, "finished_cloud_init", "nothing written");
    /// ```
    pub fn with_fleet(mut self, fleet: Arc<dyn Fleet>) -> Self {
        self.fleet = Some(fleet);
        self
    }

    /// The Auto Scaling groups the sweep reconciles: each of their instances that waits in a
    /// lifecycle hook with no lifecycle handling it (its event lost) gets that lifecycle
    /// started, as if its event had come. Needs [`Runtime::with_fleet`]. Default: none.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::runtime::{Outcome, Runtime};
    /// use lifecycle_aws::testing::{FakeAutoScaling, RecordingCommands};
    /// use lifecycle_core::testing::example::Node;
    /// use lifecycle_core::Record;
    /// let aws = Arc::new(FakeAutoScaling::new().with_group("workers"));
    /// let table = MemoryTable::new();
    /// table.records().insert(Record::new("i-1", "finished_cloud_init"));
    /// let runtime = Runtime::with_parts(table, Arc::new(RecordingCommands::new()), aws.clone(), || Node)
    ///     .with_fleet(aws.clone())
    ///     .with_groups(["workers"]);
    /// let _lost = aws.launch("i-1", "workers"); // its event never arrives
    /// tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    ///     let Outcome::Swept { reconciled, .. } = runtime.sweep().await.unwrap() else { panic!() };
    ///     assert_eq!(reconciled, ["i-1"]);
    /// });
    /// // Its lifecycle runs as if the event had come: the node joins.
    /// assert_eq!(runtime.store().records().get("i-1").unwrap().state, "joining_cluster");
    /// ```
    pub fn with_groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// Where CloudWatch metrics go, as Embedded Metric Format log lines
    /// ([`crate::metrics`]; the Lambda: standard output). Default: nowhere.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::metrics::Metrics;
    /// use lifecycle_aws::runtime::Runtime;
    /// use lifecycle_aws::testing::{RecordingActions, RecordingCommands};
    /// use lifecycle_core::testing::example::Node;
    /// let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    /// let kept = lines.clone();
    /// let table = MemoryTable::new();
    /// table.records().insert(lifecycle_core::Record::new("i-1", "finished_cloud_init"));
    /// let runtime = Runtime::with_parts(table, Arc::new(RecordingCommands::new()), Arc::new(RecordingActions::new()), || Node)
    ///     .with_metrics(Metrics::to(Arc::new(move |line: &str| kept.lock().unwrap().push(line.to_owned()))));
    /// let sweep = lifecycle_aws::testing::scheduled_event("lifecycle-sweep");
    /// tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    ///     .block_on(runtime.handle(&sweep)).unwrap();
    /// assert!(lines.lock().unwrap()[0].contains("\"SweepDuration\""));
    /// ```
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// How often the sweep checks that the instance of a record at rest still exists, when it
    /// reconciles ([`Runtime::with_groups`]): a record whose instance Auto Scaling no longer
    /// knows (terminated outside its group, its state-change event lost) gets an
    /// `instance_state = "terminated"` event, so the model ends it. Default one hour.
    pub fn with_alive_check(mut self, interval: Duration) -> Self {
        self.alive_check = interval;
        self
    }

    /// The node table.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// assert_eq!(runtime.store().records().get("i-0abc123def4567890").unwrap().state, "finished_cloud_init");
    /// ```
    pub fn store(&self) -> &T {
        &self.store
    }

    /// [`Runtime::handle`] for an invocation that must be done by `deadline` (the Lambda's):
    /// claims taken while handling it run out then at the latest.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
    /// tokio.block_on(async {
    ///     // The Lambda's deadline, from its context: no claim outlives the invocation.
    ///     let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(30);
    ///     let answer = runtime.handle_before(&launch, deadline).await.unwrap();
    ///     assert_eq!(answer["outcomes"][0]["end"], "joining_cluster");
    /// });
    /// ```
    pub async fn handle_before(
        &self,
        payload: &Value,
        deadline: SystemTime,
    ) -> Result<Value, HandleError> {
        INVOCATION_DEADLINE
            .scope(deadline, self.handle(payload))
            .await
    }

    /// [`Runtime::handle_bytes`] for an invocation that must be done by `deadline`.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
    /// tokio.block_on(async {
    ///     let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(30);
    ///     let answer = runtime.handle_bytes_before(launch.to_string().as_bytes(), deadline).await.unwrap();
    ///     assert_eq!(answer.outcomes.len(), 1);
    /// });
    /// ```
    pub async fn handle_bytes_before(
        &self,
        payload: &[u8],
        deadline: SystemTime,
    ) -> Result<Answer, HandleError> {
        INVOCATION_DEADLINE
            .scope(deadline, self.handle_bytes(payload))
            .await
    }

    /// Handles one invocation payload. For an SQS batch the answer is a partial batch
    /// response (`batchItemFailures`): only the messages that failed are redelivered.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
    /// tokio.block_on(async {
    ///     let answer = runtime.handle(&launch).await.unwrap();
    ///     assert_eq!(answer["outcomes"][0]["stop"], "waiting");
    /// });
    /// ```
    pub async fn handle(&self, payload: &Value) -> Result<Value, HandleError> {
        self.handle_invocation(decode_value(payload)?)
            .await
            .map(Answer::into_value)
    }

    /// [`Runtime::handle`] for the payload's JSON text, decoded without building a
    /// [`Value`] of the whole payload first, answered with a typed [`Answer`] that serialises
    /// to the same JSON (what the Lambda does).
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
    /// tokio.block_on(async {
    ///     let answer = runtime.handle_bytes(launch.to_string().as_bytes()).await.unwrap();
    ///     assert!(answer.batch_item_failures.is_none(), "not an SQS batch");
    ///     assert_eq!(serde_json::to_value(&answer).unwrap()["outcomes"][0]["end"], "joining_cluster");
    /// });
    /// ```
    pub async fn handle_bytes(&self, payload: &[u8]) -> Result<Answer, HandleError> {
        self.handle_invocation(crate::decode::decode_event(payload)?)
            .await
    }

    /// Handles one decoded invocation.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
    /// tokio.block_on(async {
    ///     let invocation = lifecycle_aws::decode::decode_value(&launch).unwrap();
    ///     let answer = runtime.handle_invocation(invocation).await.unwrap();
    ///     assert_eq!(answer.outcomes.len(), 1);
    /// });
    /// ```
    pub async fn handle_invocation(&self, invocation: Invocation) -> Result<Answer, HandleError> {
        match invocation {
            Invocation::Events(notifications) => {
                let mut outcomes = Vec::with_capacity(notifications.len());
                for notification in notifications {
                    let outcome = self.process(notification).await;
                    if let Err(e) = &outcome {
                        self.failed(e);
                    }
                    outcomes.push(outcome?);
                }
                Ok(Answer {
                    batch_item_failures: None,
                    outcomes,
                })
            }
            Invocation::Sqs(messages) => {
                let mut failures = Vec::new();
                let mut outcomes = Vec::new();
                for message in messages {
                    let about = message.notification.as_ref().ok().map(|n| {
                        (
                            n.event_id().unwrap_or("").to_owned(),
                            n.instance_id().unwrap_or("").to_owned(),
                        )
                    });
                    let result = match message.notification {
                        Ok(notification) => self.process(notification).await,
                        Err(e) => Err(e.into()),
                    };
                    match result {
                        Ok(outcome) => outcomes.push(outcome),
                        Err(e) => {
                            self.failed(&e);
                            let (event_id, instance_id) = about.unwrap_or_default();
                            tracing::error!(message_id = %message.message_id, event_id, instance_id, error = %e, retryable = e.is_retryable(), "message failed");
                            failures.push(BatchItemFailure {
                                item_identifier: message.message_id,
                            });
                        }
                    }
                }
                Ok(Answer {
                    batch_item_failures: Some(failures),
                    outcomes,
                })
            }
            Invocation::Stream(changes) => {
                // A partial batch response: the stream is retried from the first record that
                // failed (records of one item are in order, so the rest wait for it).
                let mut outcomes = Vec::with_capacity(changes.len());
                let mut failures = Vec::new();
                for change in changes {
                    let sequence_number = change.sequence_number.clone();
                    match (self.resume_parked(change).await, sequence_number) {
                        (Ok(outcome), _) => outcomes.push(outcome),
                        (Err(e), Some(sequence_number)) => {
                            self.failed(&e);
                            tracing::error!(%sequence_number, error = %e, retryable = e.is_retryable(), "stream record failed");
                            failures.push(BatchItemFailure {
                                item_identifier: sequence_number,
                            });
                            break;
                        }
                        (Err(e), None) => return Err(e),
                    }
                }
                Ok(Answer {
                    batch_item_failures: Some(failures),
                    outcomes,
                })
            }
        }
    }

    /// Handles one decoded notification.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// # let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
    /// use lifecycle_aws::decode::{Invocation, decode_value};
    /// use lifecycle_aws::runtime::Outcome;
    /// tokio.block_on(async {
    ///     let Ok(Invocation::Events(mut notifications)) = decode_value(&launch) else { panic!("an event") };
    ///     let outcome = runtime.process(notifications.remove(0)).await.unwrap();
    ///     assert!(matches!(outcome, Outcome::Dispatched { .. }));
    /// });
    /// ```
    pub async fn process(&self, notification: Notification) -> Result<Outcome, HandleError> {
        match notification {
            Notification::LifecycleAction { id, region, action } => {
                let span = tracing::info_span!("event", event_id = %id, instance_id = %action.ec2_instance_id);
                async {
                    if let Some(refused) = self.verify_held(&id, &action, region.as_deref()).await?
                    {
                        return Ok(refused);
                    }
                    let event = Event::lifecycle(id, action);
                    self.run_lifecycle(event, region.as_deref(), None).await
                }
                .instrument(span)
                .await
            }
            Notification::TestNotification => Ok(ignored("autoscaling:TEST_NOTIFICATION")),
            Notification::InstanceActivity { .. } => Ok(ignored(
                "an instance launch/terminate notification, not a lifecycle action",
            )),
            Notification::CommandStatus {
                id,
                command_id,
                progress,
                requested,
                ..
            } => {
                let span = tracing::info_span!("event", event_id = %id, command_id = %command_id);
                self.command_result(id, command_id, progress, requested)
                    .instrument(span)
                    .await
            }
            Notification::CommandInvocation { .. } => Ok(ignored(
                "a command invocation status: the command's own status-change event carries the result",
            )),
            Notification::Scheduled { id, rule, region } => {
                let span = tracing::info_span!("event", event_id = %id, rule = %rule);
                self.scheduled(id, rule, region).instrument(span).await
            }
            Notification::SpotInterruption {
                id,
                instance_id,
                region,
                action,
            } => {
                let kind = EventKind::SpotInterruption { action };
                self.instance_event(Event::instance(id, instance_id, kind), region)
                    .await
            }
            Notification::RebalanceRecommendation {
                id,
                instance_id,
                region,
            } => {
                let kind = EventKind::RebalanceRecommendation;
                self.instance_event(Event::instance(id, instance_id, kind), region)
                    .await
            }
            Notification::InstanceState {
                id,
                instance_id,
                region,
                state,
            } => {
                let kind = EventKind::InstanceState { state };
                self.instance_event(Event::instance(id, instance_id, kind), region)
                    .await
            }
            Notification::Maintenance {
                id,
                region,
                event_type,
                starts,
                instance_ids,
            } => {
                // One event, several instances: each record gets it.
                let mut outcomes = Vec::with_capacity(instance_ids.len());
                for instance_id in instance_ids {
                    let kind = EventKind::Maintenance {
                        event_type: event_type.clone(),
                        starts: starts.clone(),
                    };
                    let event = Event::instance(id.clone(), instance_id, kind);
                    outcomes.push(self.instance_event(event, region.clone()).await?);
                }
                match <[Outcome; 1]>::try_from(outcomes) {
                    Ok([outcome]) => Ok(outcome),
                    Err(outcomes) => Ok(Outcome::PerInstance { outcomes }),
                }
            }
            Notification::InstanceTagged {
                id,
                instance_id,
                changed,
                tags,
                ..
            } => {
                if !changed.iter().any(|key| key == READY_TAG) {
                    return Ok(ignored("a tag change that is not cloud-init's progress"));
                }
                let span = tracing::info_span!("event", event_id = %id, instance_id = %instance_id);
                self.cloud_init_progress(instance_id, tags.get(READY_TAG).cloned())
                    .instrument(span)
                    .await
            }
        }
    }

    /// An EC2 or AWS Health event about one instance, which belongs to no lifecycle action:
    /// dispatched to the instance's record. An instance with no record is none this model
    /// runs (another group's, one launched by hand): nothing is written.
    async fn instance_event(
        &self,
        event: Event,
        region: Option<String>,
    ) -> Result<Outcome, HandleError> {
        let ident = event.instance_id.clone().unwrap_or_default();
        let span = tracing::info_span!("event", event_id = %event.id, instance_id = %ident);
        async {
            let Some(record) = self.store.load(&ident).await? else {
                return Ok(ignored(format!(
                    "no record for instance `{ident}`: not an instance this model runs"
                )));
            };
            self.dispatch_record(record, event, region.as_deref()).await
        }
        .instrument(span)
        .await
    }

    /// An instance tagged itself with how far its cloud-init got: `registered` puts its record
    /// in the last state before the initial one (creating it), `finished` in the initial state
    /// (the table's stream then resumes a parked launch). The record is written from what EC2
    /// says about the instance (its private address, its group), never from what the instance
    /// says: the tag is all it can set.
    async fn cloud_init_progress(
        &self,
        instance: String,
        step: Option<String>,
    ) -> Result<Outcome, HandleError> {
        let def = M::DEFINITION;
        let (Some(initial), Some(waiting)) = (def.initial, def.before_initial.last()) else {
            return Ok(ignored(
                "the model has no initial state, or none before it: it does not follow cloud-init",
            ));
        };
        // Either step may come first or again: the record moves on only from a state before the
        // initial one (or is created).
        let from: Vec<&str> = def.before_initial.iter().map(|s| s.name()).collect();
        let state = match step.as_deref() {
            Some("registered") => waiting.name(),
            Some("finished") => initial.name(),
            _ => {
                return Ok(ignored(format!(
                    "unknown cloud-init step {:?} (expected registered or finished)",
                    step.unwrap_or_default()
                )));
            }
        };
        let Some(facts) = self.instances.describe(&instance).await? else {
            return Err(HandleError::UnknownInstance(instance));
        };
        let mut set = Vec::new();
        if let Some(ip) = facts.private_ip {
            set.push(("InstanceIp".to_owned(), Value::from(ip)));
        }
        if let Some(group) = facts.group {
            set.push(("AutoScalingGroupName".to_owned(), Value::from(group)));
        }
        if self
            .store
            .register_instance(&instance, state, &from, &set)
            .await?
        {
            tracing::info!(state, "cloud-init progress recorded");
            Ok(Outcome::Registered {
                ident: instance,
                state: state.to_owned(),
            })
        } else {
            Ok(ignored(format!(
                "the record is past cloud-init's `{}` step",
                step.unwrap_or_default()
            )))
        }
    }

    async fn command_result(
        &self,
        id: String,
        command_id: String,
        progress: CommandProgress,
        requested: Option<String>,
    ) -> Result<Outcome, HandleError> {
        let status = match progress {
            CommandProgress::Running(status) => {
                // A long command's progress keeps its lifecycle action alive.
                let Some(command) = self.store.peek_command(&command_id).await? else {
                    return Ok(ignored(format!(
                        "{status} status of a command that is not ours"
                    )));
                };
                if self.overdue(&command).await? {
                    return self.expire(command).await;
                }
                if let Some(action) = &command.lifecycle {
                    self.actions.heartbeat(action, None).await?;
                    self.metric("Heartbeats", &[]);
                    return Ok(Outcome::Heartbeat { command_id });
                }
                return Ok(ignored(format!(
                    "{status} status of a command with no lifecycle action"
                )));
            }
            CommandProgress::Finished(status) => status,
        };
        // Read, not taken: the command stays registered until its result has been handled,
        // so a delivery cut off half way is handled again when it is redelivered.
        let Some(command) = self.store.peek_command(&command_id).await? else {
            if requested
                .as_deref()
                .is_some_and(|r| requested_within(r, self.command_grace, self.clock.now()))
            {
                return Err(HandleError::CommandNotRegisteredYet(command_id));
            }
            return Ok(ignored(
                "the result of a command that is not registered: not ours, or already handled",
            ));
        };
        // Known now: every line from here on names the instance too.
        let span = tracing::info_span!(
            "event",
            event_id = %id,
            command_id = %command_id,
            instance_id = %command.instance_id
        );
        if command.marker.is_none() {
            self.adopt_original_wait(&command)
                .instrument(span.clone())
                .await?;
        }
        let event = Event::command_result(
            id,
            command_id.clone(),
            status,
            command.owner,
            command.lifecycle,
        );
        let outcome = self
            .run_lifecycle(event, None, command.sent_at_version)
            .instrument(span)
            .await?;
        // Handled: a duplicate of this result now finds nothing.
        self.store.consume_command(&command_id).await?;
        Ok(outcome)
    }

    /// Whether Auto Scaling holds `action` (when the runtime can ask it): `Some` outcome,
    /// logged with the event id, when it does not — a forged or replayed event, or one that
    /// comes after its action ended. Nothing is read or written before this answer.
    async fn verify_held(
        &self,
        event_id: &str,
        action: &lifecycle_core::LifecycleAction,
        region: Option<&str>,
    ) -> Result<Option<Outcome>, HandleError> {
        let Some(fleet) = &self.fleet else {
            return Ok(None);
        };
        if action.lifecycle_action_token.is_none() {
            self.metric("EventsRefused", &[("Reason", "no_token")]);
            return Err(HandleError::NoActionToken {
                event_id: event_id.to_owned(),
                instance: action.ec2_instance_id.clone(),
            });
        }
        let region = action.region.as_deref().or(region);
        let crate::fleet::Held::No(reason) = fleet.held(action, region).await? else {
            return Ok(None);
        };
        tracing::warn!(%reason, "lifecycle action refused: nothing written, nothing sent");
        self.metric("EventsRefused", &[("Reason", "not_held")]);
        Ok(Some(Outcome::Refused {
            event_id: event_id.to_owned(),
            ident: action.ec2_instance_id.clone(),
            reason,
        }))
    }

    /// A command the original library sent (no claim marker) for a record this library wrote:
    /// while both libraries handle events on one table (a migration's blue/green moment), the
    /// original moves a record and sends a command without noting that the record waits for
    /// it. A record that waits for nothing of this library's is made to wait for the
    /// original's command (one conditional write), so that command's result moves it on.
    async fn adopt_original_wait(&self, command: &RegisteredCommand) -> Result<(), HandleError> {
        let Some(record) = self.store.load(&command.owner).await? else {
            return Ok(());
        };
        if record.version == 0
            || record.awaited_commands().next().is_some()
            || LifecycleProgress::of(&record).is_some_and(|p| p.waiting)
        {
            return Ok(());
        }
        let token = next_write_token(&record)?;
        let set = [(
            lifecycle_core::attr::AWAITED_COMMAND.to_owned(),
            Value::String(command.command_id.clone()),
        )];
        let change = lifecycle_core::StateChange {
            ident: &record.ident,
            from: &record.state,
            version: record.version,
            to: &record.state,
            set: &set,
            token: &token,
        };
        if self.store.compare_and_set(change).await? != lifecycle_core::CasOutcome::Conflict {
            tracing::info!(state = %record.state, "the original library moved the record and sent this command: the record waits for it");
        }
        Ok(())
    }

    async fn scheduled(
        &self,
        id: String,
        rule: String,
        region: Option<String>,
    ) -> Result<Outcome, HandleError> {
        // Another stack's rule (or a rule named by hand) is not this runtime's to act on.
        let Some(rule) = rule
            .strip_prefix(self.name_prefix.as_str())
            .map(str::to_owned)
        else {
            return Err(HandleError::UnknownSchedule(rule));
        };
        if rule == self.sweep_rule {
            return self.sweep().await;
        }
        let Ok(start) = M::State::from_str(&rule) else {
            return Err(HandleError::UnknownSchedule(rule));
        };
        let mut record = match self.store.load(&rule).await? {
            Some(record) => record,
            None => {
                self.store.create(&rule, start.name()).await?;
                self.store
                    .load(&rule)
                    .await?
                    .ok_or_else(|| HandleError::UnknownInstance(rule.clone()))?
            }
        };
        // A run that ended (terminal state) starts over; one still waiting is resumed.
        let token = next_write_token(&record)?;
        if let Some(change) =
            lifecycle_core::scheduled_restart(&M::DEFINITION, &record, start, &token)
            && let lifecycle_core::CasOutcome::Applied { version } =
                self.store.compare_and_set(change).await?
        {
            record.state = start.name().to_owned();
            record.version = version;
        }
        let event = Event::scheduled(id, rule);
        self.dispatch_record(record, event, region.as_deref()).await
    }

    /// A lifecycle event (launching, terminating, or a command result) for its instance. A
    /// command result carries the version its record had when the command was sent.
    async fn run_lifecycle(
        &self,
        event: Event,
        region: Option<&str>,
        sent_at_version: Option<u64>,
    ) -> Result<Outcome, HandleError> {
        let ident = event.instance_id.clone().unwrap_or_default();
        let record = self
            .store
            .load(&ident)
            .await?
            .ok_or_else(|| HandleError::UnknownInstance(ident.clone()))?;
        self.run_lifecycle_on(record, event, region, sent_at_version)
            .await
    }

    /// [`Runtime::run_lifecycle`] on `record`, just loaded.
    async fn run_lifecycle_on(
        &self,
        record: Record,
        event: Event,
        region: Option<&str>,
        sent_at_version: Option<u64>,
    ) -> Result<Outcome, HandleError> {
        let ident = record.ident.clone();
        let before_initial: Vec<&str> = M::DEFINITION
            .before_initial
            .iter()
            .map(|s| s.name())
            .collect();
        // Parsed, not compared: a record in a former name of such a state counts too.
        let still_before_initial =
            M::State::from_str(&record.state).is_ok_and(|s| M::DEFINITION.is_before_initial(s));
        let record = if event.kind == EventKind::Launching && still_before_initial {
            if LifecycleProgress::of(&record).is_some_and(|p| p.event_id == event.id && !p.waiting)
            {
                // This very launch already ended (its parked wait ran out): not parked again.
                return Ok(ignored("this launch is over"));
            }
            let now = epoch_seconds(self.clock.now());
            let pending = PendingLifecycle {
                action: event
                    .lifecycle
                    .clone()
                    .expect("a launching event carries its action"),
                event_id: event.id.clone(),
                parked_at: Some(now),
            };
            if self
                .store
                .park_lifecycle(
                    &ident,
                    &before_initial,
                    &pending,
                    M::DEFINITION.name,
                    self.next_look(now, now),
                )
                .await?
            {
                tracing::info!(state = %record.state, "launch parked until cloud-init finishes");
                return Ok(Outcome::Parked { ident });
            }
            // Cloud-init finished in the meantime: run now.
            self.store
                .load(&ident)
                .await?
                .ok_or_else(|| HandleError::UnknownInstance(ident.clone()))?
        } else {
            record
        };
        if let EventKind::CommandResult { command_id, .. } = &event.kind
            && sent_at_version == Some(record.version)
            && !record.awaits(command_id)
        {
            // Sent, but the write that makes the record wait for it has not happened (yet).
            return Err(HandleError::CommandNotAwaitedYet(command_id.clone()));
        }
        self.dispatch_record(record, event, region).await
    }

    /// A stream record of the node table: a parked launch resumes when its instance reaches
    /// the initial state.
    async fn resume_parked(&self, change: StreamChange) -> Result<Outcome, HandleError> {
        let Some(initial) = M::DEFINITION.initial else {
            return Ok(ignored("the model has no initial state"));
        };
        let reached = change.new_status.as_deref() == Some(initial.name())
            && change.old_status.as_deref() != Some(initial.name());
        if !reached {
            return Ok(ignored("not a record reaching the initial state"));
        }
        // Left on the record until the launch's first state change removes it, in the same
        // write: a resume that fails is retried from the stream record, which still has it.
        // Cloud-init may have replaced the whole item (put-item) and the parked launch with it:
        // the old image still has it. Racing resumers are kept apart by the claim and the
        // compare-and-set, a late one finds the lifecycle's progress and resumes from there.
        let pending = pending_from_image(&change.ident, &change.new_image)
            .or_else(|| pending_from_image(&change.ident, &change.old_image))
            .transpose()?;
        let Some(pending) = pending else {
            return Ok(ignored("no parked launch on the record"));
        };
        let span =
            tracing::info_span!("event", event_id = %pending.event_id, instance_id = %change.ident);
        let region = pending.action.region.clone();
        let event = Event::lifecycle(pending.event_id, pending.action);
        self.run_lifecycle(event, region.as_deref(), None)
            .instrument(span)
            .await
    }

    async fn dispatch_record(
        &self,
        mut record: Record,
        event: Event,
        region: Option<&str>,
    ) -> Result<Outcome, HandleError> {
        let now = self.clock.now();
        if let (Some(holder), Some(until)) = (record.claimed_by(), record.claimed_until())
            && until >= epoch_seconds(now)
        {
            tracing::info!(
                holder,
                until,
                "another delivery holds the record's claim: retry later"
            );
            return Err(HandleError::Busy {
                ident: record.ident.clone(),
                until,
            });
        }
        let seconds = epoch_seconds(now);
        let lease = seconds.saturating_add(self.claim_lease.as_secs());
        let lease_until = INVOCATION_DEADLINE
            .try_with(|deadline| epoch_seconds(*deadline))
            .map_or(lease, |deadline| deadline.min(lease));
        let effects = AwsEffects::new(
            &*self.commands,
            &self.store,
            &*self.actions,
            region,
            seconds,
            lease_until,
        )
        .with_document_prefix(&self.name_prefix)
        .with_waits(
            M::DEFINITION.name,
            seconds.saturating_add(self.heartbeat_interval.as_secs()),
            seconds.saturating_add(self.wait_deadline.as_secs()),
        );
        let mut model = (self.new_model)();
        // Boxed: the dispatcher's future nests the model's task futures, and nested again
        // inside the runtime's own it can overflow rustc's query depth for large models.
        let dispatching = Box::pin(dispatch(
            &mut model,
            &self.store,
            &mut record,
            &event,
            &effects,
        ));
        let dispatched = dispatching.await;
        self.settle_effects(&effects, &dispatched).await;
        let report = match dispatched {
            Ok(report) => report,
            Err(DispatchError::Store(e)) => return Err(e.into()),
            Err(DispatchError::Busy { ident, until }) => {
                return Err(HandleError::Busy { ident, until });
            }
            Err(DispatchError::Transient { error, .. }) => {
                return Err(HandleError::Transient {
                    event_id: event.id.clone(),
                    ident: record.ident.clone(),
                    message: error.to_string(),
                });
            }
            Err(e) => {
                return Err(HandleError::Dispatch {
                    event_id: event.id.clone(),
                    ident: record.ident.clone(),
                    message: e.to_string(),
                });
            }
        };
        let completed = match (report.lifecycle_result, &event.lifecycle) {
            (Some(result), Some(action)) => Some(self.complete(action, region, result).await?),
            _ => None,
        };
        // A terminated instance's lifecycle is over: its record expires after the retention.
        // So does one EC2 reports terminated (outside its group, with no lifecycle action)
        // that the model brought to its end.
        let terminated_by_ec2 = matches!(&event.kind, EventKind::InstanceState { state } if state == "terminated")
            && report.states.len() > 1;
        if ((completed.is_some()
            && event.lifecycle_transition() == Some(LifecycleTransition::Terminating))
            || terminated_by_ec2)
            && M::DEFINITION.is_terminal(report.end)
        {
            let expires = epoch_seconds(self.clock.now()).saturating_add(self.retention.as_secs());
            if let Err(e) = self.store.retain_until(&report.ident, expires).await {
                tracing::warn!(error = %e, "could not set the record's expiry");
            }
        }
        let mut outcome = summary::<M>(&event, &report, completed);
        // A termination that came while this lifecycle waited runs now that it is over.
        if let Some(termination) = lifecycle_core::deferred_termination(&record)
            && !lifecycle_core::is_waiting(&record)
            && report.stop != StopReason::LostRace
        {
            tracing::info!(termination = %termination.id, "the launch is over: the termination that waited for it runs");
            let region = termination
                .lifecycle
                .as_ref()
                .and_then(|a| a.region.clone());
            let then = Box::pin(self.dispatch_record(record, termination, region.as_deref()));
            if let Outcome::Dispatched { deferred, .. } = &mut outcome {
                *deferred = Some(Box::new(then.await?));
            }
            return Ok(outcome);
        }
        self.schedule_alive_check(&record, &event, &report).await;
        Ok(outcome)
    }

    /// A record an instance's event left at rest (not waiting, not at its end) is checked now
    /// and then for its instance still existing, when the runtime reconciles: a record whose
    /// instance vanished with its events lost is not left for ever. Scheduled once per rest
    /// (the next state change takes it off); best effort: the next event schedules it again.
    async fn schedule_alive_check(&self, record: &Record, event: &Event, report: &ModelReport<M>) {
        if self.fleet.is_none()
            || self.groups.is_empty()
            || event.instance_id.is_none()
            || report.stop == StopReason::LostRace
            || M::DEFINITION.is_terminal(report.end)
            || M::DEFINITION.is_before_initial(report.end)
            || lifecycle_core::is_waiting(record)
            || lifecycle_core::deferred_termination(record).is_some()
            || (report.states.len() == 1
                && record.attributes.contains_key(crate::store::attr::DUE_AT))
        {
            return;
        }
        let due = epoch_seconds(self.clock.now()).saturating_add(self.alive_check.as_secs());
        match self
            .store
            .schedule_alive_check(&record.ident, record.version, M::DEFINITION.name, due)
            .await
        {
            Ok(true) => tracing::debug!(due, "the instance's existence is checked at"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not schedule the check that the instance still exists")
            }
        }
    }

    /// After a dispatch: a claim still held is let go, so the next delivery takes over at
    /// once. Commands no stored state change took up are withdrawn — unless the delivery failed
    /// in a way its redelivery resumes (a transient error, DynamoDB failing): that delivery
    /// takes the claim over and adopts them instead of sending them again.
    async fn settle_effects<R, E>(
        &self,
        effects: &AwsEffects<'_, T>,
        dispatched: &Result<R, DispatchError<M::State, M::Error, E>>,
    ) {
        if let Some(claim) = effects.held_claim()
            && let Err(e) = self
                .store
                .release_claim(&claim.ident, &claim.holder, claim.version)
                .await
        {
            tracing::warn!(error = %e, "could not release the claim; it runs out by itself");
        }
        let resumed = matches!(
            dispatched,
            Err(DispatchError::Transient { .. } | DispatchError::Store(_))
        );
        if !resumed {
            for command_id in effects.uncommitted() {
                self.withdraw_command(&command_id).await;
            }
        }
    }

    /// Unregisters and cancels a command no state change took up (a lost race's, a failed
    /// transition's). Best effort: a command left registered is answered by a result the record
    /// does not wait for, which is not applied.
    async fn withdraw_command(&self, command_id: &str) {
        if let Err(e) = self.store.consume_command(command_id).await {
            tracing::warn!(command_id, error = %e, "could not unregister a command of a lost race");
        }
        match self.commands.cancel(command_id).await {
            Ok(()) => tracing::info!(command_id, "cancelled a command of a lost race"),
            Err(e) => {
                tracing::warn!(command_id, error = %e, "could not cancel a command of a lost race")
            }
        }
    }

    async fn complete(
        &self,
        action: &lifecycle_core::LifecycleAction,
        region: Option<&str>,
        result: LifecycleResult,
    ) -> Result<String, HandleError> {
        let completed = self.actions.complete(action, region, result).await?;
        let transition = match action.lifecycle_transition {
            LifecycleTransition::Launching => "launch",
            LifecycleTransition::Terminating => "termination",
        };
        match completed {
            Completed::Done => {
                tracing::info!(%result, transition, "lifecycle action completed");
                self.metric(
                    "LifecyclesCompleted",
                    &[("Transition", transition), ("Result", result.as_aws_str())],
                );
                Ok(result.to_string())
            }
            Completed::NoActiveAction => {
                tracing::warn!(%result, transition, "no active lifecycle action (already completed or timed out)");
                self.metric("CompletionsRepeated", &[("Transition", transition)]);
                Ok(format!("{result} (no active lifecycle action)"))
            }
        }
    }
}

impl<M, F, T> Runtime<M, F, T>
where
    M: LifecycleModel,
    F: Fn() -> M + Send + Sync,
    T: NodeTable,
{
    /// One count of metric `name` for this model, now.
    pub(super) fn metric(&self, name: &str, dimensions: &[(&str, &str)]) {
        self.metrics
            .count(M::DEFINITION.name, name, dimensions, self.now_ms());
    }

    /// Now, in epoch milliseconds (the metrics' timestamps).
    pub(super) fn now_ms(&self) -> u64 {
        self.clock
            .now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// An event's handling failed: counted by whether delivering it again may help.
    fn failed(&self, error: &HandleError) {
        let retryable = if error.is_retryable() {
            "true"
        } else {
            "false"
        };
        self.metric("EventsFailed", &[("Retryable", retryable)]);
    }
}

/// A write token for the write after `record`'s version (`DELIVERY.VERSION`), or the record is
/// malformed: its version is past [`lifecycle_core::MAX_VERSION`] and no write can follow it.
pub(super) fn next_write_token(record: &Record) -> Result<String, HandleError> {
    lifecycle_core::write_token_after(record).ok_or_else(|| {
        HandleError::Store(StoreError::Malformed {
            ident: record.ident.clone(),
            problem: "Version is past the largest a record can reach by counting writes".to_owned(),
        })
    })
}

fn ignored(reason: impl Into<String>) -> Outcome {
    let reason = reason.into();
    tracing::info!(%reason, "ignored");
    Outcome::Ignored { reason }
}

fn summary<M: LifecycleModel>(
    event: &Event,
    report: &ModelReport<M>,
    completed: Option<String>,
) -> Outcome {
    Outcome::Dispatched {
        event_id: event.id.clone(),
        ident: report.ident.clone(),
        start: report.start.name().to_owned(),
        end: report.end.name().to_owned(),
        triggers: report.triggers().map(str::to_owned).collect(),
        steps: steps::<M>(report),
        declined: declined_before::<M>(report, report.fired.len()),
        stop: stop_name(report.stop).to_owned(),
        failure: report.failure.as_ref().map(|f| f.cause.to_string()),
        completed,
        deferred: None,
    }
}

fn steps<M: LifecycleModel>(report: &ModelReport<M>) -> Vec<Step> {
    let failure_step = |f: &lifecycle_core::Failure<M::State, M::Error>| Step {
        from: f.state.name().to_owned(),
        to: M::DEFINITION
            .failure
            .map_or(f.state, |s| s)
            .name()
            .to_owned(),
        trigger: None,
        failure: Some(f.cause.to_string()),
        declined: Vec::new(),
    };
    let mut steps = Vec::with_capacity(report.fired.len() + 1);
    for (i, fired) in report.fired.iter().enumerate() {
        if let Some(f) = report.failure.as_ref().filter(|f| f.fired_before == i) {
            steps.push(failure_step(f));
        }
        steps.push(Step {
            from: fired.from.name().to_owned(),
            to: fired.to.name().to_owned(),
            trigger: Some(fired.trigger.to_owned()),
            failure: None,
            declined: declined_before::<M>(report, i),
        });
    }
    if let Some(f) = report
        .failure
        .as_ref()
        .filter(|f| f.fired_before == report.fired.len())
    {
        steps.push(failure_step(f));
    }
    steps
}

/// The declined triggers tried just before the `fired`-th trigger fired.
fn declined_before<M: LifecycleModel>(report: &ModelReport<M>, fired: usize) -> Vec<String> {
    report
        .declined
        .iter()
        .filter(|d| d.fired_before == fired)
        .map(|d| d.trigger.to_owned())
        .collect()
}

fn stop_name(stop: StopReason) -> &'static str {
    match stop {
        StopReason::Settled => "settled",
        StopReason::Finished => "finished",
        StopReason::StopAfterTrigger { .. } => "stop_after_trigger",
        StopReason::Waiting => "waiting",
        StopReason::LostRace => "lost_race",
        StopReason::NotReady => "not_ready",
        StopReason::Refused => "refused",
        StopReason::NotAwaited => "not_awaited",
        StopReason::Deferred => "deferred",
    }
}

/// Whether `requested` (RFC 3339, UTC) is less than `grace` before `now`.
fn requested_within(requested: &str, grace: Duration, now: SystemTime) -> bool {
    let Some(requested) = parse_rfc3339_utc(requested) else {
        return false;
    };
    now.duration_since(requested)
        .map_or(true, |age| age < grace)
}

/// `2018-11-08T18:43:30.506Z` → a time, parsed by the AWS SDK's own RFC 3339 parser (the
/// field comes from an event anyone who can publish to the queue writes: any text, any year).
/// `None` for anything that is not such a time.
fn parse_rfc3339_utc(text: &str) -> Option<SystemTime> {
    use aws_sdk_ssm::primitives::{DateTime, DateTimeFormat};
    let time = DateTime::from_str(text, DateTimeFormat::DateTime).ok()?;
    SystemTime::try_from(time).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_as_aws_writes_them() {
        let t = parse_rfc3339_utc("2018-11-08T18:43:30.506Z").unwrap();
        let since_epoch = t.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(since_epoch.as_secs(), 1_541_702_610);
        assert_eq!(since_epoch.subsec_millis(), 506);
        assert_eq!(
            parse_rfc3339_utc("2026-11-25T00:00:00Z")
                .unwrap()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            1_795_564_800
        );
        assert_eq!(parse_rfc3339_utc("yesterday"), None);
        // What a forged event may carry: no panic, no wrapped time, just no time.
        for text in [
            "9999999999999999999-01-01T00:00:00Z",
            "-9223372036854775808-01-01T00:00:00Z",
            "9000000000000000000-01-01T00:00:00Z",
            "2026-01-01T9000000000000000000:00:00Z",
            "2026-13-45T99:99:99Z",
            "",
        ] {
            assert_eq!(parse_rfc3339_utc(text), None, "{text}");
        }
        assert!(!requested_within(
            "2018-11-08T18:43:30.506Z",
            Duration::from_secs(120),
            SystemTime::now()
        ));
        assert!(requested_within(
            "2018-11-08T18:43:30.506Z",
            Duration::from_secs(120),
            t + Duration::from_secs(60)
        ));
    }
}
