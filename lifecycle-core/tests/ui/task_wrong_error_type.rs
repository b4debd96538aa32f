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
    #[transition(from = A, to = B)]
    async fn go(&mut self, _ctx: &mut Context<'_>) -> Result<(), String> {
        Ok(())
    }
}

fn main() {}
