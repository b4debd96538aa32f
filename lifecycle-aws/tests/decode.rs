//! Decoding: the original library's real events, a sample of every other shape, and bad input.

use lifecycle_aws::decode::{
    CommandProgress, DecodeError, InstanceActivity, Invocation, Notification, READY_TAG,
    decode_event,
};
use lifecycle_core::{CommandStatus, LifecycleTransition};
use serde_json::{Value, json};

/// The `time` of the original library's lifecycle event fixture.
const FIXTURE_TIME: &str = "2018-11-08T17:02:04Z";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/seed/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn single(bytes: &[u8]) -> Notification {
    match decode_event(bytes).unwrap() {
        Invocation::Events(mut events) => {
            assert_eq!(events.len(), 1);
            events.remove(0)
        }
        other => panic!("expected events, got {other:?}"),
    }
}

fn eventbridge(source: &str, detail_type: &str, detail: Value) -> Value {
    json!({
        "version": "0", "id": "evt-1", "detail-type": detail_type, "source": source,
        "account": "123456789012", "time": "2026-11-25T10:00:00Z", "region": "eu-central-1",
        "resources": ["arn:aws:ec2:eu-central-1:123456789012:instance/i-0abc"], "detail": detail
    })
}

fn lifecycle_detail(transition: &str) -> Value {
    json!({
        "LifecycleActionToken": "87654321-4321-4321-4321-210987654321",
        "AutoScalingGroupName": "workers",
        "LifecycleHookName": "workers-hook",
        "EC2InstanceId": "i-0abc",
        "LifecycleTransition": transition,
        "NotificationMetadata": "plain words, not JSON",
        "Origin": "EC2", "Destination": "AutoScalingGroup"
    })
}

fn sns(message: &Value) -> Vec<u8> {
    json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
        "Sns": {"Type": "Notification", "MessageId": "m-1", "Message": message.to_string()}}]})
    .to_string()
    .into_bytes()
}

fn sqs(bodies: &[String]) -> Vec<u8> {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| json!({"messageId": format!("msg-{i}"), "eventSource": "aws:sqs", "body": body}))
        .collect();
    json!({ "Records": records }).to_string().into_bytes()
}

// --- the original library's fixtures -------------------------------------------------------

#[test]
fn the_seed_autoscaling_event_is_a_launching_action_with_its_metadata() {
    let Notification::LifecycleAction {
        id,
        region,
        action,
        time,
    } = single(&fixture("autoscaling_event.json"))
    else {
        panic!("not a lifecycle action")
    };
    assert_eq!(id, "babaf42e-aac5-8e19-cf36-83307aa13879");
    assert_eq!(region.as_deref(), Some("eu-central-1"));
    assert_eq!(time.as_deref(), Some(FIXTURE_TIME));
    assert_eq!(action.lifecycle_transition, LifecycleTransition::Launching);
    assert_eq!(action.ec2_instance_id, "i-007de616626a94600");
    assert_eq!(action.auto_scaling_group_name, "docker-swarm-manager-live");
    assert_eq!(
        action.lifecycle_hook_name,
        "docker-swarm-manager-live-on-launch"
    );
    assert_eq!(
        action.lifecycle_action_token.as_deref(),
        Some("05e8ec37-956a-4fe1-be7c-e43b4e4f9cd9")
    );
    // Kept as the raw string, and available parsed.
    assert!(
        action
            .notification_metadata
            .as_deref()
            .unwrap()
            .starts_with("{\n  \"type\": \"manager\"")
    );
    assert_eq!(action.metadata_json().unwrap()["managerDnsTtl"], "60");
}

#[test]
fn the_seed_ssm_event_is_a_successful_command_with_string_parameters() {
    let Notification::CommandStatus {
        command_id,
        progress,
        instance_ids,
        parameters,
        requested,
        document_name,
        ..
    } = single(&fixture("ssm_event.json"))
    else {
        panic!("not a command status")
    };
    assert_eq!(command_id, "2730b156-4765-4ae7-b870-56c380012717");
    assert_eq!(progress, CommandProgress::Finished(CommandStatus::Success));
    assert_eq!(instance_ids, ["i-0f5eb341c49cb9185"]);
    assert_eq!(parameters["commands"], ["/bin/join_cluster.sh"]);
    assert_eq!(requested.as_deref(), Some("2018-11-08T18:43:30.506Z"));
    assert_eq!(document_name.as_deref(), Some("AWS-RunShellScript"));
}

#[test]
fn the_seed_scheduled_event_names_its_rule() {
    let Notification::Scheduled { id, rule, .. } = single(&fixture("scheduled_event.json")) else {
        panic!("not scheduled")
    };
    assert_eq!(id, "7b51be95-c81e-c009-2435-95c2efd5a56f");
    assert_eq!(rule, "backup");
}

// --- every other shape ----------------------------------------------------------------------

#[test]
fn direct_eventbridge_lifecycle_actions_in_both_detail_type_spellings() {
    for (detail_type, transition, expected) in [
        (
            "EC2 Instance-launch Lifecycle Action",
            "autoscaling:EC2_INSTANCE_LAUNCHING",
            LifecycleTransition::Launching,
        ),
        (
            "EC2 Instance-launching Lifecycle Action",
            "autoscaling:EC2_INSTANCE_LAUNCHING",
            LifecycleTransition::Launching,
        ),
        (
            "EC2 Instance-terminate Lifecycle Action",
            "autoscaling:EC2_INSTANCE_TERMINATING",
            LifecycleTransition::Terminating,
        ),
        // LifecycleTransition is authoritative, whatever the detail-type says.
        (
            "EC2 Instance-launch Lifecycle Action",
            "autoscaling:EC2_INSTANCE_TERMINATING",
            LifecycleTransition::Terminating,
        ),
    ] {
        let event = eventbridge("aws.autoscaling", detail_type, lifecycle_detail(transition));
        let Notification::LifecycleAction { action, .. } = single(event.to_string().as_bytes())
        else {
            panic!("{detail_type}")
        };
        assert_eq!(action.lifecycle_transition, expected);
        assert_eq!(
            action.notification_metadata.as_deref(),
            Some("plain words, not JSON")
        );
        assert!(action.metadata_json().is_none());
    }
}

#[test]
fn optional_lifecycle_fields_may_be_absent() {
    let mut detail = lifecycle_detail("autoscaling:EC2_INSTANCE_LAUNCHING");
    for key in [
        "Origin",
        "Destination",
        "NotificationMetadata",
        "LifecycleActionToken",
    ] {
        detail.as_object_mut().unwrap().remove(key);
    }
    let event = eventbridge(
        "aws.autoscaling",
        "EC2 Instance-launch Lifecycle Action",
        detail,
    );
    let Notification::LifecycleAction { action, .. } = single(event.to_string().as_bytes()) else {
        panic!()
    };
    assert_eq!(action.notification_metadata, None);
    assert_eq!(action.lifecycle_action_token, None);
}

#[test]
fn test_notifications_are_recognised() {
    let hook_test = json!({"AccountId": "123456789012", "RequestId": "r-1", "AutoScalingGroupARN": "arn",
        "AutoScalingGroupName": "workers", "Service": "AWS Auto Scaling", "Event": "autoscaling:TEST_NOTIFICATION",
        "Time": "2026-11-25T10:00:00Z"});
    assert_eq!(single(&sns(&hook_test)), Notification::TestNotification);
    let Invocation::Sqs(messages) = decode_event(&sqs(&[hook_test.to_string()])).unwrap() else {
        panic!()
    };
    assert_eq!(messages[0].notification, Ok(Notification::TestNotification));
}

#[test]
fn non_lifecycle_autoscaling_notifications_have_their_own_variant() {
    for (detail_type, activity) in [
        (
            "EC2 Instance Launch Successful",
            InstanceActivity::LaunchSuccessful,
        ),
        (
            "EC2 Instance Launch Unsuccessful",
            InstanceActivity::LaunchUnsuccessful,
        ),
        (
            "EC2 Instance Terminate Successful",
            InstanceActivity::TerminateSuccessful,
        ),
        (
            "EC2 Instance Terminate Unsuccessful",
            InstanceActivity::TerminateUnsuccessful,
        ),
    ] {
        let event = eventbridge(
            "aws.autoscaling",
            detail_type,
            json!({"EC2InstanceId": "i-0abc", "AutoScalingGroupName": "workers", "StatusCode": "InProgress"}),
        );
        let Notification::InstanceActivity {
            activity: got,
            instance_id,
            group,
            ..
        } = single(event.to_string().as_bytes())
        else {
            panic!("{detail_type}")
        };
        assert_eq!(got, activity);
        assert_eq!(instance_id.as_deref(), Some("i-0abc"));
        assert_eq!(group.as_deref(), Some("workers"));
    }
}

#[test]
fn ssm_parameters_as_an_object_of_arrays_and_every_status() {
    for (status, progress) in [
        ("Success", CommandProgress::Finished(CommandStatus::Success)),
        ("Failed", CommandProgress::Finished(CommandStatus::Failed)),
        (
            "TimedOut",
            CommandProgress::Finished(CommandStatus::TimedOut),
        ),
        (
            "Cancelled",
            CommandProgress::Finished(CommandStatus::Cancelled),
        ),
        ("Pending", CommandProgress::Running("Pending".into())),
        ("InProgress", CommandProgress::Running("InProgress".into())),
        ("Delayed", CommandProgress::Running("Delayed".into())),
        ("Cancelling", CommandProgress::Running("Cancelling".into())),
    ] {
        let event = eventbridge(
            "aws.ssm",
            "EC2 Command Status-change Notification",
            json!({
                "command-id": "cmd-1", "document-name": "AWS-RunShellScript", "status": status,
                "requested-date-time": "2026-11-25T10:00:00.000Z",
                "parameters": {"commands": ["echo one", "echo two"], "executionTimeout": ["3600"]}
            }),
        );
        let Notification::CommandStatus {
            progress: got,
            parameters,
            instance_ids,
            ..
        } = single(event.to_string().as_bytes())
        else {
            panic!()
        };
        assert_eq!(got, progress);
        assert_eq!(parameters["commands"], ["echo one", "echo two"]);
        assert_eq!(parameters["executionTimeout"], ["3600"]);
        assert_eq!(instance_ids, ["i-0abc"]);
    }
}

#[test]
fn command_invocation_events() {
    let event = eventbridge(
        "aws.ssm",
        "EC2 Command Invocation Status-change Notification",
        json!({
            "command-id": "cmd-1", "document-name": "AWS-RunShellScript", "instance-id": "i-0abc",
            "requested-date-time": "2026-11-25T10:00:00.000Z", "status": "Failed"
        }),
    );
    assert_eq!(
        single(event.to_string().as_bytes()),
        Notification::CommandInvocation {
            id: "evt-1".into(),
            command_id: "cmd-1".into(),
            instance_id: "i-0abc".into(),
            progress: CommandProgress::Finished(CommandStatus::Failed),
        }
    );
}

#[test]
fn sqs_bodies_of_every_kind_and_a_bad_one_failing_alone() {
    let launching = eventbridge(
        "aws.autoscaling",
        "EC2 Instance-launch Lifecycle Action",
        lifecycle_detail("autoscaling:EC2_INSTANCE_LAUNCHING"),
    );
    let sns_in_sqs = json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:eu-central-1:1:t",
        "Message": fixture_message("ssm_event.json")});
    let direct_hook = json!({"Origin": "EC2", "LifecycleHookName": "workers-hook", "Destination": "AutoScalingGroup",
        "AccountId": "123456789012", "RequestId": "req-9", "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
        "AutoScalingGroupName": "workers", "Service": "AWS Auto Scaling", "Time": "2026-11-25T10:00:00Z",
        "EC2InstanceId": "i-0def", "LifecycleActionToken": "tok"});
    let bytes = sqs(&[
        launching.to_string(),
        sns_in_sqs.to_string(),
        direct_hook.to_string(),
        "{\"truncated\": ".into(),
    ]);
    let Invocation::Sqs(messages) = decode_event(&bytes).unwrap() else {
        panic!()
    };
    assert_eq!(messages.len(), 4);
    assert!(
        matches!(&messages[0].notification, Ok(Notification::LifecycleAction { action, .. })
        if action.lifecycle_transition == LifecycleTransition::Launching)
    );
    assert!(
        matches!(&messages[1].notification, Ok(Notification::CommandStatus { command_id, .. })
        if command_id == "2730b156-4765-4ae7-b870-56c380012717")
    );
    assert!(
        matches!(&messages[2].notification, Ok(Notification::LifecycleAction { id, action, .. })
        if id == "req-9" && action.ec2_instance_id == "i-0def"
            && action.lifecycle_transition == LifecycleTransition::Terminating)
    );
    assert_eq!(messages[3].message_id, "msg-3");
    assert!(
        matches!(&messages[3].notification, Err(DecodeError::Json { at, .. }) if at == "Records[3].body")
    );
}

fn fixture_message(name: &str) -> String {
    let envelope: Value = serde_json::from_slice(&fixture(name)).unwrap();
    envelope["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn dynamodb_stream_records_of_the_node_table() {
    let record = json!({"Records": [{
    "eventID": "1", "eventName": "MODIFY", "eventSource": "aws:dynamodb", "awsRegion": "eu-central-1",
    "dynamodb": {
        "Keys": {"Ident": {"S": "i-0abc"}},
        "OldImage": {"Ident": {"S": "i-0abc"}, "ItemStatus": {"S": "pending"}},
        "NewImage": {"Ident": {"S": "i-0abc"}, "ItemStatus": {"S": "finished_cloud_init"},
            "Version": {"N": "3"}, "Ready": {"BOOL": true}, "Tags": {"L": [{"S": "a"}]},
            "PendingLifecycle": {"M": {"EC2InstanceId": {"S": "i-0abc"}}}},
        "StreamViewType": "NEW_AND_OLD_IMAGES"
    }}]});
    let Invocation::Stream(changes) = decode_event(record.to_string().as_bytes()).unwrap() else {
        panic!()
    };
    let change = &changes[0];
    assert_eq!(change.event_name, "MODIFY");
    assert_eq!(change.ident, "i-0abc");
    assert_eq!(change.old_status.as_deref(), Some("pending"));
    assert_eq!(change.new_status.as_deref(), Some("finished_cloud_init"));
    assert_eq!(change.new_image["Version"], 3);
    assert_eq!(change.new_image["Ready"], true);
    assert_eq!(change.new_image["Tags"], json!(["a"]));
    assert_eq!(
        change.new_image["PendingLifecycle"]["EC2InstanceId"],
        "i-0abc"
    );
}

// --- bad input: each a typed error --------------------------------------------------------

#[test]
fn bad_input_is_a_typed_error_naming_what_is_wrong() {
    let missing_hook = {
        let mut d = lifecycle_detail("autoscaling:EC2_INSTANCE_LAUNCHING");
        d.as_object_mut().unwrap().remove("LifecycleHookName");
        eventbridge("aws.autoscaling", "EC2 Instance-launch Lifecycle Action", d)
    };
    let numeric_instance = {
        let mut d = lifecycle_detail("autoscaling:EC2_INSTANCE_LAUNCHING");
        d["EC2InstanceId"] = json!(42);
        eventbridge("aws.autoscaling", "EC2 Instance-launch Lifecycle Action", d)
    };
    let unknown_transition = eventbridge(
        "aws.autoscaling",
        "EC2 Instance-launch Lifecycle Action",
        lifecycle_detail("autoscaling:EC2_INSTANCE_REBOOTING"),
    );
    let empty_instance = {
        let mut d = lifecycle_detail("autoscaling:EC2_INSTANCE_LAUNCHING");
        d["EC2InstanceId"] = json!("");
        eventbridge("aws.autoscaling", "EC2 Instance-launch Lifecycle Action", d)
    };
    let ssm = |detail: Value| {
        eventbridge("aws.ssm", "EC2 Command Status-change Notification", detail)
            .to_string()
            .into_bytes()
    };
    let not_a_status = DecodeError::WrongType {
        field: "event.detail.status".into(),
        expected: "an SSM command status (Success, Failed, TimedOut, Cancelled, InProgress, ...)",
    };
    let cases: Vec<(String, Vec<u8>, DecodeError)> = vec![
        ("empty instance".into(), empty_instance.to_string().into_bytes(),
            DecodeError::WrongType { field: "event.detail.EC2InstanceId".into(), expected: "a non-empty string" }),
        ("empty command id".into(), ssm(json!({"command-id": "", "status": "Success"})),
            DecodeError::WrongType { field: "event.detail.command-id".into(), expected: "a non-empty string" }),
        ("empty status".into(), ssm(json!({"command-id": "c", "status": ""})),
            DecodeError::WrongType { field: "event.detail.status".into(), expected: "a non-empty string" }),
        ("lower-case status".into(), ssm(json!({"command-id": "c", "status": "success"})), not_a_status.clone()),
        ("made-up status".into(), ssm(json!({"command-id": "c", "status": "Exploded"})), not_a_status),
        ("truncated".into(), br#"{"version":"0","id":"#.to_vec(),
            DecodeError::Json { at: "event".into(), message: String::new() }),
        ("not an object".into(), b"[1, 2]".to_vec(),
            DecodeError::WrongType { field: "event".into(), expected: "a JSON object" }),
        ("missing hook".into(), missing_hook.to_string().into_bytes(),
            DecodeError::Missing("event.detail.LifecycleHookName".into())),
        ("numeric instance".into(), numeric_instance.to_string().into_bytes(),
            DecodeError::WrongType { field: "event.detail.EC2InstanceId".into(), expected: "a string" }),
        ("unknown transition".into(), unknown_transition.to_string().into_bytes(),
            DecodeError::WrongType { field: "event.detail.LifecycleTransition".into(),
                expected: "autoscaling:EC2_INSTANCE_LAUNCHING or autoscaling:EC2_INSTANCE_TERMINATING" }),
        ("unknown aws.ec2 detail-type".into(), eventbridge("aws.ec2", "EBS Volume Notification", json!({})).to_string().into_bytes(),
            DecodeError::Unsupported { event_source: "aws.ec2".into(), detail_type: "EBS Volume Notification".into() }),
        ("unknown ssm detail-type".into(), eventbridge("aws.ssm", "Parameter Store Change", json!({"command-id": "c", "status": "Success"})).to_string().into_bytes(),
            DecodeError::Unsupported { event_source: "aws.ssm".into(), detail_type: "Parameter Store Change".into() }),
        ("no source".into(), br#"{"id": "x", "detail-type": "Scheduled Event"}"#.to_vec(),
            DecodeError::Missing("event.source".into())),
        ("no command id".into(), eventbridge("aws.ssm", "EC2 Command Status-change Notification", json!({"status": "Success"})).to_string().into_bytes(),
            DecodeError::Missing("event.detail.command-id".into())),
        ("bad parameters".into(), eventbridge("aws.ssm", "EC2 Command Status-change Notification",
            json!({"command-id": "c", "status": "Success", "parameters": "{not json"})).to_string().into_bytes(),
            DecodeError::Json { at: "event.detail.parameters".into(), message: String::new() }),
        ("scheduled without resources".into(), br#"{"id":"x","source":"aws.events","detail-type":"Scheduled Event","resources":[],"detail":{}}"#.to_vec(),
            DecodeError::Missing("event.resources[0]".into())),
        ("unknown envelope".into(), br#"{"Records":[{"eventSource":"aws:s3"}]}"#.to_vec(),
            DecodeError::Unsupported { event_source: "aws:s3".into(), detail_type: String::new() }),
        ("empty records".into(), br#"{"Records":[]}"#.to_vec(), DecodeError::Missing("Records[0]".into())),
        ("sns message not json".into(), br#"{"Records":[{"EventSource":"aws:sns","Sns":{"Message":"hello"}}]}"#.to_vec(),
            DecodeError::Json { at: "Records[0].Sns.Message".into(), message: String::new() }),
        ("sns without message".into(), br#"{"Records":[{"EventSource":"aws:sns","Sns":{}}]}"#.to_vec(),
            DecodeError::Missing("Records[0].Sns.Message".into())),
        ("stream record without keys".into(), br#"{"Records":[{"eventSource":"aws:dynamodb","eventName":"MODIFY","dynamodb":{}}]}"#.to_vec(),
            DecodeError::Missing("Records[0].dynamodb.Keys".into())),
    ];
    for (name, bytes, expected) in cases {
        let got = decode_event(&bytes).expect_err(&name);
        match (&got, &expected) {
            // The parser's wording is serde_json's; where it failed is ours.
            (
                DecodeError::Json { at, message },
                DecodeError::Json {
                    at: expected_at, ..
                },
            ) => {
                assert_eq!(at, expected_at, "{name}");
                assert!(!message.is_empty(), "{name}");
            }
            _ => assert_eq!(got, expected, "{name}"),
        }
    }
}

/// The fuzzer's corpus seeds (`fuzz/corpus/decode_event`): `seed-*` and `sample-*` decode,
/// `bad-*` are typed errors, and none panics. Inputs the fuzzer finds go here as seeds too.
#[test]
fn the_fuzz_corpus_decodes_or_fails_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/decode_event");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let decoded = lifecycle_aws::decode::decode_event(&bytes);
        if name.starts_with("bad-") {
            assert!(decoded.is_err(), "{name} decoded");
        } else if name.starts_with("seed-") || name.starts_with("sample-") {
            assert!(decoded.is_ok(), "{name}: {:?}", decoded.err());
        }
        seen += 1;
    }
    assert!(seen >= 9, "the corpus has {seen} inputs");
}

fn tag_change(resource: &str, changed: Value, tags: Value) -> Value {
    let mut event = eventbridge(
        "aws.tag",
        "Tag Change on Resource",
        json!({"changed-tag-keys": changed, "service": "ec2", "resource-type": "instance",
               "version": 3, "tags": tags}),
    );
    event["resources"] = json!([resource]);
    event
}

#[test]
fn an_instance_tagging_itself_is_its_cloud_init_progress() {
    let event = tag_change(
        "arn:aws:ec2:eu-central-1:123456789012:instance/i-0abc123def4567890",
        json!(["lifecycle:cloud-init"]),
        json!({"lifecycle:cloud-init": "finished", "Name": "worker"}),
    );
    match single(event.to_string().as_bytes()) {
        Notification::InstanceTagged {
            instance_id,
            changed,
            tags,
            ..
        } => {
            assert_eq!(instance_id, "i-0abc123def4567890");
            assert_eq!(changed, ["lifecycle:cloud-init"]);
            assert_eq!(tags[READY_TAG], "finished");
        }
        other => panic!("expected a tag change, got {other:?}"),
    }
}

#[test]
fn tag_changes_of_other_resources_or_malformed_ones_are_typed_errors() {
    let volume = tag_change(
        "arn:aws:ec2:eu-central-1:1:volume/vol-1",
        json!(["a"]),
        json!({"a": "b"}),
    );
    let mut volume = volume;
    volume["detail"]["resource-type"] = json!("volume");
    assert!(matches!(
        decode_event(volume.to_string().as_bytes()),
        Err(DecodeError::Unsupported { .. })
    ));
    let not_an_instance = tag_change(
        "arn:aws:ec2:eu-central-1:1:instance/",
        json!(["a"]),
        json!({}),
    );
    assert!(matches!(
        decode_event(not_an_instance.to_string().as_bytes()),
        Err(DecodeError::WrongType { field, .. }) if field == "event.resources[0]"
    ));
    let bad_tags = tag_change(
        "arn:aws:ec2:eu-central-1:1:instance/i-1",
        json!(["a"]),
        json!({"a": 1}),
    );
    assert!(matches!(
        decode_event(bad_tags.to_string().as_bytes()),
        Err(DecodeError::WrongType { field, .. }) if field == "event.detail.tags"
    ));
}

// --- the events of an instance's life beyond lifecycle hooks ------------------------------
// Samples written by hand from the shapes AWS documents, in `tests/fixtures/aws`.

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/aws/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn warm_pool_launches_carry_where_the_instance_comes_from_and_goes() {
    use lifecycle_core::Location;
    for (name, origin, destination) in [
        (
            "warm-pool-launch-into-pool.json",
            Location::Ec2,
            Location::WarmPool,
        ),
        (
            "warm-pool-launch-from-pool.json",
            Location::WarmPool,
            Location::AutoScalingGroup,
        ),
    ] {
        let bytes = sample(name);
        let message = String::from_utf8(bytes.clone()).unwrap();
        // Direct, in SNS, in SQS: the same action.
        for payload in [
            bytes.clone(),
            sns(&serde_json::from_slice(&bytes).unwrap()),
            sqs(&[message]),
        ] {
            let action = match decode_event(&payload).unwrap() {
                Invocation::Events(mut events) => match events.remove(0) {
                    Notification::LifecycleAction { action, .. } => action,
                    other => panic!("{other:?}"),
                },
                Invocation::Sqs(mut messages) => match messages.remove(0).notification.unwrap() {
                    Notification::LifecycleAction { action, .. } => action,
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            };
            assert_eq!(
                (action.origin, action.destination),
                (Some(origin), Some(destination)),
                "{name}"
            );
        }
    }
    // An event from before warm pools has neither: read as a launch into the group.
    let old = single(&fixture("autoscaling_event.json"));
    let Notification::LifecycleAction { action, .. } = old else {
        panic!()
    };
    assert_eq!((action.origin, action.destination), (None, None));
    assert_eq!(
        (action.origin(), action.destination()),
        (Location::Ec2, Location::AutoScalingGroup)
    );
    // A place AWS does not have is an error, on either decode path.
    let mut moon = lifecycle_detail("autoscaling:EC2_INSTANCE_LAUNCHING");
    moon["Destination"] = json!("Moon");
    let event = eventbridge(
        "aws.autoscaling",
        "EC2 Instance-launch Lifecycle Action",
        moon,
    );
    for payload in [event.to_string().into_bytes(), sns(&event)] {
        assert!(matches!(
            decode_event(&payload),
            Err(DecodeError::WrongType { field, .. }) if field.ends_with("detail.Destination")
        ));
    }
}

#[test]
fn spot_interruptions_rebalance_recommendations_and_state_changes_name_their_instance() {
    let Notification::SpotInterruption {
        instance_id,
        action,
        region,
        ..
    } = single(&sample("spot-interruption-warning.json"))
    else {
        panic!()
    };
    assert_eq!(
        (instance_id.as_str(), action.as_str()),
        ("i-0a1b2c3d4e5f60002", "terminate")
    );
    assert_eq!(region.as_deref(), Some("eu-central-1"));
    let Notification::RebalanceRecommendation { instance_id, .. } =
        single(&sample("rebalance-recommendation.json"))
    else {
        panic!()
    };
    assert_eq!(instance_id, "i-0a1b2c3d4e5f60002");
    let Notification::InstanceState {
        instance_id, state, ..
    } = single(&sample("instance-state-terminated.json"))
    else {
        panic!()
    };
    assert_eq!(
        (instance_id.as_str(), state.as_str()),
        ("i-0a1b2c3d4e5f60003", "terminated")
    );
    // In an SNS envelope too.
    let spot: Value = serde_json::from_slice(&sample("spot-interruption-warning.json")).unwrap();
    assert!(matches!(
        single(&sns(&spot)),
        Notification::SpotInterruption { .. }
    ));

    // Bad input: a typed error, naming the field.
    let no_instance = eventbridge(
        "aws.ec2",
        "EC2 Spot Instance Interruption Warning",
        json!({"instance-action": "terminate"}),
    );
    assert_eq!(
        decode_event(no_instance.to_string().as_bytes()).unwrap_err(),
        DecodeError::Missing("event.detail.instance-id".into())
    );
    let not_an_instance = eventbridge(
        "aws.ec2",
        "EC2 Instance Rebalance Recommendation",
        json!({"instance-id": "vol-1"}),
    );
    assert!(matches!(
        decode_event(not_an_instance.to_string().as_bytes()),
        Err(DecodeError::WrongType { field, .. }) if field == "event.detail.instance-id"
    ));
    let other_ec2 = eventbridge("aws.ec2", "EBS Snapshot Notification", json!({}));
    assert!(matches!(
        decode_event(other_ec2.to_string().as_bytes()),
        Err(DecodeError::Unsupported { event_source, .. }) if event_source == "aws.ec2"
    ));
}

#[test]
fn health_scheduled_changes_name_every_affected_instance() {
    let Notification::Maintenance {
        event_type,
        starts,
        instance_ids,
        ..
    } = single(&sample("health-instance-retirement.json"))
    else {
        panic!()
    };
    assert_eq!(event_type, "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED");
    assert_eq!(starts.as_deref(), Some("Thu, 03 Dec 2026 10:00:00 GMT"));
    assert_eq!(instance_ids, ["i-0a1b2c3d4e5f60001", "i-0a1b2c3d4e5f60002"]);
    // Other Health events (account notifications, issues) are not about an instance's life.
    let err = decode_event(&sample("health-account-notification.json")).unwrap_err();
    assert!(
        matches!(err, DecodeError::Unsupported { ref detail_type, .. }
        if detail_type == "AWS Health Event (EC2 accountNotification)"),
        "{err}"
    );
    // AWS Health's own example names the instance by its ARN, with no top-level `resources`;
    // an entity that is not an instance (a volume) is skipped.
    let Notification::Maintenance { instance_ids, .. } =
        single(&sample("health-instance-retirement-arn.json"))
    else {
        panic!()
    };
    assert_eq!(instance_ids, ["i-abcd1111"]);
    // A scheduled change that names no instance.
    let mut none: Value =
        serde_json::from_slice(&sample("health-instance-retirement.json")).unwrap();
    none["detail"]["affectedEntities"] = json!([{"entityValue": "vol-0abc"},
        {"entityValue": "arn:aws:ec2:us-east-1:123456789012:volume/vol-0abc"},
        {"entityValue": "arn:aws:rds:us-east-1:123456789012:instance/i-0abc"}]);
    assert!(matches!(
        decode_event(none.to_string().as_bytes()),
        Err(DecodeError::WrongType { field, .. }) if field == "event.detail.affectedEntities"
    ));
}
