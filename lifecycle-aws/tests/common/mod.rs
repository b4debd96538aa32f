//! The local AWS server the tests talk to (moto_server, started by `scripts/test`).

#![allow(dead_code)]

pub mod faults;
pub mod node;
pub mod rng;
pub mod stepped;
pub mod worker;

use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use lifecycle_aws::store::DynamoStore;

/// The SDK configured for the local server: loopback endpoint, a region, static test
/// credentials.
pub async fn sdk_config() -> SdkConfig {
    sdk_config_in("eu-central-1").await
}

/// [`sdk_config`] in another region: moto keeps each region apart (its SSM targets every EC2
/// instance of the region when a command names none, so tests that start instances keep them
/// out of the others' region).
pub async fn sdk_config_in(region: &'static str) -> SdkConfig {
    let endpoint = std::env::var("LIFECYCLE_TEST_ENDPOINT").expect(
        "LIFECYCLE_TEST_ENDPOINT is not set: run the tests with scripts/test, which starts moto_server",
    );
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "tests talk to loopback only, not {endpoint}"
    );
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// A new, empty node table (hash key `Ident`) with a name unique to this test run.
pub async fn node_table(client: &aws_sdk_dynamodb::Client) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "nodes-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    DynamoStore::create_table(client.clone(), &name)
        .await
        .expect("create the node table");
    name
}

/// Runs `future` on a multi-threaded runtime. Boxed: a test's future holds every runtime call
/// it awaits, and unoptimised (debug) futures are large enough that the test thread's 2 MiB
/// stack would hold little else.
pub fn run<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(Box::pin(future))
}

/// A clock that moves only when told to.
pub struct TestClock(pub std::sync::Mutex<std::time::SystemTime>);

impl TestClock {
    pub fn at(time: std::time::SystemTime) -> std::sync::Arc<Self> {
        std::sync::Arc::new(TestClock(std::sync::Mutex::new(time)))
    }

    pub fn advance(&self, by: std::time::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl lifecycle_aws::runtime::Clock for TestClock {
    fn now(&self) -> std::time::SystemTime {
        *self.0.lock().unwrap()
    }
}

/// SSM on a loopback port nobody listens on.
pub async fn unreachable_ssm() -> lifecycle_aws::effects::SsmCommands {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("eu-central-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .load()
        .await;
    lifecycle_aws::effects::SsmCommands(aws_sdk_ssm::Client::new(&config))
}

/// The operation an SDK request is for, from its `X-Amz-Target` header (`GetItem`,
/// `SendCommand`, ...): how the tests count calls at the HTTP layer.
pub fn operation(request: &aws_smithy_runtime_api::client::orchestrator::HttpRequest) -> String {
    let target = request.headers().get("x-amz-target").unwrap_or("?");
    target.rsplit('.').next().unwrap_or(target).to_owned()
}

/// A DynamoDB Streams invocation with one MODIFY record.
pub fn stream_record(
    ident: &str,
    sequence: &str,
    new_image: serde_json::Value,
    old_image: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({"Records": [{"eventID": "1", "eventName": "MODIFY", "eventSource": "aws:dynamodb",
        "awsRegion": "eu-central-1", "dynamodb": {"Keys": {"Ident": {"S": ident}},
        "SequenceNumber": sequence, "NewImage": new_image, "OldImage": old_image,
        "StreamViewType": "NEW_AND_OLD_IMAGES"}}]})
}

/// An item as DynamoDB JSON (a stream record's image).
pub fn dynamodb_json(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> serde_json::Value {
    use aws_sdk_dynamodb::types::AttributeValue;
    use serde_json::{Value, json};
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
