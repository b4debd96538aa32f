//! Scheduled rules against moto_server: the rule name is the state the machine starts in.

mod common;

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use lifecycle_aws::actions::{ActionError, Completed, LifecycleActions};
use lifecycle_aws::runtime::{HandleError, Runtime};
use lifecycle_core::{Context, LifecycleAction, LifecycleResult, lifecycle_model};
use serde_json::{Value, json};

/// A nightly backup, started by the scheduled rule `backup`.
pub struct Backup;

#[lifecycle_model(
    states(Backup, Snapshotting, Done, Failure, Failed),
    schedules(Backup),
    terminal(Done, Failed),
    failure = Failure,
    error = std::fmt::Error,
)]
impl Backup {
    #[transition(from = Backup, to = Snapshotting, on(scheduled = "backup"))]
    async fn snapshot(&mut self, ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        ctx.set("LastRun", ctx.event().id.clone());
        Ok(())
    }

    #[transition(from = Snapshotting, to = Done)]
    async fn finish(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Failure, to = Failed, ignore_errors)]
    async fn give_up(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

/// No lifecycle action is involved in a scheduled run: any call is a bug.
struct NoCalls;

#[async_trait::async_trait]
impl LifecycleActions for NoCalls {
    async fn complete(
        &self,
        _: &LifecycleAction,
        _: Option<&str>,
        _: LifecycleResult,
    ) -> Result<Completed, ActionError> {
        panic!("a scheduled run completed a lifecycle action")
    }
    async fn heartbeat(
        &self,
        _: &LifecycleAction,
        _: Option<&str>,
    ) -> Result<Completed, ActionError> {
        panic!("a scheduled run sent a heartbeat")
    }
}

fn seed_scheduled_event() -> Value {
    let path = format!(
        "{}/tests/fixtures/seed/scheduled_event.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn each_firing_of_the_rule_runs_the_machine_from_its_starting_state() {
    common::run(async {
        let config = common::sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let table = common::node_table(&dynamodb).await;
        let runtime = Runtime::new(&config, &table, || Backup).with_actions(Arc::new(NoCalls));

        let response = runtime.handle(&seed_scheduled_event()).await.unwrap();
        assert_eq!(response["outcomes"][0]["end"], "done");
        assert_eq!(
            response["outcomes"][0]["triggers"],
            json!(["snapshot", "finish"])
        );

        // The same event again (EventBridge delivers at least once): no second run.
        let again = runtime.handle(&seed_scheduled_event()).await.unwrap();
        assert_eq!(again["outcomes"][0]["outcome"], "ignored", "{again}");

        // The next night (an event of its own): the finished run starts over.
        let mut next_night = seed_scheduled_event();
        let message = &mut next_night["Records"][0]["Sns"]["Message"];
        let mut event: Value = serde_json::from_str(message.as_str().unwrap()).unwrap();
        event["id"] = "night-2".into();
        *message = event.to_string().into();
        let response = runtime.handle(&next_night).await.unwrap();
        assert_eq!(response["outcomes"][0]["start"], "backup", "{response}");
        assert_eq!(response["outcomes"][0]["end"], "done");
        let item = dynamodb
            .get_item()
            .table_name(&table)
            .key("Ident", AttributeValue::S("backup".into()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        assert_eq!(item["ItemStatus"], AttributeValue::S("done".into()));
        assert_eq!(item["LastRun"], AttributeValue::S("night-2".into()));
        assert_eq!(item["RunEvent"], AttributeValue::S("night-2".into()));
        // Created at 1; each run starts with a write that names its event (the second's also
        // starts the finished run over), then its two state changes.
        assert_eq!(item["Version"], AttributeValue::N("7".into()));
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_rule_that_names_no_state_is_a_typed_error_and_nothing_is_written() {
    common::run(async {
        let config = common::sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let table = common::node_table(&dynamodb).await;
        let runtime = Runtime::new(&config, &table, || Backup).with_actions(Arc::new(NoCalls));
        let mut event = seed_scheduled_event();
        let message = event["Records"][0]["Sns"]["Message"]
            .as_str()
            .unwrap()
            .replace("rule/backup", "rule/cleanup");
        event["Records"][0]["Sns"]["Message"] = Value::String(message);
        let err = runtime.handle(&event).await.unwrap_err();
        assert!(
            matches!(&err, HandleError::UnknownSchedule(rule) if rule == "cleanup"),
            "{err}"
        );
        let items = dynamodb.scan().table_name(&table).send().await.unwrap();
        assert_eq!(items.count(), 0);
    });
}

/// A scheduled job that works on another record than its own, as the original's backup loaded
/// the node it backed up: through the context, with no store handle of its own.
pub struct NodeBackup;

#[lifecycle_model(
    states(NodeBackup, Done, Failure, Failed),
    schedules(NodeBackup),
    terminal(Done, Failed),
    failure = Failure,
    error = BackupError,
)]
impl NodeBackup {
    #[transition(from = NodeBackup, to = Done, on(scheduled = "node_backup"))]
    async fn back_up(&mut self, ctx: &mut Context<'_>) -> Result<(), BackupError> {
        let Some(mut node) = ctx.load_record("i-1").await? else {
            return Err(BackupError("no node i-1".into()));
        };
        let written = ctx
            .update_record(
                &mut node,
                vec![
                    ("LastBackup".into(), ctx.event().id.clone().into()),
                    ("BackupHost".into(), Value::Null),
                ],
            )
            .await?;
        ctx.set("NodeUpdated", written);
        ctx.set("NodeVersion", node.version);
        Ok(())
    }

    #[transition(from = Failure, to = Failed, ignore_errors)]
    async fn give_up(&mut self, ctx: &mut Context<'_>) -> Result<(), BackupError> {
        ctx.set("Failed", true);
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackupError(String);

impl From<lifecycle_core::EffectError> for BackupError {
    fn from(e: lifecycle_core::EffectError) -> Self {
        BackupError(e.to_string())
    }
}

fn node_backup_event(id: &str) -> Value {
    let mut event = seed_scheduled_event();
    let message: Value =
        serde_json::from_str(event["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    let mut message = message;
    message["id"] = json!(id);
    message["resources"] = json!(["arn:aws:events:eu-central-1:1:rule/node_backup"]);
    event["Records"][0]["Sns"]["Message"] = Value::String(message.to_string());
    event
}

async fn item(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    ident: &str,
) -> std::collections::HashMap<String, AttributeValue> {
    dynamodb
        .get_item()
        .table_name(table)
        .key("Ident", AttributeValue::S(ident.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap()
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_task_updates_another_record_only_where_it_was_loaded_and_leaves_its_lifecycle_alone() {
    common::run(async {
        let config = common::sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let table = common::node_table(&dynamodb).await;
        // The node, written by the original library (no version), waiting with a parked launch.
        dynamodb
            .put_item()
            .table_name(&table)
            .item("Ident", AttributeValue::S("i-1".into()))
            .item("ItemStatus", AttributeValue::S("pending".into()))
            .item("BackupHost", AttributeValue::S("old-host".into()))
            .item(
                "PendingLifecycle",
                AttributeValue::S("{\"parked\":true}".into()),
            )
            .item("WaitShard", AttributeValue::S("Node".into()))
            .item("DueAt", AttributeValue::N("1700000000".into()))
            .send()
            .await
            .unwrap();
        let runtime = Runtime::new(&config, &table, || NodeBackup).with_actions(Arc::new(NoCalls));

        let response = runtime.handle(&node_backup_event("run-1")).await.unwrap();
        assert_eq!(response["outcomes"][0]["end"], "done", "{response}");
        let node = item(&dynamodb, &table, "i-1").await;
        assert_eq!(node["LastBackup"], AttributeValue::S("run-1".into()));
        assert!(!node.contains_key("BackupHost"), "null removes: {node:?}");
        assert_eq!(node["Version"], AttributeValue::N("1".into()));
        // Its state and what its own lifecycle keeps are untouched.
        assert_eq!(node["ItemStatus"], AttributeValue::S("pending".into()));
        for kept in ["PendingLifecycle", "WaitShard", "DueAt"] {
            assert!(node.contains_key(kept), "{kept} was removed: {node:?}");
        }
        let job = item(&dynamodb, &table, "node_backup").await;
        assert_eq!(job["NodeUpdated"], AttributeValue::Bool(true));
        assert_eq!(job["NodeVersion"], AttributeValue::N("1".into()));

        // Someone moves the node between the job's load and its update: simulated by a stale
        // copy, whose conditional write finds the record changed and writes nothing.
        let store = lifecycle_aws::store::DynamoStore::new(dynamodb.clone(), &table);
        let mut stale = lifecycle_core::Store::load(&store, "i-1")
            .await
            .unwrap()
            .unwrap();
        stale.version -= 1;
        let event = lifecycle_core::Event::scheduled("run-2", "node_backup");
        let mut own = lifecycle_core::Record::new("node_backup", "node_backup");
        let effects = lifecycle_core::MemoryEffects::new();
        let ctx = Context::new(&event, &mut own, &effects).with_records(&store);
        let written = ctx
            .update_record(&mut stale, vec![("LastBackup".into(), json!("run-2"))])
            .await
            .unwrap();
        assert!(!written);
        let node = item(&dynamodb, &table, "i-1").await;
        assert_eq!(node["LastBackup"], AttributeValue::S("run-1".into()));

        // A node that is not there: the task fails, and the job goes through failure handling.
        dynamodb
            .delete_item()
            .table_name(&table)
            .key("Ident", AttributeValue::S("i-1".into()))
            .send()
            .await
            .unwrap();
        let response = runtime.handle(&node_backup_event("run-3")).await.unwrap();
        assert_eq!(response["outcomes"][0]["end"], "failed", "{response}");
    });
}
