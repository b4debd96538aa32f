// A model with one mistake (no failure state while a trigger can fail), and code that uses it
// as a model (a test's harness, its diagram): the mistake is the only error, not a cascade of
// "the trait bound `Node: LifecycleModel` is not satisfied" wherever the model is used.
use lifecycle_core::testing::{Harness, block_on};
use lifecycle_core::{Context, LifecycleModel, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(FinishedCloudInit, Ready),
    initial = FinishedCloudInit,
    terminal(Ready),
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Ready, on(launching))]
    async fn start(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

fn main() {
    println!("{}", Node::MERMAID);
    block_on(async {
        let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
        harness.launch("i-1").await.unwrap();
        assert_eq!(harness.state("i-1"), Some(NodeState::Ready));
    });
}
