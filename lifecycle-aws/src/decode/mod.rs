//! Every event shape the Lambda receives, decoded into typed [`Notification`]s.
//!
//! Envelopes: an EventBridge event given directly, SNS (`Records[].Sns.Message`), SQS
//! (`Records[].body`, which may hold an EventBridge event, an SNS notification or an Auto
//! Scaling hook notification) and DynamoDB Streams records of the node table.
//!
//! ```
//! use lifecycle_aws::decode::{decode_event, Invocation, Notification};
//! use lifecycle_core::LifecycleTransition;
//! // A lifecycle action wrapped in SNS, as a topic subscribed to the EventBridge rule delivers it.
//! let event = lifecycle_aws::testing::lifecycle_action_event("i-1", "nodes", LifecycleTransition::Launching);
//! let sns = serde_json::json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": event.to_string()}}]});
//! let Ok(Invocation::Events(events)) = decode_event(sns.to_string().as_bytes()) else { panic!("events") };
//! assert!(matches!(&events[0], Notification::LifecycleAction { action, .. } if action.ec2_instance_id == "i-1"));
//! ```

mod autoscaling;
mod borrowed;
mod ec2;
mod health;
mod schedule;
mod ssm;
mod tag;

use std::collections::BTreeMap;

use lifecycle_core::{CommandStatus, LifecycleAction, LifecycleTransition, Location};
use serde_json::{Map, Value};

/// The instance tag cloud-init sets to say how far it got: `registered` (the instance exists,
/// its lifecycle waits) and, as its last step, `finished` (ready for its lifecycle).
///
/// ```
/// use lifecycle_aws::decode::{READY_TAG, decode_value, Invocation, Notification};
/// let tagged = serde_json::json!({"version": "0", "id": "e-3", "detail-type": "Tag Change on Resource",
///     "source": "aws.tag", "account": "1", "time": "2026-11-26T06:00:00Z", "region": "eu-central-1",
///     "resources": ["arn:aws:ec2:eu-central-1:1:instance/i-1"],
///     "detail": {"changed-tag-keys": [READY_TAG], "service": "ec2", "resource-type": "instance",
///         "version": 2, "tags": {READY_TAG: "finished"}}});
/// let Ok(Invocation::Events(events)) = decode_value(&tagged) else { panic!("an event") };
/// let Notification::InstanceTagged { tags, .. } = &events[0] else { panic!("a tag change") };
/// assert_eq!(tags[READY_TAG], "finished");
/// ```
pub const READY_TAG: &str = "lifecycle:cloud-init";

/// Why an event could not be decoded. Nothing is written for any of these.
///
/// ```
/// use lifecycle_aws::decode::{DecodeError, decode_event};
/// assert!(matches!(decode_event(b"{\"Records\": ["), Err(DecodeError::Json { .. })));
/// let unknown = decode_event(br#"{"source": "aws.s3", "detail-type": "Object Created", "id": "e", "detail": {}}"#);
/// assert_eq!(unknown.unwrap_err().to_string(), "unsupported event: source `aws.s3`, detail-type `Object Created`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not JSON at all (or truncated).
    #[error("malformed JSON at {at}: {message}")]
    Json {
        /// Where: `event`, or the field holding embedded JSON (`Records[0].Sns.Message`).
        at: String,
        /// The parser's message.
        message: String,
    },
    /// A required field is absent.
    #[error("missing field `{0}`")]
    Missing(String),
    /// A field has the wrong type or an unknown value.
    #[error("field `{field}` should be {expected}")]
    WrongType {
        /// The field's path.
        field: String,
        /// What it should be.
        expected: &'static str,
    },
    /// Valid JSON, but no event this library handles.
    #[error("unsupported event: source `{event_source}`, detail-type `{detail_type}`")]
    Unsupported {
        /// `source` (or the envelope's `EventSource`).
        event_source: String,
        /// `detail-type`.
        detail_type: String,
    },
}

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

/// Decodes what the Lambda was invoked with.
///
/// ```
/// use lifecycle_aws::decode::{decode_event, Invocation, Notification};
/// let event = br#"{"version":"0","id":"e-1","detail-type":"Scheduled Event","source":"aws.events",
///     "account":"1","time":"2018-11-29T12:40:31Z","region":"eu-central-1",
///     "resources":["arn:aws:events:eu-central-1:1:rule/backup"],"detail":{}}"#;
/// let Invocation::Events(events) = decode_event(event).unwrap() else { panic!() };
/// assert!(matches!(&events[0], Notification::Scheduled { rule, .. } if rule == "backup"));
/// ```
pub fn decode_event(bytes: &[u8]) -> Result<Invocation, DecodeError> {
    if let Some(invocation) = borrowed::decode(bytes) {
        return Ok(invocation);
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| json_error("event", &e))?;
    decode_value(&value)
}

/// [`decode_event`] for an already parsed value.
///
/// ```
/// use lifecycle_aws::decode::{decode_value, DecodeError};
/// let event = lifecycle_aws::testing::scheduled_event("backup");
/// assert!(decode_value(&event).is_ok());
/// assert_eq!(decode_value(&serde_json::json!([1])), Err(DecodeError::WrongType { field: "event".into(), expected: "a JSON object" }));
/// ```
pub fn decode_value(value: &Value) -> Result<Invocation, DecodeError> {
    let object = value.as_object().ok_or(DecodeError::WrongType {
        field: "event".into(),
        expected: "a JSON object",
    })?;
    let Some(records) = object.get("Records") else {
        return Ok(Invocation::Events(vec![decode_message(value, "event")?]));
    };
    let records = records.as_array().ok_or(DecodeError::WrongType {
        field: "Records".into(),
        expected: "an array",
    })?;
    let Some(first) = records.first() else {
        return Err(DecodeError::Missing("Records[0]".into()));
    };
    // Envelopes spell their source differently: SNS `EventSource`, SQS and Streams `eventSource`.
    let source = str_at(first, &["EventSource"])
        .or_else(|| str_at(first, &["eventSource"]))
        .ok_or_else(|| DecodeError::Missing("Records[0].eventSource".into()))?;
    match source {
        "aws:sns" => records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let at = format!("Records[{i}].Sns.Message");
                let message = required_str(r, &["Sns", "Message"], &at)?;
                decode_message(&parse_embedded(message, &at)?, &at)
            })
            .collect::<Result<_, _>>()
            .map(Invocation::Events),
        "aws:sqs" => records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let message_id =
                    required_str(r, &["messageId"], &format!("Records[{i}].messageId"))?;
                let at = format!("Records[{i}].body");
                let notification = required_str(r, &["body"], &at)
                    .and_then(|body| parse_embedded(body, &at))
                    .and_then(|body| decode_sqs_body(&body, &at));
                Ok(SqsMessage {
                    message_id: message_id.to_owned(),
                    notification,
                })
            })
            .collect::<Result<_, _>>()
            .map(Invocation::Sqs),
        "aws:dynamodb" => records
            .iter()
            .enumerate()
            .map(|(i, r)| decode_stream_record(r, i))
            .collect::<Result<_, _>>()
            .map(Invocation::Stream),
        other => Err(DecodeError::Unsupported {
            event_source: other.to_owned(),
            detail_type: String::new(),
        }),
    }
}

/// An SQS body: an SNS notification (SNS-in-SQS), or a message decoded like any other.
fn decode_sqs_body(body: &Value, at: &str) -> Result<Notification, DecodeError> {
    if str_at(body, &["Type"]) == Some("Notification")
        && let Some(message) = str_at(body, &["Message"])
    {
        let at = format!("{at}.Message");
        return decode_message(&parse_embedded(message, &at)?, &at);
    }
    decode_message(body, at)
}

/// An EventBridge event, or an Auto Scaling hook notification sent straight to SNS/SQS.
/// What every EventBridge event has, read once: where it is, its source and type, its id and
/// region, and where its detail is.
pub(super) struct Envelope<'a> {
    pub(super) event: &'a Value,
    pub(super) at: &'a str,
    pub(super) source: &'a str,
    pub(super) detail_type: &'a str,
    pub(super) id: String,
    pub(super) region: Option<String>,
    pub(super) detail_at: String,
}

impl<'a> Envelope<'a> {
    /// The event's `detail`, required by every source that has one.
    fn detail(&self) -> Result<&'a Value, DecodeError> {
        required(self.event, &["detail"], &self.detail_at)
    }

    /// This source and type are not events the runtime takes.
    fn unsupported(&self) -> DecodeError {
        unsupported(self.source, self.detail_type)
    }
}

/// An event of `source` and `detail_type` the runtime does not take.
fn unsupported(source: &str, detail_type: &str) -> DecodeError {
    DecodeError::Unsupported {
        event_source: source.to_owned(),
        detail_type: detail_type.to_owned(),
    }
}

fn decode_message(event: &Value, at: &str) -> Result<Notification, DecodeError> {
    if !event.is_object() {
        return Err(DecodeError::WrongType {
            field: at.to_owned(),
            expected: "a JSON object",
        });
    }
    if str_at(event, &["Event"]) == Some("autoscaling:TEST_NOTIFICATION") {
        return Ok(Notification::TestNotification);
    }
    if event.get("LifecycleTransition").is_some() && event.get("detail").is_none() {
        let id = str_at(event, &["RequestId"]).unwrap_or_default().to_owned();
        let action = lifecycle_action(event, at)?;
        return Ok(Notification::LifecycleAction {
            id,
            region: None,
            action,
        });
    }

    let envelope = Envelope {
        event,
        at,
        source: required_str(event, &["source"], &format!("{at}.source"))?,
        detail_type: required_str(event, &["detail-type"], &format!("{at}.detail-type"))?,
        id: required_str(event, &["id"], &format!("{at}.id"))?.to_owned(),
        region: str_at(event, &["region"]).map(str::to_owned),
        detail_at: format!("{at}.detail"),
    };
    match (envelope.source, envelope.detail_type) {
        ("aws.autoscaling", _) => autoscaling::decode(envelope),
        ("aws.ssm", _) => ssm::decode(envelope),
        ("aws.tag", "Tag Change on Resource") => tag::decode(envelope),
        ("aws.ec2", _) => ec2::decode(envelope),
        ("aws.health", "AWS Health Event") => health::decode(envelope),
        ("aws.events", "Scheduled Event") => schedule::decode(envelope),
        _ => Err(envelope.unsupported()),
    }
}

/// The instance an AWS Health entity names: its id (`i-0abc...`), or its ARN
/// (`arn:aws:ec2:REGION:ACCOUNT:instance/i-0abc...`), as AWS Health's own EC2 retirement
/// example writes it. Anything else (a volume, a host) is none.
fn instance_of_entity(value: &str) -> Option<&str> {
    let id = match value.strip_prefix("arn:") {
        Some(arn) => {
            // partition:service:region:account:resource
            let mut parts = arn.splitn(5, ':');
            let (_partition, service, _region, _account) =
                (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
            if service != "ec2" {
                return None;
            }
            parts.next()?.strip_prefix("instance/")?
        }
        None => value,
    };
    is_instance_id(id).then_some(id)
}

fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-")
        .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn lifecycle_action(detail: &Value, at: &str) -> Result<LifecycleAction, DecodeError> {
    let field =
        |name: &str| required_str(detail, &[name], &format!("{at}.{name}")).map(str::to_owned);
    let transition = match field("LifecycleTransition")?.as_str() {
        "autoscaling:EC2_INSTANCE_LAUNCHING" => LifecycleTransition::Launching,
        "autoscaling:EC2_INSTANCE_TERMINATING" => LifecycleTransition::Terminating,
        _ => {
            return Err(DecodeError::WrongType {
                field: format!("{at}.LifecycleTransition"),
                expected: "autoscaling:EC2_INSTANCE_LAUNCHING or autoscaling:EC2_INSTANCE_TERMINATING",
            });
        }
    };
    // NotificationMetadata is kept as configured: a string (often JSON, not always). An object
    // (hand-written events) is kept as its JSON text.
    let metadata = match detail.get("NotificationMetadata") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    // Absent in events from before warm pools; when present, one of the three places.
    let place = |name: &str| match detail.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_str()
            .and_then(Location::from_aws_str)
            .map(Some)
            .ok_or(DecodeError::WrongType {
                field: format!("{at}.{name}"),
                expected: "EC2, AutoScalingGroup or WarmPool",
            }),
    };
    Ok(LifecycleAction {
        auto_scaling_group_name: field("AutoScalingGroupName")?,
        lifecycle_hook_name: field("LifecycleHookName")?,
        lifecycle_action_token: str_at(detail, &["LifecycleActionToken"]).map(str::to_owned),
        ec2_instance_id: field("EC2InstanceId")?,
        lifecycle_transition: transition,
        notification_metadata: metadata,
        region: None,
        origin: place("Origin")?,
        destination: place("Destination")?,
    })
}

fn decode_stream_record(record: &Value, index: usize) -> Result<StreamChange, DecodeError> {
    let at = format!("Records[{index}]");
    let event_name = required_str(record, &["eventName"], &format!("{at}.eventName"))?.to_owned();
    let dynamodb = required(record, &["dynamodb"], &format!("{at}.dynamodb"))?;
    let image = |name: &str| -> Result<Option<Map<String, Value>>, DecodeError> {
        match dynamodb.get(name) {
            None => Ok(None),
            Some(image) => plain_item(image, &format!("{at}.dynamodb.{name}")).map(Some),
        }
    };
    let old_image = image("OldImage")?;
    let new_image = image("NewImage")?;
    let keys = plain_item(
        required(dynamodb, &["Keys"], &format!("{at}.dynamodb.Keys"))?,
        &format!("{at}.dynamodb.Keys"),
    )?;
    let ident = keys
        .get("Ident")
        .and_then(Value::as_str)
        .ok_or_else(|| DecodeError::Missing(format!("{at}.dynamodb.Keys.Ident")))?
        .to_owned();
    let status = |image: &Option<Map<String, Value>>| {
        image
            .as_ref()
            .and_then(|i| i.get("ItemStatus"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(StreamChange {
        event_name,
        ident,
        old_status: status(&old_image),
        new_status: status(&new_image),
        new_image: new_image.unwrap_or_default(),
        old_image: old_image.unwrap_or_default(),
        sequence_number: str_at(dynamodb, &["SequenceNumber"]).map(str::to_owned),
    })
}

/// A DynamoDB-JSON item (`{"Ident": {"S": "i-1"}}`) as plain JSON (`{"Ident": "i-1"}`).
///
/// ```
/// use lifecycle_aws::decode::plain_item;
/// let item = serde_json::json!({"Ident": {"S": "i-1"}, "Version": {"N": "3"}, "Ready": {"BOOL": true}});
/// let plain = plain_item(&item, "NewImage").unwrap();
/// assert_eq!(plain["Ident"], "i-1");
/// assert_eq!(plain["Version"], 3);
/// assert_eq!(plain["Ready"], true);
/// ```
pub fn plain_item(item: &Value, at: &str) -> Result<Map<String, Value>, DecodeError> {
    let item = item.as_object().ok_or(DecodeError::WrongType {
        field: at.to_owned(),
        expected: "a DynamoDB item",
    })?;
    item.iter()
        .map(|(k, v)| Ok((k.clone(), plain_value(v, &format!("{at}.{k}"))?)))
        .collect()
}

fn plain_value(value: &Value, at: &str) -> Result<Value, DecodeError> {
    let wrong = || DecodeError::WrongType {
        field: at.to_owned(),
        expected: "a DynamoDB attribute value ({\"S\": ...}, {\"N\": ...}, ...)",
    };
    let object = value
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(wrong)?;
    let (tag, inner) = object.iter().next().ok_or_else(wrong)?;
    Ok(match (tag.as_str(), inner) {
        ("S", Value::String(s)) => Value::String(s.clone()),
        ("N", Value::String(n)) => n
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| n.parse::<f64>().map(Value::from))
            .map_err(|_| wrong())?,
        ("BOOL", Value::Bool(b)) => Value::Bool(*b),
        ("NULL", _) => Value::Null,
        ("M", m) => Value::Object(plain_item(m, at)?),
        ("L", Value::Array(items)) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| plain_value(v, &format!("{at}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        ("SS" | "NS" | "BS", Value::Array(items)) => Value::Array(items.clone()),
        ("B", Value::String(b)) => Value::String(b.clone()),
        _ => return Err(wrong()),
    })
}

fn parse_embedded(text: &str, at: &str) -> Result<Value, DecodeError> {
    serde_json::from_str(text).map_err(|e| json_error(at, &e))
}

fn json_error(at: &str, error: &serde_json::Error) -> DecodeError {
    DecodeError::Json {
        at: at.to_owned(),
        message: error.to_string(),
    }
}

fn str_at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter().try_fold(value, |v, key| v.get(key))?.as_str()
}

fn required<'v>(value: &'v Value, path: &[&str], at: &str) -> Result<&'v Value, DecodeError> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .filter(|v| !v.is_null())
        .ok_or_else(|| DecodeError::Missing(at.to_owned()))
}

/// A required string field; an empty one is as good as none (an empty instance or command id
/// would reach DynamoDB as an invalid key).
fn required_str<'v>(value: &'v Value, path: &[&str], at: &str) -> Result<&'v str, DecodeError> {
    match required(value, path, at)?.as_str() {
        Some("") => Err(DecodeError::WrongType {
            field: at.to_owned(),
            expected: "a non-empty string",
        }),
        Some(text) => Ok(text),
        None => Err(DecodeError::WrongType {
            field: at.to_owned(),
            expected: "a string",
        }),
    }
}
