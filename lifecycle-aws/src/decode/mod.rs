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
mod error;
mod health;
mod notification;
mod schedule;
mod ssm;
mod stream;
mod tag;

pub use error::DecodeError;
use error::json_error;
pub use notification::{
    CommandProgress, InstanceActivity, Invocation, Notification, SqsMessage, StreamChange,
};
use stream::decode_stream_record;
pub use stream::plain_item;

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
    /// `time`: when the event happened, RFC 3339 (anything else is no time).
    pub(super) time: Option<String>,
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
            time: str_at(event, &["Time"]).map(str::to_owned),
        });
    }

    let envelope = Envelope {
        event,
        at,
        source: required_str(event, &["source"], &format!("{at}.source"))?,
        detail_type: required_str(event, &["detail-type"], &format!("{at}.detail-type"))?,
        id: required_str(event, &["id"], &format!("{at}.id"))?.to_owned(),
        region: str_at(event, &["region"]).map(str::to_owned),
        time: str_at(event, &["time"]).map(str::to_owned),
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

fn parse_embedded(text: &str, at: &str) -> Result<Value, DecodeError> {
    serde_json::from_str(text).map_err(|e| json_error(at, &e))
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
