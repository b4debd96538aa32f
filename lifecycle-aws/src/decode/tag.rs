//! aws.tag: a tag change on an EC2 instance (cloud-init's progress).

use super::*;

/// Decodes an event of `tag`'s source (the envelope checked, `detail-type` known).
pub(super) fn decode(envelope: Envelope<'_>) -> Result<Notification, DecodeError> {
    let Envelope {
        event,
        at,
        source,
        detail_type,
        id,
        region,
        detail_at,
        ..
    } = envelope;
    let unsupported = || unsupported(source, detail_type);
    let detail = event
        .get("detail")
        .ok_or_else(|| DecodeError::Missing(detail_at.clone()))?;
    let service = required_str(detail, &["service"], &format!("{detail_at}.service"))?;
    let kind = required_str(
        detail,
        &["resource-type"],
        &format!("{detail_at}.resource-type"),
    )?;
    if (service, kind) != ("ec2", "instance") {
        return Err(unsupported());
    }
    let resource = event
        .get("resources")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(Value::as_str)
        .ok_or_else(|| DecodeError::Missing(format!("{at}.resources[0]")))?;
    let instance_id = resource
        .rsplit_once(":instance/")
        .map(|(_, id)| id)
        .filter(|id| id.starts_with("i-") && id.len() > 2)
        .ok_or(DecodeError::WrongType {
            field: format!("{at}.resources[0]"),
            expected: "an EC2 instance ARN",
        })?;
    let changed = match detail.get("changed-tag-keys") {
        Some(Value::Array(keys)) => keys
            .iter()
            .map(|k| k.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>(),
        _ => None,
    }
    .ok_or(DecodeError::WrongType {
        field: format!("{detail_at}.changed-tag-keys"),
        expected: "an array of strings",
    })?;
    let tags = match detail.get("tags") {
        Some(Value::Object(tags)) => tags
            .iter()
            .map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
            .collect::<Option<BTreeMap<_, _>>>(),
        _ => None,
    }
    .ok_or(DecodeError::WrongType {
        field: format!("{detail_at}.tags"),
        expected: "an object of strings",
    })?;
    Ok(Notification::InstanceTagged {
        id,
        instance_id: instance_id.to_owned(),
        region,
        changed,
        tags,
    })
}
