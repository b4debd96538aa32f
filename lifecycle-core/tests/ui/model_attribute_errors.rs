use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

// No error type, a snake_case state, a state declared twice.
#[lifecycle_model(states(Start, finished, Start), initial = Start)]
impl Node {
    #[transition(from = Start, to = finished, ignore_errors)]
    async fn go(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

fn main() {}
