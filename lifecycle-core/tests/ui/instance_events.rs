// The events of an instance's life beyond lifecycle hooks: misspelt names, places and states
// are caught where they are written, and a catch-all launch shadows a warm-pool one.
use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(FinishedCloudInit, Warmed, Ready, Draining, Gone, Failed),
    initial = FinishedCloudInit,
    terminal(Gone, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    // Declared first and unfiltered: it takes every launch, so the warm-pool one below
    // never fires from here.
    #[transition(from = FinishedCloudInit, to = Ready, on(launching))]
    async fn join(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = FinishedCloudInit, to = Warmed, on(launching(to = warm_pool)))]
    async fn prepare(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Warmed, to = Ready, on(launching(from = warmpool)))]
    async fn join_from_pool(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Ready, to = Draining, on(spot_interuption, launching(into = ec2)))]
    async fn drain(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Draining, to = Gone, on(instance_state = "terminatd"))]
    async fn gone(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

fn main() {}
