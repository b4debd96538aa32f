// A task that holds something not `Send` across an await: one error, at the task, with rustc's
// note on the value and the await.
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
    #[transition(from = FinishedCloudInit, to = Ready, on(launching))]
    async fn start(&mut self, ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        let seen = std::rc::Rc::new(1);
        ctx.heartbeat().await.map_err(|_| std::fmt::Error)?;
        drop(seen);
        Ok(())
    }
}

fn main() {}
