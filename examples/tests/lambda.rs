//! The cluster Lambda binary, run as Lambda runs it: a Runtime API on 127.0.0.1 (served here)
//! hands it one launching event; the node table and SSM are moto_server's.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

/// One HTTP/1.1 request: method, path, body.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        if header == "\r\n" || header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, body))
}

/// Serves the Runtime API until the function has answered one invocation; returns its answer.
fn serve_one_invocation(listener: &TcpListener, event: &Value) -> Value {
    let mut served = false;
    loop {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        while let Some((method, path, body)) = read_request(&mut reader) {
            match (method.as_str(), path.as_str()) {
                ("GET", "/2018-06-01/runtime/invocation/next") if !served => {
                    served = true;
                    let body = event.to_string();
                    write!(
                        writer,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-1\r\n\
                         Lambda-Runtime-Deadline-Ms: 4102444800000\r\n\
                         Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-central-1:123456789012:function:cluster\r\n\
                         Content-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .unwrap();
                }
                ("POST", "/2018-06-01/runtime/invocation/req-1/response") => {
                    write!(writer, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n").unwrap();
                    return serde_json::from_slice(&body).unwrap();
                }
                ("POST", path) if path.ends_with("/error") => {
                    panic!(
                        "the function reported an error: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                (method, path) => panic!("unexpected {method} {path}"),
            }
        }
    }
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn the_cluster_lambda_handles_a_launch_from_the_runtime_api() {
    let endpoint = std::env::var("LIFECYCLE_TEST_ENDPOINT")
        .expect("LIFECYCLE_TEST_ENDPOINT is not set: run the tests with scripts/test, which starts moto_server");
    let table = format!("lambda-nodes-{}", std::process::id());
    let zone_id = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let config = aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new("eu-central-1"))
                .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
                .endpoint_url(&endpoint)
                .load()
                .await;
            let client = aws_sdk_dynamodb::Client::new(&config);
            lifecycle_aws::store::DynamoStore::create_table(client.clone(), &table)
                .await
                .unwrap();
            client
                .put_item()
                .table_name(&table)
                .item("Ident", AttributeValue::S("i-0lambda".into()))
                .item(
                    "ItemStatus",
                    AttributeValue::S("finished_cloud_init".into()),
                )
                .item("ItemType", AttributeValue::S("worker".into()))
                .item("InstanceIp", AttributeValue::S("10.0.9.9".into()))
                .item(
                    "WorkerToken",
                    AttributeValue::S("SWMTKN-1-lambda-secret".into()),
                )
                .send()
                .await
                .unwrap();
            let zone = aws_sdk_route53::Client::new(&config)
                .create_hosted_zone()
                .name("lambda.cluster.internal")
                .caller_reference(format!("lambda-{}", std::process::id()))
                .send()
                .await
                .unwrap();
            zone.hosted_zone()
                .unwrap()
                .id()
                .trim_start_matches("/hostedzone/")
                .to_owned()
        });

    // Auto Scaling holds the launch's action: the instance waits in its launch hook.
    let autoscaling = std::sync::Arc::new(common::AutoScaling::default());
    autoscaling.hold("tok", "i-0lambda", "cluster-nodes", "Pending:Wait");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let api = listener.local_addr().unwrap().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cluster-lambda"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "cluster")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/cluster")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .env("LIFECYCLE_TABLE", &table)
        .env("DNS_ZONE_ID", &zone_id)
        .env("MANAGER_DNS_NAME", "managers.lambda.cluster.internal")
        .env("WORKER_DNS_NAME", "workers.lambda.cluster.internal")
        .env("MANAGER_GROUP_NAME", "cluster-managers")
        .env("WORKER_GROUP_NAME", "cluster-nodes")
        .env("AWS_REGION", "eu-central-1")
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ENDPOINT_URL_AUTO_SCALING", autoscaling.serve())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let event = json!({
        "version": "0", "id": "evt-lambda-1", "detail-type": "EC2 Instance-launch Lifecycle Action",
        "source": "aws.autoscaling", "account": "123456789012", "time": "2026-11-25T10:00:00Z",
        "region": "eu-central-1", "resources": [],
        "detail": {"LifecycleActionToken": "tok", "AutoScalingGroupName": "cluster-nodes",
            "LifecycleHookName": "on-launch", "EC2InstanceId": "i-0lambda",
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING"}
    });
    let response = serve_one_invocation(&listener, &event);
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();

    assert_eq!(
        response["outcomes"][0]["outcome"], "dispatched",
        "{response}"
    );
    assert_eq!(
        response["outcomes"][0]["end"], "joining_cluster",
        "{response}"
    );
    let logs = String::from_utf8(output.stdout).unwrap();
    assert!(!logs.contains("SWMTKN"), "a secret reached the logs");
    let fired: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "fired")
        .collect();
    assert_eq!(fired.len(), 1, "{logs}");
    assert_eq!(fired[0]["fields"]["trigger"], "join_cluster");
    assert_eq!(fired[0]["span"]["instance_id"], "i-0lambda");
}

/// A missing variable stops the binary with one sentence naming it, not a `Debug` struct.
#[test]
fn a_missing_variable_is_reported_as_a_sentence() {
    let output = Command::new(env!("CARGO_BIN_EXE_cluster-lambda"))
        .env_clear()
        .env("LIFECYCLE_TABLE", "nodes")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "Error: environment variable DNS_ZONE_ID: not set: name the Route 53 hosted zone nodes are published in\n"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_backup-lambda"))
        .env_clear()
        .env("BACKUP_INSTANCE", "i-0data")
        .env("BACKUP_DESTINATION", "s3://backups")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "Error: environment variable LIFECYCLE_TABLE: not set: name the node table\n"
    );
}
