//! The local simulation (the README's main job) ends where the scenario says.

use lifecycle_core::{LifecycleResult, LifecycleTransition};
use lifecycle_examples::cluster::ClusterNodeState as S;
use lifecycle_examples::local::{Completion, Scenario, SimulationError, simulate};
use lifecycle_tests::block_on;

const LAUNCH_CONTINUE: Completion = Completion {
    transition: LifecycleTransition::Launching,
    result: LifecycleResult::Continue,
};

#[test]
fn the_default_scenario_launches_three_abandons_one_and_terminates_one() {
    let outcome = block_on(simulate(&Scenario::default())).unwrap();
    let states: Vec<_> = outcome
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), n.state))
        .collect();
    assert_eq!(
        states,
        [
            ("i-0a1", S::Ready),
            ("i-0b2", S::Terminated),
            ("i-0c3", S::Abandoned)
        ]
    );
    assert_eq!(outcome.nodes[0].completions, [LAUNCH_CONTINUE]);
    assert_eq!(
        outcome.nodes[1].completions,
        [
            LAUNCH_CONTINUE,
            Completion {
                transition: LifecycleTransition::Terminating,
                result: LifecycleResult::Continue,
            }
        ]
    );
    assert_eq!(
        outcome.nodes[2].completions,
        [Completion {
            transition: LifecycleTransition::Launching,
            result: LifecycleResult::Abandon,
        }]
    );
    // Only the manager is still published.
    assert_eq!(outcome.dns[0].1, ["10.0.1.10"]);
    assert!(outcome.dns[1].1.is_empty());
    // The failure shows where it happened, before the failure path's triggers.
    let c3: Vec<_> = outcome
        .timeline
        .iter()
        .filter(|s| s.instance == "i-0c3")
        .map(|s| (s.from, s.to))
        .collect();
    assert_eq!(
        c3,
        [
            (S::FinishedCloudInit, S::JoiningCluster),
            (S::JoiningCluster, S::Failure),
            (S::Failure, S::CleanedUp),
            (S::CleanedUp, S::Abandoned),
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
    let outcome = block_on(simulate(&scenario)).unwrap();
    for node in &outcome.nodes {
        assert_eq!(node.state, S::Ready, "{}", node.id);
        assert_eq!(node.completions, [LAUNCH_CONTINUE]);
    }
}

#[test]
fn a_scenario_naming_an_unknown_instance_is_rejected() {
    let scenario = Scenario {
        terminate: vec!["i-nope".into()],
        ..Scenario::default()
    };
    let err = block_on(simulate(&scenario)).unwrap_err();
    assert!(matches!(err, SimulationError::UnknownInstance(ref id, _) if id == "i-nope"));
    assert!(err.to_string().contains("i-0a1, i-0b2, i-0c3"));
}
