//! The scheduled-backup example through the Lambda's code path: the rule `backup` starts the
//! machine, the backup command's result finishes it.

use std::sync::Arc;

use lifecycle_aws::runtime::Runtime;
use lifecycle_aws::store::MemoryTable;
use lifecycle_aws::testing::{MemoryActions, MemoryCommands};
use lifecycle_examples::backup::NightlyBackup;
use lifecycle_tests::block_on;
use serde_json::{Value, json};

/// The rule's event of the first night.
fn scheduled(rule: &str) -> Value {
    night(rule, 1)
}

/// The rule's event of night `n` (each night's event has its own id).
fn night(rule: &str, n: u32) -> Value {
    json!({"version": "0", "id": format!("night-{n}"), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-25T02:00:00Z", "region": "eu-central-1",
        "resources": [format!("arn:aws:events:eu-central-1:123456789012:rule/{rule}")], "detail": {}})
}

fn result(command_id: &str, status: &str) -> Value {
    json!({"version": "0", "id": format!("result-{status}"), "detail-type": "EC2 Command Status-change Notification",
        "source": "aws.ssm", "account": "123456789012", "time": "2026-11-25T02:10:00Z", "region": "eu-central-1",
        "resources": ["arn:aws:ec2:eu-central-1:123456789012:instance/i-0data"],
        "detail": {"command-id": command_id, "document-name": "LifecycleBackup", "status": status,
            "requested-date-time": "2026-11-25T02:00:01.000Z", "parameters": "{}"}})
}

fn runtime(
    table: &MemoryTable,
    ssm: Arc<MemoryCommands>,
) -> Runtime<NightlyBackup, impl Fn() -> NightlyBackup + Send + Sync, &MemoryTable> {
    Runtime::with_parts(table, ssm, Arc::new(MemoryActions::new()), || {
        NightlyBackup {
            instance: "i-0data".into(),
            destination: "s3://backups/nightly".into(),
        }
    })
}

#[test]
fn the_backup_rule_runs_the_script_on_the_data_instance_and_waits_for_it() {
    let table = MemoryTable::new();
    let ssm = Arc::new(MemoryCommands::new());
    let runtime = runtime(&table, ssm.clone());
    block_on(async {
        let response = runtime.handle(&scheduled("backup")).await.unwrap();
        assert_eq!(response["outcomes"][0]["end"], "backing_up");
        assert_eq!(response["outcomes"][0]["stop"], "waiting");
        let (command_id, request) = ssm.sent().pop().unwrap();
        assert_eq!(request.instance_ids, ["i-0data"]);
        assert_eq!(request.document_name, "LifecycleBackup");
        assert_eq!(request.parameters["Destination"], ["s3://backups/nightly"]);
        assert_eq!(request.parameters.len(), 1);
        // The comment names the claim it was sent under, so a delivery taking over an
        // abandoned claim finds the command instead of sending it again.
        let comment = request.comment.unwrap();
        let (text, marker) = comment.rsplit_once(' ').unwrap();
        assert_eq!(text, "nightly backup");
        assert!(
            marker.starts_with('[') && marker.ends_with(".0]"),
            "{marker}"
        );

        // The command ran on i-0data; its result resumes the `backup` machine.
        let response = runtime
            .handle(&result(&command_id, "Success"))
            .await
            .unwrap();
        assert_eq!(response["outcomes"][0]["ident"], "backup");
        assert_eq!(response["outcomes"][0]["end"], "done");
    });
    let record = table.records().get("backup").unwrap();
    assert_eq!(record.get_str("LastBackup"), Some("result-Success"));
}

#[test]
fn a_failed_backup_is_recorded_and_the_next_night_starts_over() {
    let table = MemoryTable::new();
    let ssm = Arc::new(MemoryCommands::new());
    let runtime = runtime(&table, ssm.clone());
    block_on(async {
        runtime.handle(&scheduled("backup")).await.unwrap();
        let (command_id, _) = ssm.sent().pop().unwrap();
        let response = runtime
            .handle(&result(&command_id, "Failed"))
            .await
            .unwrap();
        assert_eq!(response["outcomes"][0]["end"], "failed");
        let response = runtime.handle(&night("backup", 2)).await.unwrap();
        assert_eq!(response["outcomes"][0]["start"], "backup");
        assert_eq!(response["outcomes"][0]["end"], "backing_up");
    });
    assert_eq!(
        table
            .records()
            .get("backup")
            .unwrap()
            .get_str("LastFailure"),
        Some("result-Failed")
    );
}

/// A clock the test moves.
struct Clock(std::sync::Mutex<std::time::SystemTime>);

impl lifecycle_aws::runtime::Clock for Clock {
    fn now(&self) -> std::time::SystemTime {
        *self.0.lock().unwrap()
    }
}

#[test]
fn a_backup_whose_result_never_comes_fails_at_its_deadline_and_the_next_night_starts_over() {
    use std::time::{Duration, SystemTime};
    let table = MemoryTable::new();
    let ssm = Arc::new(MemoryCommands::new());
    let clock = Arc::new(Clock(std::sync::Mutex::new(SystemTime::now())));
    let runtime = runtime(&table, ssm.clone())
        .with_clock(clock.clone())
        .with_wait_deadline(Duration::from_secs(3600));
    let command_id = block_on(async {
        runtime.handle(&scheduled("backup")).await.unwrap();
        let (command_id, _) = ssm.sent().pop().unwrap();
        // No hook to keep alive: nothing is due before the deadline.
        *clock.0.lock().unwrap() += Duration::from_secs(1800);
        let swept = runtime.handle(&scheduled("lifecycle-sweep")).await.unwrap();
        assert_eq!(swept["outcomes"][0]["expired"], json!([]), "{swept}");
        assert_eq!(table.records().get("backup").unwrap().state, "backing_up");
        // The result never comes: at the deadline the job's failure handling runs.
        *clock.0.lock().unwrap() += Duration::from_secs(1800);
        let swept = runtime.handle(&scheduled("lifecycle-sweep")).await.unwrap();
        assert_eq!(
            swept["outcomes"][0]["expired"],
            json!([command_id]),
            "{swept}"
        );
        assert_eq!(table.records().get("backup").unwrap().state, "failed");
        // The next night sends the backup again.
        let next = runtime.handle(&night("backup", 2)).await.unwrap();
        assert_eq!(next["outcomes"][0]["end"], "backing_up", "{next}");
        // (The overdue command was cancelled: the simulation forgets cancelled commands.)
        let (again, _) = ssm.sent().pop().unwrap();
        assert_ne!(again, command_id);
        command_id
    });
    // The failure recorded is the deadline's.
    assert_eq!(
        table
            .records()
            .get("backup")
            .unwrap()
            .get_str("LastFailure"),
        Some(format!("deadline-{command_id}").as_str())
    );
}

/// Deployed by a stack named `prod`, the rules are `prod-backup` and `prod-backup-sweep` and
/// the document `prod-LifecycleBackup`: the model still sees `backup`, and another stack's rule
/// is refused without a write.
#[test]
fn a_stack_prefix_is_taken_off_rules_and_put_on_documents() {
    let table = MemoryTable::new();
    let ssm = Arc::new(MemoryCommands::new());
    let runtime = runtime(&table, ssm.clone())
        .with_name_prefix("prod-")
        .with_sweep_rule("backup-sweep");
    block_on(async {
        let error = runtime.handle(&scheduled("backup")).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "scheduled rule `backup` names no state of the model"
        );
        assert!(
            table.records().get("backup").is_none(),
            "another stack's rule wrote nothing"
        );

        let response = runtime.handle(&scheduled("prod-backup")).await.unwrap();
        assert_eq!(response["outcomes"][0]["ident"], "backup");
        assert_eq!(response["outcomes"][0]["end"], "backing_up");
        let (command_id, request) = ssm.sent().pop().unwrap();
        assert_eq!(request.document_name, "prod-LifecycleBackup");
        let swept = runtime
            .handle(&scheduled("prod-backup-sweep"))
            .await
            .unwrap();
        assert_eq!(swept["outcomes"][0]["outcome"], "swept");
        // The status event names the deployed document; the command id finds the lifecycle.
        let mut status = result(&command_id, "Success");
        status["detail"]["document-name"] = json!("prod-LifecycleBackup");
        let response = runtime.handle(&status).await.unwrap();
        assert_eq!(response["outcomes"][0]["end"], "done");
    });
}

/// EventBridge delivers a night's event at least once: the same event again, after its run
/// ended (or while it waits), starts no second backup that night. Found by the backup
/// simulation (seed 4: a duplicate sent the backup twice in one night).
#[test]
fn the_same_nights_event_again_starts_no_second_backup() {
    let table = MemoryTable::new();
    let ssm = Arc::new(MemoryCommands::new());
    let runtime = runtime(&table, ssm.clone());
    block_on(async {
        runtime.handle(&night("backup", 1)).await.unwrap();
        let again = runtime.handle(&night("backup", 1)).await.unwrap();
        assert_eq!(
            again["outcomes"][0]["end"], "backing_up",
            "still waiting: {again}"
        );
        let (command_id, _) = ssm.sent().pop().unwrap();
        runtime
            .handle(&result(&command_id, "Success"))
            .await
            .unwrap();
        let late = runtime.handle(&night("backup", 1)).await.unwrap();
        assert_eq!(late["outcomes"][0]["outcome"], "ignored", "{late}");
        assert_eq!(ssm.sent().len(), 1, "one backup that night");
        assert_eq!(table.records().get("backup").unwrap().state, "done");
        // The next night's own event runs it again.
        runtime.handle(&night("backup", 2)).await.unwrap();
        assert_eq!(ssm.sent().len(), 2);
    });
}

/// Night 1's delivery claimed the job, sent the backup and died before noting it; every
/// retry of its event failed. Its event delivered again (from the dead-letter queue) adopts
/// that command — the same night — but night 2's event sends its own: a backup hours old is
/// not tonight's. Found by the backup simulation (seed 9: night 2 adopted night 1's backup).
#[test]
fn a_night_does_not_adopt_the_backup_another_nights_delivery_died_with() {
    use lifecycle_aws::effects::CommandSender;
    use lifecycle_core::CommandRequest;
    for (event, sent) in [(1, 1), (2, 2)] {
        let table = MemoryTable::new();
        let ssm = Arc::new(MemoryCommands::new());
        let runtime = runtime(&table, ssm.clone());
        table.records().insert(
            lifecycle_core::Record::new("backup", "backup")
                .with("RunEvent", "night-1")
                .with("ClaimedBy", "d-dead")
                .with("ClaimedUntil", 0),
        );
        let died_with = block_on(
            ssm.send(
                &CommandRequest::new("LifecycleBackup", ["i-0data"])
                    .parameter("Destination", ["s3://backups/nightly"])
                    .comment("nightly backup [d-dead.0]"),
            ),
        )
        .unwrap();
        let response = block_on(runtime.handle(&night("backup", event))).unwrap();
        assert_eq!(response["outcomes"][0]["end"], "backing_up", "{response}");
        assert_eq!(ssm.sent().len(), sent, "night {event}");
        let record = table.records().get("backup").unwrap();
        let waits_for_its_own = record.get_str("BackupCommand") != Some(died_with.as_str());
        assert_eq!(waits_for_its_own, event == 2, "night {event}");
        assert_eq!(
            record.get_str("RunEvent"),
            Some(format!("night-{event}").as_str())
        );
    }
}

/// The backup timed out; the delivery of that result moved the job into its failure state and
/// was cut off before the next step; the sweep, finding the command ended, recovers the same
/// result under an event of its own. The record no longer waits for the command, but its last
/// step applied that result: failure handling goes on (`failed`), rather than the job resting
/// in `failure` with nothing to move it. Found by the backup simulation (seed 347).
#[test]
fn a_result_cut_off_in_failure_handling_is_taken_up_by_the_sweep() {
    use std::time::{Duration, SystemTime};
    let table = MemoryTable::new();
    let ssm = Arc::new(MemoryCommands::new());
    let clock = Arc::new(Clock(std::sync::Mutex::new(SystemTime::now())));
    let runtime = runtime(&table, ssm.clone()).with_clock(clock.clone());
    block_on(async {
        runtime.handle(&night("backup", 1)).await.unwrap();
        let (command_id, _) = ssm.sent().pop().unwrap();
        ssm.finish(&command_id, lifecycle_core::CommandStatus::TimedOut);
        // Where the cut-off delivery left it: in `failure`, the result applied by its last step.
        table.records().update("backup", |record| {
            record.state = "failure".into();
            record.attributes.remove("AwaitedCommand");
            let story = record.get_str("History").unwrap().to_owned();
            let step = format!("\n= backing_up failure - result-TimedOut {command_id} TimedOut");
            record
                .attributes
                .insert("History".into(), (story + &step).into());
        });
        *clock.0.lock().unwrap() += Duration::from_secs(3600);
        runtime.handle(&scheduled("lifecycle-sweep")).await.unwrap();
    });
    let record = table.records().get("backup").unwrap();
    assert_eq!(record.state, "failed");
    assert!(record.get_str("LastFailure").unwrap().contains("TimedOut"));
}
