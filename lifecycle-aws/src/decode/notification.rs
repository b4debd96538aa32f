//! What the Lambda is invoked with, decoded: invocations, notifications, stream changes.

use super::*;

/// What the Lambda was invoked with.
///
/// ```
/// use lifecycle_aws::decode::{decode_value, Invocation};
/// let batch = serde_json::json!({"Records": [
///     {"messageId": "m-1", "eventSource": "aws:sqs", "body": lifecycle_aws::testing::scheduled_event("backup").to_string()},
///     {"messageId": "m-2", "eventSource": "aws:sqs", "body": "{not json"}]});
/// let Ok(Invocation::Sqs(messages)) = decode_value(&batch) else { panic!("an SQS batch") };
/// assert!(messages[0].notification.is_ok() && messages[1].notification.is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// An EventBridge event given directly, or the messages of an SNS invocation.
    Events(Vec<Notification>),
    /// An SQS batch: each message decoded on its own, so one bad message fails alone.
    Sqs(Vec<SqsMessage>),
    /// DynamoDB Streams records of the node table.
    Stream(Vec<StreamChange>),
}

/// One message of an SQS batch.
///
/// ```
/// use lifecycle_aws::decode::{decode_value, Invocation};
/// let batch = serde_json::json!({"Records": [{"messageId": "m-1", "eventSource": "aws:sqs",
///     "body": lifecycle_aws::testing::scheduled_event("backup").to_string()}]});
/// let Ok(Invocation::Sqs(messages)) = decode_value(&batch) else { panic!("an SQS batch") };
/// assert_eq!(messages[0].message_id, "m-1");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SqsMessage {
    /// `messageId`, reported back in `batchItemFailures`.
    pub message_id: String,
    /// The decoded body.
    pub notification: Result<Notification, DecodeError>,
}

/// The kinds of non-lifecycle Auto Scaling notifications.
///
/// ```
/// use lifecycle_aws::decode::{decode_value, InstanceActivity, Invocation, Notification};
/// let event = serde_json::json!({"version": "0", "id": "e-4", "detail-type": "EC2 Instance Launch Successful",
///     "source": "aws.autoscaling", "account": "1", "time": "2026-11-26T06:00:00Z", "region": "eu-central-1",
///     "resources": [], "detail": {"EC2InstanceId": "i-1", "AutoScalingGroupName": "nodes"}});
/// let Ok(Invocation::Events(events)) = decode_value(&event) else { panic!("an event") };
/// assert!(matches!(&events[0], Notification::InstanceActivity { activity: InstanceActivity::LaunchSuccessful, .. }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceActivity {
    /// `EC2 Instance Launch Successful`
    LaunchSuccessful,
    /// `EC2 Instance Launch Unsuccessful`
    LaunchUnsuccessful,
    /// `EC2 Instance Terminate Successful`
    TerminateSuccessful,
    /// `EC2 Instance Terminate Unsuccessful`
    TerminateUnsuccessful,
}

/// Where an SSM command (or one of its invocations) stands.
///
/// ```
/// use lifecycle_aws::decode::{decode_value, CommandProgress, Invocation, Notification};
/// use lifecycle_core::CommandStatus;
/// let event = lifecycle_aws::testing::command_status_event("c-1", "i-1", "ClusterJoin", "Success");
/// let Ok(Invocation::Events(events)) = decode_value(&event) else { panic!("an event") };
/// let Notification::CommandStatus { progress, .. } = &events[0] else { panic!("a command status") };
/// assert_eq!(progress, &CommandProgress::Finished(CommandStatus::Success));
/// let running = lifecycle_aws::testing::command_status_event("c-1", "i-1", "ClusterJoin", "InProgress");
/// let Ok(Invocation::Events(events)) = decode_value(&running) else { panic!("an event") };
/// assert!(matches!(&events[0], Notification::CommandStatus { progress: CommandProgress::Running(_), .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandProgress {
    /// A final status: the result to dispatch.
    Finished(CommandStatus),
    /// Pending, InProgress, Delayed, Cancelling: not a result, ignored.
    Running(String),
}

/// One decoded event.
///
/// ```
/// use lifecycle_aws::decode::{decode_value, Invocation, Notification};
/// use lifecycle_core::LifecycleTransition;
/// let event = lifecycle_aws::testing::lifecycle_action_event("i-1", "nodes", LifecycleTransition::Terminating);
/// let Ok(Invocation::Events(events)) = decode_value(&event) else { panic!("an event") };
/// let Notification::LifecycleAction { action, .. } = &events[0] else { panic!("a lifecycle action") };
/// assert_eq!(action.lifecycle_transition, LifecycleTransition::Terminating);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Notification {
    /// A launching or terminating lifecycle action.
    LifecycleAction {
        /// The event id (EventBridge `id`, or the hook notification's `RequestId`).
        id: String,
        /// The region it came from, if known.
        region: Option<String>,
        /// The action.
        action: LifecycleAction,
        /// When the event happened (EventBridge's `time`, a hook notification's `Time`), RFC
        /// 3339, if it says: an action whose event comes late gets a heartbeat when its
        /// lifecycle starts to wait.
        time: Option<String>,
    },
    /// `autoscaling:TEST_NOTIFICATION`, sent when a hook's notification target is set up:
    /// recognised and ignored.
    TestNotification,
    /// A launch or termination succeeded or failed (not a lifecycle action).
    InstanceActivity {
        /// The event id.
        id: String,
        /// Which notification.
        activity: InstanceActivity,
        /// `EC2InstanceId`, if present.
        instance_id: Option<String>,
        /// `AutoScalingGroupName`, if present.
        group: Option<String>,
    },
    /// "EC2 Command Status-change Notification".
    CommandStatus {
        /// The event id.
        id: String,
        /// `command-id`.
        command_id: String,
        /// `status`.
        progress: CommandProgress,
        /// `document-name`, if present.
        document_name: Option<String>,
        /// `requested-date-time` (RFC 3339), if present.
        requested: Option<String>,
        /// The instances in `resources`.
        instance_ids: Vec<String>,
        /// `parameters`: a JSON string in real events, an object of arrays in AWS's docs.
        parameters: BTreeMap<String, Vec<String>>,
    },
    /// "EC2 Command Invocation Status-change Notification": one instance's part of a command.
    CommandInvocation {
        /// The event id.
        id: String,
        /// `command-id`.
        command_id: String,
        /// `instance-id`.
        instance_id: String,
        /// `status`.
        progress: CommandProgress,
    },
    /// "Tag Change on Resource" of an EC2 instance: how an instance says how far its cloud-init
    /// got (the tag [`READY_TAG`]), without any right to write the node table.
    InstanceTagged {
        /// The event id.
        id: String,
        /// The instance (`resources[0]`'s last path part).
        instance_id: String,
        /// The region it came from, if known.
        region: Option<String>,
        /// `changed-tag-keys`: the tags this change set or removed.
        changed: Vec<String>,
        /// `tags`: the instance's tags after the change.
        tags: BTreeMap<String, String>,
    },
    /// "EC2 Spot Instance Interruption Warning": EC2 reclaims the instance in two minutes.
    SpotInterruption {
        /// The event id.
        id: String,
        /// `detail.instance-id`.
        instance_id: String,
        /// The region it came from, if known.
        region: Option<String>,
        /// `detail.instance-action`: `terminate`, `stop` or `hibernate`.
        action: String,
    },
    /// "EC2 Instance Rebalance Recommendation": the Spot instance is at elevated risk of
    /// interruption.
    RebalanceRecommendation {
        /// The event id.
        id: String,
        /// `detail.instance-id`.
        instance_id: String,
        /// The region it came from, if known.
        region: Option<String>,
    },
    /// "EC2 Instance State-change Notification".
    InstanceState {
        /// The event id.
        id: String,
        /// `detail.instance-id`.
        instance_id: String,
        /// The region it came from, if known.
        region: Option<String>,
        /// `detail.state`: `pending`, `running`, `stopping`, `stopped`, `shutting-down`,
        /// `terminated`.
        state: String,
    },
    /// "AWS Health Event" of category `scheduledChange` for EC2: a retirement or maintenance
    /// ahead, for each affected instance.
    Maintenance {
        /// The event id.
        id: String,
        /// The region it came from, if known.
        region: Option<String>,
        /// `detail.eventTypeCode`, e.g. `AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED`.
        event_type: String,
        /// `detail.startTime`, if given.
        starts: Option<String>,
        /// The instances of `detail.affectedEntities`.
        instance_ids: Vec<String>,
    },
    /// "Scheduled Event": the rule name names the state the scheduled machine starts in.
    Scheduled {
        /// The event id.
        id: String,
        /// The rule name: the last path part of `resources[0]`.
        rule: String,
        /// The region it came from, if known.
        region: Option<String>,
    },
}

impl Notification {
    /// The event's id, if it has one (a hook's test notification has none).
    ///
    /// ```
    /// use lifecycle_aws::decode::Notification;
    /// assert_eq!(Notification::TestNotification.event_id(), None);
    /// let scheduled = Notification::Scheduled { id: "e-1".into(), rule: "backup".into(), region: None };
    /// assert_eq!(scheduled.event_id(), Some("e-1"));
    /// ```
    pub fn event_id(&self) -> Option<&str> {
        match self {
            Notification::LifecycleAction { id, .. }
            | Notification::InstanceActivity { id, .. }
            | Notification::CommandStatus { id, .. }
            | Notification::CommandInvocation { id, .. }
            | Notification::InstanceTagged { id, .. }
            | Notification::SpotInterruption { id, .. }
            | Notification::RebalanceRecommendation { id, .. }
            | Notification::InstanceState { id, .. }
            | Notification::Maintenance { id, .. }
            | Notification::Scheduled { id, .. } => Some(id),
            Notification::TestNotification => None,
        }
    }

    /// The instance it is about, if one: every log line about an instance names it.
    ///
    /// ```
    /// use lifecycle_aws::decode::{decode_value, Invocation};
    /// let event = lifecycle_aws::testing::command_status_event("c-1", "i-1", "ClusterJoin", "Success");
    /// let Ok(Invocation::Events(events)) = decode_value(&event) else { panic!("an event") };
    /// assert_eq!(events[0].instance_id(), Some("i-1"));
    /// ```
    pub fn instance_id(&self) -> Option<&str> {
        match self {
            Notification::LifecycleAction { action, .. } => Some(&action.ec2_instance_id),
            Notification::InstanceActivity { instance_id, .. } => instance_id.as_deref(),
            Notification::CommandStatus { instance_ids, .. } => {
                instance_ids.first().map(String::as_str)
            }
            Notification::CommandInvocation { instance_id, .. }
            | Notification::InstanceTagged { instance_id, .. }
            | Notification::SpotInterruption { instance_id, .. }
            | Notification::RebalanceRecommendation { instance_id, .. }
            | Notification::InstanceState { instance_id, .. } => Some(instance_id),
            Notification::Maintenance { instance_ids, .. } => {
                instance_ids.first().map(String::as_str)
            }
            Notification::TestNotification | Notification::Scheduled { .. } => None,
        }
    }
}

/// One DynamoDB Streams record of the node table.
///
/// ```
/// use lifecycle_aws::decode::{decode_value, Invocation};
/// use lifecycle_core::Record;
/// let before = Record::new("i-1", "joining");
/// let after = Record::new("i-1", "ready");
/// let event = lifecycle_aws::testing::stream_record_event(&before, &after);
/// let Ok(Invocation::Stream(changes)) = decode_value(&event) else { panic!("stream records") };
/// assert_eq!((changes[0].old_status.as_deref(), changes[0].new_status.as_deref()), (Some("joining"), Some("ready")));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StreamChange {
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub event_name: String,
    /// The item's `Ident`.
    pub ident: String,
    /// `ItemStatus` before, if there was an old image with one.
    pub old_status: Option<String>,
    /// `ItemStatus` after, if there is a new image with one.
    pub new_status: Option<String>,
    /// The new image as plain JSON (DynamoDB's type tags removed).
    pub new_image: Map<String, Value>,
    /// The old image as plain JSON (empty for an insert).
    pub old_image: Map<String, Value>,
    /// `dynamodb.SequenceNumber`: what a partial batch failure names.
    pub sequence_number: Option<String>,
}
