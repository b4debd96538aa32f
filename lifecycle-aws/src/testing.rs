//! Testing a model through the Lambda's own code path, in memory: the JSON events AWS
//! delivers, and stand-ins for SSM and Auto Scaling that record what they were asked. With
//! [`MemoryTable`](crate::local::MemoryTable) and [`Runtime::with_parts`], a test runs decoding,
//! the runtime's exactly-once bookkeeping, the dispatcher and the completion, as deployed.
//!
//! ```
//! use std::sync::Arc;
//! use lifecycle_aws::local::MemoryTable;
//! use lifecycle_aws::runtime::Runtime;
//! use lifecycle_aws::testing::{RecordingActions, RecordingCommands, command_status_event, lifecycle_action_event};
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
//! let commands = Arc::new(RecordingCommands::new());
//! let actions = Arc::new(RecordingActions::new());
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

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

mod fake_auto_scaling;
pub use fake_auto_scaling::{ApiFault, FakeAutoScaling};

use lifecycle_core::testing::example::Node;
use lifecycle_core::{
    CommandRequest, EffectError, LifecycleAction, LifecycleResult, LifecycleTransition, Location,
    Record,
};
use serde_json::{Value, json};

use crate::actions::{ActionError, Completed, LifecycleActions};
use crate::effects::{CommandSender, carries_marker};

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

/// What [`example_runtime`] builds: the example model on an in-memory table.
pub type ExampleRuntime = crate::runtime::Runtime<Node, fn() -> Node, crate::local::MemoryTable>;

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
    std::sync::Arc<RecordingCommands>,
    std::sync::Arc<RecordingActions>,
) {
    let table = crate::local::MemoryTable::new();
    table
        .records()
        .insert(Record::new("i-0abc123def4567890", "finished_cloud_init"));
    let commands = std::sync::Arc::new(RecordingCommands::new());
    let actions = std::sync::Arc::new(RecordingActions::new());
    let new_node: fn() -> Node = || Node;
    let runtime =
        crate::runtime::Runtime::with_parts(table, commands.clone(), actions.clone(), new_node);
    (runtime, commands, actions)
}

/// The account and region of the events built here.
const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-central-1";

/// An EventBridge "EC2 Instance-launch/terminate Lifecycle Action" event for `instance` in the
/// Auto Scaling group `group`, as Auto Scaling sends it (token `token-launching-INSTANCE` or
/// `token-terminating-INSTANCE`).
///
/// ```
/// use lifecycle_aws::decode::{Invocation, Notification, decode_value};
/// use lifecycle_core::LifecycleTransition;
/// let event = lifecycle_aws::testing::lifecycle_action_event("i-1", "nodes", LifecycleTransition::Terminating);
/// let Ok(Invocation::Events(decoded)) = decode_value(&event) else { panic!() };
/// assert!(matches!(&decoded[0], Notification::LifecycleAction { action, .. } if action.ec2_instance_id == "i-1"));
/// ```
pub fn lifecycle_action_event(
    instance: &str,
    group: &str,
    transition: LifecycleTransition,
) -> Value {
    let (detail_type, label) = match transition {
        LifecycleTransition::Launching => ("EC2 Instance-launch Lifecycle Action", "launching"),
        LifecycleTransition::Terminating => {
            ("EC2 Instance-terminate Lifecycle Action", "terminating")
        }
    };
    json!({
        "version": "0", "id": format!("{label}-{instance}"), "detail-type": detail_type,
        "source": "aws.autoscaling", "account": ACCOUNT, "time": "2026-11-25T10:00:00Z",
        "region": REGION,
        "resources": [format!("arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:0:autoScalingGroupName/{group}")],
        "detail": {
            "LifecycleActionToken": format!("token-{label}-{instance}"),
            "AutoScalingGroupName": group, "LifecycleHookName": format!("{group}-on-{label}"),
            "EC2InstanceId": instance, "LifecycleTransition": transition.as_aws_str(),
        }
    })
}

/// [`lifecycle_action_event`] of an instance going from `origin` to `destination`: with a
/// warm pool, a launch into the pool (`EC2` → `WarmPool`) and later from it into the group
/// (`WarmPool` → `AutoScalingGroup`). Each gets its own event id and token, as AWS gives them.
///
/// ```
/// use lifecycle_aws::decode::{Invocation, Notification, decode_value};
/// use lifecycle_core::{LifecycleTransition, Location};
/// let event = lifecycle_aws::testing::routed_lifecycle_action_event(
///     "i-1", "workers", LifecycleTransition::Launching, Location::Ec2, Location::WarmPool);
/// let Ok(Invocation::Events(decoded)) = decode_value(&event) else { panic!() };
/// let Notification::LifecycleAction { action, .. } = &decoded[0] else { panic!() };
/// assert_eq!(action.destination, Some(Location::WarmPool));
/// ```
pub fn routed_lifecycle_action_event(
    instance: &str,
    group: &str,
    transition: LifecycleTransition,
    origin: Location,
    destination: Location,
) -> Value {
    let mut event = lifecycle_action_event(instance, group, transition);
    let route = format!("{}-{}", origin.as_aws_str(), destination.as_aws_str());
    event["id"] = json!(format!(
        "{}-{route}",
        event["id"].as_str().unwrap_or_default()
    ));
    let detail = &mut event["detail"];
    detail["LifecycleActionToken"] = json!(format!(
        "{}-{route}",
        detail["LifecycleActionToken"].as_str().unwrap_or_default()
    ));
    detail["Origin"] = json!(origin.as_aws_str());
    detail["Destination"] = json!(destination.as_aws_str());
    event
}

/// An EventBridge event of EC2 (`source` `aws.ec2`) about `instance`.
fn ec2_event(id: String, detail_type: &str, instance: &str, mut detail: Value) -> Value {
    detail["instance-id"] = json!(instance);
    json!({
        "version": "0", "id": id, "detail-type": detail_type, "source": "aws.ec2",
        "account": ACCOUNT, "time": "2026-11-25T10:00:00Z", "region": REGION,
        "resources": [format!("arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance}")],
        "detail": detail,
    })
}

/// An "EC2 Spot Instance Interruption Warning" for `instance` (`instance-action` `terminate`).
///
/// ```
/// use lifecycle_aws::decode::{Invocation, Notification, decode_value};
/// let event = lifecycle_aws::testing::spot_interruption_event("i-1");
/// let Ok(Invocation::Events(decoded)) = decode_value(&event) else { panic!() };
/// assert!(matches!(&decoded[0], Notification::SpotInterruption { action, .. } if action == "terminate"));
/// ```
pub fn spot_interruption_event(instance: &str) -> Value {
    ec2_event(
        format!("spot-{instance}"),
        "EC2 Spot Instance Interruption Warning",
        instance,
        json!({"instance-action": "terminate"}),
    )
}

/// An "EC2 Instance Rebalance Recommendation" for `instance`.
///
/// ```
/// use lifecycle_aws::decode::{Invocation, Notification, decode_value};
/// let event = lifecycle_aws::testing::rebalance_event("i-1");
/// let Ok(Invocation::Events(decoded)) = decode_value(&event) else { panic!() };
/// assert!(matches!(&decoded[0], Notification::RebalanceRecommendation { .. }));
/// ```
pub fn rebalance_event(instance: &str) -> Value {
    ec2_event(
        format!("rebalance-{instance}"),
        "EC2 Instance Rebalance Recommendation",
        instance,
        json!({}),
    )
}

/// An "EC2 Instance State-change Notification": `instance` entered `state`.
///
/// ```
/// use lifecycle_aws::decode::{Invocation, Notification, decode_value};
/// let event = lifecycle_aws::testing::instance_state_event("i-1", "stopped");
/// let Ok(Invocation::Events(decoded)) = decode_value(&event) else { panic!() };
/// assert!(matches!(&decoded[0], Notification::InstanceState { state, .. } if state == "stopped"));
/// ```
pub fn instance_state_event(instance: &str, state: &str) -> Value {
    ec2_event(
        format!("state-{state}-{instance}"),
        "EC2 Instance State-change Notification",
        instance,
        json!({"state": state}),
    )
}

/// An "AWS Health Event" of category `scheduledChange` for EC2, of type `event_type` (e.g.
/// `AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED`), about `instances`.
///
/// ```
/// use lifecycle_aws::decode::{Invocation, Notification, decode_value};
/// let event = lifecycle_aws::testing::maintenance_event(&["i-1", "i-2"], "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED");
/// let Ok(Invocation::Events(decoded)) = decode_value(&event) else { panic!() };
/// assert!(matches!(&decoded[0], Notification::Maintenance { instance_ids, .. } if instance_ids.len() == 2));
/// ```
pub fn maintenance_event(instances: &[&str], event_type: &str) -> Value {
    let entities: Vec<Value> = instances
        .iter()
        .map(|i| json!({"entityValue": i}))
        .collect();
    json!({
        "version": "0", "id": format!("health-{event_type}"), "detail-type": "AWS Health Event",
        "source": "aws.health", "account": ACCOUNT, "time": "2026-11-25T10:00:00Z",
        "region": REGION, "resources": instances,
        "detail": {
            "eventArn": format!("arn:aws:health:{REGION}::event/EC2/{event_type}/{event_type}_1"),
            "service": "EC2", "eventTypeCode": event_type,
            "eventTypeCategory": "scheduledChange",
            "startTime": "Thu, 03 Dec 2026 10:00:00 GMT",
            "affectedEntities": entities,
        }
    })
}

/// An EventBridge "EC2 Command Status-change Notification" of SSM: command `command_id` of
/// document `document` on `instance` reached `status` (`Success`, `Failed`, `TimedOut`,
/// `Cancelled`, `InProgress`...).
///
/// ```
/// use lifecycle_aws::decode::{Invocation, Notification, decode_value};
/// let event = lifecycle_aws::testing::command_status_event("cmd-1", "i-1", "ClusterJoin", "Failed");
/// let Ok(Invocation::Events(decoded)) = decode_value(&event) else { panic!() };
/// assert!(matches!(&decoded[0], Notification::CommandStatus { .. }));
/// ```
pub fn command_status_event(
    command_id: &str,
    instance: &str,
    document: &str,
    status: &str,
) -> Value {
    json!({
        "version": "0", "id": format!("{command_id}-{status}"),
        "detail-type": "EC2 Command Status-change Notification", "source": "aws.ssm",
        "account": ACCOUNT, "time": "2026-11-25T10:00:05Z", "region": REGION,
        "resources": [format!("arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance}")],
        "detail": {
            "command-id": command_id, "document-name": document, "status": status,
            "requested-date-time": "2026-11-25T10:00:01.000Z", "expire-after": "2026-11-25T12:00:01.000Z",
            "output-s3bucket-name": "", "output-s3key-prefix": "", "parameters": "{}"
        }
    })
}

/// An EventBridge "Scheduled Event" of the rule `rule`.
///
/// ```
/// use lifecycle_aws::decode::{Invocation, Notification, decode_value};
/// let event = lifecycle_aws::testing::scheduled_event("backup");
/// let Ok(Invocation::Events(decoded)) = decode_value(&event) else { panic!() };
/// assert!(matches!(&decoded[0], Notification::Scheduled { rule, .. } if rule == "backup"));
/// ```
pub fn scheduled_event(rule: &str) -> Value {
    json!({
        "version": "0", "id": format!("schedule-{rule}"), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": ACCOUNT, "time": "2026-11-25T02:00:00Z",
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}")],
        "detail": {}
    })
}

/// The DynamoDB Streams record of the node table's item going from `before` to `after`
/// (`NEW_AND_OLD_IMAGES`), as the table's stream delivers it.
///
/// ```
/// use lifecycle_core::Record;
/// let before = Record::new("i-1", "pending");
/// let mut after = Record::new("i-1", "finished_cloud_init");
/// after.version = 2;
/// let event = lifecycle_aws::testing::stream_record_event(&before, &after);
/// use lifecycle_aws::decode::{Invocation, decode_value};
/// assert!(matches!(decode_value(&event), Ok(Invocation::Stream(changes)) if changes.len() == 1));
/// ```
pub fn stream_record_event(before: &Record, after: &Record) -> Value {
    fn item(record: &Record) -> Value {
        let mut item: serde_json::Map<String, Value> = record
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), attribute(v)))
            .collect();
        item.insert("Ident".into(), json!({"S": record.ident}));
        item.insert("ItemStatus".into(), json!({"S": record.state}));
        item.insert("Version".into(), json!({"N": record.version.to_string()}));
        Value::Object(item)
    }
    fn attribute(value: &Value) -> Value {
        match value {
            Value::Null => json!({"NULL": true}),
            Value::Bool(b) => json!({"BOOL": b}),
            Value::Number(n) => json!({"N": n.to_string()}),
            Value::String(s) => json!({"S": s}),
            Value::Array(items) => json!({"L": items.iter().map(attribute).collect::<Vec<_>>()}),
            Value::Object(map) => {
                json!({"M": map.iter().map(|(k, v)| (k.clone(), attribute(v))).collect::<serde_json::Map<_, _>>()})
            }
        }
    }
    json!({"Records": [{
        "eventID": format!("{}-{}", after.ident, after.version), "eventName": "MODIFY",
        "eventSource": "aws:dynamodb", "awsRegion": REGION,
        "dynamodb": {
            "Keys": {"Ident": {"S": after.ident}},
            "OldImage": item(before), "NewImage": item(after),
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    }]})
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// SSM, recorded: each command gets an id shaped like SSM's, is kept until cancelled, and can
/// be found again by its claim marker (as [`SsmCommands`](crate::effects::SsmCommands) finds a
/// command whose answer was lost).
///
/// ```
/// use lifecycle_aws::effects::CommandSender;
/// use lifecycle_aws::testing::RecordingCommands;
/// use lifecycle_core::CommandRequest;
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let commands = RecordingCommands::new();
///     // The claim marker goes at the end of the comment, as the runtime puts it.
///     let comment = lifecycle_aws::effects::marked_comment(Some("join"), "d1.0");
///     let id = commands.send(&CommandRequest::new("ClusterJoin", ["i-1"]).comment(comment)).await.unwrap();
///     assert_eq!(commands.find(&CommandRequest::new("ClusterJoin", ["i-1"]), "d1.0").await.unwrap(), Some(id.clone()));
///     commands.cancel(&id).await.unwrap();
///     assert!(commands.sent().is_empty());
/// });
/// ```
#[derive(Debug, Default)]
pub struct RecordingCommands {
    sent: Mutex<Vec<(String, CommandRequest)>>,
    cancelled: Mutex<Vec<String>>,
    // Ids are never reused, even after a cancel.
    count: AtomicUsize,
}

impl RecordingCommands {
    /// Nothing sent yet.
    ///
    /// ```
    /// assert!(lifecycle_aws::testing::RecordingCommands::new().sent().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The commands sent and not cancelled, with their ids, in order.
    ///
    /// ```
    /// use lifecycle_aws::effects::CommandSender;
    /// use lifecycle_aws::testing::RecordingCommands;
    /// use lifecycle_core::CommandRequest;
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let commands = RecordingCommands::new();
    ///     let id = commands.send(&CommandRequest::new("ClusterJoin", ["i-1"])).await.unwrap();
    ///     assert_eq!(commands.sent(), [(id, CommandRequest::new("ClusterJoin", ["i-1"]))]);
    /// });
    /// ```
    pub fn sent(&self) -> Vec<(String, CommandRequest)> {
        lock(&self.sent).clone()
    }

    /// The ids of the commands cancelled.
    ///
    /// ```
    /// use lifecycle_aws::effects::CommandSender;
    /// use lifecycle_aws::testing::RecordingCommands;
    /// use lifecycle_core::CommandRequest;
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let commands = RecordingCommands::new();
    ///     let id = commands.send(&CommandRequest::new("ClusterJoin", ["i-1"])).await.unwrap();
    ///     commands.cancel(&id).await.unwrap();
    ///     assert_eq!(commands.cancelled(), [id]);
    /// });
    /// ```
    pub fn cancelled(&self) -> Vec<String> {
        lock(&self.cancelled).clone()
    }
}

#[async_trait::async_trait]
impl CommandSender for RecordingCommands {
    async fn send(&self, request: &CommandRequest) -> Result<String, EffectError> {
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let command_id = format!("{n:08x}-5151-4000-8000-{n:012x}");
        lock(&self.sent).push((command_id.clone(), request.clone()));
        Ok(command_id)
    }

    async fn cancel(&self, command_id: &str) -> Result<(), EffectError> {
        lock(&self.sent).retain(|(id, _)| id != command_id);
        lock(&self.cancelled).push(command_id.to_owned());
        Ok(())
    }

    async fn find(
        &self,
        request: &CommandRequest,
        marker: &str,
    ) -> Result<Option<String>, EffectError> {
        Ok(lock(&self.sent)
            .iter()
            .find(|(_, sent)| {
                sent.instance_ids.first() == request.instance_ids.first()
                    && carries_marker(sent.comment.as_deref(), marker)
            })
            .map(|(id, _)| id.clone()))
    }
}

/// A `CompleteLifecycleAction` Auto Scaling accepted.
///
/// ```
/// use lifecycle_aws::actions::LifecycleActions;
/// use lifecycle_aws::testing::RecordingActions;
/// use lifecycle_core::{LifecycleResult, LifecycleTransition};
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let actions = RecordingActions::new();
///     let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
///     actions.complete(&action, None, LifecycleResult::Abandon).await.unwrap();
///     let completion = &actions.completions()[0];
///     assert_eq!((completion.action.ec2_instance_id.as_str(), completion.result), ("i-1", LifecycleResult::Abandon));
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The action completed.
    pub action: LifecycleAction,
    /// CONTINUE or ABANDON.
    pub result: LifecycleResult,
}

/// Auto Scaling, recorded. It answers as Auto Scaling does: an action completes once, and a
/// second completion (or a heartbeat after it) finds no active lifecycle action.
///
/// ```
/// use lifecycle_aws::actions::{Completed, LifecycleActions};
/// use lifecycle_aws::testing::RecordingActions;
/// use lifecycle_core::{LifecycleResult, LifecycleTransition};
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let actions = RecordingActions::new();
///     let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
///     assert_eq!(actions.heartbeat(&action, None).await.unwrap(), Completed::Done);
///     actions.complete(&action, None, LifecycleResult::Continue).await.unwrap();
///     // After the completion, a heartbeat finds no active action, as on AWS.
///     assert_eq!(actions.heartbeat(&action, None).await.unwrap(), Completed::NoActiveAction);
/// });
/// ```
#[derive(Debug, Default)]
pub struct RecordingActions {
    completions: Mutex<Vec<Completion>>,
    repeated: Mutex<Vec<Completion>>,
    heartbeats: Mutex<Vec<LifecycleAction>>,
}

impl RecordingActions {
    /// Nothing completed yet.
    ///
    /// ```
    /// assert!(lifecycle_aws::testing::RecordingActions::new().heartbeats().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The completions accepted, in order: one per lifecycle action.
    ///
    /// ```
    /// let actions = lifecycle_aws::testing::RecordingActions::new();
    /// assert!(actions.completions().is_empty());
    /// ```
    pub fn completions(&self) -> Vec<Completion> {
        lock(&self.completions).clone()
    }

    /// Completions of an action already completed (answered "No active Lifecycle Action").
    ///
    /// ```
    /// use lifecycle_aws::actions::LifecycleActions;
    /// use lifecycle_aws::testing::RecordingActions;
    /// use lifecycle_core::{LifecycleResult, LifecycleTransition};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let actions = RecordingActions::new();
    ///     let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Terminating);
    ///     actions.complete(&action, None, LifecycleResult::Continue).await.unwrap();
    ///     actions.complete(&action, None, LifecycleResult::Continue).await.unwrap();
    ///     assert_eq!((actions.completions().len(), actions.repeated().len()), (1, 1));
    /// });
    /// ```
    pub fn repeated(&self) -> Vec<Completion> {
        lock(&self.repeated).clone()
    }

    /// The heartbeats recorded for active actions.
    ///
    /// ```
    /// use lifecycle_aws::actions::LifecycleActions;
    /// use lifecycle_aws::testing::RecordingActions;
    /// use lifecycle_core::LifecycleTransition;
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let actions = RecordingActions::new();
    ///     let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
    ///     actions.heartbeat(&action, None).await.unwrap();
    ///     assert_eq!(actions.heartbeats(), [action]);
    /// });
    /// ```
    pub fn heartbeats(&self) -> Vec<LifecycleAction> {
        lock(&self.heartbeats).clone()
    }

    fn is_completed(&self, action: &LifecycleAction) -> bool {
        lock(&self.completions).iter().any(|c| {
            c.action.ec2_instance_id == action.ec2_instance_id
                && c.action.lifecycle_transition == action.lifecycle_transition
                && c.action.lifecycle_action_token == action.lifecycle_action_token
        })
    }
}

#[async_trait::async_trait]
impl LifecycleActions for RecordingActions {
    async fn complete(
        &self,
        action: &LifecycleAction,
        _region: Option<&str>,
        result: LifecycleResult,
    ) -> Result<Completed, ActionError> {
        let completion = Completion {
            action: action.clone(),
            result,
        };
        if self.is_completed(action) {
            lock(&self.repeated).push(completion);
            return Ok(Completed::NoActiveAction);
        }
        lock(&self.completions).push(completion);
        Ok(Completed::Done)
    }

    async fn heartbeat(
        &self,
        action: &LifecycleAction,
        _region: Option<&str>,
    ) -> Result<Completed, ActionError> {
        if self.is_completed(action) {
            return Ok(Completed::NoActiveAction);
        }
        lock(&self.heartbeats).push(action.clone());
        Ok(Completed::Done)
    }
}

/// As a [`Fleet`](crate::fleet::Fleet), the recorder holds every action it has not completed
/// (and knows no group's waits or hooks): with [`Runtime::with_fleet`], events are checked as
/// deployed, and a repeat after the completion is refused.
///
/// [`Runtime::with_fleet`]: crate::runtime::Runtime::with_fleet
///
/// ```
/// use lifecycle_aws::actions::LifecycleActions;
/// use lifecycle_aws::fleet::{Fleet, Held};
/// use lifecycle_aws::testing::RecordingActions;
/// use lifecycle_core::{LifecycleResult, LifecycleTransition};
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let actions = RecordingActions::new();
///     let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
///     assert_eq!(actions.held(&action, None).await.unwrap(), Held::Yes);
///     actions.complete(&action, None, LifecycleResult::Continue).await.unwrap();
///     assert!(matches!(actions.held(&action, None).await.unwrap(), Held::No(_)));
/// });
/// ```
#[async_trait::async_trait]
impl crate::fleet::Fleet for RecordingActions {
    async fn instances(
        &self,
        _instance_ids: &[String],
        _region: Option<&str>,
    ) -> Result<Vec<crate::fleet::FleetInstance>, ActionError> {
        Ok(Vec::new())
    }

    async fn warm_pool(
        &self,
        _group: &str,
        _region: Option<&str>,
    ) -> Result<Vec<crate::fleet::FleetInstance>, ActionError> {
        Ok(Vec::new())
    }

    async fn held(
        &self,
        action: &LifecycleAction,
        _region: Option<&str>,
    ) -> Result<crate::fleet::Held, ActionError> {
        Ok(if self.is_completed(action) {
            crate::fleet::Held::No("the action was completed".to_owned())
        } else {
            crate::fleet::Held::Yes
        })
    }

    async fn waiting(
        &self,
        _groups: &[String],
        _region: Option<&str>,
    ) -> Result<Vec<crate::fleet::FleetInstance>, ActionError> {
        Ok(Vec::new())
    }

    async fn hooks(
        &self,
        _group: &str,
        _region: Option<&str>,
    ) -> Result<Vec<crate::fleet::Hook>, ActionError> {
        Ok(Vec::new())
    }
}
