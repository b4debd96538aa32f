//! A simulated Auto Scaling group, run through the real dispatcher on the in-memory store.
//!
//! SSM is simulated by [`LocalEffects`]: every command sent becomes a command-result event,
//! successful unless the scenario says it fails. Auto Scaling is simulated by recording the
//! lifecycle results the reports carry.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use lifecycle_core::{
    CommandStatus, Event, EventKind, LifecycleResult, LifecycleTransition, LocalEffects,
    MemoryStore, Record, State, StopReason, load_and_dispatch,
};

use crate::cluster::{ClusterNode, ClusterNodeState, Dns};

/// One instance of the simulated group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// Its instance id.
    pub id: String,
    /// `manager` or `worker` (the record's `ItemType`).
    pub kind: String,
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// The instances that launch, in order.
    pub nodes: Vec<NodeSpec>,
    /// Instances whose join command fails.
    pub failing_joins: BTreeSet<String>,
    /// Instances terminated once every launch has settled.
    pub terminate: Vec<String>,
}

impl Default for Scenario {
    /// Three instances launch (the second worker's join command fails and it ends ABANDONed
    /// through the failure path), then the first worker is terminated.
    fn default() -> Self {
        let node = |id: &str, kind: &str| NodeSpec {
            id: id.into(),
            kind: kind.into(),
        };
        Scenario {
            nodes: vec![
                node("i-0a1", "manager"),
                node("i-0b2", "worker"),
                node("i-0c3", "worker"),
            ],
            failing_joins: ["i-0c3".to_owned()].into(),
            terminate: vec!["i-0b2".into()],
        }
    }
}

/// A scenario names an instance that is not in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulationError {
    /// `--fail-join` or `--terminate` named an unknown instance.
    #[error("instance `{0}` is not in the scenario (known: {1})")]
    UnknownInstance(String, String),
    /// The dispatcher returned an error.
    #[error("dispatching {event} for {instance}: {message}")]
    Dispatch {
        /// The instance.
        instance: String,
        /// The event's id.
        event: String,
        /// The error.
        message: String,
    },
}

/// One line of the timeline: a trigger that fired, or an event that fired none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Time since the simulation started.
    pub elapsed: Duration,
    /// The instance.
    pub instance: String,
    /// `launching`, `terminating`, `command Success`, ...
    pub event: String,
    /// The state before.
    pub from: ClusterNodeState,
    /// The state after.
    pub to: ClusterNodeState,
    /// The trigger, or why nothing fired.
    pub what: String,
}

/// A lifecycle action the simulated Auto Scaling group saw completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// Launch or terminate.
    pub transition: LifecycleTransition,
    /// CONTINUE or ABANDON.
    pub result: LifecycleResult,
}

/// Where each instance ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeOutcome {
    /// The instance.
    pub id: String,
    /// `manager` or `worker`.
    pub kind: String,
    /// Its final state.
    pub state: ClusterNodeState,
    /// Its lifecycle actions, as completed.
    pub completions: Vec<Completion>,
}

/// What the simulation did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Every step, in order.
    pub timeline: Vec<Step>,
    /// Every instance, in scenario order.
    pub nodes: Vec<NodeOutcome>,
    /// The addresses published under the worker and manager DNS names.
    pub dns: Vec<(String, Vec<String>)>,
}

/// Runs `scenario`.
///
/// ```
/// use lifecycle_examples::local::{simulate, Scenario};
/// let outcome = tokio::runtime::Builder::new_current_thread()
///     .build()
///     .unwrap()
///     .block_on(simulate(&Scenario::default()))
///     .unwrap();
/// assert_eq!(outcome.nodes.len(), 3);
/// ```
pub async fn simulate(scenario: &Scenario) -> Result<Outcome, SimulationError> {
    let known: Vec<&str> = scenario.nodes.iter().map(|n| n.id.as_str()).collect();
    for id in scenario.failing_joins.iter().chain(&scenario.terminate) {
        if !known.contains(&id.as_str()) {
            return Err(SimulationError::UnknownInstance(
                id.clone(),
                known.join(", "),
            ));
        }
    }

    let store = MemoryStore::new();
    let effects = LocalEffects::new();
    let dns = Dns::default();
    let mut model = ClusterNode::new(dns.clone());
    for (i, node) in scenario.nodes.iter().enumerate() {
        // What cloud-init writes, its last line marking the node ready for its lifecycle.
        store.insert(
            Record::new(&node.id, ClusterNodeState::FinishedCloudInit.name())
                .with("ItemType", node.kind.as_str())
                .with("InstanceIp", format!("10.0.1.{}", 10 + i)),
        );
    }

    let started = Instant::now();
    let mut timeline = Vec::new();
    let mut completions: Vec<(String, Completion)> = Vec::new();
    let mut commands_seen = 0;
    let mut queue: VecDeque<Event> = scenario
        .nodes
        .iter()
        .map(|n| {
            Event::lifecycle(
                format!("launch-{}", n.id),
                action(&n.id, LifecycleTransition::Launching),
            )
        })
        .collect();
    let mut terminations: VecDeque<Event> = scenario
        .terminate
        .iter()
        .map(|id| {
            Event::lifecycle(
                format!("terminate-{id}"),
                action(id, LifecycleTransition::Terminating),
            )
        })
        .collect();

    while let Some(event) = queue.pop_front().or_else(|| terminations.pop_front()) {
        let instance = event.instance_id.clone().unwrap_or_default();
        let (_, report) = load_and_dispatch(&mut model, &store, &instance, &event, &effects)
            .await
            .map_err(|e| SimulationError::Dispatch {
                instance: instance.clone(),
                event: event.id.clone(),
                message: e.to_string(),
            })?;
        let label = event_label(&event);
        let elapsed = started.elapsed();
        for (i, fired) in report.fired.iter().enumerate() {
            if let Some(failure) = report.failure.as_ref().filter(|f| f.fired_before == i) {
                timeline.push(failure_step(elapsed, &instance, &label, failure));
            }
            timeline.push(Step {
                elapsed,
                instance: instance.clone(),
                event: label.clone(),
                from: fired.from,
                to: fired.to,
                what: fired.trigger.to_owned(),
            });
        }
        if let Some(failure) = report
            .failure
            .as_ref()
            .filter(|f| f.fired_before == report.fired.len())
        {
            timeline.push(failure_step(elapsed, &instance, &label, failure));
        }
        if report.fired.is_empty() {
            timeline.push(Step {
                elapsed,
                instance: instance.clone(),
                event: label.clone(),
                from: report.start,
                to: report.end,
                what: format!("no trigger ({})", stop_label(report.stop)),
            });
        }
        if let (Some(result), Some(transition)) =
            (report.lifecycle_result, event.lifecycle_transition())
        {
            completions.push((instance.clone(), Completion { transition, result }));
        }

        // Simulated SSM: each new command finishes, and its status-change event arrives.
        let commands = effects.commands();
        for sent in &commands[commands_seen..] {
            let target = sent.request.instance_ids[0].clone();
            let fails = sent.request.document_name == "ClusterJoin"
                && scenario.failing_joins.contains(&target);
            let status = if fails {
                CommandStatus::Failed
            } else {
                CommandStatus::Success
            };
            queue.push_back(Event::command_result(
                format!("result-{}", sent.command_id),
                sent.command_id.clone(),
                status,
                target,
                sent.lifecycle.clone(),
            ));
        }
        commands_seen = commands.len();
    }

    let nodes = scenario
        .nodes
        .iter()
        .map(|n| NodeOutcome {
            id: n.id.clone(),
            kind: n.kind.clone(),
            state: store
                .get(&n.id)
                .and_then(|r| r.state.parse().ok())
                .expect("simulated records hold model states"),
            completions: completions
                .iter()
                .filter(|(id, _)| *id == n.id)
                .map(|(_, c)| *c)
                .collect(),
        })
        .collect();
    let dns = [&model.manager_dns_name, &model.worker_dns_name]
        .into_iter()
        .map(|name| (name.clone(), dns.addresses(name)))
        .collect();
    Ok(Outcome {
        timeline,
        nodes,
        dns,
    })
}

fn failure_step(
    elapsed: Duration,
    instance: &str,
    label: &str,
    failure: &lifecycle_core::Failure<ClusterNodeState, crate::cluster::ClusterError>,
) -> Step {
    Step {
        elapsed,
        instance: instance.to_owned(),
        event: label.to_owned(),
        from: failure.state,
        to: ClusterNodeState::Failure,
        what: format!("failed: {}", failure.cause),
    }
}

fn action(instance: &str, transition: LifecycleTransition) -> lifecycle_core::LifecycleAction {
    lifecycle_core::LifecycleAction {
        auto_scaling_group_name: "cluster-nodes".into(),
        lifecycle_hook_name: match transition {
            LifecycleTransition::Launching => "cluster-nodes-on-launch".into(),
            LifecycleTransition::Terminating => "cluster-nodes-on-terminate".into(),
        },
        lifecycle_action_token: Some(format!("token-{instance}-{}", transition.as_aws_str())),
        ec2_instance_id: instance.into(),
        lifecycle_transition: transition,
        notification_metadata: None,
    }
}

fn event_label(event: &Event) -> String {
    match &event.kind {
        EventKind::Launching => "launching".into(),
        EventKind::Terminating => "terminating".into(),
        EventKind::CommandResult { status, .. } => format!("command {status}"),
        EventKind::Scheduled { rule } => format!("scheduled {rule}"),
    }
}

fn stop_label(stop: StopReason) -> &'static str {
    match stop {
        StopReason::Settled => "settled",
        StopReason::Finished => "finished",
        StopReason::StopAfterTrigger { .. } => "stopped",
        StopReason::Waiting => "waiting",
        StopReason::LostRace => "lost race",
        StopReason::NotReady => "not ready",
        StopReason::Refused => "refused",
    }
}
