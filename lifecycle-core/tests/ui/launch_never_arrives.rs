// `on(launching)` where no launch ever comes: the launch waits in `Joining` for its command,
// so the next event there is the command's result, never a launching event. The wait would
// be stuck for ever. (From `Warmed`, a launch from the warm pool does arrive: no error.)
use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(FinishedCloudInit, Warmed, Joining, Ready, Failed),
    initial = FinishedCloudInit,
    terminal(Ready, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Warmed, on(launching(to = warm_pool)))]
    async fn warm_up(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from(FinishedCloudInit, Warmed), to = Joining, on(launching(to = auto_scaling_group)), wait)]
    async fn join(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    // Should be `on(command)`: the launch stopped in `Joining` to wait for it.
    #[transition(from = Joining, to = Ready, on(launching))]
    async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

fn main() {}
