//! The table's schema: the attribute names this library reads and writes, the command items'
//! type, and the index of waits.

/// Attribute names this library reads and writes.
///
/// ```
/// use lifecycle_aws::store::attr;
/// use lifecycle_core::Record;
/// let record = Record::new("i-1", "ready").with(attr::ITEM_TYPE, "worker");
/// assert_eq!(record.item_type(), Some("worker"));
/// assert_eq!((attr::IDENT, attr::ITEM_STATUS), ("Ident", "ItemStatus"));
/// ```
pub mod attr {
    /// The hash key.
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::IDENT, "Ident");
    /// ```
    pub const IDENT: &str = "Ident";
    /// `manager`, `worker`, ..., or `command`.
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::ITEM_TYPE, "ItemType");
    /// ```
    pub const ITEM_TYPE: &str = "ItemType";
    /// The state's stored name.
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::ITEM_STATUS, "ItemStatus");
    /// ```
    pub const ITEM_STATUS: &str = "ItemStatus";
    /// Bumped by every state change this library stores.
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::VERSION, "Version");
    /// ```
    pub const VERSION: &str = "Version";
    /// A launch waiting for cloud-init: the lifecycle action and the event id.
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::PENDING_LIFECYCLE, "PendingLifecycle");
    /// ```
    pub const PENDING_LIFECYCLE: &str = "PendingLifecycle";
    /// A command's lifecycle action (the original's name).
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::LIFECYCLE_DATA, "LifecycleData");
    /// ```
    pub const LIFECYCLE_DATA: &str = "LifecycleData";
    /// A command's target instance (the original's name).
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::RUNNING_ON, "RunningOn");
    /// ```
    pub const RUNNING_ON: &str = "RunningOn";
    /// The record a command's result resumes.
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::OWNER, "Owner");
    /// ```
    pub const OWNER: &str = "Owner";
    /// All of a command's target instances.
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::TARGETS, "Targets");
    /// ```
    pub const TARGETS: &str = "Targets";
    /// The TTL attribute of command items (epoch seconds).
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::EXPIRES_AT, "ExpiresAt");
    /// ```
    pub const EXPIRES_AT: &str = "ExpiresAt";
    /// When a command was registered (epoch seconds): the start of its wait's deadline.
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::REGISTERED_AT, "RegisteredAt");
    /// ```
    pub const REGISTERED_AT: &str = "RegisteredAt";
    /// The record's version when a command was sent: while the record still has it and does
    /// not wait for the command, the waiting write is still to come.
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::SENT_AT_VERSION, "SentAtVersion");
    /// ```
    pub const SENT_AT_VERSION: &str = "SentAtVersion";
    /// The claim marker a command was sent under (also in its SSM comment).
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::MARKER, "Marker");
    /// ```
    pub const MARKER: &str = "Marker";
    /// Present only while an item waits (a command's result, a parked launch): the hash key of
    /// the sparse index of waits, the name of the model whose lifecycle waits (models sharing a
    /// table each sweep their own).
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::WAIT_SHARD, "WaitShard");
    /// ```
    pub const WAIT_SHARD: &str = "WaitShard";
    /// When the sweep is next due to look at a waiting item (epoch seconds): its next heartbeat
    /// or its deadline. The range key of the index of waits.
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::DUE_AT, "DueAt");
    /// ```
    pub const DUE_AT: &str = "DueAt";
    /// A record at rest whose instance the sweep checks, now and then, still exists: set with
    /// `WaitShard` and `DueAt`, removed by the next state change.
    ///
    /// ```
    /// assert_eq!(lifecycle_aws::store::attr::ALIVE_CHECK, "AliveCheck");
    /// ```
    pub const ALIVE_CHECK: &str = "AliveCheck";
    pub use lifecycle_core::attr::{AWAITED_COMMAND, CLAIMED_BY, CLAIMED_UNTIL, WRITE_TOKEN};
}

/// The `ItemType` of command items.
///
/// ```
/// use lifecycle_aws::store::COMMAND_ITEM_TYPE;
/// // Command items share the node table with the nodes; their `ItemType` tells them apart.
/// assert_eq!(COMMAND_ITEM_TYPE, "command");
/// ```
pub const COMMAND_ITEM_TYPE: &str = "command";

/// The global secondary index of waits: hash key `WaitShard`, range key `DueAt`, every
/// attribute projected. Sparse: only waiting items carry its keys.
///
/// ```
/// assert_eq!(lifecycle_aws::store::WAITS_INDEX, "Waits");
/// ```
pub const WAITS_INDEX: &str = "Waits";
