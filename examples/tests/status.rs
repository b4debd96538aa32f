//! `lifecycle-local status` on a known node table in moto_server: the waiting list (from the
//! index of waits), `--all`, `--json`.

mod common;

use std::process::Command;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use serde_json::{Value, json};

fn put(client: &aws_sdk_dynamodb::Client, table: &str, item: Value) {
    let item = item
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), lifecycle_aws::store::to_attribute(v)))
        .collect();
    block_on(async {
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap()
    });
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// `lifecycle-local status` on `table`, as it ran.
fn status_output(endpoint: &str, table: &str, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lifecycle-local"))
        .args(["status", "--table", table, "--endpoint-url", endpoint])
        .args(extra)
        .env("AWS_REGION", "eu-central-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap()
}

/// What `lifecycle-local status` printed; it must succeed.
fn status(endpoint: &str, table: &str, extra: &[&str]) -> String {
    let out = status_output(endpoint, table, extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The local server's endpoint, a DynamoDB client on it, and a new node table named after
/// `name` and this run.
fn new_table(name: &str) -> (String, aws_sdk_dynamodb::Client, String) {
    let endpoint = std::env::var("LIFECYCLE_TEST_ENDPOINT")
        .expect("LIFECYCLE_TEST_ENDPOINT is not set: run the tests with scripts/test");
    assert!(endpoint.starts_with("http://127.0.0.1:"));
    let config = block_on(
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("eu-central-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
            .endpoint_url(&endpoint)
            .load(),
    );
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = format!("{name}-{}", std::process::id());
    block_on(lifecycle_aws::store::DynamoStore::create_table(
        client.clone(),
        &table,
    ))
    .unwrap();
    (endpoint, client, table)
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn status_lists_who_waits_for_what_since_when_until_when() {
    let (endpoint, client, table) = new_table("status-nodes");
    let action = json!({"AutoScalingGroupName": "cluster-nodes", "LifecycleHookName": "on-launch",
        "LifecycleActionToken": "t-1", "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING"});
    let mut joining = action.clone();
    joining["EC2InstanceId"] = json!("i-0aaa0000000000001");
    let mut parked = action.clone();
    parked["EC2InstanceId"] = json!("i-0bbb0000000000002");
    parked["EventId"] = json!("evt-2");
    parked["ParkedAt"] = json!(1_795_564_900u64);
    for item in [
        json!({"Ident": "i-0aaa0000000000001", "ItemStatus": "joining_cluster", "ItemType": "worker", "Version": 3}),
        json!({"Ident": "cmd-0001", "ItemType": "command", "Owner": "i-0aaa0000000000001",
            "RunningOn": "i-0aaa0000000000001", "RegisteredAt": 1_795_564_800u64,
            "WaitShard": "ClusterNode", "DueAt": 1_795_565_040u64, "LifecycleData": joining}),
        json!({"Ident": "i-0bbb0000000000002", "ItemStatus": "pending", "ItemType": "manager",
            "PendingLifecycle": parked, "WaitShard": "ClusterNode", "DueAt": 1_795_565_140u64}),
        json!({"Ident": "i-0ccc0000000000003", "ItemStatus": "ready", "ItemType": "worker", "Version": 7}),
        // Another model's wait in the same table: not the cluster's.
        json!({"Ident": "cmd-backup", "ItemType": "command", "Owner": "backup", "RunningOn": "i-0data",
            "RegisteredAt": 1_795_564_800u64, "WaitShard": "NightlyBackup", "DueAt": 1_795_568_400u64}),
        json!({"Ident": "backup", "ItemStatus": "backing_up", "Version": 2}),
    ] {
        put(&client, &table, item);
    }

    assert_eq!(
        status(&endpoint, &table, &[]),
        "\
instance             state                  waits for                                      since                deadline
i-0aaa0000000000001  joining_cluster        command cmd-0001                               2026-11-25T00:00:00Z 2026-11-25T01:00:00Z
i-0bbb0000000000002  pending                cloud-init (parked launch)                     2026-11-25T00:01:40Z 2026-11-25T01:01:40Z
2 waiting
"
    );
    assert_eq!(
        status(&endpoint, &table, &["--model", "backup", "--deadline", "7200"]),
        "\
instance             state                  waits for                                      since                deadline
backup               backing_up             command cmd-backup                             2026-11-25T00:00:00Z 2026-11-25T02:00:00Z
1 waiting
"
    );
    assert_eq!(
        status(&endpoint, &table, &["--all"]),
        "\
ident                type       state
backup               -          backing_up
i-0aaa0000000000001  worker     joining_cluster
i-0bbb0000000000002  manager    pending
i-0ccc0000000000003  worker     ready
4 records
"
    );
    // One instance's waits come from its record: here the launch parked on it.
    let parked = status(&endpoint, &table, &["--instance", "i-0bbb0000000000002"]);
    assert!(
        parked.ends_with("waits for: cloud-init (parked launch), since 2026-11-25T00:01:40Z, deadline 2026-11-25T01:01:40Z (the configured wait deadline)\n"),
        "{parked}"
    );
    let json: Value = serde_json::from_str(&status(&endpoint, &table, &["--json"])).unwrap();
    assert_eq!(json[0]["ident"], "i-0aaa0000000000001");
    assert_eq!(json[0]["since"], 1_795_564_800u64);
    assert_eq!(json[1]["waits_for"], "cloud-init (parked launch)");
}

/// `--groups`: the actions Auto Scaling holds that no lifecycle handles (their events lost),
/// from Auto Scaling (an endpoint served here: moto has no wait states) and the table.
#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn status_lists_the_actions_auto_scaling_holds_that_no_lifecycle_handles() {
    let (endpoint, client, table) = new_table("status-held");
    // Its launch event lost: registered by cloud-init, no lifecycle ran.
    put(
        &client,
        &table,
        json!({"Ident": "i-0ccc0000000000003", "ItemStatus": "finished_cloud_init"}),
    );
    // Handled: its launch waits for its join.
    put(
        &client,
        &table,
        json!({"Ident": "i-0eee0000000000005", "ItemStatus": "joining_cluster",
        "Version": 3, "LifecycleProgress": "CONTINUE wait tok-5/launch evt-5"}),
    );
    let autoscaling = std::sync::Arc::new(common::AutoScaling::default());
    autoscaling.hold(
        "tok-3",
        "i-0ccc0000000000003",
        "cluster-nodes",
        "Pending:Wait",
    );
    autoscaling.hold(
        "tok-4",
        "i-0ddd0000000000004",
        "cluster-nodes",
        "Pending:Wait",
    );
    autoscaling.hold(
        "tok-5",
        "i-0eee0000000000005",
        "cluster-nodes",
        "Pending:Wait",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_lifecycle-local"))
        .args([
            "status",
            "--table",
            &table,
            "--groups",
            "cluster-nodes,cluster-managers",
        ])
        .env("AWS_REGION", "eu-central-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_DYNAMODB", &endpoint)
        .env("AWS_ENDPOINT_URL_AUTO_SCALING", autoscaling.serve())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("instance             group"))
        .unwrap();
    assert_eq!(
        lines[start + 1].split_whitespace().collect::<Vec<_>>()[..3],
        ["i-0ccc0000000000003", "cluster-nodes", "Pending:Wait"]
    );
    assert!(
        lines[start + 1].ends_with("starts its lifecycle (its event was lost)"),
        "{stdout}"
    );
    assert!(
        lines[start + 2].starts_with("i-0ddd0000000000004"),
        "{stdout}"
    );
    assert!(
        lines[start + 2].contains("cloud-init has not registered the instance"),
        "{stdout}"
    );
    assert_eq!(
        lines[start + 3],
        "2 held by Auto Scaling, handled by no lifecycle",
        "{stdout}"
    );
    assert_eq!(autoscaling.count("DescribeAutoScalingGroups"), 1);
}

/// `--instance`: one record's story, written by the runtime through DynamoDB (the history
/// travels as a list of strings in the same conditional writes), with what it waits for now.
#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn status_tells_one_instance_s_story_and_what_it_waits_for() {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use lifecycle_aws::runtime::{Clock, Runtime};
    use lifecycle_aws::store::DynamoStore;
    use lifecycle_aws::testing::{MemoryActions, MemoryCommands, lifecycle_action_event};
    use lifecycle_core::LifecycleTransition;
    use lifecycle_examples::cluster::ClusterNode;

    struct Fixed(SystemTime);
    impl Clock for Fixed {
        fn now(&self) -> SystemTime {
            self.0
        }
    }
    let (endpoint, client, table) = new_table("story-nodes");
    put(
        &client,
        &table,
        json!({"Ident": "i-0ddd0000000000004", "ItemStatus": "finished_cloud_init", "ItemType": "worker",
            "InstanceIp": "10.0.4.4", "WorkerToken": "SWMTKN-1-story-secret"}),
    );
    let commands = Arc::new(MemoryCommands::new());
    let runtime = Runtime::with_parts(
        DynamoStore::new(client.clone(), &table),
        commands.clone(),
        Arc::new(MemoryActions::new()),
        ClusterNode::default,
    )
    .with_clock(Arc::new(Fixed(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_564_800),
    )));
    let launch = lifecycle_action_event(
        "i-0ddd0000000000004",
        "cluster-nodes",
        LifecycleTransition::Launching,
    );
    block_on(runtime.handle(&launch)).unwrap();
    let command = commands.sent()[0].0.clone();

    let story = status(&endpoint, &table, &["--instance", "i-0ddd0000000000004"]);
    let lines: Vec<&str> = story.lines().collect();
    assert_eq!(
        lines[0],
        "i-0ddd0000000000004  worker  joining_cluster  (version 2)"
    );
    assert!(lines[2].starts_with("at "), "{story}");
    assert!(
        lines[3].starts_with("2026-11-25T00:00:00Z  finished_cloud_init → joining_cluster"),
        "{story}"
    );
    assert!(
        lines[3].contains("join_cluster") && lines[3].contains(&command),
        "{story}"
    );
    assert_eq!(
        lines[5],
        format!(
            "waits for: command {command}, since 2026-11-25T00:00:00Z, deadline 2026-11-25T01:00:00Z (the configured wait deadline)"
        )
    );
    assert!(!story.contains("SWMTKN"), "a secret reached the story");

    // A record that awaits a command no item registers (its result came and was consumed, or
    // its item expired): said so, not taken for "at rest".
    put(
        &client,
        &table,
        json!({"Ident": "i-0fff0000000000006", "ItemStatus": "joining_cluster", "Version": 3,
            "AwaitedCommand": "cmd-gone"}),
    );
    let orphan = status(&endpoint, &table, &["--instance", "i-0fff0000000000006"]);
    assert!(
        orphan.contains("waits for: command cmd-gone (not registered: its result came, or it expired), since -, deadline -"),
        "{orphan}"
    );

    // A record in a state the model does not know (an older version's, never declared).
    put(
        &client,
        &table,
        json!({"Ident": "i-0eee0000000000005", "ItemStatus": "labelling", "Version": 4}),
    );
    let lost = status(&endpoint, &table, &["--instance", "i-0eee0000000000005"]);
    assert!(
        lost.contains("state: `labelling` is not a state of ClusterNode nor a former one: every event for this record fails"),
        "{lost}"
    );

    let json: Value = serde_json::from_str(&status(
        &endpoint,
        &table,
        &["--instance", "i-0ddd0000000000004", "--json"],
    ))
    .unwrap();
    assert_eq!(json["steps"][0]["trigger"], "join_cluster");
    assert_eq!(json["steps"][0]["at"], 1_795_564_800u64);
    assert_eq!(json["waits"][0]["waits_for"], format!("command {command}"));

    let out = status_output(&endpoint, &table, &["--instance", "i-0nothere"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no record for i-0nothere"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
