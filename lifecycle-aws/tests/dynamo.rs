//! The node table against a real DynamoDB-compatible server (moto_server on 127.0.0.1).

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use lifecycle_aws::store::MemoryTable;
use lifecycle_aws::store::{
    CommandRegistration, DynamoStore, NodeTable, PendingLifecycle, pending_from_image, to_attribute,
};
use lifecycle_core::{CasOutcome, LifecycleAction, LifecycleTransition, StateChange, Store};
use serde_json::{Value, json};

async fn store() -> DynamoStore {
    let config = common::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = common::node_table(&client).await;
    DynamoStore::new(client, table)
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/seed/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Writes a plain-JSON item as the original library would have (no `Version`).
async fn put_plain(store: &DynamoStore, item: &Value) {
    let item: HashMap<String, AttributeValue> = item
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), to_attribute(v)))
        .collect();
    store
        .client()
        .put_item()
        .table_name(store.table())
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

async fn raw_item(store: &DynamoStore, ident: &str) -> HashMap<String, AttributeValue> {
    store
        .client()
        .get_item()
        .table_name(store.table())
        .key("Ident", AttributeValue::S(ident.into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap()
}

fn action(instance: &str) -> LifecycleAction {
    LifecycleAction {
        auto_scaling_group_name: "workers".into(),
        lifecycle_hook_name: "workers-on-launch".into(),
        lifecycle_action_token: Some("tok-1".into()),
        ec2_instance_id: instance.into(),
        lifecycle_transition: LifecycleTransition::Launching,
        notification_metadata: Some("not json".into()),
        region: None,
        origin: None,
        destination: None,
    }
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_record_written_by_the_original_library_loads_and_gains_a_version_on_first_write() {
    common::run(async {
        let store = store().await;
        put_plain(&store, &fixture("i-007de616626a946ce.json")["data"]).await;

        let record = store.load("i-007de616626a946ce").await.unwrap().unwrap();
        assert_eq!(record.state, "finished_cloud_init");
        assert_eq!(record.version, 0);
        assert_eq!(record.item_type(), Some("worker"));
        assert_eq!(record.get_str("InstanceIp"), Some("10.3.5.44"));
        assert!(
            record
                .get_str("WorkerToken")
                .unwrap()
                .starts_with("SWMTKN-1-")
        );
        assert!(
            !format!("{record:?}").contains("SWMTKN"),
            "secrets stay out of Debug"
        );

        let set = [("JoinedAt".to_owned(), json!("2026-11-25T10:00:00Z"))];
        let change = StateChange {
            ident: "i-007de616626a946ce",
            from: "finished_cloud_init",
            version: 0,
            to: "joining_cluster",
            set: &set,
            token: "delivery-a.1",
        };
        assert_eq!(
            store.compare_and_set(change).await.unwrap(),
            CasOutcome::Applied { version: 1 }
        );
        // The same request again (the SDK retrying after a lost answer): DynamoDB's
        // ConditionalCheckFailed carries the item, which holds this very write.
        assert_eq!(
            store.compare_and_set(change).await.unwrap(),
            CasOutcome::Applied { version: 1 }
        );
        // Another delivery's identical change: the record moved on.
        assert_eq!(
            store
                .compare_and_set(StateChange {
                    token: "delivery-b.1",
                    ..change
                })
                .await
                .unwrap(),
            CasOutcome::Conflict
        );

        let item = raw_item(&store, "i-007de616626a946ce").await;
        assert_eq!(
            item["ItemStatus"],
            AttributeValue::S("joining_cluster".into())
        );
        assert_eq!(item["Version"], AttributeValue::N("1".into()));
        assert_eq!(
            item["JoinedAt"],
            AttributeValue::S("2026-11-25T10:00:00Z".into())
        );
        // Nothing else was touched.
        assert!(
            matches!(&item["ManagerToken"], AttributeValue::S(t) if t.starts_with("SWMTKN-1-"))
        );
        assert_eq!(item["ItemType"], AttributeValue::S("worker".into()));

        let change = StateChange {
            from: "joining_cluster",
            version: 1,
            to: "joined_cluster",
            set: &[],
            token: "delivery-a.2",
            ..change
        };
        assert_eq!(
            store.compare_and_set(change).await.unwrap(),
            CasOutcome::Applied { version: 2 }
        );
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn of_sixteen_racing_writes_from_the_same_state_exactly_one_wins() {
    common::run(async {
        let store = Arc::new(store().await);
        put_plain(
            &store,
            &json!({"Ident": "i-race", "ItemStatus": "ready", "ItemType": "worker"}),
        )
        .await;
        let mut tasks = Vec::new();
        for i in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let to = format!("winner_{i}");
                let change = StateChange {
                    ident: "i-race",
                    from: "ready",
                    version: 0,
                    to: &to,
                    set: &[],
                    token: &to,
                };
                store.compare_and_set(change).await.unwrap()
            }));
        }
        let mut applied = 0;
        for task in tasks {
            if task.await.unwrap() == (CasOutcome::Applied { version: 1 }) {
                applied += 1;
            }
        }
        assert_eq!(applied, 1);
        let record = store.load("i-race").await.unwrap().unwrap();
        assert!(record.state.starts_with("winner_"));
        assert_eq!(record.version, 1);
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_missing_record_loads_as_none_and_a_write_to_it_conflicts() {
    common::run(async {
        let store = store().await;
        assert!(store.load("i-nobody").await.unwrap().is_none());
        let change = StateChange {
            ident: "i-nobody",
            from: "ready",
            version: 0,
            to: "gone",
            set: &[],
            token: "delivery-a.1",
        };
        assert_eq!(
            store.compare_and_set(change).await.unwrap(),
            CasOutcome::Conflict
        );
        // The conditional write created nothing.
        assert!(store.load("i-nobody").await.unwrap().is_none());
    });
}

fn registration<'a>(
    command_id: &'a str,
    targets: &'a [String],
    lifecycle: Option<&'a LifecycleAction>,
    event_id: &'a str,
) -> CommandRegistration<'a> {
    CommandRegistration {
        command_id,
        owner: "i-1",
        targets,
        lifecycle,
        event_id,
        comment: Some("join"),
        document_name: "AWS-RunShellScript",
        registered_at: 1_795_564_800,
        sent_at_version: 1,
        marker: event_id,
        due_at: 1_795_565_100,
        waiter: "Node",
    }
}

/// The command contract every node table keeps.
async fn commands_are_registered_once_and_consumed_once<T: NodeTable>(table: &T) {
    let targets = vec!["i-1".to_owned()];
    let action = action("i-1");
    table
        .register_command(registration("cmd-1", &targets, Some(&action), "evt-1"))
        .await
        .unwrap();
    assert!(
        table
            .register_command(registration("cmd-1", &targets, None, "evt-2"))
            .await
            .is_err(),
        "a command id is registered once"
    );
    let peeked = table.peek_command("cmd-1").await.unwrap().unwrap();
    let command = table.consume_command("cmd-1").await.unwrap().unwrap();
    assert_eq!(peeked, command);
    assert_eq!(command.instance_id, "i-1");
    assert_eq!(command.owner, "i-1");
    assert_eq!(command.lifecycle, Some(action));
    assert_eq!(command.event_id.as_deref(), Some("evt-1"));
    // A duplicate result finds nothing.
    assert_eq!(table.consume_command("cmd-1").await.unwrap(), None);
    assert_eq!(table.peek_command("cmd-1").await.unwrap(), None);
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_command_is_registered_once_and_consumed_once() {
    common::run(async {
        let store = store().await;
        commands_are_registered_once_and_consumed_once(&store).await;
        commands_are_registered_once_and_consumed_once(&MemoryTable::new()).await;
        store
            .register_command(registration("cmd-2", &["i-2".to_owned()], None, "evt-3"))
            .await
            .unwrap();
        let item = raw_item(&store, "cmd-2").await;
        assert_eq!(item["ItemType"], AttributeValue::S("command".into()));
        assert_eq!(item["RunningOn"], AttributeValue::S("i-2".into()));
        assert!(matches!(&item["ExpiresAt"], AttributeValue::N(_)));
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_command_item_written_by_the_original_library_is_consumed() {
    common::run(async {
        let store = store().await;
        put_plain(
            &store,
            &fixture("2730b156-4765-4ae7-b870-56c380012717.json"),
        )
        .await;
        let command = store
            .consume_command("2730b156-4765-4ae7-b870-56c380012717")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(command.instance_id, "i-007de616626a946ce");
        assert_eq!(
            command.owner, "i-007de616626a946ce",
            "the original's commands belong to their instance"
        );
        let lifecycle = command.lifecycle.unwrap();
        assert_eq!(
            lifecycle.lifecycle_action_token.as_deref(),
            Some("b502e984-0367-4aed-ab0b-963a602ed94c")
        );
        assert_eq!(
            lifecycle.lifecycle_transition,
            LifecycleTransition::Launching
        );
        // The original stored the metadata as a map: it comes back as JSON text.
        assert_eq!(lifecycle.metadata_json().unwrap()["workerDnsTtl"], "60");
        assert_eq!(
            command.event_id.as_deref(),
            Some("59e6cd57-3459-6438-76fd-b7418f61efbd")
        );
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn consuming_never_deletes_an_instance_record() {
    common::run(async {
        let store = store().await;
        put_plain(&store, &json!({"Ident": "i-1", "ItemStatus": "ready"})).await;
        assert_eq!(store.consume_command("i-1").await.unwrap(), None);
        assert!(store.load("i-1").await.unwrap().is_some());
    });
}

/// The parking contract every node table keeps; `i-1` is `pending`, `i-2` `finished_cloud_init`.
async fn launches_park_while_cloud_init_runs<T: NodeTable>(table: &T) {
    let pending = PendingLifecycle {
        action: action("i-1"),
        event_id: "evt-1".into(),
        parked_at: Some(1_795_564_800),
    };
    assert!(
        table
            .park_lifecycle("i-1", &["new", "pending"], &pending, "Node", 1_795_565_100)
            .await
            .unwrap()
    );
    let parked = table.load("i-1").await.unwrap().unwrap();
    assert_eq!(
        pending_from_image("i-1", &parked.attributes)
            .unwrap()
            .unwrap(),
        pending
    );
    // The launch's first state change takes it off, in the same write.
    let change = StateChange {
        ident: "i-1",
        from: &parked.state,
        version: parked.version,
        to: "joining",
        set: &[],
        token: "delivery-p.1",
    };
    assert!(matches!(
        table.compare_and_set(change).await.unwrap(),
        CasOutcome::Applied { .. }
    ));
    let moved = table.load("i-1").await.unwrap().unwrap();
    assert!(pending_from_image("i-1", &moved.attributes).is_none());
    // Once cloud-init has finished, parking is refused: run the launch now.
    assert!(
        !table
            .park_lifecycle("i-2", &["new", "pending"], &pending, "Node", 1_795_565_100)
            .await
            .unwrap()
    );
    let ready = table.load("i-2").await.unwrap().unwrap();
    assert!(pending_from_image("i-2", &ready.attributes).is_none());
    // No record at all: nothing to park on.
    assert!(
        !table
            .park_lifecycle("i-3", &["new", "pending"], &pending, "Node", 1_795_565_100)
            .await
            .unwrap()
    );
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_launch_parks_while_cloud_init_runs_and_is_taken_once() {
    common::run(async {
        let store = store().await;
        put_plain(
            &store,
            &json!({"Ident": "i-1", "ItemStatus": "pending", "ItemType": "worker"}),
        )
        .await;
        put_plain(
            &store,
            &json!({"Ident": "i-2", "ItemStatus": "finished_cloud_init"}),
        )
        .await;
        launches_park_while_cloud_init_runs(&store).await;
        assert!(
            !raw_item(&store, "i-2")
                .await
                .contains_key("PendingLifecycle")
        );

        let table = MemoryTable::new();
        table
            .records()
            .insert(lifecycle_core::Record::new("i-1", "pending"));
        table
            .records()
            .insert(lifecycle_core::Record::new("i-2", "finished_cloud_init"));
        launches_park_while_cloud_init_runs(&table).await;
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_malformed_record_is_a_typed_error() {
    common::run(async {
        let store = store().await;
        put_plain(&store, &json!({"Ident": "i-1", "ItemType": "worker"})).await;
        let err = store.load("i-1").await.unwrap_err();
        assert_eq!(err.to_string(), "item `i-1`: no ItemStatus");
    });
}

/// A table that does not exist (a typo in `LIFECYCLE_TABLE`) is not made to exist by
/// delivering the event again: a permanent error.
#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_missing_table_is_a_permanent_error() {
    common::run(async {
        let config = common::sdk_config().await;
        let store = lifecycle_aws::store::DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&config),
            "no-such-table",
        );
        let error = lifecycle_core::Store::load(&store, "i-1")
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                lifecycle_aws::store::StoreError::Request {
                    transient: false,
                    ..
                }
            ),
            "{error}"
        );
        assert!(!lifecycle_aws::runtime::HandleError::Store(error).is_retryable());
    });
}

/// A `Version` no write can follow (past `MAX_VERSION`: corrupt or forged, not counted) is a
/// malformed item, named, and not retried: nothing is written for it.
#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_version_past_the_largest_is_a_malformed_item() {
    common::run(async {
        let f = common::node::Fixture::new().await;
        f.put(json!({"Ident": "i-v", "ItemStatus": "finished_cloud_init", "Version": u64::MAX}))
            .await;
        let error = Store::load(f.runtime.store(), "i-v").await.unwrap_err();
        assert!(
            matches!(&error, lifecycle_aws::store::StoreError::Malformed { ident, .. } if ident == "i-v"),
            "{error}"
        );
        let error = f.handle(common::node::launching("i-v")).await.unwrap_err();
        assert!(!error.is_retryable(), "{error}");
        assert_eq!(
            f.attribute_number("i-v", "Version").await,
            u64::MAX,
            "nothing written"
        );
    });
}
