use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

// Three unrelated mistakes are reported together, and the code below, which uses the state
// enum and the methods, adds no follow-on errors.
#[lifecycle_model(
    states(Start, Ready, Failed),
    initial = Start,
    terminal(Ready, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = Start, to = Redy)]
    async fn go(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Start, to = Ready, when(missing_guard))]
    fn not_async(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    pub fn helper(&self) -> NodeState {
        NodeState::Ready
    }
}

fn main() {
    let _ = Node.helper();
}
