// A model the dispatcher cannot move across threads: said at the model's name.
use lifecycle_core::{Context, lifecycle_model};

pub struct Node {
    seen: std::rc::Rc<u32>,
}

#[lifecycle_model(
    states(FinishedCloudInit, Ready, Failed),
    initial = FinishedCloudInit,
    terminal(Ready, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Ready)]
    async fn start(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        let _ = self.seen.clone();
        Ok(())
    }
}

fn main() {}
