use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

#[lifecycle_model(states(A, B, C), initial = A, terminal(C), error = std::fmt::Error)]
impl Node {
    #[transition(from = A, to = B, ignore_errors)]
    async fn first(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = B, to = C)]
    async fn second(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

fn main() {}
