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

/// The cluster model through the runtime: the in-memory table, SSM and Auto Scaling, and a
/// clock the test moves.
mod through_the_runtime {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime};

    use lifecycle_aws::runtime::{Clock, Runtime};
    use lifecycle_aws::store::{MemoryTable, NodeTable};
    use lifecycle_aws::testing::{
        MemoryAutoScaling, MemoryCommands, command_status_event, scheduled_event,
    };
    use lifecycle_core::{CommandStatus, LifecycleResult, LifecycleTransition, Record};
    use lifecycle_examples::cluster::{ClusterNode, MemoryDns};
    use lifecycle_tests::block_on;

    pub const I: &str = "i-0a1b2c3d4e5f60001";

    /// The lifecycle action token a lifecycle event carries.
    pub fn token_of(event: &serde_json::Value) -> String {
        event["detail"]["LifecycleActionToken"]
            .as_str()
            .expect("a lifecycle event carries its token")
            .to_owned()
    }

    /// The runtime's clock, moved by the test.
    pub struct Moved(Mutex<SystemTime>);

    impl Clock for Moved {
        fn now(&self) -> SystemTime {
            *self.0.lock().unwrap()
        }
    }

    pub struct Fleet {
        pub runtime: Runtime<ClusterNode, Box<dyn Fn() -> ClusterNode + Send + Sync>, MemoryTable>,
        pub aws: Arc<MemoryAutoScaling>,
        pub commands: Arc<MemoryCommands>,
        pub clock: Arc<Moved>,
        pub dns: MemoryDns,
    }

    impl Fleet {
        /// Worker `I`, registered by cloud-init, in group `workers`.
        pub fn new() -> Self {
            let aws = Arc::new(MemoryAutoScaling::new().with_group("workers"));
            let table = MemoryTable::new();
            table.records().insert(
                Record::new(I, "finished_cloud_init")
                    .with("ItemType", "worker")
                    .with("InstanceIp", "10.0.0.1"),
            );
            let commands = Arc::new(MemoryCommands::new());
            let dns = MemoryDns::default();
            let clock = Arc::new(Moved(Mutex::new(SystemTime::now())));
            let model_dns = dns.clone();
            let new_model: Box<dyn Fn() -> ClusterNode + Send + Sync> =
                Box::new(move || ClusterNode::new(model_dns.clone()));
            let runtime = Runtime::with_parts(table, commands.clone(), aws.clone(), new_model)
                .with_fleet(aws.clone())
                .with_groups(["workers"])
                .with_clock(clock.clone());
            Fleet {
                runtime,
                aws,
                commands,
                clock,
                dns,
            }
        }

        /// The clock's time, in epoch seconds.
        pub fn now(&self) -> u64 {
            let now = *self.clock.0.lock().unwrap();
            now.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        }

        pub fn deliver(&self, event: serde_json::Value) {
            block_on(self.runtime.handle_bytes(event.to_string().as_bytes())).unwrap();
        }

        pub fn sweep_after(&self, seconds: u64) {
            *self.clock.0.lock().unwrap() += Duration::from_secs(seconds);
            self.deliver(scheduled_event("lifecycle-sweep"));
        }

        pub fn record(&self) -> Record {
            self.runtime.store().records().get(I).unwrap()
        }

        /// SSM ends command `n` (in the order sent) with `status`, and says so.
        pub fn finish(&self, n: usize, status: &str) {
            let (id, request) = self.commands.sent().remove(n);
            let ended = match status {
                "Success" => CommandStatus::Success,
                _ => CommandStatus::Failed,
            };
            self.commands.finish(&id, ended);
            self.deliver(command_status_event(&id, I, &request.document_name, status));
        }

        pub fn documents(&self) -> Vec<String> {
            self.commands
                .sent()
                .into_iter()
                .map(|(_, r)| r.document_name)
                .collect()
        }

        pub fn completions(&self) -> Vec<(LifecycleTransition, LifecycleResult)> {
            self.aws
                .completions()
                .into_iter()
                .map(|c| (c.action.lifecycle_transition, c.result))
                .collect()
        }

        /// The record left in `state` by a lifecycle cut off there, its progress `progress`
        /// (`RESULT rest KEY EVENT-ID`).
        pub fn cut_off_at(&self, state: &str, progress: String) {
            self.runtime.store().records().update(I, |record| {
                record.state = state.to_owned();
                record
                    .attributes
                    .insert("LifecycleProgress".into(), progress.into());
            });
        }

        /// Launched, joined and labelled: in service.
        pub fn in_service(&self) {
            self.deliver(self.aws.launch(I, "workers"));
            self.finish(0, "Success");
            assert_eq!(self.record().state, "ready");
        }

        pub fn registered(&self, command_id: &str) -> bool {
            block_on(self.runtime.store().peek_command(command_id))
                .unwrap()
                .is_some()
        }
    }
}

use through_the_runtime::{Fleet, I};

/// The worker's label command, which nothing waits for, is still running when the launch is
/// over and the next sweep looks at it. The sweep neither keeps the finished launch alive nor
/// ends the command as an overdue wait (it would cancel it): it lets it run, and drops its
/// registration once SSM says it ended. Found by the cluster simulation (seed 31).
#[test]
fn the_sweep_lets_a_command_nothing_waits_for_run() {
    let fleet = Fleet::new();
    fleet.in_service();
    let (label, request) = fleet.commands.sent().remove(1);
    assert_eq!(request.document_name, "ClusterLabelNode");
    assert_eq!(fleet.aws.completions().len(), 1, "the launch is over");

    fleet.sweep_after(1);
    assert!(fleet.commands.cancelled().is_empty(), "the label runs on");
    assert!(fleet.aws.heartbeats().is_empty(), "no launch to keep alive");
    assert!(fleet.registered(&label), "kept until SSM says it ended");

    fleet
        .commands
        .finish(&label, lifecycle_core::CommandStatus::Success);
    fleet.sweep_after(300);
    assert!(!fleet.registered(&label));
    assert!(fleet.commands.cancelled().is_empty());
    assert_eq!(fleet.record().state, "ready");
}

/// A termination the sweep started (its event late) was cut off half way, out of DNS but not
/// yet leaving the cluster; then its event comes. It goes on with that lifecycle — the leave
/// is sent — rather than completing the action where the record stands. Found by the cluster
/// simulation (seed 2160).
#[test]
fn a_late_event_goes_on_with_the_sweeps_lifecycle_cut_off_half_way() {
    let fleet = Fleet::new();
    fleet.in_service();
    let late = fleet.aws.terminate(I);
    fleet.cut_off_at(
        "removed_from_dns",
        format!("CONTINUE rest {I}/terminate reconcile-terminate-{I}"),
    );

    fleet.deliver(late);
    assert_eq!(fleet.record().state, "leaving_cluster");
    assert_eq!(fleet.completions().len(), 1, "not completed yet");
    fleet.finish(2, "Success");
    assert_eq!(fleet.record().state, "terminated");
    assert_eq!(
        fleet.documents(),
        ["ClusterJoin", "ClusterLabelNode", "ClusterLeave"]
    );
    assert_eq!(
        fleet.completions(),
        [
            (LifecycleTransition::Launching, LifecycleResult::Continue),
            (LifecycleTransition::Terminating, LifecycleResult::Continue)
        ]
    );
}

/// A launch whose join failed was cut off in its failure handling (cleaned up, not yet
/// abandoned), and its result is not delivered again; the sweep finds Auto Scaling still
/// holding the launch. It goes on as that lifecycle, failure and all: ABANDON. (Started anew,
/// the failure path's last step would run as a success: CONTINUE.) Found by the cluster
/// simulation (seed 19).
#[test]
fn the_sweep_goes_on_with_a_launch_cut_off_in_its_failure_handling() {
    let fleet = Fleet::new();
    let launch = fleet.aws.launch(I, "workers");
    let token = through_the_runtime::token_of(&launch);
    fleet.cut_off_at(
        "cleaned_up",
        format!("ABANDON rest {token}/launch join-failed"),
    );

    fleet.sweep_after(300);
    assert_eq!(fleet.record().state, "abandoned");
    assert_eq!(
        fleet.completions(),
        [(LifecycleTransition::Launching, LifecycleResult::Abandon)]
    );
    // Completed by its token: the very action that failed.
    assert_eq!(
        fleet.aws.completions()[0]
            .action
            .lifecycle_action_token
            .as_deref(),
        Some(token.as_str())
    );
}

/// A launch parked for cloud-init; cloud-init finishes, and the table's stream record that
/// would resume the launch is never handled (its retries spent while another delivery held the
/// record's claim). The next sweep resumes it, rather than keeping it alive until its deadline
/// and ABANDONing a healthy node. Found by the cluster simulation (seed 12).
#[test]
fn the_sweep_resumes_a_parked_launch_whose_cloud_init_has_finished() {
    let fleet = Fleet::new();
    fleet
        .runtime
        .store()
        .records()
        .update(I, |record| record.state = "pending".into());
    fleet.deliver(fleet.aws.launch(I, "workers"));
    assert!(fleet.record().attributes.contains_key("PendingLifecycle"));
    assert!(fleet.documents().is_empty(), "parked");

    // Cloud-init writes the record's state; its stream record goes nowhere.
    fleet.runtime.store().records().update(I, |record| {
        record.state = "finished_cloud_init".into();
        record.version += 1;
    });
    fleet.sweep_after(300);
    assert_eq!(fleet.record().state, "joining_cluster");
    assert_eq!(fleet.documents(), ["ClusterJoin"]);
    fleet.finish(0, "Success");
    assert_eq!(fleet.record().state, "ready");
    assert_eq!(
        fleet.completions(),
        [(LifecycleTransition::Launching, LifecycleResult::Continue)]
    );
}

/// The termination's own delivery sent the leave and was cut off before writing the wait; a
/// Spot warning's delivery adopted the command and wrote it. Delivered again, the termination
/// finds its own lifecycle at rest but the record waiting: it waits behind the leave, not
/// completed beside it (the node would go before leaving the cluster). Found by the cluster
/// simulation (seed 40592).
#[test]
fn a_termination_whose_wait_another_event_wrote_waits_behind_it() {
    let mut h = Harness::new(&[("i-1", "worker", "leaving_cluster")]);
    h.store.update("i-1", |record| {
        record
            .attributes
            .insert("AwaitedCommand".into(), "c-leave".into());
        record.attributes.insert(
            "LifecycleProgress".into(),
            "CONTINUE rest token-i-1/terminate terminate-i-1".into(),
        );
    });
    let report = h.send(&terminating("i-1"));
    assert_eq!(report.stop, StopReason::Deferred);
    assert_eq!(
        report.lifecycle_result, None,
        "not completed beside the leave"
    );
    assert!(lifecycle_core::deferred_termination(&h.store.get("i-1").unwrap()).is_some());
}

/// A leave's result moved the record (`left_cluster`) and its delivery was cut off before the
/// next step; the sweep, finding the command ended, let its registration go. Delivered again,
/// the result is not "not ours": it moved the record before, and goes on from there. Found by
/// the cluster simulation (seed 40592).
#[test]
fn a_result_delivered_again_after_its_registration_went_goes_on() {
    let fleet = Fleet::new();
    fleet.in_service();
    let result =
        lifecycle_aws::testing::command_status_event("c-leave", I, "ClusterLeave", "Success");
    let id = result["id"].as_str().unwrap().to_owned();
    fleet.cut_off_at("left_cluster", format!("CONTINUE rest {I}/terminate {id}"));
    fleet.deliver(result.clone());
    assert_eq!(fleet.record().state, "terminated");
    // A result nothing moved is still nobody's.
    let stray =
        lifecycle_aws::testing::command_status_event("c-stray", I, "ClusterLeave", "Success");
    fleet.deliver(stray);
    assert_eq!(fleet.record().state, "terminated");
}

/// The termination's delivery took the node out of DNS and was cut off; a rebalance's delivery
/// went on from there and waits for the leave. The sweep finds Auto Scaling holding the
/// termination and its lifecycle at rest: not ended — the record waits. It notes the
/// termination behind the leave instead of completing it (the node would go before leaving
/// the cluster). Found by the cluster simulation (seed 48732).
#[test]
fn the_sweep_notes_a_termination_behind_a_wait_another_event_went_on_with() {
    let fleet = Fleet::new();
    fleet.in_service();
    let termination = fleet.aws.terminate(I);
    let token = termination["detail"]["LifecycleActionToken"]
        .as_str()
        .unwrap()
        .to_owned();
    fleet.cut_off_at(
        "leaving_cluster",
        format!("CONTINUE rest {token}/terminate terminate-{I}"),
    );
    fleet.runtime.store().records().update(I, |record| {
        record
            .attributes
            .insert("AwaitedCommand".into(), "c-leave".into());
    });

    fleet.sweep_after(300);
    assert_eq!(fleet.completions().len(), 1, "only the launch");
    assert!(fleet.aws.held_action(I).is_some());
    assert!(lifecycle_core::deferred_termination(&fleet.record()).is_some());
    assert_eq!(fleet.record().state, "leaving_cluster");
}

/// A store whose writes fail from the `n`-th on: a delivery cut off half way.
struct CutOff<'s> {
    inner: &'s MemoryStore,
    writes_left: std::sync::atomic::AtomicUsize,
}

#[derive(Debug, thiserror::Error)]
#[error("cut off")]
struct CutOffError;

impl lifecycle_core::Store for CutOff<'_> {
    type Error = CutOffError;

    async fn load(&self, ident: &str) -> Result<Option<Record>, CutOffError> {
        Ok(lifecycle_core::Store::load(self.inner, ident)
            .await
            .unwrap_or_else(|never| match never {}))
    }

    async fn compare_and_set(
        &self,
        change: lifecycle_core::StateChange<'_>,
    ) -> Result<lifecycle_core::CasOutcome, CutOffError> {
        use std::sync::atomic::Ordering;
        if self
            .writes_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_err()
        {
            return Err(CutOffError);
        }
        Ok(lifecycle_core::Store::compare_and_set(self.inner, change)
            .await
            .unwrap_or_else(|never| match never {}))
    }

    async fn update_attributes(
        &self,
        update: lifecycle_core::AttributeUpdate<'_>,
    ) -> Result<lifecycle_core::CasOutcome, CutOffError> {
        Ok(lifecycle_core::Store::update_attributes(self.inner, update)
            .await
            .unwrap_or_else(|never| match never {}))
    }
}

/// The leave command failed, and the delivery of its result was cut off after the transition
/// that handles the failure (`leave_failed`, `ignore_errors`): delivered again, the result goes
/// on from there to `terminated` — its failed status, handled already, does not send the
/// termination down the failure path to `abandoned`. So does the same result the sweep
/// recovers from SSM under an event of its own: the record's last step applied it. Found by
/// the cluster simulation (seed 439; seed 34330 without the action; seed 407 recovered).
#[test]
fn a_failed_leave_result_cut_off_after_its_handling_goes_on_when_delivered_again() {
    for recovered in [false, true] {
        let mut h = Harness::new(&[("i-1", "worker", "ready")]);
        h.send(&terminating("i-1"));
        let result = h.last_command_result(CommandStatus::Failed, LifecycleTransition::Terminating);
        let cut_off = CutOff {
            inner: &h.store,
            writes_left: std::sync::atomic::AtomicUsize::new(1),
        };
        let first = block_on(load_and_dispatch(
            &mut h.model,
            &cut_off,
            "i-1",
            &result,
            &h.effects,
        ));
        assert!(first.is_err(), "cut off after its first write");
        assert_eq!(h.state("i-1"), "left_cluster");

        // Delivered again without its action (its registration let go since, as the runtime
        // then sends it on), or recovered by the sweep under its own id: the same.
        let mut again = result.clone();
        again.lifecycle = None;
        if recovered {
            again.id = format!("recovered-{}", result.id);
        }
        let report = h.send(&again);
        assert_eq!(
            report.triggers().collect::<Vec<_>>(),
            ["deregister"],
            "recovered: {recovered}"
        );
        assert_eq!(report.end, S::Terminated);
    }
}

/// The join's result moved a worker's record to `labeled` (its last step, now), and its
/// delivery stalled before the next task, DNS not yet updated. A sweep within a lease of that
/// step leaves the record to that delivery, keeping the launch alive: going on, it would
/// publish the node, and the stalled delivery, coming back, could publish it again after the
/// node's termination took it out. Once the record has been still for a lease, the next sweep
/// goes on with it (the stalled delivery may no longer act by then). Found by the cluster
/// simulation (seed 50003).
#[test]
fn the_sweep_leaves_a_record_moved_within_a_lease_to_its_delivery() {
    let fleet = Fleet::new();
    let launch = fleet.aws.launch(I, "workers");
    let token = through_the_runtime::token_of(&launch);
    fleet.deliver(launch);
    let moved_at = fleet.now();
    fleet.cut_off_at(
        "labeled",
        format!("CONTINUE rest {token}/launch join-result"),
    );
    fleet.runtime.store().records().update(I, |record| {
        record.attributes.remove("AwaitedCommand");
        record.attributes.insert(
            "History".into(),
            format!("{moved_at} joined_cluster labeled label_worker join-result - -").into(),
        );
    });

    fleet.sweep_after(30);
    assert_eq!(fleet.record().state, "labeled", "left to its delivery");
    assert!(fleet.dns.addresses("worker.cluster.internal").is_empty());
    assert!(fleet.completions().is_empty());
    assert_eq!(fleet.aws.heartbeats().len(), 1, "kept alive");

    fleet.sweep_after(300);
    assert_eq!(fleet.record().state, "ready");
    assert_eq!(fleet.dns.addresses("worker.cluster.internal"), ["10.0.0.1"]);
    assert_eq!(
        fleet.completions(),
        [(LifecycleTransition::Launching, LifecycleResult::Continue)]
    );
}
