//! The Auto Scaling calls (moto lacks them): request shapes and error handling, checked with
//! aws-smithy-mocks on the real SDK client.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_autoscaling::Client;
use aws_sdk_autoscaling::operation::complete_lifecycle_action::CompleteLifecycleActionOutput;
use aws_sdk_autoscaling::operation::record_lifecycle_action_heartbeat::RecordLifecycleActionHeartbeatOutput;
use aws_smithy_mocks::{mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use lifecycle_aws::actions::{AutoScalingActions, Completed, LifecycleActions};
use lifecycle_core::{LifecycleAction, LifecycleResult, LifecycleTransition};

fn config() -> SdkConfig {
    SdkConfig::builder()
        .region(Region::new("eu-central-1"))
        .behavior_version(BehaviorVersion::latest())
        .build()
}

fn action(token: Option<&str>) -> LifecycleAction {
    LifecycleAction {
        auto_scaling_group_name: "workers".into(),
        lifecycle_hook_name: "workers-on-launch".into(),
        lifecycle_action_token: token.map(str::to_owned),
        ec2_instance_id: "i-0abc".into(),
        lifecycle_transition: LifecycleTransition::Launching,
        notification_metadata: None,
        region: None,
        origin: None,
        destination: None,
    }
}

/// An awsQuery error response, as Auto Scaling sends it.
fn query_error(code: &str, message: &str) -> HttpResponse {
    let body = format!(
        r#"<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"#
    );
    HttpResponse::new(StatusCode::try_from(400).unwrap(), SdkBody::from(body))
}

fn run<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn complete_sends_group_hook_result_and_token() {
    let rule = mock!(Client::complete_lifecycle_action)
        .match_requests(|r| {
            r.auto_scaling_group_name() == Some("workers")
                && r.lifecycle_hook_name() == Some("workers-on-launch")
                && r.lifecycle_action_result() == Some("ABANDON")
                && r.lifecycle_action_token() == Some("tok-1")
                && r.instance_id().is_none()
        })
        .then_output(|| CompleteLifecycleActionOutput::builder().build());
    let actions =
        AutoScalingActions::with_client(&config(), mock_client!(aws_sdk_autoscaling, [&rule]));
    let completed =
        run(actions.complete(&action(Some("tok-1")), None, LifecycleResult::Abandon)).unwrap();
    assert_eq!(completed, Completed::Done);
    assert_eq!(rule.num_calls(), 1);
}

#[test]
fn without_a_token_the_instance_id_identifies_the_action() {
    let rule = mock!(Client::complete_lifecycle_action)
        .match_requests(|r| {
            r.lifecycle_action_token().is_none()
                && r.instance_id() == Some("i-0abc")
                && r.lifecycle_action_result() == Some("CONTINUE")
        })
        .then_output(|| CompleteLifecycleActionOutput::builder().build());
    let actions =
        AutoScalingActions::with_client(&config(), mock_client!(aws_sdk_autoscaling, [&rule]));
    run(actions.complete(&action(None), None, LifecycleResult::Continue)).unwrap();
    assert_eq!(rule.num_calls(), 1);
}

#[test]
fn no_active_lifecycle_action_is_a_final_outcome_not_an_error() {
    let rule = mock!(Client::complete_lifecycle_action).then_http_response(|| {
        query_error(
            "ValidationError",
            "No active Lifecycle Action found with token tok-1",
        )
    });
    let actions =
        AutoScalingActions::with_client(&config(), mock_client!(aws_sdk_autoscaling, [&rule]));
    let completed =
        run(actions.complete(&action(Some("tok-1")), None, LifecycleResult::Continue)).unwrap();
    assert_eq!(completed, Completed::NoActiveAction);
    assert_eq!(rule.num_calls(), 1, "not retried");
}

#[test]
fn other_errors_are_returned_with_their_cause() {
    let rule = mock!(Client::complete_lifecycle_action)
        .then_http_response(|| query_error("ValidationError", "Group workers not found"));
    let actions =
        AutoScalingActions::with_client(&config(), mock_client!(aws_sdk_autoscaling, [&rule]));
    let err =
        run(actions.complete(&action(Some("tok-1")), None, LifecycleResult::Continue)).unwrap_err();
    assert_eq!(err.operation, "CompleteLifecycleAction");
    assert_eq!(err.instance, "i-0abc");
    assert!(
        err.message.contains("Group workers not found"),
        "{}",
        err.message
    );
}

#[test]
fn heartbeat_sends_group_hook_and_token() {
    let rule = mock!(Client::record_lifecycle_action_heartbeat)
        .match_requests(|r| {
            r.auto_scaling_group_name() == Some("workers")
                && r.lifecycle_hook_name() == Some("workers-on-launch")
                && r.lifecycle_action_token() == Some("tok-1")
        })
        .then_output(|| RecordLifecycleActionHeartbeatOutput::builder().build());
    let actions =
        AutoScalingActions::with_client(&config(), mock_client!(aws_sdk_autoscaling, [&rule]));
    assert_eq!(
        run(actions.heartbeat(&action(Some("tok-1")), None)).unwrap(),
        Completed::Done
    );
    assert_eq!(rule.num_calls(), 1);
}

#[test]
fn a_heartbeat_for_a_gone_action_says_so() {
    let rule = mock!(Client::record_lifecycle_action_heartbeat).then_http_response(|| {
        query_error(
            "ValidationError",
            "No active Lifecycle Action found with instance ID i-0abc",
        )
    });
    let actions =
        AutoScalingActions::with_client(&config(), mock_client!(aws_sdk_autoscaling, [&rule]));
    assert_eq!(
        run(actions.heartbeat(&action(None), None)).unwrap(),
        Completed::NoActiveAction
    );
}
