//! The deterministic simulation of a fleet on Auto Scaling (`common/simulator.rs`, RELIABILITY.md
//! "Deterministic simulation") with the worker model (`common::worker`: prepares in a warm
//! pool, joins, drains on a Spot warning, a rebalance or a termination, and leaves). One seed
//! decides everything: calls to the node table, SSM and Auto Scaling throttled, their answers
//! lost or sent again; events lost, late, twice, out of order, dead-lettered; deliveries
//! crashed, paused past their lease, racing; commands failing. After each run every action was
//! completed exactly once, by the model, with the result it chose, within its hook's heartbeat
//! timeout; one join per instance, one leave per instance that joined; every record at rest.
//!
//! `LIFECYCLE_SIM_SEEDS=A..B` picks the seeds (default `0..10000`, what `scripts/test` runs);
//! `LIFECYCLE_SIM_SEED=N` replays one seed and prints its trace; `LIFECYCLE_SIM_FAULTS=table,
//! ssm,...` keeps only those kinds of fault; `LIFECYCLE_SIM_LOG=1` adds the runtime's log lines
//! (`scripts/simulate` sets them). A failing seed is shrunk to the fewest kinds of fault that
//! still fail it, and the one command that replays it is printed. The seeds that found bugs are
//! replayed on their own, with the faults they were shrunk to, by
//! `the_seeds_that_found_bugs_hold`.

mod common;
#[path = "common/simulator.rs"]
mod simulator;

use std::sync::Arc;

use common::worker::Worker;
use common::{faults, rng};
use lifecycle_core::{LifecycleResult, LifecycleTransition, Record};
use simulator::{
    Instance, Kinds, ModelFactory, Owed, Simulated, kinds_or, replay_found, rfc3339, simulate,
};

impl Simulated for Worker {
    const NAME: &'static str = "worker";
    type Surroundings = ();

    fn build(_: &Arc<()>) -> ModelFactory<Self> {
        Box::new(|| Worker)
    }

    fn registered(instance: &str, _n: usize) -> Record {
        Record::new(instance, "finished_cloud_init")
    }

    /// The join decides: a launch CONTINUEd and a leave at the termination, or ABANDONed. At
    /// rest drained by its termination (or gone, when the drain came first and the
    /// termination after), or failed. One launch more, CONTINUEd, for an instance prepared in
    /// the warm pool first.
    fn owed(instance: &Instance<'_>) -> Owed {
        let (launch, terminate) = (
            LifecycleTransition::Launching,
            LifecycleTransition::Terminating,
        );
        let mut completions = Vec::new();
        if instance.warm {
            completions.push((launch, LifecycleResult::Continue));
        }
        match instance.commands.first().map(|c| c.1) {
            Some("Success") => {
                completions.push((launch, LifecycleResult::Continue));
                completions.push((terminate, LifecycleResult::Continue));
                Owed {
                    completions,
                    documents: vec!["ClusterJoin", "ClusterLeave"],
                    at_rest: vec!["drained", "gone"],
                }
            }
            _ => {
                completions.push((launch, LifecycleResult::Abandon));
                Owed {
                    completions,
                    documents: vec!["ClusterJoin"],
                    at_rest: vec!["failed"],
                }
            }
        }
    }
}

/// Each seed that found a bug, with the kinds of fault it was shrunk to, and what it found: in
/// the engine, or in the simulation's own model of AWS.
const FOUND: [(u64, &str, &str); 19] = [
    (
        0,
        "late,twice",
        "the simulation: a drained record is at rest too",
    ),
    (
        4,
        "late,twice,crash,race",
        "the simulation: SSM's requested-date-time was fixed, so every result looked old",
    ),
    (
        25,
        "lost,late,twice,crash,race",
        "a paused holder withdrew the command its successor adopted",
    ),
    (
        29,
        "table,ssm,lost,late,twice",
        "a result let go before its command was registered: ABANDON at the deadline",
    ),
    (
        22,
        "table,ssm,autoscaling,lost,late,twice,crash,race",
        "a takeover of a takeover sent the command again",
    ),
    (
        256,
        "table,ssm,autoscaling,lost,late,twice,crash,race",
        "a result that lost its race was consumed unapplied",
    ),
    (
        884,
        "lost,late,twice,crash,race",
        "a paused holder's late registration overwrote the adopter's",
    ),
    (
        1743,
        "table,ssm,lost,late,twice,crash,race",
        "a holder paused past its lease sent after a takeover",
    ),
    (
        352,
        "table,ssm,autoscaling,lost,late,twice,crash,race",
        "cancelling a paused holder's unregistered command: its redelivery sent it again",
    ),
    (
        1009,
        "table,ssm,autoscaling,lost,late,twice,crash,race",
        "the simulation: MemoryCommands cancelled a command that had ended; later, the \
         sweep's recovered result withdrew a paused sender's registration: its wait stranded",
    ),
    (
        11637,
        "table,ssm,lost,late,twice,crash,race",
        "a stale 'not awaited' read consumed the adopter's registration",
    ),
    (
        23,
        "lost,late,twice,crash,race",
        "a wait registered late was first looked at an interval on: its launch went 617 s silent",
    ),
    (
        305,
        "table,ssm,autoscaling,lost,late,twice,crash,race",
        "a deferred termination whose run failed after its drain was never run again",
    ),
    (
        31384,
        "lost,late,twice,crash,race",
        "a termination deferred behind a drain looked at only at the drain's next heartbeat",
    ),
    (
        616,
        "table,ssm,autoscaling,lost,late,twice,crash,race",
        "a late warm-pool launch event after its reconciled lifecycle failed: CONTINUE",
    ),
    (
        33160,
        "lost,late,twice,crash,race",
        "a redelivered termination waited a sweep and more for its first heartbeat",
    ),
    (
        62042,
        "table,ssm,autoscaling,lost,late,twice,crash,race",
        "a sweep one look behind completed the warm-pool exit by instance and hook",
    ),
    (
        101464,
        "lost,late,twice,crash,race",
        "an action whose delivery stalled holding the claim got no heartbeat from the sweep",
    ),
    (
        21376,
        "lost,late,twice,crash,race",
        "a result read its registration before the adopter's: no completion",
    ),
];

#[test]
fn the_seeds_that_found_bugs_hold() {
    replay_found::<Worker>(&FOUND);
}

#[test]
fn times_are_written_as_ssm_writes_them() {
    assert_eq!(rfc3339(0), "2026-11-25T10:00:00Z");
    assert_eq!(rfc3339(14 * 3600 + 61), "2026-11-26T00:01:01Z");
}

#[test]
fn a_fleet_under_every_fault_at_once_completes_each_action_once_by_the_model() {
    simulate::<Worker>(kinds_or(Kinds::ALL));
}

/// Events lost, late, twice; deliveries crashed, paused past their lease, racing — but every
/// call answered: no action goes past its hook's heartbeat timeout.
#[test]
fn a_fleet_whose_events_and_processes_fail_keeps_every_action_alive() {
    simulate::<Worker>(kinds_or(Kinds::parse("lost,late,twice,crash,race")));
}

/// The shrinker leaves out every fault a failure does not need: a run drawing 20 faults that
/// fails only while faults 3 and 7 both happen shrinks to those two; a failure that needs none
/// to nothing left; a run that passes is not shrunk. The list it prints reads back as it was.
#[test]
fn a_failing_run_shrinks_to_the_faults_it_needs() {
    use faults::Mask;
    use simulator::{as_ranges, parse_ranges, shrink_by};
    let failing_with = |needed: &'static [u64]| {
        move |mask: Arc<Mask>| {
            let happened: Vec<u64> = (0..20).filter(|_| mask.keep(true)).collect();
            needed.iter().all(|n| happened.contains(n))
        }
    };
    let (left_out, drawn) = shrink_by(failing_with(&[3, 7]));
    assert_eq!(drawn, 20);
    assert_eq!(left_out, (0..20).filter(|n| ![3, 7].contains(n)).collect());
    assert_eq!(as_ranges(&left_out), "0-2,4-6,8-19");
    assert_eq!(parse_ranges(&as_ranges(&left_out)), left_out);
    assert_eq!(shrink_by(failing_with(&[])).0.len(), 20, "needs none");
    assert_eq!(shrink_by(|_| false), (Default::default(), 0), "passes");
    assert!(parse_ranges(&as_ranges(&Default::default())).is_empty());
}
