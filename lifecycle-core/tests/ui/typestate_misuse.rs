use lifecycle_core::{Context, Event, MemoryEffects, Record, Start, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(FinishedCloudInit, Joining, Ready, Failed),
    initial = FinishedCloudInit,
    terminal(Ready, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Joining)]
    async fn join_cluster(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Joining, to = Ready)]
    async fn finish(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

async fn run(ctx: &mut Context<'_>) {
    let mut node = Node;
    let joining = NodeHandle::new(&mut node).join_cluster(ctx).await.unwrap();
    let ready = joining.finish(ctx).await.unwrap();
    // `join_cluster` is not declared from `Ready`.
    ready.join_cluster(ctx).await.unwrap();
}

async fn wrong_destination(ctx: &mut Context<'_>) {
    let mut node = Node;
    // `join_cluster` leads to `Joining`, not `Ready`.
    let _ready: NodeHandle<'_, node_state::Ready> =
        NodeHandle::new(&mut node).join_cluster(ctx).await.unwrap();
}

fn main() {
    let event = Event::scheduled("e", "x");
    let mut record = Record::new("i", "finished_cloud_init");
    let effects = MemoryEffects::new();
    let mut ctx = Context::new(&event, &mut record, &effects);
    let _ = run(&mut ctx);
    let _ = wrong_destination(&mut ctx);
}
