//! An in-memory node table, so the Lambda's code path (decode, runtime, dispatch) runs
//! locally with no AWS account.

use std::collections::HashMap;
use std::sync::Mutex;

use lifecycle_core::{
    CasOutcome, ClaimOutcome, ClaimRequest, MemoryStore, Record, StateChange, Store,
};

use crate::store::{
    CommandRegistration, NodeTable, PendingLifecycle, RegisteredCommand, StoreError, attr,
};

/// [`NodeTable`] in memory: records in a [`MemoryStore`], commands beside them.
///
/// ```
/// use lifecycle_aws::local::MemoryTable;
/// use lifecycle_aws::store::NodeTable;
/// use lifecycle_core::{Record, Store};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let table = MemoryTable::new();
/// table.records().insert(Record::new("i-1", "finished_cloud_init"));
/// assert_eq!(table.load("i-1").await.unwrap().unwrap().state, "finished_cloud_init");
/// assert!(table.create("backup", "backup").await.unwrap());
/// # });
/// ```
#[derive(Debug, Default)]
pub struct MemoryTable {
    records: MemoryStore,
    commands: Mutex<HashMap<String, RegisteredCommand>>,
}

impl MemoryTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The records, to seed and inspect.
    pub fn records(&self) -> &MemoryStore {
        &self.records
    }

    fn commands(&self) -> std::sync::MutexGuard<'_, HashMap<String, RegisteredCommand>> {
        self.commands.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for MemoryTable {
    type Error = StoreError;

    async fn load(&self, ident: &str) -> Result<Option<Record>, StoreError> {
        Ok(self
            .records
            .load(ident)
            .await
            .unwrap_or_else(|never| match never {}))
    }

    /// Also takes a parked launch off the record, as [`DynamoStore`](crate::store::DynamoStore)
    /// does.
    async fn compare_and_set(&self, change: StateChange<'_>) -> Result<CasOutcome, StoreError> {
        let outcome = self
            .records
            .compare_and_set(change)
            .await
            .unwrap_or_else(|never| match never {});
        if let CasOutcome::Applied { .. } = outcome {
            self.records.update(change.ident, |record| {
                record.attributes.remove(attr::PENDING_LIFECYCLE)
            });
        }
        Ok(outcome)
    }
}

impl NodeTable for MemoryTable {
    async fn claim(
        &self,
        request: ClaimRequest<'_>,
        until: u64,
        now: u64,
    ) -> Result<ClaimOutcome, StoreError> {
        let next = request.version + 1;
        let outcome = self.records.update(request.ident, |record| {
            if record.version == next && record.get_str(attr::WRITE_TOKEN) == Some(request.token) {
                return ClaimOutcome::Claimed { version: next };
            }
            if record.state != request.state || record.version != request.version {
                return ClaimOutcome::Lost;
            }
            if record.claimed_by().is_some() && record.claimed_until().unwrap_or(0) >= now {
                return ClaimOutcome::Busy {
                    until: record.claimed_until().unwrap_or(0),
                };
            }
            record.version = next;
            let attributes = &mut record.attributes;
            attributes.insert(attr::CLAIMED_BY.into(), request.holder.into());
            attributes.insert(attr::CLAIMED_UNTIL.into(), until.into());
            attributes.insert(attr::WRITE_TOKEN.into(), request.token.into());
            ClaimOutcome::Claimed { version: next }
        });
        Ok(outcome.unwrap_or(ClaimOutcome::Lost))
    }

    async fn release_claim(
        &self,
        ident: &str,
        holder: &str,
        version: u64,
    ) -> Result<(), StoreError> {
        self.records.update(ident, |record| {
            if record.claimed_by() == Some(holder) && record.version == version {
                record
                    .attributes
                    .insert(attr::CLAIMED_UNTIL.into(), 0.into());
            }
        });
        Ok(())
    }

    async fn register_command(
        &self,
        registration: CommandRegistration<'_>,
    ) -> Result<(), StoreError> {
        let mut commands = self.commands();
        if let Some(registered) = commands.get(registration.command_id)
            && registered.marker.as_deref() != Some(registration.marker)
        {
            return Err(StoreError::Malformed {
                ident: registration.command_id.to_owned(),
                problem: "command registered twice".into(),
            });
        }
        let instance_id = registration
            .targets
            .first()
            .cloned()
            .or_else(|| registration.lifecycle.map(|l| l.ec2_instance_id.clone()))
            .unwrap_or_default();
        commands.insert(
            registration.command_id.to_owned(),
            RegisteredCommand {
                command_id: registration.command_id.to_owned(),
                owner: registration.owner.to_owned(),
                instance_id,
                lifecycle: registration.lifecycle.cloned(),
                event_id: Some(registration.event_id.to_owned()),
                registered_at: Some(registration.registered_at),
                sent_at_version: Some(registration.sent_at_version),
                marker: Some(registration.marker.to_owned()),
            },
        );
        Ok(())
    }

    async fn consume_command(
        &self,
        command_id: &str,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        Ok(self.commands().remove(command_id))
    }

    async fn first_seen(&self, command_id: &str, now: u64) -> Result<u64, StoreError> {
        Ok(self
            .commands()
            .get_mut(command_id)
            .map_or(now, |command| *command.registered_at.get_or_insert(now)))
    }

    async fn peek_command(
        &self,
        command_id: &str,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        Ok(self.commands().get(command_id).cloned())
    }

    async fn registered_commands(&self) -> Result<Vec<RegisteredCommand>, StoreError> {
        let mut commands: Vec<RegisteredCommand> = self.commands().values().cloned().collect();
        commands.sort_by(|a, b| a.command_id.cmp(&b.command_id));
        Ok(commands)
    }

    async fn park_lifecycle(
        &self,
        ident: &str,
        waiting: &[&str],
        pending: &PendingLifecycle,
    ) -> Result<bool, StoreError> {
        let mut value =
            serde_json::to_value(&pending.action).expect("a lifecycle action serialises");
        value["EventId"] = pending.event_id.clone().into();
        Ok(self
            .records
            .update(ident, |record| {
                let parked = waiting.contains(&record.state.as_str());
                if parked {
                    record
                        .attributes
                        .insert(attr::PENDING_LIFECYCLE.into(), value);
                }
                parked
            })
            .unwrap_or(false))
    }

    async fn create(&self, ident: &str, state: &str) -> Result<bool, StoreError> {
        let mut record = Record::new(ident, state);
        record.version = 1;
        Ok(self.records.insert_new(record))
    }
}
