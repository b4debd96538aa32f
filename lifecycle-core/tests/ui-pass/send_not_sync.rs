// A model that is `Send` but not `Sync` (a `Cell`; sync guards only): the dispatcher holds it by
// `&mut`, so it compiles, its dispatch future is `Send` (what `tokio::spawn` and Lambda need),
// and it runs.
use std::cell::Cell;

use lifecycle_core::testing::Harness;
use lifecycle_core::{Context, LifecycleResult, lifecycle_model};

#[derive(Default)]
pub struct Node {
    checks: Cell<u32>,
}

#[lifecycle_model(
    states(FinishedCloudInit, Ready, Failed),
    initial = FinishedCloudInit,
    terminal(Ready, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Ready, on(launching), when(healthy))]
    async fn start(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.checks.set(self.checks.get() + 1);
        Ok(())
    }

    fn healthy(&self) -> bool {
        self.checks.set(self.checks.get() + 1);
        true
    }
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

fn main() {
    let mut harness = Harness::new(Node::default()).with_instance("i-1", NodeState::FinishedCloudInit);
    let launch = lifecycle_core::testing::launching("i-1");
    let store = lifecycle_core::MemoryStore::new();
    store.insert(lifecycle_core::Record::new("i-1", "finished_cloud_init"));
    let effects = lifecycle_core::MemoryEffects::new();
    let mut model = Node::default();
    let (record, report) = lifecycle_core::testing::block_on(assert_send(
        lifecycle_core::load_and_dispatch(&mut model, &store, "i-1", &launch, &effects),
    ))
    .unwrap();
    assert_eq!((record.state.as_str(), report.end), ("ready", NodeState::Ready));
    assert_eq!(model.checks.get(), 2, "the guard and the task ran");
    lifecycle_core::testing::block_on(harness.launch("i-1")).unwrap();
    assert_eq!(harness.completions()[0].result, LifecycleResult::Continue);
}
