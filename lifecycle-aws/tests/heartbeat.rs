//! Waiting for a command with a deadline, on a clock the test moves: heartbeats keep the hook
//! alive until then, and the scheduled sweep ends waits whose result never came.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::TestClock;
use common::node::{
    LONG_AGO, Node, Recorded, command_status, end_of, launching, outcome, terminating,
};
use lifecycle_aws::runtime::{Outcome, Runtime};
use lifecycle_aws::store::NodeTable;
use lifecycle_core::{LifecycleResult, LifecycleTransition};
use serde_json::{Value, json};

fn sweep_event(n: u32) -> Value {
    json!({
        "version": "0", "id": format!("sweep-{n}"), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-11-25T10:00:00Z",
        "region": "eu-central-1",
        "resources": ["arn:aws:events:eu-central-1:123456789012:rule/lifecycle-sweep"],
        "detail": {}
    })
}

struct Setup {
    runtime: Runtime<Node, fn() -> Node>,
    recorded: Arc<Recorded>,
    clock: Arc<TestClock>,
    sweeps: u32,
}

const DEADLINE: Duration = Duration::from_secs(3600);

impl Setup {
    async fn new() -> Self {
        let config = common::sdk_config().await;
        let table = common::node_table(&aws_sdk_dynamodb::Client::new(&config)).await;
        let recorded = Arc::new(Recorded::default());
        let clock = Arc::new(TestClock(Mutex::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_600_800),
        )));
        // The commands run for hours: only their events, or the deadline, end the waits.
        let ssm = Arc::new(lifecycle_aws::effects::SsmCommands(
            aws_sdk_ssm::Client::new(&config),
        ));
        let runtime = Runtime::new(&config, table, (|| Node) as fn() -> Node)
            .with_commands(Arc::new(common::faults::StillRunning(ssm)))
            .with_actions(recorded.clone())
            .with_fleet(recorded.clone())
            .with_clock(clock.clone())
            .with_wait_deadline(DEADLINE);
        Setup {
            runtime,
            recorded,
            clock,
            sweeps: 0,
        }
    }

    async fn instance(&self, ident: &str) {
        assert!(
            self.runtime
                .store()
                .create(ident, "finished_cloud_init")
                .await
                .unwrap()
        );
    }

    async fn handle(&self, event: Value) -> Outcome {
        outcome(&self.runtime.handle(&event).await.unwrap())
    }

    async fn sweep(&mut self) -> (Vec<String>, Vec<String>) {
        self.sweeps += 1;
        match self.handle(sweep_event(self.sweeps)).await {
            Outcome::Swept {
                kept_alive,
                expired,
                failed,
                skipped,
                unfinished,
                ..
            } => {
                assert!(failed.is_empty(), "{failed:?}");
                assert!(skipped.is_empty() && !unfinished);
                (kept_alive, expired)
            }
            other => panic!("not a sweep: {other:?}"),
        }
    }

    async fn state_and_command(&self, ident: &str, attribute: &str) -> (String, String) {
        let record = lifecycle_core::Store::load(self.runtime.store(), ident)
            .await
            .unwrap()
            .unwrap();
        let command = record.get_str(attribute).unwrap_or_default().to_owned();
        (record.state, command)
    }

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

    fn heartbeats(&self, ident: &str) -> usize {
        self.recorded
            .heartbeats
            .lock()
            .unwrap()
            .iter()
            .filter(|i| *i == ident)
            .count()
    }
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_launch_kept_alive_until_its_deadline_then_abandoned() {
    common::run(async {
        let mut s = Setup::new().await;
        s.instance("i-hb1").await;
        s.handle(launching("i-hb1")).await;
        let (state, join) = s.state_and_command("i-hb1", "JoinCommand").await;
        assert_eq!(state, "joining");

        // No result yet: each sweep within the deadline keeps the hook alive.
        for minutes in [10, 20, 20] {
            s.clock.advance(Duration::from_secs(60 * minutes));
            assert_eq!(s.sweep().await, (vec![join.clone()], vec![]));
        }
        // The command's own progress events do too.
        let progress = s
            .handle(command_status(&join, "i-hb1", "InProgress", LONG_AGO))
            .await;
        assert_eq!(
            progress,
            Outcome::Heartbeat {
                command_id: join.clone()
            }
        );
        assert_eq!(s.heartbeats("i-hb1"), 4);
        assert!(s.completions("i-hb1").is_empty());

        // Past the deadline the wait ends as if the command had timed out.
        s.clock.advance(Duration::from_secs(60 * 10));
        assert_eq!(s.sweep().await, (vec![], vec![join.clone()]));
        assert_eq!(
            s.state_and_command("i-hb1", "JoinCommand").await.0,
            "abandoned"
        );
        assert_eq!(
            s.completions("i-hb1"),
            [(LifecycleTransition::Launching, LifecycleResult::Abandon)]
        );
        assert_eq!(s.heartbeats("i-hb1"), 4, "no heartbeat past the deadline");

        // The result that finally arrives finds nothing waiting; the next sweep nothing to do.
        let late = s
            .handle(command_status(&join, "i-hb1", "Success", LONG_AGO))
            .await;
        assert!(matches!(late, Outcome::Ignored { .. }), "{late:?}");
        assert_eq!(s.sweep().await, (vec![], vec![]));
        assert_eq!(s.completions("i-hb1").len(), 1);
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_termination_past_its_deadline_continues() {
    common::run(async {
        let mut s = Setup::new().await;
        s.instance("i-hb2").await;
        s.handle(launching("i-hb2")).await;
        let join = s.state_and_command("i-hb2", "JoinCommand").await.1;
        s.handle(command_status(&join, "i-hb2", "Success", LONG_AGO))
            .await;
        let leaving = s.handle(terminating("i-hb2")).await;
        assert_eq!(end_of(&leaving), ("leaving", "waiting", None));
        let leave = s.state_and_command("i-hb2", "LeaveCommand").await.1;

        // A progress event past the deadline ends the wait as well.
        s.clock.advance(DEADLINE + Duration::from_secs(1));
        let ended = s
            .handle(command_status(&leave, "i-hb2", "InProgress", LONG_AGO))
            .await;
        assert_eq!(end_of(&ended), ("gone", "finished", Some("CONTINUE")));
        assert_eq!(
            s.completions("i-hb2"),
            [
                (LifecycleTransition::Launching, LifecycleResult::Continue),
                (LifecycleTransition::Terminating, LifecycleResult::Continue)
            ]
        );
        assert_eq!(s.sweep().await, (vec![], vec![]));
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_wait_whose_hook_timed_out_is_ended_by_the_sweep() {
    common::run(async {
        let mut s = Setup::new().await;
        s.instance("i-hb3").await;
        s.handle(launching("i-hb3")).await;
        let join = s.state_and_command("i-hb3", "JoinCommand").await.1;
        // Auto Scaling gave up on the action (its heartbeat timeout passed unseen, its event
        // late); the next sweep looks at a new wait, and finds the action gone.
        s.recorded.gone.lock().unwrap().push("token-i-hb3".into());
        s.clock.advance(Duration::from_secs(60));
        assert_eq!(s.sweep().await, (vec![], vec![join]));
        assert_eq!(
            s.state_and_command("i-hb3", "JoinCommand").await.0,
            "abandoned"
        );
        assert!(
            s.completions("i-hb3").is_empty(),
            "nothing left to complete"
        );
        assert_eq!(s.recorded.repeated.lock().unwrap().len(), 1);
    });
}
