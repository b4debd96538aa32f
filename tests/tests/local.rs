//! The local simulation (the README's main job): the Lambda's code path on an in-memory node
//! table ends where the scenario says.

use lifecycle_aws::local::MemoryTable;
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
            ("i-0a1", "ready"),
            ("i-0b2", "terminated"),
            ("i-0c3", "abandoned")
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
        .filter(|s| s.instance == "i-0a1")
        .map(|s| (s.event.as_str(), s.what.as_str()))
        .collect();
    assert_eq!(a1[0], ("launching", "parked until cloud-init finishes"));
    assert_eq!(a1[1], ("stream", "join_cluster"));
    // The failure shows where it happened, before the failure path's triggers.
    let c3: Vec<_> = report
        .timeline
        .iter()
        .filter(|s| s.instance == "i-0c3")
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
    assert!(err.to_string().contains("i-0a1, i-0b2, i-0c3"));

    let bad_kind = Scenario {
        nodes: vec![NodeSpec {
            id: "i-1".into(),
            kind: "gpu".into(),
            slow_cloud_init: false,
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
