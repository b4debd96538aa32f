// A state declared twice is one mistake: no "unreachable" or "no way out" follows from it.
use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(New, FinishedCloudInit, Ready, Ready, Failed),
    initial = FinishedCloudInit,
    before_initial(New, Pending),
    external(New),
    terminal(Ready, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Ready)]
    async fn start(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

fn main() {}
