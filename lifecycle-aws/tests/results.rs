//! Command results matched to the command the record waits for, the lifecycle's region kept
//! for every call about it, and bad input rejected before anything is written — against
//! moto_server.

mod common;

use common::node::*;
use lifecycle_aws::runtime::{HandleError, Outcome};
use lifecycle_aws::store::{CommandRegistration, NodeTable};
use lifecycle_core::{LifecycleAction, LifecycleResult, LifecycleTransition, Store};
use serde_json::json;

fn launch_action(instance: &str) -> LifecycleAction {
    LifecycleAction {
        auto_scaling_group_name: "workers".into(),
        lifecycle_hook_name: "workers-hook".into(),
        lifecycle_action_token: Some(format!("token-{instance}")),
        ec2_instance_id: instance.into(),
        lifecycle_transition: LifecycleTransition::Launching,
        notification_metadata: None,
        region: None,
        origin: None,
        destination: None,
    }
}

/// Registers `command_id` for `instance` by hand, as a delivery that sent it at `version`
/// would have.
async fn register(f: &Fixture, command_id: &str, instance: &str, version: u64) {
    let targets = [instance.to_owned()];
    let action = launch_action(instance);
    f.runtime
        .store()
        .register_command(CommandRegistration {
            command_id,
            owner: instance,
            targets: &targets,
            lifecycle: Some(&action),
            event_id: "an-earlier-delivery",
            comment: None,
            document_name: "AWS-RunShellScript",
            registered_at: 1_795_564_800,
            sent_at_version: version,
            marker: "0000000000000000.0",
            due_at: u64::MAX,
            waiter: "Node",
        })
        .await
        .unwrap();
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn only_the_awaited_commands_result_moves_the_record() {
    common::run(async {
        let f = Fixture::new().await;
        f.put(json!({"Ident": "i-s1", "ItemStatus": "finished_cloud_init", "ItemType": "worker"}))
            .await;
        f.handle(launching("i-s1")).await.unwrap();
        let join = f.attribute("i-s1", "JoinCommand").await;
        assert_eq!(f.attribute("i-s1", "AwaitedCommand").await, join);
        let version = f.attribute_number("i-s1", "Version").await;

        // A command an earlier delivery sent and that did not become the awaited one: its
        // failure must not ABANDON the launch.
        register(&f, "cmd-superseded", "i-s1", 0).await;
        let response = f
            .handle(command_status("cmd-superseded", "i-s1", "Failed", LONG_AGO))
            .await
            .unwrap();
        assert_eq!(
            end_of(&outcome(&response)),
            ("joining", "not_awaited", None)
        );
        assert_eq!(f.attribute_number("i-s1", "Version").await, version);
        assert!(f.completions().is_empty());
        assert!(
            f.item("cmd-superseded").await.is_none(),
            "consumed and logged"
        );

        // The awaited command's result, then both again, late and in the other order.
        let done = f
            .handle(command_status(&join, "i-s1", "Success", LONG_AGO))
            .await
            .unwrap();
        assert_eq!(
            end_of(&outcome(&done)),
            ("ready", "settled", Some("CONTINUE"))
        );
        for (id, status) in [(join.as_str(), "Success"), ("cmd-superseded", "Failed")] {
            let late = f
                .handle(command_status(id, "i-s1", status, LONG_AGO))
                .await
                .unwrap();
            assert!(matches!(outcome(&late), Outcome::Ignored { .. }), "{late}");
        }
        assert_eq!(f.state("i-s1").await, "ready");
        assert!(!f.item("i-s1").await.unwrap().contains_key("AwaitedCommand"));
        assert_eq!(f.completions().len(), 1);
        assert_eq!(f.completions()[0].2, LifecycleResult::Continue);
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_result_that_comes_before_the_waiting_write_is_retried_not_dropped() {
    common::run(async {
        let f = Fixture::new().await;
        f.runtime
            .store()
            .create("i-s2", "finished_cloud_init")
            .await
            .unwrap();
        let before = f.runtime.store().load("i-s2").await.unwrap().unwrap();
        // Sent at the record's current version: the write that makes the record wait for it
        // has not happened yet.
        register(&f, "cmd-early", "i-s2", before.version).await;
        let error = f
            .handle(command_status("cmd-early", "i-s2", "Success", LONG_AGO))
            .await
            .unwrap_err();
        assert!(
            matches!(error, HandleError::CommandNotAwaitedYet(_)),
            "{error}"
        );
        assert!(error.is_retryable());
        assert_eq!(
            f.runtime.store().load("i-s2").await.unwrap().unwrap(),
            before
        );
        assert!(f.item("cmd-early").await.is_some(), "kept for the retry");
        assert!(f.completions().is_empty());
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn every_call_about_a_lifecycle_goes_to_the_region_of_its_event() {
    common::run(async {
        let f = Fixture::new().await;
        f.put(json!({"Ident": "i-r1", "ItemStatus": "finished_cloud_init", "ItemType": "worker"}))
            .await;
        let mut event = launching("i-r1");
        event["region"] = json!("us-west-2");
        f.handle(event).await.unwrap();
        let join = f.attribute("i-r1", "JoinCommand").await;
        // The result comes without a region of the lifecycle's: the registered lifecycle
        // data carries it.
        f.handle(command_status(&join, "i-r1", "Success", LONG_AGO))
            .await
            .unwrap();
        assert_eq!(f.completions().len(), 1);
        assert_eq!(
            *f.recorded.regions.lock().unwrap(),
            [Some("us-west-2".to_owned())]
        );
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn bad_input_is_rejected_for_good_and_nothing_is_written() {
    common::run(async {
        let f = Fixture::new().await;
        f.put(json!({"Ident": "i-b1", "ItemStatus": "finished_cloud_init", "ItemType": "worker"}))
            .await;
        f.handle(launching("i-b1")).await.unwrap();
        let join = f.attribute("i-b1", "JoinCommand").await;
        let before = f.item("i-b1").await;

        let mut empty_instance = launching("i-b1");
        empty_instance["detail"]["EC2InstanceId"] = json!("");
        let mut empty_command = command_status(&join, "i-b1", "Success", LONG_AGO);
        empty_command["detail"]["command-id"] = json!("");
        for bad in [
            empty_instance,
            empty_command,
            command_status(&join, "i-b1", "", LONG_AGO),
            command_status(&join, "i-b1", "success", LONG_AGO),
        ] {
            let error = f.handle(bad.clone()).await.unwrap_err();
            assert!(matches!(error, HandleError::Decode(_)), "{bad}: {error}");
            assert!(!error.is_retryable(), "{error}");
        }
        assert_eq!(f.item("i-b1").await, before, "nothing written");
        assert!(
            f.item(&join).await.is_some(),
            "the command is still awaited"
        );
        assert!(f.completions().is_empty());
    });
}

/// A command the original library registered for a terminating worker's leave, run on two
/// managers: the lifecycle is the worker's (its lifecycle data), not the first manager's.
fn original_leave_command(command_id: &str) -> serde_json::Value {
    json!({
        "Ident": command_id, "ItemType": "command", "RunningOn": "i-m1,i-m2",
        "Commands": "/bin/leave_cluster.sh", "Comment": "Terminating worker -> leave cluster",
        "id": "59e6cd57-0000-0000-0000-000000000001", "region": "eu-west-1",
        "source": "aws.autoscaling", "detail-type": "EC2 Instance-terminate Lifecycle Action",
        "LifecycleData": {
            "AutoScalingGroupName": "docker-swarm-worker-live", "EC2InstanceId": "i-w1",
            "LifecycleActionToken": "token-w1", "LifecycleHookName": "workers-on-terminate",
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
            "NotificationMetadata": {"type": "worker"}
        }
    })
}

/// The original library's leave command for worker `i-w1` (its record `worker`), run on two
/// managers, reports success: the worker's termination ends `gone`, completed once, and the
/// manager it ran on is untouched.
async fn the_original_leave_finishes(f: &Fixture, worker: serde_json::Value) {
    f.put(worker).await;
    for manager in ["i-m1", "i-m2"] {
        f.put(json!({"Ident": manager, "ItemStatus": "ready", "ItemType": "worker"}))
            .await;
    }
    f.put(original_leave_command("cmd-orig")).await;
    let response = f
        .handle(command_status("cmd-orig", "i-m1", "Success", LONG_AGO))
        .await
        .unwrap();
    assert_eq!(
        end_of(&outcome(&response)),
        ("gone", "finished", Some("CONTINUE"))
    );
    assert_eq!(f.state("i-w1").await, "gone");
    assert_eq!(
        f.state("i-m1").await,
        "ready",
        "the manager it ran on is untouched"
    );
    let completions = f.completions();
    assert_eq!(completions.len(), 1);
    assert_eq!(completions[0].0, "i-w1");
    assert_eq!(completions[0].1, LifecycleTransition::Terminating);
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_command_of_the_original_library_resumes_the_lifecycle_it_belongs_to() {
    common::run(async {
        let f = Fixture::new().await;
        // The original library's records: no version; the worker waits for its leave.
        let worker = json!({"Ident": "i-w1", "ItemStatus": "leaving", "ItemType": "worker"});
        the_original_leave_finishes(&f, worker).await;
        // Completed in the region the original library kept beside the lifecycle data.
        assert_eq!(
            *f.recorded.regions.lock().unwrap(),
            [Some("eu-west-1".to_owned())]
        );
    });
}

/// Both libraries on one table (a migration's blue/green moment): this library launched the
/// worker (its record has a version and this library's progress note), the original handled
/// its termination — moved the record to `leaving` and registered its leave command, noting no
/// wait. The original's command result moves the record on, and the action completes once.
#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_record_the_original_library_moved_takes_the_original_librarys_command() {
    common::run(async {
        let f = Fixture::new().await;
        let worker = json!({"Ident": "i-w1", "ItemStatus": "leaving", "ItemType": "worker",
            "Version": 4, "WriteToken": "d1.4",
            "LifecycleProgress": "CONTINUE rest token-launch-w1/launch launch-w1"});
        the_original_leave_finishes(&f, worker).await;
        // Delivered again: nothing more.
        f.handle(command_status("cmd-orig", "i-m1", "Success", LONG_AGO))
            .await
            .unwrap();
        assert_eq!(f.completions().len(), 1);
        // A result of a command of this library's that the record does not wait for (a
        // fire-and-forget command) still moves nothing: only the original's are adopted.
        f.put(
            json!({"Ident": "i-w2", "ItemStatus": "leaving", "ItemType": "worker",
            "Version": 4, "WriteToken": "d1.4",
            "LifecycleProgress": "CONTINUE rest token-launch-w2/launch launch-w2"}),
        )
        .await;
        register(&f, "cmd-ours", "i-w2", 3).await;
        let response = f
            .handle(command_status("cmd-ours", "i-w2", "Success", LONG_AGO))
            .await
            .unwrap();
        assert_eq!(end_of(&outcome(&response)).1, "not_awaited");
        assert_eq!(f.state("i-w2").await, "leaving");
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_command_of_the_original_library_gets_a_deadline_from_when_it_is_first_seen() {
    common::run(async {
        let f = Fixture::new().await;
        f.put(json!({"Ident": "i-w1", "ItemStatus": "leaving", "ItemType": "worker"}))
            .await;
        f.put(original_leave_command("cmd-old")).await;
        assert!(
            !f.item("cmd-old")
                .await
                .unwrap()
                .contains_key("RegisteredAt")
        );

        let sweep = json!({
            "version": "0", "id": "sweep-1", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "2026-11-25T10:00:00Z",
            "region": "eu-central-1",
            "resources": ["arn:aws:events:eu-central-1:123456789012:rule/lifecycle-sweep"],
            "detail": {}
        });
        // Not in the index of waits (the original library wrote no `DueAt`): the sweep does not
        // see it, and reads nothing else.
        let response = f.handle(sweep.clone()).await.unwrap();
        assert!(
            matches!(outcome(&response), Outcome::Swept { ref kept_alive, .. } if kept_alive.is_empty()),
            "{response}"
        );
        // Its first status event is when this library first sees it: the wait's deadline runs
        // from then, and it joins the index.
        let progress = f
            .handle(command_status("cmd-old", "i-w1", "InProgress", LONG_AGO))
            .await
            .unwrap();
        assert!(
            matches!(outcome(&progress), Outcome::Heartbeat { .. }),
            "{progress}"
        );
        let first_seen = f.attribute_number("cmd-old", "RegisteredAt").await;
        let response = f.handle(sweep.clone()).await.unwrap();
        assert!(
            matches!(outcome(&response), Outcome::Swept { ref kept_alive, .. } if kept_alive == &["cmd-old"]),
            "{response}"
        );
        // The time first noted stays.
        assert_eq!(
            f.attribute_number("cmd-old", "RegisteredAt").await,
            first_seen
        );
        assert_eq!(f.recorded.heartbeats.lock().unwrap().len(), 2);
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_termination_during_a_launchs_wait_runs_after_the_launch_went_to_cleanup() {
    common::run(async {
        let f = Fixture::new().await;
        f.put(json!({"Ident": "i-t1", "ItemStatus": "finished_cloud_init", "ItemType": "worker"}))
            .await;
        f.handle(launching("i-t1")).await.unwrap();
        let join = f.attribute("i-t1", "JoinCommand").await;

        // Scaled in while joining: noted, not completed (the instance would be gone before
        // anything ran for it), and the launch still waits for its command.
        for _ in 0..2 {
            let response = f.handle(terminating("i-t1")).await.unwrap();
            assert_eq!(
                end_of(&outcome(&response)),
                ("joining", "deferred", None),
                "{response}"
            );
        }
        assert!(
            f.item("i-t1")
                .await
                .unwrap()
                .contains_key("DeferredTermination")
        );
        assert_eq!(f.attribute("i-t1", "AwaitedCommand").await, join);
        assert!(f.completions().is_empty());

        // The join's result: the launch goes to the failure path instead of on to `ready`,
        // then the termination runs and is completed once.
        let response = f
            .handle(command_status(&join, "i-t1", "Success", LONG_AGO))
            .await
            .unwrap();
        let Outcome::Dispatched {
            end,
            failure,
            completed,
            deferred,
            ..
        } = outcome(&response)
        else {
            panic!("{response}")
        };
        assert_eq!(end, "abandoned");
        assert_eq!(
            failure.as_deref(),
            Some("the command ended with status Terminated")
        );
        assert_eq!(completed.as_deref(), Some("ABANDON"));
        assert_eq!(
            end_of(&deferred.expect("the termination ran")),
            ("abandoned", "finished", Some("CONTINUE"))
        );
        assert!(
            !f.item("i-t1")
                .await
                .unwrap()
                .contains_key("DeferredTermination")
        );
        let transitions: Vec<_> = f.completions().iter().map(|c| (c.1, c.2)).collect();
        assert_eq!(
            transitions,
            [
                (LifecycleTransition::Launching, LifecycleResult::Abandon),
                (LifecycleTransition::Terminating, LifecycleResult::Continue)
            ]
        );
        // The terminating event again, late: nothing more is completed.
        f.handle(terminating("i-t1")).await.unwrap();
        assert_eq!(f.completions().len(), 2);
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_redelivery_that_finds_failure_handling_cut_off_finishes_it_and_abandons() {
    common::run(async {
        let f = Fixture::new().await;
        // An earlier delivery of the launch failed, entered the failure state (noting the
        // launch as failed) and was cut off there.
        let event = launching("i-x1");
        let id = event["id"].as_str().unwrap().to_owned();
        f.put(
            json!({"Ident": "i-x1", "ItemStatus": "failure", "ItemType": "worker", "Version": 4,
            "LifecycleProgress": format!("ABANDON rest token-i-x1/launch {id}")}),
        )
        .await;
        let response = f.handle(event).await.unwrap();
        // Failure handling goes on, and the launch ends ABANDON, not CONTINUE.
        assert_eq!(
            end_of(&outcome(&response)),
            ("abandoned", "finished", Some("ABANDON"))
        );
        assert_eq!(f.completions()[0].2, LifecycleResult::Abandon);
    });
}

/// A model whose last transition sends a fire-and-forget command from an `after` task.
struct Announce;

#[lifecycle_core::lifecycle_model(
    states(Start, Done),
    initial = Start,
    terminal(Done),
    error = common::node::NodeError
)]
impl Announce {
    #[transition(from = Start, to = Done, on(launching), after(announce), ignore_errors)]
    async fn go(
        &mut self,
        _ctx: &mut lifecycle_core::Context<'_>,
    ) -> Result<(), common::node::NodeError> {
        Ok(())
    }

    async fn announce(
        &mut self,
        ctx: &mut lifecycle_core::Context<'_>,
    ) -> Result<(), common::node::NodeError> {
        let request =
            lifecycle_core::CommandRequest::new("AWS-RunShellScript", [ctx.record().ident.clone()]);
        ctx.send_command(request).await?;
        Ok(())
    }
}

#[test]
fn a_command_an_after_task_sends_is_kept_and_its_claim_released() {
    use common::faults::{CountingCommands, Faults, FaultyCommands};
    use std::sync::Arc;
    common::run(async {
        let table = lifecycle_aws::store::MemoryTable::new();
        table.create("i-a1", "start").await.unwrap();
        let commands = Arc::new(FaultyCommands::new(
            Arc::new(CountingCommands::default()),
            Faults::new(),
        ));
        let recorded = Arc::new(Recorded::default());
        let runtime = lifecycle_aws::runtime::Runtime::with_parts(
            &table,
            commands.clone(),
            recorded.clone(),
            || Announce,
        );
        let response = runtime.handle(&launching("i-a1")).await.unwrap();
        assert_eq!(
            end_of(&outcome(&response)),
            ("done", "finished", Some("CONTINUE"))
        );
        assert_eq!(commands.sent.lock().unwrap().len(), 1);
        assert!(
            commands.cancelled.lock().unwrap().is_empty(),
            "withdrawn as a lost run's"
        );
        let record = table.load("i-a1").await.unwrap().unwrap();
        assert_eq!(record.claimed_by(), None, "claim left behind");
        // Created (1), the state change (2), the claim (3), the write that settles it (4).
        assert_eq!(record.version, 4);
    });
}
