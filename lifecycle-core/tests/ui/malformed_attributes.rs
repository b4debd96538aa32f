use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(A, B, Failed),
    initial = A,
    terminal(B, Failed),
    failure = Failed,
    error = std::fmt::Error,
    finall = B,
)]
impl Node {
    #[transition(from = A, to = B, stop = true, on(launching, rebooting))]
    async fn go(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = A, to = B, destination = B)]
    async fn other(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(to = B)]
    async fn no_source(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = A, wait)]
    async fn wait_in_place(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

fn main() {}
