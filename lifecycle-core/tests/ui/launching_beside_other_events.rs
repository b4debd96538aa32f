// `launching` beside events that do fire the transition: the transition is alive, but its
// `launching` can never match there (the launch waits in `Joining`, and `Ready` is entered by
// the command's result): `terminating` was meant.
// One error, at the dead filter.
use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(FinishedCloudInit, Joining, Ready, Draining, Left, Failed),
    initial = FinishedCloudInit,
    terminal(Left, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Joining, on(launching), wait)]
    async fn join(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Joining, to = Ready, on(command))]
    async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Ready, to = Draining, on(spot_interruption, launching), wait)]
    async fn drain(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Draining, to = Left, on(command))]
    async fn left(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

fn main() {}
