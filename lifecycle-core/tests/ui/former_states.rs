// Mistakes in what a model says of its earlier versions' states: a former name a state still
// stores, a target that is no state, a former name given twice, and `=>` where `=` is meant.
use lifecycle_core::{Context, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(FinishedCloudInit, JoiningCluster, Ready, Failed),
    initial = FinishedCloudInit,
    terminal(Ready, Failed),
    failure = Failed,
    renamed(joining = JoiningClustr, ready = Ready, pending = Failed),
    retired(labeling => Failed, pending => Failed),
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = JoiningCluster, ignore_errors)]
    async fn join(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from = JoiningCluster, to = Ready, ignore_errors)]
    async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

pub struct Arrow;

#[lifecycle_model(
    states(Start, Done),
    initial = Start,
    terminal(Done),
    renamed(begin => Start),
    error = std::fmt::Error,
)]
impl Arrow {
    #[transition(from = Start, to = Done, ignore_errors)]
    async fn go(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

fn main() {}
