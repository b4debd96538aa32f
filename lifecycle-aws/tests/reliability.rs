//! Redelivery, duplicates, races and faults: every lifecycle ends where the fault-free one
//! does, each lifecycle action is completed once, no task runs twice for a duplicate.
//!
//! Counts scale with `LIFECYCLE_SCHEDULES` (random duplicate schedules on the in-memory table;
//! a tenth of that, at least 20, against moto_server). Figures: RELIABILITY.md.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::TestClock;
use common::faults::{CountingCommands, Faults, FaultyActions, FaultyCommands, FaultyTable, Plan};
use common::node::{LONG_AGO, NodeError, Recorded, command_status, launching, terminating};
use lifecycle_aws::effects::{CommandSender, SsmCommands};
use lifecycle_aws::runtime::{HandleError, Runtime};
use lifecycle_aws::store::MemoryTable;
use lifecycle_aws::store::{DynamoStore, NodeTable};
use lifecycle_core::Store;
use lifecycle_core::{
    CommandRequest, Context, LifecycleResult, LifecycleTransition, lifecycle_model,
};
use serde_json::Value;

/// How often each task ran.
#[derive(Default)]
struct Runs(Mutex<HashMap<String, HashMap<&'static str, usize>>>);

impl Runs {
    fn note(&self, ident: &str, task: &'static str) {
        *self
            .0
            .lock()
            .unwrap()
            .entry(ident.to_owned())
            .or_default()
            .entry(task)
            .or_default() += 1;
    }

    fn of(&self, ident: &str) -> HashMap<&'static str, usize> {
        self.0
            .lock()
            .unwrap()
            .get(ident)
            .cloned()
            .unwrap_or_default()
    }
}

/// The node model of the runtime tests, counting its task runs.
struct Counted(Arc<Runs>);

#[lifecycle_model(
    states(New, FinishedCloudInit, Joining, Ready, Leaving, Gone, Failure, Abandoned),
    before_initial(New),
    initial = FinishedCloudInit,
    terminal(Gone, Abandoned),
    failure = Failure,
    error = NodeError,
)]
impl Counted {
    #[transition(from = FinishedCloudInit, to = Joining, on(launching), wait)]
    async fn join(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        self.0.note(&ctx.record().ident, "join");
        let request = CommandRequest::new("AWS-RunShellScript", [ctx.record().ident.clone()])
            .parameter("commands", ["/usr/local/bin/join-cluster"]);
        let id = ctx.send_command(request).await?;
        ctx.set("JoinCommand", id);
        Ok(())
    }

    #[transition(from = Joining, to = Ready, on(command))]
    async fn joined(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        self.0.note(&ctx.record().ident, "joined");
        Ok(())
    }

    #[transition(from = Ready, to = Leaving, on(terminating), wait)]
    async fn leave(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        self.0.note(&ctx.record().ident, "leave");
        let request = CommandRequest::new("AWS-RunShellScript", [ctx.record().ident.clone()])
            .parameter("commands", ["/usr/local/bin/leave-cluster"]);
        let id = ctx.send_command(request).await?;
        ctx.set("LeaveCommand", id);
        Ok(())
    }

    #[transition(from = Leaving, to = Gone, on(command), ignore_errors)]
    async fn left(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        self.0.note(&ctx.record().ident, "left");
        Ok(())
    }

    #[transition(from = Failure, to = Abandoned, ignore_errors)]
    async fn abandon(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        self.0.note(&ctx.record().ident, "abandon");
        Ok(())
    }
}

/// The happy path's states in order: a state may only move forward along it.
const ORDER: [&str; 5] = ["finished_cloud_init", "joining", "ready", "leaving", "gone"];

type Model = Box<dyn Fn() -> Counted + Send + Sync>;

/// A runtime on a node table, every call through one [`Faults`].
struct Harness<T> {
    runtime: Runtime<Counted, Model, FaultyTable<T>>,
    clock: Arc<TestClock>,
    faults: Arc<Faults>,
    commands: Arc<FaultyCommands>,
    recorded: Arc<Recorded>,
    runs: Arc<Runs>,
}

impl Harness<DynamoStore> {
    /// A harness on a new moto table, with moto's SSM.
    async fn on_moto() -> Self {
        let config = common::sdk_config().await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        let table = common::node_table(&client).await;
        Harness::new(
            DynamoStore::new(client, table),
            Arc::new(SsmCommands(aws_sdk_ssm::Client::new(&config))),
        )
    }
}

impl<T: NodeTable> Harness<T> {
    fn new(table: T, commands: Arc<dyn CommandSender>) -> Self {
        let faults = Faults::new();
        let commands = Arc::new(FaultyCommands::new(commands, faults.clone()));
        let recorded = Arc::new(Recorded::default());
        let runs = Arc::new(Runs::default());
        let model_runs = runs.clone();
        let clock = TestClock::at(SystemTime::now());
        let runtime = Runtime::with_parts(
            FaultyTable {
                inner: table,
                faults: faults.clone(),
            },
            commands.clone(),
            Arc::new(FaultyActions {
                inner: recorded.clone(),
                faults: faults.clone(),
            }),
            Box::new(move || Counted(model_runs.clone())) as Model,
        )
        .with_clock(clock.clone())
        .with_claim_lease(LEASE);
        Harness {
            runtime,
            clock,
            faults,
            commands,
            recorded,
            runs,
        }
    }

    fn table(&self) -> &T {
        &self.runtime.store().inner
    }

    async fn seed(&self, ident: &str) {
        assert!(
            self.table()
                .create(ident, "finished_cloud_init")
                .await
                .unwrap()
        );
    }

    async fn state(&self, ident: &str) -> (String, u64) {
        let record = self.table().load(ident).await.unwrap().unwrap();
        (record.state, record.version)
    }

    /// Delivers `event` until it is handled (SQS redelivers what failed). Returns the answer
    /// and how many deliveries failed.
    async fn deliver(&self, event: &Value) -> (Value, usize) {
        for failed in 0..10 {
            match self.runtime.handle(event).await {
                Ok(answer) => return (answer, failed),
                Err(e) => {
                    assert!(
                        e.is_retryable() || matches!(e, HandleError::Dispatch { .. }),
                        "{e}"
                    );
                    // The next delivery runs in a process the fault did not touch, after the
                    // queue's visibility timeout (at least the function's timeout, which the
                    // claim lease does not exceed).
                    self.faults.restart();
                    self.clock.advance(LEASE + Duration::from_secs(1));
                }
            }
        }
        panic!("{event} still fails after 10 deliveries");
    }

    /// The status-change events SSM sends for the commands sent to `ident` (cancelled ones
    /// end Cancelled), except those in `skip`.
    fn results(&self, ident: &str, skip: &mut Vec<String>) -> Vec<Value> {
        let cancelled = self.commands.cancelled.lock().unwrap().clone();
        let sent = self.commands.sent.lock().unwrap().clone();
        let mut events = Vec::new();
        for (id, target) in sent {
            if target != ident || skip.contains(&id) {
                continue;
            }
            let status = if cancelled.contains(&id) {
                "Cancelled"
            } else {
                "Success"
            };
            events.push(command_status(&id, ident, status, LONG_AGO));
            skip.push(id);
        }
        events
    }

    /// Registers `command_id` for `ident` as a superseded command: sent long ago, by a
    /// delivery whose transition was never stored.
    async fn register_stale(&self, command_id: &str, ident: &str) {
        let targets = [ident.to_owned()];
        let action = lifecycle_core::LifecycleAction {
            auto_scaling_group_name: "workers".into(),
            lifecycle_hook_name: "workers-hook".into(),
            lifecycle_action_token: Some(format!("token-{ident}")),
            ec2_instance_id: ident.into(),
            lifecycle_transition: LifecycleTransition::Launching,
            notification_metadata: None,
            region: None,
            origin: None,
            destination: None,
        };
        self.table()
            .register_command(lifecycle_aws::store::CommandRegistration {
                command_id,
                owner: ident,
                targets: &targets,
                lifecycle: Some(&action),
                event_id: "an-earlier-delivery",
                comment: None,
                document_name: "AWS-RunShellScript",
                registered_at: 0,
                sent_at_version: 0,
                marker: "0000000000000000.0",
                due_at: u64::MAX,
                waiter: "Counted",
            })
            .await
            .unwrap();
    }

    /// How many commands SSM accepted for `ident`.
    fn commands_sent(&self, ident: &str) -> usize {
        let sent = self.commands.sent.lock().unwrap();
        sent.iter().filter(|(_, target)| target == ident).count()
    }

    /// Nothing left behind: no claim, no awaited command, no registered command.
    async fn assert_settled(&self, ident: &str, what: &str) {
        let record = self.table().load(ident).await.unwrap().unwrap();
        assert_eq!(record.claimed_by(), None, "{what}: a claim was left");
        assert_eq!(
            record.awaited_commands().count(),
            0,
            "{what}: still waiting"
        );
        let sent = self.commands.sent.lock().unwrap().clone();
        for (id, target) in sent.iter().filter(|(_, target)| target == ident) {
            let left = self.table().peek_command(id).await.unwrap();
            assert!(left.is_none(), "{what}: {id} for {target} still registered");
        }
    }

    /// Accepted completions for `ident`: transition and result.
    fn completions(&self, ident: &str) -> Vec<(LifecycleTransition, LifecycleResult)> {
        self.recorded
            .completions
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.0 == ident)
            .map(|c| (c.1, c.2))
            .collect()
    }
}

/// The claim lease: a crashed delivery's claim runs out after it.
const LEASE: Duration = Duration::from_secs(60);

const CLEAN_END: [(LifecycleTransition, LifecycleResult); 2] = [
    (LifecycleTransition::Launching, LifecycleResult::Continue),
    (LifecycleTransition::Terminating, LifecycleResult::Continue),
];

/// A deterministic random sequence (splitmix64), so a failing schedule can be replayed from
/// its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One full launch and termination of `ident` with every event delivered 2 or 3 times, in a
/// random order that respects only causality (a command's result exists once it was sent; the
/// instance is terminated once its launch was completed). Returns the deliveries made.
async fn duplicated_lifecycle<T: NodeTable>(h: &Harness<T>, ident: &str, seed: u64) -> usize {
    let mut rng = Rng(seed);
    h.seed(ident).await;
    // Deliveries still to make: (event, copies left). Stages unlock the next original event.
    let mut pending: Vec<(Value, usize)> = vec![(launching(ident), 2 + rng.below(2))];
    // The failed result of a command an earlier delivery sent that did not become the awaited
    // one, arriving at any time, more than once: it must not ABANDON the launch.
    let stale = format!("stale-{ident}");
    h.register_stale(&stale, ident).await;
    pending.push((
        command_status(&stale, ident, "Failed", LONG_AGO),
        2 + rng.below(2),
    ));
    let mut stage = 0;
    let mut delivered = 0;
    let mut known_results = Vec::new();
    let mut last = (0usize, 0u64);
    while !pending.is_empty() {
        let pick = rng.below(pending.len());
        let event = pending[pick].0.clone();
        pending[pick].1 -= 1;
        if pending[pick].1 == 0 {
            pending.swap_remove(pick);
        }
        let (_, failed) = h.deliver(&event).await;
        assert_eq!(failed, 0, "seed {seed}: a duplicate failed");
        delivered += 1;

        let (state, version) = h.state(ident).await;
        let rank = ORDER
            .iter()
            .position(|s| *s == state)
            .unwrap_or_else(|| panic!("seed {seed}: {ident} left the happy path for {state}"));
        assert!(
            (rank, version) >= last,
            "seed {seed}: {ident} went back from {last:?} to ({rank}, {version})"
        );
        last = (rank, version);

        // What this delivery made possible.
        for result in h.results(ident, &mut known_results) {
            pending.push((result, 2 + rng.below(2)));
        }
        if stage == 0 && state == "ready" {
            stage = 1;
            pending.push((terminating(ident), 2 + rng.below(2)));
        }
    }
    assert_eq!(h.state(ident).await.0, "gone", "seed {seed}");
    assert_eq!(h.completions(ident), CLEAN_END, "seed {seed}");
    assert!(h.table().peek_command(&stale).await.unwrap().is_none());
    let runs = h.runs.of(ident);
    for task in ["join", "joined", "leave", "left"] {
        assert_eq!(runs.get(task), Some(&1), "seed {seed}: {task} ran {runs:?}");
    }
    delivered
}

fn schedules() -> usize {
    std::env::var("LIFECYCLE_SCHEDULES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000)
}

#[test]
fn duplicated_events_in_random_order_in_memory() {
    common::run(async {
        let h = Harness::new(MemoryTable::new(), Arc::new(CountingCommands::default()));
        let n = schedules();
        let mut deliveries = 0;
        for seed in 0..n as u64 {
            deliveries += duplicated_lifecycle(&h, &format!("i-mem-{seed}"), seed).await;
        }
        let repeats = h.recorded.repeated.lock().unwrap().len();
        assert_eq!(repeats, 0, "a duplicate sent CompleteLifecycleAction again");
        println!(
            "duplicates (in memory): {n} schedules, {deliveries} deliveries, {} lifecycle actions \
             completed once each, {repeats} repeated CompleteLifecycleAction calls",
            2 * n
        );
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn duplicated_events_in_random_order_on_dynamodb() {
    common::run(async {
        let h = Harness::on_moto().await;
        let n = (schedules() / 10).max(20);
        let mut deliveries = 0;
        for seed in 0..n as u64 {
            deliveries +=
                duplicated_lifecycle(&h, &format!("i-ddb-{seed}"), 1_000_000 + seed).await;
        }
        assert!(h.recorded.repeated.lock().unwrap().is_empty());
        println!(
            "duplicates (moto_server): {n} schedules, {deliveries} deliveries, {} lifecycle \
             actions completed once each, one CompleteLifecycleAction call each",
            2 * n
        );
    });
}

/// A full launch and termination, redelivering whatever fails. Returns failed deliveries.
async fn lifecycle_with_redelivery<T: NodeTable>(h: &Harness<T>, ident: &str) -> usize {
    let mut failed = 0;
    let mut known_results = Vec::new();
    for stage in [launching(ident), terminating(ident)] {
        failed += h.deliver(&stage).await.1;
        // Results may in turn fail and be redelivered; each result event is new.
        let mut results = h.results(ident, &mut known_results);
        while let Some(result) = results.pop() {
            failed += h.deliver(&result).await.1;
            results.extend(h.results(ident, &mut known_results));
        }
    }
    failed
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_fault_at_any_call_ends_where_the_fault_free_lifecycle_does() {
    common::run(async {
        let h = Harness::on_moto().await;

        h.seed("i-clean").await;
        h.faults.arm(Plan::None);
        assert_eq!(lifecycle_with_redelivery(&h, "i-clean").await, 0);
        let calls = h.faults.calls();
        let log = h.faults.log.lock().unwrap().clone();
        let clean = h.state("i-clean").await;
        assert_eq!(clean.0, "gone");
        assert_eq!(h.completions("i-clean"), CLEAN_END);
        assert_eq!(h.commands_sent("i-clean"), 2);
        h.assert_settled("i-clean", "fault-free").await;
        println!("fault-free lifecycle: {calls} calls: {log:?}");

        let mut runs = 0;
        let mut redeliveries = 0;
        for k in 1..=calls {
            for plan in [
                Plan::Fail(k),
                Plan::Lost(k),
                Plan::Crash(k),
                Plan::Retried(k),
            ] {
                let ident = format!("i-{plan:?}").replace(['(', ')'], "-");
                h.seed(&ident).await;
                h.faults.arm(plan);
                let failed = lifecycle_with_redelivery(&h, &ident).await;
                assert!(
                    h.faults.calls() >= k,
                    "{plan:?}: the fault was never reached"
                );
                if let Plan::Retried(_) = plan {
                    // A request the SDK sends again finds its own write: nothing fails.
                    assert_eq!(failed, 0, "{plan:?}: a retried call failed the delivery");
                }
                assert_eq!(h.state(&ident).await.0, "gone", "{plan:?}");
                assert_eq!(h.completions(&ident), CLEAN_END, "{plan:?}");
                assert_eq!(
                    h.commands_sent(&ident),
                    2,
                    "{plan:?}: a command was sent twice"
                );
                h.assert_settled(&ident, &format!("{plan:?}")).await;
                runs += 1;
                redeliveries += failed;
            }
        }
        println!(
            "faults: {runs} lifecycles, one fault each (fail / answer lost / crash / answer lost \
             and request retried, at each of {calls} calls), {redeliveries} redeliveries, all \
             ended gone with launch and termination completed CONTINUE once, 2 SendCommand each"
        );
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn sixteen_concurrent_deliveries_send_each_command_once() {
    common::run(async {
        let h = Arc::new(Harness::on_moto().await);
        let ident = "i-race";
        h.seed(ident).await;

        let mut known_results = Vec::new();
        let seeded = h.state(ident).await.1;
        let mut expected_version = seeded;
        let (mut deliveries, mut retried) = (0, 0);
        for stage in [launching(ident), terminating(ident)] {
            // The lifecycle event, then its command's result, each delivered 16 times at once.
            for writes in [2, 1] {
                let events = if writes == 2 {
                    vec![stage.clone()]
                } else {
                    h.results(ident, &mut known_results)
                };
                assert_eq!(events.len(), 1, "one command per lifecycle event");
                let tasks: Vec<_> = std::iter::repeat_n(&events[0], 16)
                    .map(|event| {
                        let h = h.clone();
                        let event = event.clone();
                        tokio::spawn(async move { h.runtime.handle(&event).await })
                    })
                    .collect();
                let mut again = 0;
                for task in tasks {
                    deliveries += 1;
                    match task.await.unwrap() {
                        Ok(_) => {}
                        // Told to come back (another delivery held the claim): SQS would.
                        Err(e) if e.is_retryable() => again += 1,
                        Err(e) => panic!("a racer failed for good: {e}"),
                    }
                }
                for _ in 0..again {
                    let (_, failed) = h.deliver(&events[0]).await;
                    assert_eq!(failed, 0);
                    deliveries += 1;
                }
                retried += again;
                // A lifecycle event: the claim and the waiting write; a result: its write.
                expected_version += writes;
                assert_eq!(
                    h.state(ident).await.1,
                    expected_version,
                    "one claim and one state change per event, not one per racer"
                );
            }
        }
        assert_eq!(h.state(ident).await, ("gone".to_owned(), seeded + 6));
        assert_eq!(h.completions(ident), CLEAN_END);
        let sent = h.commands_sent(ident);
        assert_eq!(sent, 2, "16 racers send each command once");
        h.assert_settled(ident, "races").await;
        let runs = h.runs.of(ident);
        println!(
            "races: {deliveries} deliveries ({retried} of them redeliveries of racers told to \
             come back), 16 at once per event: 6 writes, {sent} SendCommand, 1 accepted \
             completion per action, task runs {runs:?}"
        );
        // A racer may run a task up to its first side effect before its claim is refused;
        // none runs past it, and none after a lost write.
        for task in ["join", "joined", "leave", "left"] {
            assert!((1..=16).contains(&runs[task]), "{task}: {runs:?}");
        }
        assert!(!runs.contains_key("abandon"));
    });
}

/// Delivers `event` and every event it makes possible (its commands' results), each until it is
/// handled, as a queue would.
async fn settle<T: NodeTable>(h: &Harness<T>, ident: &str, event: Value, known: &mut Vec<String>) {
    h.deliver(&event).await;
    let mut results = h.results(ident, known);
    while let Some(result) = results.pop() {
        h.deliver(&result).await;
        results.extend(h.results(ident, known));
    }
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_termination_at_any_point_of_a_launch_is_completed_once() {
    common::run(async {
        let h = Harness::on_moto().await;
        // The launch's own calls: where a delivery can be cut off.
        h.seed("i-count").await;
        h.faults.arm(Plan::None);
        h.deliver(&launching("i-count")).await;
        let launch_calls = h.faults.calls();

        let mut runs = Vec::new();
        // Point k: the launch's delivery dies at its k-th call (0: it got through, and the
        // launch waits for its command; MAX: the join's result came too, the node is ready).
        for k in (0..=launch_calls).chain([usize::MAX]) {
            let ident = format!("i-term-{k}");
            h.seed(&ident).await;
            let mut known = Vec::new();
            h.faults.arm(if (1..=launch_calls).contains(&k) {
                Plan::Crash(k)
            } else {
                Plan::None
            });
            if h.runtime.handle(&launching(&ident)).await.is_err() {
                // The next delivery comes in a new process, after the claim lease.
                h.faults.restart();
                h.clock.advance(LEASE + Duration::from_secs(1));
            }
            if k == usize::MAX {
                for result in h.results(&ident, &mut known) {
                    h.deliver(&result).await;
                }
            }
            // Scaled in now; then everything still to come arrives, the launch twice.
            settle(&h, &ident, terminating(&ident), &mut known).await;
            for event in [launching(&ident), launching(&ident), terminating(&ident)] {
                settle(&h, &ident, event, &mut known).await;
            }
            for result in h.results(&ident, &mut known) {
                h.deliver(&result).await;
            }

            let completions = h.completions(&ident);
            let terminations: Vec<_> = completions
                .iter()
                .filter(|c| c.0 == LifecycleTransition::Terminating)
                .collect();
            assert_eq!(
                terminations,
                [&(LifecycleTransition::Terminating, LifecycleResult::Continue)],
                "point {k}: {completions:?}"
            );
            assert!(completions.len() <= 2, "point {k}: {completions:?}");
            let state = h.state(&ident).await.0;
            assert!(
                ["gone", "abandoned", "finished_cloud_init"].contains(&state.as_str()),
                "point {k}: the node ended {state}"
            );
            assert!(h.commands_sent(&ident) <= 2, "point {k}");
            let record = h.table().load(&ident).await.unwrap().unwrap();
            assert_eq!(
                record.awaited_commands().count(),
                0,
                "point {k}: still waiting"
            );
            let point = match k {
                0 => "waiting".to_owned(),
                usize::MAX => "ready".to_owned(),
                k => format!("cut off at call {k}"),
            };
            runs.push(format!("{point}: {state} {completions:?}"));
        }
        println!(
            "terminations: at {} points of a launch (cut off at each of its {launch_calls} calls, \
             waiting, ready): termination completed CONTINUE once each; {runs:#?}",
            runs.len()
        );
    });
}
