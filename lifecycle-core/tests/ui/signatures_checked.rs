// Signatures the dispatcher cannot call, reported at the parameter or type at fault.
use lifecycle_core::{Context, lifecycle_model};

pub struct Node {
    // Not `Sync`: the dispatcher shares the model across awaits in Lambda.
    seen: std::cell::Cell<u32>,
}

#[lifecycle_model(
    states(FinishedCloudInit, Ready, Failed),
    initial = FinishedCloudInit,
    terminal(Ready, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Ready, when(ready), unless(counted))]
    async fn start(&mut self, ctx: &mut String) -> Result<(), std::fmt::Error> {
        let _ = ctx;
        Ok(())
    }

    fn ready(&self, ctx: &mut Context<'_>) -> bool {
        let _ = ctx;
        true
    }

    fn counted(&self) -> u32 {
        self.seen.get()
    }
}

fn main() {}
