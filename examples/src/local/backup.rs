//! The nightly backup simulation: a scheduled rule, one command, two nights.

use std::sync::Arc;

use lifecycle_aws::runtime::Runtime;
use lifecycle_aws::store::NodeTable;
use lifecycle_aws::testing::{
    MemoryActions, MemoryCommands, command_status_event, scheduled_event,
};
use lifecycle_core::LifecycleModel;

use crate::backup::NightlyBackup;

use super::delivery::{Delivery, Queue, SimulatedClock, deliver};
use super::timeline::rows;
use super::{NodeOutcome, Report, SimulationError, load};

/// The instance the backup simulation backs up.
pub const BACKUP_INSTANCE: &str = "i-0d47a5e1c9b3f2a68";

/// Runs the nightly backup on `table`: the scheduled rule `backup` fires, the backup command
/// is sent to [`BACKUP_INSTANCE`] and waited for, its result finishes the run; then the rule
/// fires again the next night and the run starts over.
///
/// ```
/// use lifecycle_aws::store::MemoryTable;
/// let report = tokio::runtime::Builder::new_current_thread()
///     .build()
///     .unwrap()
///     .block_on(lifecycle_examples::local::simulate_backup(MemoryTable::new()))
///     .unwrap();
/// assert_eq!(report.nodes[0].state, "done");
/// ```
pub async fn simulate_backup<T: NodeTable>(table: T) -> Result<Report, SimulationError> {
    let ssm = Arc::new(MemoryCommands::new());
    let clock = Arc::new(SimulatedClock::default());
    let runtime = Runtime::with_parts(table, ssm.clone(), Arc::new(MemoryActions::new()), || {
        NightlyBackup {
            instance: BACKUP_INSTANCE.into(),
            destination: "s3://backups/nightly".into(),
        }
    })
    .with_clock(clock.clone());
    let mut timeline = Vec::new();
    let mut events = 0;
    let mut commands_seen = 0;
    let mut queue = Queue::default();
    const NIGHT: u64 = 24 * 3600;
    for night in 0..2 {
        // Each firing of the rule is an event of its own (EventBridge gives each its id).
        let mut payload = scheduled_event("backup");
        payload["id"] = format!("backup-night-{night}").into();
        queue.push(Delivery {
            at: night * NIGHT,
            instance: "backup".into(),
            label: "scheduled backup".into(),
            payload,
            opens: None,
        });
    }
    while let Some(delivery) = queue.pop() {
        events += 1;
        let outcomes = deliver(&runtime, &clock, &delivery).await?;
        let line = |from: &str, to: &str, what: String| delivery.row(from, to, what);
        for outcome in outcomes {
            timeline.extend(rows(&NightlyBackup::DEFINITION, outcome, &line));
        }
        let sent = ssm.sent();
        for (command_id, request) in &sent[commands_seen..] {
            let target = &request.instance_ids[0];
            queue.push(Delivery {
                at: delivery.at + 20 * 60,
                instance: "backup".into(),
                label: format!("{} Success", request.document_name),
                payload: command_status_event(
                    command_id,
                    target,
                    &request.document_name,
                    "Success",
                ),
                opens: None,
            });
        }
        commands_seen = sent.len();
    }
    let record = load(runtime.store(), "backup").await?;
    Ok(Report {
        model: NightlyBackup::DEFINITION.name,
        timeline,
        nodes: vec![NodeOutcome {
            id: "backup".into(),
            kind: "schedule".into(),
            history: record.history(),
            state: record.state,
            completions: Vec::new(),
        }],
        dns: Vec::new(),
        events,
    })
}
