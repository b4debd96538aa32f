//! The original library's docker-swarm model (its test suite's `get_docker_transitions`), ported
//! with as few edits as the DSL needs, launched by the original's SNS-wrapped fixture event: the work of the original's
//! `test_docker_transitions_for_new_node`, which `tests/tests/original_docker_swarm.rs` checks
//! state by state and `benches/dispatch.rs` times.
//!
//! The edits, each because the original's configuration holds a trigger that can never fire
//! (which the compiler now rejects) — none changes what any event does:
//! - `register` from `new`: dropped. The original waits for cloud-init before it processes an
//!   event for a new node, so no event ever ran in `new`; here `New` is `before_initial`.
//! - `put_offline` from `pending`: dropped, for the same reason. From `initializing`,
//!   `labeled`, `online`, `complete` and `running`: dropped, since an earlier unguarded trigger
//!   (`put_online`, `complete_launch`, `finish`) always fires first there, in the original too.
//! - `initialize_cluster` had the same condition in `conditions` and `unless` (so it never
//!   fired): two guards here, `is_manager` and `cluster_initialized`, both true as the
//!   original's `true_condition` was.
//! - `abandoned` is put there by someone else (nothing in the model enters it): `external`.
//! - `gracefully_rebalancing`, where the failure path ends (its only trigger is internal), is
//!   `terminal`, as is `removed`.

use lifecycle_aws::decode::{Invocation, Notification, decode_event};
use lifecycle_core::{Context, Event, Record, lifecycle_model};

/// The error the original's `trigger_raise_error` raises.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error in trigger method")]
pub struct TriggerError;

/// The model of the original's `get_docker_transitions`.
#[derive(Default)]
pub struct DockerSwarm {
    /// Tasks that ran, in order (the original's `before`/`after` callbacks).
    pub calls: Vec<&'static str>,
}

#[lifecycle_model(
    states(
        New, FinishedCloudInit, Registered, Initializing, Labeled, Online, Complete, Running, Ready,
        Pending, Abandoned, Offline, RemovedFormCluster, TerminatingComplete, Rebalanced, Removed,
        Failure, ForcedOffline, GracefullyRemoveFromCluster, GracefullyCompleted,
        GracefullyRebalancing,
    ),
    before_initial(New, Pending),
    initial = FinishedCloudInit,
    external(Abandoned),
    terminal(Removed, GracefullyRebalancing),
    failure = Failure,
    error = TriggerError,
)]
impl DockerSwarm {
    #[transition(from = FinishedCloudInit, to = Registered, before(trigger_no_error))]
    async fn register(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(
        from = Registered,
        to = Initializing,
        when(is_manager),
        unless(cluster_initialized),
        before(trigger_no_error)
    )]
    async fn initialize_cluster(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(from = Registered, to = Initializing, when(true_condition), before(trigger_no_error))]
    async fn join_cluster(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(from = Initializing, to = Labeled, when(true_condition), before(trigger_no_error))]
    async fn add_labels(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(from(Initializing, Labeled), to = Online, before(trigger_no_error))]
    async fn put_online(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(from = Online, to = Complete, before(trigger_no_error))]
    async fn complete_launch(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(from = Complete, to = Running, when(true_condition), before(trigger_no_error))]
    #[transition(
        from = TerminatingComplete,
        to = Rebalanced,
        when(true_condition),
        before(trigger_no_error)
    )]
    async fn rebalance_services(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(from(Complete, Running), to = Ready, after(trigger_raise_error))]
    async fn finish(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(from(Abandoned, Ready), to = Offline, after(trigger_no_error))]
    async fn put_offline(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(from = Offline, to = RemovedFormCluster, before(trigger_no_error))]
    async fn remove_from_cluster(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(from = RemovedFormCluster, to = TerminatingComplete, after(trigger_no_error))]
    async fn complete_terminate(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(from(Rebalanced, TerminatingComplete), to = Removed, before(trigger_no_error))]
    async fn remove(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(from = Failure, to = ForcedOffline, after(trigger_no_error), ignore_errors)]
    async fn graceful_update_dns(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(
        from = ForcedOffline,
        to = GracefullyRemoveFromCluster,
        after(trigger_raise_error),
        ignore_errors
    )]
    async fn graceful_remove_from_cluster(
        &mut self,
        _ctx: &mut Context<'_>,
    ) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(
        from = GracefullyRemoveFromCluster,
        to = GracefullyCompleted,
        after(trigger_raise_error),
        ignore_errors
    )]
    async fn graceful_complete(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(
        from = GracefullyCompleted,
        to = GracefullyRebalancing,
        when(true_condition),
        after(trigger_raise_error),
        ignore_errors
    )]
    async fn graceful_rebalance(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    #[transition(
        from(GracefullyCompleted, GracefullyRebalancing),
        before(trigger_raise_error),
        ignore_errors
    )]
    async fn graceful_remove(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        Ok(())
    }

    async fn trigger_no_error(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        self.calls.push("no_error");
        Ok(())
    }

    async fn trigger_raise_error(&mut self, _ctx: &mut Context<'_>) -> Result<(), TriggerError> {
        self.calls.push("raise_error");
        Err(TriggerError)
    }

    fn true_condition(&self) -> bool {
        true
    }

    fn is_manager(&self) -> bool {
        true
    }

    fn cluster_initialized(&self) -> bool {
        true
    }
}

/// The instance of the original's `autoscaling_event.json`.
pub const FIXTURE_INSTANCE: &str = "i-007de616626a94600";

/// A file of the original's test fixtures (`lifecycle-aws/tests/fixtures/seed`).
pub fn seed_fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../lifecycle-aws/tests/fixtures/seed/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The original's `autoscaling_event.json` (SNS-wrapped), decoded as the Lambda decodes it.
pub fn fixture_launch() -> Event {
    let Invocation::Events(mut events) =
        decode_event(&seed_fixture("autoscaling_event.json")).expect("the seed event decodes")
    else {
        panic!("an SNS-wrapped event is a list of events")
    };
    match events.remove(0) {
        Notification::LifecycleAction { id, action, .. } => Event::lifecycle(id, action),
        other => panic!("expected a lifecycle action, got {other:?}"),
    }
}

/// The original's node fixture (`i-007de616626a946ce.json`), under the event's instance id.
pub fn fixture_node(ident: &str) -> Record {
    let node: serde_json::Value =
        serde_json::from_slice(&seed_fixture("i-007de616626a946ce.json")).unwrap();
    let data = node["data"].as_object().unwrap();
    let mut record = Record::new(ident, data["ItemStatus"].as_str().unwrap());
    for key in ["InstanceIp", "ItemType"] {
        record = record.with(key, data[key].clone());
    }
    record
}
