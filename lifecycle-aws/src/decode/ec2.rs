//! aws.ec2: Spot interruption warnings, rebalance recommendations, instance state changes.

use super::*;

/// Decodes an event of `ec2`'s source (the envelope checked, `detail-type` known).
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
    let unsupported = || unsupported(source, detail_type);
    let field = |name: &str| {
        required_str(detail, &[name], &format!("{detail_at}.{name}")).map(str::to_owned)
    };
    match detail_type {
        "EC2 Spot Instance Interruption Warning" => Ok(Notification::SpotInterruption {
            id,
            instance_id: instance_field(detail, &detail_at)?,
            region,
            action: field("instance-action")?,
        }),
        "EC2 Instance Rebalance Recommendation" => Ok(Notification::RebalanceRecommendation {
            id,
            instance_id: instance_field(detail, &detail_at)?,
            region,
        }),
        "EC2 Instance State-change Notification" => Ok(Notification::InstanceState {
            id,
            instance_id: instance_field(detail, &detail_at)?,
            region,
            state: field("state")?,
        }),
        _ => Err(unsupported()),
    }
}

/// `detail.instance-id`, which must look like an instance id.
fn instance_field(detail: &Value, at: &str) -> Result<String, DecodeError> {
    let at = format!("{at}.instance-id");
    let id = required_str(detail, &["instance-id"], &at)?;
    if !is_instance_id(id) {
        return Err(DecodeError::WrongType {
            field: at,
            expected: "an EC2 instance id (i-...)",
        });
    }
    Ok(id.to_owned())
}
