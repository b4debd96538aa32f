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

mod fleet {
    //! Auto Scaling's view (`AutoScalingActions` as a `Fleet`): what it asks, page by page.

    use aws_sdk_autoscaling::Client;
    use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
    use aws_sdk_autoscaling::operation::describe_auto_scaling_instances::DescribeAutoScalingInstancesOutput;
    use aws_sdk_autoscaling::operation::describe_lifecycle_hooks::DescribeLifecycleHooksOutput;
    use aws_sdk_autoscaling::operation::describe_warm_pool::DescribeWarmPoolOutput;
    use aws_sdk_autoscaling::types::{
        AutoScalingGroup, AutoScalingInstanceDetails, Instance, LifecycleHook, LifecycleState,
        WarmPoolConfiguration,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use lifecycle_aws::actions::AutoScalingActions;
    use lifecycle_aws::fleet::{Fleet, Held};
    use lifecycle_core::{LifecycleResult, LifecycleTransition};

    use super::{action, config, query_error, run};

    fn instance(id: &str, state: LifecycleState) -> Instance {
        Instance::builder()
            .instance_id(id)
            .availability_zone("eu-central-1a")
            .lifecycle_state(state)
            .health_status("Healthy")
            .protected_from_scale_in(false)
            .build()
    }

    fn group(name: &str, instances: Vec<Instance>, warm_pool: bool) -> AutoScalingGroup {
        let mut group = AutoScalingGroup::builder()
            .auto_scaling_group_name(name)
            .set_instances(Some(instances));
        if warm_pool {
            group = group.warm_pool_configuration(WarmPoolConfiguration::builder().build());
        }
        group.build()
    }

    #[test]
    fn waiting_pages_through_groups_and_warm_pools() {
        let first = mock!(Client::describe_auto_scaling_groups)
            .match_requests(|r| {
                r.auto_scaling_group_names() == ["workers", "web"] && r.next_token().is_none()
            })
            .then_output(|| {
                DescribeAutoScalingGroupsOutput::builder()
                    .auto_scaling_groups(group(
                        "workers",
                        vec![
                            instance("i-1", LifecycleState::PendingWait),
                            instance("i-2", LifecycleState::InService),
                        ],
                        true,
                    ))
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(Client::describe_auto_scaling_groups)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(|| {
                DescribeAutoScalingGroupsOutput::builder()
                    .auto_scaling_groups(group(
                        "web",
                        vec![instance("i-3", LifecycleState::TerminatingWait)],
                        false,
                    ))
                    .build()
            });
        let pool = mock!(Client::describe_warm_pool)
            .match_requests(|r| {
                // 50 at most: the API refuses more.
                r.auto_scaling_group_name() == Some("workers") && r.max_records() == Some(50)
            })
            .then_output(|| {
                DescribeWarmPoolOutput::builder()
                    .instances(instance("i-4", LifecycleState::WarmedPendingWait))
                    .instances(instance("i-5", LifecycleState::WarmedStopped))
                    .build()
            });
        let client = mock_client!(
            aws_sdk_autoscaling,
            RuleMode::MatchAny,
            [&first, &second, &pool]
        );
        let fleet = AutoScalingActions::with_client(&config(), client);
        let groups = ["workers".to_owned(), "web".to_owned()];
        let waiting = run(fleet.waiting(&groups, None)).unwrap();
        let found: Vec<(&str, &str, &str)> = waiting
            .iter()
            .map(|i| {
                (
                    i.instance_id.as_str(),
                    i.group.as_str(),
                    i.lifecycle_state.as_str(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("i-1", "workers", "Pending:Wait"),
                ("i-3", "web", "Terminating:Wait"),
                ("i-4", "workers", "Warmed:Pending:Wait")
            ]
        );
        assert_eq!(
            (first.num_calls(), second.num_calls(), pool.num_calls()),
            (1, 1, 1)
        );
    }

    #[test]
    fn held_is_one_describe_auto_scaling_instances() {
        let rule = mock!(Client::describe_auto_scaling_instances)
            .match_requests(|r| r.instance_ids() == ["i-0abc"])
            .then_output(|| {
                DescribeAutoScalingInstancesOutput::builder()
                    .auto_scaling_instances(
                        AutoScalingInstanceDetails::builder()
                            .instance_id("i-0abc")
                            .auto_scaling_group_name("workers")
                            .availability_zone("eu-central-1a")
                            .lifecycle_state("InService")
                            .health_status("HEALTHY")
                            .protected_from_scale_in(false)
                            .build(),
                    )
                    .build()
            });
        let fleet =
            AutoScalingActions::with_client(&config(), mock_client!(aws_sdk_autoscaling, [&rule]));
        let Held::No(reason) = run(fleet.held(&action(Some("t")), None)).unwrap() else {
            panic!("an instance in service holds no launch")
        };
        assert!(reason.contains("`InService`"), "{reason}");
        assert_eq!(rule.num_calls(), 1);
    }

    /// A warm-pool action whose instance `DescribeAutoScalingInstances` does not list is
    /// looked for in the group's warm pool.
    #[test]
    fn a_warm_pool_action_is_looked_for_in_the_warm_pool() {
        let instances = mock!(Client::describe_auto_scaling_instances)
            .then_output(|| DescribeAutoScalingInstancesOutput::builder().build());
        let pool = mock!(Client::describe_warm_pool)
            .match_requests(|r| r.auto_scaling_group_name() == Some("workers"))
            .then_output(|| {
                DescribeWarmPoolOutput::builder()
                    .instances(instance("i-0abc", LifecycleState::WarmedPendingWait))
                    .build()
            });
        let fleet = AutoScalingActions::with_client(
            &config(),
            mock_client!(aws_sdk_autoscaling, RuleMode::MatchAny, [&instances, &pool]),
        );
        let mut into_pool = action(Some("t"));
        into_pool.destination = Some(lifecycle_core::Location::WarmPool);
        assert_eq!(run(fleet.held(&into_pool, None)).unwrap(), Held::Yes);
        assert_eq!((instances.num_calls(), pool.num_calls()), (1, 1));
        // A launch into the group is not looked for there.
        assert!(matches!(
            run(fleet.held(&action(Some("t")), None)).unwrap(),
            Held::No(_)
        ));
        assert_eq!(pool.num_calls(), 1);
    }

    #[test]
    fn hooks_carry_their_timeouts_and_default_results() {
        let rule = mock!(Client::describe_lifecycle_hooks)
            .match_requests(|r| r.auto_scaling_group_name() == Some("workers"))
            .then_output(|| {
                DescribeLifecycleHooksOutput::builder()
                    .lifecycle_hooks(
                        LifecycleHook::builder()
                            .lifecycle_hook_name("on-launch")
                            .lifecycle_transition("autoscaling:EC2_INSTANCE_LAUNCHING")
                            .heartbeat_timeout(600)
                            .global_timeout(60_000)
                            .default_result("ABANDON")
                            .notification_metadata(r#"{"role":"worker"}"#)
                            .build(),
                    )
                    .lifecycle_hooks(
                        LifecycleHook::builder()
                            .lifecycle_hook_name("on-terminate")
                            .lifecycle_transition("autoscaling:EC2_INSTANCE_TERMINATING")
                            .heartbeat_timeout(300)
                            .default_result("CONTINUE")
                            .build(),
                    )
                    .build()
            });
        let fleet =
            AutoScalingActions::with_client(&config(), mock_client!(aws_sdk_autoscaling, [&rule]));
        let hooks = run(fleet.hooks("workers", None)).unwrap();
        assert_eq!(hooks.len(), 2);
        assert_eq!(hooks[0].transition, LifecycleTransition::Launching);
        assert_eq!(hooks[0].global_timeout.as_secs(), 60_000);
        assert_eq!(hooks[0].default_result, LifecycleResult::Abandon);
        assert_eq!(
            hooks[0].notification_metadata.as_deref(),
            Some(r#"{"role":"worker"}"#)
        );
        // No global timeout given: Auto Scaling's own, 100 heartbeat timeouts.
        assert_eq!(hooks[1].global_timeout.as_secs(), 30_000);
        assert_eq!(hooks[1].default_result, LifecycleResult::Continue);
    }

    #[test]
    fn a_throttled_describe_is_an_error_the_caller_retries() {
        let rule = mock!(Client::describe_auto_scaling_instances)
            .then_http_response(|| query_error("Throttling", "Rate exceeded"));
        let fleet =
            AutoScalingActions::with_client(&config(), mock_client!(aws_sdk_autoscaling, [&rule]));
        let error = run(fleet.held(&action(Some("t")), None)).unwrap_err();
        assert_eq!(error.operation, "DescribeAutoScalingInstances");
        assert!(error.message.contains("Throttling"), "{error}");
    }
}

/// Which Auto Scaling errors delivering the event again can fix: throttling and server errors
/// yes; access denied and validation errors no (they would only fill the dead-letter queue
/// slower).
#[test]
fn auto_scaling_errors_are_transient_or_permanent_by_their_code() {
    use lifecycle_aws::runtime::HandleError;
    for (code, transient) in [
        ("Throttling", true),
        ("InternalFailure", true),
        ("ServiceUnavailable", true),
        ("AccessDenied", false),
        ("ValidationError", false),
        ("ResourceContention", false),
    ] {
        let rule = mock!(Client::complete_lifecycle_action)
            .then_http_response(move || query_error(code, "as AWS says it"));
        let actions =
            AutoScalingActions::with_client(&config(), mock_client!(aws_sdk_autoscaling, [&rule]));
        let error =
            run(actions.complete(&action(Some("t")), None, LifecycleResult::Continue)).unwrap_err();
        assert_eq!(error.transient, transient, "{code}: {error}");
        assert_eq!(
            HandleError::Action(error).is_retryable(),
            transient,
            "{code}"
        );
    }
}

/// The same for DynamoDB's error codes, as the SDK reports them.
#[test]
fn dynamodb_errors_are_transient_or_permanent_by_their_code() {
    use aws_sdk_dynamodb::error::{ErrorMetadata, SdkError};
    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
    for (code, transient) in [
        ("ProvisionedThroughputExceededException", true),
        ("ThrottlingException", true),
        ("RequestLimitExceeded", true),
        ("InternalServerError", true),
        ("AccessDeniedException", false),
        ("ValidationException", false),
        ("ResourceNotFoundException", false),
        ("UnrecognizedClientException", false),
    ] {
        let error: SdkError<UpdateItemError, ()> = SdkError::service_error(
            UpdateItemError::generic(ErrorMetadata::builder().code(code).build()),
            (),
        );
        assert_eq!(
            lifecycle_aws::store::is_transient(&error),
            transient,
            "{code}"
        );
    }
    let timeout: SdkError<UpdateItemError, ()> = SdkError::timeout_error("no answer");
    assert!(lifecycle_aws::store::is_transient(&timeout));
}
