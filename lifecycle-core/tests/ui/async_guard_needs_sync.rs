// A model needs only `Send`, but an async guard holds `&self` across its await, so a model with
// one must be `Sync` as well: one error, at the guard.
use lifecycle_core::{Context, lifecycle_model};

pub struct Node {
    checks: std::cell::Cell<u32>,
}

#[lifecycle_model(
    states(FinishedCloudInit, Ready, Failed),
    initial = FinishedCloudInit,
    terminal(Ready, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Ready, on(launching), when(healthy))]
    async fn start(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    async fn healthy(&self, ctx: &Context<'_>) -> bool {
        self.checks.set(self.checks.get() + 1);
        ctx.record().ident.starts_with("i-")
    }
}

fn main() {}
