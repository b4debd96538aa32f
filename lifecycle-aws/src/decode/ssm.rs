//! aws.ssm: a command's status, or one invocation's.

use super::*;

/// Decodes an event of `ssm`'s source (the envelope checked, `detail-type` known).
pub(super) fn decode(envelope: Envelope<'_>) -> Result<Notification, DecodeError> {
    let detail = envelope.detail()?;
    let Envelope {
        event,
        source,
        detail_type,
        id,
        detail_at,
        ..
    } = envelope;
    let unsupported = || unsupported(source, detail_type);
    let command_id =
        required_str(detail, &["command-id"], &format!("{detail_at}.command-id"))?.to_owned();
    let status_at = format!("{detail_at}.status");
    let progress = command_progress(required_str(detail, &["status"], &status_at)?)
        .ok_or(DecodeError::WrongType {
            field: status_at,
            expected: "an SSM command status (Success, Failed, TimedOut, Cancelled, InProgress, ...)",
        })?;
    match detail_type {
        "EC2 Command Status-change Notification" => Ok(Notification::CommandStatus {
            id,
            command_id,
            progress,
            document_name: str_at(detail, &["document-name"]).map(str::to_owned),
            requested: str_at(detail, &["requested-date-time"]).map(str::to_owned),
            instance_ids: resource_instances(event),
            parameters: command_parameters(detail.get("parameters"), &detail_at)?,
        }),
        "EC2 Command Invocation Status-change Notification" => {
            Ok(Notification::CommandInvocation {
                id,
                command_id,
                instance_id: required_str(
                    detail,
                    &["instance-id"],
                    &format!("{detail_at}.instance-id"),
                )?
                .to_owned(),
                progress,
            })
        }
        _ => Err(unsupported()),
    }
}

/// SSM's statuses, as its events spell them; anything else (an empty or misspelt status) is
/// not SSM's and is rejected rather than taken for a failure.
fn command_progress(status: &str) -> Option<CommandProgress> {
    Some(match status {
        "Success" => CommandProgress::Finished(CommandStatus::Success),
        "Failed" => CommandProgress::Finished(CommandStatus::Failed),
        "TimedOut" => CommandProgress::Finished(CommandStatus::TimedOut),
        "Cancelled" => CommandProgress::Finished(CommandStatus::Cancelled),
        "Pending" | "InProgress" | "Delayed" | "Cancelling" => {
            CommandProgress::Running(status.to_owned())
        }
        // SSM's other final (detailed) statuses: results, unsuccessful.
        "Undeliverable"
        | "Terminated"
        | "DeliveryTimedOut"
        | "Delivery Timed Out"
        | "ExecutionTimedOut"
        | "Execution Timed Out"
        | "Incomplete"
        | "NoInstancesInTag"
        | "No Instances In Tag"
        | "LimitExceeded"
        | "Limit Exceeded"
        | "AccessDenied"
        | "Access Denied"
        | "InvalidPlatform" => CommandProgress::Finished(CommandStatus::Other(status.to_owned())),
        _ => return None,
    })
}

/// `parameters`: a JSON string (real events) or an object of arrays (AWS's docs).
fn command_parameters(
    value: Option<&Value>,
    at: &str,
) -> Result<BTreeMap<String, Vec<String>>, DecodeError> {
    let at = format!("{at}.parameters");
    let parsed;
    let object = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::String(s)) if s.is_empty() => return Ok(BTreeMap::new()),
        Some(Value::String(s)) => {
            parsed = parse_embedded(s, &at)?;
            &parsed
        }
        Some(other) => other,
    };
    let object = object.as_object().ok_or(DecodeError::WrongType {
        field: at.clone(),
        expected: "an object of string arrays",
    })?;
    object
        .iter()
        .map(|(name, values)| {
            let values = match values {
                Value::Array(items) => items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect(),
                Value::String(s) => vec![s.clone()],
                other => vec![other.to_string()],
            };
            Ok((name.clone(), values))
        })
        .collect()
}

/// Instance ids from `resources` ARNs (`arn:aws:ec2:region:account:instance/i-...`).
fn resource_instances(event: &Value) -> Vec<String> {
    event
        .get("resources")
        .and_then(Value::as_array)
        .map(|resources| {
            resources
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|arn| arn.rsplit_once(":instance/").map(|(_, id)| id.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}
