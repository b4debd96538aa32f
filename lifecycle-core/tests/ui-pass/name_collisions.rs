// Tasks may take any name, including the names of the typestate handle's own operations:
// those live on `Typestate` and `Start`, and are reached through the traits.
use lifecycle_core::{Context, Event, MemoryEffects, Record, Start, Typestate, lifecycle_model};

#[derive(Default)]
pub struct Node {
    ran: Vec<&'static str>,
}

#[lifecycle_model(
    states(A, B, C, D, E, F, G),
    initial = A,
    terminal(G),
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = A, to = B, ignore_errors)]
    async fn new(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.ran.push("new");
        Ok(())
    }

    #[transition(from = B, to = C, ignore_errors)]
    async fn resume(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.ran.push("resume");
        Ok(())
    }

    #[transition(from = C, to = D, ignore_errors)]
    async fn state(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.ran.push("state");
        Ok(())
    }

    #[transition(from = D, to = E, ignore_errors)]
    async fn model(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.ran.push("model");
        Ok(())
    }

    #[transition(from = E, to = F, ignore_errors)]
    async fn model_mut(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.ran.push("model_mut");
        Ok(())
    }

    #[transition(from = F, to = G, ignore_errors)]
    async fn into_model(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.ran.push("into_model");
        Ok(())
    }
}

fn main() {
    lifecycle_core::testing::block_on(async {
        let mut node = Node::default();
        let event = Event::scheduled("e-1", "manual");
        let mut record = Record::new("i-1", "a");
        let effects = MemoryEffects::new();
        let mut ctx = Context::new(&event, &mut record, &effects);
        // The initial state has a task `new`: the constructor is reached through `Start`.
        let a = <NodeHandle<_> as Start<_>>::new(&mut node);
        assert_eq!(Typestate::state(&a), NodeState::A);
        let b = a.new(&mut ctx).await.unwrap();
        let c = b.resume(&mut ctx).await.unwrap();
        let d = c.state(&mut ctx).await.unwrap();
        let e = d.model(&mut ctx).await.unwrap();
        let f = e.model_mut(&mut ctx).await.unwrap();
        assert_eq!(Typestate::model(&f).ran.len(), 5);
        let g = f.into_model(&mut ctx).await.unwrap();
        assert_eq!(Typestate::state(&g), NodeState::G);
        let node = Typestate::into_model(g);
        assert_eq!(
            node.ran,
            ["new", "resume", "state", "model", "model_mut", "into_model"]
        );
        assert_eq!(ctx.state(), "g");
    });
}
