//! One instance's stored record and the names of its attributes.

use std::fmt;

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
    /// The scheduled event whose run a scheduled rule's record is in (written as the run
    /// starts): the same event delivered again starts no second run, and a run does not adopt
    /// a command another run's delivery sent.
    ///
    /// ```
    /// use lifecycle_core::{Record, attr};
    /// let record = Record::new("backup", "backing_up").with(attr::RUN_EVENT, "night-1");
    /// assert_eq!(record.get_str(attr::RUN_EVENT), Some("night-1"));
    /// ```
    pub const RUN_EVENT: &str = "RunEvent";
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
