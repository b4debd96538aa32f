//! Helpers shared by the test suites and benchmarks: events as the AWS layer would build
//! them, and a runtime to block on.

use lifecycle_core::{CommandStatus, Event, LifecycleAction, LifecycleTransition};

/// The lifecycle action of `instance` in group `workers`.
pub fn action(instance: &str, transition: LifecycleTransition) -> LifecycleAction {
    LifecycleAction {
        auto_scaling_group_name: "workers".into(),
        lifecycle_hook_name: match transition {
            LifecycleTransition::Launching => "workers-on-launch".into(),
            LifecycleTransition::Terminating => "workers-on-terminate".into(),
        },
        lifecycle_action_token: Some(format!("token-{instance}")),
        ec2_instance_id: instance.into(),
        lifecycle_transition: transition,
        notification_metadata: Some(r#"{"type": "worker"}"#.into()),
    }
}

/// A launching lifecycle action event.
pub fn launching(instance: &str) -> Event {
    Event::lifecycle(
        format!("launch-{instance}"),
        action(instance, LifecycleTransition::Launching),
    )
}

/// A terminating lifecycle action event.
pub fn terminating(instance: &str) -> Event {
    Event::lifecycle(
        format!("terminate-{instance}"),
        action(instance, LifecycleTransition::Terminating),
    )
}

/// The result of command `command_id`, sent during the `transition` lifecycle of `instance`.
pub fn command_result(
    instance: &str,
    command_id: &str,
    status: CommandStatus,
    transition: LifecycleTransition,
) -> Event {
    Event::command_result(
        format!("result-{command_id}"),
        command_id,
        status,
        instance,
        Some(action(instance, transition)),
    )
}

/// Runs `future` to completion on a fresh current-thread runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
        .block_on(future)
}

/// The README's Rust examples, compiled and run as doctests so they cannot go stale.
#[doc = include_str!("../../README.md")]
pub mod readme {}
