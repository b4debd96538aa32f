use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(FinishedCloudInit, Joining, Ready, Orphan, Failed),
    initial = FinishedCloudInit,
    terminal(Ready, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    // `Joining` is entered but never left; `Orphan` is never entered.
    #[transition(from = FinishedCloudInit, to = Joining)]
    async fn join_cluster(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Orphan, to = Ready)]
    async fn finish(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

fn main() {}
