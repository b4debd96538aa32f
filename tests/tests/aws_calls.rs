//! AWS calls per lifecycle, counted at the HTTP layer (an SDK interceptor sees every request
//! the DynamoDB client sends, retries included) against moto_server. Auto Scaling, which moto
//! lacks, is counted behind its trait.
//!
//! One launching event through the 13-transition model: 1 read, 1 write per state change,
//! 1 DescribeAutoScalingInstances (does Auto Scaling hold the action?), 1
//! CompleteLifecycleAction, 0 scans. (The original library makes about 105 calls.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Credentials, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use lifecycle_aws::actions::{ActionError, Completed, LifecycleActions};
use lifecycle_aws::effects::CommandSender;
use lifecycle_aws::fleet::{Fleet, FleetInstance, Hook};
use lifecycle_aws::runtime::Runtime;
use lifecycle_aws::store::DynamoStore;
use lifecycle_core::{CommandRequest, EffectError, LifecycleAction, LifecycleResult};
use lifecycle_tests::Launch;

/// Every request the client transmits, by operation (`X-Amz-Target`).
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target);
        self.0.lock().unwrap().push(operation.to_owned());
        Ok(())
    }
}

impl Calls {
    fn by_operation(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for operation in self.0.lock().unwrap().iter() {
            *counts.entry(operation.clone()).or_default() += 1;
        }
        counts
    }
}

#[derive(Default)]
struct CountedActions(Mutex<Vec<&'static str>>);

#[async_trait::async_trait]
impl LifecycleActions for CountedActions {
    async fn complete(
        &self,
        _: &LifecycleAction,
        _: Option<&str>,
        _: LifecycleResult,
    ) -> Result<Completed, ActionError> {
        self.0.lock().unwrap().push("CompleteLifecycleAction");
        Ok(Completed::Done)
    }

    async fn heartbeat(
        &self,
        _: &LifecycleAction,
        _: Option<&str>,
    ) -> Result<Completed, ActionError> {
        self.0
            .lock()
            .unwrap()
            .push("RecordLifecycleActionHeartbeat");
        Ok(Completed::Done)
    }
}

/// Auto Scaling's view, counted: the instance waits in its launch hook.
#[async_trait::async_trait]
impl Fleet for CountedActions {
    async fn instances(
        &self,
        instance_ids: &[String],
        _: Option<&str>,
    ) -> Result<Vec<FleetInstance>, ActionError> {
        self.0.lock().unwrap().push("DescribeAutoScalingInstances");
        Ok(instance_ids
            .iter()
            .map(|id| FleetInstance {
                instance_id: id.clone(),
                group: "workers".to_owned(),
                lifecycle_state: "Pending:Wait".to_owned(),
            })
            .collect())
    }

    async fn warm_pool(&self, _: &str, _: Option<&str>) -> Result<Vec<FleetInstance>, ActionError> {
        Ok(Vec::new())
    }

    async fn waiting(
        &self,
        _: &[String],
        _: Option<&str>,
    ) -> Result<Vec<FleetInstance>, ActionError> {
        Ok(Vec::new())
    }

    async fn hooks(&self, _: &str, _: Option<&str>) -> Result<Vec<Hook>, ActionError> {
        Ok(Vec::new())
    }
}

struct NoCommands;

#[async_trait::async_trait]
impl CommandSender for NoCommands {
    async fn send(&self, _: &CommandRequest) -> Result<String, EffectError> {
        Err(EffectError::new("send_command", "this model sends none"))
    }

    async fn cancel(&self, _: &str) -> Result<(), EffectError> {
        Ok(())
    }
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn one_launch_through_13_transitions_makes_one_read_and_one_write_per_state_change() {
    let endpoint = std::env::var("LIFECYCLE_TEST_ENDPOINT")
        .expect("LIFECYCLE_TEST_ENDPOINT is not set: run the tests with scripts/test, which starts moto_server");
    assert!(endpoint.starts_with("http://127.0.0.1:"));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let sdk = aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new("eu-central-1"))
                .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
                .endpoint_url(&endpoint)
                .load()
                .await;
            let setup = aws_sdk_dynamodb::Client::new(&sdk);
            let table = format!("calls-{}", std::process::id());
            DynamoStore::create_table(setup.clone(), &table)
                .await
                .unwrap();
            // As cloud-init (or the original library) left it: no version yet.
            setup
                .put_item()
                .table_name(&table)
                .item("Ident", AttributeValue::S("i-0calls".into()))
                .item("ItemStatus", AttributeValue::S("finished_cloud_init".into()))
                .item("ItemType", AttributeValue::S("worker".into()))
                .send()
                .await
                .unwrap();

            let calls = Calls::default();
            let client = aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&sdk)
                    .interceptor(calls.clone())
                    .build(),
            );
            let actions = Arc::new(CountedActions::default());
            let runtime = Runtime::with_parts(
                DynamoStore::new(client, &table),
                Arc::new(NoCommands),
                actions.clone(),
                Launch::default,
            )
            .with_fleet(actions.clone());
            let event = serde_json::json!({
                "version": "0", "id": "evt-calls", "detail-type": "EC2 Instance-launch Lifecycle Action",
                "source": "aws.autoscaling", "account": "123456789012", "time": "2026-11-25T10:00:00Z",
                "region": "eu-central-1", "resources": [],
                "detail": {"LifecycleActionToken": "tok-calls", "AutoScalingGroupName": "workers",
                    "LifecycleHookName": "on-launch", "EC2InstanceId": "i-0calls",
                    "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING"}
            });
            let answer = runtime.handle(&event).await.unwrap();
            assert_eq!(answer["outcomes"][0]["end"], "ready", "{answer}");
            let steps = answer["outcomes"][0]["steps"].as_array().unwrap().len();
            assert_eq!(steps, 13);

            let counts = calls.by_operation();
            println!(
                "AWS calls for one launch through {steps} transitions: DynamoDB {counts:?}, \
                 Auto Scaling {:?}",
                actions.0.lock().unwrap()
            );
            assert_eq!(
                counts,
                BTreeMap::from([("GetItem".to_owned(), 1), ("UpdateItem".to_owned(), 13)]),
                "1 read + 1 write per state change, and nothing else (no Scan, no Query)"
            );
            assert_eq!(
                *actions.0.lock().unwrap(),
                ["DescribeAutoScalingInstances", "CompleteLifecycleAction"]
            );
        });
}
