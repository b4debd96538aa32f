//! An in-memory node table, so the Lambda's code path (decode, runtime, dispatch) runs
//! locally with no AWS account.
//!
//! ```
//! # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
//! lifecycle_aws::testing::block_on(async {
//!     let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
//!     runtime.handle(&launch).await.unwrap();
//!     assert_eq!(runtime.store().records().get("i-0abc123def4567890").unwrap().state, "joining_cluster");
//! });
//! ```

use std::collections::HashMap;
use std::sync::Mutex;

use lifecycle_core::{
    AttributeUpdate, CasOutcome, ClaimOutcome, ClaimRequest, MemoryStore, Record, StateChange,
    Store,
};

use crate::store::{
    CommandRegistration, DueWaits, NodeTable, PendingLifecycle, RegisteredCommand, StoreError,
    Wait, WaitCursor, attr, pending_from_value,
};

/// [`NodeTable`] in memory: records in a [`MemoryStore`], commands beside them.
///
/// ```
/// use lifecycle_aws::store::MemoryTable;
/// use lifecycle_aws::store::NodeTable;
/// use lifecycle_core::{Record, Store};
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let table = MemoryTable::new();
/// table.records().insert(Record::new("i-1", "finished_cloud_init"));
/// assert_eq!(table.load("i-1").await.unwrap().unwrap().state, "finished_cloud_init");
/// assert!(table.create("backup", "backup").await.unwrap());
/// });
/// ```
#[derive(Debug, Default)]
pub struct MemoryTable {
    records: MemoryStore,
    commands: Mutex<HashMap<String, RegisteredCommand>>,
    /// The model each registered command's lifecycle belongs to, and when it is next due for
    /// its sweep (its `WaitShard` and `DueAt`).
    due: Mutex<HashMap<String, (String, u64)>>,
}

impl MemoryTable {
    /// An empty table.
    ///
    /// ```
    /// let table = lifecycle_aws::store::MemoryTable::new();
    /// assert!(table.records().snapshot().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The records, to seed and inspect.
    ///
    /// ```
    /// use lifecycle_aws::store::MemoryTable;
    /// use lifecycle_core::Record;
    /// let table = MemoryTable::new();
    /// table.records().insert(Record::new("i-1", "finished_cloud_init"));
    /// assert_eq!(table.records().get("i-1").unwrap().state, "finished_cloud_init");
    /// ```
    pub fn records(&self) -> &MemoryStore {
        &self.records
    }

    fn commands(&self) -> std::sync::MutexGuard<'_, HashMap<String, RegisteredCommand>> {
        self.commands.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn due(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, u64)>> {
        self.due.lock().unwrap_or_else(|e| e.into_inner())
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
                for key in [
                    attr::PENDING_LIFECYCLE,
                    attr::WAIT_SHARD,
                    attr::DUE_AT,
                    attr::ALIVE_CHECK,
                ] {
                    record.attributes.remove(key);
                }
            });
        }
        Ok(outcome)
    }

    async fn update_attributes(
        &self,
        update: AttributeUpdate<'_>,
    ) -> Result<CasOutcome, StoreError> {
        Ok(self
            .records
            .update_attributes(update)
            .await
            .unwrap_or_else(|never| match never {}))
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
        if let Some(registered) = commands.get(registration.command_id) {
            if registered.marker.as_deref() != Some(registration.marker) {
                return Err(StoreError::Malformed {
                    ident: registration.command_id.to_owned(),
                    problem: "command registered twice".into(),
                });
            }
            // As DynamoDB's condition: a later claim's adoption is not taken back.
            if registered
                .sent_at_version
                .is_some_and(|v| v > registration.sent_at_version)
            {
                return Err(StoreError::Request {
                    operation: "PutItem",
                    table: "memory".into(),
                    message: "ConditionalCheckFailedException: registered by a later claim".into(),
                    transient: false,
                });
            }
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
        self.due().insert(
            registration.command_id.to_owned(),
            (registration.waiter.to_owned(), registration.due_at),
        );
        Ok(())
    }

    async fn consume_command(
        &self,
        command_id: &str,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        self.due().remove(command_id);
        Ok(self.commands().remove(command_id))
    }

    async fn withdraw_command(
        &self,
        command_id: &str,
        sent_at_version: u64,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        let mut commands = self.commands();
        if commands
            .get(command_id)
            .is_none_or(|c| c.sent_at_version != Some(sent_at_version))
        {
            return Ok(None);
        }
        self.due().remove(command_id);
        Ok(commands.remove(command_id))
    }

    async fn first_seen(
        &self,
        command_id: &str,
        waiter: &str,
        now: u64,
    ) -> Result<u64, StoreError> {
        let seen = self
            .commands()
            .get_mut(command_id)
            .map(|command| *command.registered_at.get_or_insert(now));
        if seen.is_some() {
            self.due()
                .entry(command_id.to_owned())
                .or_insert((waiter.to_owned(), now));
        }
        Ok(seen.unwrap_or(now))
    }

    async fn peek_command(
        &self,
        command_id: &str,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        Ok(self.commands().get(command_id).cloned())
    }

    async fn due_waits(
        &self,
        waiter: &str,
        now: u64,
        after: Option<WaitCursor>,
        limit: usize,
    ) -> Result<DueWaits, StoreError> {
        let mut due: Vec<(u64, String, Result<Wait, StoreError>)> = Vec::new();
        {
            let commands = self.commands();
            for (id, (_, at)) in self
                .due()
                .iter()
                .filter(|(_, (of, at))| of == waiter && *at <= now)
            {
                if let Some(command) = commands.get(id) {
                    due.push((*at, id.clone(), Ok(Wait::Command(command.clone()))));
                }
            }
        }
        for record in self.records.snapshot() {
            let Some(at) = record.attributes.get(attr::DUE_AT).and_then(|v| v.as_u64()) else {
                continue;
            };
            if record.get_str(attr::WAIT_SHARD) != Some(waiter) {
                continue;
            }
            if at > now {
                continue;
            }
            let wait = match record.attributes.get(attr::PENDING_LIFECYCLE) {
                Some(pending) => {
                    pending_from_value(&record.ident, pending).map(|pending| Wait::Parked {
                        ident: record.ident.clone(),
                        pending,
                    })
                }
                None if record.attributes.get(attr::ALIVE_CHECK) == Some(&serde_json::Value::Bool(true)) => {
                    Ok(Wait::AliveCheck {
                        ident: record.ident.clone(),
                    })
                }
                None => Err(StoreError::Malformed {
                    ident: record.ident.clone(),
                    problem: "in the index of waits, but neither a command, a parked launch nor an alive check"
                        .into(),
                }),
            };
            due.push((at, record.ident.clone(), wait));
        }
        due.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let start = after.map_or(0, |cursor| {
            due.iter()
                .position(|(at, ident, _)| (*at, ident) > (cursor.due_at, &cursor.ident))
                .unwrap_or(due.len())
        });
        let page: Vec<_> = due.into_iter().skip(start).collect();
        let next = (page.len() > limit).then(|| WaitCursor {
            ident: page[limit - 1].1.clone(),
            due_at: page[limit - 1].0,
        });
        Ok(DueWaits {
            waits: page
                .into_iter()
                .take(limit)
                .map(|(_, _, wait)| wait)
                .collect(),
            next,
        })
    }

    async fn reschedule(&self, ident: &str, due_at: u64) -> Result<(), StoreError> {
        if let Some((_, at)) = self.due().get_mut(ident) {
            *at = due_at;
            return Ok(());
        }
        self.records.update(ident, |record| {
            if record.attributes.contains_key(attr::WAIT_SHARD) {
                record.attributes.insert(attr::DUE_AT.into(), due_at.into());
            }
        });
        Ok(())
    }

    async fn retain_until(&self, ident: &str, expires_at: u64) -> Result<(), StoreError> {
        self.records.update(ident, |record| {
            record
                .attributes
                .insert(attr::EXPIRES_AT.into(), expires_at.into())
        });
        Ok(())
    }

    async fn park_lifecycle(
        &self,
        ident: &str,
        waiting: &[&str],
        pending: &PendingLifecycle,
        waiter: &str,
        due_at: u64,
    ) -> Result<bool, StoreError> {
        let mut value =
            serde_json::to_value(&pending.action).expect("a lifecycle action serialises");
        value["EventId"] = pending.event_id.clone().into();
        if let Some(at) = pending.parked_at {
            value["ParkedAt"] = at.into();
        }
        Ok(self
            .records
            .update(ident, |record| {
                let parked = waiting.contains(&record.state.as_str());
                if parked {
                    let attributes = &mut record.attributes;
                    attributes.insert(attr::PENDING_LIFECYCLE.into(), value);
                    attributes.insert(attr::WAIT_SHARD.into(), waiter.into());
                    attributes.insert(attr::DUE_AT.into(), due_at.into());
                }
                parked
            })
            .unwrap_or(false))
    }

    async fn schedule_alive_check(
        &self,
        ident: &str,
        version: u64,
        waiter: &str,
        due_at: u64,
    ) -> Result<bool, StoreError> {
        Ok(self
            .records
            .update(ident, |record| {
                let at_rest = record.version == version
                    && !record.attributes.contains_key(attr::PENDING_LIFECYCLE);
                if at_rest {
                    let attributes = &mut record.attributes;
                    attributes.insert(attr::WAIT_SHARD.into(), waiter.into());
                    attributes.insert(attr::DUE_AT.into(), due_at.into());
                    attributes.insert(attr::ALIVE_CHECK.into(), true.into());
                }
                at_rest
            })
            .unwrap_or(false))
    }

    async fn create(&self, ident: &str, state: &str) -> Result<bool, StoreError> {
        let mut record = Record::new(ident, state);
        record.version = 1;
        Ok(self.records.insert_new(record))
    }

    async fn register_instance(
        &self,
        ident: &str,
        state: &str,
        from: &[&str],
        set: &[(String, serde_json::Value)],
    ) -> Result<bool, StoreError> {
        let apply = |record: &mut Record| {
            record.state = state.to_owned();
            record.version += 1;
            for (key, value) in set {
                record.attributes.insert(key.clone(), value.clone());
            }
        };
        let mut new = Record::new(ident, state);
        apply(&mut new);
        if self.records.insert_new(new) {
            return Ok(true);
        }
        Ok(self
            .records
            .update(ident, |record| {
                let allowed = from.contains(&record.state.as_str());
                if allowed {
                    apply(record);
                }
                allowed
            })
            .unwrap_or(false))
    }
}
