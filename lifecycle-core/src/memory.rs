//! [`MemoryStore`]: the node table in memory, for tests and local runs.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::{AttributeUpdate, CasOutcome, Record, StateChange, Store, attr};

/// An in-memory [`Store`]: for local runs, tests and benchmarks.
///
/// ```
/// use lifecycle_core::{CasOutcome, MemoryStore, Record, StateChange, Store};
/// lifecycle_core::testing::block_on(async {
/// let store = MemoryStore::new();
/// store.insert(Record::new("i-1", "ready"));
/// let change = StateChange { ident: "i-1", from: "ready", version: 0, to: "draining", set: &[], token: "d1.1" };
/// assert_eq!(store.compare_and_set(change).await.unwrap(), CasOutcome::Applied { version: 1 });
/// // The same request again (its answer was lost) finds its own write.
/// assert_eq!(store.compare_and_set(change).await.unwrap(), CasOutcome::Applied { version: 1 });
/// // Another delivery's identical change finds the record moved on.
/// let other = StateChange { token: "d2.1", ..change };
/// assert_eq!(store.compare_and_set(other).await.unwrap(), CasOutcome::Conflict);
/// assert_eq!(store.load("i-1").await.unwrap().unwrap().state, "draining");
/// });
/// ```
#[derive(Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<String, Record>>,
    reads: AtomicUsize,
    writes: AtomicUsize,
}

impl MemoryStore {
    /// An empty store.
    ///
    /// ```
    /// let store = lifecycle_core::MemoryStore::new();
    /// assert!(store.snapshot().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `record` in the store, replacing any record with the same `ident`.
    ///
    /// ```
    /// use lifecycle_core::{MemoryStore, Record};
    /// let store = MemoryStore::new();
    /// store.insert(Record::new("i-1", "new"));
    /// store.insert(Record::new("i-1", "finished_cloud_init"));
    /// assert_eq!(store.get("i-1").unwrap().state, "finished_cloud_init");
    /// ```
    pub fn insert(&self, record: Record) {
        self.lock().insert(record.ident.clone(), record);
    }

    /// A copy of the record for `ident`, without counting a read.
    ///
    /// ```
    /// use lifecycle_core::{MemoryStore, Record};
    /// let store = MemoryStore::new();
    /// store.insert(Record::new("i-1", "ready"));
    /// assert_eq!(store.get("i-1").unwrap().state, "ready");
    /// assert_eq!(store.reads(), 0, "not counted");
    /// ```
    pub fn get(&self, ident: &str) -> Option<Record> {
        self.lock().get(ident).cloned()
    }

    /// Puts `record` in the store unless a record with its `ident` exists. `false` if one did.
    ///
    /// ```
    /// # use lifecycle_core::{MemoryStore, Record};
    /// let store = MemoryStore::new();
    /// assert!(store.insert_new(Record::new("backup", "backup")));
    /// assert!(!store.insert_new(Record::new("backup", "other")));
    /// assert_eq!(store.get("backup").unwrap().state, "backup");
    /// ```
    pub fn insert_new(&self, record: Record) -> bool {
        let mut records = self.lock();
        if records.contains_key(&record.ident) {
            return false;
        }
        records.insert(record.ident.clone(), record);
        true
    }

    /// Changes the record for `ident` in place, atomically with respect to every other call;
    /// `None` if there is none. Not counted as a write, and the version is not bumped: this is
    /// for bookkeeping attributes, not state changes.
    ///
    /// ```
    /// # use lifecycle_core::{MemoryStore, Record};
    /// let store = MemoryStore::new();
    /// store.insert(Record::new("i-1", "pending"));
    /// let parked = store.update("i-1", |r| r.state == "pending");
    /// assert_eq!(parked, Some(true));
    /// assert_eq!(store.update("i-2", |_| ()), None);
    /// ```
    pub fn update<R>(&self, ident: &str, change: impl FnOnce(&mut Record) -> R) -> Option<R> {
        self.lock().get_mut(ident).map(change)
    }

    /// A copy of every record, ordered by `ident`: for local listings and in-memory sweeps.
    ///
    /// ```
    /// # use lifecycle_core::{MemoryStore, Record};
    /// let store = MemoryStore::new();
    /// store.insert(Record::new("i-2", "ready"));
    /// store.insert(Record::new("i-1", "new"));
    /// let idents: Vec<_> = store.snapshot().into_iter().map(|r| r.ident).collect();
    /// assert_eq!(idents, ["i-1", "i-2"]);
    /// ```
    pub fn snapshot(&self) -> Vec<Record> {
        let mut records: Vec<Record> = self.lock().values().cloned().collect();
        records.sort_by(|a, b| a.ident.cmp(&b.ident));
        records
    }

    /// How many `load` calls were made.
    ///
    /// ```
    /// use lifecycle_core::{MemoryStore, Store};
    /// lifecycle_core::testing::block_on(async {
    ///     let store = MemoryStore::new();
    ///     store.load("i-1").await.unwrap();
    ///     assert_eq!(store.reads(), 1);
    /// });
    /// ```
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }

    /// How many `compare_and_set` calls were made (applied or not).
    ///
    /// ```
    /// use lifecycle_core::{MemoryStore, Record, StateChange, Store};
    /// lifecycle_core::testing::block_on(async {
    ///     let store = MemoryStore::new();
    ///     store.insert(Record::new("i-1", "ready"));
    ///     let change = StateChange { ident: "i-1", from: "gone", version: 0, to: "x", set: &[], token: "d.1" };
    ///     store.compare_and_set(change).await.unwrap();
    ///     assert_eq!(store.writes(), 1, "counted, applied or not");
    /// });
    /// ```
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        // A panic while holding the lock cannot leave a record half-written: every update
        // below is a single assignment.
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("records", &self.lock().len())
            .finish()
    }
}

/// The attribute part of a stored state change: `set` (null removes), the claim released, the
/// write's token noted. For stores that keep [`Record`]s as they are.
///
/// ```
/// use lifecycle_core::{Record, StateChange, apply_change};
/// let mut record = Record::new("i-1", "joining").with("ClaimedBy", "d1").with("Scratch", 1);
/// let set = [("Scratch".to_string(), serde_json::Value::Null)];
/// let change = StateChange { ident: "i-1", from: "joining", version: 1, to: "ready", set: &set, token: "d1.2" };
/// apply_change(&mut record, change);
/// assert!(record.claimed_by().is_none() && record.attributes.get("Scratch").is_none());
/// assert_eq!(record.get_str("WriteToken"), Some("d1.2"));
/// ```
pub fn apply_change(record: &mut Record, change: StateChange<'_>) {
    set_attributes(record, change.set, change.token);
    record.attributes.remove(attr::CLAIMED_BY);
    record.attributes.remove(attr::CLAIMED_UNTIL);
}

/// `set` (null removes), and the write's token noted.
fn set_attributes(record: &mut Record, set: &[(String, Value)], token: &str) {
    for (key, value) in set {
        if value.is_null() {
            record.attributes.remove(key);
        } else {
            record.attributes.insert(key.clone(), value.clone());
        }
    }
    // Overwritten in place: this runs for every state change.
    match record.attributes.get_mut(attr::WRITE_TOKEN) {
        Some(Value::String(held)) => {
            held.clear();
            held.push_str(token);
        }
        _ => {
            record
                .attributes
                .insert(attr::WRITE_TOKEN.into(), Value::String(token.to_owned()));
        }
    }
}

/// Whether the write is still possible (`Ok`), was applied before (`Err(Applied)`: the same
/// request again after a lost answer), or is not (`Err(Conflict)`).
fn precondition(record: &Record, state: &str, version: u64, token: &str) -> Result<(), CasOutcome> {
    if record.state == state && record.version == version {
        return Ok(());
    }
    if Some(record.version) == version.checked_add(1)
        && record.get_str(attr::WRITE_TOKEN) == Some(token)
    {
        return Err(CasOutcome::Applied {
            version: record.version,
        });
    }
    Err(CasOutcome::Conflict)
}

impl Store for MemoryStore {
    type Error = std::convert::Infallible;

    async fn load(&self, ident: &str) -> Result<Option<Record>, Self::Error> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self.get(ident))
    }

    async fn compare_and_set(&self, change: StateChange<'_>) -> Result<CasOutcome, Self::Error> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut records = self.lock();
        let Some(record) = records.get_mut(change.ident) else {
            return Ok(CasOutcome::Conflict);
        };
        if let Err(outcome) = precondition(record, change.from, change.version, change.token) {
            return Ok(outcome);
        }
        record.state.clear();
        record.state.push_str(change.to);
        record.version += 1;
        apply_change(record, change);
        Ok(CasOutcome::Applied {
            version: record.version,
        })
    }

    async fn update_attributes(
        &self,
        update: AttributeUpdate<'_>,
    ) -> Result<CasOutcome, Self::Error> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut records = self.lock();
        let Some(record) = records.get_mut(update.ident) else {
            return Ok(CasOutcome::Conflict);
        };
        if let Err(outcome) = precondition(record, update.state, update.version, update.token) {
            return Ok(outcome);
        }
        record.version += 1;
        set_attributes(record, update.set, update.token);
        Ok(CasOutcome::Applied {
            version: record.version,
        })
    }
}
