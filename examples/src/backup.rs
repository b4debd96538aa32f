//! A nightly backup, started by a scheduled rule named `backup`: run the backup script on the
//! instance that holds the data, wait for the command's result, and record when it succeeded.

use lifecycle_core::{CommandRequest, Context, EffectError, lifecycle_model};

/// What can go wrong in a backup's tasks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    /// The backup command could not be sent.
    #[error(transparent)]
    Effect(#[from] EffectError),
}

/// The SSM document the backup runs (`deploy/template.yaml` defines it): its one parameter,
/// `Destination`, reaches the script only as the environment variable `SSM_Destination`.
pub const BACKUP_DOCUMENT: &str = "LifecycleBackup";

/// The backup machine. Its record in the node table is `backup`.
#[derive(Debug, Clone)]
pub struct NightlyBackup {
    /// The instance the backup script runs on.
    pub instance: String,
    /// Where the script puts the backup: the document's `Destination` parameter, never spliced
    /// into a shell.
    pub destination: String,
}

#[lifecycle_model(
    states(Backup, BackingUp, Done, Failure, Failed),
    schedules(Backup),
    terminal(Done, Failed),
    failure = Failure,
    error = BackupError,
)]
impl NightlyBackup {
    /// Starts the backup script and waits for its result.
    #[transition(from = Backup, to = BackingUp, on(scheduled = "backup"), wait)]
    async fn start_backup(&mut self, ctx: &mut Context<'_>) -> Result<(), BackupError> {
        let command = ctx
            .send_command(
                CommandRequest::new(BACKUP_DOCUMENT, [self.instance.clone()])
                    .parameter("Destination", [self.destination.clone()])
                    .comment("nightly backup"),
            )
            .await?;
        ctx.set("BackupCommand", command);
        Ok(())
    }

    #[transition(from = BackingUp, to = Done, on(command))]
    async fn backed_up(&mut self, ctx: &mut Context<'_>) -> Result<(), BackupError> {
        ctx.set("LastBackup", ctx.event().id.clone());
        Ok(())
    }

    /// A failed backup is recorded; tomorrow's run starts over.
    #[transition(from = Failure, to = Failed, ignore_errors)]
    async fn give_up(&mut self, ctx: &mut Context<'_>) -> Result<(), BackupError> {
        ctx.set("LastFailure", ctx.event().id.clone());
        Ok(())
    }
}
