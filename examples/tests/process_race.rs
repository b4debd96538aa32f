//! Whole processes of the cluster Lambda binary racing: 16 `cluster-lambda --invoke EVENT`
//! started at once for each event of a launch, against moto_server (node table, SSM, Route 53)
//! and an Auto Scaling endpoint served here that answers as Auto Scaling does (a lifecycle
//! action completed once has no active action any more). Side effects are counted where they
//! land: commands in SSM, completions at the Auto Scaling endpoint.

use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

mod common;

use common::AutoScaling;

const RACERS: usize = 16;

struct Cluster {
    endpoint: String,
    autoscaling_endpoint: String,
    table: String,
    zone_id: String,
    dir: std::path::PathBuf,
}

impl Cluster {
    /// `cluster-lambda --invoke EVENT` as one process.
    fn invoke(&self, event: &std::path::Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cluster-lambda"));
        command
            .arg("--invoke")
            .arg(event)
            .env_clear()
            .env("LIFECYCLE_TABLE", &self.table)
            .env("LIFECYCLE_LOG", "warn")
            .env("DNS_ZONE_ID", &self.zone_id)
            .env("MANAGER_DNS_NAME", "managers.race.cluster.internal")
            .env("WORKER_DNS_NAME", "workers.race.cluster.internal")
            .env("MANAGER_GROUP_NAME", "cluster-managers")
            .env("WORKER_GROUP_NAME", "cluster-nodes")
            .env("AWS_REGION", "eu-central-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ENDPOINT_URL_AUTO_SCALING", &self.autoscaling_endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        command
    }

    /// Starts `RACERS` processes on `event` at once, then runs again (one at a time, as a queue
    /// redelivers) those that failed. Returns (racers that failed, runs in all).
    fn race(&self, name: &str, event: &Value) -> (usize, usize) {
        let path = self.dir.join(format!("{name}.json"));
        std::fs::write(&path, event.to_string()).unwrap();
        // All started before any is waited for.
        let started: Vec<_> = (0..RACERS)
            .map(|_| {
                self.invoke(&path)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let children: Vec<Output> = started
            .into_iter()
            .map(|child| child.wait_with_output().unwrap())
            .collect();
        let failed: Vec<&Output> = children.iter().filter(|o| !o.status.success()).collect();
        let mut runs = RACERS;
        for output in &failed {
            // 75: retryable (another process held the claim), as `--invoke` reports it.
            assert_eq!(
                output.status.code(),
                Some(75),
                "a racer failed for good: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        for _ in 0..failed.len() {
            let again = self.invoke(&path).output().unwrap();
            runs += 1;
            assert!(
                again.status.success(),
                "a redelivery failed: {}",
                String::from_utf8_lossy(&again.stderr)
            );
        }
        (failed.len(), runs)
    }
}

fn sdk_config(endpoint: &str) -> SdkConfig {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(
            aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new("eu-central-1"))
                .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
                .endpoint_url(endpoint)
                .load(),
        )
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn sixteen_lambda_processes_racing_send_each_command_once_and_complete_once() {
    let endpoint = std::env::var("LIFECYCLE_TEST_ENDPOINT")
        .expect("LIFECYCLE_TEST_ENDPOINT is not set: run the tests with scripts/test, which starts moto_server");
    assert!(endpoint.starts_with("http://127.0.0.1:"));
    let config = sdk_config(&endpoint);
    let table = format!("race-nodes-{}", std::process::id());
    let instance = "i-0race";
    let zone_id = block_on(async {
        let client = aws_sdk_dynamodb::Client::new(&config);
        lifecycle_aws::store::DynamoStore::create_table(client.clone(), &table)
            .await
            .unwrap();
        client
            .put_item()
            .table_name(&table)
            .item("Ident", AttributeValue::S(instance.into()))
            .item(
                "ItemStatus",
                AttributeValue::S("finished_cloud_init".into()),
            )
            .item("ItemType", AttributeValue::S("worker".into()))
            .item("InstanceIp", AttributeValue::S("10.0.7.7".into()))
            .send()
            .await
            .unwrap();
        let zone = aws_sdk_route53::Client::new(&config)
            .create_hosted_zone()
            .name("race.cluster.internal")
            .caller_reference(format!("race-{}", std::process::id()))
            .send()
            .await
            .unwrap();
        let id = zone.hosted_zone().unwrap().id();
        id.trim_start_matches("/hostedzone/").to_owned()
    });
    let autoscaling = Arc::new(AutoScaling::default());
    let dir = std::env::temp_dir().join(format!("lifecycle-race-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cluster = Cluster {
        endpoint: endpoint.clone(),
        autoscaling_endpoint: autoscaling.serve(),
        table: table.clone(),
        zone_id,
        dir: dir.clone(),
    };
    let ssm = aws_sdk_ssm::Client::new(&config);
    let commands = || {
        block_on(async {
            let listed = ssm
                .list_commands()
                .instance_id(instance)
                .send()
                .await
                .unwrap();
            listed
                .commands()
                .iter()
                .map(|c| {
                    (
                        c.command_id().unwrap().to_owned(),
                        c.document_name().unwrap().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        })
    };

    let launch = json!({
        "version": "0", "id": "evt-race-launch", "detail-type": "EC2 Instance-launch Lifecycle Action",
        "source": "aws.autoscaling", "account": "123456789012", "time": "2026-11-25T10:00:00Z",
        "region": "eu-central-1", "resources": [],
        "detail": {"LifecycleActionToken": "tok-race", "AutoScalingGroupName": "cluster-nodes",
            "LifecycleHookName": "on-launch", "EC2InstanceId": instance,
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING"}
    });
    autoscaling.hold("tok-race", instance, "cluster-nodes", "Pending:Wait");
    let (launch_failed, launch_runs) = cluster.race("launch", &launch);
    let sent = commands();
    assert_eq!(sent.len(), 1, "{RACERS} processes sent {sent:?}");
    assert_eq!(sent[0].1, "ClusterJoin");

    let result = json!({
        "version": "0", "id": "evt-race-join-result", "detail-type": "EC2 Command Status-change Notification",
        "source": "aws.ssm", "account": "123456789012", "time": "2026-11-25T10:01:00Z",
        "region": "eu-central-1",
        "resources": [format!("arn:aws:ec2:eu-central-1:123456789012:instance/{instance}")],
        "detail": {"command-id": sent[0].0, "document-name": "ClusterJoin",
            "requested-date-time": "2026-01-01T00:00:00.000Z", "status": "Success"}
    });
    let (result_failed, result_runs) = cluster.race("result", &result);
    let sent = commands();
    let documents: Vec<&str> = sent.iter().map(|(_, d)| d.as_str()).collect();
    assert_eq!(sent.len(), 2, "{documents:?}");
    assert!(documents.contains(&"ClusterLabelNode"));

    let state = block_on(async {
        let item = aws_sdk_dynamodb::Client::new(&config)
            .get_item()
            .table_name(&table)
            .key("Ident", AttributeValue::S(instance.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        item["ItemStatus"].as_s().unwrap().clone()
    });
    assert_eq!(state, "ready");
    let calls = autoscaling.count("CompleteLifecycleAction");
    assert_eq!(autoscaling.accepted.lock().unwrap().len(), 1);
    assert!(calls >= 1);

    // A terminate event for the instance in service (anyone who may write to the queue can
    // send one), raced: Auto Scaling holds no such action, so all 16 refuse it and nothing
    // drains.
    let forged = lifecycle_aws::testing::lifecycle_action_event(
        instance,
        "cluster-nodes",
        lifecycle_core::LifecycleTransition::Terminating,
    );
    let (forged_failed, _) = cluster.race("forged", &forged);
    assert_eq!(forged_failed, 0);
    assert_eq!(commands().len(), 2, "nothing sent for a forged termination");
    assert_eq!(autoscaling.accepted.lock().unwrap().len(), 1);

    // A Spot interruption warning, raced: one drain (one ClusterLeave), whoever wins.
    let warning = lifecycle_aws::testing::spot_interruption_event(instance);
    let (warning_failed, warning_runs) = cluster.race("spot", &warning);
    let sent = commands();
    let leaves: Vec<&(String, String)> = sent.iter().filter(|(_, d)| d == "ClusterLeave").collect();
    assert_eq!(leaves.len(), 1, "{sent:?}");
    // The terminate action, raced while the drain runs: it waits for the drain, completed by
    // none of the 16.
    let terminate = forged;
    autoscaling.hold(
        &format!("token-terminating-{instance}"),
        instance,
        "cluster-nodes",
        "Terminating:Wait",
    );
    cluster.race("terminate", &terminate);
    assert_eq!(
        autoscaling.accepted.lock().unwrap().len(),
        1,
        "not before the drain"
    );
    // The drain's result, raced: the termination that waited runs once and is completed once,
    // and nothing drains again.
    let left = json!({
        "version": "0", "id": "evt-race-leave-result", "detail-type": "EC2 Command Status-change Notification",
        "source": "aws.ssm", "account": "123456789012", "time": "2026-11-25T10:05:00Z",
        "region": "eu-central-1",
        "resources": [format!("arn:aws:ec2:eu-central-1:123456789012:instance/{instance}")],
        "detail": {"command-id": leaves[0].0, "document-name": "ClusterLeave",
            "requested-date-time": "2026-01-01T00:00:00.000Z", "status": "Success"}
    });
    cluster.race("leave-result", &left);
    let sent = commands();
    assert_eq!(
        sent.iter().filter(|(_, d)| d == "ClusterLeave").count(),
        1,
        "{sent:?}"
    );
    assert_eq!(
        autoscaling.accepted.lock().unwrap().len(),
        2,
        "launch and termination, once each"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    println!(
        "process race: {RACERS} cluster-lambda processes per event; launch: {launch_runs} runs \
         ({launch_failed} told to come back), result: {result_runs} runs ({result_failed} told to \
         come back); SendCommand in SSM: 2 (ClusterJoin, ClusterLabelNode); \
         CompleteLifecycleAction: {calls} calls, 1 accepted; Spot warning: {warning_runs} runs \
         ({warning_failed} told to come back), 1 ClusterLeave; a forged termination raced: \
         refused by all; the termination raced during the drain and after it: completed once"
    );
}
