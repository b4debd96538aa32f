// Signatures the dispatcher cannot call, reported at the parameter or type at fault.
use lifecycle_core::{Context, lifecycle_model};

pub struct Node {
    // `Send` but not `Sync`: a model needs only `Send` (the dispatcher holds it by `&mut`), so
    // this field adds no error.
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
