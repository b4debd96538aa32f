//! The deterministic simulation's engine, for any model: a fleet on Auto Scaling driven by one
//! seed (the world, its faults, the invariants every run must keep). A model is simulated by
//! implementing [`Simulated`]: how its records start, and what it owes each instance given what
//! SSM made of its commands. `lifecycle-aws/tests/simulation.rs` runs the worker model;
//! `tests/tests/simulation_cluster.rs` the cluster example's.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use crate::faults::{Faults, FaultyActions, FaultyCommands, FaultyTable, Mask};
use crate::rng::Rng;
use lifecycle_aws::actions::{ActionError, Completed, LifecycleActions};
use lifecycle_aws::runtime::{Answer, Clock, HandleError, Runtime};
use lifecycle_aws::store::MemoryTable;
use lifecycle_aws::testing::{
    MemoryAutoScaling, MemoryCommands, command_status_event, instance_state_event, rebalance_event,
    scheduled_event, spot_interruption_event, stream_record_event,
};
use lifecycle_core::{
    CommandStatus, LifecycleAction, LifecycleModel, LifecycleResult, LifecycleTransition, Record,
};
use serde_json::Value;

/// A model the simulation runs: how its records start, how it is built, and what it owes.
pub trait Simulated: LifecycleModel + Sized + 'static {
    /// Its name in the simulation's output and in `scripts/simulate --model`.
    const NAME: &'static str;
    /// What the model's tasks act on beyond SSM (the cluster's DNS), one per run.
    type Surroundings: Default + Send + Sync + 'static;

    /// How the runtime builds the model for each delivery.
    fn build(surroundings: &Arc<Self::Surroundings>) -> ModelFactory<Self>;

    /// Instance `n`'s record, as cloud-init registered it.
    fn registered(instance: &str, n: usize) -> Record;

    /// Instance `n`'s record while cloud-init has not finished, for a model whose launch waits
    /// for it (one with states before its initial state): `None` for one that does not.
    fn before_cloud_init(_instance: &str, _n: usize) -> Option<Record> {
        None
    }

    /// What the model owes `instance` by the end of the run.
    fn owed(instance: &Instance<'_>) -> Owed;

    /// What must hold of the surroundings at the end of the run, every instance gone.
    fn check_surroundings(_surroundings: &Self::Surroundings) -> Result<(), String> {
        Ok(())
    }

    /// The scheduled rule of a model that runs as a job (the backup's `backup`): the world is
    /// then [`RUNS`] firings of that rule, with no instance and no Auto Scaling; `None` for a
    /// model of a fleet.
    const RULE: Option<&'static str> = None;

    /// What must hold at the end of a job's run: its rule's runs as the world saw them, and
    /// the rule's record (what it may still hold, [`holding`], is the model's to judge: a run
    /// whose every invocation failed leaves its delivery's claim, for the next run to let go).
    fn check_runs(_runs: &[Run], _record: Option<&Record>) -> Result<(), String> {
        Ok(())
    }
}

/// How many times a job's rule fires in one run, and how far apart.
pub const RUNS: usize = 3;
pub const RUN_PERIOD: u64 = 7200;

/// One firing of a job's scheduled rule, as the world saw it.
#[derive(Debug, Default)]
pub struct Run {
    /// When the rule fired.
    pub fired_at: u64,
    /// The rule's record's state then (`None`: no record yet).
    pub state_when_fired: Option<String>,
    /// Whether a delivery of its event was answered (not failed, not crashed).
    pub handled: bool,
    /// The commands SSM ran from then to the next firing (the engine withdrew none of them),
    /// each with the status it ended with.
    pub commands: Vec<(String, &'static str)>,
}

/// A node's record as the original library's cloud-init wrote it, in `state`: its role
/// (`ItemType`) and its address (`InstanceIp`, the `n`-th of the run).
pub fn node_record(instance: &str, n: usize, state: &str, role: &str) -> Record {
    Record::new(instance, state)
        .with("ItemType", role)
        .with("InstanceIp", format!("10.0.{}.{}", n / 250, n % 250 + 1))
}

/// How the runtime builds a simulated model.
pub type ModelFactory<M> = Box<dyn Fn() -> M + Send + Sync>;

/// One instance of a run, as far as its model's duties go.
pub struct Instance<'a> {
    /// Its place among the run's instances.
    pub n: usize,
    /// Whether it launched into the warm pool before the group.
    pub warm: bool,
    /// The commands SSM ran for it (the engine withdrew none of them), in order, each with the
    /// status it ended with.
    pub commands: &'a [(&'a str, &'a str)],
    /// The state its record ended in, for a model whose faults legitimately choose between
    /// ends (an `after` task runs at most once): the completions must be that end's.
    pub state: &'a str,
}

/// What a model owes an instance.
pub struct Owed {
    /// Each lifecycle action completed once, in order, with its result.
    pub completions: Vec<(LifecycleTransition, LifecycleResult)>,
    /// The commands sent, in order.
    pub documents: Vec<&'static str>,
    /// The states its record may rest in.
    pub at_rest: Vec<&'static str>,
}

pub const GROUPS: [&str; 2] = ["workers", "batch"];
pub const SWEEP_PERIOD: u64 = 300;
/// SQS's visibility timeout (the template's): a delivery that failed, or whose process died,
/// comes again after it.
const VISIBILITY: u64 = 180;
/// SQS's redrive policy (the template's): a message received this often goes to the
/// dead-letter queue instead.
const MAX_RECEIVES: u32 = 8;
/// Lambda's retries of an asynchronous invocation (the scheduled sweep's), a minute, then
/// two, apart; then the event goes to the rule's dead-letter queue.
const SWEEP_RETRIES: u32 = 2;
/// The table stream's retries of a failed batch (the template's `MaximumRetryAttempts`).
const STREAM_RETRIES: u32 = 10;
/// The runtime's claim lease (its default): a paused delivery comes back after it.
const LEASE: u64 = 60;
const START: u64 = 1_795_600_800;
/// The hooks' heartbeat timeout (`MemoryAutoScaling::with_group`, as the template sets).
const HEARTBEAT_TIMEOUT: u64 = 600;

/// The kinds of fault, each of which the seed may use; shrinking turns them off one by one.
const KINDS: [&str; 8] = [
    "table",
    "ssm",
    "autoscaling",
    "lost",
    "late",
    "twice",
    "crash",
    "race",
];

#[derive(Clone, Copy)]
pub struct Kinds(u8);

impl Kinds {
    pub const ALL: Kinds = Kinds(0xff);

    fn has(self, kind: &str) -> bool {
        KINDS
            .iter()
            .position(|k| *k == kind)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }

    fn without(self, i: usize) -> Kinds {
        Kinds(self.0 & !(1 << i))
    }

    /// Whether calls to DynamoDB, SSM or Auto Scaling fail.
    fn calls_fail(self) -> bool {
        self.has("table") || self.has("ssm") || self.has("autoscaling")
    }

    fn names(self) -> String {
        let names: Vec<&str> = (0..KINDS.len())
            .filter(|i| self.0 & (1 << i) != 0)
            .map(|i| KINDS[i])
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(",")
        }
    }

    pub fn parse(text: &str) -> Kinds {
        let mut bits = 0;
        for name in text.split(',').filter(|n| !n.is_empty() && *n != "none") {
            let i = KINDS
                .iter()
                .position(|k| *k == name)
                .unwrap_or_else(|| panic!("unknown fault kind `{name}`: one of {KINDS:?}"));
            bits |= 1 << i;
        }
        Kinds(bits)
    }
}

#[derive(Default)]
struct SimClock(AtomicU64);

impl Clock for SimClock {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(START + self.0.load(Ordering::Relaxed))
    }
}

/// Auto Scaling's lifecycle action calls, timed: when each action was kept alive, and when it
/// was completed, on the simulated clock.
struct TimedActions {
    inner: Arc<MemoryAutoScaling>,
    clock: Arc<SimClock>,
    /// (instance, transition, time, completed) of each call Auto Scaling took.
    log: std::sync::Mutex<Vec<(String, LifecycleTransition, u64, bool)>>,
}

#[async_trait::async_trait]
impl LifecycleActions for TimedActions {
    async fn complete(
        &self,
        action: &LifecycleAction,
        region: Option<&str>,
        result: LifecycleResult,
    ) -> Result<Completed, ActionError> {
        let done = self.inner.complete(action, region, result).await?;
        self.note(action, done, true);
        Ok(done)
    }

    async fn heartbeat(
        &self,
        action: &LifecycleAction,
        region: Option<&str>,
    ) -> Result<Completed, ActionError> {
        let done = self.inner.heartbeat(action, region).await?;
        self.note(action, done, false);
        Ok(done)
    }
}

impl TimedActions {
    fn note(&self, action: &LifecycleAction, done: Completed, completed: bool) {
        if done == Completed::Done {
            self.log.lock().unwrap().push((
                action.ec2_instance_id.clone(),
                action.lifecycle_transition,
                self.clock.0.load(Ordering::Relaxed),
                completed,
            ));
        }
    }
}

type Table = FaultyTable<MemoryTable>;
type Sim<M> = Runtime<M, ModelFactory<M>, Table>;
type Handling<'r> = Pin<Box<dyn Future<Output = Result<Answer, HandleError>> + 'r>>;

/// An action Auto Scaling opens.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Opening {
    /// A launch into the group.
    Launch,
    /// A launch into the group's warm pool (the model prepares, and the pool stops it).
    IntoWarmPool,
    /// A launch from the warm pool into the group.
    FromWarmPool,
    Terminate,
}

impl Opening {
    fn transition(self) -> LifecycleTransition {
        match self {
            Opening::Terminate => LifecycleTransition::Terminating,
            _ => LifecycleTransition::Launching,
        }
    }
}

/// A message on its way to the function, and how often it was received.
struct Message {
    payload: Value,
    label: String,
    receives: u32,
}

impl Message {
    fn new(payload: Value, label: String) -> Self {
        Message {
            payload,
            label,
            receives: 0,
        }
    }
}

enum Happening {
    /// Auto Scaling opens an action of instance `i`.
    Open(usize, Opening),
    /// EC2 warns of a Spot interruption (or recommends a rebalance), then Auto Scaling
    /// terminates the instance two minutes later.
    Warn(usize, bool),
    /// A message reaches the function.
    Deliver(Message),
    /// A paused delivery comes back.
    Resume(usize),
    /// SSM ends a command (`Cancelled` instead, if it was cancelled before).
    CommandEnds {
        id: String,
        target: String,
        document: String,
        status: &'static str,
        requested: u64,
    },
    Sweep,
    /// Cloud-init finishes on instance `i`: it writes the record's state, and the table's
    /// stream delivers the change.
    CloudInit(usize),
    /// A job's scheduled rule fires, the `r`-th time.
    Run(usize),
}

/// What the runs did, in sum.
#[derive(Default, Debug, Clone)]
pub struct Figures {
    /// Instances, each one lifecycle from its launch to its end.
    instances: u64,
    lifecycles: u64,
    deliveries: u64,
    faults: u64,
    crashes: u64,
    pauses: u64,
    races: u64,
    lost: u64,
    late: u64,
    twice: u64,
    failed_commands: u64,
    cancelled_commands: u64,
    /// Messages the queue gave up on (or sweeps Lambda did).
    dead_lettered: u64,
    /// Instances that started in the warm pool.
    warm: u64,
    /// Instances whose cloud-init finished after their launch's event.
    slow_cloud_init: u64,
    /// Firings of a job's scheduled rule.
    runs: u64,
    /// The longest an action went without a heartbeat or its completion.
    longest_silence: u64,
    silent_too_long: u64,
    silent_past_one_sweep: u64,
}

impl Figures {
    fn add(&mut self, other: &Figures) {
        self.instances += other.instances;
        self.lifecycles += other.lifecycles;
        self.deliveries += other.deliveries;
        self.faults += other.faults;
        self.crashes += other.crashes;
        self.pauses += other.pauses;
        self.races += other.races;
        self.lost += other.lost;
        self.late += other.late;
        self.twice += other.twice;
        self.failed_commands += other.failed_commands;
        self.cancelled_commands += other.cancelled_commands;
        self.dead_lettered += other.dead_lettered;
        self.warm += other.warm;
        self.slow_cloud_init += other.slow_cloud_init;
        self.runs += other.runs;
        self.longest_silence = self.longest_silence.max(other.longest_silence);
        self.silent_too_long += other.silent_too_long;
        self.silent_past_one_sweep += other.silent_past_one_sweep;
    }
}

/// `seconds` after the start, as RFC 3339 (what SSM writes in `requested-date-time`), by the
/// SDK's own formatter.
pub fn rfc3339(seconds: u64) -> String {
    use aws_smithy_types::DateTime;
    use aws_smithy_types::date_time::Format;
    let time = DateTime::from_secs(i64::try_from(START + seconds).expect("a simulated time"));
    time.fmt(Format::DateTime).expect("a time in range")
}

/// Polls `handling` once with a waker that does nothing: the fakes are never pending but for
/// their one yield per call, which is ready on the next poll.
fn poll_once(handling: &mut Handling<'_>) -> Poll<Result<Answer, HandleError>> {
    handling
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
}

/// The world of one run.
struct World {
    rng: Rng,
    kinds: Kinds,
    queue: BTreeMap<(u64, u64), Happening>,
    order: u64,
    trace: Vec<String>,
    figures: Figures,
    /// The runs of a job's rule some delivery of whose event was answered.
    handled_runs: std::collections::BTreeSet<usize>,
    /// Which of the faults drawn happen (a shrunk run leaves some out).
    mask: Arc<Mask>,
}

impl World {
    fn at(&mut self, time: u64, what: Happening) {
        self.order += 1;
        self.queue.insert((time, self.order), what);
    }

    /// Delivers `event` as the queue would: now, maybe twice, maybe late, maybe never (if it
    /// `may_be_lost`: something that finds out without it, the sweep).
    fn send(&mut self, now: u64, event: Value, label: String, may_be_lost: bool) {
        if may_be_lost && self.kinds.has("lost") && self.mask.keep(self.rng.chance(4)) {
            self.figures.lost += 1;
            self.trace.push(format!("{now:>6}  lost     {label}"));
            return;
        }
        let mut when = now + self.rng.between(0, 3);
        if self.kinds.has("late") && self.mask.keep(self.rng.chance(4)) {
            self.figures.late += 1;
            when = (now / SWEEP_PERIOD + 1) * SWEEP_PERIOD + self.rng.between(1, 600);
        }
        if self.kinds.has("twice") && self.mask.keep(self.rng.chance(5)) {
            self.figures.twice += 1;
            let again = now + self.rng.between(1, 900);
            let twin = Message::new(event.clone(), label.clone());
            self.at(again, Happening::Deliver(twin));
        }
        self.at(when, Happening::Deliver(Message::new(event, label)));
    }

    /// `message` failed (or its process died): received again after the visibility timeout
    /// (the sweep's invocation: retried after a minute, then two), or dead-lettered.
    fn again(&mut self, now: u64, mut message: Message) {
        message.receives += 1;
        let (limit, after) = if message.label == "sweep" || message.label.starts_with("run ") {
            (SWEEP_RETRIES + 1, 60 * u64::from(message.receives))
        } else if message.label.starts_with("stream") {
            // The table's stream: the batch again at once, up to the template's retries,
            // then to the on-failure destination.
            (STREAM_RETRIES + 1, u64::from(message.receives))
        } else {
            (MAX_RECEIVES, VISIBILITY)
        };
        if message.receives >= limit {
            self.figures.dead_lettered += 1;
            self.trace.push(format!(
                "{now:>6}  dead-letter {} (received {} times)",
                message.label, message.receives
            ));
            return;
        }
        self.at(now + after, Happening::Deliver(message));
    }
}

/// Runs one seed; `Err` says which invariant failed.
fn run_seed<M: Simulated>(
    seed: u64,
    kinds: Kinds,
    keep_trace: bool,
    mask: Arc<Mask>,
) -> Result<Figures, (String, Vec<String>)> {
    let mut rng = Rng::new(seed);
    let instances = rng.between(2, 6) as usize;
    // A job's world has no instance.
    let instances = if M::RULE.is_some() { 0 } else { instances };
    let ids: Vec<String> = (0..instances)
        .map(|i| format!("i-{seed:010x}{i:07x}"))
        .collect();
    let faults = Faults::seeded(seed ^ 0xA5A5, 3).with_mask(mask.clone());
    let quiet = Faults::seeded(seed ^ 0x5A5A, 0);
    let pick = |on: bool| if on { faults.clone() } else { quiet.clone() };
    let mut aws = MemoryAutoScaling::new();
    for group in GROUPS {
        aws = aws.with_group(group);
    }
    let aws = Arc::new(aws);
    let ssm = Arc::new(MemoryCommands::new());
    let clock = Arc::new(SimClock::default());
    let table = FaultyTable {
        inner: MemoryTable::new(),
        faults: pick(kinds.has("table")),
    };
    let commands = Arc::new(FaultyCommands::new(ssm.clone(), pick(kinds.has("ssm"))));
    let timed = Arc::new(TimedActions {
        inner: aws.clone(),
        clock: clock.clone(),
        log: std::sync::Mutex::new(Vec::new()),
    });
    let actions = Arc::new(FaultyActions {
        inner: timed.clone(),
        faults: pick(kinds.has("autoscaling")),
    });
    let surroundings = Arc::new(M::Surroundings::default());
    let runtime: Sim<M> = Runtime::with_parts(table, commands, actions, M::build(&surroundings))
        .with_fleet(aws.clone())
        .with_groups(GROUPS)
        .with_clock(clock.clone());

    let mut world = World {
        rng,
        kinds,
        queue: BTreeMap::new(),
        order: 0,
        trace: Vec::new(),
        figures: Figures {
            instances: instances as u64,
            ..Figures::default()
        },
        handled_runs: std::collections::BTreeSet::new(),
        mask: mask.clone(),
    };
    // A third of the instances start in the group's warm pool.
    let warm: Vec<bool> = (0..instances).map(|_| world.rng.chance(33)).collect();
    for (i, warm) in warm.iter().enumerate() {
        let t = world.rng.between(0, 900);
        let opening = if *warm {
            Opening::IntoWarmPool
        } else {
            Opening::Launch
        };
        world.at(t, Happening::Open(i, opening));
    }
    // With a model that waits for it, a third of the instances finish cloud-init after their
    // launch's event (which parks), up to ten minutes after Auto Scaling opened it.
    for (n, id) in ids.iter().enumerate() {
        let opens = world
            .queue
            .iter()
            .find(|(_, h)| matches!(h, Happening::Open(i, _) if *i == n))
            .map(|(key, _)| key.0)
            .unwrap_or_default();
        let record = match M::before_cloud_init(id, n) {
            Some(before) if world.rng.chance(33) => {
                world.figures.slow_cloud_init += 1;
                let finishes = opens + world.rng.between(0, 600);
                world.at(finishes, Happening::CloudInit(n));
                before
            }
            _ => M::registered(id, n),
        };
        runtime.store().inner.records().insert(record);
    }
    // A job's rule fires every RUN_PERIOD, some minutes past the hour.
    let mut runs: Vec<Run> = Vec::new();
    if M::RULE.is_some() {
        for r in 0..RUNS {
            let t = r as u64 * RUN_PERIOD + world.rng.between(0, 600);
            world.at(t, Happening::Run(r));
            runs.push(Run::default());
        }
    }
    let mut left_pool = vec![false; instances];
    let mut terminated = vec![false; instances];
    let mut sweep_at = SWEEP_PERIOD;
    let mut sweeping = true;
    world.at(sweep_at, Happening::Sweep);
    // The final status SSM gives each command, by id; and what each instance is owed.
    let mut finals: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut accepted: Vec<(String, String, String)> = Vec::new();
    let mut sent_at: BTreeMap<String, u64> = BTreeMap::new();
    let mut in_service = vec![false; instances];
    // When Auto Scaling opened each action.
    let mut opened: Vec<(String, LifecycleTransition, u64)> = Vec::new();
    let mut paused: Vec<Option<(Handling<'_>, Message)>> = Vec::new();

    let outcome = (|| -> Result<(), String> {
        while let Some(((now, _), happening)) = world.queue.pop_first() {
            clock.0.store(now, Ordering::Relaxed);
            match happening {
                Happening::Open(i, opening) => {
                    world.figures.lifecycles += 1;
                    let id = &ids[i];
                    let group = GROUPS[i % GROUPS.len()];
                    let event = match opening {
                        Opening::Launch => aws.launch(id, group),
                        Opening::IntoWarmPool => aws.launch_into_warm_pool(id, group),
                        Opening::FromWarmPool => aws.launch_from_warm_pool(id),
                        Opening::Terminate => aws.terminate(id),
                    };
                    let mut event = event;
                    event["time"] = rfc3339(now).into();
                    world
                        .trace
                        .push(format!("{now:>6}  opens    {opening:?} of {id}"));
                    opened.push((id.clone(), opening.transition(), now));
                    world.send(now, event, format!("{opening:?} {id}"), true);
                }
                Happening::Warn(i, spot) => {
                    let id = &ids[i];
                    let event = if spot {
                        spot_interruption_event(id)
                    } else {
                        rebalance_event(id)
                    };
                    let what = if spot { "spot warning" } else { "rebalance" };
                    world.send(now, event, format!("{what} {id}"), false);
                    world.at(now + 120, Happening::Open(i, Opening::Terminate));
                }
                Happening::CloudInit(n) => {
                    let id = &ids[n];
                    let records = runtime.store().inner.records();
                    let finished = M::registered(id, n).state;
                    let before = records.get(id).expect("registered");
                    // As cloud-init writes it: the state, if the record is still before it.
                    if Some(&before.state) == M::before_cloud_init(id, n).as_ref().map(|r| &r.state)
                    {
                        records.update(id, |record| {
                            record.state = finished;
                            record.version += 1;
                        });
                        let after = records.get(id).expect("registered");
                        world
                            .trace
                            .push(format!("{now:>6}  cloud-init finished on {id}"));
                        let change = stream_record_event(&before, &after);
                        let label = format!("stream {id} {}", after.state);
                        world.at(now + 1, Happening::Deliver(Message::new(change, label)));
                    }
                }
                Happening::Run(r) => {
                    let rule = M::RULE.unwrap_or_default();
                    world.figures.runs += 1;
                    runs[r].fired_at = now;
                    runs[r].state_when_fired =
                        runtime.store().inner.records().get(rule).map(|r| r.state);
                    let mut event = scheduled_event(rule);
                    event["id"] = format!("run-{r}").into();
                    event["time"] = rfc3339(now).into();
                    world
                        .trace
                        .push(format!("{now:>6}  fires    {rule} (run {r})"));
                    if !sweeping {
                        sweeping = true;
                        sweep_at = (now / SWEEP_PERIOD + 1) * SWEEP_PERIOD;
                        world.at(sweep_at, Happening::Sweep);
                    }
                    // EventBridge invokes the function asynchronously: Lambda retries a failed
                    // invocation twice, EventBridge may deliver it twice or late.
                    world.send(now, event, format!("run {r}"), false);
                }
                Happening::Sweep => {
                    // Sweeps go on while anything may still be open or on its way.
                    let open = ids.iter().any(|id| aws.held_action(id).is_some())
                        || M::RULE.is_some_and(|rule| {
                            let record = runtime.store().inner.records().get(rule);
                            record.is_some_and(|record| !job_at_rest::<M>(&record, rule))
                        });
                    // (A job's next firing is not on its way: sweeps between its runs, with
                    // nothing to see, would find nothing; they start again as it fires.)
                    let coming = world
                        .queue
                        .values()
                        .any(|h| !matches!(h, Happening::Run(_)));
                    if coming || open || paused.iter().any(Option::is_some) {
                        sweep_at += SWEEP_PERIOD;
                        world.at(sweep_at, Happening::Sweep);
                    } else {
                        sweeping = false;
                    }
                    let sweep = scheduled_event("lifecycle-sweep");
                    world.at(now, Happening::Deliver(Message::new(sweep, "sweep".into())));
                }
                Happening::CommandEnds {
                    id,
                    target,
                    document,
                    status,
                    requested,
                } => {
                    let cancelled = ssm.cancelled().contains(&id);
                    let status = if cancelled { "Cancelled" } else { status };
                    finals.insert(id.clone(), status);
                    // From now on SSM tells how it ended to whoever asks.
                    ssm.finish(
                        &id,
                        match status {
                            "Success" => CommandStatus::Success,
                            "Failed" => CommandStatus::Failed,
                            "TimedOut" => CommandStatus::TimedOut,
                            _ => CommandStatus::Cancelled,
                        },
                    );
                    if !matches!(status, "Success" | "Cancelled") {
                        world.figures.failed_commands += 1;
                    }
                    // Its status event may come twice, late, out of order or never.
                    let mut event = command_status_event(&id, &target, &document, status);
                    event["time"] = rfc3339(now).into();
                    event["detail"]["requested-date-time"] = rfc3339(requested).into();
                    world.send(now, event, format!("{document} {status} {target}"), true);
                }
                Happening::Resume(slot) => {
                    if let Some((mut handling, message)) = paused[slot].take() {
                        world
                            .trace
                            .push(format!("{now:>6}  resumes  {}", message.label));
                        loop {
                            if let Poll::Ready(result) = poll_once(&mut handling) {
                                settle(&mut world, now, result, message)?;
                                break;
                            }
                        }
                    }
                }
                Happening::Deliver(message) => {
                    world.figures.deliveries += 1;
                    // Another delivery due within the next seconds may run at the same time.
                    let mut running = vec![message];
                    if world.kinds.has("race") && world.mask.keep(world.rng.chance(25)) {
                        let next = world
                            .queue
                            .iter()
                            .find(|(key, h)| {
                                key.0 <= now + 5 && matches!(h, Happening::Deliver(..))
                            })
                            .map(|(key, _)| *key);
                        if let Some(key) = next
                            && let Some(Happening::Deliver(other)) = world.queue.remove(&key)
                        {
                            world.figures.races += 1;
                            world.figures.deliveries += 1;
                            running.push(other);
                        }
                    }
                    let mut flights: Vec<Option<(Handling<'_>, Message)>> = running
                        .into_iter()
                        .map(|message| {
                            let bytes = message.payload.to_string().into_bytes();
                            let runtime = &runtime;
                            let handling: Handling<'_> =
                                Box::pin(async move { runtime.handle_bytes(&bytes).await });
                            Some((handling, message))
                        })
                        .collect();
                    // Each may crash or pause after some call of its own.
                    let mut crash_after: Vec<Option<u64>> = Vec::new();
                    let mut pause_after: Vec<Option<u64>> = Vec::new();
                    for _ in &flights {
                        let crash =
                            world.kinds.has("crash") && world.mask.keep(world.rng.chance(6));
                        let pause = !crash
                            && world.kinds.has("crash")
                            && world.mask.keep(world.rng.chance(3));
                        crash_after.push(crash.then(|| world.rng.between(1, 12)));
                        pause_after.push(pause.then(|| world.rng.between(1, 12)));
                    }
                    let mut polls = vec![0u64; flights.len()];
                    while flights.iter().any(Option::is_some) {
                        let live: Vec<usize> = (0..flights.len())
                            .filter(|&f| flights[f].is_some())
                            .collect();
                        let f = live[(world.rng.next() % live.len() as u64) as usize];
                        polls[f] += 1;
                        if crash_after[f] == Some(polls[f]) {
                            let (_, message) = flights[f].take().expect("live");
                            world.figures.crashes += 1;
                            world.trace.push(format!(
                                "{now:>6}  crashes  {} (poll {})",
                                message.label, polls[f]
                            ));
                            world.again(now, message);
                            continue;
                        }
                        if pause_after[f] == Some(polls[f]) {
                            let flight = flights[f].take().expect("live");
                            world.figures.pauses += 1;
                            world.trace.push(format!(
                                "{now:>6}  pauses   {} (poll {})",
                                flight.1.label, polls[f]
                            ));
                            paused.push(Some(flight));
                            let back = now + LEASE + world.rng.between(1, 120);
                            world.at(back, Happening::Resume(paused.len() - 1));
                            continue;
                        }
                        let flight = flights[f].as_mut().expect("live");
                        if let Poll::Ready(result) = poll_once(&mut flight.0) {
                            let (_, message) = flights[f].take().expect("live");
                            settle(&mut world, now, result, message)?;
                        }
                    }
                }
            }
            // SSM: each new command ends some seconds later, as the seed decides.
            for (command_id, request) in ssm.sent() {
                if finals.contains_key(&command_id) {
                    continue;
                }
                let target = request.instance_ids[0].clone();
                let status = match world.rng.next() % 20 {
                    0 => "Failed",
                    1 => "TimedOut",
                    _ => "Success",
                };
                finals.insert(command_id.clone(), status);
                accepted.push((
                    command_id.clone(),
                    request.document_name.clone(),
                    target.clone(),
                ));
                sent_at.insert(command_id.clone(), now);
                world.trace.push(format!(
                    "{now:>6}  ssm      runs {} on {target} ({command_id}): will end {status}",
                    request.document_name
                ));
                let delay = world.rng.between(5, 40);
                let ends = Happening::CommandEnds {
                    id: command_id,
                    target,
                    document: request.document_name,
                    status,
                    requested: now,
                };
                world.at(now + delay, ends);
            }
            // Auto Scaling ends what is in service, some with a Spot warning first; takes what
            // waits in the warm pool into the group; EC2 tells the end of each instance.
            for (i, id) in ids.iter().enumerate() {
                let state = aws.lifecycle_state(id);
                if !in_service[i] && state.as_deref() == Some("InService") {
                    in_service[i] = true;
                    let t = now + world.rng.between(60, 1200);
                    match world.rng.next() % 4 {
                        0 => world.at(t, Happening::Warn(i, true)),
                        1 => world.at(t, Happening::Warn(i, false)),
                        _ => world.at(t, Happening::Open(i, Opening::Terminate)),
                    }
                }
                if !left_pool[i] && state.as_deref() == Some("Warmed:Stopped") {
                    left_pool[i] = true;
                    let t = now + world.rng.between(60, 1200);
                    world.at(t, Happening::Open(i, Opening::FromWarmPool));
                }
                if !terminated[i] && state.as_deref() == Some("Terminated") {
                    terminated[i] = true;
                    let event = instance_state_event(id, "terminated");
                    world.send(now, event, format!("terminated {id}"), true);
                }
            }
            if now > 72 * 3600 {
                return Err("the simulation does not end (72 simulated hours)".into());
            }
        }
        Ok(())
    })();
    world.figures.faults = faults.injected.lock().unwrap().len() as u64;
    let fail = |message: String, mut world: World| {
        // Where each record and action ended, for whoever reads the failure.
        for id in ids.iter().map(String::as_str).chain(M::RULE) {
            if let Some(record) = runtime.store().inner.records().get(id) {
                world.trace.push(format!(
                    "end     {id}: `{}` {:?}; Auto Scaling: {:?}, holds {}",
                    record.state,
                    record.attributes,
                    aws.lifecycle_state(id),
                    aws.held_action(id).is_some()
                ));
            }
        }
        // And what is still registered of each command SSM took.
        for (command_id, _, _) in &accepted {
            use lifecycle_aws::store::NodeTable;
            let registered =
                lifecycle_aws::testing::block_on(runtime.store().inner.peek_command(command_id));
            if let Ok(Some(registered)) = registered {
                world
                    .trace
                    .push(format!("end     command {command_id}: {registered:?}"));
            }
        }
        Err((format!("seed {seed}: {message}"), world.trace))
    };
    if let Err(message) = outcome {
        return fail(message, world);
    }

    // Nothing left to a hook's timeout: every action was decided by the model.
    let left = aws.time_out_all();
    if !left.is_empty() {
        return fail(
            format!("actions left to their hook's timeout: {left:?}"),
            world,
        );
    }
    // How long each action went without a heartbeat or its completion: past its hook's
    // heartbeat timeout Auto Scaling would have applied the default result. Kept within it
    // whatever happens to events and processes; when calls fail too (3 % of them, after the
    // SDK's own retries) an action whose sweeps fail twice running can go past it: counted
    // (RELIABILITY.md), not asserted.
    let calls = timed.log.lock().unwrap().clone();
    for (id, transition, at) in &opened {
        let mut last = *at;
        let mut longest = 0;
        for (_, _, time, completed) in calls
            .iter()
            .filter(|(i, t, time, _)| i == id && t == transition && time >= at)
        {
            longest = longest.max(time - last);
            last = *time;
            if *completed {
                break;
            }
        }
        world.figures.longest_silence = world.figures.longest_silence.max(longest);
        if longest > HEARTBEAT_TIMEOUT {
            world.figures.silent_too_long += 1;
            if !kinds.calls_fail() {
                return fail(
                    format!(
                        "{id}'s {transition:?} action (opened at {at} s) went {longest} s without a \
                         heartbeat, past its hook's heartbeat timeout ({HEARTBEAT_TIMEOUT} s)"
                    ),
                    world,
                );
            }
        }
        if longest > HEARTBEAT_TIMEOUT + SWEEP_PERIOD {
            world.figures.silent_past_one_sweep += 1;
        }
    }
    let completions = aws.completions();
    world.figures.cancelled_commands = ssm.cancelled().len() as u64;
    world.figures.warm = warm.iter().filter(|w| **w).count() as u64;
    for (i, id) in ids.iter().enumerate() {
        let mine: Vec<(LifecycleTransition, LifecycleResult)> = completions
            .iter()
            .filter(|c| c.action.ec2_instance_id == *id)
            .map(|c| (c.action.lifecycle_transition, c.result))
            .collect();
        // Every command SSM accepted for it but those the engine withdrew before it ran.
        let documents: Vec<(&str, &str)> = accepted
            .iter()
            .filter(|(c, _, target)| target == id && finals.get(c) != Some(&"Cancelled"))
            .map(|(c, document, _)| (document.as_str(), finals.get(c).copied().unwrap_or("?")))
            .collect();
        let record = runtime
            .store()
            .inner
            .records()
            .get(id)
            .ok_or_else(|| (format!("seed {seed}: {id}'s record is gone"), Vec::new()))?;
        let owed = M::owed(&Instance {
            n: i,
            warm: warm[i],
            commands: &documents,
            state: &record.state,
        });
        if mine != owed.completions {
            return fail(
                format!(
                    "{id}: completions {mine:?}, expected {:?} (commands {documents:?})",
                    owed.completions
                ),
                world,
            );
        }
        let names: Vec<&str> = documents.iter().map(|d| d.0).collect();
        if names != owed.documents {
            return fail(
                format!(
                    "{id}: commands {documents:?}, expected {:?}",
                    owed.documents
                ),
                world,
            );
        }
        if !owed.at_rest.contains(&record.state.as_str()) {
            return fail(
                format!(
                    "{id} ends in `{}`, expected one of {:?} (commands {documents:?})",
                    record.state, owed.at_rest
                ),
                world,
            );
        }
        // Nothing still waits or holds it: no claim, no awaited command, no deferred termination.
        if let Some(held) = holding(&record) {
            return fail(format!("{id} ends holding {held}"), world);
        }
    }
    if let Some(rule) = M::RULE {
        let fired: Vec<u64> = runs.iter().map(|run| run.fired_at).collect();
        for (r, run) in runs.iter_mut().enumerate() {
            run.handled = world.handled_runs.contains(&r);
            let until = fired.get(r + 1).copied().unwrap_or(u64::MAX);
            run.commands = accepted
                .iter()
                .filter(|(c, _, _)| {
                    sent_at
                        .get(c)
                        .is_some_and(|at| (fired[r]..until).contains(at))
                        && finals.get(c) != Some(&"Cancelled")
                })
                .map(|(c, document, _)| (document.clone(), finals.get(c).copied().unwrap_or("?")))
                .collect();
        }
        let record = runtime.store().inner.records().get(rule);
        if let Err(message) = M::check_runs(&runs, record.as_ref()) {
            return fail(message, world);
        }
    }
    if let Err(message) = M::check_surroundings(&surroundings) {
        return fail(message, world);
    }
    if keep_trace {
        Ok(world.figures).inspect(|_| {
            for line in &world.trace {
                println!("{line}");
            }
        })
    } else {
        Ok(world.figures)
    }
}

/// Whether a job's record rests between runs: in a terminal state or the rule's own, waiting
/// for nothing. (Anything else, the sweep — which in the world runs for ever — still has to
/// see to.)
fn job_at_rest<M: Simulated>(record: &Record, rule: &str) -> bool {
    let state = record.state.parse::<M::State>();
    let resting = state.is_ok_and(|state| {
        M::DEFINITION.is_terminal(state) || lifecycle_core::State::name(state) == rule
    });
    resting && record.awaited_commands().next().is_none()
}

/// What a record still holds that it must not at the end of a run (a claim, an awaited
/// command, a deferred termination), if anything.
pub fn holding(record: &Record) -> Option<String> {
    [
        lifecycle_core::attr::CLAIMED_BY,
        lifecycle_core::attr::AWAITED_COMMAND,
        lifecycle_core::attr::DEFERRED_TERMINATION,
    ]
    .into_iter()
    .find_map(|held| {
        let value = record.attributes.get(held).filter(|v| !v.is_null())?;
        Some(format!("`{held}`: {value:?}"))
    })
}

/// What the end of one delivery means: an answer, or an error the queue delivers again.
fn settle(
    world: &mut World,
    now: u64,
    result: Result<Answer, HandleError>,
    message: Message,
) -> Result<(), String> {
    let label = message.label.clone();
    match result {
        Ok(answer) => {
            if let Some(r) = label.strip_prefix("run ").and_then(|r| r.parse().ok()) {
                world.handled_runs.insert(r);
            }
            let outcomes: Vec<String> = answer
                .outcomes
                .iter()
                .map(|o| {
                    serde_json::to_value(o)
                        .map_or_else(|_| "?".into(), |v| v["outcome"].to_string())
                })
                .collect();
            world.trace.push(format!(
                "{now:>6}  handled  {label}: {}",
                outcomes.join(", ")
            ));
            Ok(())
        }
        Err(error) if error.is_retryable() => {
            world
                .trace
                .push(format!("{now:>6}  retried  {label}: {error}"));
            world.again(now, message);
            Ok(())
        }
        Err(error) => Err(format!("{label} was refused for good at {now} s: {error}")),
    }
}

/// Runs `seed`, catching a panic as a failure of the run.
pub fn attempt<M: Simulated>(
    seed: u64,
    kinds: Kinds,
    keep_trace: bool,
) -> Result<Figures, (String, Vec<String>)> {
    attempt_with::<M>(seed, kinds, keep_trace, Arc::default())
}

/// Runs `seed` with only the faults `mask` keeps, catching a panic as a failure of the run.
fn attempt_with<M: Simulated>(
    seed: u64,
    kinds: Kinds,
    keep_trace: bool,
    mask: Arc<Mask>,
) -> Result<Figures, (String, Vec<String>)> {
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        run_seed::<M>(seed, kinds, keep_trace, mask)
    }))
    .unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Err((format!("seed {seed}: panicked: {message}"), Vec::new()))
    })
}

/// Replays each seed that once found a bug (its seed, the kinds of fault it was shrunk to, and
/// what it found), with those kinds and with all of them; fails with the first that fails again.
pub fn replay_found<M: Simulated>(found: &[(u64, &str, &str)]) {
    for &(seed, kinds, what) in found {
        for kinds in [Kinds::parse(kinds), Kinds::ALL] {
            if let Err((message, trace)) = attempt::<M>(seed, kinds, false) {
                for line in trace.iter().rev().take(40).rev() {
                    eprintln!("{line}");
                }
                panic!("{message} (it once found: {what})");
            }
        }
    }
}

/// The fewest kinds of fault that still fail `seed`: each kind turned off in turn, kept off
/// where the run still fails.
fn shrink<M: Simulated>(seed: u64, kinds: Kinds) -> Kinds {
    let mut kept = kinds;
    for i in 0..KINDS.len() {
        let fewer = kept.without(i);
        if fewer.0 != kept.0 && attempt::<M>(seed, fewer, false).is_err() {
            kept = fewer;
        }
    }
    kept
}

/// The faults a failing run of `seed` (with `kinds`) can do without: each fault it draws left
/// out in turn, and kept out where the run still fails. What is left is a run with only the
/// faults the failure needs, its trace short enough to read. With the count of faults drawn.
fn shrink_faults<M: Simulated>(seed: u64, kinds: Kinds) -> (BTreeSet<u64>, u64) {
    shrink_by(|mask| attempt_with::<M>(seed, kinds, false, mask).is_err())
}

/// The faults a run can do without and still fail (`fails`, given which faults to leave
/// out), and how many the whole run drew.
pub fn shrink_by(fails: impl Fn(Arc<Mask>) -> bool) -> (BTreeSet<u64>, u64) {
    let mask = Arc::new(Mask::default());
    if !fails(mask.clone()) {
        return (BTreeSet::new(), 0);
    }
    let drawn = mask.drawn();
    let mut left_out = BTreeSet::new();
    for n in 0..drawn {
        let mut fewer = left_out.clone();
        fewer.insert(n);
        if fails(Mask::leaving_out(fewer.clone())) {
            left_out = fewer;
        }
    }
    (left_out, drawn)
}

/// The faults a replay leaves out (`scripts/simulate --leave-out 3,5-9`).
fn left_out() -> BTreeSet<u64> {
    std::env::var("LIFECYCLE_SIM_LEAVE_OUT")
        .map(|list| parse_ranges(&list))
        .unwrap_or_default()
}

/// Numbers and ranges (`3,5-9`; `none`), as [`as_ranges`] writes them.
pub fn parse_ranges(list: &str) -> BTreeSet<u64> {
    let number = |n: &str| -> u64 {
        n.trim()
            .parse()
            .expect("LIFECYCLE_SIM_LEAVE_OUT lists numbers and ranges (3,5-9)")
    };
    list.split(',')
        .filter(|n| !n.is_empty() && *n != "none")
        .flat_map(|n| match n.split_once('-') {
            Some((a, b)) => number(a)..=number(b),
            None => number(n)..=number(n),
        })
        .collect()
}

/// `left_out` as `--leave-out` takes it: numbers and ranges (`0,1,3-6`), `none` if empty.
pub fn as_ranges(left_out: &BTreeSet<u64>) -> String {
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for &n in left_out {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == n => *end = n,
            _ => ranges.push((n, n)),
        }
    }
    if ranges.is_empty() {
        return "none".to_owned();
    }
    let parts: Vec<String> = ranges
        .into_iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    parts.join(",")
}

fn seeds() -> std::ops::Range<u64> {
    if let Ok(one) = std::env::var("LIFECYCLE_SIM_SEED") {
        let seed: u64 = one.parse().expect("LIFECYCLE_SIM_SEED is a number");
        return seed..seed + 1;
    }
    let range = std::env::var("LIFECYCLE_SIM_SEEDS").unwrap_or_else(|_| "0..10000".into());
    let (low, high) = range
        .split_once("..")
        .expect("LIFECYCLE_SIM_SEEDS is a range A..B");
    low.parse().expect("a number")..high.parse().expect("a number")
}

/// The kinds of fault to run: those `LIFECYCLE_SIM_FAULTS` names (`scripts/simulate
/// --faults`), or `default`.
pub fn kinds_or(default: Kinds) -> Kinds {
    std::env::var("LIFECYCLE_SIM_FAULTS").map_or(default, |k| Kinds::parse(&k))
}

/// Runs the seeds of `LIFECYCLE_SIM_SEEDS` (or the one of `LIFECYCLE_SIM_SEED`, with its
/// trace) under `kinds`; a failing seed is shrunk to the fewest kinds that still fail it.
pub fn simulate<M: Simulated>(kinds: Kinds) {
    // `scripts/simulate --seed N --log`: the runtime's own log lines beside the trace.
    if std::env::var("LIFECYCLE_SIM_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
            .try_init();
    }
    let seeds = seeds();
    let replay = seeds.end - seeds.start == 1;
    let started = std::time::Instant::now();
    // Two threads, each its own seeds: every run is on its own, as deterministic as alone.
    let (low, high) = (seeds.start, seeds.end);
    let middle = low + (high - low) / 2;
    let halves = std::thread::scope(|scope| {
        let runs: Vec<_> = [(low, middle), (middle, high)]
            .into_iter()
            .map(|(a, b)| {
                scope.spawn(move || {
                    let mut figures = Figures::default();
                    for seed in a..b {
                        let mask = if replay {
                            Mask::leaving_out(left_out())
                        } else {
                            Arc::default()
                        };
                        match attempt_with::<M>(seed, kinds, replay, mask) {
                            Ok(f) => figures.add(&f),
                            Err(failure) => return Err((seed, failure)),
                        }
                    }
                    Ok(figures)
                })
            })
            .collect();
        runs.into_iter()
            .map(|run| run.join().expect("a simulation thread"))
            .collect::<Vec<_>>()
    });
    let mut figures = Figures::default();
    for half in halves {
        match half {
            Ok(f) => figures.add(&f),
            Err((seed, (message, trace))) => {
                if replay {
                    // Replayed as asked: the whole trace, nothing shrunk.
                    for line in &trace {
                        eprintln!("{line}");
                    }
                    panic!("{message}");
                }
                // Shrunk: the fewest kinds of fault, then the fewest of their faults.
                let least = shrink::<M>(seed, kinds);
                let (left_out, drawn) = shrink_faults::<M>(seed, least);
                let mask = Mask::leaving_out(left_out.clone());
                let (shrunk, trace) = attempt_with::<M>(seed, least, false, mask)
                    .err()
                    .unwrap_or((message.clone(), trace));
                // Sweeps that found nothing to do say nothing.
                let told: Vec<&String> = trace
                    .iter()
                    .filter(|line| !line.ends_with("sweep: \"swept\""))
                    .collect();
                for line in told.iter().rev().take(120).rev() {
                    eprintln!("{line}");
                }
                panic!(
                    "{message}\nshrunk to the faults {} and {} of the {drawn} faults they drew ({shrunk}); the trace above is that run's; replay it with: scripts/simulate --model {} --seed {seed} --faults {} --leave-out {}",
                    least.names(),
                    drawn - left_out.len() as u64,
                    M::NAME,
                    least.names(),
                    as_ranges(&left_out)
                );
            }
        }
    }
    println!(
        "simulation of the {} model: seeds {low}..{high} ({} runs, faults: {}): {} instance lifecycles, {} runs of a scheduled rule, {} lifecycle actions, {} deliveries, \
         {} calls faulted, {} crashes, {} pauses past the lease, {} races, {} events lost, {} late, \
         {} twice, {} dead-lettered, {} commands failed or timed out, {} withdrawn, {} instances \
         from the warm pool, {} whose cloud-init finished after their launch's event; longest an action went without a \
         heartbeat: {} s ({} actions over 600 s, {} over 900 s); every invariant held; {:.1} s ({:.0} actions/s)",
        M::NAME,
        high - low,
        kinds.names(),
        figures.instances,
        figures.runs,
        figures.lifecycles,
        figures.deliveries,
        figures.faults,
        figures.crashes,
        figures.pauses,
        figures.races,
        figures.lost,
        figures.late,
        figures.twice,
        figures.dead_lettered,
        figures.failed_commands,
        figures.cancelled_commands,
        figures.warm,
        figures.slow_cloud_init,
        figures.longest_silence,
        figures.silent_too_long,
        figures.silent_past_one_sweep,
        started.elapsed().as_secs_f64(),
        figures.lifecycles as f64 / started.elapsed().as_secs_f64(),
    );
}
