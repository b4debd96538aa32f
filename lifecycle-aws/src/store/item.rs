//! Items as DynamoDB holds them, and back: records, commands, parked launches, attribute values.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use lifecycle_core::{LifecycleAction, Record};
use serde_json::{Map, Value};

use super::{COMMAND_ITEM_TYPE, PendingLifecycle, RegisteredCommand, StoreError, Wait, attr};

pub(super) fn item_version(item: &HashMap<String, AttributeValue>) -> u64 {
    number(item, attr::VERSION).unwrap_or(0)
}

pub(super) fn number(item: &HashMap<String, AttributeValue>, key: &str) -> Option<u64> {
    match item.get(key) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

pub(super) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(super) fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn record_from_item(
    ident: &str,
    mut item: HashMap<String, AttributeValue>,
) -> Result<Record, StoreError> {
    let malformed = |problem: &str| StoreError::Malformed {
        ident: ident.to_owned(),
        problem: problem.to_owned(),
    };
    let state = match item.remove(attr::ITEM_STATUS) {
        Some(AttributeValue::S(state)) => state,
        Some(_) => return Err(malformed("ItemStatus is not a string")),
        None => return Err(malformed("no ItemStatus")),
    };
    let version = match item.remove(attr::VERSION) {
        None => 0,
        Some(AttributeValue::N(n)) => n
            .parse()
            .map_err(|_| malformed("Version is not an integer"))?,
        Some(_) => return Err(malformed("Version is not a number")),
    };
    if version > lifecycle_core::MAX_VERSION {
        return Err(malformed(
            "Version is past the largest a record can reach by counting writes",
        ));
    }
    item.remove(attr::IDENT);
    let attributes: Map<String, Value> = item
        .iter()
        .map(|(k, v)| (k.clone(), from_attribute(v)))
        .collect();
    Ok(Record {
        ident: ident.to_owned(),
        state,
        version,
        attributes,
    })
}

/// A JSON value as a DynamoDB attribute.
///
/// ```
/// use aws_sdk_dynamodb::types::AttributeValue;
/// use lifecycle_aws::store::to_attribute;
/// assert_eq!(to_attribute(&serde_json::json!("worker")), AttributeValue::S("worker".into()));
/// assert_eq!(to_attribute(&serde_json::json!(3)), AttributeValue::N("3".into()));
/// ```
pub fn to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attribute).collect()),
        Value::Object(map) => AttributeValue::M(
            map.iter()
                .map(|(k, v)| (k.clone(), to_attribute(v)))
                .collect(),
        ),
    }
}

/// A DynamoDB attribute as a JSON value (sets become arrays, binary becomes hex).
///
/// ```
/// use aws_sdk_dynamodb::types::AttributeValue;
/// use lifecycle_aws::store::from_attribute;
/// assert_eq!(from_attribute(&AttributeValue::N("3".into())), serde_json::json!(3));
/// assert_eq!(from_attribute(&AttributeValue::Ss(vec!["a".into()])), serde_json::json!(["a"]));
/// ```
pub fn from_attribute(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => n
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                n.parse::<f64>()
                    .ok()
                    .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            })
            .unwrap_or_else(|| Value::String(n.clone())),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(items) => Value::Array(items.iter().map(from_attribute).collect()),
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), from_attribute(v)))
                .collect(),
        ),
        AttributeValue::Ss(items) => {
            Value::Array(items.iter().cloned().map(Value::String).collect())
        }
        AttributeValue::Ns(items) => Value::Array(
            items
                .iter()
                .map(|n| from_attribute(&AttributeValue::N(n.clone())))
                .collect(),
        ),
        AttributeValue::B(blob) => Value::String(hex(blob.as_ref())),
        AttributeValue::Bs(blobs) => Value::Array(
            blobs
                .iter()
                .map(|b| Value::String(hex(b.as_ref())))
                .collect(),
        ),
        _ => Value::Null,
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn action_to_item(action: &LifecycleAction) -> AttributeValue {
    let value = serde_json::to_value(action).expect("a lifecycle action serialises");
    to_attribute(&value)
}

/// Lifecycle data as stored: ours (metadata a string) or the original's (metadata an object).
pub(super) fn action_from_value(ident: &str, value: &Value) -> Result<LifecycleAction, StoreError> {
    let mut value = value.clone();
    if let Some(metadata) = value.get_mut("NotificationMetadata")
        && !metadata.is_string()
        && !metadata.is_null()
    {
        *metadata = Value::String(metadata.to_string());
    }
    serde_json::from_value(value).map_err(|e| StoreError::Malformed {
        ident: ident.to_owned(),
        problem: format!("lifecycle data: {}", without_values(&e)),
    })
}

/// serde's message, without the value it found: an item may hold secrets (the original
/// library's records held join tokens), and this message reaches the logs. What was expected
/// is kept.
pub(crate) fn without_values(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.split_once(", expected ") {
        Some((_, expected)) => format!("a field has the wrong type or value: expected {expected}"),
        None => text,
    }
}

pub(super) fn command_from_item(
    command_id: &str,
    item: &HashMap<String, AttributeValue>,
) -> Result<RegisteredCommand, StoreError> {
    let text = |key: &str| match item.get(key) {
        Some(AttributeValue::S(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let mut lifecycle = item
        .get(attr::LIFECYCLE_DATA)
        .map(|v| action_from_value(command_id, &from_attribute(v)))
        .transpose()?;
    // The original library kept the region beside the lifecycle data, in the stored event.
    if let Some(action) = &mut lifecycle
        && action.region.is_none()
    {
        action.region = text("region");
    }
    // The original library wrote every target, comma-separated.
    let running_on = text(attr::RUNNING_ON).unwrap_or_default();
    let first_target = running_on
        .split(',')
        .map(str::trim)
        .find(|t| !t.is_empty())
        .map(str::to_owned);
    let lifecycle_instance = lifecycle.as_ref().map(|l| l.ec2_instance_id.clone());
    let instance_id = first_target
        .or_else(|| lifecycle_instance.clone())
        .ok_or_else(|| StoreError::Malformed {
            ident: command_id.to_owned(),
            problem: "command item names no instance (RunningOn)".into(),
        })?;
    Ok(RegisteredCommand {
        command_id: command_id.to_owned(),
        // The record the result resumes. The original library's commands name none: their
        // lifecycle is the instance of the lifecycle data (a leave command may run on a
        // manager for a terminating worker), else the instance they ran on.
        owner: text(attr::OWNER)
            .or(lifecycle_instance)
            .unwrap_or_else(|| instance_id.clone()),
        instance_id,
        lifecycle,
        // The original library stored the whole event; its id is `id`.
        event_id: text("EventId").or_else(|| text("id")),
        registered_at: number(item, attr::REGISTERED_AT),
        sent_at_version: number(item, attr::SENT_AT_VERSION),
        marker: text(attr::MARKER),
    })
}

/// A due item of the index of waits: a command, or a record with a parked launch.
pub(super) fn wait_from_item(item: &HashMap<String, AttributeValue>) -> Result<Wait, StoreError> {
    let ident = match item.get(attr::IDENT) {
        Some(AttributeValue::S(ident)) => ident.as_str(),
        _ => "(no Ident)",
    };
    if item.get(attr::ITEM_TYPE) == Some(&s(COMMAND_ITEM_TYPE)) {
        return command_from_item(ident, item).map(Wait::Command);
    }
    match item.get(attr::PENDING_LIFECYCLE) {
        Some(pending) => Ok(Wait::Parked {
            ident: ident.to_owned(),
            pending: pending_from_value(ident, &from_attribute(pending))?,
        }),
        None if item.get(attr::ALIVE_CHECK) == Some(&AttributeValue::Bool(true)) => {
            Ok(Wait::AliveCheck {
                ident: ident.to_owned(),
            })
        }
        None => Err(StoreError::Malformed {
            ident: ident.to_owned(),
            problem:
                "in the index of waits, but neither a command, a parked launch nor an alive check"
                    .into(),
        }),
    }
}

pub(super) fn pending_to_item(pending: &PendingLifecycle) -> AttributeValue {
    let mut map = match to_attribute(&serde_json::to_value(&pending.action).expect("serialises")) {
        AttributeValue::M(map) => map,
        _ => unreachable!("a lifecycle action serialises as an object"),
    };
    map.insert("EventId".into(), s(&pending.event_id));
    if let Some(at) = pending.parked_at {
        map.insert("ParkedAt".into(), n(at));
    }
    AttributeValue::M(map)
}

pub(crate) fn pending_from_value(
    ident: &str,
    value: &Value,
) -> Result<PendingLifecycle, StoreError> {
    let event_id = value
        .get("EventId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let parked_at = value.get("ParkedAt").and_then(Value::as_u64);
    let mut action = value.clone();
    if let Some(map) = action.as_object_mut() {
        map.remove("EventId");
        map.remove("ParkedAt");
    }
    Ok(PendingLifecycle {
        action: action_from_value(ident, &action)?,
        event_id,
        parked_at,
    })
}

/// A parked launch read from a stream image (plain JSON).
///
/// ```
/// use lifecycle_aws::store::pending_from_image;
/// let image = serde_json::json!({"Ident": "i-1", "ItemStatus": "new"});
/// // No launch parked on this record.
/// assert!(pending_from_image("i-1", image.as_object().unwrap()).is_none());
/// ```
pub fn pending_from_image(
    ident: &str,
    image: &Map<String, Value>,
) -> Option<Result<PendingLifecycle, StoreError>> {
    image
        .get(attr::PENDING_LIFECYCLE)
        .map(|value| pending_from_value(ident, value))
}
