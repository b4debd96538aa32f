//! A simulated Auto Scaling group, run through the Lambda's own code path: every event is the
//! JSON AWS would deliver, decoded by `lifecycle-aws` and handled by its
//! [`Runtime`] over a node table (in memory, or any
//! DynamoDB-compatible server). SSM and Auto Scaling are simulated behind the same traits the
//! Lambda uses: a sent command finishes and its status-change event arrives; completions are
//! recorded.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lifecycle_aws::runtime::{Outcome, Runtime};
use lifecycle_aws::store::NodeTable;
use lifecycle_aws::testing::{
    FakeAutoScaling, RecordingActions, RecordingCommands, command_status_event, scheduled_event,
    spot_interruption_event, stream_record_event,
};
use lifecycle_core::{
    LifecycleModel, LifecycleResult, LifecycleTransition, Location, ModelDefinition, Record,
    StateChange,
};
use serde::Deserialize;
use serde_json::Value;

use crate::backup::NightlyBackup;
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

/// An event to deliver at a simulated time, and its label in the timeline.
struct Delivery {
    at: u64,
    instance: String,
    label: String,
    payload: Value,
    /// A lifecycle action Auto Scaling opens at `at`: the payload is its event.
    opens: Option<Opens>,
}

/// What Auto Scaling does to an instance that opens a lifecycle action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opens {
    Launch,
    LaunchIntoWarmPool,
    LaunchFromWarmPool,
    Terminate,
}

/// How often the template's `lifecycle-sweep` rule runs.
const SWEEP_PERIOD: u64 = 300;

impl Delivery {
    /// A timeline row of this delivery.
    fn row(&self, from: &str, to: &str, what: String) -> Step {
        Step {
            at: Duration::from_secs(self.at),
            instance: self.instance.clone(),
            event: self.label.clone(),
            from: from.to_owned(),
            to: to.to_owned(),
            what,
        }
    }
}

/// Hands `delivery` to the runtime as the Lambda would (its JSON text), at its simulated time.
async fn deliver<M, F, T>(
    runtime: &Runtime<M, F, T>,
    clock: &SimulatedClock,
    delivery: &Delivery,
) -> Result<Vec<Outcome>, SimulationError>
where
    M: lifecycle_core::LifecycleModel,
    F: Fn() -> M + Send + Sync,
    T: NodeTable,
{
    clock
        .0
        .store(delivery.at, std::sync::atomic::Ordering::Relaxed);
    let answer = runtime
        .handle_bytes(delivery.payload.to_string().as_bytes())
        .await
        .map_err(|e| SimulationError::Handle {
            event: format!("{} for {}", delivery.label, delivery.instance),
            message: e.to_string(),
        })?;
    Ok(answer.outcomes)
}

/// Deliveries in simulated-time order (first come, first served at the same second).
#[derive(Default)]
struct Queue {
    pending: Vec<(u64, usize, Delivery)>,
    pushed: usize,
}

impl Queue {
    fn push(&mut self, delivery: Delivery) {
        self.pushed += 1;
        self.pending.push((delivery.at, self.pushed, delivery));
    }

    fn pop(&mut self) -> Option<Delivery> {
        let next =
            (0..self.pending.len()).min_by_key(|&i| (self.pending[i].0, self.pending[i].1))?;
        Some(self.pending.swap_remove(next).2)
    }
}

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

/// The runtime's clock: simulated seconds after 2026-11-25T10:00:00Z.
#[derive(Debug, Default)]
struct SimulatedClock(std::sync::atomic::AtomicU64);

const SIMULATION_START: u64 = 1_795_600_800;

impl lifecycle_aws::runtime::Clock for SimulatedClock {
    fn now(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH
            + Duration::from_secs(
                SIMULATION_START + self.0.load(std::sync::atomic::Ordering::Relaxed),
            )
    }
}

/// What a timeline row says about a trigger: why it fired, and which triggers tried before it
/// their guards turned down.
fn explain(
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
fn rows<S: lifecycle_core::State>(
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
    // Auto Scaling in memory: it holds each action until it is completed, and the runtime
    // asks it, as deployed, before acting on an event and in the sweep.
    let autoscaling = Arc::new(FakeAutoScaling::new().with_group(GROUP));
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

/// The instance the backup simulation backs up.
pub const BACKUP_INSTANCE: &str = "i-0d47a5e1c9b3f2a68";

/// Runs the nightly backup on `table`: the scheduled rule `backup` fires, the backup command
/// is sent to [`BACKUP_INSTANCE`] and waited for, its result finishes the run; then the rule
/// fires again the next night and the run starts over.
///
/// ```
/// use lifecycle_aws::local::MemoryTable;
/// let report = tokio::runtime::Builder::new_current_thread()
///     .build()
///     .unwrap()
///     .block_on(lifecycle_examples::local::simulate_backup(MemoryTable::new()))
///     .unwrap();
/// assert_eq!(report.nodes[0].state, "done");
/// ```
pub async fn simulate_backup<T: NodeTable>(table: T) -> Result<Report, SimulationError> {
    let ssm = Arc::new(RecordingCommands::new());
    let clock = Arc::new(SimulatedClock::default());
    let runtime = Runtime::with_parts(
        table,
        ssm.clone(),
        Arc::new(RecordingActions::new()),
        || NightlyBackup {
            instance: BACKUP_INSTANCE.into(),
            destination: "s3://backups/nightly".into(),
        },
    )
    .with_clock(clock.clone());
    let mut timeline = Vec::new();
    let mut events = 0;
    let mut commands_seen = 0;
    let mut queue = Queue::default();
    const NIGHT: u64 = 24 * 3600;
    for night in 0..2 {
        queue.push(Delivery {
            at: night * NIGHT,
            instance: "backup".into(),
            label: "scheduled backup".into(),
            payload: scheduled_event("backup"),
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

/// A launch of a warm-pool instance: into the pool (`to` = `WarmPool`) or from it into the
/// group. Auto Scaling opens the action when its time comes, and sends its event.
fn routed_event(instance: &str, to: Location, at: u64) -> Delivery {
    let (opens, label) = match to {
        Location::WarmPool => (Opens::LaunchIntoWarmPool, "launching into warm pool"),
        _ => (Opens::LaunchFromWarmPool, "launching from warm pool"),
    };
    Delivery {
        at,
        instance: instance.to_owned(),
        label: label.to_owned(),
        payload: Value::Null,
        opens: Some(opens),
    }
}

/// A lifecycle action of the simulated group: Auto Scaling opens it when its time comes, and
/// sends its event (as EventBridge delivers it).
fn lifecycle_event(instance: &str, transition: LifecycleTransition, at: u64) -> Delivery {
    let (opens, label) = match transition {
        LifecycleTransition::Launching => (Opens::Launch, "launching"),
        LifecycleTransition::Terminating => (Opens::Terminate, "terminating"),
    };
    Delivery {
        at,
        instance: instance.to_owned(),
        label: label.to_owned(),
        payload: Value::Null,
        opens: Some(opens),
    }
}
