//! The deterministic simulation of a fleet on Auto Scaling (RELIABILITY.md, "Deterministic
//! simulation") with the cluster example's own model (`lifecycle_examples::cluster`): managers
//! and workers whose launch may wait for cloud-init (parked, resumed by the table's stream),
//! that join (workers are labelled too, a command nothing waits for), are published
//! in DNS, are taken out of DNS and leave the cluster at a Spot warning or their termination,
//! and are cleaned up and ABANDONed when their join fails. The engine is the worker
//! simulation's (`lifecycle-aws/tests/common/simulator.rs`), with every fault at once; after
//! each run, besides the engine's invariants, DNS holds no address of any instance (every one
//! has gone).
//!
//! `scripts/simulate --model cluster` runs it (the same variables as the worker's).

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
use lifecycle_examples::cluster::{ClusterNode, MemoryDns};
use simulator::{
    Instance, Kinds, ModelFactory, Owed, Simulated, kinds_or, node_record, replay_found, simulate,
};

/// Every third instance is a manager; the rest are workers.
fn is_worker(n: usize) -> bool {
    !n.is_multiple_of(3)
}

fn role(n: usize) -> &'static str {
    if is_worker(n) { "worker" } else { "manager" }
}

impl Simulated for ClusterNode {
    const NAME: &'static str = "cluster";
    type Surroundings = MemoryDns;

    fn build(dns: &Arc<MemoryDns>) -> ModelFactory<Self> {
        let dns = MemoryDns::clone(dns);
        Box::new(move || ClusterNode::new(dns.clone()))
    }

    /// As the original library's cloud-init registered a node: its role and its address.
    fn registered(instance: &str, n: usize) -> Record {
        node_record(instance, n, "finished_cloud_init", role(n))
    }

    /// Cloud-init registered the node (`pending`) and has not finished: a launch parks.
    fn before_cloud_init(instance: &str, n: usize) -> Option<Record> {
        Some(node_record(instance, n, "pending", role(n)))
    }

    /// The join decides: joined (and labelled, a worker), in DNS, and at its end out of DNS and
    /// out of the cluster (whatever the leave command said), the launch and the termination
    /// CONTINUEd; or cleaned up and ABANDONed. One launch more, CONTINUEd, for an instance
    /// warmed in the pool first.
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
                let documents = if is_worker(instance.n) {
                    vec!["ClusterJoin", "ClusterLabelNode", "ClusterLeave"]
                } else {
                    vec!["ClusterJoin", "ClusterLeave"]
                };
                Owed {
                    completions,
                    documents,
                    at_rest: vec!["terminated"],
                }
            }
            _ => {
                completions.push((launch, LifecycleResult::Abandon));
                Owed {
                    completions,
                    documents: vec!["ClusterJoin"],
                    at_rest: vec!["abandoned"],
                }
            }
        }
    }

    fn check_surroundings(dns: &MemoryDns) -> Result<(), String> {
        for name in ["manager.cluster.internal", "worker.cluster.internal"] {
            let left = dns.addresses(name);
            if !left.is_empty() {
                return Err(format!(
                    "DNS still publishes {left:?} under {name}, every instance gone"
                ));
            }
        }
        Ok(())
    }
}

/// Each seed that found a bug with this model, with the kinds of fault it was shrunk to (each
/// fix also has a test of its own in `tests/cluster.rs`).
const FOUND: [(u64, &str, &str); 10] = [
    (
        19,
        "table,ssm,lost,late,twice,crash,race",
        "a launch cut off in its failure handling was started anew by the sweep: CONTINUE",
    ),
    (
        31,
        "table,twice,crash,race",
        "the sweep cancelled the label command nothing waited for, its launch over",
    ),
    (
        439,
        "table,ssm,autoscaling,lost,late,twice,crash,race",
        "a failed leave result cut off after leave_failed sent the termination to abandoned",
    ),
    (
        2160,
        "table,ssm,autoscaling,lost,late,twice,crash,race",
        "a late event completed a termination the sweep started and was cut off half way",
    ),
    (
        12,
        "autoscaling,lost,late,twice,crash,race",
        "a parked launch whose stream record was dead-lettered was ABANDONed at its deadline",
    ),
    (
        5991,
        "table,ssm,autoscaling,lost,late,twice,crash,race",
        "a sweep's stale parked wait ABANDONed a launch that had resumed and completed",
    ),
    (
        40592,
        "table,ssm,autoscaling,lost,late,twice,crash,race",
        "a termination completed beside the leave a Spot warning adopted; its result stranded",
    ),
    (
        34330,
        "table,ssm,autoscaling,lost,late,twice,crash,race",
        "a failed leave's result sent on without its action failed the termination again",
    ),
    (
        48732,
        "table,ssm,autoscaling,lost,late,twice,crash,race",
        "the sweep completed a termination whose cut-off lifecycle a rebalance went on with",
    ),
    (
        50003,
        "table,ssm,autoscaling,lost,late,twice,crash,race",
        "a delivery paused past its lease published DNS after the termination withdrew it",
    ),
];

#[test]
fn the_seeds_that_found_bugs_hold() {
    replay_found::<ClusterNode>(&FOUND);
}

#[test]
fn a_cluster_under_every_fault_at_once_completes_each_action_once_by_the_model() {
    simulate::<ClusterNode>(kinds_or(Kinds::ALL));
}
