// An internal transition on command results in a state that waits for its command, without
// `stop`: the first result it handles (a partial one, say) would bring the event to rest and
// complete the lifecycle action before the command has finished.
use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(FinishedCloudInit, Joining, Ready, Failed),
    initial = FinishedCloudInit,
    terminal(Ready, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Joining, on(launching), wait)]
    async fn join(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    // Notes the command's progress, and stays in `Joining`: needs `stop`.
    #[transition(from = Joining, on(command), when(still_running))]
    async fn note_progress(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Joining, to = Ready, on(command))]
    async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    fn still_running(&self) -> bool {
        true
    }
}

fn main() {}
