// Triggers that can never fire, and a lifecycle that would complete before its command ran.
use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(FinishedCloudInit, Joining, Joined, Draining, Backup, Done, Failed),
    initial = FinishedCloudInit,
    schedules(Backup),
    terminal(Done, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    // Sends the join command, but does not `wait`: the event would settle in Joining and
    // complete the launch before the node joined.
    #[transition(from = FinishedCloudInit, to = Joining, on(launching))]
    async fn join(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Joining, to = Joined, on(command))]
    async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    // A termination is refused while the launch has not run.
    #[transition(from = FinishedCloudInit, to = Draining, on(terminating))]
    async fn drain_early(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Joined, to = Draining, on(terminating), when(busy), unless(busy))]
    async fn drain(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = Draining, to = Done)]
    async fn drained(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    // The rule is `backup`: no rule named `backups` starts this model.
    #[transition(from = Backup, to = Done, on(scheduled = "backups"))]
    async fn back_up(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    fn busy(&self) -> bool {
        false
    }
}

fn main() {}
