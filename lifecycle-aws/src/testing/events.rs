//! The JSON AWS delivers to the Lambda, for one event each: EventBridge, SSM, EC2 and
//! DynamoDB Streams shapes, with account and region fixed.

use lifecycle_core::{LifecycleTransition, Location, Record};
use serde_json::{Value, json};

/// The account and region of the events built here.
const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-central-1";

/// An EventBridge "EC2 Instance-launch/terminate Lifecycle Action" event for `instance` in the
/// Auto Scaling group `group`, as Auto Scaling sends it (token `token-launching-INSTANCE` or
/// `token-terminating-INSTANCE`), its `time` now: a test on a clock of its own that counts
/// heartbeats sets `time` to match (an event older than a quarter heartbeat interval gets one
/// when its lifecycle starts to wait).
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
        "source": "aws.autoscaling", "account": ACCOUNT, "time": now(),
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

/// Now, as EventBridge writes an event's `time`: a lifecycle event built here is on time by
/// the system clock (the runtime keeps an action whose event comes late alive at once).
fn now() -> String {
    use aws_sdk_ssm::primitives::{DateTime, DateTimeFormat};
    DateTime::from(std::time::SystemTime::now())
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_default()
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
