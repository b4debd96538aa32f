//! The original library's docker-swarm model (its test suite's `get_docker_transitions`), ported
//! with as few edits as the DSL needs, launched by the original's SNS-wrapped fixture event: it
//! must pass the same 13 states as the original's `test_docker_transitions_for_new_node`.
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
use lifecycle_core::{
    Context, Event, LifecycleResult, LocalEffects, MemoryStore, Record, StopReason, dispatch,
    lifecycle_model,
};
use lifecycle_tests::block_on;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error in trigger method")]
pub struct TriggerError;

#[derive(Default)]
pub struct DockerSwarm {
    /// Tasks that ran, in order (the original's `before`/`after` callbacks).
    calls: Vec<&'static str>,
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

fn seed_fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../lifecycle-aws/tests/fixtures/seed/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The original's `autoscaling_event.json` (SNS-wrapped), decoded as the Lambda decodes it.
fn fixture_launch() -> Event {
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
fn fixture_node(ident: &str) -> Record {
    let node: serde_json::Value =
        serde_json::from_slice(&seed_fixture("i-007de616626a946ce.json")).unwrap();
    let data = node["data"].as_object().unwrap();
    let mut record = Record::new(ident, data["ItemStatus"].as_str().unwrap());
    for key in ["InstanceIp", "ItemType"] {
        record = record.with(key, data[key].clone());
    }
    record
}

#[test]
fn the_original_launch_passes_its_thirteen_states() {
    let event = fixture_launch();
    let ident = event.instance_id.clone().unwrap();
    let store = MemoryStore::new();
    store.insert(fixture_node(&ident));
    let mut record = store.get(&ident).unwrap();
    let mut model = DockerSwarm::default();
    let report = block_on(dispatch(
        &mut model,
        &store,
        &mut record,
        &event,
        &LocalEffects::new(),
    ))
    .unwrap();

    // The original's `passed_states`, as `test_docker_transitions_for_new_node` records them
    // (Python 3.11, transitions 0.9.3).
    let original = [
        "finished_cloud_init",
        "registered",
        "initializing",
        "labeled",
        "online",
        "complete",
        "running",
        "ready",
        "failure",
        "forced_offline",
        "gracefully_remove_from_cluster",
        "gracefully_completed",
        "gracefully_rebalancing",
    ];
    let passed: Vec<String> = report.states.iter().map(ToString::to_string).collect();
    assert_eq!(passed, original);
    assert_eq!(report.end, DockerSwarmState::GracefullyRebalancing);
    assert_eq!(store.get(&ident).unwrap().state, "gracefully_rebalancing");
    // Five task errors, as in the original: `finish`'s after task fails the launch; the four of
    // the failure path are ignored.
    let failure = report.failure.as_ref().unwrap();
    assert_eq!(failure.trigger, Some("finish"));
    assert_eq!(report.ignored.len(), 4);
    assert_eq!(
        model.calls.iter().filter(|c| **c == "raise_error").count(),
        5
    );
    assert!(report.event_failed);
    assert_eq!(report.stop, StopReason::Settled);
    assert_eq!(report.lifecycle_result, Some(LifecycleResult::Abandon));
}

#[test]
fn the_ported_model_keeps_the_original_terminating_path() {
    // A healthy node (`ready`) terminated: offline, out of the cluster, rebalanced, removed.
    let store = MemoryStore::new();
    store.insert(Record::new("i-1", "ready").with("ItemType", "worker"));
    let mut record = store.get("i-1").unwrap();
    let report = block_on(dispatch(
        &mut DockerSwarm::default(),
        &store,
        &mut record,
        &lifecycle_tests::terminating("i-1"),
        &LocalEffects::new(),
    ))
    .unwrap();
    let names: Vec<String> = report.states.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        names,
        [
            "ready",
            "offline",
            "removed_form_cluster",
            "terminating_complete",
            "rebalanced",
            "removed"
        ]
    );
    assert_eq!(report.stop, StopReason::Finished);
    assert_eq!(report.lifecycle_result, Some(LifecycleResult::Continue));
}
