// A model the dispatcher cannot move across threads: said once, at the model's name, and not
// again by the code that uses the model (its tests, its typestate API) or by the generated
// futures that hold it.
use lifecycle_core::{Context, lifecycle_model};

pub struct Node {
    seen: std::rc::Rc<u32>,
}

#[lifecycle_model(
    states(FinishedCloudInit, Ready, Failed),
    initial = FinishedCloudInit,
    terminal(Ready, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Ready)]
    async fn start(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        let _ = self.seen.clone();
        Ok(())
    }
}

fn main() {
    use lifecycle_core::{Start, testing::Harness};
    let mut harness = Harness::new(Node { seen: Default::default() })
        .with_instance("i-1", NodeState::FinishedCloudInit);
    let _ = lifecycle_core::testing::block_on(harness.launch("i-1"));
    let mut node = Node { seen: Default::default() };
    let _handle = NodeHandle::new(&mut node);
}
