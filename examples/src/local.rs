//! A simulated Auto Scaling group, run through the Lambda's own code path: every event is the
//! JSON AWS would deliver, decoded by `lifecycle-aws` and handled by its
//! [`Runtime`] over a node table (in memory, or any
//! DynamoDB-compatible server). SSM and Auto Scaling are simulated behind the same traits the
//! Lambda uses: a sent command finishes and its status-change event arrives; completions are
//! recorded.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lifecycle_aws::runtime::{Outcome, Runtime};
use lifecycle_aws::store::NodeTable;
use lifecycle_aws::testing::{
    RecordingActions, RecordingCommands, command_status_event, lifecycle_action_event,
    stream_record_event,
};
use lifecycle_core::{LifecycleResult, LifecycleTransition, Record, StateChange};
use serde::Deserialize;
use serde_json::Value;

use crate::cluster::{ClusterNode, MemoryDns};

/// The simulated Auto Scaling group.
const GROUP: &str = "cluster-nodes";

/// One instance of the simulated group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Its instance id.
    pub id: String,
    /// `manager` or `worker` (the record's `ItemType`).
    pub kind: String,
    /// Cloud-init is still running when the launching event arrives: the launch is parked and
    /// resumed by the table's stream record.
    #[serde(default)]
    pub slow_cloud_init: bool,
}

/// What to simulate. As a scenario file (`--scenario FILE`), the same fields in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The instances that launch, in order.
    pub nodes: Vec<NodeSpec>,
    /// Instances whose join command fails.
    #[serde(default)]
    pub failing_joins: BTreeSet<String>,
    /// Instances terminated once every launch has settled.
    #[serde(default)]
    pub terminate: Vec<String>,
}

impl Default for Scenario {
    /// Three instances launch — the manager's cloud-init is slow, so its launch waits for it;
    /// the second worker's join command fails and it ends ABANDONed through the failure path —
    /// then the first worker is terminated.
    fn default() -> Self {
        let node = |id: &str, kind: &str, slow_cloud_init| NodeSpec {
            id: id.into(),
            kind: kind.into(),
            slow_cloud_init,
        };
        Scenario {
            nodes: vec![
                node("i-0a1", "manager", true),
                node("i-0b2", "worker", false),
                node("i-0c3", "worker", false),
            ],
            failing_joins: ["i-0c3".to_owned()].into(),
            terminate: vec!["i-0b2".into()],
        }
    }
}

impl Scenario {
    /// A scenario from JSON (a scenario file).
    ///
    /// ```
    /// use lifecycle_examples::local::Scenario;
    /// let scenario = Scenario::from_json(r#"{"nodes": [{"id": "i-1", "kind": "worker"}]}"#).unwrap();
    /// assert_eq!(scenario.nodes[0].id, "i-1");
    /// assert!(Scenario::from_json(r#"{"nodes": [], "colour": "blue"}"#).is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Self, SimulationError> {
        let scenario: Scenario =
            serde_json::from_str(text).map_err(|e| SimulationError::Scenario(e.to_string()))?;
        scenario.validate()?;
        Ok(scenario)
    }

    fn validate(&self) -> Result<(), SimulationError> {
        if self.nodes.is_empty() {
            return Err(SimulationError::Scenario("no nodes".into()));
        }
        let known: Vec<&str> = self.nodes.iter().map(|n| n.id.as_str()).collect();
        for node in &self.nodes {
            if !matches!(node.kind.as_str(), "manager" | "worker") {
                return Err(SimulationError::Scenario(format!(
                    "node `{}`: kind `{}` is neither manager nor worker",
                    node.id, node.kind
                )));
            }
            if known.iter().filter(|k| **k == node.id).count() > 1 {
                return Err(SimulationError::Scenario(format!(
                    "node `{}` is listed twice",
                    node.id
                )));
            }
        }
        for id in self.failing_joins.iter().chain(&self.terminate) {
            if !known.contains(&id.as_str()) {
                return Err(SimulationError::UnknownInstance(
                    id.clone(),
                    known.join(", "),
                ));
            }
        }
        Ok(())
    }
}

/// The simulation cannot run, or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulationError {
    /// A scenario names an instance that is not in it.
    #[error("instance `{0}` is not in the scenario (known: {1})")]
    UnknownInstance(String, String),
    /// A scenario file is not valid.
    #[error("scenario: {0}")]
    Scenario(String),
    /// The node table failed.
    #[error("node table: {0}")]
    Table(String),
    /// The runtime returned an error.
    #[error("handling {event}: {message}")]
    Handle {
        /// What was being handled.
        event: String,
        /// The error.
        message: String,
    },
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Time since the simulation started.
    pub elapsed: Duration,
    /// The instance.
    pub instance: String,
    /// `launching`, `terminating`, `command Success`, `stream`, ...
    pub event: String,
    /// The state before.
    pub from: String,
    /// The state after.
    pub to: String,
    /// The trigger, or what happened instead.
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
    pub state: String,
    /// Its lifecycle actions, as completed.
    pub completions: Vec<Completion>,
}

/// What the simulation did.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every step, in order.
    pub timeline: Vec<Step>,
    /// Every instance, in scenario order.
    pub nodes: Vec<NodeOutcome>,
    /// The addresses published under the manager and worker DNS names.
    pub dns: Vec<(String, Vec<String>)>,
    /// How many events were handled.
    pub events: usize,
}

/// An event to deliver, and its label in the timeline.
struct Delivery {
    instance: String,
    label: String,
    payload: Value,
}

/// Runs `scenario` through the cluster model on `table`.
///
/// ```
/// use lifecycle_aws::local::MemoryTable;
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
    let ssm = Arc::new(RecordingCommands::new());
    let autoscaling = Arc::new(RecordingActions::new());
    let dns = MemoryDns::default();
    let model_dns = dns.clone();
    let runtime = Runtime::with_parts(table, ssm.clone(), autoscaling.clone(), move || {
        ClusterNode::new(model_dns.clone())
    });
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

    let started = Instant::now();
    let mut timeline = Vec::new();
    let mut events = 0;
    let mut commands_seen = 0;
    let mut queue: VecDeque<Delivery> = scenario
        .nodes
        .iter()
        .map(|n| lifecycle_event(&n.id, LifecycleTransition::Launching))
        .collect();
    let mut terminations: VecDeque<Delivery> = scenario
        .terminate
        .iter()
        .map(|id| lifecycle_event(id, LifecycleTransition::Terminating))
        .collect();

    while let Some(delivery) = queue.pop_front().or_else(|| terminations.pop_front()) {
        events += 1;
        let response =
            runtime
                .handle(&delivery.payload)
                .await
                .map_err(|e| SimulationError::Handle {
                    event: format!("{} for {}", delivery.label, delivery.instance),
                    message: e.to_string(),
                })?;
        let elapsed = started.elapsed();
        let outcomes: Vec<Outcome> = serde_json::from_value(response["outcomes"].clone())
            .expect("the runtime's outcomes read back");
        for outcome in outcomes {
            let line = |from: &str, to: &str, what: String| Step {
                elapsed,
                instance: delivery.instance.clone(),
                event: delivery.label.clone(),
                from: from.to_owned(),
                to: to.to_owned(),
                what,
            };
            match outcome {
                Outcome::Dispatched {
                    steps,
                    start,
                    end,
                    stop,
                    ..
                } if steps.is_empty() => {
                    timeline.push(line(&start, &end, format!("no trigger ({stop})")));
                }
                Outcome::Dispatched { steps, .. } => {
                    for step in steps {
                        let what = match (step.trigger, step.failure) {
                            (Some(trigger), _) => trigger,
                            (None, Some(failure)) => format!("failed: {failure}"),
                            (None, None) => String::new(),
                        };
                        timeline.push(line(&step.from, &step.to, what));
                    }
                }
                Outcome::Parked { .. } => {
                    timeline.push(line(
                        "pending",
                        "pending",
                        "parked until cloud-init finishes".into(),
                    ));
                    // ... which it does now: its last line, and the stream record that follows.
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
                    queue.push_back(Delivery {
                        instance: delivery.instance.clone(),
                        label: "stream".into(),
                        payload: stream_record_event(&before, &after),
                    });
                }
                Outcome::Heartbeat { command_id } => {
                    timeline.push(line("", "", format!("heartbeat ({command_id})")));
                }
                Outcome::Registered { state, .. } => {
                    timeline.push(line("", &state, "cloud-init progress".into()));
                }
                Outcome::Swept {
                    kept_alive,
                    expired,
                    failed,
                    ..
                } => timeline.push(line(
                    "",
                    "",
                    format!(
                        "sweep: {} kept alive, {} expired, {} failed",
                        kept_alive.len(),
                        expired.len(),
                        failed.len()
                    ),
                )),
                Outcome::Ignored { reason } => {
                    timeline.push(line("", "", format!("ignored: {reason}")))
                }
            }
        }

        // Simulated SSM: each new command finishes, and its status-change event arrives.
        let sent = ssm.sent();
        for (command_id, request) in &sent[commands_seen..] {
            let target = &request.instance_ids[0];
            let fails =
                request.document_name == "ClusterJoin" && scenario.failing_joins.contains(target);
            let status = if fails { "Failed" } else { "Success" };
            queue.push_back(Delivery {
                instance: target.clone(),
                label: format!("command {status}"),
                payload: command_status_event(command_id, target, &request.document_name, status),
            });
        }
        commands_seen = sent.len();
    }

    let completions = autoscaling.completions();
    let mut nodes = Vec::new();
    for node in &scenario.nodes {
        nodes.push(NodeOutcome {
            id: node.id.clone(),
            kind: node.kind.clone(),
            state: load(runtime.store(), &node.id).await?.state,
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
        timeline,
        nodes,
        dns,
        events,
    })
}

async fn load<T: NodeTable>(table: &T, ident: &str) -> Result<Record, SimulationError> {
    table
        .load(ident)
        .await
        .map_err(|e| SimulationError::Table(e.to_string()))?
        .ok_or_else(|| SimulationError::Table(format!("`{ident}` vanished from the table")))
}

/// What cloud-init does to the record: a conditional state change with attributes.
async fn set_state<T: NodeTable>(
    table: &T,
    ident: &str,
    from: &str,
    version: u64,
    to: &str,
    set: &[(String, Value)],
) -> Result<(), SimulationError> {
    let token = lifecycle_core::delivery_id();
    let change = StateChange {
        ident,
        from,
        version,
        to,
        set,
        token: &token,
    };
    match table.compare_and_set(change).await {
        Ok(lifecycle_core::CasOutcome::Applied { .. }) => Ok(()),
        Ok(lifecycle_core::CasOutcome::Conflict) => Err(SimulationError::Table(format!(
            "`{ident}` changed under cloud-init"
        ))),
        Err(e) => Err(SimulationError::Table(e.to_string())),
    }
}

/// An Auto Scaling lifecycle action of the simulated group, as EventBridge delivers it.
fn lifecycle_event(instance: &str, transition: LifecycleTransition) -> Delivery {
    let label = match transition {
        LifecycleTransition::Launching => "launching",
        LifecycleTransition::Terminating => "terminating",
    };
    Delivery {
        instance: instance.to_owned(),
        label: label.to_owned(),
        payload: lifecycle_action_event(instance, GROUP, transition),
    }
}
