//! The Lambda's logs (its own process: tracing's callsite interest is global, and a test that
//! reads logs must not share the process with tests that log concurrently).

mod common;

use std::sync::{Arc, Mutex};

use common::node::*;
use serde_json::{Value, json};

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
#[ignore = "needs moto_server: run scripts/test"]
fn logs_are_json_lines_with_event_instance_state_and_trigger_and_no_secrets() {
    let logs = LogBuffer::default();
    let subscriber = lifecycle_aws::lambda::json_subscriber("info", logs.clone());
    tracing::subscriber::set_global_default(subscriber).unwrap();
    common::run(async {
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

        // A malformed item holding a secret where a value of another type belongs: the error
        // names the field and what was expected, never the value, and the failed message's
        // line names its event and instance.
        f.put(
            json!({"Ident": "cmd-malformed", "ItemType": "command", "RunningOn": "i-7",
            "LifecycleData": {"AutoScalingGroupName": "g", "LifecycleHookName": "h",
                "EC2InstanceId": "i-7", "LifecycleTransition": "SWMTKN-1-in-the-wrong-place"}}),
        )
        .await;
        let body = command_status("cmd-malformed", "i-7", "Success", LONG_AGO).to_string();
        let sqs = json!({"Records": [{"messageId": "m-1", "body": body,
            "eventSource": "aws:sqs", "awsRegion": "eu-central-1"}]});
        let response = f.handle(sqs).await.unwrap();
        assert_eq!(response["batchItemFailures"][0]["itemIdentifier"], "m-1");
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
        let named = |key: &str| {
            line["span"][key]
                .as_str()
                .or(line["fields"][key].as_str())
                .map(str::to_owned)
        };
        assert_eq!(
            named("instance_id").as_deref(),
            Some("i-7"),
            "no instance on {line}"
        );
        assert!(named("event_id").is_some(), "no event on {line}");
    }
    let failed = lines
        .iter()
        .find(|l| l["fields"]["message"] == "message failed")
        .expect("the malformed item's message failed");
    assert!(
        failed["fields"]["error"]
            .as_str()
            .unwrap()
            .contains("a field has the wrong type or value: expected"),
        "{failed}"
    );
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
