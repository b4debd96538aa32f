//! A fleet launched at once against moto_server: every instance through the SSM wait and its
//! result to `ready`, lifecycle action completed. Measures events per second at 10, 100 and
//! 1000 instances (time per event should stay flat).
//!
//! A measurement, so not part of the default run:
//! `scripts/test -p lifecycle-aws --test fleet -- --ignored --nocapture`

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::node::{LONG_AGO, Node, Recorded, command_status, launching};
use lifecycle_aws::runtime::Runtime;
use lifecycle_aws::store::NodeTable;
use lifecycle_core::Store;
use serde_json::Value;
use tokio::task::JoinSet;

type Fleet = Arc<Runtime<Node, fn() -> Node>>;

/// Delivers every event at once; returns the seconds it took.
async fn deliver_all(runtime: &Fleet, events: Vec<Value>) -> f64 {
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for event in events {
        let runtime = runtime.clone();
        tasks.spawn(async move {
            // SQS would redeliver a failure; moto under load answers them all.
            for _ in 0..5 {
                if runtime.handle(&event).await.is_ok() {
                    return;
                }
            }
            panic!("{event} failed five times");
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    start.elapsed().as_secs_f64()
}

#[test]
#[ignore = "a measurement for BENCHMARKS.md: run with --ignored --nocapture"]
fn measure_time_per_event_as_a_fleet_launches_at_once() {
    common::run(async {
        let config = common::sdk_config().await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        let mut rows = Vec::new();
        for size in [10usize, 100, 1000] {
            let table = common::node_table(&client).await;
            let recorded = Arc::new(Recorded::default());
            let runtime: Fleet = Arc::new(
                Runtime::new(&config, table, (|| Node) as fn() -> Node)
                    .with_actions(recorded.clone())
                    .with_fleet(recorded.clone()),
            );
            let idents: Vec<String> = (0..size).map(|i| format!("i-fleet{i:05}")).collect();
            for ident in &idents {
                runtime
                    .store()
                    .create(ident, "finished_cloud_init")
                    .await
                    .unwrap();
            }

            let launch = deliver_all(&runtime, idents.iter().map(|i| launching(i)).collect()).await;
            let mut results = Vec::with_capacity(size);
            for ident in &idents {
                let record = runtime.store().load(ident).await.unwrap().unwrap();
                assert_eq!(record.state, "joining");
                let command = record.get_str("JoinCommand").unwrap().to_owned();
                results.push(command_status(&command, ident, "Success", LONG_AGO));
            }
            let finish = deliver_all(&runtime, results).await;

            for ident in &idents {
                let record = runtime.store().load(ident).await.unwrap().unwrap();
                assert_eq!(record.state, "ready", "{ident}");
                // Created with version 1, a claim and two state changes since: none lost, none
                // doubled.
                assert_eq!(record.version, 4, "{ident}");
            }
            assert_eq!(recorded.completions.lock().unwrap().len(), size);
            // Nothing waits any more.
            let waiting = runtime
                .store()
                .due_waits("Node", u64::MAX, None, 1)
                .await
                .unwrap();
            assert!(waiting.waits.is_empty());
            let events = 2 * size;
            let seconds = launch + finish;
            rows.push((size, events, seconds));
        }
        println!("| instances | events | seconds | events/s | ms per event |");
        println!("|---|---|---|---|---|");
        for (size, events, seconds) in &rows {
            println!(
                "| {size} | {events} | {seconds:.2} | {:.0} | {:.2} |",
                *events as f64 / seconds,
                seconds * 1000.0 / *events as f64
            );
        }
    });
}
