//! Lost events and forged ones, through the Lambda's code path (`Runtime::handle_bytes`, the
//! in-memory node table, recording SSM) against Auto Scaling in memory
//! (`testing::MemoryAutoScaling`): the sweep finds every action no lifecycle handles and starts
//! it; an event that comes late, before, during or after that, or races it, gives one
//! lifecycle, one command, one completion; an event for an action Auto Scaling does not hold
//! changes nothing.

mod common;

use std::sync::Arc;

use common::stepped::Stepped;
use common::worker::{Worker, on_fleet, registered};
use lifecycle_aws::runtime::{HandleError, Outcome, Runtime};
use lifecycle_aws::store::MemoryTable;
use lifecycle_aws::testing::{
    ApiFault, MemoryAutoScaling, MemoryCommands, command_status_event, lifecycle_action_event,
    scheduled_event,
};
use lifecycle_core::{LifecycleResult, LifecycleTransition, Location, Record};
use serde_json::Value;

const I: &str = "i-0a1b2c3d4e5f60001";
const GROUP: &str = "workers";

struct Fleet {
    runtime: Runtime<Worker, fn() -> Worker, Stepped<MemoryTable>>,
    aws: Arc<MemoryAutoScaling>,
    commands: Arc<MemoryCommands>,
}

/// What a sweep reported.
#[derive(Debug, Default)]
struct Swept {
    reconciled: Vec<String>,
    recompleted: Vec<String>,
    unhandled: Vec<String>,
    failed: Vec<String>,
}

impl Fleet {
    /// `instances` registered by cloud-init (`finished_cloud_init`), in group `workers`; the
    /// table's calls interleave with other tasks as `seed` decides.
    fn new(seed: u64, instances: &[&str]) -> Self {
        let aws = Arc::new(
            MemoryAutoScaling::new()
                .with_group(GROUP)
                .with_group("others"),
        );
        let table = Stepped::new(registered(instances), seed);
        let (runtime, commands) = on_fleet(table, &aws, &[GROUP, "others"]);
        Fleet {
            runtime,
            aws,
            commands,
        }
    }

    async fn deliver(&self, event: &Value) -> Result<Vec<Outcome>, HandleError> {
        self.runtime
            .handle_bytes(event.to_string().as_bytes())
            .await
            .map(|answer| answer.outcomes)
    }

    /// Delivers `event` as a queue would: again while it fails in a way that may pass.
    async fn deliver_until_done(&self, event: &Value) -> Vec<Outcome> {
        for _ in 0..10 {
            match self.deliver(event).await {
                Ok(outcomes) => return outcomes,
                Err(e) if e.is_retryable() => tokio::task::yield_now().await,
                Err(e) => panic!("{event}: {e}"),
            }
        }
        panic!("{event}: still failing after 10 deliveries")
    }

    async fn sweep(&self) -> Swept {
        let outcomes = self
            .deliver(&scheduled_event("lifecycle-sweep"))
            .await
            .unwrap();
        let [
            Outcome::Swept {
                reconciled,
                recompleted,
                unhandled,
                failed,
                ..
            },
        ] = <[Outcome; 1]>::try_from(outcomes).unwrap()
        else {
            panic!("not a sweep")
        };
        Swept {
            reconciled,
            recompleted,
            unhandled,
            failed,
        }
    }

    fn record(&self, instance: &str) -> Record {
        self.runtime
            .store()
            .inner()
            .records()
            .get(instance)
            .unwrap()
    }

    fn state(&self, instance: &str) -> String {
        self.record(instance).state
    }

    fn documents(&self) -> Vec<String> {
        self.commands
            .sent()
            .into_iter()
            .map(|(_, r)| r.document_name)
            .collect()
    }

    /// SSM reports the last command sent to `instance` finished with `status`.
    async fn finish_last(&self, instance: &str, status: &str) -> Vec<Outcome> {
        let (id, request) = self
            .commands
            .sent()
            .into_iter()
            .rfind(|(_, r)| r.instance_ids.first().map(String::as_str) == Some(instance))
            .expect("a command was sent to the instance");
        self.deliver_until_done(&command_status_event(
            &id,
            instance,
            &request.document_name,
            status,
        ))
        .await
    }

    /// The completions Auto Scaling accepted for `instance`: transition and result.
    fn completions(&self, instance: &str) -> Vec<(LifecycleTransition, LifecycleResult)> {
        self.aws
            .completions()
            .into_iter()
            .filter(|c| c.action.ec2_instance_id == instance)
            .map(|c| (c.action.lifecycle_transition, c.result))
            .collect()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn refused(outcomes: &[Outcome]) -> bool {
    matches!(outcomes, [Outcome::Refused { .. }])
        || matches!(outcomes, [Outcome::Dispatched { stop, completed: None, .. }] if stop == "refused")
}

#[test]
fn a_lost_launch_is_started_by_the_sweep_and_completed_once() {
    rt().block_on(async {
        let fleet = Fleet::new(0, &[I]);
        let _lost = fleet.aws.launch(I, GROUP);

        let swept = fleet.sweep().await;
        assert_eq!(swept.reconciled, [I]);
        assert_eq!(fleet.state(I), "joining");
        assert_eq!(fleet.documents(), ["ClusterJoin"]);
        // A second sweep finds the lifecycle waiting: nothing new.
        let again = fleet.sweep().await;
        assert!(
            again.reconciled.is_empty() && again.failed.is_empty(),
            "{again:?}"
        );

        fleet.finish_last(I, "Success").await;
        assert_eq!(fleet.state(I), "ready");
        assert_eq!(
            fleet.completions(I),
            [(LifecycleTransition::Launching, LifecycleResult::Continue)]
        );
        // Completed by instance id and hook: Auto Scaling told no token.
        let completion = &fleet.aws.completions()[0];
        assert_eq!(completion.action.lifecycle_action_token, None);
        assert_eq!(
            completion.action.lifecycle_hook_name,
            "workers-on-launching"
        );
        assert_eq!(fleet.aws.lifecycle_state(I).as_deref(), Some("InService"));
        assert_eq!(fleet.aws.refused(), 0);
        assert_eq!(fleet.documents(), ["ClusterJoin"]);
    });
}

#[test]
fn a_lost_termination_is_drained_before_the_instance_goes() {
    rt().block_on(async {
        let fleet = Fleet::new(0, &[I]);
        let launch = fleet.aws.launch(I, GROUP);
        fleet.deliver_until_done(&launch).await;
        fleet.finish_last(I, "Success").await;
        let _lost = fleet.aws.terminate(I);

        let swept = fleet.sweep().await;
        assert_eq!(swept.reconciled, [I]);
        assert_eq!(fleet.state(I), "draining");
        fleet.finish_last(I, "Success").await;
        // The termination's own drain ends `drained` (the worker's `leave` is for a
        // termination that finds a drain done).
        assert_eq!(fleet.state(I), "drained");
        assert_eq!(fleet.documents(), ["ClusterJoin", "ClusterLeave"]);
        assert_eq!(
            fleet.completions(I),
            [
                (LifecycleTransition::Launching, LifecycleResult::Continue),
                (LifecycleTransition::Terminating, LifecycleResult::Continue)
            ]
        );
        assert_eq!(fleet.aws.lifecycle_state(I).as_deref(), Some("Terminated"));
        assert!(fleet.sweep().await.reconciled.is_empty());
    });
}

#[test]
fn lost_warm_pool_launches_are_prepared_then_joined() {
    rt().block_on(async {
        let fleet = Fleet::new(0, &[I]);
        let _lost = fleet.aws.launch_into_warm_pool(I, GROUP);
        assert_eq!(fleet.sweep().await.reconciled, [I]);
        assert_eq!(fleet.state(I), "warmed");
        assert_eq!(
            fleet.aws.lifecycle_state(I).as_deref(),
            Some("Warmed:Stopped")
        );
        assert!(fleet.documents().is_empty(), "prepared, not joined");

        let _lost = fleet.aws.launch_from_warm_pool(I);
        assert_eq!(fleet.sweep().await.reconciled, [I]);
        assert_eq!(fleet.state(I), "joining");
        fleet.finish_last(I, "Success").await;
        assert_eq!(fleet.state(I), "ready");
        assert_eq!(
            fleet.completions(I),
            [
                (LifecycleTransition::Launching, LifecycleResult::Continue),
                (LifecycleTransition::Launching, LifecycleResult::Continue)
            ]
        );
        assert_eq!(fleet.aws.lifecycle_state(I).as_deref(), Some("InService"));
    });
}

#[test]
fn a_lifecycle_whose_completion_never_reached_auto_scaling_is_completed_by_the_sweep() {
    rt().block_on(async {
        let fleet = Fleet::new(0, &[I]);
        let launch = fleet.aws.launch(I, GROUP);
        fleet.deliver_until_done(&launch).await;
        // The join's result moves the record to `ready`, and the completion is throttled;
        // the result's message then goes to the dead-letter queue, never delivered again.
        fleet
            .aws
            .fail_next("CompleteLifecycleAction", ApiFault::Throttle);
        let (id, request) = fleet.commands.sent().pop().unwrap();
        let result = command_status_event(&id, I, &request.document_name, "Success");
        assert!(fleet.deliver(&result).await.unwrap_err().is_retryable());
        assert_eq!(fleet.state(I), "ready");
        assert!(fleet.completions(I).is_empty());

        let swept = fleet.sweep().await;
        assert_eq!(swept.recompleted, [I], "{swept:?}");
        assert!(swept.reconciled.is_empty());
        assert_eq!(
            fleet.completions(I),
            [(LifecycleTransition::Launching, LifecycleResult::Continue)]
        );
        assert_eq!(fleet.documents(), ["ClusterJoin"]);
    });
}

#[test]
fn an_instance_with_no_record_is_reported_not_started() {
    rt().block_on(async {
        let fleet = Fleet::new(0, &[]);
        let _lost = fleet.aws.launch(I, GROUP);
        let swept = fleet.sweep().await;
        assert!(swept.reconciled.is_empty());
        assert_eq!(swept.unhandled.len(), 1);
        assert!(
            swept.unhandled[0].contains("cloud-init has not registered"),
            "{swept:?}"
        );
        assert!(fleet.commands.sent().is_empty());
    });
}

/// The late event, delivered at each moment of the reconciled lifecycle.
#[test]
fn a_late_event_finds_its_action_taken_whenever_it_comes() {
    for transition in [
        LifecycleTransition::Launching,
        LifecycleTransition::Terminating,
    ] {
        for moment in ["before the sweep", "while waiting", "after the end"] {
            rt().block_on(async {
                let fleet = Fleet::new(0, &[I]);
                if transition == LifecycleTransition::Terminating {
                    let launch = fleet.aws.launch(I, GROUP);
                    fleet.deliver_until_done(&launch).await;
                    fleet.finish_last(I, "Success").await;
                }
                let late = match transition {
                    LifecycleTransition::Launching => fleet.aws.launch(I, GROUP),
                    LifecycleTransition::Terminating => fleet.aws.terminate(I),
                };
                let context = format!("{transition:?}, the event {moment}");
                if moment == "before the sweep" {
                    fleet.deliver_until_done(&late).await;
                    assert!(fleet.sweep().await.reconciled.is_empty(), "{context}");
                } else {
                    assert_eq!(fleet.sweep().await.reconciled, [I], "{context}");
                }
                if moment == "while waiting" {
                    let outcomes = fleet.deliver_until_done(&late).await;
                    assert!(refused(&outcomes), "{context}: {outcomes:?}");
                }
                fleet.finish_last(I, "Success").await;
                if moment == "after the end" {
                    let outcomes = fleet.deliver_until_done(&late).await;
                    assert!(refused(&outcomes), "{context}: {outcomes:?}");
                }
                let expected = match transition {
                    LifecycleTransition::Launching => ("ready", vec!["ClusterJoin"], 1),
                    LifecycleTransition::Terminating => {
                        ("drained", vec!["ClusterJoin", "ClusterLeave"], 2)
                    }
                };
                assert_eq!(fleet.state(I), expected.0, "{context}");
                assert_eq!(fleet.documents(), expected.1, "{context}");
                assert_eq!(fleet.completions(I).len(), expected.2, "{context}");
                assert_eq!(fleet.aws.refused(), 0, "{context}: no completion repeated");
            });
        }
    }
}

/// The sweep prepares an instance whose warm-pool launch event was lost; the launch out of the
/// pool comes with its event: it joins — the ended lifecycle of the other launch (also keyed
/// by the instance, not a token) is not taken for this one's.
#[test]
fn a_launch_from_the_warm_pool_after_a_reconciled_entry_joins() {
    rt().block_on(async {
        let fleet = Fleet::new(0, &[I]);
        let _lost = fleet.aws.launch_into_warm_pool(I, GROUP);
        assert_eq!(fleet.sweep().await.reconciled, [I]);
        assert_eq!(fleet.state(I), "warmed");

        let from_pool = fleet.aws.launch_from_warm_pool(I);
        fleet.deliver_until_done(&from_pool).await;
        assert_eq!(fleet.state(I), "joining");
        assert_eq!(fleet.documents(), ["ClusterJoin"]);
        fleet.finish_last(I, "Success").await;
        assert_eq!(
            fleet.completions(I),
            [
                (LifecycleTransition::Launching, LifecycleResult::Continue),
                (LifecycleTransition::Launching, LifecycleResult::Continue)
            ]
        );
    });
}

/// A launch from the warm pool whose event fails until the sweep has started its lifecycle;
/// the join fails, and the completion of that lifecycle (ABANDON) does not reach Auto Scaling
/// before the event comes at last. The event completes the action with that lifecycle's
/// result: not CONTINUE (the warm pool's "nothing left to do"), not a second join. Seed 616 of
/// the simulation.
#[test]
fn a_late_event_after_the_sweeps_lifecycle_ended_completes_it_with_that_result() {
    rt().block_on(async {
        let fleet = Fleet::new(0, &[I]);
        let into_pool = fleet.aws.launch_into_warm_pool(I, GROUP);
        fleet.deliver_until_done(&into_pool).await;
        assert_eq!(fleet.state(I), "warmed");
        let late = fleet.aws.launch_from_warm_pool(I);

        assert_eq!(fleet.sweep().await.reconciled, [I]);
        assert_eq!(fleet.state(I), "joining");
        // The join fails; the failed launch's completion is throttled: the record is at rest,
        // the action still held.
        fleet
            .aws
            .fail_next("CompleteLifecycleAction", ApiFault::Throttle);
        let (id, request) = fleet.commands.sent().pop().unwrap();
        let result = command_status_event(&id, I, &request.document_name, "Failed");
        assert!(fleet.deliver(&result).await.is_err());
        assert_eq!(fleet.state(I), "failed");
        assert!(fleet.aws.held_action(I).is_some());

        let outcomes = fleet.deliver_until_done(&late).await;
        assert!(
            matches!(&outcomes[..], [Outcome::Dispatched { stop, completed: Some(result), steps, .. }]
                if stop == "refused" && result == "ABANDON" && steps.is_empty()),
            "{outcomes:?}"
        );
        assert_eq!(
            fleet.completions(I),
            [
                (LifecycleTransition::Launching, LifecycleResult::Continue),
                (LifecycleTransition::Launching, LifecycleResult::Abandon)
            ]
        );
        assert_eq!(fleet.documents(), ["ClusterJoin"]);
        // The result's redelivery finds the action completed.
        fleet.deliver_until_done(&result).await;
        assert_eq!(fleet.completions(I).len(), 2);
    });
}

/// The late event and the sweep run at once, interleaved at every call of the node table in
/// an order each seed decides: one lifecycle, one command, one completion.
#[test]
fn a_late_event_racing_the_sweep_gives_one_lifecycle() {
    let seeds = 300;
    // Whose lifecycle completed the action: the event's (with its token) or the sweep's.
    let mut winners = std::collections::BTreeMap::new();
    for seed in 0..seeds {
        for transition in [
            LifecycleTransition::Launching,
            LifecycleTransition::Terminating,
        ] {
            rt().block_on(async {
                let fleet = Fleet::new(seed, &[I]);
                if transition == LifecycleTransition::Terminating {
                    let launch = fleet.aws.launch(I, GROUP);
                    fleet.deliver_until_done(&launch).await;
                    fleet.finish_last(I, "Success").await;
                }
                let late = match transition {
                    LifecycleTransition::Launching => fleet.aws.launch(I, GROUP),
                    LifecycleTransition::Terminating => fleet.aws.terminate(I),
                };
                let (delivered, _swept) = tokio::join!(fleet.deliver(&late), fleet.sweep());
                if delivered.is_err() {
                    // Busy (the sweep held the claim): the queue delivers it again.
                    fleet.deliver_until_done(&late).await;
                }
                fleet.finish_last(I, "Success").await;
                // Whatever is left: the event once more, a sweep.
                fleet.deliver_until_done(&late).await;
                fleet.sweep().await;
                let context = format!("seed {seed}, {transition:?}");
                let (state, documents, completions) = match transition {
                    LifecycleTransition::Launching => ("ready", vec!["ClusterJoin"], 1),
                    LifecycleTransition::Terminating => {
                        ("drained", vec!["ClusterJoin", "ClusterLeave"], 2)
                    }
                };
                assert_eq!(fleet.state(I), state, "{context}");
                assert_eq!(fleet.documents(), documents, "{context}");
                assert_eq!(fleet.completions(I).len(), completions, "{context}");
                assert_eq!(fleet.aws.refused(), 0, "{context}");
                let last = fleet.aws.completions().pop().unwrap();
                let winner = match last.action.lifecycle_action_token {
                    Some(_) => "the event",
                    None => "the sweep",
                };
                *winners
                    .entry((format!("{transition:?}"), winner))
                    .or_insert(0) += 1;
            });
        }
    }
    println!("{seeds} seeds each, won by: {winners:?}");
    // The seeds interleave both ways: each side wins some races.
    assert_eq!(winners.len(), 4, "{winners:?}");
}

#[test]
fn forged_and_replayed_lifecycle_events_change_nothing() {
    rt().block_on(async {
        let fleet = Fleet::new(0, &[I, "i-0other"]);
        let launch = fleet.aws.launch(I, GROUP);
        fleet.deliver_until_done(&launch).await;
        fleet.finish_last(I, "Success").await;
        assert_eq!(fleet.aws.lifecycle_state(I).as_deref(), Some("InService"));
        let before = fleet.record(I);
        let sent = fleet.commands.sent().len();
        let completions = fleet.aws.completions().len();

        // A terminate event for an instance in service, with a token that looks right.
        let forged = lifecycle_action_event(I, GROUP, LifecycleTransition::Terminating);
        let outcomes = fleet.deliver(&forged).await.unwrap();
        let [Outcome::Refused { reason, .. }] = outcomes.as_slice() else {
            panic!("{outcomes:?}")
        };
        assert!(reason.contains("InService"), "{reason}");
        // No token at all: bad input, not retried.
        let mut tokenless = forged.clone();
        tokenless["detail"]
            .as_object_mut()
            .unwrap()
            .remove("LifecycleActionToken");
        let error = fleet.deliver(&tokenless).await.unwrap_err();
        assert!(
            matches!(error, HandleError::NoActionToken { .. }),
            "{error}"
        );
        assert!(!error.is_retryable());
        // The launch replayed after it completed.
        assert!(refused(&fleet.deliver(&launch).await.unwrap()));
        // An instance of another group, waiting there: not this group's action.
        let _theirs = fleet.aws.terminate("i-0other");
        fleet
            .aws
            .set_instance("i-0other", "others", "Terminating:Wait");
        let other_group =
            lifecycle_action_event("i-0other", GROUP, LifecycleTransition::Terminating);
        assert!(refused(&fleet.deliver(&other_group).await.unwrap()));
        // An instance Auto Scaling does not know.
        let unknown = lifecycle_action_event("i-0unknown", GROUP, LifecycleTransition::Launching);
        assert!(refused(&fleet.deliver(&unknown).await.unwrap()));

        assert_eq!(fleet.record(I), before, "nothing written");
        assert_eq!(fleet.commands.sent().len(), sent, "nothing sent");
        assert_eq!(
            fleet.aws.completions().len(),
            completions,
            "nothing completed"
        );
        assert_eq!(fleet.state("i-0other"), "finished_cloud_init");
    });
}

#[test]
fn auto_scaling_throttled_or_its_answer_lost_is_tried_again() {
    rt().block_on(async {
        let instances: Vec<String> = (1..=5).map(|n| format!("i-0a1b2c3d4e5f6000{n}")).collect();
        let ids: Vec<&str> = instances.iter().map(String::as_str).collect();
        let fleet = Fleet::new(0, &ids);
        for instance in &ids {
            let _lost = fleet.aws.launch(instance, GROUP);
        }
        // The sweep's question throttled, then its answer lost: nothing started, no error
        // beyond the sweep's own report; the next sweep starts them all.
        fleet
            .aws
            .fail_next("DescribeAutoScalingGroups", ApiFault::Throttle);
        let swept = fleet.sweep().await;
        assert!(
            swept.reconciled.is_empty() && swept.failed.len() == 1,
            "{swept:?}"
        );
        fleet
            .aws
            .fail_next("DescribeAutoScalingGroups", ApiFault::LoseAnswer);
        assert!(fleet.sweep().await.reconciled.is_empty());
        fleet
            .aws
            .fail_next("DescribeLifecycleHooks", ApiFault::Throttle);
        let swept = fleet.sweep().await;
        assert_eq!(swept.failed.len(), 1, "{swept:?}");
        assert_eq!(swept.reconciled.len(), 4, "{swept:?}");
        assert_eq!(fleet.sweep().await.reconciled.len(), 1);

        // A completion applied and its answer lost: the result is delivered again, and the
        // action is completed once.
        fleet
            .aws
            .fail_next("CompleteLifecycleAction", ApiFault::LoseAnswer);
        for instance in &ids {
            fleet.finish_last(instance, "Success").await;
        }
        for instance in &ids {
            assert_eq!(fleet.state(instance), "ready");
            assert_eq!(fleet.completions(instance).len(), 1, "{instance}");
        }
        assert_eq!(fleet.documents().len(), 5);

        // The check before a lifecycle event's first write, throttled: the event is retried.
        let extra = "i-0a1b2c3d4e5f60009";
        fleet
            .runtime
            .store()
            .inner()
            .records()
            .insert(Record::new(extra, "finished_cloud_init"));
        let launch = fleet.aws.launch(extra, GROUP);
        fleet
            .aws
            .fail_next("DescribeAutoScalingInstances", ApiFault::Throttle);
        let error = fleet.deliver(&launch).await.unwrap_err();
        assert!(error.is_retryable(), "{error}");
        assert_eq!(fleet.state(extra), "finished_cloud_init", "nothing written");
        fleet.deliver_until_done(&launch).await;
        assert_eq!(fleet.state(extra), "joining");
    });
}

/// What the sweep costs: Auto Scaling calls per sweep of 1,000 instances in 5 groups with 10
/// waiting, and per lifecycle started by an event.
#[test]
fn reconciliation_costs_grow_with_what_waits() {
    rt().block_on(async {
        let groups: Vec<String> = (1..=5).map(|g| format!("group-{g}")).collect();
        let table = MemoryTable::new();
        let mut aws = MemoryAutoScaling::new();
        for group in &groups {
            aws = aws.with_group(group);
        }
        let aws = Arc::new(aws);
        let mut waiting = Vec::new();
        for n in 0..1000 {
            let instance = format!("i-{n:017x}");
            // Every hundredth waits, two in each group.
            let group = &groups[if n % 100 == 0 { n / 100 % 5 } else { n % 5 }];
            if n % 100 == 0 {
                table
                    .records()
                    .insert(Record::new(&instance, "finished_cloud_init"));
                let _lost = aws.launch(&instance, group);
                waiting.push(instance);
            } else {
                aws.set_instance(&instance, group, "InService");
            }
        }
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        let (runtime, _) = on_fleet(table, &aws, &groups);
        let Outcome::Swept { reconciled, .. } = runtime.sweep().await.unwrap() else {
            panic!()
        };
        assert_eq!(reconciled.len(), 10);
        assert_eq!(
            runtime.store().records().reads(),
            10,
            "one read per waiting instance"
        );
        let calls = aws.all_calls();
        println!("one sweep of 1000 instances in 5 groups, 10 waiting: {calls:?}");
        assert_eq!(aws.calls("DescribeAutoScalingGroups"), 1);
        assert_eq!(
            aws.calls("DescribeLifecycleHooks"),
            5,
            "once per group with a wait"
        );
        assert_eq!(aws.calls("DescribeAutoScalingInstances"), 0);
        // And one heartbeat per lifecycle started, before it waits: the action has been
        // silent since Auto Scaling opened it.
        assert_eq!(aws.calls("RecordLifecycleActionHeartbeat"), 10);
        assert_eq!(calls.len(), 16);
        // A second sweep: the 10 lifecycles wait for their commands, each kept alive at its
        // first look (its owner read for a termination deferred behind it); nothing started
        // twice.
        let Outcome::Swept { reconciled, .. } = runtime.sweep().await.unwrap() else {
            panic!()
        };
        assert!(reconciled.is_empty());
        assert_eq!(
            runtime.store().records().reads(),
            30,
            "each waiting instance read by its wait's look and by reconciliation"
        );
        assert_eq!(aws.calls("RecordLifecycleActionHeartbeat"), 20);
        assert_eq!(
            aws.calls("DescribeLifecycleHooks"),
            10,
            "once per group and sweep"
        );
        assert_eq!(aws.calls("DescribeAutoScalingGroups"), 2);
        assert_eq!(aws.all_calls().len(), 32);

        // A lifecycle started by its event: one DescribeAutoScalingInstances before anything.
        let before = aws.all_calls().len();
        runtime
            .store()
            .records()
            .insert(Record::new("i-0event", "finished_cloud_init"));
        let event = aws.launch("i-0event", "group-1");
        runtime.handle(&event).await.unwrap();
        assert_eq!(aws.all_calls()[before..], ["DescribeAutoScalingInstances"]);
    });
}

/// A clock the test moves.
#[derive(Default)]
struct TestClock(std::sync::atomic::AtomicU64);

impl lifecycle_aws::runtime::Clock for TestClock {
    fn now(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(
                1_795_600_800 + self.0.load(std::sync::atomic::Ordering::Relaxed),
            )
    }
}

/// A hook whose global timeout (100 heartbeat timeouts of a minute: 100 minutes) comes before
/// the configured deadline (3 hours): the wait ends before Auto Scaling would end it, and the
/// model's failure path decides the result, not the hook's default.
#[test]
fn the_model_decides_before_the_hooks_global_timeout() {
    rt().block_on(async {
        let hook = lifecycle_aws::fleet::Hook::new(
            GROUP,
            "workers-on-launching",
            LifecycleTransition::Launching,
            std::time::Duration::from_secs(60),
            LifecycleResult::Continue,
        );
        let aws = Arc::new(MemoryAutoScaling::new().with_group(GROUP).with_hook(hook));
        let clock = Arc::new(TestClock::default());
        let (runtime, _) = on_fleet(registered([I]), &aws, &[]);
        let runtime = runtime
            .with_clock(clock.clone())
            .with_heartbeat_interval(std::time::Duration::from_secs(30))
            .with_wait_deadline(std::time::Duration::from_secs(3 * 3600));
        let launch = aws.launch(I, GROUP);
        runtime.handle(&launch).await.unwrap();
        assert_eq!(runtime.store().records().get(I).unwrap().state, "joining");

        // 100 minutes less two heartbeat intervals: 5,940 s. Just before, a heartbeat.
        clock.0.store(5_900, std::sync::atomic::Ordering::Relaxed);
        let Outcome::Swept {
            kept_alive,
            expired,
            ..
        } = runtime.sweep().await.unwrap()
        else {
            panic!()
        };
        assert_eq!((kept_alive.len(), expired.len()), (1, 0));
        assert_eq!(aws.heartbeats(), [I]);
        clock.0.store(5_940, std::sync::atomic::Ordering::Relaxed);
        let Outcome::Swept { expired, .. } = runtime.sweep().await.unwrap() else {
            panic!()
        };
        assert_eq!(expired.len(), 1);
        // The model's failure path ran: ABANDON, its decision, not the hook's CONTINUE.
        assert_eq!(runtime.store().records().get(I).unwrap().state, "failed");
        let completions = aws.completions();
        assert_eq!(completions.len(), 1);
        assert_eq!(completions[0].result, LifecycleResult::Abandon);
        assert!(
            aws.timed_out().is_empty(),
            "before Auto Scaling's own timeout"
        );
        // Without the hook's timeouts (the configured 3 hours), the same wait would still
        // have been kept alive at 5,940 s: the hook's limit is what ended it.
    });
}

/// An instance terminated outside its group (from the console, a Spot reclaim) with its
/// state-change event lost: the sweep's check of records at rest finds neither Auto Scaling
/// nor EC2 knows it, and the model ends the record (which then expires). An instance Auto
/// Scaling does not list but EC2 still knows (detached, or not listed where it is) is only
/// looked at again an interval later.
#[test]
fn a_record_whose_instance_vanished_is_brought_to_its_end() {
    rt().block_on(async {
        let aws = Arc::new(MemoryAutoScaling::new().with_group(GROUP));
        let other = "i-0a1b2c3d4e5f60002";
        let clock = Arc::new(TestClock::default());
        let ec2 = Arc::new(lifecycle_aws::instances::MemoryInstances::default());
        let (runtime, commands) = on_fleet(registered([I, other]), &aws, &[GROUP]);
        let runtime = runtime
            .with_clock(clock.clone())
            .with_instances(ec2.clone());
        for id in [I, other] {
            let launch = aws.launch(id, GROUP);
            runtime.handle(&launch).await.unwrap();
            let (command, request) = commands.sent().pop().unwrap();
            let result = command_status_event(&command, id, &request.document_name, "Success");
            runtime.handle(&result).await.unwrap();
            let record = runtime.store().records().get(id).unwrap();
            assert_eq!(record.state, "ready");
            assert_eq!(
                record.attributes.get("AliveCheck"),
                Some(&Value::Bool(true))
            );
        }
        aws.forget(I);
        // `other` too, but EC2 still has it.
        aws.forget(other);
        ec2.add(other, lifecycle_aws::instances::InstanceFacts::default());

        let Outcome::Swept { vanished, .. } = runtime.sweep().await.unwrap() else {
            panic!()
        };
        assert!(vanished.is_empty(), "not due before the interval");
        clock.0.store(3600, std::sync::atomic::Ordering::Relaxed);
        let before = aws.calls("DescribeAutoScalingInstances");
        let Outcome::Swept {
            vanished,
            kept_alive,
            failed,
            ..
        } = runtime.sweep().await.unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (vanished, kept_alive, failed),
            (vec![I.to_owned()], vec![other.to_owned()], vec![])
        );
        assert_eq!(
            aws.calls("DescribeAutoScalingInstances") - before,
            1,
            "both asked in one call"
        );
        let record = runtime.store().records().get(I).unwrap();
        assert_eq!(record.state, "gone");
        assert_eq!(record.attributes.get("Vanished"), Some(&Value::Bool(true)));
        assert!(record.attributes.contains_key("ExpiresAt"), "it expires");
        assert!(!record.attributes.contains_key("DueAt"), "out of the index");
        // The one still in service is looked at again an interval later, not before.
        let Outcome::Swept {
            kept_alive,
            vanished,
            ..
        } = runtime.sweep().await.unwrap()
        else {
            panic!()
        };
        assert!(kept_alive.is_empty() && vanished.is_empty());
        assert_eq!(runtime.store().records().get(other).unwrap().state, "ready");
    });
}

/// Auto Scaling as the sweep sees it, one look behind: right after it answers which instances
/// wait, `after_look` changes the fleet (once), as another delivery would in the seconds before
/// the sweep acts on that answer.
struct OneLookBehind {
    aws: Arc<MemoryAutoScaling>,
    after_look: std::sync::Mutex<Option<Change>>,
}

/// What happens to the fleet in the meantime.
type Change = Box<dyn FnOnce(&MemoryAutoScaling) + Send>;

#[async_trait::async_trait]
impl lifecycle_aws::fleet::Fleet for OneLookBehind {
    async fn instances(
        &self,
        instance_ids: &[String],
        region: Option<&str>,
    ) -> Result<Vec<lifecycle_aws::fleet::FleetInstance>, lifecycle_aws::actions::ActionError> {
        self.aws.instances(instance_ids, region).await
    }

    async fn warm_pool(
        &self,
        group: &str,
        region: Option<&str>,
    ) -> Result<Vec<lifecycle_aws::fleet::FleetInstance>, lifecycle_aws::actions::ActionError> {
        self.aws.warm_pool(group, region).await
    }

    async fn waiting(
        &self,
        groups: &[String],
        region: Option<&str>,
    ) -> Result<Vec<lifecycle_aws::fleet::FleetInstance>, lifecycle_aws::actions::ActionError> {
        let waiting = self.aws.waiting(groups, region).await?;
        if let Some(change) = self.after_look.lock().unwrap().take() {
            change(&self.aws);
        }
        Ok(waiting)
    }

    async fn hooks(
        &self,
        group: &str,
        region: Option<&str>,
    ) -> Result<Vec<lifecycle_aws::fleet::Hook>, lifecycle_aws::actions::ActionError> {
        self.aws.hooks(group, region).await
    }
}

/// The warm pool's entry lifecycle ended, its completion lost; the sweep reads that Auto
/// Scaling still holds the entry, and in the seconds before it completes it again, the entry
/// is completed after all and the instance leaves the pool — a new action of the same hook.
/// The sweep's completion names the entry's token: Auto Scaling refuses it, and the exit's
/// action is left to its own lifecycle (a completion by instance and hook would have ended it
/// CONTINUE with no join).
#[test]
fn a_sweep_one_look_behind_completes_no_other_action() {
    use lifecycle_aws::actions::LifecycleActions;
    rt().block_on(async {
        let aws = Arc::new(MemoryAutoScaling::new().with_group(GROUP));
        let fleet = Arc::new(OneLookBehind {
            aws: aws.clone(),
            after_look: std::sync::Mutex::new(None),
        });
        let commands = Arc::new(MemoryCommands::new());
        let runtime = Runtime::with_parts(
            registered([I]),
            commands.clone(),
            aws.clone(),
            (|| Worker) as fn() -> Worker,
        )
        .with_fleet(fleet.clone())
        .with_groups([GROUP]);
        let deliver = |event: Value| {
            let runtime = &runtime;
            async move { runtime.handle_bytes(event.to_string().as_bytes()).await }
        };

        let entry = aws.launch_into_warm_pool(I, GROUP);
        aws.fail_next("CompleteLifecycleAction", ApiFault::Throttle);
        assert!(
            deliver(entry).await.is_err(),
            "its completion was throttled"
        );
        assert_eq!(runtime.store().records().get(I).unwrap().state, "warmed");
        assert_eq!(
            aws.lifecycle_state(I).as_deref(),
            Some("Warmed:Pending:Wait")
        );

        *fleet.after_look.lock().unwrap() = Some(Box::new(|aws: &MemoryAutoScaling| {
            let held = aws.held_action(I).unwrap();
            let done = futures_done(aws.complete(&held, None, LifecycleResult::Continue)).unwrap();
            assert_eq!(done, lifecycle_aws::actions::Completed::Done);
            let _exit = aws.launch_from_warm_pool(I);
        }));
        let outcomes = deliver(scheduled_event("lifecycle-sweep")).await.unwrap();
        let [Outcome::Swept { recompleted, .. }] = &outcomes.outcomes[..] else {
            panic!("not a sweep: {outcomes:?}")
        };
        assert_eq!(recompleted, &[I], "it tried");
        assert_eq!(aws.lifecycle_state(I).as_deref(), Some("Pending:Wait"));
        assert!(
            aws.held_action(I).is_some(),
            "the exit's action is still held"
        );
        assert_eq!(aws.completions().len(), 1, "only the entry, once");
        assert!(commands.sent().is_empty());
    });
}

/// Polls a future of the in-memory fakes, which never wait, to its end.
fn futures_done<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("an in-memory fake waited"),
    }
}

/// A model whose warm-pool entry brings its record to its end: prepared in the pool, the
/// instance has nothing left to do when it leaves it but note it (the original's docker-swarm
/// model, whose triggers take any event, does so).
struct PreparedOnce;

#[lifecycle_core::lifecycle_model(
    states(FinishedCloudInit, Installing, Prepared, Failed),
    initial = FinishedCloudInit,
    terminal(Prepared, Failed),
    failure = Failed,
    error = common::worker::NodeError,
)]
impl PreparedOnce {
    #[transition(from = FinishedCloudInit, to = Installing)]
    async fn install(
        &mut self,
        _ctx: &mut lifecycle_core::Context<'_>,
    ) -> Result<(), common::worker::NodeError> {
        Ok(())
    }

    #[transition(from = Installing, to = Prepared)]
    async fn prepare(
        &mut self,
        _ctx: &mut lifecycle_core::Context<'_>,
    ) -> Result<(), common::worker::NodeError> {
        Ok(())
    }

    /// Prepared, it only notes what comes (an internal transition, as the docker-swarm port's
    /// `graceful_remove`).
    #[transition(from = Prepared)]
    async fn note(
        &mut self,
        ctx: &mut lifecycle_core::Context<'_>,
    ) -> Result<(), common::worker::NodeError> {
        ctx.set("LastSeen", ctx.event().id.clone());
        Ok(())
    }
}

/// The runtime of [`PreparedOnce`] on a fleet in memory, instance `I` registered.
fn prepared_once(
    aws: &Arc<MemoryAutoScaling>,
) -> Runtime<PreparedOnce, fn() -> PreparedOnce, MemoryTable> {
    Runtime::with_parts(
        registered([I]),
        Arc::new(MemoryCommands::new()),
        aws.clone(),
        (|| PreparedOnce) as fn() -> PreparedOnce,
    )
    .with_fleet(aws.clone())
    .with_groups([GROUP])
}

/// The warm pool's entry lifecycle ended where the record rests (`prepared`, a terminal
/// state) and the event of the instance's exit from the pool — a second launch — was lost.
/// The sweep finds the record's ended lifecycle, but it is the entry's: Auto Scaling refuses
/// its completion (by the entry's token), or, for an entry the sweep itself started, it names
/// another action. The exit's own lifecycle is started, and completes it CONTINUE. (Each sweep
/// completed the entry again, or left the exit to a lifecycle that would never come: the
/// instance waited for its hook's timeout.) Found by the docker-swarm simulation (seeds 2755
/// and 291).
#[test]
fn a_warm_pool_exit_after_an_entry_that_ended_the_record_is_completed() {
    for entry_lost in [false, true] {
        rt().block_on(async {
            let aws = Arc::new(MemoryAutoScaling::new().with_group(GROUP));
            let runtime = prepared_once(&aws);
            let deliver = |event: Value| {
                let runtime = &runtime;
                async move { runtime.handle_bytes(event.to_string().as_bytes()).await }
            };
            let entry = aws.launch_into_warm_pool(I, GROUP);
            if !entry_lost {
                deliver(entry).await.unwrap();
            }
            deliver(scheduled_event("lifecycle-sweep")).await.unwrap();
            assert_eq!(runtime.store().records().get(I).unwrap().state, "prepared");
            assert_eq!(aws.lifecycle_state(I).as_deref(), Some("Warmed:Stopped"));

            let _lost = aws.launch_from_warm_pool(I);
            for _ in 0..2 {
                deliver(scheduled_event("lifecycle-sweep")).await.unwrap();
            }
            let completions: Vec<_> = aws
                .completions()
                .into_iter()
                .map(|c| (c.action.destination, c.result))
                .collect();
            assert_eq!(
                completions,
                [
                    (Some(Location::WarmPool), LifecycleResult::Continue),
                    (Some(Location::AutoScalingGroup), LifecycleResult::Continue)
                ],
                "entry lost: {entry_lost}"
            );
            assert_eq!(aws.lifecycle_state(I).as_deref(), Some("InService"));
        });
    }
}

/// The warm pool's entry was cut off on its way (`installing`, a state the record leaves by
/// itself), an hour ago, and its event is not delivered again. The sweep finds the entry held
/// and the record's lifecycle of it, not at rest: it goes on with that lifecycle, under its
/// key, to `prepared`, and completes the entry by its token. (A new lifecycle, started past
/// the launch, was refused at every sweep: the instance waited for its hook's timeout.) Found
/// by the docker-swarm simulation's long run (seed 41,385).
#[test]
fn the_sweep_goes_on_with_a_warm_pool_entry_cut_off_on_its_way() {
    rt().block_on(async {
        let aws = Arc::new(MemoryAutoScaling::new().with_group(GROUP));
        let runtime = prepared_once(&aws);
        let entry = aws.launch_into_warm_pool(I, GROUP);
        let token = entry["detail"]["LifecycleActionToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let an_hour_ago = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 3600;
        runtime.store().records().update(I, |record| {
            record.state = "installing".into();
            record.attributes.insert(
                "LifecycleProgress".into(),
                format!("CONTINUE rest {token}/launch entry-1").into(),
            );
            record.attributes.insert(
                "History".into(),
                format!("{an_hour_ago} finished_cloud_init installing install entry-1 - -").into(),
            );
        });
        runtime
            .handle_bytes(scheduled_event("lifecycle-sweep").to_string().as_bytes())
            .await
            .unwrap();
        assert_eq!(runtime.store().records().get(I).unwrap().state, "prepared");
        let completions = aws.completions();
        assert_eq!(completions.len(), 1);
        assert_eq!(
            completions[0].action.lifecycle_action_token.as_deref(),
            Some(token.as_str()),
            "the entry, by its token"
        );
        assert_eq!(completions[0].result, LifecycleResult::Continue);
    });
}

/// The warm pool's entry ran to its end (`prepared`, where the record only notes what comes:
/// an internal transition) and its completion never reached Auto Scaling. The sweep completes
/// it again, by its token: the internal transition is not a way on (taken for one, the sweep
/// started a new lifecycle of the entry, which the record, past its launch, refused at every
/// sweep). Found by the docker-swarm simulation's long run (seed 112,839).
#[test]
fn an_entry_ended_where_its_record_only_notes_events_is_completed_again() {
    rt().block_on(async {
        let aws = Arc::new(MemoryAutoScaling::new().with_group(GROUP));
        let runtime = prepared_once(&aws);
        let entry = aws.launch_into_warm_pool(I, GROUP);
        let token = entry["detail"]["LifecycleActionToken"]
            .as_str()
            .unwrap()
            .to_owned();
        aws.fail_next("CompleteLifecycleAction", ApiFault::Throttle);
        assert!(
            runtime
                .handle_bytes(entry.to_string().as_bytes())
                .await
                .is_err(),
            "its completion was throttled"
        );
        assert_eq!(runtime.store().records().get(I).unwrap().state, "prepared");
        runtime
            .handle_bytes(scheduled_event("lifecycle-sweep").to_string().as_bytes())
            .await
            .unwrap();
        let completions = aws.completions();
        assert_eq!(completions.len(), 1);
        assert_eq!(
            completions[0].action.lifecycle_action_token.as_deref(),
            Some(token.as_str())
        );
        assert_eq!(aws.lifecycle_state(I).as_deref(), Some("Warmed:Stopped"));
    });
}
