use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(A, B, Failed),
    initial = A,
    terminal(B, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = A, to = B, when(is_wroker), before(notify), after(publish_dns))]
    async fn go(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    fn is_worker(&self) -> bool {
        true
    }

    // A guard only looks at the model.
    #[allow(dead_code)]
    fn mutating_guard(&mut self) -> bool {
        true
    }

    #[transition(from = A, to = B, when(mutating_guard))]
    async fn other(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

fn main() {}
