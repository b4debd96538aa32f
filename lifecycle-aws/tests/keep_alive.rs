//! Every lifecycle action the runtime holds is kept alive until the model decides it, on a
//! clock the test moves, through the Lambda's code path (`Runtime::handle_bytes`, the
//! in-memory node table, recording SSM) against Auto Scaling in memory: a new wait at the next
//! sweep, a reconciled start before its lifecycle waits, a termination deferred behind a drain
//! as long as the drain goes on. What the deterministic simulation found (seeds 22, 23 and 305;
//! RELIABILITY.md), each as one story.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use common::TestClock;
use common::faults::{Faults, FaultyTable};
use common::worker::{Worker, on_fleet, registered};
use lifecycle_aws::runtime::{Answer, HandleError, Outcome, Runtime};
use lifecycle_aws::store::{MemoryTable, NodeTable};
use lifecycle_aws::testing::{
    MemoryAutoScaling, MemoryCommands, command_status_event, scheduled_event,
    spot_interruption_event,
};
use lifecycle_core::{CommandStatus, LifecycleResult, LifecycleTransition, Record, attr};
use serde_json::{Value, json};

const I: &str = "i-0a1b2c3d4e5f60001";
const GROUP: &str = "workers";
/// The runtime's heartbeat interval (its default) and the sweep's period (the template's).
const INTERVAL: u64 = 240;
const SWEEP_PERIOD: u64 = 300;

/// Every call of the table yields once, so a delivery can be stopped between two of them.
type Table = FaultyTable<MemoryTable>;

struct Fleet {
    runtime: Runtime<Worker, fn() -> Worker, Table>,
    aws: Arc<MemoryAutoScaling>,
    commands: Arc<MemoryCommands>,
    clock: Arc<TestClock>,
}

impl Fleet {
    fn new() -> Self {
        let aws = Arc::new(MemoryAutoScaling::new().with_group(GROUP));
        let table = FaultyTable {
            inner: registered([I]),
            faults: Faults::seeded(0, 0),
        };
        let (runtime, commands) = on_fleet(table, &aws, &[GROUP]);
        let clock = TestClock::at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_600_800));
        Fleet {
            runtime: runtime.with_clock(clock.clone()),
            aws,
            commands,
            clock,
        }
    }

    fn handling<'f>(&'f self, event: &Value) -> Handling<'f> {
        let bytes = event.to_string().into_bytes();
        Box::pin(async move { self.runtime.handle_bytes(&bytes).await })
    }

    /// Delivers `event` to the end.
    fn deliver(&self, event: &Value) -> Vec<Outcome> {
        let mut handling = self.handling(event);
        loop {
            if let Poll::Ready(answer) = poll_once(&mut handling) {
                return answer.unwrap().outcomes;
            }
        }
    }

    /// The scheduled sweep, `seconds` after the last one.
    fn sweep_after(&self, seconds: u64) -> Outcome {
        self.clock.advance(Duration::from_secs(seconds));
        let [swept] =
            <[Outcome; 1]>::try_from(self.deliver(&scheduled_event("lifecycle-sweep"))).unwrap();
        swept
    }

    fn record(&self) -> Record {
        self.runtime.store().inner.records().get(I).unwrap()
    }

    /// The last command sent to the instance.
    fn last_command(&self) -> (String, String) {
        let (id, request) = self.commands.sent().pop().expect("a command was sent");
        (id, request.document_name)
    }

    /// SSM ends the last command with `status`; its status event comes (or is lost).
    fn finish_last(&self, status: &str, event_comes: bool) {
        let (id, document) = self.last_command();
        self.commands.finish(
            &id,
            match status {
                "Success" => CommandStatus::Success,
                _ => CommandStatus::Failed,
            },
        );
        if event_comes {
            self.deliver(&command_status_event(&id, I, &document, status));
        }
    }

    fn completions(&self) -> Vec<(LifecycleTransition, LifecycleResult)> {
        self.aws
            .completions()
            .into_iter()
            .map(|c| (c.action.lifecycle_transition, c.result))
            .collect()
    }

    /// The instance joined and in service.
    fn in_service(&self) {
        self.deliver(&self.aws.launch(I, GROUP));
        self.finish_last("Success", true);
        assert_eq!(self.record().state, "ready");
    }
}

type Handling<'f> = Pin<Box<dyn Future<Output = Result<Answer, HandleError>> + 'f>>;

fn poll_once(handling: &mut Handling<'_>) -> Poll<Result<Answer, HandleError>> {
    handling
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn a_new_wait_gets_its_first_heartbeat_at_the_next_sweep_then_one_per_sweep() {
    let fleet = Fleet::new();
    fleet.deliver(&fleet.aws.launch(I, GROUP));
    assert_eq!(fleet.record().state, "joining");
    assert!(fleet.aws.heartbeats().is_empty());

    // The launch's action has been silent since Auto Scaling opened it, for as long as its
    // event took: the next sweep keeps it alive, not one heartbeat interval later.
    fleet.sweep_after(1);
    assert_eq!(fleet.aws.heartbeats(), [I]);
    // Then one heartbeat interval on: not at a sweep sooner (a retried invocation, say)...
    fleet.sweep_after(INTERVAL / 2);
    assert_eq!(fleet.aws.heartbeats().len(), 1);
    // ... but at the one that comes within a quarter interval of it: waiting for the sweep
    // after would leave the action a whole period longer without one.
    fleet.sweep_after(INTERVAL / 2 - INTERVAL / 4 + 1);
    assert_eq!(fleet.aws.heartbeats().len(), 2);
    // And at each regular sweep after.
    fleet.sweep_after(SWEEP_PERIOD);
    fleet.sweep_after(SWEEP_PERIOD);
    assert_eq!(fleet.aws.heartbeats().len(), 4);

    fleet.finish_last("Success", true);
    assert_eq!(
        fleet.completions(),
        [(LifecycleTransition::Launching, LifecycleResult::Continue)]
    );
}

/// `at` as RFC 3339, as EventBridge writes an event's `time`.
fn rfc3339(at: SystemTime) -> String {
    use aws_sdk_ssm::primitives::{DateTime, DateTimeFormat};
    DateTime::from(at).fmt(DateTimeFormat::DateTime).unwrap()
}

#[test]
fn an_event_that_comes_late_gets_a_heartbeat_as_its_lifecycle_starts_to_wait() {
    let fleet = Fleet::new();
    let now = fleet.clock.0.lock().unwrap().to_owned();
    // Delivered again three minutes after it happened (its first delivery's process died).
    let mut launch = fleet.aws.launch(I, GROUP);
    launch["time"] = rfc3339(now - Duration::from_secs(180)).into();
    fleet.deliver(&launch);
    assert_eq!(fleet.record().state, "joining");
    assert_eq!(fleet.aws.heartbeats(), [I]);

    // An event on time needs none: the next sweep is soon enough.
    let fresh = Fleet::new();
    let mut launch = fresh.aws.launch(I, GROUP);
    launch["time"] = rfc3339(now - Duration::from_secs(2)).into();
    fresh.deliver(&launch);
    assert_eq!(fresh.record().state, "joining");
    assert!(fresh.aws.heartbeats().is_empty());
}

#[test]
fn a_reconciled_start_keeps_its_action_alive_before_its_lifecycle_waits() {
    let fleet = Fleet::new();
    let _lost = fleet.aws.launch(I, GROUP);

    let Outcome::Swept { reconciled, .. } = fleet.sweep_after(SWEEP_PERIOD) else {
        panic!("not a sweep")
    };
    assert_eq!(reconciled, [I]);
    assert_eq!(fleet.record().state, "joining");
    // Heartbeat first, then the join: the action's timer starts again from the start.
    let calls = fleet.aws.all_calls();
    let heartbeat = calls
        .iter()
        .position(|c| *c == "RecordLifecycleActionHeartbeat");
    assert!(heartbeat.is_some(), "{calls:?}");
    assert_eq!(fleet.aws.heartbeats(), [I]);
    // And the next sweep keeps it alive as any wait.
    fleet.sweep_after(SWEEP_PERIOD);
    assert_eq!(fleet.aws.heartbeats().len(), 2);
}

#[test]
fn a_termination_deferred_behind_a_drain_is_kept_alive_until_the_drains_lost_result_is_found() {
    let fleet = Fleet::new();
    fleet.in_service();
    fleet.deliver(&spot_interruption_event(I));
    assert_eq!(fleet.record().state, "draining");
    assert_eq!(fleet.last_command().1, "ClusterLeave");
    // A sweep looks at the drain: its next look is one heartbeat interval on.
    fleet.sweep_after(1);
    // Auto Scaling terminates the instance while the drain goes on: the termination waits,
    // and the drain's next look comes forward to the next sweep, whenever it runs.
    fleet.clock.advance(Duration::from_secs(10));
    fleet.deliver(&fleet.aws.terminate(I));
    assert!(lifecycle_core::deferred_termination(&fleet.record()).is_some());
    let before = fleet.aws.heartbeats().len();
    fleet.sweep_after(INTERVAL / 2);
    assert_eq!(fleet.aws.heartbeats().len(), before + 1);
    let before = before + 1;

    // The drain has no lifecycle action of its own, yet each sweep keeps the termination's
    // alive — as long as the drain takes.
    for n in 1..=3 {
        fleet.sweep_after(SWEEP_PERIOD);
        assert_eq!(fleet.aws.heartbeats().len(), before + n);
        assert!(fleet.aws.held_action(I).is_some());
    }

    // The drain ends, its status event lost: the next sweep asks SSM, ends the drain, and the
    // termination runs — within one sweep, not at the drain's deadline an hour on.
    fleet.finish_last("Success", false);
    fleet.sweep_after(SWEEP_PERIOD);
    assert_eq!(fleet.record().state, "gone");
    assert_eq!(
        fleet.completions(),
        [
            (LifecycleTransition::Launching, LifecycleResult::Continue),
            (LifecycleTransition::Terminating, LifecycleResult::Continue)
        ]
    );
    let documents: Vec<String> = fleet
        .commands
        .sent()
        .into_iter()
        .map(|(_, r)| r.document_name)
        .collect();
    assert_eq!(documents, ["ClusterJoin", "ClusterLeave"]);
}

#[test]
fn a_deferred_termination_whose_run_was_cut_off_is_run_by_the_next_sweep() {
    let fleet = Fleet::new();
    fleet.in_service();
    fleet.deliver(&spot_interruption_event(I));
    fleet.finish_last("Success", true);
    assert_eq!(fleet.record().state, "drained");
    // The termination came during the drain and was noted; the drain's end ran it, and that
    // run was cut off before its first write: the record is at rest, the note still on it.
    let _noted = fleet.aws.terminate(I);
    let action = fleet.aws.held_action(I).unwrap();
    let noted = json!({"EventId": "event-terminate", "Action": action}).to_string();
    fleet.runtime.store().inner.records().update(I, |record| {
        record
            .attributes
            .insert(attr::DEFERRED_TERMINATION.to_owned(), noted.into());
    });

    let Outcome::Swept { reconciled, .. } = fleet.sweep_after(SWEEP_PERIOD) else {
        panic!("not a sweep")
    };
    assert_eq!(reconciled, [I]);
    let record = fleet.record();
    assert_eq!(record.state, "gone");
    assert!(lifecycle_core::deferred_termination(&record).is_none());
    assert_eq!(
        fleet.completions(),
        [
            (LifecycleTransition::Launching, LifecycleResult::Continue),
            (LifecycleTransition::Terminating, LifecycleResult::Continue)
        ]
    );
    // Run once: the next sweep finds nothing to do.
    let Outcome::Swept { reconciled, .. } = fleet.sweep_after(SWEEP_PERIOD) else {
        panic!("not a sweep")
    };
    assert!(reconciled.is_empty());
    assert_eq!(fleet.completions().len(), 2);
}

#[test]
fn a_result_the_sweep_finds_before_its_sender_wrote_the_wait_stays_registered_for_it() {
    let fleet = Fleet::new();
    fleet.in_service();
    // The Spot warning's delivery sends the drain and registers it, then stalls before the
    // write that makes the record wait for it.
    let mut stalled = fleet.handling(&spot_interruption_event(I));
    let command_id = loop {
        assert!(
            poll_once(&mut stalled).is_pending(),
            "stalled before its end"
        );
        let sent = fleet.commands.sent();
        if sent.len() == 2 {
            let id = sent[1].0.clone();
            let registered =
                lifecycle_aws::testing::block_on(fleet.runtime.store().inner.peek_command(&id));
            if registered.unwrap().is_some() {
                break id;
            }
        }
    };
    assert_eq!(fleet.record().state, "ready");
    // The drain ends at once, its status event lost; a sweep asks SSM meanwhile.
    fleet.finish_last("Success", false);
    fleet.sweep_after(SWEEP_PERIOD);
    // Not taken as a stray result: the registration stays, for the write to come.
    let registered =
        lifecycle_aws::testing::block_on(fleet.runtime.store().inner.peek_command(&command_id));
    assert!(registered.unwrap().is_some());
    assert_eq!(fleet.record().state, "ready");

    // The sender comes back and writes the wait; the next sweep ends it with SSM's result.
    while poll_once(&mut stalled).is_pending() {}
    drop(stalled);
    assert_eq!(fleet.record().state, "draining");
    fleet.sweep_after(SWEEP_PERIOD);
    assert_eq!(fleet.record().state, "drained");
    assert!(
        lifecycle_aws::testing::block_on(fleet.runtime.store().inner.peek_command(&command_id))
            .unwrap()
            .is_none()
    );
}

#[test]
fn an_action_whose_delivery_stalls_holding_the_claim_is_kept_alive_by_the_sweep() {
    let fleet = Fleet::new();
    fleet.in_service();
    // The termination's delivery takes the record's claim, then stalls (paused past its
    // lease, about to be cut off): no wait is registered yet, nothing keeps the action alive.
    let mut stalled = fleet.handling(&fleet.aws.terminate(I));
    while !fleet
        .record()
        .attributes
        .contains_key(lifecycle_core::attr::CLAIMED_BY)
    {
        assert!(
            poll_once(&mut stalled).is_pending(),
            "stalled before its end"
        );
    }
    let before = fleet.aws.heartbeats().len();
    // Within the claim's lease the sweep leaves the action to that delivery, but keeps it
    // alive: a heartbeat costs nothing if the delivery is well.
    fleet.sweep_after(1);
    assert_eq!(fleet.aws.heartbeats().len(), before + 1);
    assert!(fleet.aws.held_action(I).is_some());
    assert_eq!(fleet.record().state, "ready", "nothing started beside it");
    drop(stalled);
}
