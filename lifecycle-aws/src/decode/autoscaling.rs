//! aws.autoscaling: lifecycle actions (and their test notification), and the group's instance launch and terminate results.

use super::*;

/// Decodes an event of `autoscaling`'s source (the envelope checked, `detail-type` known).
pub(super) fn decode(envelope: Envelope<'_>) -> Result<Notification, DecodeError> {
    let detail = envelope.detail()?;
    let Envelope {
        source,
        detail_type,
        id,
        region,
        detail_at,
        time,
        ..
    } = envelope;
    let unsupported = || unsupported(source, detail_type);
    // `LifecycleTransition` is authoritative: real events spell the detail-type both
    // "Instance-launch" and "Instance-launching".
    if detail_type.ends_with("Lifecycle Action") || detail.get("LifecycleTransition").is_some() {
        if str_at(detail, &["LifecycleTransition"]) == Some("autoscaling:TEST_NOTIFICATION") {
            return Ok(Notification::TestNotification);
        }
        let action = LifecycleAction {
            region: region.clone(),
            ..lifecycle_action(detail, &detail_at)?
        };
        return Ok(Notification::LifecycleAction {
            id,
            region,
            action,
            time,
        });
    }
    let activity = match detail_type {
        "EC2 Instance Launch Successful" => InstanceActivity::LaunchSuccessful,
        "EC2 Instance Launch Unsuccessful" => InstanceActivity::LaunchUnsuccessful,
        "EC2 Instance Terminate Successful" => InstanceActivity::TerminateSuccessful,
        "EC2 Instance Terminate Unsuccessful" => InstanceActivity::TerminateUnsuccessful,
        _ => return Err(unsupported()),
    };
    Ok(Notification::InstanceActivity {
        id,
        activity,
        instance_id: str_at(detail, &["EC2InstanceId"]).map(str::to_owned),
        group: str_at(detail, &["AutoScalingGroupName"]).map(str::to_owned),
    })
}
