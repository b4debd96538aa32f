// The original library's keys, written out of habit, get their names here.
use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(FinishedCloudInit, Ready, Failed),
    initial = FinishedCloudInit,
    terminal(Ready, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(source = FinishedCloudInit, dest = Ready, conditions(ok), stop_after_state_change)]
    async fn start(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = FinishedCloudInit, to = Ready, name = "go", wiat)]
    async fn go(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    fn ok(&self) -> bool {
        true
    }
}

fn main() {}
