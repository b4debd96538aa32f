use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(Start, Ready, Done, Failed),
    initial = Start,
    terminal(Done, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = Start, to = Ready, when(fast))]
    #[transition(from = Start, to = Done)]
    async fn go(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Ready, to = Done)]
    async fn finish(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    fn fast(&self) -> bool {
        true
    }
}

fn main() {}
