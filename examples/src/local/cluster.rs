//! The cluster simulation: a group of managers and workers launched, joined, drained and
//! terminated.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lifecycle_aws::runtime::{Outcome, Runtime};
use lifecycle_aws::store::NodeTable;
use lifecycle_aws::testing::{
    MemoryAutoScaling, MemoryCommands, command_status_event, scheduled_event,
    spot_interruption_event, stream_record_event,
};
use lifecycle_core::{LifecycleModel, LifecycleTransition, Location};
use serde_json::Value;

use crate::cluster::{ClusterNode, MemoryDns};

use super::delivery::{
    Delivery, Opens, Queue, SWEEP_PERIOD, SimulatedClock, deliver, lifecycle_event, routed_event,
};
use super::timeline::rows;
use super::{
    Completion, GROUP, NodeOutcome, Report, Scenario, SimulationError, Step, load, set_state,
};

/// How long things take in the simulation, in seconds.
const LAUNCH_SPACING: u64 = 2;
const SLOW_CLOUD_INIT: u64 = 45;
const JOIN_COMMAND: u64 = 12;
const OTHER_COMMAND: u64 = 3;
const TERMINATIONS_AT: u64 = 600;
/// When the warm pool's instances launch into the group.
const WARM_POOL_EXIT: u64 = 300;
/// A Spot interruption warning comes two minutes before the instance goes.
const SPOT_NOTICE: u64 = 120;

/// Runs `scenario` through the cluster model on `table`.
///
/// ```
/// use lifecycle_aws::store::MemoryTable;
/// use lifecycle_examples::local::{simulate, Scenario};
/// let report = tokio::runtime::Builder::new_current_thread()
///     .build()
///     .unwrap()
///     .block_on(simulate(&Scenario::default(), MemoryTable::new()))
///     .unwrap();
/// assert_eq!(report.nodes.len(), 3);
/// ```
pub async fn simulate<T: NodeTable>(
    scenario: &Scenario,
    table: T,
) -> Result<Report, SimulationError> {
    scenario.validate()?;
    let ssm = Arc::new(MemoryCommands::new());
    // Auto Scaling in memory: it holds each action until it is completed, and the runtime
    // asks it, as deployed, before acting on an event and in the sweep.
    let autoscaling = Arc::new(MemoryAutoScaling::new().with_group(GROUP));
    let clock = Arc::new(SimulatedClock::default());
    let dns = MemoryDns::default();
    let model_dns = dns.clone();
    let runtime = Runtime::with_parts(table, ssm.clone(), autoscaling.clone(), move || {
        ClusterNode::new(model_dns.clone())
    })
    .with_clock(clock.clone())
    .with_fleet(autoscaling.clone())
    .with_groups([GROUP]);
    let mut lost: BTreeSet<(String, &str)> = scenario
        .lose_events
        .iter()
        .map(|l| {
            let (id, which) = l.split_once(':').unwrap_or((l, "launching"));
            (id.to_owned(), which)
        })
        .collect();
    let mut sweeps = BTreeSet::new();
    let table_error = |e: lifecycle_aws::store::StoreError| SimulationError::Table(e.to_string());

    // cloud-init: registers the instance, and marks it finished as its last line.
    for (i, node) in scenario.nodes.iter().enumerate() {
        let table = runtime.store();
        if !table.create(&node.id, "new").await.map_err(table_error)? {
            return Err(SimulationError::Table(format!(
                "`{}` already exists in the table",
                node.id
            )));
        }
        let registered = [
            ("ItemType".to_owned(), Value::from(node.kind.as_str())),
            (
                "InstanceIp".to_owned(),
                Value::from(format!("10.0.1.{}", 10 + i)),
            ),
        ];
        set_state(table, &node.id, "new", 1, "pending", &registered).await?;
        if !node.slow_cloud_init {
            set_state(table, &node.id, "pending", 2, "finished_cloud_init", &[]).await?;
        }
    }

    let mut timeline = Vec::new();
    let mut events = 0;
    let mut commands_seen = 0;
    let mut completions_seen = 0;
    let mut queue = Queue::default();
    for (i, node) in scenario.nodes.iter().enumerate() {
        let at = i as u64 * LAUNCH_SPACING;
        if node.warm_pool {
            // Into the pool first (prepared, stopped), into the group when it scales out.
            queue.push(routed_event(&node.id, Location::WarmPool, at));
            queue.push(routed_event(
                &node.id,
                Location::AutoScalingGroup,
                WARM_POOL_EXIT + at,
            ));
        } else {
            queue.push(lifecycle_event(
                &node.id,
                LifecycleTransition::Launching,
                at,
            ));
        }
    }
    for (i, id) in scenario.spot_interruptions.iter().enumerate() {
        let at = TERMINATIONS_AT + i as u64 * LAUNCH_SPACING;
        queue.push(Delivery {
            at,
            instance: id.clone(),
            label: "spot interruption".into(),
            payload: spot_interruption_event(id),
            opens: None,
        });
        queue.push(lifecycle_event(
            id,
            LifecycleTransition::Terminating,
            at + SPOT_NOTICE,
        ));
    }
    for (i, id) in scenario.terminate.iter().enumerate() {
        queue.push(lifecycle_event(
            id,
            LifecycleTransition::Terminating,
            TERMINATIONS_AT + i as u64 * LAUNCH_SPACING,
        ));
    }

    while let Some(mut delivery) = queue.pop() {
        if let Some(opens) = delivery.opens {
            let id = &delivery.instance;
            delivery.payload = match opens {
                Opens::Launch => autoscaling.launch(id, GROUP),
                Opens::LaunchIntoWarmPool => autoscaling.launch_into_warm_pool(id, GROUP),
                Opens::LaunchFromWarmPool => autoscaling.launch_from_warm_pool(id),
                Opens::Terminate => autoscaling.terminate(id),
            };
            let which = if opens == Opens::Terminate {
                "terminating"
            } else {
                "launching"
            };
            // A launch into the warm pool is not the one `ID` names: its group launch is.
            if opens != Opens::LaunchIntoWarmPool && lost.remove(&(id.clone(), which)) {
                timeline.push(delivery.row(
                    "",
                    "",
                    "event lost: Auto Scaling holds the action, no event arrives".into(),
                ));
                // The next run of the sweep's schedule finds it.
                let sweep_at = (delivery.at / SWEEP_PERIOD + 1) * SWEEP_PERIOD;
                if sweeps.insert(sweep_at) {
                    queue.push(Delivery {
                        at: sweep_at,
                        instance: String::new(),
                        label: "lifecycle-sweep".into(),
                        payload: scheduled_event("lifecycle-sweep"),
                        opens: None,
                    });
                }
                continue;
            }
        }
        events += 1;
        let outcomes = deliver(&runtime, &clock, &delivery).await?;
        let at = Duration::from_secs(delivery.at);
        let line = |from: &str, to: &str, what: String| delivery.row(from, to, what);
        for outcome in outcomes {
            if let Outcome::Parked { .. } = outcome {
                // ... cloud-init finishes a while later: its last line, and the stream record
                // that follows.
                let before = load(runtime.store(), &delivery.instance).await?;
                set_state(
                    runtime.store(),
                    &delivery.instance,
                    "pending",
                    before.version,
                    "finished_cloud_init",
                    &[],
                )
                .await?;
                let after = load(runtime.store(), &delivery.instance).await?;
                queue.push(Delivery {
                    at: delivery.at + SLOW_CLOUD_INIT,
                    instance: delivery.instance.clone(),
                    label: "stream".into(),
                    payload: stream_record_event(&before, &after),
                    opens: None,
                });
            }
            timeline.extend(rows(&ClusterNode::DEFINITION, outcome, &line));
        }
        let completions = autoscaling.completions();
        for c in &completions[completions_seen..] {
            timeline.push(Step {
                at,
                instance: c.action.ec2_instance_id.clone(),
                event: "CompleteLifecycleAction".into(),
                from: String::new(),
                to: String::new(),
                what: format!(
                    "{} {}",
                    c.action
                        .lifecycle_transition
                        .as_aws_str()
                        .trim_start_matches("autoscaling:"),
                    c.result
                ),
            });
        }
        completions_seen = completions.len();

        // Simulated SSM: each new command finishes, and its status-change event arrives.
        let sent = ssm.sent();
        for (command_id, request) in &sent[commands_seen..] {
            let target = &request.instance_ids[0];
            let joins = request.document_name == "ClusterJoin";
            let status = if joins && scenario.failing_joins.contains(target) {
                "Failed"
            } else {
                "Success"
            };
            queue.push(Delivery {
                at: delivery.at + if joins { JOIN_COMMAND } else { OTHER_COMMAND },
                instance: target.clone(),
                label: format!("{} {status}", request.document_name),
                payload: command_status_event(command_id, target, &request.document_name, status),
                opens: None,
            });
        }
        commands_seen = sent.len();
    }

    let completions = autoscaling.completions();
    let mut nodes = Vec::new();
    for node in &scenario.nodes {
        let record = load(runtime.store(), &node.id).await?;
        nodes.push(NodeOutcome {
            id: node.id.clone(),
            kind: node.kind.clone(),
            history: record.history(),
            state: record.state,
            completions: completions
                .iter()
                .filter(|c| c.action.ec2_instance_id == node.id)
                .map(|c| Completion {
                    transition: c.action.lifecycle_transition,
                    result: c.result,
                })
                .collect(),
        });
    }
    let names = ClusterNode::default();
    let dns = [names.manager_dns_name, names.worker_dns_name]
        .into_iter()
        .map(|name| {
            let addresses = dns.addresses(&name);
            (name, addresses)
        })
        .collect();
    Ok(Report {
        model: ClusterNode::DEFINITION.name,
        timeline,
        nodes,
        dns,
        events,
    })
}
