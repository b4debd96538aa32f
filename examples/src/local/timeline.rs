//! The timeline's rows: what each outcome of the runtime did, and why.

use lifecycle_aws::runtime::Outcome;
use lifecycle_core::ModelDefinition;

use super::Step;

/// What a timeline row says about a trigger: why it fired, and which triggers tried before it
/// their guards turned down.
pub(super) fn explain(
    definition: &ModelDefinition<impl lifecycle_core::State>,
    from: &str,
    trigger: &str,
    declined: &[String],
) -> String {
    let guards = |name: &str| -> Vec<String> {
        definition
            .transitions
            .iter()
            .find(|t| t.trigger == name && t.sources.iter().any(|s| s.name() == from))
            .map(|t| {
                t.conditions
                    .iter()
                    .map(|g| format!("{g}: yes"))
                    .chain(t.unless.iter().map(|g| format!("{g}: no")))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut notes = guards(trigger);
    for other in declined {
        notes.push(format!("not {other}, whose guards said no"));
    }
    if notes.is_empty() {
        trigger.to_owned()
    } else {
        format!("{trigger} ({})", notes.join("; "))
    }
}

/// The rows an outcome of the runtime makes.
pub(super) fn rows<S: lifecycle_core::State>(
    definition: &ModelDefinition<S>,
    outcome: Outcome,
    line: &dyn Fn(&str, &str, String) -> Step,
) -> Vec<Step> {
    let mut out = Vec::new();
    match outcome {
        Outcome::Dispatched {
            steps,
            end,
            stop,
            declined,
            deferred,
            ..
        } => {
            for step in steps {
                let what = match (step.trigger, step.failure) {
                    (Some(trigger), _) => explain(definition, &step.from, &trigger, &step.declined),
                    (None, Some(failure)) => format!("failed: {failure}"),
                    (None, None) => String::new(),
                };
                out.push(line(&step.from, &step.to, what));
            }
            let what = match stop.as_str() {
                "not_awaited" => Some("nothing to do: the record does not wait for this command (sent without `wait`: fire and forget)".to_owned()),
                "settled" if out.is_empty() && !declined.is_empty() => Some(format!("no trigger fired: the guards of {} said no; the event comes to rest", declined.join(", "))),
                "settled" if out.is_empty() => Some("no trigger reacts to this event here: it comes to rest".to_owned()),
                "waiting" => Some("waits for its command's result".to_owned()),
                "refused" => Some("refused: this lifecycle is over".to_owned()),
                "finished" if out.is_empty() => Some("nothing left to run: the record is already at its end (drained before)".to_owned()),
                "deferred" => Some("waits for the drain under way: runs when it is done".to_owned()),
                _ if out.is_empty() => Some(format!("no trigger ({stop})")),
                _ => None,
            };
            if let Some(what) = what {
                out.push(line(&end, &end, what));
            }
            if let Some(deferred) = deferred {
                out.extend(rows(definition, *deferred, line));
            }
        }
        Outcome::Parked { .. } => out.push(line(
            "pending",
            "pending",
            "parked until cloud-init finishes".into(),
        )),
        Outcome::Heartbeat { command_id } => out.push(line(
            "",
            "",
            format!("heartbeat (command {command_id} still running)"),
        )),
        Outcome::Registered { state, .. } => {
            out.push(line("", &state, "cloud-init progress".into()))
        }
        Outcome::Swept {
            kept_alive,
            expired,
            failed,
            reconciled,
            recompleted,
            unhandled,
            ..
        } => {
            let mut what = format!(
                "sweep: {} kept alive, {} expired, {} failed",
                kept_alive.len(),
                expired.len(),
                failed.len()
            );
            if !reconciled.is_empty() {
                what.push_str(&format!(
                    "; Auto Scaling holds actions no event brought, started: {}",
                    reconciled.join(", ")
                ));
            }
            if !recompleted.is_empty() {
                what.push_str(&format!("; completed again: {}", recompleted.join(", ")));
            }
            if !unhandled.is_empty() {
                what.push_str(&format!("; unhandled: {}", unhandled.join("; ")));
            }
            out.push(line("", "", what))
        }
        Outcome::Ignored { reason } => out.push(line("", "", format!("ignored: {reason}"))),
        Outcome::Refused { reason, .. } => out.push(line("", "", format!("refused: {reason}"))),
        Outcome::PerInstance { outcomes } => {
            for outcome in outcomes {
                out.extend(rows(definition, outcome, line));
            }
        }
        // An outcome a newer runtime adds: shown as it serialises.
        other => out.push(line(
            "",
            "",
            serde_json::to_string(&other).unwrap_or_default(),
        )),
    }
    out
}
