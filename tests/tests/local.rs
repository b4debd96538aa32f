//! The local simulation (the README's main job): the Lambda's code path on an in-memory node
//! table ends where the scenario says.

use lifecycle_aws::store::MemoryTable;
use lifecycle_core::{LifecycleResult, LifecycleTransition};
use lifecycle_examples::local::{Completion, NodeSpec, Scenario, SimulationError, simulate};
use lifecycle_tests::block_on;

const LAUNCH_CONTINUE: Completion = Completion {
    transition: LifecycleTransition::Launching,
    result: LifecycleResult::Continue,
};

#[test]
fn the_default_scenario_launches_three_abandons_one_and_terminates_one() {
    let report = block_on(simulate(&Scenario::default(), MemoryTable::new())).unwrap();
    let states: Vec<_> = report
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), n.state.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            ("i-0a1b2c3d4e5f60001", "ready"),
            ("i-0a1b2c3d4e5f60002", "terminated"),
            ("i-0a1b2c3d4e5f60003", "abandoned")
        ]
    );
    assert_eq!(report.nodes[0].completions, [LAUNCH_CONTINUE]);
    assert_eq!(
        report.nodes[1].completions,
        [
            LAUNCH_CONTINUE,
            Completion {
                transition: LifecycleTransition::Terminating,
                result: LifecycleResult::Continue,
            }
        ]
    );
    assert_eq!(
        report.nodes[2].completions,
        [Completion {
            transition: LifecycleTransition::Launching,
            result: LifecycleResult::Abandon,
        }]
    );
    // Only the manager is still published.
    assert_eq!(report.dns[0].1, ["10.0.1.10"]);
    assert!(report.dns[1].1.is_empty());

    // The manager's launch waited for cloud-init and was resumed by the stream record.
    let a1: Vec<_> = report
        .timeline
        .iter()
        .filter(|s| s.instance == "i-0a1b2c3d4e5f60001" && s.event != "CompleteLifecycleAction")
        .map(|s| (s.event.as_str(), s.what.as_str()))
        .collect();
    assert_eq!(a1[0], ("launching", "parked until cloud-init finishes"));
    assert_eq!(a1[1], ("stream", "join_cluster"));
    // The failure shows where it happened, before the failure path's triggers.
    let c3: Vec<_> = report
        .timeline
        .iter()
        .filter(|s| s.instance == "i-0a1b2c3d4e5f60003" && s.from != s.to && !s.to.is_empty())
        .map(|s| (s.from.as_str(), s.to.as_str()))
        .collect();
    assert_eq!(
        c3,
        [
            ("finished_cloud_init", "joining_cluster"),
            ("joining_cluster", "failure"),
            ("failure", "cleaned_up"),
            ("cleaned_up", "abandoned"),
        ]
    );
}

/// The timeline says what an operator asks: which command a result is of, why a trigger fired
/// (its guards' answers) and which one its guards turned down, when the lifecycle action was
/// completed, what a result nobody waits for means, in simulated seconds.
#[test]
fn the_timeline_explains_itself() {
    let report = block_on(simulate(&Scenario::default(), MemoryTable::new())).unwrap();
    let row = |instance: &str, event: &str, what: &str| {
        report
            .timeline
            .iter()
            .find(|s| s.instance == instance && s.event == event && s.what.starts_with(what))
            .unwrap_or_else(|| panic!("no row {instance} {event} {what}: {:#?}", report.timeline))
    };
    let manager = "i-0a1b2c3d4e5f60001";
    let worker = "i-0a1b2c3d4e5f60002";
    row(worker, "ClusterJoin Success", "cluster_joined");
    assert_eq!(
        row(worker, "ClusterJoin Success", "label_worker").what,
        "label_worker (is_worker: yes)"
    );
    assert_eq!(
        row(manager, "ClusterJoin Success", "skip_labels").what,
        "skip_labels (is_worker: no; not label_worker, whose guards said no)"
    );
    let label_result = row(worker, "ClusterLabelNode Success", "nothing to do");
    assert!(label_result.what.contains("fire and forget"));
    let completed = row(
        manager,
        "CompleteLifecycleAction",
        "EC2_INSTANCE_LAUNCHING CONTINUE",
    );
    // The manager's slow cloud-init (45 s) and its join (12 s) in simulated time.
    assert_eq!(completed.at.as_secs(), 57);
    let terminated = row(
        worker,
        "CompleteLifecycleAction",
        "EC2_INSTANCE_TERMINATING",
    );
    assert!(terminated.at.as_secs() >= 600);
    let times: Vec<u64> = report.timeline.iter().map(|s| s.at.as_secs()).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "in time order: {times:?}"
    );
}

#[test]
fn the_backup_simulation_runs_two_nights() {
    let report = block_on(lifecycle_examples::local::simulate_backup(
        MemoryTable::new(),
    ))
    .unwrap();
    assert_eq!(report.model, "NightlyBackup");
    assert_eq!(report.nodes[0].state, "done");
    let started: Vec<_> = report
        .timeline
        .iter()
        .filter(|s| s.what.starts_with("start_backup"))
        .map(|s| s.at.as_secs())
        .collect();
    assert_eq!(started, [0, 24 * 3600]);
    assert!(
        report
            .timeline
            .iter()
            .any(|s| s.event == "LifecycleBackup Success" && s.to == "done")
    );
}

#[test]
fn without_failures_every_launch_continues() {
    let scenario = Scenario {
        failing_joins: Default::default(),
        terminate: vec![],
        ..Scenario::default()
    };
    let report = block_on(simulate(&scenario, MemoryTable::new())).unwrap();
    for node in &report.nodes {
        assert_eq!(node.state, "ready", "{}", node.id);
        assert_eq!(node.completions, [LAUNCH_CONTINUE]);
    }
}

#[test]
fn bad_scenarios_are_rejected_before_anything_runs() {
    let unknown = Scenario {
        terminate: vec!["i-nope".into()],
        ..Scenario::default()
    };
    let err = block_on(simulate(&unknown, MemoryTable::new())).unwrap_err();
    assert!(matches!(err, SimulationError::UnknownInstance(ref id, _) if id == "i-nope"));
    assert!(
        err.to_string()
            .contains("i-0a1b2c3d4e5f60001, i-0a1b2c3d4e5f60002, i-0a1b2c3d4e5f60003")
    );

    let bad_kind = Scenario {
        nodes: vec![NodeSpec {
            id: "i-1".into(),
            kind: "gpu".into(),
            slow_cloud_init: false,
            warm_pool: false,
        }],
        ..Scenario::default()
    };
    let table = MemoryTable::new();
    let err = block_on(simulate(&bad_kind, &table)).unwrap_err();
    assert!(
        err.to_string()
            .contains("kind `gpu` is neither manager nor worker"),
        "{err}"
    );
    assert!(table.records().get("i-1").is_none(), "nothing was written");

    for (json, message) in [
        ("{\"nodes\": [}", "scenario:"),
        (
            "{\"nodes\": [{\"id\": \"i-1\", \"kind\": \"worker\", \"speed\": 3}]}",
            "unknown field `speed`",
        ),
        ("{\"nodes\": []}", "no nodes"),
        (
            "{\"nodes\": [{\"id\": \"i-1\", \"kind\": \"worker\"}, {\"id\": \"i-1\", \"kind\": \"worker\"}]}",
            "listed twice",
        ),
    ] {
        let err = Scenario::from_json(json).unwrap_err();
        assert!(err.to_string().contains(message), "{json}: {err}");
    }
}
