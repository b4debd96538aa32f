//! A worker of a group with a warm pool, on Spot, as the instance-events and reconciliation
//! tests run it.

use std::sync::Arc;

use lifecycle_aws::runtime::Runtime;
use lifecycle_aws::store::MemoryTable;
use lifecycle_aws::store::NodeTable;
use lifecycle_aws::testing::{MemoryAutoScaling, MemoryCommands};
use lifecycle_core::{CommandRequest, Context, EffectError, Record, lifecycle_model};

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct NodeError(#[from] EffectError);

/// A worker of a group with a warm pool, on Spot: prepared in the pool, joined in the group,
/// drained once whatever announces its end first.
pub struct Worker;

#[lifecycle_model(
    states(FinishedCloudInit, Warmed, Joining, Ready, Draining, Drained, Gone, Failed),
    initial = FinishedCloudInit,
    terminal(Gone, Failed),
    failure = Failed,
    error = NodeError,
)]
impl Worker {
    /// Into the warm pool: install and pull images, but join nothing: the pool stops it.
    #[transition(from = FinishedCloudInit, to = Warmed, on(launching(to = warm_pool)))]
    async fn prepare(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        ctx.set("Prepared", true);
        Ok(())
    }

    /// Into the group, new or from the warm pool: join.
    #[transition(
        from(FinishedCloudInit, Warmed),
        to = Joining,
        on(launching(to = auto_scaling_group)),
        wait
    )]
    async fn join(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        let instance = ctx.record().ident.clone();
        ctx.send_command(CommandRequest::new("ClusterJoin", [instance]))
            .await?;
        Ok(())
    }

    #[transition(from = Joining, to = Ready, on(command))]
    async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
        Ok(())
    }

    /// Whatever comes first: the Spot warning, the rebalance recommendation, a retirement, or
    /// the termination itself.
    #[transition(
        from = Ready,
        to = Draining,
        on(spot_interruption, rebalance, maintenance, terminating),
        wait
    )]
    async fn drain(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        let instance = ctx.record().ident.clone();
        ctx.send_command(CommandRequest::new("ClusterLeave", [instance]))
            .await?;
        Ok(())
    }

    #[transition(from = Draining, to = Drained, on(command))]
    async fn drained(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
        Ok(())
    }

    /// The drain's command failed: the node is let go all the same, and the record says so.
    #[transition(from = Draining, to = Drained, on(command), ignore_errors)]
    async fn drain_failed(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        ctx.set("DrainFailed", true);
        Ok(())
    }

    /// The termination that finds the drain done: nothing to do again.
    #[transition(from(Warmed, Drained), to = Gone, on(terminating))]
    async fn leave(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
        Ok(())
    }

    /// Terminated without a lifecycle action (outside the group, or the Spot reclaim):
    /// whatever the record was doing, it is over.
    #[transition(from(Warmed, Ready, Draining, Drained), to = Gone, on(instance_state = "terminated"))]
    async fn vanished(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        ctx.set("Vanished", true);
        Ok(())
    }
}

/// A node table holding `instances`, each registered by cloud-init (`finished_cloud_init`).
pub fn registered<I: AsRef<str>>(instances: impl IntoIterator<Item = I>) -> MemoryTable {
    let table = MemoryTable::new();
    for instance in instances {
        table
            .records()
            .insert(Record::new(instance.as_ref(), "finished_cloud_init"));
    }
    table
}

/// The worker's runtime on `table`.
pub type WorkerRuntime<T> = Runtime<Worker, fn() -> Worker, T>;

/// The worker on `table`, SSM recorded, and `aws` as Auto Scaling: asked before each
/// lifecycle event, and by the sweep for what waits in `groups`.
pub fn on_fleet<T: NodeTable>(
    table: T,
    aws: &Arc<MemoryAutoScaling>,
    groups: &[&str],
) -> (WorkerRuntime<T>, Arc<MemoryCommands>) {
    let commands = Arc::new(MemoryCommands::new());
    let runtime = Runtime::with_parts(
        table,
        commands.clone(),
        aws.clone(),
        (|| Worker) as fn() -> Worker,
    )
    .with_fleet(aws.clone())
    .with_groups(groups.iter().copied());
    (runtime, commands)
}
