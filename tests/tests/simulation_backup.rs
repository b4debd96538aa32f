//! The deterministic simulation (RELIABILITY.md, "Deterministic simulation") of the nightly
//! backup example (`lifecycle_examples::backup`), a job rather than a fleet: its scheduled rule
//! fires three times, two hours apart (EventBridge invoking the function asynchronously: the
//! event late or twice, a failed invocation retried twice by Lambda, then dropped); each run
//! sends the backup command and waits for its result (lost, late, twice; the command failing
//! or timing out), which the sweep recovers from SSM or ends at the deadline. Every fault at
//! once: calls throttled or their answers lost, deliveries crashed, paused past their lease,
//! racing. After each run: no run sent the backup twice; a run that found the job at rest and
//! whose event was answered sent it once; the record ends at rest, as the last backup ended.
//! The engine is the fleet simulation's (`lifecycle-aws/tests/common/simulator.rs`).
//!
//! `scripts/simulate --model backup` runs it (the same variables as the worker's).

#[allow(dead_code)]
#[path = "../../lifecycle-aws/tests/common/faults.rs"]
mod faults;
#[allow(dead_code)]
#[path = "../../lifecycle-aws/tests/common/rng.rs"]
mod rng;
#[path = "../../lifecycle-aws/tests/common/simulator.rs"]
mod simulator;

use std::sync::Arc;

use lifecycle_core::Record;
use lifecycle_examples::backup::{BACKUP_DOCUMENT, NightlyBackup};
use simulator::{
    Instance, Kinds, ModelFactory, Owed, Run, Simulated, kinds_or, replay_found, simulate,
};

/// Where the job is at rest: before its first run, after a backup, after a failed one.
const AT_REST: [&str; 3] = ["backup", "done", "failed"];

impl Simulated for NightlyBackup {
    const NAME: &'static str = "backup";
    type Surroundings = ();
    const RULE: Option<&'static str> = Some("backup");

    fn build(_: &Arc<()>) -> ModelFactory<Self> {
        Box::new(|| NightlyBackup {
            instance: "i-0data".into(),
            destination: "s3://backups/nightly".into(),
        })
    }

    /// A job's world starts no instance: nothing registered.
    fn registered(instance: &str, _: usize) -> Record {
        Record::new(instance, "backup")
    }

    /// A job's world starts no instance: nothing owed to one.
    fn owed(_: &Instance<'_>) -> Owed {
        Owed {
            completions: Vec::new(),
            documents: Vec::new(),
            at_rest: Vec::new(),
        }
    }

    fn check_runs(runs: &[Run], record: Option<&Record>) -> Result<(), String> {
        for (r, run) in runs.iter().enumerate() {
            let documents: Vec<&str> = run.commands.iter().map(|(d, _)| d.as_str()).collect();
            if documents.len() > 1 {
                return Err(format!(
                    "run {r} sent the backup {} times: {documents:?}",
                    documents.len()
                ));
            }
            let at_rest = run
                .state_when_fired
                .as_deref()
                .is_none_or(|state| AT_REST.contains(&state));
            if run.handled && at_rest && documents != [BACKUP_DOCUMENT] {
                return Err(format!(
                    "run {r} found the job at rest ({:?}) and its event was answered, but sent {documents:?}",
                    run.state_when_fired
                ));
            }
        }
        // Nothing waits; a claim only where a run's every invocation failed (its event is in
        // the dead-letter queue, and the next run lets the claim go).
        if let Some(held) = record.and_then(simulator::holding) {
            let dropped = runs.iter().any(|run| !run.handled);
            if !(dropped && held.starts_with("`ClaimedBy`")) {
                return Err(format!("the job ends holding {held}"));
            }
        }
        // The record rests as the last backup ended: done after a success, failed otherwise —
        // or at `backup`, if that run, or one after it, had every invocation fail after the
        // record was set to run again (the event dead-lettered, for an operator to send
        // again).
        let Some(l) = runs.iter().rposition(|run| !run.commands.is_empty()) else {
            return match record.map(|r| r.state.as_str()) {
                None | Some("backup") => Ok(()),
                Some(other) => Err(format!("no backup ran, and the job ends in `{other}`")),
            };
        };
        let dropped_since = runs[l..].iter().any(|run| !run.handled);
        let last = Some(&runs[l]);
        let state = record.map(|r| r.state.as_str());
        let Some(last) = last else {
            return match state {
                None | Some("backup") => Ok(()),
                Some(other) => Err(format!("no backup ran, and the job ends in `{other}`")),
            };
        };
        let ended = last.commands[0].1;
        let expected = if ended == "Success" { "done" } else { "failed" };
        if state != Some(expected) && !(dropped_since && state == Some("backup")) {
            return Err(format!(
                "the last backup ended {ended} (its event answered: {}), and the job ends in {state:?}, not `{expected}`",
                last.handled
            ));
        }
        Ok(())
    }
}

/// Each seed that found a bug with this model, with the kinds of fault it was shrunk to (each
/// fix also has a test of its own in `tests/backup.rs`).
const FOUND: [(u64, &str, &str); 3] = [
    (
        4,
        "late,twice,crash,race",
        "a night's event delivered again after its run ended sent the backup a second time",
    ),
    (
        9,
        "table,ssm,lost,late,twice,crash,race",
        "a night adopted the backup the night before's dead delivery had sent",
    ),
    (
        347,
        "table,ssm,lost,late,twice,crash,race",
        "a timed-out result cut off in the failure state left the job there for good",
    ),
];

#[test]
fn the_seeds_that_found_bugs_hold() {
    replay_found::<NightlyBackup>(&FOUND);
}

#[test]
fn a_nightly_backup_under_every_fault_at_once_runs_once_a_night() {
    simulate::<NightlyBackup>(kinds_or(Kinds::ALL));
}
