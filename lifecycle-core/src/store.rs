//! Where each instance's state lives, and the compare-and-set every state change goes through.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value};

/// One instance's (or scheduled machine's) stored record: the node table's item.
///
/// `Debug` prints attribute *names* only: records hold secrets such as cluster join tokens, and
/// records end up in logs.
///
/// ```
/// use lifecycle_core::Record;
/// let mut record = Record::new("i-1", "finished_cloud_init");
/// record.attributes.insert("WorkerToken".into(), "SWMTKN-secret".into());
/// let printed = format!("{record:?}");
/// assert!(printed.contains("WorkerToken"));
/// assert!(!printed.contains("SWMTKN"));
/// ```
#[derive(Clone, PartialEq)]
pub struct Record {
    /// `Ident`: the instance id (or the scheduled rule's name).
    pub ident: String,
    /// `ItemStatus`: the state's stored name.
    pub state: String,
    /// Bumped by every stored change; 0 for a record never written by this library (the
    /// original library wrote no version).
    pub version: u64,
    /// Every other attribute (`ItemType`, `InstanceIp`, what cloud-init and tasks write).
    pub attributes: Map<String, Value>,
}

/// The largest `Version` a record may hold. Versions count writes from 0, one at a time: no
/// record is written 2^63 times, so a larger one is corrupt or forged, and the dispatcher
/// refuses it ([`DispatchError::VersionOutOfRange`](crate::DispatchError::VersionOutOfRange))
/// rather than count past what a `u64` holds.
///
/// ```
/// assert_eq!(lifecycle_core::MAX_VERSION, u64::MAX / 2);
/// ```
pub const MAX_VERSION: u64 = u64::MAX / 2;

impl Record {
    /// A record in `state` with no attributes.
    ///
    /// ```
    /// use lifecycle_core::Record;
    /// let record = Record::new("i-0abc123def4567890", "finished_cloud_init");
    /// assert_eq!((record.version, record.attributes.len()), (0, 0));
    /// ```
    pub fn new(ident: impl Into<String>, state: impl Into<String>) -> Self {
        Record {
            ident: ident.into(),
            state: state.into(),
            version: 0,
            attributes: Map::new(),
        }
    }

    /// Adds an attribute (builder style).
    ///
    /// ```
    /// # use lifecycle_core::Record;
    /// let record = Record::new("i-1", "new").with("ItemType", "worker");
    /// assert_eq!(record.item_type(), Some("worker"));
    /// ```
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// A string attribute.
    ///
    /// ```
    /// use lifecycle_core::Record;
    /// let record = Record::new("i-1", "ready").with("InstanceIp", "10.0.0.7").with("Port", 2377);
    /// assert_eq!(record.get_str("InstanceIp"), Some("10.0.0.7"));
    /// assert_eq!(record.get_str("Port"), None, "not a string");
    /// ```
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(Value::as_str)
    }

    /// `ItemType` (e.g. `manager`, `worker`).
    ///
    /// ```
    /// use lifecycle_core::Record;
    /// assert_eq!(Record::new("i-1", "new").with("ItemType", "manager").item_type(), Some("manager"));
    /// ```
    pub fn item_type(&self) -> Option<&str> {
        self.get_str("ItemType")
    }

    /// The commands the record waits for ([`attr::AWAITED_COMMAND`]).
    ///
    /// ```
    /// # use lifecycle_core::Record;
    /// let record = Record::new("i-1", "joining").with("AwaitedCommand", "c-1 c-2");
    /// assert!(record.awaits("c-2"));
    /// assert!(!record.awaits("c-3"));
    /// ```
    pub fn awaited_commands(&self) -> impl Iterator<Item = &str> {
        self.get_str(attr::AWAITED_COMMAND)
            .unwrap_or_default()
            .split_whitespace()
    }

    /// Whether the record waits for command `command_id`.
    ///
    /// ```
    /// use lifecycle_core::Record;
    /// let record = Record::new("i-1", "joining").with("AwaitedCommand", "c-1");
    /// assert!(record.awaits("c-1") && !record.awaits("c-0"));
    /// ```
    pub fn awaits(&self, command_id: &str) -> bool {
        self.awaited_commands().any(|id| id == command_id)
    }

    /// The delivery holding (or, past [`Record::claimed_until`], last holding) the record's
    /// claim.
    ///
    /// ```
    /// use lifecycle_core::Record;
    /// let record = Record::new("i-1", "joining").with("ClaimedBy", "d1").with("ClaimedUntil", 1_764_000_000);
    /// assert_eq!(record.claimed_by(), Some("d1"));
    /// assert!(Record::new("i-1", "ready").claimed_by().is_none());
    /// ```
    pub fn claimed_by(&self) -> Option<&str> {
        self.get_str(attr::CLAIMED_BY)
    }

    /// Until when (epoch seconds) the record's claim holds.
    ///
    /// ```
    /// use lifecycle_core::Record;
    /// let record = Record::new("i-1", "joining").with("ClaimedBy", "d1").with("ClaimedUntil", 1_764_000_000);
    /// assert_eq!(record.claimed_until(), Some(1_764_000_000));
    /// ```
    pub fn claimed_until(&self) -> Option<u64> {
        self.attributes
            .get(attr::CLAIMED_UNTIL)
            .and_then(Value::as_u64)
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("ident", &self.ident)
            .field("state", &self.state)
            .field("version", &self.version)
            .field("attributes", &self.attributes.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The record attributes the exactly-once protocol keeps beside the state (see the README's
/// "How one event is processed").
///
/// ```
/// use lifecycle_core::{Record, attr};
/// let record = Record::new("i-1", "joining").with(attr::AWAITED_COMMAND, "c-1");
/// assert!(record.awaits("c-1"));
/// ```
pub mod attr {
    /// The token of the last write applied to the record: a write whose answer was lost and
    /// that the SDK sent again finds its own token there and counts as applied.
    ///
    /// ```
    /// use lifecycle_core::{MemoryStore, Record, StateChange, Store, attr};
    /// lifecycle_core::testing::block_on(async {
    ///     let store = MemoryStore::new();
    ///     store.insert(Record::new("i-1", "ready"));
    ///     let change = StateChange { ident: "i-1", from: "ready", version: 0, to: "draining", set: &[], token: "d1.1" };
    ///     store.compare_and_set(change).await.unwrap();
    ///     assert_eq!(store.get("i-1").unwrap().get_str(attr::WRITE_TOKEN), Some("d1.1"));
    /// });
    /// ```
    pub const WRITE_TOKEN: &str = "WriteToken";
    /// The delivery that claimed the record to run a side-effecting task (see
    /// [`Effects::claim`](crate::Effects::claim)). Released by the next state change.
    ///
    /// ```
    /// use lifecycle_core::{Record, attr};
    /// assert_eq!(Record::new("i-1", "joining").with(attr::CLAIMED_BY, "d1").claimed_by(), Some("d1"));
    /// ```
    pub const CLAIMED_BY: &str = "ClaimedBy";
    /// Until when (epoch seconds) the claim holds; past it, another delivery may take over.
    ///
    /// ```
    /// use lifecycle_core::{Record, attr};
    /// assert_eq!(Record::new("i-1", "joining").with(attr::CLAIMED_UNTIL, 60).claimed_until(), Some(60));
    /// ```
    pub const CLAIMED_UNTIL: &str = "ClaimedUntil";
    /// The command ids (space-separated) a waiting record waits for: only their results move
    /// it.
    ///
    /// ```
    /// use lifecycle_core::{Record, attr};
    /// let record = Record::new("i-1", "joining").with(attr::AWAITED_COMMAND, "c-1 c-2");
    /// assert_eq!(record.awaited_commands().collect::<Vec<_>>(), ["c-1", "c-2"]);
    /// ```
    pub const AWAITED_COMMAND: &str = "AwaitedCommand";
    /// A terminating lifecycle action that came while a launch waited: it runs once the
    /// launch's lifecycle is over (JSON: the event id and the action).
    ///
    /// ```
    /// use lifecycle_core::{Record, attr, deferred_termination};
    /// let noted = r#"{"EventId":"e-9","Action":{"AutoScalingGroupName":"g","LifecycleHookName":"h",
    ///     "EC2InstanceId":"i-1","LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING"}}"#;
    /// let record = Record::new("i-1", "joining").with(attr::DEFERRED_TERMINATION, noted);
    /// assert_eq!(deferred_termination(&record).unwrap().id, "e-9");
    /// ```
    pub const DEFERRED_TERMINATION: &str = "DeferredTermination";
    /// The record's recent steps (a line each, newest last; see
    /// [`HistoryEntry`](crate::HistoryEntry)), written with each state change.
    ///
    /// ```
    /// use lifecycle_core::{Record, attr};
    /// let record = Record::new("i-1", "pending").with(attr::HISTORY, "- new pending registered e-1 - -");
    /// assert_eq!(record.history()[0].to, "pending");
    /// ```
    pub const HISTORY: &str = "History";
}

/// A state change to store if, and only if, the record is still where the dispatcher left it.
///
/// Storing it also releases the record's claim ([`attr::CLAIMED_BY`]), notes `token` as the
/// record's [`attr::WRITE_TOKEN`], and removes every attribute of `set` whose value is null.
///
/// ```
/// use lifecycle_core::{CasOutcome, MemoryStore, Record, StateChange, Store};
/// lifecycle_core::testing::block_on(async {
///     let store = MemoryStore::new();
///     store.insert(Record::new("i-1", "ready"));
///     let set = [("DrainedAt".to_string(), serde_json::json!("2026-11-26T06:00:00Z"))];
///     let change = StateChange { ident: "i-1", from: "ready", version: 0, to: "drained", set: &set, token: "d1.1" };
///     assert_eq!(store.compare_and_set(change).await.unwrap(), CasOutcome::Applied { version: 1 });
///     let record = store.get("i-1").unwrap();
///     assert_eq!((record.state.as_str(), record.get_str("DrainedAt")), ("drained", Some("2026-11-26T06:00:00Z")));
/// });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct StateChange<'a> {
    /// The record's `Ident`.
    pub ident: &'a str,
    /// The state the record must still be in.
    pub from: &'a str,
    /// The version the record must still have (0: the record has no version yet).
    pub version: u64,
    /// The new state.
    pub to: &'a str,
    /// Attributes tasks changed since the last write, stored with the state (null: removed).
    pub set: &'a [(String, Value)],
    /// This write's own token, unique to the delivery and the version it writes. If the
    /// record already holds it at `version + 1`, the change was applied before (its answer was
    /// lost and the request sent again): the store answers [`CasOutcome::Applied`].
    pub token: &'a str,
}

/// Attributes to store on a record (one a task loaded with
/// [`Context::load_record`](crate::Context::load_record)) if, and only if, it is still in
/// `state` at `version`. Unlike a [`StateChange`], it leaves the record's state, its claim and
/// what the runtime keeps beside it (a parked launch, a wait) alone; it moves the version, so a
/// state change or claim racing with it fails, and notes `token` as a state change does.
///
/// ```
/// use lifecycle_core::{AttributeUpdate, CasOutcome, MemoryStore, Record, Store};
/// lifecycle_core::testing::block_on(async {
///     let store = MemoryStore::new();
///     store.insert(Record::new("i-1", "ready"));
///     let set = [("LastBackup".to_string(), serde_json::json!("e-1"))];
///     let update = AttributeUpdate { ident: "i-1", state: "ready", version: 0, set: &set, token: "u1.1" };
///     assert_eq!(store.update_attributes(update).await.unwrap(), CasOutcome::Applied { version: 1 });
///     assert_eq!(store.get("i-1").unwrap().state, "ready", "the state stays");
/// });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AttributeUpdate<'a> {
    /// The record's `Ident`.
    pub ident: &'a str,
    /// The state the record must still be in.
    pub state: &'a str,
    /// The version the record must still have (0: the record has no version yet).
    pub version: u64,
    /// The attributes (null: removed).
    pub set: &'a [(String, Value)],
    /// This write's own token (see [`StateChange::token`]).
    pub token: &'a str,
}

/// The result of a compare-and-set.
///
/// ```
/// use lifecycle_core::{CasOutcome, MemoryStore, Record, StateChange, Store};
/// lifecycle_core::testing::block_on(async {
///     let store = MemoryStore::new();
///     store.insert(Record::new("i-1", "ready").with("Stale", true));
///     // Written from version 3, but the record is at version 0: someone else's view.
///     let change = StateChange { ident: "i-1", from: "ready", version: 3, to: "draining", set: &[], token: "d1.4" };
///     assert_eq!(store.compare_and_set(change).await.unwrap(), CasOutcome::Conflict);
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    /// Stored; the record now has this version.
    Applied {
        /// The new version.
        version: u64,
    },
    /// Someone else changed the record first (or it is gone): nothing was written.
    Conflict,
}

/// Storage for records. Every state change is a compare-and-set on state and version, so two
/// invocations racing on one instance cannot both move it.
///
/// Implementations return `Send` futures so the dispatcher can run in `tokio::spawn` and Lambda.
///
/// ```
/// use std::convert::Infallible;
/// use lifecycle_core::{AttributeUpdate, CasOutcome, MemoryStore, Record, StateChange, Store};
///
/// /// A store that logs every state change before handing it to a `MemoryStore`.
/// struct Logged(MemoryStore);
///
/// impl Store for Logged {
///     type Error = Infallible;
///
///     async fn load(&self, ident: &str) -> Result<Option<Record>, Infallible> {
///         self.0.load(ident).await
///     }
///
///     async fn compare_and_set(&self, change: StateChange<'_>) -> Result<CasOutcome, Infallible> {
///         println!("{}: {} -> {}", change.ident, change.from, change.to);
///         self.0.compare_and_set(change).await
///     }
///
///     async fn update_attributes(&self, update: AttributeUpdate<'_>) -> Result<CasOutcome, Infallible> {
///         self.0.update_attributes(update).await
///     }
/// }
///
/// lifecycle_core::testing::block_on(async {
///     let store = Logged(MemoryStore::new());
///     store.0.insert(Record::new("i-1", "ready"));
///     assert_eq!(store.load("i-1").await.unwrap().unwrap().state, "ready");
/// });
/// ```
pub trait Store: Send + Sync {
    /// The backend's error (I/O, throttling, ...).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Loads a record; `None` if there is none.
    ///
    /// ```
    /// use lifecycle_core::{MemoryStore, Record, Store};
    /// lifecycle_core::testing::block_on(async {
    ///     let store = MemoryStore::new();
    ///     store.insert(Record::new("i-1", "ready"));
    ///     assert_eq!(store.load("i-1").await.unwrap().unwrap().state, "ready");
    ///     assert!(store.load("i-2").await.unwrap().is_none());
    /// });
    /// ```
    fn load(&self, ident: &str)
    -> impl Future<Output = Result<Option<Record>, Self::Error>> + Send;

    /// Applies `change` if the record is still in `change.from` at `change.version`.
    ///
    /// ```
    /// use lifecycle_core::{CasOutcome, MemoryStore, Record, StateChange, Store};
    /// lifecycle_core::testing::block_on(async {
    ///     let store = MemoryStore::new();
    ///     store.insert(Record::new("i-1", "ready"));
    ///     let change = StateChange { ident: "i-1", from: "ready", version: 0, to: "draining", set: &[], token: "d1.1" };
    ///     assert_eq!(store.compare_and_set(change).await.unwrap(), CasOutcome::Applied { version: 1 });
    ///     // From a state it is no longer in: nothing written.
    ///     let stale = StateChange { ident: "i-1", from: "ready", version: 0, to: "gone", set: &[], token: "d2.1" };
    ///     assert_eq!(store.compare_and_set(stale).await.unwrap(), CasOutcome::Conflict);
    /// });
    /// ```
    fn compare_and_set(
        &self,
        change: StateChange<'_>,
    ) -> impl Future<Output = Result<CasOutcome, Self::Error>> + Send;

    /// Applies `update` if the record is still in `update.state` at `update.version`.
    ///
    /// ```
    /// use lifecycle_core::{AttributeUpdate, CasOutcome, MemoryStore, Record, Store};
    /// lifecycle_core::testing::block_on(async {
    ///     let store = MemoryStore::new();
    ///     store.insert(Record::new("i-1", "ready"));
    ///     let set = [("Zone".to_string(), serde_json::json!("eu-central-1a"))];
    ///     let update = AttributeUpdate { ident: "i-1", state: "ready", version: 0, set: &set, token: "u.1" };
    ///     assert_eq!(store.update_attributes(update).await.unwrap(), CasOutcome::Applied { version: 1 });
    ///     assert_eq!(store.get("i-1").unwrap().get_str("Zone"), Some("eu-central-1a"));
    /// });
    /// ```
    fn update_attributes(
        &self,
        update: AttributeUpdate<'_>,
    ) -> impl Future<Output = Result<CasOutcome, Self::Error>> + Send;
}

/// A borrowed store is a store: a dispatcher or runtime can use one its caller keeps.
impl<S: Store + ?Sized> Store for &S {
    type Error = S::Error;

    fn load(
        &self,
        ident: &str,
    ) -> impl Future<Output = Result<Option<Record>, Self::Error>> + Send {
        (**self).load(ident)
    }

    fn compare_and_set(
        &self,
        change: StateChange<'_>,
    ) -> impl Future<Output = Result<CasOutcome, Self::Error>> + Send {
        (**self).compare_and_set(change)
    }

    fn update_attributes(
        &self,
        update: AttributeUpdate<'_>,
    ) -> impl Future<Output = Result<CasOutcome, Self::Error>> + Send {
        (**self).update_attributes(update)
    }
}

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
