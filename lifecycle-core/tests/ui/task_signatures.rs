use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(A, B, C, D, E, Failed),
    initial = A,
    terminal(E, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = A, to = B)]
    fn not_async(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = B, to = C)]
    async fn shared_self(&self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = C, to = D)]
    async fn no_context(&mut self) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = D, to = E)]
    async fn no_result(&mut self, _ctx: &mut Context<'_>) {}
}

fn main() {}
