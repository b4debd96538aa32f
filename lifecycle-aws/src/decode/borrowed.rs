//! The common case, decoded without building a `Value`: lifecycle actions, given directly or in
//! SNS or SQS envelopes. The envelope's other fields (an SNS signature, certificate URLs, SQS
//! attributes) are skipped, not allocated, and strings without escapes are borrowed from the
//! payload.
//!
//! Anything this path does not recognise, or recognises as wrong, returns `None`, and the
//! `Value` path of the parent module decodes it, so errors (and every other kind of event)
//! are decoded exactly as before. A test checks both paths agree on every fixture.

use std::borrow::Cow;

use lifecycle_core::{LifecycleAction, LifecycleTransition, Location};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Invocation, Notification, SqsMessage};

#[derive(Deserialize)]
struct EnvelopeRecord<'a> {
    #[serde(rename = "EventSource", borrow)]
    sns_source: Option<Cow<'a, str>>,
    #[serde(rename = "eventSource", borrow)]
    source: Option<Cow<'a, str>>,
    #[serde(rename = "Sns", borrow)]
    sns: Option<SnsPart<'a>>,
    #[serde(rename = "messageId", borrow)]
    message_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    body: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct SnsPart<'a> {
    #[serde(rename = "Message", borrow)]
    message: Option<Cow<'a, str>>,
}

/// A payload, or a message inside one: an envelope (`Records`) or an EventBridge event, of
/// which the fields this path reads. `event` and `lifecycle_transition` at the top level mark
/// Auto Scaling's own notification formats, left to the `Value` path. (`Records` inside a
/// message is read and ignored, as the `Value` path ignores it.)
#[derive(Deserialize)]
struct BridgeEvent<'a> {
    #[serde(rename = "Records", borrow)]
    records: Option<Vec<EnvelopeRecord<'a>>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(rename = "detail-type", borrow)]
    detail_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    region: Option<Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(borrow)]
    detail: Option<LifecycleDetail<'a>>,
    #[serde(rename = "Event", borrow)]
    event: Option<&'a RawValue>,
    #[serde(rename = "LifecycleTransition", borrow)]
    lifecycle_transition: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LifecycleDetail<'a> {
    #[serde(borrow)]
    lifecycle_action_token: Option<Cow<'a, str>>,
    #[serde(borrow)]
    auto_scaling_group_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    lifecycle_hook_name: Option<Cow<'a, str>>,
    #[serde(rename = "EC2InstanceId", borrow)]
    ec2_instance_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    lifecycle_transition: Option<Cow<'a, str>>,
    #[serde(borrow)]
    notification_metadata: Option<Cow<'a, str>>,
    #[serde(borrow)]
    origin: Option<Cow<'a, str>>,
    #[serde(borrow)]
    destination: Option<Cow<'a, str>>,
}

/// The invocation in `bytes`, if it is one this path decodes.
pub(super) fn decode(bytes: &[u8]) -> Option<Invocation> {
    // The whole text must be UTF-8, as the `Value` path requires: serde_json does not check
    // the strings it skips (an SNS signature, a certificate URL), and a payload that only the
    // fast path accepted would decode differently by path (the fuzzer found one).
    let text = std::str::from_utf8(bytes).ok()?;
    let mut top: BridgeEvent<'_> = serde_json::from_str(text).ok()?;
    let Some(records) = top.records.take() else {
        return Some(Invocation::Events(vec![lifecycle_action(top)?]));
    };
    let first = records.first()?;
    let source = first.sns_source.as_deref().or(first.source.as_deref())?;
    match source {
        "aws:sns" => records
            .iter()
            .map(|r| message(r.sns.as_ref()?.message.as_deref()?))
            .collect::<Option<_>>()
            .map(Invocation::Events),
        "aws:sqs" => records
            .iter()
            .map(|r| {
                Some(SqsMessage {
                    message_id: non_empty(r.message_id.as_deref())?.to_owned(),
                    notification: Ok(message(r.body.as_deref()?)?),
                })
            })
            .collect::<Option<_>>()
            .map(Invocation::Sqs),
        _ => None,
    }
}

/// An embedded message (SNS `Message`, SQS `body`) holding an EventBridge lifecycle action.
fn message(text: &str) -> Option<Notification> {
    let event: BridgeEvent<'_> = serde_json::from_str(non_empty(Some(text))?).ok()?;
    lifecycle_action(event)
}

fn lifecycle_action(event: BridgeEvent<'_>) -> Option<Notification> {
    if event.event.is_some() || event.lifecycle_transition.is_some() {
        return None;
    }
    if event.source.as_deref() != Some("aws.autoscaling") {
        return None;
    }
    non_empty(event.detail_type.as_deref())?;
    let id = non_empty(event.id.as_deref())?.to_owned();
    let detail = event.detail?;
    let lifecycle_transition = match non_empty(detail.lifecycle_transition.as_deref())? {
        "autoscaling:EC2_INSTANCE_LAUNCHING" => LifecycleTransition::Launching,
        "autoscaling:EC2_INSTANCE_TERMINATING" => LifecycleTransition::Terminating,
        _ => return None,
    };
    let region = event.region.map(Cow::into_owned);
    // An unknown place is an error, which the `Value` path reports.
    let place = |name: Option<Cow<'_, str>>| match name {
        None => Some(None),
        Some(name) => Location::from_aws_str(&name).map(Some),
    };
    let origin = place(detail.origin)?;
    let destination = place(detail.destination)?;
    let action = LifecycleAction {
        auto_scaling_group_name: non_empty(detail.auto_scaling_group_name.as_deref())?.to_owned(),
        lifecycle_hook_name: non_empty(detail.lifecycle_hook_name.as_deref())?.to_owned(),
        lifecycle_action_token: detail.lifecycle_action_token.map(Cow::into_owned),
        ec2_instance_id: non_empty(detail.ec2_instance_id.as_deref())?.to_owned(),
        lifecycle_transition,
        notification_metadata: detail.notification_metadata.map(Cow::into_owned),
        region: region.clone(),
        origin,
        destination,
    };
    let time = event.time.map(Cow::into_owned);
    Some(Notification::LifecycleAction {
        id,
        region,
        action,
        time,
    })
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{decode_event, decode_value};

    /// What the `Value` path makes of `bytes`.
    fn by_value(bytes: &[u8]) -> Option<Result<super::Invocation, super::super::DecodeError>> {
        let value: Value = serde_json::from_slice(bytes).ok()?;
        Some(decode_value(&value))
    }

    fn lifecycle_event() -> Value {
        json!({"version": "0", "id": "e-1", "detail-type": "EC2 Instance-launch Lifecycle Action",
            "source": "aws.autoscaling", "account": "1", "time": "2026-11-25T10:00:00Z",
            "region": "eu-central-1", "resources": ["arn:aws:autoscaling:eu-central-1:1:autoScalingGroup:0:autoScalingGroupName/g"],
            "detail": {"LifecycleActionToken": "tok", "AutoScalingGroupName": "g",
                "LifecycleHookName": "h", "EC2InstanceId": "i-0abc123def4567890",
                "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
                "NotificationMetadata": "{\"type\": \"worker\"}",
                "Origin": "EC2", "Destination": "AutoScalingGroup"}})
    }

    fn sns(message: &Value) -> Value {
        json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
            "Sns": {"Type": "Notification", "MessageId": "m", "Signature": "c2lnbmF0dXJl",
                "Message": message.to_string()}}]})
    }

    fn sqs(bodies: &[Value]) -> Value {
        let records: Vec<Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| {
                json!({"messageId": format!("m-{i}"), "eventSource": "aws:sqs",
                "body": if b.is_string() { b.clone() } else { Value::from(b.to_string()) }})
            })
            .collect();
        json!({ "Records": records })
    }

    /// Every case decodes the same whichever path takes it; `fast` says whether the borrowed
    /// path must take it (the common cases, so a change that sends them all down the slow path
    /// fails here).
    fn check(payload: &Value, fast: bool) {
        let bytes = payload.to_string().into_bytes();
        assert_eq!(super::decode(&bytes).is_some(), fast, "{payload}");
        assert_eq!(Some(decode_event(&bytes)), by_value(&bytes), "{payload}");
    }

    #[test]
    fn both_paths_decode_alike() {
        let event = lifecycle_event();
        check(&event, true);
        check(&sns(&event), true);
        check(&sqs(&[event.clone(), event.clone()]), true);

        let mut terminating = event.clone();
        terminating["detail"]["LifecycleTransition"] =
            json!("autoscaling:EC2_INSTANCE_TERMINATING");
        terminating["detail"]["NotificationMetadata"] = json!("plain text, \"quoted\"");
        check(&terminating, true);
        let mut no_token = event.clone();
        no_token["detail"]
            .as_object_mut()
            .unwrap()
            .remove("LifecycleActionToken");
        no_token.as_object_mut().unwrap().remove("region");
        check(&no_token, true);
        let mut into_pool = event.clone();
        into_pool["detail"]["Origin"] = json!("EC2");
        into_pool["detail"]["Destination"] = json!("WarmPool");
        check(&into_pool, true);
        check(&sns(&into_pool), true);

        // Left to the Value path, which decodes them (or rejects them) as it always has.
        let mut variants = Vec::new();
        for (pointer, value) in [
            (
                "/detail/LifecycleTransition",
                json!("autoscaling:TEST_NOTIFICATION"),
            ),
            ("/detail/LifecycleTransition", json!("launch")),
            ("/detail/Origin", json!("Moon")),
            ("/detail/Destination", json!(7)),
            ("/detail/NotificationMetadata", json!({"type": "worker"})),
            ("/detail/EC2InstanceId", json!("")),
            ("/detail/EC2InstanceId", json!(7)),
            ("/detail/EC2InstanceId", Value::Null),
            ("/detail/LifecycleActionToken", json!(42)),
            ("/detail", Value::Null),
            ("/id", json!("")),
            ("/region", json!(1)),
            ("/source", json!("aws.ssm")),
            ("/detail-type", json!("")),
        ] {
            let mut changed = event.clone();
            *changed.pointer_mut(pointer).unwrap() = value;
            variants.push(changed);
        }
        for changed in &variants {
            check(changed, false);
            check(&sns(changed), false);
            check(&sqs(&[event.clone(), changed.clone()]), false);
        }
        for other in [
            json!({"Records": []}),
            json!({"Records": {}}),
            json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": ""}}]}),
            json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "{not json"}}]}),
            json!({"Records": [{"eventSource": "aws:sqs", "body": event.to_string()}]}),
            json!({"Records": [{"eventSource": "aws:kinesis"}]}),
            sqs(&[json!({"Type": "Notification", "Message": event.to_string()})]),
            json!({"Event": "autoscaling:TEST_NOTIFICATION", "AutoScalingGroupName": "g"}),
            json!([event.clone()]),
            json!("text"),
        ] {
            check(&other, false);
        }
        // Not UTF-8 in a field the fast path skips: rejected as the `Value` path rejects it.
        let mut invalid = sns(&event).to_string().into_bytes();
        let at = invalid
            .windows(12)
            .position(|w| w == b"c2lnbmF0dXJl")
            .unwrap();
        invalid[at + 2] = 0xb8;
        assert!(super::decode(&invalid).is_none());
        assert!(decode_event(&invalid).is_err());
        for bytes in [&b"{"[..], b"", b"nul", b"{\"id\": \"a\", \"id\": \"b\"}"] {
            assert!(super::decode(bytes).is_none());
            assert_eq!(
                decode_event(bytes).is_ok(),
                by_value(bytes).is_some_and(|r| r.is_ok())
            );
        }
    }

    #[test]
    fn the_original_fixtures_decode_alike() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed");
        let mut fast = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            fast += usize::from(super::decode(&bytes).is_some());
            assert_eq!(Some(decode_event(&bytes)), by_value(&bytes));
        }
        assert_eq!(
            fast, 1,
            "the SNS-wrapped lifecycle action takes the borrowed path"
        );
    }
}
