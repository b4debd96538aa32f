//! A simulated Auto Scaling group, run through the Lambda's own code path: every event is the
//! JSON AWS would deliver, decoded by `lifecycle-aws` and handled by its
//! [`Runtime`](lifecycle_aws::runtime::Runtime) over a node table (in memory, or any
//! DynamoDB-compatible server). SSM and Auto Scaling are simulated behind the same traits the
//! Lambda uses: a sent command finishes and its status-change event arrives; completions are
//! recorded.

mod backup;
mod cluster;
mod delivery;
mod timeline;

use std::collections::BTreeSet;
use std::time::Duration;

use lifecycle_aws::store::NodeTable;
use lifecycle_core::{LifecycleResult, LifecycleTransition, Record, StateChange};
use serde::Deserialize;
use serde_json::Value;

pub use backup::{BACKUP_INSTANCE, simulate_backup};
pub use cluster::simulate;

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
    /// It launches into the group's warm pool first (prepared, then stopped), and from the
    /// pool into the group later.
    #[serde(default)]
    pub warm_pool: bool,
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
    /// Spot instances EC2 takes back once every launch has settled: the interruption warning,
    /// and two minutes later the terminate lifecycle action.
    #[serde(default)]
    pub spot_interruptions: Vec<String>,
    /// Lifecycle action events that never arrive: `ID` (the instance's launch into its group)
    /// or `ID:terminating`. Auto Scaling holds the action all the same; the sweep finds it.
    #[serde(default)]
    pub lose_events: Vec<String>,
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
            warm_pool: false,
        };
        Scenario {
            nodes: vec![
                node("i-0a1b2c3d4e5f60001", "manager", true),
                node("i-0a1b2c3d4e5f60002", "worker", false),
                node("i-0a1b2c3d4e5f60003", "worker", false),
            ],
            failing_joins: ["i-0a1b2c3d4e5f60003".to_owned()].into(),
            terminate: vec!["i-0a1b2c3d4e5f60002".into()],
            spot_interruptions: Vec::new(),
            lose_events: Vec::new(),
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

    /// Checks the scenario: known kinds, no instance twice, failures and terminations of
    /// instances it has.
    pub fn validate(&self) -> Result<(), SimulationError> {
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
        for id in self
            .failing_joins
            .iter()
            .chain(&self.terminate)
            .chain(&self.spot_interruptions)
        {
            if !known.contains(&id.as_str()) {
                return Err(SimulationError::UnknownInstance(
                    id.clone(),
                    known.join(", "),
                ));
            }
        }
        for lost in &self.lose_events {
            let (id, which) = lost.split_once(':').unwrap_or((lost, "launching"));
            if !known.contains(&id) {
                return Err(SimulationError::UnknownInstance(
                    id.to_owned(),
                    known.join(", "),
                ));
            }
            if !matches!(which, "launching" | "terminating") {
                return Err(SimulationError::Scenario(format!(
                    "lost event `{lost}`: `{which}` is neither launching nor terminating (write `ID` or `ID:terminating`)"
                )));
            }
            if which == "terminating"
                && !self.terminate.contains(&id.to_owned())
                && !self.spot_interruptions.contains(&id.to_owned())
            {
                return Err(SimulationError::Scenario(format!(
                    "lost event `{lost}`: `{id}` is not terminated in this scenario"
                )));
            }
        }
        if let Some(both) = self
            .spot_interruptions
            .iter()
            .find(|id| self.terminate.contains(id))
        {
            return Err(SimulationError::Scenario(format!(
                "`{both}` is both terminated and interrupted: a Spot interruption brings its own termination; name it once"
            )));
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
    /// Simulated time since the simulation started (each kind of event takes its usual time:
    /// a join command about 12 s, a slow cloud-init about a minute).
    pub at: Duration,
    /// The instance.
    pub instance: String,
    /// `launching`, `terminating`, `ClusterJoin Success` (a command's result), `stream`,
    /// `CompleteLifecycleAction`, ...
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
    /// Its record's stored history at the end (what `status --instance` prints).
    pub history: Vec<lifecycle_core::HistoryEntry>,
}

/// What the simulation did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The model's name.
    pub model: &'static str,
    /// Every step, in order.
    pub timeline: Vec<Step>,
    /// Every instance, in scenario order.
    pub nodes: Vec<NodeOutcome>,
    /// The addresses published under the manager and worker DNS names.
    pub dns: Vec<(String, Vec<String>)>,
    /// How many events were handled.
    pub events: usize,
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
