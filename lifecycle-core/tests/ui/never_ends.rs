// Liveness: a cycle no event can leave, and a cycle one event can go round for ever.
use lifecycle_core::{Context, lifecycle_model};

pub struct Spin;

#[lifecycle_model(
    states(FinishedCloudInit, Left, Right, Checking, Retrying, Done, Failed),
    initial = FinishedCloudInit,
    terminal(Done, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Spin {
    #[transition(from = FinishedCloudInit, to = Checking, on(launching))]
    async fn start(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    // A way out that only a guard opens: if it never says yes, a launching event goes round
    // Checking → Retrying → Checking for ever.
    #[transition(from = Checking, to = Done, when(healthy))]
    async fn finish(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Checking, to = Retrying)]
    async fn retry(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Retrying, to = Left, on(terminating))]
    async fn wander(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Retrying, to = Checking)]
    async fn again(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    // Left and Right hand every event to each other: once there, nothing ever ends.
    #[transition(from = Left, to = Right)]
    async fn go_right(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Right, to = Left)]
    async fn go_left(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    fn healthy(&self) -> bool {
        true
    }
}

fn main() {}
