//! The nightly backup as a Lambda. `LIFECYCLE_TABLE` names the node table,
//! `BACKUP_INSTANCE` the instance holding the data, `BACKUP_DESTINATION` where the backup goes.

use lifecycle_aws::lambda::required_var;
use lifecycle_examples::backup::NightlyBackup;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let instance = required_var("BACKUP_INSTANCE", "the instance holding the data")?;
    let destination = required_var("BACKUP_DESTINATION", "where the backup goes")?;
    lifecycle_aws::run(move || NightlyBackup {
        instance: instance.clone(),
        destination: destination.clone(),
    })
    .await
}
