//! Helpers shared by the test suites and benchmarks: events as the AWS layer would build
//! them, and a runtime to block on.

pub mod invocation;

use lifecycle_core::{
    CommandStatus, Context, Event, LifecycleAction, LifecycleTransition, lifecycle_model,
};

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
        region: None,
        origin: None,
        destination: None,
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

/// The error of [`Launch`]'s tasks (they never fail).
#[derive(Debug, thiserror::Error)]
#[error("bench task failed")]
pub struct BenchError;

/// The original README's common launch configuration, extended to 13 transitions: what the
/// benchmarks and the AWS call count run.
#[derive(Default)]
pub struct Launch {
    dns_updates: u32,
}

#[lifecycle_model(
    states(
        FinishedCloudInit, JoinCluster, JoinedCluster, LabelingNode, NodeLabeled, UpdatingDns,
        DnsUpdated, RegisteringTargets, TargetsRegistered, WarmingUp, WarmedUp, Announcing,
        CompletingLifecycle, Ready, Failure, Failed,
    ),
    initial = FinishedCloudInit,
    terminal(Ready, Failed),
    failure = Failure,
    error = BenchError,
)]
impl Launch {
    #[transition(from = FinishedCloudInit, to = JoinCluster, on(launching))]
    async fn join_cluster(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = JoinCluster, to = JoinedCluster)]
    async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = JoinedCluster, to = LabelingNode, when(is_worker))]
    async fn label(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = JoinedCluster, to = NodeLabeled)]
    async fn skip_label(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = LabelingNode, to = NodeLabeled)]
    async fn labeled(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = NodeLabeled, to = UpdatingDns)]
    async fn update_dns(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        self.dns_updates += 1;
        Ok(())
    }
    #[transition(from = UpdatingDns, to = DnsUpdated)]
    async fn dns_updated(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = DnsUpdated, to = RegisteringTargets)]
    async fn register_targets(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = RegisteringTargets, to = TargetsRegistered)]
    async fn targets_registered(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = TargetsRegistered, to = WarmingUp)]
    async fn warm_up(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = WarmingUp, to = WarmedUp)]
    async fn warmed_up(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = WarmedUp, to = Announcing)]
    async fn announce(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = Announcing, to = CompletingLifecycle)]
    async fn complete_lifecycle(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = CompletingLifecycle, to = Ready)]
    async fn ready(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = Failure, to = Failed, ignore_errors)]
    async fn give_up(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }

    fn is_worker(&self, ctx: &Context<'_>) -> bool {
        ctx.record().item_type() == Some("worker")
    }
}

/// The README's Rust examples, compiled and run as doctests so they cannot go stale.
#[doc = include_str!("../../README.md")]
pub mod readme {}

pub mod original;

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
        use lifecycle_aws::core::{Event, MemoryEffects, MemoryStore, Record, dispatch};

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
                &MemoryEffects::new(),
            ))
            .unwrap();
            assert_eq!(report.end, BeaconState::On);
        }
    }
}
