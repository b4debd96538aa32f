//! The runtime end to end against moto_server: events as AWS sends them, state in the node
//! table, commands through SSM, completions through a recording `LifecycleActions`.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::node::*;
use lifecycle_aws::runtime::{HandleError, Outcome};
use lifecycle_core::{LifecycleResult, LifecycleTransition};
use serde_json::json;

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_full_launch_and_termination_through_ssm_commands() {
    common::run(async {
        let f = Fixture::new().await;
        // Registered by cloud-init the way the original library expected.
        f.put(
            json!({"Ident": "i-1", "ItemStatus": "finished_cloud_init", "ItemType": "worker",
            "InstanceIp": "10.0.0.1", "WorkerToken": "SWMTKN-1-secret"}),
        )
        .await;

        let response = f.handle(launching("i-1")).await.unwrap();
        assert_eq!(end_of(&outcome(&response)), ("joining", "waiting", None));
        let command_id = f.attribute("i-1", "JoinCommand").await;

        // The command went to SSM with its arguments as parameters.
        let sent = f
            .ssm
            .list_commands()
            .command_id(&command_id)
            .send()
            .await
            .unwrap();
        let sent = &sent.commands()[0];
        assert_eq!(sent.document_name(), Some("AWS-RunShellScript"));
        assert_eq!(sent.instance_ids(), ["i-1"]);
        assert_eq!(
            sent.parameters().unwrap()["commands"],
            ["/usr/local/bin/join-cluster"]
        );
        assert_eq!(sent.parameters().unwrap()["executionTimeout"], ["600"]);
        // ... and was registered for its result.
        assert_eq!(f.attribute(&command_id, "ItemType").await, "command");

        let response = f
            .handle(command_status(&command_id, "i-1", "Success", LONG_AGO))
            .await
            .unwrap();
        assert_eq!(
            end_of(&outcome(&response)),
            ("ready", "settled", Some("CONTINUE"))
        );
        assert_eq!(f.state("i-1").await, "ready");
        assert!(
            f.item(&command_id).await.is_none(),
            "the command item was consumed"
        );
        assert_eq!(
            f.completions(),
            [(
                "i-1".to_owned(),
                LifecycleTransition::Launching,
                LifecycleResult::Continue,
                Some("token-i-1".to_owned())
            )]
        );

        // The same SSM event again: nothing happens.
        let response = f
            .handle(command_status(&command_id, "i-1", "Success", LONG_AGO))
            .await
            .unwrap();
        assert!(matches!(outcome(&response), Outcome::Ignored { .. }));
        // A duplicate launching event: Auto Scaling no longer holds its action (the command
        // result completed it): refused, nothing written, nothing completed.
        let version = f.attribute_number("i-1", "Version").await;
        let response = f.handle(launching("i-1")).await.unwrap();
        assert!(
            matches!(outcome(&response), Outcome::Refused { .. }),
            "{response}"
        );
        assert_eq!(f.completions().len(), 1);
        assert_eq!(f.attribute_number("i-1", "Version").await, version);

        let response = f.handle(terminating("i-1")).await.unwrap();
        assert_eq!(end_of(&outcome(&response)), ("leaving", "waiting", None));
        let leave = f.attribute("i-1", "LeaveCommand").await;
        let response = f
            .handle(command_status(&leave, "i-1", "Failed", LONG_AGO))
            .await
            .unwrap();
        assert_eq!(
            end_of(&outcome(&response)),
            ("gone", "finished", Some("CONTINUE"))
        );
        assert_eq!(f.completions()[1].1, LifecycleTransition::Terminating);
        // The record kept what cloud-init wrote.
        assert_eq!(f.attribute("i-1", "WorkerToken").await, "SWMTKN-1-secret");
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_failed_join_command_abandons_the_launch() {
    common::run(async {
        let f = Fixture::new().await;
        f.put(json!({"Ident": "i-2", "ItemStatus": "finished_cloud_init", "ItemType": "worker"}))
            .await;
        f.handle(launching("i-2")).await.unwrap();
        let command_id = f.attribute("i-2", "JoinCommand").await;
        let response = f
            .handle(command_status(&command_id, "i-2", "TimedOut", LONG_AGO))
            .await
            .unwrap();
        let Outcome::Dispatched {
            end,
            failure,
            completed,
            ..
        } = outcome(&response)
        else {
            panic!()
        };
        assert_eq!(end, "abandoned");
        assert_eq!(
            failure.as_deref(),
            Some("the command ended with status TimedOut")
        );
        assert_eq!(completed.as_deref(), Some("ABANDON"));
        assert_eq!(f.completions()[0].2, LifecycleResult::Abandon);
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn non_final_command_statuses_keep_the_lifecycle_alive() {
    common::run(async {
        let f = Fixture::new().await;
        f.put(json!({"Ident": "i-3", "ItemStatus": "finished_cloud_init"}))
            .await;
        f.handle(launching("i-3")).await.unwrap();
        let command_id = f.attribute("i-3", "JoinCommand").await;
        let response = f
            .handle(command_status(&command_id, "i-3", "InProgress", LONG_AGO))
            .await
            .unwrap();
        assert_eq!(
            outcome(&response),
            Outcome::Heartbeat {
                command_id: command_id.clone()
            }
        );
        assert_eq!(*f.recorded.heartbeats.lock().unwrap(), ["i-3"]);
        assert_eq!(f.state("i-3").await, "joining", "not a result");
        assert!(f.item(&command_id).await.is_some(), "not consumed");
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_launch_before_cloud_init_finished_parks_and_resumes_from_the_stream() {
    common::run(async {
        let f = Fixture::new().await;
        f.put(json!({"Ident": "i-4", "ItemStatus": "pending", "ItemType": "worker"}))
            .await;
        let response = f.handle(launching("i-4")).await.unwrap();
        assert_eq!(
            outcome(&response),
            Outcome::Parked {
                ident: "i-4".into()
            }
        );
        assert!(
            f.item("i-4")
                .await
                .unwrap()
                .contains_key("PendingLifecycle")
        );
        assert!(f.completions().is_empty());

        // cloud-init's last line, and the stream record it produces.
        let store = f.runtime.store();
        store
            .client()
            .update_item()
            .table_name(store.table())
            .key("Ident", AttributeValue::S("i-4".into()))
            .update_expression("SET ItemStatus = :s")
            .expression_attribute_values(":s", AttributeValue::S("finished_cloud_init".into()))
            .send()
            .await
            .unwrap();
        let new_image = common::dynamodb_json(&f.item("i-4").await.unwrap());
        let mut old_image = new_image.clone();
        old_image["ItemStatus"] = json!({"S": "pending"});
        let stream = common::stream_record("i-4", "4000", new_image, old_image);

        // The resume's SendCommand fails (SSM unreachable): the batch reports the record as
        // failed, and the parked launch stays on the record for the retry.
        let unreachable = lifecycle_aws::runtime::Runtime::with_parts(
            lifecycle_aws::store::DynamoStore::new(
                f.runtime.store().client().clone(),
                f.runtime.store().table(),
            ),
            std::sync::Arc::new(common::unreachable_ssm().await),
            f.recorded.clone(),
            (|| Node) as fn() -> Node,
        );
        let response = unreachable.handle(&stream).await.unwrap();
        assert_eq!(
            response["batchItemFailures"],
            json!([{"itemIdentifier": "4000"}])
        );
        assert_eq!(f.state("i-4").await, "finished_cloud_init");
        assert!(
            f.item("i-4")
                .await
                .unwrap()
                .contains_key("PendingLifecycle")
        );

        // Lambda retries the stream record: the launch runs, and its first state change takes
        // the parked launch off in the same write.
        let response = f.handle(stream.clone()).await.unwrap();
        assert_eq!(response["batchItemFailures"], json!([]));
        assert_eq!(end_of(&outcome(&response)), ("joining", "waiting", None));
        assert!(
            !f.item("i-4")
                .await
                .unwrap()
                .contains_key("PendingLifecycle"),
            "taken off the record"
        );
        let join = f.attribute("i-4", "JoinCommand").await;
        let version = f.attribute_number("i-4", "Version").await;
        // The same stream record again (redelivery): the launch resumes where it is and does
        // not run twice.
        let response = f.handle(stream).await.unwrap();
        assert_eq!(end_of(&outcome(&response)), ("joining", "settled", None));
        assert_eq!(f.attribute("i-4", "JoinCommand").await, join);
        assert_eq!(f.attribute_number("i-4", "Version").await, version);
        assert!(f.completions().is_empty());
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_launch_for_a_record_that_just_finished_cloud_init_runs_at_once() {
    common::run(async {
        let f = Fixture::new().await;
        f.put(json!({"Ident": "i-5", "ItemStatus": "finished_cloud_init"}))
            .await;
        let response = f.handle(launching("i-5")).await.unwrap();
        assert_eq!(end_of(&outcome(&response)), ("joining", "waiting", None));
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn an_unknown_instance_is_a_retryable_typed_error_and_nothing_is_written() {
    common::run(async {
        let f = Fixture::new().await;
        let err = f.handle(launching("i-nobody")).await.unwrap_err();
        assert!(
            matches!(&err, HandleError::UnknownInstance(id) if id == "i-nobody"),
            "{err}"
        );
        assert!(err.is_retryable());
        assert!(f.item("i-nobody").await.is_none());
        assert!(
            f.ssm
                .list_commands()
                .send()
                .await
                .unwrap()
                .commands()
                .iter()
                .all(|c| c.instance_ids() != ["i-nobody"])
        );
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn an_unregistered_command_result_is_retried_while_recent_and_ignored_after() {
    common::run(async {
        let f = Fixture::new().await;
        // A time in the future (clock skew) counts as recent.
        let err = f
            .handle(command_status(
                "cmd-unknown",
                "i-1",
                "Success",
                "2099-01-01T00:00:00.000Z",
            ))
            .await
            .unwrap_err();
        assert!(matches!(err, HandleError::CommandNotRegisteredYet(_)));
        assert!(err.is_retryable());
        let response = f
            .handle(command_status("cmd-unknown", "i-1", "Success", LONG_AGO))
            .await
            .unwrap();
        assert!(matches!(outcome(&response), Outcome::Ignored { .. }));
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn an_sqs_batch_reports_only_its_failed_messages() {
    common::run(async {
        let f = Fixture::new().await;
        f.put(json!({"Ident": "i-6", "ItemStatus": "finished_cloud_init"}))
            .await;
        let sns_wrapped = json!({"Type": "Notification", "Message": launching("i-6").to_string()});
        let batch = json!({"Records": [
            {"messageId": "m-0", "eventSource": "aws:sqs", "body": sns_wrapped.to_string()},
            {"messageId": "m-1", "eventSource": "aws:sqs", "body": "{\"not\": "},
            {"messageId": "m-2", "eventSource": "aws:sqs", "body": launching("i-nobody").to_string()},
            {"messageId": "m-3", "eventSource": "aws:sqs", "body": json!({"Event": "autoscaling:TEST_NOTIFICATION"}).to_string()},
        ]});
        let response = f.handle(batch).await.unwrap();
        assert_eq!(
            response["batchItemFailures"],
            json!([{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}])
        );
        assert_eq!(f.state("i-6").await, "joining");
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn the_seed_test_notification_and_bad_payloads() {
    common::run(async {
        let f = Fixture::new().await;
        let sns = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json!({"Event": "autoscaling:TEST_NOTIFICATION"}).to_string()}}]});
        assert!(matches!(
            outcome(&f.handle(sns).await.unwrap()),
            Outcome::Ignored { .. }
        ));
        let err = f
            .handle(json!({"source": "aws.ec2", "detail-type": "x", "id": "e"}))
            .await
            .unwrap_err();
        assert!(matches!(err, HandleError::Decode(_)));
        assert!(!err.is_retryable());
    });
}

/// The typed answer (`handle_bytes`, what the Lambda returns) is the same JSON as `handle`'s,
/// for a plain event and for an SQS batch with a message that fails.
#[test]
fn the_typed_answer_is_the_same_json() {
    use std::sync::Arc;

    use lifecycle_aws::runtime::Runtime;
    use lifecycle_aws::store::MemoryTable;
    use lifecycle_aws::testing::{MemoryActions, MemoryCommands};
    use lifecycle_core::Record;

    let runtime = || {
        let table = MemoryTable::new();
        table
            .records()
            .insert(Record::new("i-a1", "finished_cloud_init").with("ItemType", "worker"));
        Runtime::with_parts(
            table,
            Arc::new(MemoryCommands::new()),
            Arc::new(MemoryActions::new()),
            || Node,
        )
    };
    let batch = json!({"Records": [
        {"messageId": "m-1", "eventSource": "aws:sqs", "body": launching("i-a1").to_string()},
        {"messageId": "m-2", "eventSource": "aws:sqs", "body": "{not json"},
    ]});
    for payload in [launching("i-a1"), batch] {
        let by_value = common::run(runtime().handle(&payload)).unwrap();
        let typed = common::run(runtime().handle_bytes(payload.to_string().as_bytes()))
            .unwrap()
            .into_value();
        assert_eq!(typed, by_value);
    }
}
