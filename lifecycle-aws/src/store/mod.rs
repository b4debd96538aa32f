//! The node table in DynamoDB: the original library's layout, made safe with conditional
//! writes.
//!
//! One table, hash key `Ident`. Instance items hold `ItemType`, `ItemStatus` (the snake_case
//! state), `InstanceIp` and whatever cloud-init and tasks write; this library adds `Version`
//! (absent on items the original wrote: the first write adds it), the exactly-once bookkeeping
//! (`WriteToken`, `ClaimedBy`/`ClaimedUntil`, `AwaitedCommand`, `LifecycleProgress`) and, while
//! a launch waits for cloud-init, `PendingLifecycle`. Command items hold `ItemType = command`,
//! the lifecycle data, the event name and the target instances, and expire through the
//! `ExpiresAt` TTL attribute. Whatever waits carries `WaitShard`/`DueAt`, the keys of the sparse
//! index of waits ([`WAITS_INDEX`]). How items are encoded is in `store/item.rs`.
//!
//! ```
//! use lifecycle_aws::store::DynamoStore;
//! let config = aws_config::SdkConfig::builder()
//!     .region(aws_config::Region::new("eu-central-1"))
//!     .behavior_version(aws_config::BehaviorVersion::latest())
//!     .build();
//! // The table the template deploys (or the original library's, which it reads as it is).
//! let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "lifecycle-nodes");
//! assert_eq!(store.table(), "lifecycle-nodes");
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use lifecycle_core::{
    AttributeUpdate, CasOutcome, ClaimOutcome, ClaimRequest, LifecycleAction, Record, StateChange,
    Store,
};

mod item;
mod size;

pub(crate) use item::pending_from_value;
use item::{
    action_to_item, command_from_item, item_version, n, number, pending_to_item, record_from_item,
    s, wait_from_item,
};
pub use item::{from_attribute, pending_from_image, to_attribute};
pub use size::{attribute_size, item_size, record_size, write_units};

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

/// Something the sweep found due in the index of waits.
///
/// ```
/// use lifecycle_aws::store::{PendingLifecycle, Wait};
/// use lifecycle_core::LifecycleTransition;
/// let parked = Wait::Parked {
///     ident: "i-1".into(),
///     pending: PendingLifecycle {
///         action: lifecycle_core::testing::action("i-1", LifecycleTransition::Launching),
///         event_id: "e-1".into(),
///         parked_at: Some(1_764_158_400),
///     },
/// };
/// assert!(matches!(parked, Wait::Parked { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// A registered command whose result is awaited.
    Command(RegisteredCommand),
    /// A launch parked on its record until cloud-init finishes.
    Parked {
        /// The instance.
        ident: String,
        /// The parked launch.
        pending: PendingLifecycle,
    },
    /// A record at rest, due for the check that its instance still exists
    /// ([`NodeTable::schedule_alive_check`]).
    AliveCheck {
        /// The instance.
        ident: String,
    },
}

/// One page of due waits. A malformed item is reported by its `Ident` and what is wrong, so the
/// sweep can skip it and go on.
///
/// ```
/// use lifecycle_aws::local::MemoryTable;
/// use lifecycle_aws::store::NodeTable;
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let page = MemoryTable::new().due_waits("Node", 1_764_158_400, None, 50).await.unwrap();
///     assert!(page.waits.is_empty() && page.next.is_none());
/// });
/// ```
#[derive(Debug, Default)]
pub struct DueWaits {
    /// The waits due, earliest first.
    pub waits: Vec<Result<Wait, StoreError>>,
    /// Where the next page starts, if there is one.
    pub next: Option<WaitCursor>,
}

/// Where a page of due waits ended.
///
/// ```
/// use lifecycle_aws::local::MemoryTable;
/// use lifecycle_aws::store::{NodeTable, WaitCursor};
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let after = WaitCursor { ident: "i-1".into(), due_at: 1_764_158_400 };
///     let page = MemoryTable::new().due_waits("Node", 1_764_158_400, Some(after), 50).await.unwrap();
///     assert!(page.waits.is_empty());
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitCursor {
    /// The last item's `Ident`.
    pub ident: String,
    /// Its `DueAt`.
    pub due_at: u64,
}

/// A DynamoDB call failed, or an item is not what this library expects.
///
/// ```
/// use lifecycle_aws::store::StoreError;
/// let error = StoreError::Malformed { ident: "i-1".into(), problem: "`Version` is not a number".into() };
/// assert_eq!(error.to_string(), "item `i-1`: `Version` is not a number");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The request failed (network, throttling, permissions, a missing table, ...).
    #[error("DynamoDB {operation} on {table}: {message}")]
    Request {
        /// The API operation.
        operation: &'static str,
        /// The table.
        table: String,
        /// The SDK's error, with its cause chain.
        message: String,
        /// Whether the same request may succeed later: throttling, a server error, a timeout,
        /// a lost connection ([`is_transient`]). Access denied, a validation error or a
        /// missing table are not: delivering the event again changes nothing.
        transient: bool,
    },
    /// An item lacks an attribute this library needs, or has the wrong type.
    #[error("item `{ident}`: {problem}")]
    Malformed {
        /// The item's `Ident`.
        ident: String,
        /// What is wrong.
        problem: String,
    },
}

/// A command registered when it was sent, found again when its result arrives.
///
/// ```
/// use lifecycle_aws::local::MemoryTable;
/// use lifecycle_aws::store::{CommandRegistration, NodeTable};
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let table = MemoryTable::new();
///     let targets = ["i-1".to_string()];
///     table.register_command(CommandRegistration {
///         command_id: "c-1", owner: "i-1", targets: &targets, lifecycle: None, event_id: "e-1",
///         comment: None, document_name: "ClusterJoin", registered_at: 1_764_158_400,
///         sent_at_version: 2, due_at: 1_764_158_640, waiter: "Node", marker: "d1.0",
///     }).await.unwrap();
///     let command = table.consume_command("c-1").await.unwrap().unwrap();
///     assert_eq!((command.owner.as_str(), command.sent_at_version), ("i-1", Some(2)));
///     // Consumed once: a duplicate result finds nothing.
///     assert!(table.consume_command("c-1").await.unwrap().is_none());
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredCommand {
    /// The SSM command id.
    pub command_id: String,
    /// The record whose processing sent it, which its result resumes: the instance, or a
    /// scheduled machine.
    pub owner: String,
    /// The instance it ran on.
    pub instance_id: String,
    /// The lifecycle action it was sent for.
    pub lifecycle: Option<LifecycleAction>,
    /// The id of the event whose processing sent it.
    pub event_id: Option<String>,
    /// When it was registered (epoch seconds); `None` for the original library's items.
    pub registered_at: Option<u64>,
    /// The owner record's version when it was sent; `None` for the original library's items.
    pub sent_at_version: Option<u64>,
    /// The claim marker it was sent under; `None` for the original library's items.
    pub marker: Option<String>,
}

/// A launch that waits for cloud-init, parked on the instance's record.
///
/// ```
/// use lifecycle_aws::store::PendingLifecycle;
/// use lifecycle_core::LifecycleTransition;
/// let pending = PendingLifecycle {
///     action: lifecycle_core::testing::action("i-1", LifecycleTransition::Launching),
///     event_id: "e-1".into(),
///     parked_at: None,
/// };
/// assert_eq!(pending.action.ec2_instance_id, "i-1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLifecycle {
    /// The lifecycle action to resume.
    pub action: LifecycleAction,
    /// The launching event's id.
    pub event_id: String,
    /// When it was parked (epoch seconds): the start of its wait's deadline. `None` for one
    /// parked before this was recorded.
    pub parked_at: Option<u64>,
}

/// A command to register, so its result can resume the lifecycle it was sent for.
///
/// ```
/// use lifecycle_aws::local::MemoryTable;
/// use lifecycle_aws::store::{CommandRegistration, NodeTable};
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let table = MemoryTable::new();
///     let targets = ["i-1".to_string()];
///     let registration = CommandRegistration {
///         command_id: "c-1", owner: "i-1", targets: &targets, lifecycle: None, event_id: "e-1",
///         comment: Some("join"), document_name: "ClusterJoin", registered_at: 1_764_158_400,
///         sent_at_version: 2, due_at: 1_764_158_640, waiter: "Node", marker: "d1.0",
///     };
///     table.register_command(registration).await.unwrap();
///     // The same registration again (an SDK retry) is no error.
///     table.register_command(registration).await.unwrap();
///     assert!(table.peek_command("c-1").await.unwrap().is_some());
/// });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CommandRegistration<'a> {
    /// The SSM command id.
    pub command_id: &'a str,
    /// The record whose processing sent it.
    pub owner: &'a str,
    /// The instances it runs on (the first is the one whose lifecycle it belongs to).
    pub targets: &'a [String],
    /// The lifecycle action it was sent for.
    pub lifecycle: Option<&'a LifecycleAction>,
    /// The id of the event whose processing sent it.
    pub event_id: &'a str,
    /// Its comment.
    pub comment: Option<&'a str>,
    /// The SSM document.
    pub document_name: &'a str,
    /// When (epoch seconds, from the runtime's clock).
    pub registered_at: u64,
    /// The owner record's version when it was sent.
    pub sent_at_version: u64,
    /// When the sweep is first due to look at it (its first heartbeat, or its deadline).
    pub due_at: u64,
    /// The model whose lifecycle waits for it (its `WaitShard`).
    pub waiter: &'a str,
    /// The claim marker it was sent under ([`CommandKey::marker`](lifecycle_core::CommandKey)).
    pub marker: &'a str,
}

/// The node table: the records [`Store`] keeps, plus what the runtime keeps beside them
/// (registered commands and parked launches). [`DynamoStore`] on AWS;
/// [`MemoryTable`](crate::local::MemoryTable) for local runs.
///
/// ```
/// use lifecycle_aws::local::MemoryTable;
/// use lifecycle_aws::store::NodeTable;
/// use lifecycle_core::Store;
/// /// What a tool working on any node table can do, in memory or on DynamoDB.
/// async fn ensure_schedule<T: NodeTable>(table: &T, rule: &str) -> bool {
///     table.create(rule, rule).await.unwrap()
/// }
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let table = MemoryTable::new();
///     assert!(ensure_schedule(&table, "backup").await);
///     assert!(!ensure_schedule(&table, "backup").await, "already there");
///     assert_eq!(table.load("backup").await.unwrap().unwrap().state, "backup");
/// });
/// ```
pub trait NodeTable: Store<Error = StoreError> {
    /// Claims a record for `request.holder` until `until` (epoch seconds), if it is still at
    /// `request.state` and `request.version` and no claim holds at `now`. The claim moves the
    /// version; the next state change releases it.
    ///
    /// ```
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::store::NodeTable;
    /// use lifecycle_core::{Record, Store};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let table = MemoryTable::new();
    ///     table.records().insert(Record::new("i-1", "joining"));
    ///     let request = lifecycle_core::ClaimRequest { ident: "i-1", state: "joining", version: 0, holder: "d1", token: "d1.1" };
    ///     let claimed = table.claim(request, 1_060, 1_000).await.unwrap();
    ///     assert_eq!(claimed, lifecycle_core::ClaimOutcome::Claimed { version: 1 });
    ///     // Another delivery's claim on the same version: lost.
    ///     let other = lifecycle_core::ClaimRequest { holder: "d2", token: "d2.1", ..request };
    ///     assert_eq!(table.claim(other, 1_060, 1_000).await.unwrap(), lifecycle_core::ClaimOutcome::Lost);
    /// });
    /// ```
    fn claim(
        &self,
        request: ClaimRequest<'_>,
        until: u64,
        now: u64,
    ) -> impl Future<Output = Result<ClaimOutcome, StoreError>> + Send;

    /// Lets `holder`'s claim on `ident` (at `version`) run out now, keeping its holder's name:
    /// the next delivery takes it over at once and finds the commands sent under it. Nothing
    /// if the record moved on.
    ///
    /// ```
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::store::NodeTable;
    /// use lifecycle_core::{Record, Store};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let table = MemoryTable::new();
    ///     table.records().insert(Record::new("i-1", "joining"));
    ///     let request = lifecycle_core::ClaimRequest { ident: "i-1", state: "joining", version: 0, holder: "d1", token: "d1.1" };
    ///     table.claim(request, 1_060, 1_000).await.unwrap();
    ///     table.release_claim("i-1", "d1", 1).await.unwrap();
    ///     let record = table.load("i-1").await.unwrap().unwrap();
    ///     assert_eq!(record.claimed_by(), Some("d1"), "the holder's name stays");
    ///     assert!(record.claimed_until().unwrap() < 1_000, "but the claim ran out");
    /// });
    /// ```
    fn release_claim(
        &self,
        ident: &str,
        holder: &str,
        version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Registers a command. Registering it again under the same marker (a retry, or a
    /// delivery adopting a command an earlier one sent) is no error; another command with the
    /// same id is.
    ///
    /// ```
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::store::NodeTable;
    /// use lifecycle_core::{Record, Store};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let table = MemoryTable::new();
    ///     table.records().insert(Record::new("i-1", "joining"));
    ///     let targets = ["i-1".to_string()];
    ///     table.register_command(lifecycle_aws::store::CommandRegistration {
    ///         command_id: "c-1", owner: "i-1", targets: &targets, lifecycle: None, event_id: "e-1",
    ///         comment: None, document_name: "ClusterJoin", registered_at: 1_000, sent_at_version: 0,
    ///         due_at: 1_240, waiter: "Node", marker: "d1.0",
    ///     }).await.unwrap();
    ///     assert_eq!(table.peek_command("c-1").await.unwrap().unwrap().owner, "i-1");
    /// });
    /// ```
    fn register_command(
        &self,
        registration: CommandRegistration<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes a command out of the table. `None` if it is not there: not ours, a duplicate
    /// result whose twin already took it, or not registered yet.
    ///
    /// ```
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::store::NodeTable;
    /// use lifecycle_core::{Record, Store};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let table = MemoryTable::new();
    ///     table.records().insert(Record::new("i-1", "joining"));
    ///     let targets = ["i-1".to_string()];
    ///     table.register_command(lifecycle_aws::store::CommandRegistration {
    ///         command_id: "c-1", owner: "i-1", targets: &targets, lifecycle: None, event_id: "e-1",
    ///         comment: None, document_name: "ClusterJoin", registered_at: 1_000, sent_at_version: 0,
    ///         due_at: 1_240, waiter: "Node", marker: "d1.0",
    ///     }).await.unwrap();
    ///     assert!(table.consume_command("c-1").await.unwrap().is_some());
    ///     assert!(table.consume_command("c-1").await.unwrap().is_none(), "taken once");
    /// });
    /// ```
    fn consume_command(
        &self,
        command_id: &str,
    ) -> impl Future<Output = Result<Option<RegisteredCommand>, StoreError>> + Send;

    /// When the wait for a command registered without a time (by the original library)
    /// started: the first call notes `now` on it (and puts it in `waiter`'s index of waits),
    /// later calls return what was noted.
    ///
    /// ```
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::store::NodeTable;
    /// use lifecycle_core::{Record, Store};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let table = MemoryTable::new();
    ///     table.records().insert(Record::new("i-1", "joining"));
    ///     let targets = ["i-1".to_string()];
    ///     table.register_command(lifecycle_aws::store::CommandRegistration {
    ///         command_id: "c-1", owner: "i-1", targets: &targets, lifecycle: None, event_id: "e-1",
    ///         comment: None, document_name: "ClusterJoin", registered_at: 1_000, sent_at_version: 0,
    ///         due_at: 1_240, waiter: "Node", marker: "d1.0",
    ///     }).await.unwrap();
    ///     // A command registered with a time keeps it.
    ///     assert_eq!(table.first_seen("c-1", "Node", 5_000).await.unwrap(), 1_000);
    /// });
    /// ```
    fn first_seen(
        &self,
        command_id: &str,
        waiter: &str,
        now: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Reads a command without consuming it.
    ///
    /// ```
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::store::NodeTable;
    /// use lifecycle_core::{Record, Store};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let table = MemoryTable::new();
    ///     table.records().insert(Record::new("i-1", "joining"));
    ///     let targets = ["i-1".to_string()];
    ///     table.register_command(lifecycle_aws::store::CommandRegistration {
    ///         command_id: "c-1", owner: "i-1", targets: &targets, lifecycle: None, event_id: "e-1",
    ///         comment: None, document_name: "ClusterJoin", registered_at: 1_000, sent_at_version: 0,
    ///         due_at: 1_240, waiter: "Node", marker: "d1.0",
    ///     }).await.unwrap();
    ///     assert!(table.peek_command("c-1").await.unwrap().is_some());
    ///     assert!(table.peek_command("c-1").await.unwrap().is_some(), "not consumed");
    /// });
    /// ```
    fn peek_command(
        &self,
        command_id: &str,
    ) -> impl Future<Output = Result<Option<RegisteredCommand>, StoreError>> + Send;

    /// The waits of model `waiter` due at `now` (`DueAt <= now` in the index of waits),
    /// earliest first, at most `limit`, starting after `after`: what the sweep handles. Reads
    /// only waiting items.
    ///
    /// ```
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::store::NodeTable;
    /// use lifecycle_core::{Record, Store};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let table = MemoryTable::new();
    ///     table.records().insert(Record::new("i-1", "joining"));
    ///     let targets = ["i-1".to_string()];
    ///     table.register_command(lifecycle_aws::store::CommandRegistration {
    ///         command_id: "c-1", owner: "i-1", targets: &targets, lifecycle: None, event_id: "e-1",
    ///         comment: None, document_name: "ClusterJoin", registered_at: 1_000, sent_at_version: 0,
    ///         due_at: 1_240, waiter: "Node", marker: "d1.0",
    ///     }).await.unwrap();
    ///     assert!(table.due_waits("Node", 1_000, None, 50).await.unwrap().waits.is_empty(), "not due yet");
    ///     assert_eq!(table.due_waits("Node", 1_240, None, 50).await.unwrap().waits.len(), 1);
    /// });
    /// ```
    fn due_waits(
        &self,
        waiter: &str,
        now: u64,
        after: Option<WaitCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<DueWaits, StoreError>> + Send;

    /// Moves a waiting item's next look to `due_at`. Nothing if it no longer waits.
    ///
    /// ```
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::store::NodeTable;
    /// use lifecycle_core::{Record, Store};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let table = MemoryTable::new();
    ///     table.records().insert(Record::new("i-1", "joining"));
    ///     let targets = ["i-1".to_string()];
    ///     table.register_command(lifecycle_aws::store::CommandRegistration {
    ///         command_id: "c-1", owner: "i-1", targets: &targets, lifecycle: None, event_id: "e-1",
    ///         comment: None, document_name: "ClusterJoin", registered_at: 1_000, sent_at_version: 0,
    ///         due_at: 1_240, waiter: "Node", marker: "d1.0",
    ///     }).await.unwrap();
    ///     table.reschedule("c-1", 2_000).await.unwrap();
    ///     assert!(table.due_waits("Node", 1_240, None, 50).await.unwrap().waits.is_empty());
    /// });
    /// ```
    fn reschedule(
        &self,
        ident: &str,
        due_at: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Lets a record expire at `expires_at` (epoch seconds) through the table's TTL: a finished
    /// lifecycle's record is kept that long, for inspection.
    ///
    /// ```
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::store::NodeTable;
    /// use lifecycle_core::{Record, Store};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let table = MemoryTable::new();
    ///     table.records().insert(Record::new("i-1", "joining"));
    ///     table.retain_until("i-1", 1_764_400_000).await.unwrap();
    ///     assert_eq!(table.load("i-1").await.unwrap().unwrap().attributes["ExpiresAt"], 1_764_400_000_u64);
    /// });
    /// ```
    fn retain_until(
        &self,
        ident: &str,
        expires_at: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Parks a launch on `ident`'s record while the record is still in one of `waiting` (the
    /// states before the initial one), due for `waiter`'s sweep at `due_at`. `false` if it no
    /// longer is: run the launch now.
    ///
    /// ```
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::store::NodeTable;
    /// use lifecycle_core::{Record, Store};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let table = MemoryTable::new();
    ///     table.records().insert(Record::new("i-1", "joining"));
    ///     table.records().insert(Record::new("i-1", "pending"));
    ///     let pending = lifecycle_aws::store::PendingLifecycle {
    ///         action: lifecycle_core::testing::action("i-1", lifecycle_core::LifecycleTransition::Launching),
    ///         event_id: "e-1".into(),
    ///         parked_at: Some(1_000),
    ///     };
    ///     assert!(table.park_lifecycle("i-1", &["new", "pending"], &pending, "Node", 1_240).await.unwrap());
    ///     // Past cloud-init: not parked, run the launch now.
    ///     table.records().insert(Record::new("i-1", "finished_cloud_init"));
    ///     assert!(!table.park_lifecycle("i-1", &["new", "pending"], &pending, "Node", 1_240).await.unwrap());
    /// });
    /// ```
    fn park_lifecycle(
        &self,
        ident: &str,
        waiting: &[&str],
        pending: &PendingLifecycle,
        waiter: &str,
        due_at: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Puts the record `ident`, at rest at `version`, in the index of waits for a check that
    /// its instance still exists at `due_at` (`WaitShard` = `waiter`, `DueAt`, `AliveCheck`):
    /// bookkeeping that moves no version, applied only if the record is still at `version`
    /// with no parked launch. The record's next state change takes it out again. `false` if
    /// the record moved on.
    ///
    /// ```
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::store::{NodeTable, Wait};
    /// use lifecycle_core::Record;
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let table = MemoryTable::new();
    ///     table.records().insert(Record::new("i-1", "ready"));
    ///     assert!(table.schedule_alive_check("i-1", 0, "Node", 1_000).await.unwrap());
    ///     let page = table.due_waits("Node", 1_000, None, 10).await.unwrap();
    ///     assert!(matches!(&page.waits[0], Ok(Wait::AliveCheck { ident }) if ident == "i-1"));
    ///     // At another version: moved on, not scheduled.
    ///     assert!(!table.schedule_alive_check("i-1", 7, "Node", 1_000).await.unwrap());
    /// });
    /// ```
    fn schedule_alive_check(
        &self,
        ident: &str,
        version: u64,
        waiter: &str,
        due_at: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Creates `ident` in `state` if it does not exist. `false` if it already did.
    ///
    /// ```
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::store::NodeTable;
    /// use lifecycle_core::{Record, Store};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let table = MemoryTable::new();
    ///     table.records().insert(Record::new("i-1", "joining"));
    ///     assert!(table.create("backup", "backup").await.unwrap());
    ///     assert!(!table.create("backup", "backup").await.unwrap());
    /// });
    /// ```
    fn create(
        &self,
        ident: &str,
        state: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Puts an instance's record in `state` with the attributes `set`, creating it if there is
    /// none, if it is in one of `from` otherwise: what cloud-init's progress does to a record
    /// (the Lambda writes it, from EC2's facts). Moves the version; leaves a parked launch on
    /// the record (the table's stream resumes it). `false` if the record is elsewhere.
    ///
    /// ```
    /// use lifecycle_aws::local::MemoryTable;
    /// use lifecycle_aws::store::NodeTable;
    /// use lifecycle_core::{Record, Store};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let table = MemoryTable::new();
    ///     table.records().insert(Record::new("i-1", "joining"));
    ///     let set = [("InstanceIp".to_string(), serde_json::json!("10.0.3.7"))];
    ///     assert!(table.register_instance("i-2", "finished_cloud_init", &["new", "pending"], &set).await.unwrap());
    ///     assert_eq!(table.load("i-2").await.unwrap().unwrap().get_str("InstanceIp"), Some("10.0.3.7"));
    ///     // `i-1` is past cloud-init: left alone.
    ///     assert!(!table.register_instance("i-1", "finished_cloud_init", &["new", "pending"], &set).await.unwrap());
    /// });
    /// ```
    fn register_instance(
        &self,
        ident: &str,
        state: &str,
        from: &[&str],
        set: &[(String, serde_json::Value)],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// A borrowed node table is a node table.
impl<T: NodeTable + ?Sized> NodeTable for &T {
    fn claim(
        &self,
        request: ClaimRequest<'_>,
        until: u64,
        now: u64,
    ) -> impl Future<Output = Result<ClaimOutcome, StoreError>> + Send {
        (**self).claim(request, until, now)
    }

    fn release_claim(
        &self,
        ident: &str,
        holder: &str,
        version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).release_claim(ident, holder, version)
    }

    fn register_command(
        &self,
        registration: CommandRegistration<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).register_command(registration)
    }

    fn consume_command(
        &self,
        command_id: &str,
    ) -> impl Future<Output = Result<Option<RegisteredCommand>, StoreError>> + Send {
        (**self).consume_command(command_id)
    }

    fn peek_command(
        &self,
        command_id: &str,
    ) -> impl Future<Output = Result<Option<RegisteredCommand>, StoreError>> + Send {
        (**self).peek_command(command_id)
    }

    fn first_seen(
        &self,
        command_id: &str,
        waiter: &str,
        now: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        (**self).first_seen(command_id, waiter, now)
    }

    fn due_waits(
        &self,
        waiter: &str,
        now: u64,
        after: Option<WaitCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<DueWaits, StoreError>> + Send {
        (**self).due_waits(waiter, now, after, limit)
    }

    fn reschedule(
        &self,
        ident: &str,
        due_at: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).reschedule(ident, due_at)
    }

    fn retain_until(
        &self,
        ident: &str,
        expires_at: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).retain_until(ident, expires_at)
    }
    fn park_lifecycle(
        &self,
        ident: &str,
        waiting: &[&str],
        pending: &PendingLifecycle,
        waiter: &str,
        due_at: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).park_lifecycle(ident, waiting, pending, waiter, due_at)
    }

    fn schedule_alive_check(
        &self,
        ident: &str,
        version: u64,
        waiter: &str,
        due_at: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).schedule_alive_check(ident, version, waiter, due_at)
    }

    fn create(
        &self,
        ident: &str,
        state: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).create(ident, state)
    }

    fn register_instance(
        &self,
        ident: &str,
        state: &str,
        from: &[&str],
        set: &[(String, serde_json::Value)],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).register_instance(ident, state, from, set)
    }
}

/// The node table in DynamoDB.
///
/// ```
/// use lifecycle_aws::store::DynamoStore;
/// let config = aws_config::SdkConfig::builder()
///     .region(aws_config::Region::new("eu-central-1"))
///     .behavior_version(aws_config::BehaviorVersion::latest())
///     .build();
/// let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "lifecycle-nodes");
/// assert_eq!(store.table(), "lifecycle-nodes");
/// ```
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    command_ttl: Duration,
}

impl DynamoStore {
    /// The table `table`, through `client`. Command items expire a day after they are sent.
    ///
    /// ```
    /// use lifecycle_aws::store::DynamoStore;
    /// let config = aws_config::SdkConfig::builder()
    ///     .region(aws_config::Region::new("eu-central-1"))
    ///     .behavior_version(aws_config::BehaviorVersion::latest())
    ///     .build();
    /// let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "lifecycle-nodes");
    /// ```
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            command_ttl: Duration::from_secs(24 * 3600),
        }
    }

    /// Creates the node table `table` (hash key `Ident`, on demand, with the index of waits
    /// [`WAITS_INDEX`]) and returns the store on it: for local servers, simulations and tests (`deploy/template.yaml` creates it on AWS,
    /// with its stream and TTL).
    ///
    /// ```no_run
    /// # async fn f(client: aws_sdk_dynamodb::Client) -> Result<(), lifecycle_aws::store::StoreError> {
    /// let store = lifecycle_aws::store::DynamoStore::create_table(client, "nodes").await?;
    /// assert_eq!(store.table(), "nodes");
    /// # Ok(()) }
    /// ```
    pub async fn create_table(
        client: Client,
        table: impl Into<String>,
    ) -> Result<Self, StoreError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
            Projection, ProjectionType, ScalarAttributeType,
        };
        let store = DynamoStore::new(client, table);
        let invalid = |e: aws_sdk_dynamodb::error::BuildError| {
            store.request_error_message("CreateTable", e.to_string(), false)
        };
        let key = |name: &str, key_type| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(invalid)
        };
        let definition = |name: &str, kind| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(kind)
                .build()
                .map_err(invalid)
        };
        // The sparse index of waits: only waiting items carry its keys.
        let waits = GlobalSecondaryIndex::builder()
            .index_name(WAITS_INDEX)
            .key_schema(key(attr::WAIT_SHARD, KeyType::Hash)?)
            .key_schema(key(attr::DUE_AT, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(invalid)?;
        store
            .client
            .create_table()
            .table_name(&store.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(attr::IDENT, KeyType::Hash)?)
            .attribute_definitions(definition(attr::IDENT, ScalarAttributeType::S)?)
            .attribute_definitions(definition(attr::WAIT_SHARD, ScalarAttributeType::S)?)
            .attribute_definitions(definition(attr::DUE_AT, ScalarAttributeType::N)?)
            .global_secondary_indexes(waits)
            .send()
            .await
            .map_err(|e| store.request_error("CreateTable", e))?;
        Ok(store)
    }

    fn request_error_message(
        &self,
        operation: &'static str,
        message: String,
        transient: bool,
    ) -> StoreError {
        StoreError::Request {
            operation,
            table: self.table.clone(),
            message,
            transient,
        }
    }

    /// How long command items live (their `ExpiresAt`).
    ///
    /// ```
    /// use lifecycle_aws::store::DynamoStore;
    /// let config = aws_config::SdkConfig::builder()
    ///     .region(aws_config::Region::new("eu-central-1"))
    ///     .behavior_version(aws_config::BehaviorVersion::latest())
    ///     .build();
    /// // Keep command items a week (their results can come late; the original kept them forever).
    /// let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "lifecycle-nodes")
    ///     .with_command_ttl(std::time::Duration::from_secs(7 * 24 * 3600));
    /// ```
    pub fn with_command_ttl(mut self, ttl: Duration) -> Self {
        self.command_ttl = ttl;
        self
    }

    /// The table's name.
    ///
    /// ```
    /// use lifecycle_aws::store::DynamoStore;
    /// let config = aws_config::SdkConfig::builder()
    ///     .region(aws_config::Region::new("eu-central-1"))
    ///     .behavior_version(aws_config::BehaviorVersion::latest())
    ///     .build();
    /// assert_eq!(DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "nodes").table(), "nodes");
    /// ```
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The client.
    ///
    /// ```
    /// use lifecycle_aws::store::DynamoStore;
    /// let config = aws_config::SdkConfig::builder()
    ///     .region(aws_config::Region::new("eu-central-1"))
    ///     .behavior_version(aws_config::BehaviorVersion::latest())
    ///     .build();
    /// let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "nodes");
    /// // The same client, for the table's other uses (an operator's look at it, a migration).
    /// let _describe = store.client().describe_table().table_name(store.table());
    /// ```
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn request_error<E, R>(&self, operation: &'static str, error: SdkError<E, R>) -> StoreError
    where
        E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
        R: std::fmt::Debug + 'static,
    {
        let transient = is_transient(&error);
        self.request_error_message(operation, error_chain(&error), transient)
    }
}

impl DynamoStore {
    /// Sets number attribute `name` on `ident` if the item has attribute `present` (nothing
    /// otherwise): bookkeeping that needs no version, idempotent when sent again.
    async fn set_number_where(
        &self,
        ident: &str,
        name: &str,
        value: u64,
        present: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(ident))
            .update_expression("SET #name = :value")
            .condition_expression("attribute_exists(#present)")
            .expression_attribute_names("#name", name)
            .expression_attribute_names("#present", present)
            .expression_attribute_values(":value", n(value))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(self.request_error("UpdateItem", e)),
        }
    }
}

impl NodeTable for DynamoStore {
    async fn claim(
        &self,
        request: ClaimRequest<'_>,
        until: u64,
        now: u64,
    ) -> Result<ClaimOutcome, StoreError> {
        let next = request.version + 1;
        let mut values = HashMap::from([
            (":from".to_owned(), s(request.state)),
            (":holder".to_owned(), s(request.holder)),
            (":until".to_owned(), n(until)),
            (":now".to_owned(), n(now)),
            (":next".to_owned(), n(next)),
            (":token".to_owned(), s(request.token)),
        ]);
        let condition = format!(
            "#status = :from AND {} AND (attribute_not_exists(#by) OR #until < :now)",
            version_condition(request.version, &mut values)
        );
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(request.ident))
            .update_expression(
                "SET #by = :holder, #until = :until, #version = :next, #token = :token",
            )
            .condition_expression(condition)
            .set_expression_attribute_names(Some(HashMap::from([
                ("#status".to_owned(), attr::ITEM_STATUS.to_owned()),
                ("#version".to_owned(), attr::VERSION.to_owned()),
                ("#by".to_owned(), attr::CLAIMED_BY.to_owned()),
                ("#until".to_owned(), attr::CLAIMED_UNTIL.to_owned()),
                ("#token".to_owned(), attr::WRITE_TOKEN.to_owned()),
            ])))
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(ClaimOutcome::Claimed { version: next }),
            Err(e) => e,
        };
        let item = match conditional_failure(&error) {
            Some(Some(item)) => item,
            Some(None) => return Ok(ClaimOutcome::Lost),
            None => return Err(self.request_error("UpdateItem", error)),
        };
        if holds_write(item, request.token, next) {
            return Ok(ClaimOutcome::Claimed { version: next });
        }
        let moved = item.get(attr::ITEM_STATUS) != Some(&s(request.state))
            || item_version(item) != request.version;
        Ok(if moved {
            ClaimOutcome::Lost
        } else {
            ClaimOutcome::Busy {
                until: number(item, attr::CLAIMED_UNTIL).unwrap_or(0),
            }
        })
    }

    async fn release_claim(
        &self,
        ident: &str,
        holder: &str,
        version: u64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(ident))
            .update_expression("SET #until = :zero")
            .condition_expression("#by = :holder AND #version = :version")
            .expression_attribute_names("#until", attr::CLAIMED_UNTIL)
            .expression_attribute_names("#by", attr::CLAIMED_BY)
            .expression_attribute_names("#version", attr::VERSION)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":holder", s(holder))
            .expression_attribute_values(":version", n(version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(self.request_error("UpdateItem", e)),
        }
    }

    async fn register_command(
        &self,
        registration: CommandRegistration<'_>,
    ) -> Result<(), StoreError> {
        let CommandRegistration {
            command_id,
            owner,
            targets,
            lifecycle,
            event_id,
            comment,
            document_name,
            registered_at,
            sent_at_version,
            marker,
            due_at,
            waiter,
        } = registration;
        let expires = SystemTime::now()
            .checked_add(self.command_ttl)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            // A retry whose first answer was lost, or an adoption, finds its own marker.
            .condition_expression("attribute_not_exists(#ident) OR #marker = :marker")
            .expression_attribute_names("#ident", attr::IDENT)
            .expression_attribute_names("#marker", attr::MARKER)
            .expression_attribute_values(":marker", s(marker))
            .item(attr::IDENT, s(command_id))
            .item(attr::MARKER, s(marker))
            .item(attr::WAIT_SHARD, s(waiter))
            .item(attr::DUE_AT, n(due_at))
            .item(
                attr::SENT_AT_VERSION,
                AttributeValue::N(sent_at_version.to_string()),
            )
            .item(attr::ITEM_TYPE, s(COMMAND_ITEM_TYPE))
            .item(attr::OWNER, s(owner))
            .item(
                attr::RUNNING_ON,
                s(targets.first().map_or("", String::as_str)),
            )
            .item(
                attr::TARGETS,
                AttributeValue::L(targets.iter().map(|t| s(t)).collect()),
            )
            .item("EventId", s(event_id))
            .item("Commands", s(document_name))
            .item(attr::EXPIRES_AT, AttributeValue::N(expires.to_string()))
            .item(
                attr::REGISTERED_AT,
                AttributeValue::N(registered_at.to_string()),
            );
        if let Some(comment) = comment {
            request = request.item("Comment", s(comment));
        }
        if let Some(action) = lifecycle {
            request = request.item(attr::LIFECYCLE_DATA, action_to_item(action));
        }
        request
            .send()
            .await
            .map_err(|e| self.request_error("PutItem", e))?;
        Ok(())
    }

    async fn consume_command(
        &self,
        command_id: &str,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(command_id))
            .condition_expression("#type = :command")
            .expression_attribute_names("#type", attr::ITEM_TYPE)
            .expression_attribute_values(":command", s(COMMAND_ITEM_TYPE))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let old = match result {
            Ok(output) => output.attributes,
            Err(e) if is_conditional_failure(&e) => None,
            Err(e) => return Err(self.request_error("DeleteItem", e)),
        };
        old.map(|item| command_from_item(command_id, &item))
            .transpose()
    }

    async fn first_seen(
        &self,
        command_id: &str,
        waiter: &str,
        now: u64,
    ) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(command_id))
            // Into the index of waits too: the original library's commands are not in it.
            .update_expression(
                "SET #at = if_not_exists(#at, :now), #shard = if_not_exists(#shard, :shard), \
                 #due = if_not_exists(#due, :now)",
            )
            .condition_expression("#type = :command")
            .expression_attribute_names("#at", attr::REGISTERED_AT)
            .expression_attribute_names("#shard", attr::WAIT_SHARD)
            .expression_attribute_names("#due", attr::DUE_AT)
            .expression_attribute_values(":shard", s(waiter))
            .expression_attribute_names("#type", attr::ITEM_TYPE)
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":command", s(COMMAND_ITEM_TYPE))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match output {
            Ok(output) => Ok(output
                .attributes
                .as_ref()
                .and_then(|a| number(a, attr::REGISTERED_AT))
                .unwrap_or(now)),
            // Consumed in the meantime: its wait is over anyway.
            Err(e) if is_conditional_failure(&e) => Ok(now),
            Err(e) => Err(self.request_error("UpdateItem", e)),
        }
    }

    async fn peek_command(
        &self,
        command_id: &str,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(command_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.request_error("GetItem", e))?;
        match output.item {
            Some(item) if item.get(attr::ITEM_TYPE) == Some(&s(COMMAND_ITEM_TYPE)) => {
                command_from_item(command_id, &item).map(Some)
            }
            _ => Ok(None),
        }
    }

    async fn due_waits(
        &self,
        waiter: &str,
        now: u64,
        after: Option<WaitCursor>,
        limit: usize,
    ) -> Result<DueWaits, StoreError> {
        // The index is eventually consistent: a wait that just ended may still show, and is
        // checked again (conditionally) when it is handled.
        let start = after.map(|cursor| {
            HashMap::from([
                (attr::IDENT.to_owned(), s(&cursor.ident)),
                (attr::WAIT_SHARD.to_owned(), s(waiter)),
                (attr::DUE_AT.to_owned(), n(cursor.due_at)),
            ])
        });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(WAITS_INDEX)
            .key_condition_expression("#shard = :shard AND #due <= :now")
            .expression_attribute_names("#shard", attr::WAIT_SHARD)
            .expression_attribute_names("#due", attr::DUE_AT)
            .expression_attribute_values(":shard", s(waiter))
            .expression_attribute_values(":now", n(now))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| self.request_error("Query", e))?;
        let next = output.last_evaluated_key().map(|key| WaitCursor {
            ident: match key.get(attr::IDENT) {
                Some(AttributeValue::S(ident)) => ident.clone(),
                _ => String::new(),
            },
            due_at: number(key, attr::DUE_AT).unwrap_or(now),
        });
        let waits = output.items().iter().map(wait_from_item).collect();
        Ok(DueWaits { waits, next })
    }

    async fn reschedule(&self, ident: &str, due_at: u64) -> Result<(), StoreError> {
        self.set_number_where(ident, attr::DUE_AT, due_at, attr::WAIT_SHARD)
            .await
    }

    async fn retain_until(&self, ident: &str, expires_at: u64) -> Result<(), StoreError> {
        self.set_number_where(ident, attr::EXPIRES_AT, expires_at, attr::IDENT)
            .await
    }

    async fn park_lifecycle(
        &self,
        ident: &str,
        waiting: &[&str],
        pending: &PendingLifecycle,
        waiter: &str,
        due_at: u64,
    ) -> Result<bool, StoreError> {
        let mut values: HashMap<String, AttributeValue> = waiting
            .iter()
            .enumerate()
            .map(|(i, state)| (format!(":w{i}"), s(state)))
            .collect();
        values.insert(":pending".into(), pending_to_item(pending));
        values.insert(":shard".into(), s(waiter));
        values.insert(":due".into(), n(due_at));
        let placeholders: Vec<String> = (0..waiting.len()).map(|i| format!(":w{i}")).collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(ident))
            .update_expression("SET #pending = :pending, #shard = :shard, #due = :due")
            .expression_attribute_names("#shard", attr::WAIT_SHARD)
            .expression_attribute_names("#due", attr::DUE_AT)
            .condition_expression(format!("#status IN ({})", placeholders.join(", ")))
            .expression_attribute_names("#pending", attr::PENDING_LIFECYCLE)
            .expression_attribute_names("#status", attr::ITEM_STATUS)
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(self.request_error("UpdateItem", e)),
        }
    }

    async fn schedule_alive_check(
        &self,
        ident: &str,
        version: u64,
        waiter: &str,
        due_at: u64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(ident))
            .update_expression("SET #shard = :shard, #due = :due, #alive = :alive")
            .condition_expression(
                "#version = :version AND attribute_not_exists(#pending) AND attribute_exists(#ident)",
            )
            .expression_attribute_names("#shard", attr::WAIT_SHARD)
            .expression_attribute_names("#due", attr::DUE_AT)
            .expression_attribute_names("#alive", attr::ALIVE_CHECK)
            .expression_attribute_names("#version", attr::VERSION)
            .expression_attribute_names("#pending", attr::PENDING_LIFECYCLE)
            .expression_attribute_names("#ident", attr::IDENT)
            .expression_attribute_values(":shard", s(waiter))
            .expression_attribute_values(":due", n(due_at))
            .expression_attribute_values(":alive", AttributeValue::Bool(true))
            .expression_attribute_values(":version", n(version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(self.request_error("UpdateItem", e)),
        }
    }

    async fn create(&self, ident: &str, state: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .condition_expression("attribute_not_exists(#ident)")
            .expression_attribute_names("#ident", attr::IDENT)
            .item(attr::IDENT, s(ident))
            .item(attr::ITEM_STATUS, s(state))
            .item(attr::VERSION, AttributeValue::N("1".into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(self.request_error("PutItem", e)),
        }
    }

    async fn register_instance(
        &self,
        ident: &str,
        state: &str,
        from: &[&str],
        set: &[(String, serde_json::Value)],
    ) -> Result<bool, StoreError> {
        let mut names = HashMap::from([
            ("#ident".to_owned(), attr::IDENT.to_owned()),
            ("#status".to_owned(), attr::ITEM_STATUS.to_owned()),
            ("#version".to_owned(), attr::VERSION.to_owned()),
        ]);
        let mut values =
            HashMap::from([(":state".to_owned(), s(state)), (":one".to_owned(), n(1))]);
        let mut update = String::from("SET #status = :state");
        for (i, (key, value)) in set.iter().enumerate() {
            names.insert(format!("#a{i}"), key.clone());
            values.insert(format!(":a{i}"), to_attribute(value));
            update.push_str(&format!(", #a{i} = :a{i}"));
        }
        update.push_str(" ADD #version :one");
        let mut condition = String::from("attribute_not_exists(#ident)");
        if !from.is_empty() {
            let placeholders: Vec<String> = (0..from.len()).map(|i| format!(":f{i}")).collect();
            for (i, state) in from.iter().enumerate() {
                values.insert(format!(":f{i}"), s(state));
            }
            condition.push_str(&format!(" OR #status IN ({})", placeholders.join(", ")));
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(ident))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(self.request_error("UpdateItem", e)),
        }
    }
}

impl Store for DynamoStore {
    type Error = StoreError;

    async fn load(&self, ident: &str) -> Result<Option<Record>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(ident))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.request_error("GetItem", e))?;
        output
            .item
            .map(|item| record_from_item(ident, item))
            .transpose()
    }

    async fn compare_and_set(&self, change: StateChange<'_>) -> Result<CasOutcome, StoreError> {
        self.conditional_write(
            change.ident,
            change.from,
            change.version,
            Some(change.to),
            change.set,
            change.token,
        )
        .await
    }

    async fn update_attributes(
        &self,
        update: AttributeUpdate<'_>,
    ) -> Result<CasOutcome, StoreError> {
        self.conditional_write(
            update.ident,
            update.state,
            update.version,
            None,
            update.set,
            update.token,
        )
        .await
    }
}

impl DynamoStore {
    /// One UpdateItem if the record is still in `from` at `version`: a state change (`to`),
    /// which also releases the claim and takes off a parked launch and its wait, or attributes
    /// alone (`to` = `None`), which leave those to the record's own lifecycle.
    async fn conditional_write(
        &self,
        ident: &str,
        from: &str,
        version: u64,
        to: Option<&str>,
        attributes: &[(String, serde_json::Value)],
        token: &str,
    ) -> Result<CasOutcome, StoreError> {
        let next = version + 1;
        let mut set = String::from("SET #version = :next, #token = :token");
        let mut remove = String::new();
        let mut names = HashMap::from([
            ("#status".to_owned(), attr::ITEM_STATUS.to_owned()),
            ("#version".to_owned(), attr::VERSION.to_owned()),
            ("#token".to_owned(), attr::WRITE_TOKEN.to_owned()),
        ]);
        let mut values = HashMap::from([
            (":from".to_owned(), s(from)),
            (":next".to_owned(), n(next)),
            (":token".to_owned(), s(token)),
        ]);
        if let Some(to) = to {
            set.push_str(", #status = :to");
            values.insert(":to".to_owned(), s(to));
            // Every state change releases the record's claim, and takes a parked launch off:
            // this library writes a record only once it left the states a launch is parked in,
            // so its first write is that launch's (resumed or redelivered) first state change.
            remove.push_str(" REMOVE #by, #until, #pending, #shard, #due, #alive");
            names.extend([
                ("#by".to_owned(), attr::CLAIMED_BY.to_owned()),
                ("#until".to_owned(), attr::CLAIMED_UNTIL.to_owned()),
                ("#pending".to_owned(), attr::PENDING_LIFECYCLE.to_owned()),
                ("#shard".to_owned(), attr::WAIT_SHARD.to_owned()),
                ("#due".to_owned(), attr::DUE_AT.to_owned()),
                ("#alive".to_owned(), attr::ALIVE_CHECK.to_owned()),
            ]);
        }
        for (i, (key, value)) in attributes
            .iter()
            .filter(|(key, _)| {
                !matches!(
                    key.as_str(),
                    attr::IDENT
                        | attr::ITEM_STATUS
                        | attr::VERSION
                        | attr::WRITE_TOKEN
                        | attr::CLAIMED_BY
                        | attr::CLAIMED_UNTIL
                        | attr::PENDING_LIFECYCLE
                        | attr::WAIT_SHARD
                        | attr::DUE_AT
                        | attr::ALIVE_CHECK
                )
            })
            .enumerate()
        {
            names.insert(format!("#a{i}"), key.clone());
            if value.is_null() {
                remove.push_str(if remove.is_empty() { " REMOVE " } else { ", " });
                remove.push_str(&format!("#a{i}"));
            } else {
                set.push_str(&format!(", #a{i} = :a{i}"));
                values.insert(format!(":a{i}"), to_attribute(value));
            }
        }
        let condition = format!(
            "#status = :from AND {}",
            version_condition(version, &mut values)
        );
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(ident))
            .update_expression(set + &remove)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(CasOutcome::Applied { version: next }),
            Err(e) => match conditional_failure(&e) {
                // The SDK sent the write again after losing the answer to the first: the item
                // holds this very write.
                Some(Some(item)) if holds_write(item, token, next) => {
                    Ok(CasOutcome::Applied { version: next })
                }
                Some(_) => Ok(CasOutcome::Conflict),
                None => Err(self.request_error("UpdateItem", e)),
            },
        }
    }
}

/// The condition on the record's version; a record the original library wrote has none, and
/// the first write adds it.
fn version_condition(version: u64, values: &mut HashMap<String, AttributeValue>) -> &'static str {
    if version == 0 {
        "attribute_not_exists(#version)"
    } else {
        values.insert(":version".into(), n(version));
        "#version = :version"
    }
}

/// Whether `item` holds the write with `token` that moved it to `version`.
fn holds_write(item: &HashMap<String, AttributeValue>, token: &str, version: u64) -> bool {
    item.get(attr::WRITE_TOKEN) == Some(&s(token)) && item_version(item) == version
}

/// For a failed condition: `Some(item as it is now)` (`Some(None)`: there is no item).
fn conditional_failure<R>(
    error: &SdkError<UpdateItemError, R>,
) -> Option<Option<&HashMap<String, AttributeValue>>> {
    match error {
        SdkError::ServiceError(e) => match e.err() {
            UpdateItemError::ConditionalCheckFailedException(failed) => Some(failed.item()),
            _ => None,
        },
        _ => None,
    }
}

fn is_conditional_failure<E, R>(error: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    matches!(error, SdkError::ServiceError(e) if e.err().code() == Some("ConditionalCheckFailedException"))
}

/// Whether an AWS call that failed this way may succeed when tried again: no answer (a
/// timeout, a dropped connection), a 5xx, or throttling.
///
/// ```
/// use aws_sdk_dynamodb::error::SdkError;
/// use aws_sdk_dynamodb::operation::get_item::GetItemError;
/// let timeout: SdkError<GetItemError, ()> = SdkError::timeout_error("no answer in 3 s");
/// assert!(lifecycle_aws::store::is_transient(&timeout));
/// ```
pub fn is_transient<E, R>(error: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    const THROTTLING: [&str; 8] = [
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "PriorRequestNotComplete",
    ];
    const SERVER: [&str; 4] = [
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "InternalError",
    ];
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(e) => e
            .err()
            .code()
            .is_some_and(|code| THROTTLING.contains(&code) || SERVER.contains(&code)),
        _ => false,
    }
}

/// An error and its causes on one line: the SDK's `Display` alone says only "service error".
///
/// ```
/// #[derive(Debug, thiserror::Error)]
/// #[error("service error")]
/// struct Outer(#[source] std::io::Error);
/// let error = Outer(std::io::Error::other("connection reset"));
/// assert_eq!(lifecycle_aws::store::error_chain(&error), "service error: connection reset");
/// ```
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
