//! Dispatch speed on the in-memory store.
//!
//! `cargo bench -p lifecycle-tests --bench dispatch`
//!
//! - `launch_13_transitions`: one launching event through a 13-transition model, from the
//!   initial state to `ready`, every state change a compare-and-set (target ≤ 2 µs; the
//!   original Python library takes about 6 ms per event).
//! - `cluster_launch_two_events`: the cluster example's launch: the launching event (sends the
//!   join command, waits) and the command result (four more transitions to `ready`).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use lifecycle_core::{
    CommandStatus, Context, LifecycleTransition, LocalEffects, MemoryStore, Record, dispatch,
    lifecycle_model,
};
use lifecycle_examples::cluster::{ClusterNode, MemoryDns};
use lifecycle_tests::{command_result, launching};

/// Polls a future that never waits (the in-memory store and local effects never do) to
/// completion, so the benchmark measures the dispatcher and not a runtime.
fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("bench task failed")]
pub struct BenchError;

/// The original README's common launch configuration, extended to 13 transitions.
#[derive(Default)]
pub struct Launch {
    dns_updates: u32,
}

#[lifecycle_model(
    states(
        FinishedCloudInit, JoinCluster, JoinedCluster, LabelingNode, NodeLabeled, UpdatingDns,
        DnsUpdated, RegisteringTargets, TargetsRegistered, WarmingUp, WarmedUp, Announcing,
        CompletingLifecycle, Ready, Failure, Failed,
    ),
    initial = FinishedCloudInit,
    terminal(Ready, Failed),
    failure = Failure,
    error = BenchError,
)]
impl Launch {
    #[transition(from = FinishedCloudInit, to = JoinCluster, on(launching))]
    async fn join_cluster(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = JoinCluster, to = JoinedCluster)]
    async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = JoinedCluster, to = LabelingNode, when(is_worker))]
    async fn label(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = JoinedCluster, to = NodeLabeled)]
    async fn skip_label(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = LabelingNode, to = NodeLabeled)]
    async fn labeled(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = NodeLabeled, to = UpdatingDns)]
    async fn update_dns(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        self.dns_updates += 1;
        Ok(())
    }
    #[transition(from = UpdatingDns, to = DnsUpdated)]
    async fn dns_updated(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = DnsUpdated, to = RegisteringTargets)]
    async fn register_targets(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = RegisteringTargets, to = TargetsRegistered)]
    async fn targets_registered(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = TargetsRegistered, to = WarmingUp)]
    async fn warm_up(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = WarmingUp, to = WarmedUp)]
    async fn warmed_up(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = WarmedUp, to = Announcing)]
    async fn announce(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = Announcing, to = CompletingLifecycle)]
    async fn complete_lifecycle(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = CompletingLifecycle, to = Ready)]
    async fn ready(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }
    #[transition(from = Failure, to = Failed, ignore_errors)]
    async fn give_up(&mut self, _ctx: &mut Context<'_>) -> Result<(), BenchError> {
        Ok(())
    }

    fn is_worker(&self, ctx: &Context<'_>) -> bool {
        ctx.record().item_type() == Some("worker")
    }
}

fn node(state: &str) -> (MemoryStore, Record) {
    let store = MemoryStore::new();
    let record = Record::new("i-0123456789abcdef0", state)
        .with("ItemType", "worker")
        .with("InstanceIp", "10.3.5.44");
    store.insert(record.clone());
    (store, record)
}

fn benches(c: &mut Criterion) {
    let effects = LocalEffects::new();
    let launch = launching("i-0123456789abcdef0");

    c.bench_function("launch_13_transitions", |b| {
        let mut model = Launch::default();
        b.iter_batched(
            || node("finished_cloud_init"),
            |(store, mut record)| {
                let report =
                    run_ready(dispatch(&mut model, &store, &mut record, &launch, &effects))
                        .unwrap();
                debug_assert_eq!(report.fired.len(), 13);
                // Returned, so dropping the store happens outside the timed section.
                black_box((report, store, record))
            },
            BatchSize::SmallInput,
        )
    });

    let result = command_result(
        "i-0123456789abcdef0",
        "cmd-1",
        CommandStatus::Success,
        LifecycleTransition::Launching,
    );
    c.bench_function("cluster_launch_two_events", |b| {
        let mut model = ClusterNode::new(MemoryDns::default());
        b.iter_batched(
            || (node("finished_cloud_init"), LocalEffects::new()),
            |((store, mut record), effects)| {
                run_ready(dispatch(&mut model, &store, &mut record, &launch, &effects)).unwrap();
                let report =
                    run_ready(dispatch(&mut model, &store, &mut record, &result, &effects))
                        .unwrap();
                black_box((report, store, record, effects))
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(dispatch_benches, benches);
criterion_main!(dispatch_benches);
