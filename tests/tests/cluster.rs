//! The realistic cluster model (examples/src/cluster.rs, 14 transitions): launch and terminate
//! paths for managers and workers, and the graceful failure path.

use lifecycle_core::{
    CommandStatus, Event, LifecycleModel, LifecycleResult, LifecycleTransition, MemoryEffects,
    MemoryStore, ModelReport, Record, StopReason, load_and_dispatch,
};
use lifecycle_examples::cluster::{ClusterGroups, ClusterNode, ClusterNodeState as S, MemoryDns};
use lifecycle_tests::{block_on, command_result, launching, terminating};

struct Harness {
    store: MemoryStore,
    effects: MemoryEffects,
    model: ClusterNode,
    dns: MemoryDns,
}

impl Harness {
    fn new(nodes: &[(&str, &str, &str)]) -> Self {
        let store = MemoryStore::new();
        for (id, kind, state) in nodes {
            store.insert(
                Record::new(*id, *state)
                    .with("ItemType", *kind)
                    .with("InstanceIp", format!("10.0.0.{}", id.len())),
            );
        }
        let dns = MemoryDns::default();
        Harness {
            store,
            effects: MemoryEffects::new(),
            model: ClusterNode::new(dns.clone()),
            dns,
        }
    }

    fn send(&mut self, event: &Event) -> ModelReport<ClusterNode> {
        let ident = event.instance_id.clone().unwrap();
        let (_, report) = block_on(load_and_dispatch(
            &mut self.model,
            &self.store,
            &ident,
            event,
            &self.effects,
        ))
        .unwrap();
        report
    }

    /// The result event of the last command sent.
    fn last_command_result(&self, status: CommandStatus, transition: LifecycleTransition) -> Event {
        let sent = self.effects.commands().pop().expect("a command was sent");
        let instance = &sent.request.instance_ids[0];
        assert_eq!(sent.lifecycle.as_ref().unwrap().ec2_instance_id, *instance);
        command_result(instance, &sent.command_id, status, transition)
    }

    fn state(&self, id: &str) -> String {
        self.store.get(id).unwrap().state
    }
}

#[test]
fn the_model_has_at_least_13_transitions() {
    assert!(ClusterNode::DEFINITION.transitions.len() >= 13);
}

#[test]
fn a_worker_joins_waits_for_its_command_is_labeled_and_published() {
    let mut h = Harness::new(&[("i-1", "worker", "finished_cloud_init")]);
    let report = h.send(&launching("i-1"));
    assert_eq!(report.stop, StopReason::Waiting);
    assert_eq!(h.state("i-1"), "joining_cluster");
    let join = &h.effects.commands()[0];
    assert_eq!(join.request.document_name, "ClusterJoin");
    assert_eq!(join.request.parameters["Role"], ["worker"]);
    assert_eq!(
        h.store.get("i-1").unwrap().attributes["JoinCommandId"],
        join.command_id.as_str()
    );

    let result = h.last_command_result(CommandStatus::Success, LifecycleTransition::Launching);
    let report = h.send(&result);
    assert_eq!(
        report.triggers().collect::<Vec<_>>(),
        ["cluster_joined", "label_worker", "update_dns", "mark_ready"]
    );
    assert_eq!(report.end, S::Ready);
    assert_eq!(report.lifecycle_result, Some(LifecycleResult::Continue));
    assert_eq!(
        h.effects.commands()[1].request.document_name,
        "ClusterLabelNode"
    );
    assert_eq!(h.dns.addresses("worker.cluster.internal"), ["10.0.0.3"]);
    // One read per event, one write per state change.
    assert_eq!(h.store.reads(), 2);
    assert_eq!(h.store.writes(), 5);
}

#[test]
fn a_manager_skips_labels() {
    let mut h = Harness::new(&[("i-22", "manager", "finished_cloud_init")]);
    h.send(&launching("i-22"));
    let result = h.last_command_result(CommandStatus::Success, LifecycleTransition::Launching);
    let report = h.send(&result);
    assert_eq!(
        report.triggers().collect::<Vec<_>>(),
        ["cluster_joined", "skip_labels", "update_dns", "mark_ready"]
    );
    assert_eq!(h.effects.commands().len(), 1, "no label command");
    assert_eq!(h.dns.addresses("manager.cluster.internal"), ["10.0.0.4"]);
}

#[test]
fn a_terminating_node_leaves_dns_and_the_cluster() {
    let mut h = Harness::new(&[("i-1", "worker", "ready")]);
    let report = h.send(&terminating("i-1"));
    assert_eq!(report.stop, StopReason::Waiting);
    assert_eq!(h.state("i-1"), "leaving_cluster");
    let result = h.last_command_result(CommandStatus::Success, LifecycleTransition::Terminating);
    let report = h.send(&result);
    assert_eq!(report.end, S::Terminated);
    assert_eq!(report.stop, StopReason::Finished);
    assert_eq!(report.lifecycle_result, Some(LifecycleResult::Continue));
}

#[test]
fn a_failed_leave_command_still_terminates_with_continue() {
    let mut h = Harness::new(&[("i-1", "worker", "ready")]);
    h.send(&terminating("i-1"));
    let result = h.last_command_result(CommandStatus::Failed, LifecycleTransition::Terminating);
    let report = h.send(&result);
    assert_eq!(
        report.triggers().collect::<Vec<_>>(),
        ["leave_failed", "deregister"]
    );
    assert_eq!(report.lifecycle_result, Some(LifecycleResult::Continue));
}

#[test]
fn a_failed_join_goes_through_the_graceful_failure_path_and_abandons() {
    let mut h = Harness::new(&[("i-1", "worker", "finished_cloud_init")]);
    h.send(&launching("i-1"));
    let result = h.last_command_result(CommandStatus::Failed, LifecycleTransition::Launching);
    let report = h.send(&result);
    assert_eq!(
        report.states,
        [S::JoiningCluster, S::Failure, S::CleanedUp, S::Abandoned]
    );
    assert!(report.event_failed);
    assert_eq!(report.lifecycle_result, Some(LifecycleResult::Abandon));
    assert_eq!(h.state("i-1"), "abandoned");
}

#[test]
fn a_failing_task_is_cleaned_up_even_when_clean_up_fails_too() {
    let mut h = Harness::new(&[("i-1", "worker", "finished_cloud_init")]);
    h.send(&launching("i-1"));
    h.dns.fail_updates(true);
    let result = h.last_command_result(CommandStatus::Success, LifecycleTransition::Launching);
    let report = h.send(&result);
    let failure = report.failure.as_ref().unwrap();
    assert_eq!(failure.trigger, Some("update_dns"));
    assert_eq!(report.ignored.len(), 1, "clean_up's DNS error is ignored");
    assert_eq!(report.end, S::Abandoned);
    assert_eq!(report.lifecycle_result, Some(LifecycleResult::Abandon));
}

#[test]
fn a_launch_before_cloud_init_finished_waits_and_a_duplicate_launch_is_refused() {
    let mut h = Harness::new(&[("i-1", "worker", "pending"), ("i-2", "worker", "ready")]);
    let report = h.send(&launching("i-1"));
    assert_eq!(report.stop, StopReason::NotReady);
    let report = h.send(&launching("i-2"));
    assert_eq!(report.stop, StopReason::Refused);
    assert_eq!(report.lifecycle_result, None);
    assert_eq!(h.store.writes(), 0);
    assert!(h.effects.commands().is_empty());
}

#[test]
fn a_terminating_event_for_a_node_that_never_joined_is_refused_with_continue() {
    let mut h = Harness::new(&[("i-1", "worker", "finished_cloud_init")]);
    let report = h.send(&terminating("i-1"));
    assert_eq!(report.stop, StopReason::Refused);
    assert_eq!(report.lifecycle_result, Some(LifecycleResult::Continue));
    // Noted (one write), so that a launching event coming late is refused too: the node never
    // joins a cluster after it was let go.
    assert_eq!(h.store.writes(), 1);
    let report = h.send(&launching("i-1"));
    assert_eq!(report.stop, StopReason::Refused);
    assert_eq!(report.lifecycle_result, Some(LifecycleResult::Abandon));
    assert!(h.effects.commands().is_empty());
    assert_eq!(h.store.writes(), 1);
}

#[test]
fn terminating_an_abandoned_node_lets_it_go() {
    let mut h = Harness::new(&[
        ("i-1", "worker", "abandoned"),
        ("i-2", "worker", "joining_cluster"),
    ]);
    for id in ["i-1", "i-2"] {
        let report = h.send(&terminating(id));
        assert!(report.fired.is_empty());
        assert_eq!(
            report.lifecycle_result,
            Some(LifecycleResult::Continue),
            "{id}"
        );
    }
    assert_eq!(h.store.writes(), 0);
}

/// With the groups configured (as the Lambda configures them), a node's role is its Auto
/// Scaling group's: an `ItemType` on the record (which the original library's instances wrote)
/// does not make a worker a manager.
#[test]
fn the_role_is_the_groups_not_the_records() {
    let mut h = Harness::new(&[("i-1", "manager", "finished_cloud_init")]);
    h.model.groups = Some(ClusterGroups {
        managers: "managers".into(),
        workers: "workers".into(),
    });
    // `launching` comes from the group `workers`.
    let report = h.send(&launching("i-1"));
    assert_eq!(report.stop, StopReason::Waiting);
    let join = &h.effects.commands()[0];
    assert_eq!(join.request.parameters["Role"], ["worker"]);
    let result = h.last_command_result(CommandStatus::Success, LifecycleTransition::Launching);
    h.send(&result);
    assert_eq!(h.dns.addresses("worker.cluster.internal"), ["10.0.0.3"]);
    assert!(h.dns.addresses("manager.cluster.internal").is_empty());
}

#[test]
fn a_node_of_another_group_is_not_joined() {
    let mut h = Harness::new(&[("i-1", "worker", "finished_cloud_init")]);
    h.model.groups = Some(ClusterGroups {
        managers: "cluster-managers".into(),
        workers: "cluster-workers".into(),
    });
    let report = h.send(&launching("i-1"));
    let failure = report.failure.expect("the join failed");
    assert!(
        failure
            .cause
            .to_string()
            .contains("neither the managers' nor the workers'"),
        "{}",
        failure.cause
    );
    assert!(h.effects.commands().is_empty());
    assert_eq!(report.lifecycle_result, Some(LifecycleResult::Abandon));
}
