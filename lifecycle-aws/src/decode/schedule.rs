//! aws.events: a scheduled rule fired.

use super::*;

/// Decodes an event of `schedule`'s source (the envelope checked, `detail-type` known).
pub(super) fn decode(envelope: Envelope<'_>) -> Result<Notification, DecodeError> {
    let Envelope {
        event,
        at,
        id,
        region,
        ..
    } = envelope;
    let resource = event
        .get("resources")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .ok_or_else(|| DecodeError::Missing(format!("{at}.resources[0]")))?
        .as_str()
        .ok_or(DecodeError::WrongType {
            field: format!("{at}.resources[0]"),
            expected: "a rule ARN string",
        })?;
    let rule = resource.rsplit('/').next().unwrap_or(resource);
    if rule.is_empty() {
        return Err(DecodeError::WrongType {
            field: format!("{at}.resources[0]"),
            expected: "a rule ARN ending in the rule name",
        });
    }
    Ok(Notification::Scheduled {
        id,
        rule: rule.to_owned(),
        region,
    })
}
