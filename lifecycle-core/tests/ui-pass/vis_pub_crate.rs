// `vis` sets how visible the generated items are, whatever the model type's own visibility:
// a public model may keep its states to the crate, and a private model gets public-looking
// items (the default) without "private type in public interface" errors.
pub mod nodes {
    use lifecycle_core::{Context, lifecycle_model};

    pub struct Node;

    #[lifecycle_model(
        states(FinishedCloudInit, Ready),
        initial = FinishedCloudInit,
        terminal(Ready),
        error = std::fmt::Error,
        vis = pub(crate),
    )]
    impl Node {
        #[transition(from = FinishedCloudInit, to = Ready, ignore_errors)]
        async fn start(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
            Ok(())
        }
    }

    struct Hidden;

    #[lifecycle_model(states(Idle, Done), initial = Idle, terminal(Done), error = std::fmt::Error)]
    impl Hidden {
        #[transition(from = Idle, to = Done, ignore_errors)]
        async fn finish(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
            Ok(())
        }
    }

    pub fn hidden_states() -> usize {
        <HiddenState as lifecycle_core::State>::ALL.len()
    }

    pub fn hidden_initial() -> &'static str {
        lifecycle_core::State::name(
            <Hidden as lifecycle_core::LifecycleModel>::DEFINITION
                .initial
                .unwrap(),
        )
    }
}

fn main() {
    use lifecycle_core::{LifecycleModel, State};
    // Visible in the crate: the state enum, the handle and the state module.
    assert_eq!(nodes::NodeState::Ready.name(), "ready");
    let _marker = nodes::node_state::Ready;
    assert_eq!(
        nodes::Node::DEFINITION.initial,
        Some(nodes::NodeState::FinishedCloudInit)
    );
    let _handle: Option<nodes::NodeHandle<'_, nodes::node_state::Ready>> = None;
    assert_eq!(nodes::hidden_states(), 2);
    assert_eq!(nodes::hidden_initial(), "idle");
}
