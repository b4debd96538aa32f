//! A seeded fleet on Auto Scaling whose events get lost: instances launched and terminated
//! across groups, each lifecycle event dropped (5 %), delivered late — after the sweep has
//! started its lifecycle — (5 %) or twice (5 %), SSM results delivered twice at times; the
//! sweep runs every 5 minutes. After every seed: every action completed exactly once, by the
//! model (none left for a hook's timeout: no healthy instance ABANDONed), every termination
//! drained, one join and one leave per instance.
//!
//! `LIFECYCLE_FLEET_SEEDS=N` runs N seeds (default 200, 20 instances each); the figures are
//! printed with `-- --nocapture` and kept in RELIABILITY.md.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use common::rng::Rng;
use common::worker::{on_fleet, registered};
use lifecycle_aws::runtime::Clock;
use lifecycle_aws::store::NodeTable;
use lifecycle_aws::testing::{MemoryAutoScaling, command_status_event, scheduled_event};
use lifecycle_core::{LifecycleResult, LifecycleTransition};
use serde_json::Value;

const INSTANCES: usize = 20;
const GROUPS: [&str; 3] = ["web", "workers", "batch"];
const SWEEP_PERIOD: u64 = 300;

#[derive(Default)]
struct SimClock(AtomicU64);

impl Clock for SimClock {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_600_800 + self.0.load(Ordering::Relaxed))
    }
}

enum Happening {
    /// Auto Scaling opens the action (launch or terminate) of an instance.
    Open(usize, LifecycleTransition),
    /// An event reaches the queue's consumer.
    Deliver(Value),
    Sweep,
}

#[derive(Default, Debug)]
struct Figures {
    lifecycles: usize,
    dropped: usize,
    late: usize,
    duplicated: usize,
    reconciled: usize,
    events: usize,
}

fn run_seed(seed: u64, figures: &mut Figures) {
    let mut rng = Rng::new(seed);
    let mut aws = MemoryAutoScaling::new();
    for group in GROUPS {
        aws = aws.with_group(group);
    }
    let aws = Arc::new(aws);
    let ids: Vec<String> = (0..INSTANCES)
        .map(|i| format!("i-{seed:08x}{i:08x}"))
        .collect();
    let clock = Arc::new(SimClock::default());
    let (runtime, commands) = on_fleet(registered(&ids), &aws, &GROUPS);
    let runtime = runtime.with_clock(clock.clone());

    let mut queue: BTreeMap<(u64, u64), Happening> = BTreeMap::new();
    let mut order = 0;
    let mut at = |queue: &mut BTreeMap<(u64, u64), Happening>, time: u64, what: Happening| {
        order += 1;
        queue.insert((time, order), what);
    };
    for i in 0..INSTANCES {
        let t = rng.between(0, 1800);
        at(
            &mut queue,
            t,
            Happening::Open(i, LifecycleTransition::Launching),
        );
    }
    let mut sweep_at = SWEEP_PERIOD;
    at(&mut queue, sweep_at, Happening::Sweep);
    let mut commands_seen = 0;
    let mut terminating = [false; INSTANCES];
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    while let Some(((now, _), happening)) = queue.pop_first() {
        clock.0.store(now, Ordering::Relaxed);
        match happening {
            Happening::Open(i, transition) => {
                figures.lifecycles += 1;
                let id = &ids[i];
                let event = match transition {
                    LifecycleTransition::Launching => aws.launch(id, GROUPS[i % GROUPS.len()]),
                    LifecycleTransition::Terminating => aws.terminate(id),
                };
                if rng.chance(5) {
                    figures.dropped += 1;
                } else if rng.chance(5) {
                    // After the next sweep has started its lifecycle.
                    figures.late += 1;
                    let late = (now / SWEEP_PERIOD + 1) * SWEEP_PERIOD + rng.between(1, 600);
                    at(&mut queue, late, Happening::Deliver(event));
                } else {
                    if rng.chance(5) {
                        figures.duplicated += 1;
                        let again = now + rng.between(1, 900);
                        at(&mut queue, again, Happening::Deliver(event.clone()));
                    }
                    at(
                        &mut queue,
                        now + rng.between(0, 3),
                        Happening::Deliver(event),
                    );
                }
            }
            Happening::Deliver(event) => {
                figures.events += 1;
                let handled = tokio.block_on(runtime.handle(&event));
                if let Err(e) = handled {
                    // As the queue would: again, a little later.
                    assert!(e.is_retryable(), "seed {seed}: {e} for {event}");
                    at(&mut queue, now + 30, Happening::Deliver(event));
                }
            }
            Happening::Sweep => {
                let swept = tokio.block_on(runtime.handle(&scheduled_event("lifecycle-sweep")));
                let swept = swept.unwrap_or_else(|e| panic!("seed {seed}: sweep: {e}"));
                let reconciled = swept["outcomes"][0]["reconciled"]
                    .as_array()
                    .map_or(0, Vec::len);
                figures.reconciled += reconciled;
                // Sweeps go on while anything may still be open.
                if !queue.is_empty() || ids.iter().any(|id| aws.held_action(id).is_some()) {
                    sweep_at += SWEEP_PERIOD;
                    at(&mut queue, sweep_at, Happening::Sweep);
                }
            }
        }
        // SSM: each new command succeeds 12 s later; now and then its event comes twice.
        let sent = commands.sent();
        for (command_id, request) in &sent[commands_seen..] {
            let target = &request.instance_ids[0];
            let event = command_status_event(command_id, target, &request.document_name, "Success");
            if rng.chance(5) {
                at(&mut queue, now + 40, Happening::Deliver(event.clone()));
            }
            at(&mut queue, now + 12, Happening::Deliver(event));
        }
        commands_seen = sent.len();
        // Auto Scaling terminates each instance some time after it is in service.
        for (i, id) in ids.iter().enumerate() {
            if !terminating[i] && aws.lifecycle_state(id).as_deref() == Some("InService") {
                terminating[i] = true;
                let t = now + rng.between(60, 1200);
                at(
                    &mut queue,
                    t,
                    Happening::Open(i, LifecycleTransition::Terminating),
                );
            }
        }
        assert!(now < 48 * 3600, "seed {seed}: the simulation does not end");
    }

    // Nothing left for a hook's timeout: every action was decided by the model.
    assert_eq!(aws.time_out_all(), Vec::<String>::new(), "seed {seed}");
    assert_eq!(aws.refused(), 0, "seed {seed}: a completion repeated");
    for id in &ids {
        let completions: Vec<(LifecycleTransition, LifecycleResult)> = aws
            .completions()
            .into_iter()
            .filter(|c| c.action.ec2_instance_id == *id)
            .map(|c| (c.action.lifecycle_transition, c.result))
            .collect();
        assert_eq!(
            completions,
            [
                (LifecycleTransition::Launching, LifecycleResult::Continue),
                (LifecycleTransition::Terminating, LifecycleResult::Continue)
            ],
            "seed {seed}, {id}"
        );
        let documents: Vec<String> = commands
            .sent()
            .into_iter()
            .filter(|(_, r)| r.instance_ids[0] == *id)
            .map(|(_, r)| r.document_name)
            .collect();
        assert_eq!(
            documents,
            ["ClusterJoin", "ClusterLeave"],
            "seed {seed}, {id}: one join, one drain"
        );
        let state = runtime.store().records().get(id).unwrap().state;
        assert_eq!(state, "drained", "seed {seed}, {id}");
    }
}

#[test]
fn a_fleet_whose_events_get_lost_completes_every_action_once_by_the_model() {
    let seeds: u64 = std::env::var("LIFECYCLE_FLEET_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let started = std::time::Instant::now();
    let mut figures = Figures::default();
    for seed in 0..seeds {
        run_seed(seed, &mut figures);
    }
    println!(
        "lost events: {seeds} seeds x {INSTANCES} instances in {} groups: {} lifecycles \
         (launch + terminate actions), {} events dropped, {} late, {} duplicated, {} lifecycles \
         started by the sweep, {} deliveries; every action completed once by the model, 0 left \
         to a hook's timeout; {:.1} s",
        GROUPS.len(),
        figures.lifecycles,
        figures.dropped,
        figures.late,
        figures.duplicated,
        figures.reconciled,
        figures.events,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(figures.lifecycles as u64, seeds * INSTANCES as u64 * 2);
    assert!(figures.dropped > 0 && figures.late > 0 && figures.reconciled >= figures.dropped);
}

/// A command's status event lost for good (EventBridge delivers best-effort): the sweep's next
/// look at the wait asks SSM, finds the command ended, and the lifecycle goes on with its real
/// result — not ABANDONed at the deadline.
#[test]
fn a_command_result_that_never_comes_is_taken_from_ssm_by_the_sweep() {
    let aws = Arc::new(MemoryAutoScaling::new().with_group("workers"));
    let (runtime, commands) = on_fleet(registered(["i-lost-result"]), &aws, &["workers"]);
    let clock = Arc::new(SimClock::default());
    let runtime = runtime.with_clock(clock.clone());
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let launch = aws.launch("i-lost-result", "workers");
    tokio.block_on(runtime.handle(&launch)).unwrap();
    let (id, _) = commands.sent().remove(0);
    commands.finish(&id, lifecycle_core::CommandStatus::Success);
    // The next sweep looks at the new wait, and asks SSM how its command stands.
    let sweep = scheduled_event("lifecycle-sweep");
    clock.0.store(SWEEP_PERIOD, Ordering::Relaxed);
    let swept = tokio.block_on(runtime.handle(&sweep)).unwrap();
    assert_eq!(swept["outcomes"][0]["expired"][0], id.as_str(), "{swept}");
    assert_eq!(
        runtime
            .store()
            .records()
            .get("i-lost-result")
            .unwrap()
            .state,
        "ready"
    );
    let completions = aws.completions();
    assert_eq!(completions.len(), 1);
    assert_eq!(completions[0].result, LifecycleResult::Continue);
    // Nothing is left registered: the result's late event, should it come, finds nothing.
    let late = tokio.block_on(runtime.store().peek_command(&id)).unwrap();
    assert!(late.is_none());
}
