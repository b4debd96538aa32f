//! Warm pools, Spot interruptions, rebalance recommendations, state changes and scheduled
//! maintenance through the Lambda's code path (`Runtime::handle_bytes`, the in-memory node
//! table, recording SSM and Auto Scaling): each command sent once, each lifecycle action
//! completed once.

mod common;

use std::sync::Arc;

use lifecycle_aws::runtime::{Outcome, Runtime};
use lifecycle_aws::store::MemoryTable;
use lifecycle_aws::testing::{
    MemoryActions, MemoryCommands, command_status_event, instance_state_event,
    lifecycle_action_event, maintenance_event, rebalance_event, routed_lifecycle_action_event,
    spot_interruption_event,
};
use lifecycle_core::{LifecycleResult, LifecycleTransition, Location, Record};
use serde_json::Value;

use common::worker::Worker;

struct Lambda {
    runtime: Runtime<Worker, fn() -> Worker, MemoryTable>,
    commands: Arc<MemoryCommands>,
    actions: Arc<MemoryActions>,
}

impl Lambda {
    fn new(instances: &[&str]) -> Self {
        let table = MemoryTable::new();
        for instance in instances {
            table
                .records()
                .insert(Record::new(*instance, "finished_cloud_init"));
        }
        let commands = Arc::new(MemoryCommands::new());
        let actions = Arc::new(MemoryActions::new());
        let runtime = Runtime::with_parts(
            table,
            commands.clone(),
            actions.clone(),
            (|| Worker) as fn() -> Worker,
        );
        Lambda {
            runtime,
            commands,
            actions,
        }
    }

    async fn deliver(&self, event: &Value) -> Vec<Outcome> {
        self.runtime
            .handle_bytes(event.to_string().as_bytes())
            .await
            .unwrap()
            .outcomes
    }

    fn state(&self, instance: &str) -> String {
        self.runtime.store().records().get(instance).unwrap().state
    }

    /// The documents sent so far, in order.
    fn documents(&self) -> Vec<String> {
        self.commands
            .sent()
            .into_iter()
            .map(|(_, r)| r.document_name)
            .collect()
    }

    /// `instance` launches into the group and joins: `ready`, its launch completed.
    async fn launched(&self, instance: &str) {
        self.deliver(&lifecycle_action_event(
            instance,
            "workers",
            LifecycleTransition::Launching,
        ))
        .await;
        self.finish_last(instance, "Success").await;
        assert_eq!(self.state(instance), "ready");
    }

    /// Finishes the last command sent with `status`.
    async fn finish_last(&self, instance: &str, status: &str) -> Vec<Outcome> {
        let (id, request) = self.commands.sent().pop().unwrap();
        self.deliver(&command_status_event(
            &id,
            instance,
            &request.document_name,
            status,
        ))
        .await
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn stop(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Dispatched { stop, .. } => stop,
        other => panic!("not dispatched: {other:?}"),
    }
}

const I: &str = "i-0a1b2c3d4e5f60001";

#[test]
fn a_spot_interruption_drains_once_and_the_termination_after_it_finds_the_drain() {
    rt().block_on(async {
        let lambda = Lambda::new(&[I]);
        lambda.launched(I).await;
        assert_eq!(lambda.state(I), "ready");
        assert_eq!(lambda.actions.completions().len(), 1, "the launch");

        // Two minutes' notice: the drain starts.
        let warning = spot_interruption_event(I);
        lambda.deliver(&warning).await;
        assert_eq!(lambda.state(I), "draining");
        // The warning again (EventBridge delivers at least once): nothing new.
        lambda.deliver(&warning).await;
        // The termination comes while the drain runs: it waits for it, not completed yet.
        let terminate = lifecycle_action_event(I, "workers", LifecycleTransition::Terminating);
        let outcomes = lambda.deliver(&terminate).await;
        assert_eq!(stop(&outcomes[0]), "deferred");
        assert_eq!(lambda.actions.completions().len(), 1);
        // The drain finishes: drained, and the termination that waited runs, from there. The
        // drain sees the status SSM reported (Success), not a failure: only a launch is cut
        // short by a termination.
        let outcomes = lambda.finish_last(I, "Success").await;
        assert_eq!(lambda.state(I), "gone");
        let Outcome::Dispatched {
            triggers,
            failure,
            deferred,
            ..
        } = &outcomes[0]
        else {
            panic!("dispatched: {outcomes:?}")
        };
        assert_eq!(
            (triggers.as_slice(), failure),
            (&["drained".to_owned()][..], &None)
        );
        let Some(Outcome::Dispatched { triggers, .. }) = deferred.as_deref() else {
            panic!("the termination ran after the drain: {outcomes:?}")
        };
        assert_eq!(triggers, &["leave"]);
        let record = lambda.runtime.store().records().get(I).unwrap();
        assert!(
            record.attributes.get("DrainFailed").is_none(),
            "not the failed-drain path"
        );
        // The termination delivered once more: nothing runs again.
        lambda.deliver(&terminate).await;

        assert_eq!(
            lambda.documents(),
            ["ClusterJoin", "ClusterLeave"],
            "one drain"
        );
        let completions = lambda.actions.completions();
        assert_eq!(
            completions.len(),
            2,
            "the launch and the termination, once each"
        );
        assert_eq!(
            completions[1].action.lifecycle_transition,
            LifecycleTransition::Terminating
        );
        assert_eq!(completions[1].result, LifecycleResult::Continue);
    });
}

#[test]
fn a_rebalance_recommendation_drains_and_a_failed_drain_still_lets_the_termination_go() {
    rt().block_on(async {
        let lambda = Lambda::new(&[I]);
        lambda.launched(I).await;
        lambda.deliver(&rebalance_event(I)).await;
        let terminate = lifecycle_action_event(I, "workers", LifecycleTransition::Terminating);
        lambda.deliver(&terminate).await;
        lambda.finish_last(I, "Failed").await;
        assert_eq!(lambda.state(I), "gone");
        let record = lambda.runtime.store().records().get(I).unwrap();
        assert_eq!(
            record.attributes.get("DrainFailed"),
            Some(&Value::Bool(true))
        );
        assert_eq!(lambda.documents(), ["ClusterJoin", "ClusterLeave"]);
        let completions = lambda.actions.completions();
        assert_eq!(completions.len(), 2);
        assert_eq!(completions[1].result, LifecycleResult::Continue);
    });
}

#[test]
fn a_termination_without_warning_drains_itself() {
    rt().block_on(async {
        let lambda = Lambda::new(&[I]);
        lambda.launched(I).await;
        lambda
            .deliver(&lifecycle_action_event(
                I,
                "workers",
                LifecycleTransition::Terminating,
            ))
            .await;
        assert_eq!(lambda.state(I), "draining");
        lambda.finish_last(I, "Success").await;
        // Drained: the termination's own result ends its lifecycle action.
        assert_eq!(lambda.state(I), "drained");
        assert_eq!(lambda.documents(), ["ClusterJoin", "ClusterLeave"]);
        assert_eq!(lambda.actions.completions().len(), 2);
    });
}

#[test]
fn an_instance_entering_the_warm_pool_is_prepared_and_joins_only_when_it_enters_the_group() {
    rt().block_on(async {
        let lambda = Lambda::new(&[I]);
        let into_pool = routed_lifecycle_action_event(
            I,
            "workers",
            LifecycleTransition::Launching,
            Location::Ec2,
            Location::WarmPool,
        );
        lambda.deliver(&into_pool).await;
        assert_eq!(lambda.state(I), "warmed");
        assert!(lambda.documents().is_empty(), "no join for the pool");
        let completions = lambda.actions.completions();
        assert_eq!(completions.len(), 1, "the pool may stop it now");
        assert_eq!(completions[0].result, LifecycleResult::Continue);
        // Delivered again: nothing more.
        lambda.deliver(&into_pool).await;
        assert_eq!(lambda.actions.completions().len(), 1);

        // Later: from the pool into the group. The record is past its initial state; the
        // launch from the pool is admitted, and joins.
        let into_group = routed_lifecycle_action_event(
            I,
            "workers",
            LifecycleTransition::Launching,
            Location::WarmPool,
            Location::AutoScalingGroup,
        );
        lambda.deliver(&into_group).await;
        assert_eq!(lambda.state(I), "joining");
        lambda.finish_last(I, "Success").await;
        assert_eq!(lambda.state(I), "ready");
        assert_eq!(lambda.documents(), ["ClusterJoin"]);
        let completions = lambda.actions.completions();
        assert_eq!(completions.len(), 2);
        assert_eq!(completions[1].action.origin, Some(Location::WarmPool));
        let record = lambda.runtime.store().records().get(I).unwrap();
        assert_eq!(record.attributes["Prepared"], true);
    });
}

#[test]
fn a_warm_pool_instance_terminated_in_the_pool_leaves_without_a_drain() {
    rt().block_on(async {
        let lambda = Lambda::new(&[I]);
        lambda
            .deliver(&routed_lifecycle_action_event(
                I,
                "workers",
                LifecycleTransition::Launching,
                Location::Ec2,
                Location::WarmPool,
            ))
            .await;
        lambda
            .deliver(&routed_lifecycle_action_event(
                I,
                "workers",
                LifecycleTransition::Terminating,
                Location::WarmPool,
                Location::Ec2,
            ))
            .await;
        assert_eq!(lambda.state(I), "gone");
        assert!(lambda.documents().is_empty());
        assert_eq!(lambda.actions.completions().len(), 2);
    });
}

#[test]
fn an_instance_terminated_outside_its_group_is_noticed_by_its_state_change() {
    rt().block_on(async {
        let lambda = Lambda::new(&[I]);
        lambda.launched(I).await;
        // `stopping`: no trigger reacts, nothing changes.
        lambda.deliver(&instance_state_event(I, "stopping")).await;
        assert_eq!(lambda.state(I), "ready");
        let record = lambda.runtime.store().records().get(I).unwrap();
        assert!(!record.attributes.contains_key("ExpiresAt"));
        lambda.deliver(&instance_state_event(I, "terminated")).await;
        assert_eq!(lambda.state(I), "gone");
        let record = lambda.runtime.store().records().get(I).unwrap();
        assert_eq!(record.attributes["Vanished"], true);
        // Its lifecycle is over: the record expires after the retention, as after a
        // termination's completion.
        assert!(record.attributes.contains_key("ExpiresAt"), "{record:?}");
        // No lifecycle action: nothing to complete beyond the launch.
        assert_eq!(lambda.actions.completions().len(), 1);
    });
}

#[test]
fn a_scheduled_retirement_drains_every_affected_instance_and_skips_unknown_ones() {
    const J: &str = "i-0a1b2c3d4e5f60002";
    rt().block_on(async {
        let lambda = Lambda::new(&[I, J]);
        for instance in [I, J] {
            lambda.launched(instance).await;
        }
        let outcomes = lambda
            .deliver(&maintenance_event(
                &[I, J, "i-0ffffffffffffffff"],
                "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED",
            ))
            .await;
        let Outcome::PerInstance { outcomes } = &outcomes[0] else {
            panic!("{outcomes:?}")
        };
        assert_eq!(outcomes.len(), 3);
        assert!(
            matches!(&outcomes[2], Outcome::Ignored { reason } if reason.contains("no record"))
        );
        assert_eq!(
            (lambda.state(I), lambda.state(J)),
            ("draining".into(), "draining".into())
        );
        assert!(
            lambda
                .runtime
                .store()
                .records()
                .get("i-0ffffffffffffffff")
                .is_none(),
            "nothing written"
        );
    });
}

#[test]
fn events_about_instances_without_a_record_write_nothing() {
    rt().block_on(async {
        let lambda = Lambda::new(&[]);
        for event in [
            spot_interruption_event(I),
            rebalance_event(I),
            instance_state_event(I, "terminated"),
        ] {
            let outcomes = lambda.deliver(&event).await;
            assert!(
                matches!(&outcomes[0], Outcome::Ignored { .. }),
                "{outcomes:?}"
            );
        }
        assert!(lambda.runtime.store().records().snapshot().is_empty());
        assert!(lambda.commands.sent().is_empty());
    });
}
