//! Lost answers the way AWS loses them: the request reaches the server and is applied, and the
//! answer that comes back is a 500 — so the SDK sends the same request again. An interceptor
//! on the real DynamoDB and SSM clients does that to the k-th HTTP request of a whole
//! lifecycle, for every k, against moto_server. Side effects are counted at the HTTP layer.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use aws_smithy_types::retry::RetryConfig;
use common::node::{LONG_AGO, Node, Recorded, command_status, launching, terminating};
use lifecycle_aws::effects::SsmCommands;
use lifecycle_aws::runtime::Runtime;
use lifecycle_aws::store::{DynamoStore, NodeTable};
use lifecycle_core::{LifecycleResult, LifecycleTransition, Store};
use serde_json::Value;

/// Numbers every HTTP request both clients transmit (retries included) and replaces the
/// answer to the chosen one with a 500, after the server applied it.
#[derive(Clone, Debug, Default)]
struct LoseAnswer(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    transmitted: Mutex<Vec<String>>,
    lose: AtomicUsize,
}

/// The number of the request an attempt transmitted, kept for its answer.
#[derive(Debug, Clone, Copy)]
struct RequestNumber(usize);

impl Storable for RequestNumber {
    type Storer = StoreReplace<Self>;
}

impl LoseAnswer {
    /// Loses the answer to the `n`-th request from now on (0: none), counting from 1.
    fn arm(&self, n: usize) {
        self.0.transmitted.lock().unwrap().clear();
        self.0.lose.store(n, Ordering::SeqCst);
    }

    fn operations(&self) -> Vec<String> {
        self.0.transmitted.lock().unwrap().clone()
    }

    fn count(&self, operation: &str) -> usize {
        self.operations().iter().filter(|o| *o == operation).count()
    }
}

impl Intercept for LoseAnswer {
    fn name(&self) -> &'static str {
        "LoseAnswer"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut transmitted = self.0.transmitted.lock().unwrap();
        transmitted.push(common::operation(context.request()));
        cfg.interceptor_state()
            .store_put(RequestNumber(transmitted.len()));
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let number = cfg.load::<RequestNumber>().map_or(0, |n| n.0);
        if number != 0 && number == self.0.lose.load(Ordering::SeqCst) {
            let body = r#"{"__type":"InternalServerError","message":"answer lost (injected)"}"#;
            let mut lost =
                HttpResponse::new(StatusCode::try_from(500).unwrap(), SdkBody::from(body));
            lost.headers_mut()
                .insert("content-type", "application/x-amz-json-1.0");
            *context.response_mut() = lost;
        }
        Ok(())
    }
}

struct Harness {
    runtime: Runtime<Node, fn() -> Node>,
    recorded: Arc<Recorded>,
    http: LoseAnswer,
}

impl Harness {
    async fn new() -> Self {
        let config = common::sdk_config().await;
        let http = LoseAnswer::default();
        // The SDK's standard retry, with a short backoff to keep the run fast.
        let retry = RetryConfig::standard().with_initial_backoff(Duration::from_millis(5));
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&config)
                .interceptor(http.clone())
                .retry_config(retry.clone())
                .build(),
        );
        let ssm = aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::config::Builder::from(&config)
                .interceptor(http.clone())
                .retry_config(retry)
                .build(),
        );
        let table = common::node_table(&dynamodb).await;
        let recorded = Arc::new(Recorded::default());
        let runtime = Runtime::with_parts(
            DynamoStore::new(dynamodb, table),
            Arc::new(SsmCommands(ssm)),
            recorded.clone(),
            (|| Node) as fn() -> Node,
        );
        Harness {
            runtime,
            recorded,
            http,
        }
    }

    async fn attribute(&self, ident: &str, name: &str) -> String {
        let record = self.runtime.store().load(ident).await.unwrap().unwrap();
        record.get_str(name).unwrap_or_default().to_owned()
    }

    /// Delivers `event`; returns how many deliveries failed before it was handled.
    async fn deliver(&self, event: Value) -> usize {
        for failed in 0..5 {
            match self.runtime.handle(&event).await {
                Ok(_) => return failed,
                Err(e) => assert!(e.is_retryable(), "{e}"),
            }
        }
        panic!("{event} still fails after 5 deliveries");
    }

    /// Launch, join result, termination, leave result. Returns failed deliveries.
    async fn lifecycle(&self, ident: &str) -> usize {
        let mut failed = self.deliver(launching(ident)).await;
        let join = self.attribute(ident, "JoinCommand").await;
        failed += self
            .deliver(command_status(&join, ident, "Success", LONG_AGO))
            .await;
        failed += self.deliver(terminating(ident)).await;
        let leave = self.attribute(ident, "LeaveCommand").await;
        failed += self
            .deliver(command_status(&leave, ident, "Success", LONG_AGO))
            .await;
        failed
    }

    fn completions(&self, ident: &str) -> Vec<(LifecycleTransition, LifecycleResult)> {
        let completions = self.recorded.completions.lock().unwrap();
        completions
            .iter()
            .filter(|c| c.0 == ident)
            .map(|c| (c.1, c.2))
            .collect()
    }
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn an_answer_lost_at_any_request_and_retried_by_the_sdk_changes_nothing() {
    common::run(async {
        let h = Harness::new().await;
        let clean_end = [
            (LifecycleTransition::Launching, LifecycleResult::Continue),
            (LifecycleTransition::Terminating, LifecycleResult::Continue),
        ];

        h.runtime
            .store()
            .create("i-clean", "finished_cloud_init")
            .await
            .unwrap();
        h.http.arm(0);
        assert_eq!(h.lifecycle("i-clean").await, 0);
        let clean = h.http.operations();
        assert_eq!(h.completions("i-clean"), clean_end);
        assert_eq!(h.http.count("SendCommand"), 2);
        println!(
            "fault-free lifecycle: {} HTTP requests: {clean:?}",
            clean.len()
        );

        let mut retried = 0;
        for k in 1..=clean.len() {
            let ident = format!("i-lost-{k}");
            h.runtime
                .store()
                .create(&ident, "finished_cloud_init")
                .await
                .unwrap();
            h.http.arm(k);
            let failed = h.lifecycle(&ident).await;
            let operations = h.http.operations();
            let what = format!("answer to request {k} ({}) lost", clean[k - 1]);
            assert_eq!(failed, 0, "{what}: a delivery failed: {operations:?}");
            assert_eq!(h.completions(&ident), clean_end, "{what}");
            // SendCommand is never sent twice: a lost answer to it is found by its marker.
            assert_eq!(h.http.count("SendCommand"), 2, "{what}: {operations:?}");
            let record = h.runtime.store().load(&ident).await.unwrap().unwrap();
            assert_eq!(record.state, "gone", "{what}");
            assert_eq!(record.claimed_by(), None, "{what}");
            assert_eq!(record.awaited_commands().count(), 0, "{what}");
            for command in ["JoinCommand", "LeaveCommand"] {
                let id = record.get_str(command).unwrap();
                let left = h.runtime.store().peek_command(id).await.unwrap();
                assert!(left.is_none(), "{what}: {command} still registered");
            }
            retried += operations.len() - clean.len();
        }
        println!(
            "lost answers: {} lifecycles, the answer to request k lost for each k in 1..={} \
             ({retried} requests sent again: by the SDK, or a ListCommands finding a SendCommand \
             whose answer was lost); 0 failed deliveries; 2 SendCommand and both lifecycle \
             actions completed once in every run",
            clean.len(),
            clean.len()
        );
    });
}
