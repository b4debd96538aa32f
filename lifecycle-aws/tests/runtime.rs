//! The runtime end to end against moto_server: events as AWS sends them, state in the node
//! table, commands through SSM, completions through a recording `LifecycleActions`.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::AttributeValue;
use lifecycle_aws::actions::{ActionError, Completed, LifecycleActions};
use lifecycle_aws::runtime::{HandleError, Outcome, Runtime};
use lifecycle_aws::store::to_attribute;
use lifecycle_core::{
    CommandRequest, Context, EffectError, LifecycleAction, LifecycleResult, LifecycleTransition,
    lifecycle_model,
};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Effect(#[from] EffectError),
}

/// Joins with an SSM command on launch and leaves with one on termination.
pub struct Node;

#[lifecycle_model(
    states(New, Pending, FinishedCloudInit, Joining, Ready, Leaving, Gone, Failure, Abandoned),
    before_initial(New, Pending),
    initial = FinishedCloudInit,
    terminal(Gone, Abandoned),
    failure = Failure,
    error = NodeError,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Joining, on(launching), wait)]
    async fn join(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        // Event data goes in as a document parameter, never into the shell string.
        let metadata = ctx
            .lifecycle()
            .and_then(|l| l.notification_metadata.clone())
            .unwrap_or_default();
        let request = CommandRequest::new("AWS-RunShellScript", [ctx.record().ident.clone()])
            .parameter("commands", ["/usr/local/bin/join-cluster"])
            .parameter("executionTimeout", ["600"])
            .comment(format!("join; metadata {} bytes", metadata.len()));
        let id = ctx.send_command(request).await?;
        ctx.set("JoinCommand", id);
        Ok(())
    }

    #[transition(from = Joining, to = Ready, on(command))]
    async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
        Ok(())
    }

    #[transition(from = Ready, to = Leaving, on(terminating), wait)]
    async fn leave(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        let request = CommandRequest::new("AWS-RunShellScript", [ctx.record().ident.clone()])
            .parameter("commands", ["/usr/local/bin/leave-cluster"]);
        let id = ctx.send_command(request).await?;
        ctx.set("LeaveCommand", id);
        Ok(())
    }

    #[transition(from = Leaving, to = Gone, on(command), ignore_errors)]
    async fn left(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
        Ok(())
    }

    #[transition(from = Failure, to = Abandoned, ignore_errors)]
    async fn abandon(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
        Ok(())
    }
}

/// A completion: instance, transition, result, token.
type Completion = (String, LifecycleTransition, LifecycleResult, Option<String>);

/// Records completions and heartbeats instead of calling Auto Scaling.
#[derive(Default)]
struct Recorded {
    completions: Mutex<Vec<Completion>>,
    heartbeats: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl LifecycleActions for Recorded {
    async fn complete(
        &self,
        action: &LifecycleAction,
        _: Option<&str>,
        result: LifecycleResult,
    ) -> Result<Completed, ActionError> {
        self.completions.lock().unwrap().push((
            action.ec2_instance_id.clone(),
            action.lifecycle_transition,
            result,
            action.lifecycle_action_token.clone(),
        ));
        Ok(Completed::Done)
    }

    async fn heartbeat(
        &self,
        action: &LifecycleAction,
        _: Option<&str>,
    ) -> Result<Completed, ActionError> {
        self.heartbeats
            .lock()
            .unwrap()
            .push(action.ec2_instance_id.clone());
        Ok(Completed::Done)
    }
}

struct Fixture {
    runtime: Runtime<Node, fn() -> Node>,
    recorded: Arc<Recorded>,
    ssm: aws_sdk_ssm::Client,
}

impl Fixture {
    async fn new() -> Self {
        let config = common::sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let table = common::node_table(&dynamodb).await;
        let recorded = Arc::new(Recorded::default());
        let runtime =
            Runtime::new(&config, table, (|| Node) as fn() -> Node).with_actions(recorded.clone());
        Fixture {
            runtime,
            recorded,
            ssm: aws_sdk_ssm::Client::new(&config),
        }
    }

    /// Writes an item as cloud-init (or the original library) would.
    async fn put(&self, item: Value) {
        let item: HashMap<String, AttributeValue> = item
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), to_attribute(v)))
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

    async fn item(&self, ident: &str) -> Option<HashMap<String, AttributeValue>> {
        let store = self.runtime.store();
        store
            .client()
            .get_item()
            .table_name(store.table())
            .key("Ident", AttributeValue::S(ident.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    async fn state(&self, ident: &str) -> String {
        match &self.item(ident).await.unwrap()["ItemStatus"] {
            AttributeValue::S(s) => s.clone(),
            other => panic!("{other:?}"),
        }
    }

    async fn attribute(&self, ident: &str, name: &str) -> String {
        match &self.item(ident).await.unwrap()[name] {
            AttributeValue::S(s) => s.clone(),
            other => panic!("{other:?}"),
        }
    }

    async fn handle(&self, payload: Value) -> Result<Value, HandleError> {
        self.runtime.handle(&payload).await
    }

    fn completions(&self) -> Vec<Completion> {
        self.recorded.completions.lock().unwrap().clone()
    }
}

fn lifecycle_event(instance: &str, transition: &str) -> Value {
    json!({
        "version": "0", "id": format!("evt-{instance}-{transition}"),
        "detail-type": "EC2 Instance-launch Lifecycle Action", "source": "aws.autoscaling",
        "account": "123456789012", "time": "2026-11-25T10:00:00Z", "region": "eu-central-1",
        "resources": ["arn:aws:autoscaling:eu-central-1:123456789012:autoScalingGroup:x:autoScalingGroupName/workers"],
        "detail": {
            "LifecycleActionToken": format!("token-{instance}"), "AutoScalingGroupName": "workers",
            "LifecycleHookName": "workers-hook", "EC2InstanceId": instance,
            "LifecycleTransition": transition, "NotificationMetadata": "{\"type\": \"worker\"}"
        }
    })
}

fn launching(instance: &str) -> Value {
    lifecycle_event(instance, "autoscaling:EC2_INSTANCE_LAUNCHING")
}

fn terminating(instance: &str) -> Value {
    lifecycle_event(instance, "autoscaling:EC2_INSTANCE_TERMINATING")
}

/// An SSM status-change event as EventBridge delivers it (parameters as a JSON string).
fn command_status(command_id: &str, instance: &str, status: &str, requested: &str) -> Value {
    json!({
        "version": "0", "id": format!("evt-{command_id}-{status}"),
        "detail-type": "EC2 Command Status-change Notification", "source": "aws.ssm",
        "account": "123456789012", "time": "2026-11-25T10:00:05Z", "region": "eu-central-1",
        "resources": [format!("arn:aws:ec2:eu-central-1:123456789012:instance/{instance}")],
        "detail": {
            "command-id": command_id, "document-name": "AWS-RunShellScript",
            "requested-date-time": requested, "expire-after": "2026-11-25T12:00:00.000Z",
            "output-s3bucket-name": "", "output-s3key-prefix": "",
            "parameters": "{\"commands\":[\"/usr/local/bin/join-cluster\"]}", "status": status
        }
    })
}

/// A time long enough ago that an unknown command is not ours.
const LONG_AGO: &str = "2026-01-01T00:00:00.000Z";

fn outcome(response: &Value) -> Outcome {
    let outcomes = response["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 1);
    serde_json::from_value(outcomes[0].clone()).unwrap()
}

fn end_of(outcome: &Outcome) -> (&str, &str, Option<&str>) {
    match outcome {
        Outcome::Dispatched {
            end,
            stop,
            completed,
            ..
        } => (end, stop, completed.as_deref()),
        other => panic!("not dispatched: {other:?}"),
    }
}

#[test]
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
        // A duplicate launching event: refused, nothing written, nothing completed.
        let response = f.handle(launching("i-1")).await.unwrap();
        assert_eq!(end_of(&outcome(&response)), ("ready", "refused", None));
        assert_eq!(f.completions().len(), 1);

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
        let new_image = dynamodb_json(&f.item("i-4").await.unwrap());
        let mut old_image = new_image.clone();
        old_image["ItemStatus"] = json!({"S": "pending"});
        let stream = json!({"Records": [{"eventID": "1", "eventName": "MODIFY", "eventSource": "aws:dynamodb",
            "awsRegion": "eu-central-1", "dynamodb": {"Keys": {"Ident": {"S": "i-4"}},
            "NewImage": new_image, "OldImage": old_image, "StreamViewType": "NEW_AND_OLD_IMAGES"}}]});

        let response = f.handle(stream.clone()).await.unwrap();
        assert_eq!(end_of(&outcome(&response)), ("joining", "waiting", None));
        assert!(
            !f.item("i-4")
                .await
                .unwrap()
                .contains_key("PendingLifecycle"),
            "taken off the record"
        );
        // The same stream record again (redelivery): the launch does not run twice.
        let response = f.handle(stream).await.unwrap();
        assert!(matches!(outcome(&response), Outcome::Ignored { .. }));
        assert_eq!(f.state("i-4").await, "joining");
    });
}

#[test]
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

/// An item as DynamoDB Streams shows it.
fn dynamodb_json(item: &HashMap<String, AttributeValue>) -> Value {
    fn value(v: &AttributeValue) -> Value {
        match v {
            AttributeValue::S(s) => json!({"S": s}),
            AttributeValue::N(n) => json!({"N": n}),
            AttributeValue::Bool(b) => json!({"BOOL": b}),
            AttributeValue::Null(_) => json!({"NULL": true}),
            AttributeValue::L(l) => json!({"L": l.iter().map(value).collect::<Vec<_>>()}),
            AttributeValue::M(m) => {
                json!({"M": m.iter().map(|(k, v)| (k.clone(), value(v))).collect::<serde_json::Map<_, _>>()})
            }
            other => panic!("{other:?}"),
        }
    }
    Value::Object(item.iter().map(|(k, v)| (k.clone(), value(v))).collect())
}

/// A log sink the test can read.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'w self) -> LogBuffer {
        self.clone()
    }
}

#[test]
fn logs_are_json_lines_with_event_instance_state_and_trigger_and_no_secrets() {
    let logs = LogBuffer::default();
    let subscriber = lifecycle_aws::lambda::json_subscriber("info", logs.clone());
    common::run(async {
        // Polled on this thread by block_on, so the thread's default subscriber sees it all.
        let _guard = tracing::subscriber::set_default(subscriber);
        let f = Fixture::new().await;
        f.put(
            json!({"Ident": "i-7", "ItemStatus": "finished_cloud_init", "ItemType": "worker",
            "WorkerToken": "SWMTKN-1-very-secret", "ManagerToken": "SWMTKN-1-also-secret"}),
        )
        .await;
        f.handle(launching("i-7")).await.unwrap();
        let command_id = f.attribute("i-7", "JoinCommand").await;
        f.handle(command_status(&command_id, "i-7", "Failed", LONG_AGO))
            .await
            .unwrap();
    });
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(!text.contains("SWMTKN"), "a secret reached the logs");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let fired: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "fired")
        .collect();
    assert_eq!(
        fired.len(),
        2,
        "join, then the failure path's abandon: {text}"
    );
    for line in &lines {
        assert_eq!(line["span"]["instance_id"], "i-7", "no instance on {line}");
        assert!(line["span"]["event_id"].is_string(), "no event on {line}");
    }
    for line in &fired {
        let fields = &line["fields"];
        for key in ["event_id", "ident", "from", "to", "trigger"] {
            assert!(fields[key].is_string(), "{key} missing in {line}");
        }
        assert_eq!(fields["ident"], "i-7");
    }
    assert_eq!(fired[0]["span"]["instance_id"], "i-7");
    assert_eq!(fired[0]["fields"]["trigger"], "join");
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "event failed" && l["level"] == "ERROR")
    );
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "lifecycle action completed"
                && l["fields"]["result"] == "ABANDON")
    );
}
