//! Transient failures retry instead of failing the lifecycle: an SSM endpoint that does not
//! answer makes the launch's task fail transiently, the event is retried, nothing is written.

mod common;

use std::sync::Arc;

use common::node::{Node, Recorded, launching};
use lifecycle_aws::effects::CommandSender;
use lifecycle_aws::runtime::{HandleError, Runtime};
use lifecycle_aws::store::{DynamoStore, NodeTable};
use lifecycle_core::{CommandRequest, Store};

#[test]
fn an_unreachable_ssm_is_a_transient_error() {
    common::run(async {
        let ssm = common::unreachable_ssm().await;
        let error = ssm
            .send(&CommandRequest::new("AWS-RunShellScript", ["i-1"]))
            .await
            .unwrap_err();
        assert!(error.transient, "{error}");
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_launch_whose_command_cannot_be_sent_yet_is_retried_not_failed() {
    common::run(async {
        let config = common::sdk_config().await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        let table = DynamoStore::new(client.clone(), common::node_table(&client).await);
        table.create("i-tr1", "finished_cloud_init").await.unwrap();
        let before = table.load("i-tr1").await.unwrap().unwrap();
        let recorded = Arc::new(Recorded::default());
        let runtime = Runtime::with_parts(
            table,
            Arc::new(common::unreachable_ssm().await),
            recorded.clone(),
            (|| Node) as fn() -> Node,
        );

        let error = runtime.handle(&launching("i-tr1")).await.unwrap_err();
        assert!(matches!(error, HandleError::Transient { .. }), "{error}");
        assert!(error.is_retryable());
        // Not failed: no failure state, no completion; the claim taken before SendCommand is
        // let go, so the redelivery takes it over at once (and looks for the command first).
        let after = runtime.store().load("i-tr1").await.unwrap().unwrap();
        assert_eq!(after.state, before.state);
        assert_eq!(after.claimed_until(), Some(0));
        assert!(after.claimed_by().is_some());
        assert!(recorded.completions.lock().unwrap().is_empty());
        let waiting = runtime
            .store()
            .due_waits("Node", u64::MAX, None, 1)
            .await
            .unwrap();
        assert!(waiting.waits.is_empty(), "no command registered");
    });
}
