//! Dispatch speed on the in-memory store.
//!
//! `cargo bench -p lifecycle-tests --bench dispatch`
//!
//! - `launch_13_transitions`: one launching event through a 13-transition model, from the
//!   initial state to `ready`, every state change a compare-and-set (target ≤ 2 µs; the
//!   original Python library takes about 6 ms per event).
//! - `cluster_launch_two_events`: the cluster example's launch: the launching event (sends the
//!   join command, waits) and the command result (four more transitions to `ready`).
//! - `launch_from_json_bytes`: the Lambda's whole path for one launching event: EventBridge JSON
//!   bytes decoded by `lifecycle-aws` (`Runtime::handle_bytes`, as the Lambda does), the record loaded from the in-memory node table,
//!   13 transitions, the lifecycle action completed (a no-op Auto Scaling), the answer built
//!   (target ≤ 5 µs).
//! - `launch_from_json_bytes_metrics`: the same with metrics on (each EMF line built and
//!   handed to a sink), as the Lambda runs.
//! - `original_docker_swarm_sns`: the work of the original library's own
//!   `test_docker_transitions_for_new_node`, on the Lambda's path: its SNS-wrapped fixture
//!   event (bytes) decoded, its node record loaded from the in-memory node table, its
//!   docker-swarm model run through 13 states with 5 task errors and failure handling, the
//!   lifecycle action completed ABANDON, the answer built (target ≤ 5 µs; the original does it
//!   in milliseconds: `scripts/bench-original`).
//! - `decode_original_sns_fixture`: the decoding part of `original_docker_swarm_sns` alone
//!   (the SNS envelope and the EventBridge event in its `Message`).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use lifecycle_aws::actions::{ActionError, Completed, LifecycleActions};
use lifecycle_aws::effects::CommandSender;
use lifecycle_aws::runtime::Runtime;
use lifecycle_aws::store::MemoryTable;
use lifecycle_core::{
    CommandRequest, CommandStatus, EffectError, LifecycleAction, LifecycleResult,
    LifecycleTransition, MemoryEffects, MemoryStore, Record, dispatch,
};
use lifecycle_examples::cluster::{ClusterNode, MemoryDns};
use lifecycle_tests::{Launch, command_result, launching};

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

fn node(state: &str) -> (MemoryStore, Record) {
    let store = MemoryStore::new();
    let record = Record::new("i-0123456789abcdef0", state)
        .with("ItemType", "worker")
        .with("InstanceIp", "10.3.5.44");
    store.insert(record.clone());
    (store, record)
}

fn benches(c: &mut Criterion) {
    let effects = MemoryEffects::new();
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

    // The id MemoryEffects gives the first command it sends: the one the record waits for.
    let result = command_result(
        "i-0123456789abcdef0",
        "local-command-1",
        CommandStatus::Success,
        LifecycleTransition::Launching,
    );
    {
        let mut model = ClusterNode::new(MemoryDns::default());
        let ((store, mut record), effects) = (node("finished_cloud_init"), MemoryEffects::new());
        run_ready(dispatch(&mut model, &store, &mut record, &launch, &effects)).unwrap();
        let report =
            run_ready(dispatch(&mut model, &store, &mut record, &result, &effects)).unwrap();
        assert_eq!(
            record.state, "ready",
            "the benchmark's result is not applied: {report:?}"
        );
    }
    c.bench_function("cluster_launch_two_events", |b| {
        let mut model = ClusterNode::new(MemoryDns::default());
        b.iter_batched(
            || (node("finished_cloud_init"), MemoryEffects::new()),
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

/// Auto Scaling that accepts everything at once.
struct Accepting;

#[async_trait::async_trait]
impl LifecycleActions for Accepting {
    async fn complete(
        &self,
        _: &LifecycleAction,
        _: Option<&str>,
        _: LifecycleResult,
    ) -> Result<Completed, ActionError> {
        Ok(Completed::Done)
    }

    async fn heartbeat(
        &self,
        _: &LifecycleAction,
        _: Option<&str>,
    ) -> Result<Completed, ActionError> {
        Ok(Completed::Done)
    }
}

/// No commands: the 13-transition launch sends none.
struct NoCommands;

#[async_trait::async_trait]
impl CommandSender for NoCommands {
    async fn send(&self, _: &CommandRequest) -> Result<String, EffectError> {
        Err(EffectError::new(
            "send_command",
            "no commands in this benchmark",
        ))
    }

    async fn cancel(&self, _: &str) -> Result<(), EffectError> {
        Ok(())
    }
}

fn from_json(c: &mut Criterion) {
    let bytes = br#"{"version":"0","id":"3b5a0e8a-1b7b-4ae4-8bd2-0f1e2a3b4c5d","detail-type":"EC2 Instance-launch Lifecycle Action","source":"aws.autoscaling","account":"123456789012","time":"2026-11-25T10:00:00Z","region":"eu-central-1","resources":["arn:aws:autoscaling:eu-central-1:123456789012:autoScalingGroup:0e5f:autoScalingGroupName/workers"],"detail":{"LifecycleActionToken":"87654321-4321-4321-4321-210987654321","AutoScalingGroupName":"workers","LifecycleHookName":"workers-launch","EC2InstanceId":"i-0123456789abcdef0","LifecycleTransition":"autoscaling:EC2_INSTANCE_LAUNCHING","NotificationMetadata":"{\"type\": \"worker\"}"}}"#;
    let runtime = Runtime::with_parts(
        MemoryTable::new(),
        std::sync::Arc::new(NoCommands),
        std::sync::Arc::new(Accepting),
        Launch::default,
    );
    let fresh = Record::new("i-0123456789abcdef0", "finished_cloud_init")
        .with("ItemType", "worker")
        .with("InstanceIp", "10.3.5.44");
    c.bench_function("launch_from_json_bytes", |b| {
        b.iter_batched(
            || runtime.store().records().insert(fresh.clone()),
            |()| {
                let answer = run_ready(runtime.handle_bytes(black_box(bytes))).unwrap();
                // The answer as the Lambda returns it: JSON text.
                black_box(serde_json::to_vec(&answer).unwrap())
            },
            BatchSize::SmallInput,
        )
    });
    // The same with metrics on, as the Lambda runs (LIFECYCLE_METRICS=on): each line built and
    // handed to a sink that keeps its length (stdout's write is the Lambda's I/O, not ours).
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = written.clone();
    let metered = Runtime::with_parts(
        MemoryTable::new(),
        std::sync::Arc::new(NoCommands),
        std::sync::Arc::new(Accepting),
        Launch::default,
    )
    .with_metrics(lifecycle_aws::metrics::Metrics::to(std::sync::Arc::new(
        move |line: &str| {
            counted.fetch_add(line.len(), std::sync::atomic::Ordering::Relaxed);
        },
    )));
    c.bench_function("launch_from_json_bytes_metrics", |b| {
        b.iter_batched(
            || metered.store().records().insert(fresh.clone()),
            |()| {
                let answer = run_ready(metered.handle_bytes(black_box(bytes))).unwrap();
                black_box(serde_json::to_vec(&answer).unwrap())
            },
            BatchSize::SmallInput,
        )
    });
    assert!(
        written.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "metrics were written"
    );
}

fn original(c: &mut Criterion) {
    use lifecycle_tests::original::{DockerSwarm, FIXTURE_INSTANCE, fixture_node, seed_fixture};
    let bytes = seed_fixture("autoscaling_event.json");
    let runtime = Runtime::with_parts(
        MemoryTable::new(),
        std::sync::Arc::new(NoCommands),
        std::sync::Arc::new(Accepting),
        DockerSwarm::default,
    );
    c.bench_function("decode_original_sns_fixture", |b| {
        b.iter(|| black_box(lifecycle_aws::decode::decode_event(black_box(&bytes))))
    });
    let node = fixture_node(FIXTURE_INSTANCE);
    c.bench_function("original_docker_swarm_sns", |b| {
        b.iter_batched(
            || runtime.store().records().insert(node.clone()),
            |()| {
                let answer = run_ready(runtime.handle_bytes(black_box(&bytes))).unwrap();
                black_box(serde_json::to_vec(&answer).unwrap())
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(dispatch_benches, benches, from_json, original);
criterion_main!(dispatch_benches);
