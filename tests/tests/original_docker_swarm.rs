//! The original library's docker-swarm model (`lifecycle_tests::original`), launched by the
//! original's SNS-wrapped fixture event, must pass the same 13 states as the original's
//! `test_docker_transitions_for_new_node`; its terminating path is the original's too.

use lifecycle_core::{LifecycleResult, MemoryEffects, MemoryStore, Record, StopReason, dispatch};
use lifecycle_tests::block_on;
use lifecycle_tests::original::{
    DockerSwarm, DockerSwarmState, FIXTURE_INSTANCE, fixture_launch, fixture_node,
};

#[test]
fn the_original_launch_passes_its_thirteen_states() {
    let event = fixture_launch();
    let ident = event.instance_id.clone().unwrap();
    assert_eq!(ident, FIXTURE_INSTANCE);
    let store = MemoryStore::new();
    store.insert(fixture_node(&ident));
    let mut record = store.get(&ident).unwrap();
    let mut model = DockerSwarm::default();
    let report = block_on(dispatch(
        &mut model,
        &store,
        &mut record,
        &event,
        &MemoryEffects::new(),
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
        &MemoryEffects::new(),
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
