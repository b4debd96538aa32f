// A state someone outside the model puts records in (an operator marks a node `Quarantined`):
// declared `external`, it needs no incoming transition, and events run there.
use lifecycle_core::{
    Context, LifecycleResult, MemoryEffects, MemoryStore, Record, StopReason, dispatch,
    lifecycle_model,
};

pub struct Node;

#[lifecycle_model(
    states(Pending, FinishedCloudInit, Ready, Quarantined, Removed, Failed),
    before_initial(Pending),
    initial = FinishedCloudInit,
    external(Quarantined),
    terminal(Removed, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Ready, on(launching))]
    async fn start(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from(Ready, Quarantined), to = Removed, on(terminating))]
    async fn remove(&mut self, ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        ctx.set("RemovedFrom", ctx.state().to_owned());
        Ok(())
    }
}

fn main() {
    use lifecycle_core::LifecycleModel;
    assert_eq!(Node::DEFINITION.external, &[NodeState::Quarantined]);
    lifecycle_core::testing::block_on(async {
        let store = MemoryStore::new();
        store.insert(Record::new("i-1", "quarantined"));
        let mut record = store.get("i-1").unwrap();
        let report = dispatch(
            &mut Node,
            &store,
            &mut record,
            &lifecycle_core::testing::terminating("i-1"),
            &MemoryEffects::new(),
        )
        .await
        .unwrap();
        assert_eq!(report.stop, StopReason::Finished);
        assert_eq!(report.end, NodeState::Removed);
        assert_eq!(report.lifecycle_result, Some(LifecycleResult::Continue));
        assert_eq!(store.get("i-1").unwrap().get_str("RemovedFrom"), Some("quarantined"));
    });
}
