//! aws.health: scheduled changes of EC2 instances (retirement, maintenance).

use super::*;

/// Decodes an event of `health`'s source (the envelope checked, `detail-type` known).
pub(super) fn decode(envelope: Envelope<'_>) -> Result<Notification, DecodeError> {
    let detail = envelope.detail()?;
    let Envelope {
        source,
        detail_type,
        id,
        region,
        detail_at,
        ..
    } = envelope;
    let category = required_str(
        detail,
        &["eventTypeCategory"],
        &format!("{detail_at}.eventTypeCategory"),
    )?;
    let service = required_str(detail, &["service"], &format!("{detail_at}.service"))?;
    // Issues and account notifications are not about an instance's life.
    if (service, category) != ("EC2", "scheduledChange") {
        return Err(DecodeError::Unsupported {
            event_source: source.to_owned(),
            detail_type: format!("{detail_type} ({service} {category})"),
        });
    }
    let event_type = required_str(
        detail,
        &["eventTypeCode"],
        &format!("{detail_at}.eventTypeCode"),
    )?
    .to_owned();
    let entities_at = format!("{detail_at}.affectedEntities");
    let instance_ids: Vec<String> = detail
        .get("affectedEntities")
        .and_then(Value::as_array)
        .ok_or(DecodeError::WrongType {
            field: entities_at.clone(),
            expected: "an array of affected entities",
        })?
        .iter()
        .filter_map(|e| str_at(e, &["entityValue"]))
        .filter_map(instance_of_entity)
        .map(str::to_owned)
        .collect();
    if instance_ids.is_empty() {
        return Err(DecodeError::WrongType {
            field: entities_at,
            expected: "at least one EC2 instance (`entityValue`: an id or an instance ARN)",
        });
    }
    Ok(Notification::Maintenance {
        id,
        region,
        event_type,
        starts: str_at(detail, &["startTime"]).map(str::to_owned),
        instance_ids,
    })
}
