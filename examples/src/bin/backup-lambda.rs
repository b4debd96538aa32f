//! The nightly backup as a Lambda. `LIFECYCLE_TABLE` names the node table,
//! `BACKUP_INSTANCE` the instance holding the data, `BACKUP_DESTINATION` where the backup goes.

use lifecycle_examples::backup::NightlyBackup;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let instance = std::env::var("BACKUP_INSTANCE")
        .map_err(|_| "BACKUP_INSTANCE is not set: name the instance holding the data")?;
    let destination = std::env::var("BACKUP_DESTINATION")
        .map_err(|_| "BACKUP_DESTINATION is not set: say where the backup goes")?;
    lifecycle_aws::run(move || NightlyBackup {
        instance: instance.clone(),
        destination: destination.clone(),
    })
    .await
}
