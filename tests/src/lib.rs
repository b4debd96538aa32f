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

/// A model written against `lifecycle-aws` alone (`crate = ...`), whose generated items are
/// visible in this crate only (`vis = pub(crate)`). Being in a library, it also proves that
/// unused typestate items raise no `dead_code` warnings (CI denies warnings).
#[cfg(test)]
mod through_aws {
    use lifecycle_aws::core::{Context, lifecycle_model};

    pub(crate) struct Beacon;

    #[lifecycle_model(
        states(Off, On),
        schedules(Off),
        terminal(On),
        error = std::fmt::Error,
        crate = ::lifecycle_aws::core,
        vis = pub(crate),
    )]
    impl Beacon {
        #[transition(from = Off, to = On, ignore_errors)]
        async fn switch_on(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
            Ok(())
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use lifecycle_aws::core::{Event, LocalEffects, MemoryStore, Record, dispatch};

        #[test]
        fn a_model_built_through_lifecycle_aws_runs() {
            let store = MemoryStore::new();
            store.insert(Record::new("off", "off"));
            let mut record = store.get("off").unwrap();
            let event = Event::scheduled("e-1", "off");
            let report = crate::block_on(dispatch(
                &mut Beacon,
                &store,
                &mut record,
                &event,
                &LocalEffects::new(),
            ))
            .unwrap();
            assert_eq!(report.end, BeaconState::On);
        }
    }
}
