//! No panic, and no wrapped time, from what an event, a table item or the configuration holds:
//! each input below made an earlier version panic in a debug build (and compute a wrong time in
//! a release build). Each now gets a typed answer, and nothing is written for bad input.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::worker::Worker;
use lifecycle_aws::runtime::{HandleError, Outcome, Runtime};
use lifecycle_aws::store::MemoryTable;
use lifecycle_aws::store::{CommandRegistration, NodeTable};
use lifecycle_aws::testing::{
    MemoryActions, MemoryCommands, command_status_event, lifecycle_action_event,
};
use lifecycle_core::{LifecycleTransition, Record};

const I: &str = "i-0a1b2c3d4e5f60001";

fn runtime(table: MemoryTable) -> Runtime<Worker, fn() -> Worker, MemoryTable> {
    let actions = Arc::new(MemoryActions::new());
    Runtime::with_parts(
        table,
        Arc::new(MemoryCommands::new()),
        actions.clone(),
        (|| Worker) as fn() -> Worker,
    )
    .with_fleet(actions)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `requested-date-time` is written by whoever publishes the event: a year no calendar
/// arithmetic should be done on unchecked.
#[test]
fn a_command_status_with_an_absurd_request_time() {
    rt().block_on(async {
        let runtime = runtime(MemoryTable::new());
        for requested in [
            "9999999999999999999-12-31T23:59:59Z",
            "-9223372036854775808-01-01T00:00:00Z",
            "2026-99-99T99:99:99.999Z",
            "99999-01-01T00:00:00Z",
            "9000000000000000000-01-01T00:00:00Z",
            "2026-01-01T9000000000000000000:00:00Z",
            "2026-01-9000000000000000000T00:00:00Z",
        ] {
            let mut event = command_status_event("c-unknown", I, "ClusterJoin", "Success");
            event["detail"]["requested-date-time"] = serde_json::json!(requested);
            let answer = runtime.handle(&event).await;
            let outcome = &answer.unwrap()["outcomes"][0];
            assert_eq!(outcome["outcome"], "ignored", "{requested}: {outcome}");
        }
    });
}

/// A stored `Version` of `u64::MAX`: no write can follow it. A typed error, nothing written.
#[test]
fn a_record_whose_version_cannot_be_counted_past() {
    rt().block_on(async {
        let table = MemoryTable::new();
        let mut record = Record::new(I, "finished_cloud_init");
        record.version = u64::MAX;
        table.records().insert(record.clone());
        let runtime = runtime(table);
        let launch = lifecycle_action_event(I, "workers", LifecycleTransition::Launching);
        let error = runtime.handle(&launch).await.unwrap_err();
        assert!(matches!(error, HandleError::Dispatch { .. }), "{error}");
        assert!(error.to_string().contains("Version"), "{error}");
        assert!(!error.is_retryable());
        assert_eq!(
            runtime.store().records().get(I).unwrap(),
            record,
            "nothing written"
        );
    });
}

/// A wait registered "at" the end of time (a corrupt `RegisteredAt`), swept: the deadline
/// arithmetic saturates; nothing panics.
#[test]
fn a_wait_registered_at_the_end_of_time() {
    rt().block_on(async {
        let table = MemoryTable::new();
        table
            .records()
            .insert(Record::new(I, "joining").with("AwaitedCommand", "c-1"));
        let targets = [I.to_owned()];
        table
            .register_command(CommandRegistration {
                command_id: "c-1",
                owner: I,
                targets: &targets,
                lifecycle: None,
                event_id: "e-1",
                comment: None,
                document_name: "ClusterJoin",
                registered_at: u64::MAX,
                sent_at_version: 0,
                due_at: 0,
                waiter: "Worker",
                marker: "d1.0",
            })
            .await
            .unwrap();
        let runtime = runtime(table);
        let outcome = runtime.sweep().await.unwrap();
        let Outcome::Swept { kept_alive, .. } = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(
            kept_alive,
            ["c-1"],
            "its deadline is at the end of time too"
        );
    });
}

/// Durations set in code (the environment's are range-checked: see `LambdaConfig`) as large
/// as a `Duration` holds: every time computed from them saturates instead of overflowing.
#[test]
fn durations_as_large_as_a_duration_holds() {
    rt().block_on(async {
        let table = MemoryTable::new();
        table
            .records()
            .insert(Record::new(I, "finished_cloud_init"));
        let commands = Arc::new(MemoryCommands::new());
        let runtime = Runtime::with_parts(
            table,
            commands.clone(),
            Arc::new(MemoryActions::new()),
            (|| Worker) as fn() -> Worker,
        )
        .with_claim_lease(Duration::MAX)
        .with_wait_deadline(Duration::MAX)
        .with_heartbeat_interval(Duration::MAX)
        .with_retention(Duration::MAX)
        .with_command_grace(Duration::MAX);
        let launch = lifecycle_action_event(I, "workers", LifecycleTransition::Launching);
        runtime.handle(&launch).await.unwrap();
        let (id, request) = commands.sent().pop().unwrap();
        let result = command_status_event(&id, I, &request.document_name, "Success");
        runtime.handle(&result).await.unwrap();
        assert_eq!(runtime.store().records().get(I).unwrap().state, "ready");
        let terminate = lifecycle_action_event(I, "workers", LifecycleTransition::Terminating);
        runtime.handle(&terminate).await.unwrap();
        runtime.sweep().await.unwrap();
    });
}
