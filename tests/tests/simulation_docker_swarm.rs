//! The deterministic simulation of a fleet on Auto Scaling (RELIABILITY.md, "Deterministic
//! simulation") with the original library's docker-swarm model as this project ports it
//! (`lifecycle_tests::original`, its test suite's `get_docker_transitions`): a launch parks
//! until cloud-init has finished (its `new` and `pending`), then runs thirteen states on one
//! event with tasks before and after each state change; its `finish` raises after the change,
//! as in the original's test, so every launch goes the failure path, whose four failing tasks
//! are ignored, and is ABANDONed. No commands: what the simulation proves here is the
//! failure path, `after` tasks and parked launches under every fault at once. The engine is
//! the worker simulation's (`lifecycle-aws/tests/common/simulator.rs`).
//!
//! `scripts/simulate --model docker-swarm` runs it (the same variables as the worker's).

#[allow(dead_code)]
#[path = "../../lifecycle-aws/tests/common/faults.rs"]
mod faults;
#[allow(dead_code)]
#[path = "../../lifecycle-aws/tests/common/rng.rs"]
mod rng;
#[path = "../../lifecycle-aws/tests/common/simulator.rs"]
mod simulator;

use std::sync::Arc;

use lifecycle_core::{LifecycleResult, LifecycleTransition, Record};
use lifecycle_tests::original::DockerSwarm;
use simulator::{
    Instance, Kinds, ModelFactory, Owed, Simulated, kinds_or, node_record, replay_found, simulate,
};

fn role(n: usize) -> &'static str {
    if n.is_multiple_of(3) {
        "manager"
    } else {
        "worker"
    }
}

impl Simulated for DockerSwarm {
    const NAME: &'static str = "docker-swarm";
    type Surroundings = ();

    fn build(_: &Arc<()>) -> ModelFactory<Self> {
        Box::new(DockerSwarm::default)
    }

    /// As the original's cloud-init left a node (its fixture `i-007de616626a946ce.json`):
    /// every third a manager.
    fn registered(instance: &str, n: usize) -> Record {
        node_record(instance, n, "finished_cloud_init", role(n))
    }

    /// Registered, cloud-init not finished: a launch parks.
    fn before_cloud_init(instance: &str, n: usize) -> Option<Record> {
        Some(node_record(instance, n, "pending", role(n)))
    }

    /// One launch, ABANDONed at the end of the failure path (a launch into the warm pool too:
    /// its instance is then terminated, and never comes out of the pool). Unless the delivery
    /// stopped between `finish`'s state change and its `after` task (a crash, a lost answer,
    /// a pause past the lease): `after` tasks run at most once (README, "Exactly once"), so the
    /// failure never happened, and the launch, a success, goes on — the port's triggers take
    /// any event, as the original's did — down the terminating path to `removed`: every
    /// action of the instance CONTINUEd (the warm pool's exit and the termination find the
    /// record at rest).
    fn owed(instance: &Instance<'_>) -> Owed {
        let (launch, terminate) = (
            LifecycleTransition::Launching,
            LifecycleTransition::Terminating,
        );
        if instance.state == "removed" {
            let mut completions = vec![(launch, LifecycleResult::Continue)];
            if instance.warm {
                completions.push((launch, LifecycleResult::Continue));
            }
            completions.push((terminate, LifecycleResult::Continue));
            return Owed {
                completions,
                documents: Vec::new(),
                at_rest: vec!["removed"],
            };
        }
        Owed {
            completions: vec![(launch, LifecycleResult::Abandon)],
            documents: Vec::new(),
            at_rest: vec!["gracefully_rebalancing"],
        }
    }
}

/// Each seed that found a bug with this model, with the kinds of fault it was shrunk to (each
/// fix also has a test of its own in `lifecycle-aws/tests/reconcile.rs`).
const FOUND: [(u64, &str, &str); 4] = [
    (
        291,
        "table,lost,late,twice,crash,race",
        "a warm pool's exit after an entry the sweep started and ended at rest was never handled",
    ),
    (
        2755,
        "table,autoscaling,lost,late,twice,crash,race",
        "a warm pool's exit after an entry that ended at rest: the entry completed again forever",
    ),
    (
        41385,
        "table,autoscaling,lost,late,twice,crash,race",
        "a warm pool's entry cut off on its way was started anew by the sweep, and refused for ever",
    ),
    (
        112839,
        "table,autoscaling,lost,late,twice,crash,race",
        "an entry ended where the record only notes events, its completion lost: never completed",
    ),
];

#[test]
fn the_seeds_that_found_bugs_hold() {
    replay_found::<DockerSwarm>(&FOUND);
}

#[test]
fn the_docker_swarm_port_under_every_fault_at_once_completes_each_action_once_by_the_model() {
    simulate::<DockerSwarm>(kinds_or(Kinds::ALL));
}
