use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(Joined, Labeled, Failed),
    initial = Joined,
    terminal(Labeled, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = Joined, to = Labeled)]
    async fn skip_labels(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    // Never fires: `skip_labels` has no guard and comes first.
    #[transition(from = Joined, to = Labeled, when(is_worker))]
    async fn label_worker(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    fn is_worker(&self) -> bool {
        true
    }
}

fn main() {}
