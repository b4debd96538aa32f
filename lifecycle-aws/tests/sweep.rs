//! The sweep on the sparse index of waits, against moto_server: only what is due is read, every
//! wait has a deadline (parked launches too), a malformed item stops nothing, a sweep cut by its
//! time budget is continued by the next, finished records expire.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;
use common::TestClock;
use common::node::{
    LONG_AGO, Node, Recorded, command_status, end_of, launching, outcome, terminating,
};
use lifecycle_aws::runtime::{Outcome, Runtime};
use lifecycle_aws::store::NodeTable;
use lifecycle_core::{LifecycleResult, LifecycleTransition, Store};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(3600);
const START: u64 = 1_795_600_800;

struct Setup {
    runtime: Runtime<Node, fn() -> Node>,
    recorded: Arc<Recorded>,
    clock: Arc<TestClock>,
    sweeps: u32,
}

impl Setup {
    async fn new(budget: Duration) -> Self {
        let config = common::sdk_config().await;
        let table = common::node_table(&aws_sdk_dynamodb::Client::new(&config)).await;
        let recorded = Arc::new(Recorded::default());
        let clock = TestClock::at(SystemTime::UNIX_EPOCH + Duration::from_secs(START));
        // The commands run for hours: only their events, or the deadline, end the waits.
        let ssm = Arc::new(lifecycle_aws::effects::SsmCommands(
            aws_sdk_ssm::Client::new(&config),
        ));
        let runtime = Runtime::new(&config, table, (|| Node) as fn() -> Node)
            .with_commands(Arc::new(common::faults::StillRunning(ssm)))
            .with_actions(recorded.clone())
            .with_fleet(recorded.clone())
            .with_clock(clock.clone())
            .with_wait_deadline(DEADLINE)
            .with_sweep_budget(budget);
        Setup {
            runtime,
            recorded,
            clock,
            sweeps: 0,
        }
    }

    async fn put(&self, item: Value) {
        let item = item
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), lifecycle_aws::store::to_attribute(v)))
            .collect();
        let store = self.runtime.store();
        store
            .client()
            .put_item()
            .table_name(store.table())
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }

    async fn handle(&self, event: Value) -> Outcome {
        outcome(&self.runtime.handle(&event).await.unwrap())
    }

    /// Runs the sweep: (kept alive, expired, skipped, unfinished).
    async fn sweep(&mut self) -> (Vec<String>, Vec<String>, Vec<String>, bool) {
        self.sweeps += 1;
        let event = json!({
            "version": "0", "id": format!("sweep-{}", self.sweeps), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "2026-11-25T10:00:00Z",
            "region": "eu-central-1",
            "resources": ["arn:aws:events:eu-central-1:123456789012:rule/lifecycle-sweep"],
            "detail": {}
        });
        match self.handle(event).await {
            Outcome::Swept {
                kept_alive,
                expired,
                failed,
                skipped,
                unfinished,
                ..
            } => {
                assert!(failed.is_empty(), "{failed:?}");
                (kept_alive, expired, skipped, unfinished)
            }
            other => panic!("not a sweep: {other:?}"),
        }
    }

    async fn record(&self, ident: &str) -> lifecycle_core::Record {
        self.runtime.store().load(ident).await.unwrap().unwrap()
    }

    fn completions(&self, ident: &str) -> Vec<(LifecycleTransition, LifecycleResult)> {
        let completions = self.recorded.completions.lock().unwrap();
        completions
            .iter()
            .filter(|c| c.0 == ident)
            .map(|c| (c.1, c.2))
            .collect()
    }
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_parked_launch_is_kept_alive_then_abandoned_at_its_deadline() {
    common::run(async {
        let mut s = Setup::new(Duration::from_secs(20)).await;
        s.put(json!({"Ident": "i-p1", "ItemStatus": "pending", "ItemType": "worker"}))
            .await;
        assert!(matches!(
            s.handle(launching("i-p1")).await,
            Outcome::Parked { .. }
        ));
        assert_eq!(s.sweep().await.0, Vec::<String>::new(), "not due yet");
        // Cloud-init is slow: the sweep keeps the launch's hook alive.
        s.clock.advance(Duration::from_secs(300));
        assert_eq!(s.sweep().await.0, ["i-p1"]);
        assert_eq!(s.recorded.heartbeats.lock().unwrap().len(), 1);
        // It never finishes: past the deadline the launch ends ABANDON, once.
        s.clock.advance(DEADLINE);
        assert_eq!(s.sweep().await.1, ["i-p1"]);
        assert_eq!(
            s.completions("i-p1"),
            [(LifecycleTransition::Launching, LifecycleResult::Abandon)]
        );
        // The model's failure path ran (Failure → Abandoned).
        let record = s.record("i-p1").await;
        assert_eq!(record.state, "abandoned");
        for gone in ["PendingLifecycle", "WaitShard", "DueAt"] {
            assert!(!record.attributes.contains_key(gone), "{gone} left");
        }
        assert_eq!(s.sweep().await, (vec![], vec![], vec![], false));
        // A redelivery of the launching event finds the launch over (Auto Scaling no longer
        // holds its action): nothing parked or run again, nothing more accepted.
        let again = s.handle(launching("i-p1")).await;
        assert!(matches!(again, Outcome::Refused { .. }), "{again:?}");
        assert_eq!(s.record("i-p1").await.state, "abandoned");
        assert!(
            !s.record("i-p1")
                .await
                .attributes
                .contains_key("PendingLifecycle")
        );
        assert_eq!(s.completions("i-p1").len(), 1);
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_malformed_item_is_skipped_and_the_healthy_wait_beside_it_handled() {
    common::run(async {
        let mut s = Setup::new(Duration::from_secs(20)).await;
        s.runtime
            .store()
            .create("i-h1", "finished_cloud_init")
            .await
            .unwrap();
        s.handle(launching("i-h1")).await;
        let join = s
            .record("i-h1")
            .await
            .get_str("JoinCommand")
            .unwrap()
            .to_owned();
        // Due before it: a command item whose lifecycle data is garbage, with a secret in it.
        s.put(
            json!({"Ident": "cmd-garbage", "ItemType": "command", "WaitShard": "Node",
            "DueAt": 0, "LifecycleData": {"WorkerToken": "SWMTKN-1-secret"}}),
        )
        .await;
        s.clock.advance(Duration::from_secs(300));
        let (kept, expired, skipped, unfinished) = s.sweep().await;
        assert_eq!(skipped, ["cmd-garbage"]);
        assert_eq!(kept, [join]);
        assert!(expired.is_empty() && !unfinished);
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_sweep_cut_by_its_time_budget_is_continued_by_the_next() {
    common::run(async {
        // No time at all: each sweep handles one wait and leaves the rest.
        let mut s = Setup::new(Duration::ZERO).await;
        for ident in ["i-b1", "i-b2", "i-b3"] {
            s.runtime
                .store()
                .create(ident, "finished_cloud_init")
                .await
                .unwrap();
            s.handle(launching(ident)).await;
        }
        s.clock.advance(Duration::from_secs(300));
        let mut kept = Vec::new();
        for expect_more in [true, true, false] {
            let (mut alive, _, _, unfinished) = s.sweep().await;
            assert_eq!(alive.len(), 1);
            assert_eq!(unfinished, expect_more);
            kept.append(&mut alive);
        }
        kept.sort();
        assert_eq!(kept.len(), 3);
        kept.dedup();
        assert_eq!(kept.len(), 3, "each wait handled once");
        assert_eq!(s.recorded.heartbeats.lock().unwrap().len(), 3);
        assert_eq!(s.sweep().await.0, Vec::<String>::new(), "none due now");
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_finished_lifecycles_record_expires_after_the_retention() {
    common::run(async {
        let s = Setup::new(Duration::from_secs(20)).await;
        s.runtime
            .store()
            .create("i-f1", "finished_cloud_init")
            .await
            .unwrap();
        s.handle(launching("i-f1")).await;
        let join = s
            .record("i-f1")
            .await
            .get_str("JoinCommand")
            .unwrap()
            .to_owned();
        s.handle(command_status(&join, "i-f1", "Success", LONG_AGO))
            .await;
        assert!(!s.record("i-f1").await.attributes.contains_key("ExpiresAt"));
        s.handle(terminating("i-f1")).await;
        let leave = s
            .record("i-f1")
            .await
            .get_str("LeaveCommand")
            .unwrap()
            .to_owned();
        let done = s
            .handle(command_status(&leave, "i-f1", "Success", LONG_AGO))
            .await;
        assert_eq!(end_of(&done), ("gone", "finished", Some("CONTINUE")));
        let store = s.runtime.store();
        let item = store
            .client()
            .get_item()
            .table_name(store.table())
            .key("Ident", AttributeValue::S("i-f1".into()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        assert_eq!(
            item["ExpiresAt"],
            AttributeValue::N((START + 3 * 24 * 3600).to_string())
        );
    });
}

/// The library never reads the whole table: no `Scan` call in its source (the sweep queries
/// the index of waits; `sweep_cost` counts its requests at the HTTP layer).
#[test]
fn the_library_has_no_scan() {
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    let mut files = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(!text.contains(".scan()"), "{} calls Scan", path.display());
            files += 1;
        }
    }
    assert!(files >= 9, "read {files} files");
}
