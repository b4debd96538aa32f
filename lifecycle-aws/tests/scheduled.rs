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

        // The next night: the finished run starts over.
        let response = runtime.handle(&seed_scheduled_event()).await.unwrap();
        assert_eq!(response["outcomes"][0]["start"], "backup");
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
        assert_eq!(
            item["LastRun"],
            AttributeValue::S("7b51be95-c81e-c009-2435-95c2efd5a56f".into())
        );
        // Created at 1, two state changes per run, one reset between the runs.
        assert_eq!(item["Version"], AttributeValue::N("6".into()));
    });
}

#[test]
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
