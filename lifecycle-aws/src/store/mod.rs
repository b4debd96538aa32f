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
//! # let config = lifecycle_aws::testing::example_sdk_config();
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

mod condition;
mod dynamo;
mod item;
mod memory;
mod schema;
mod size;

pub use crate::aws_error::{error_chain, is_transient};
use condition::{conditional_failure, holds_write, is_conditional_failure, version_condition};
pub use dynamo::DynamoStore;
pub use memory::MemoryTable;
pub use schema::{COMMAND_ITEM_TYPE, WAITS_INDEX, attr};

pub(crate) use item::pending_from_value;
use item::{
    action_to_item, command_from_item, item_version, n, number, pending_to_item, record_from_item,
    s, wait_from_item,
};
pub use item::{from_attribute, pending_from_image, to_attribute};
pub use size::{attribute_size, item_size, record_size, write_units};

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
#[non_exhaustive]
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
/// use lifecycle_aws::store::MemoryTable;
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
/// use lifecycle_aws::store::MemoryTable;
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
#[non_exhaustive]
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
/// use lifecycle_aws::store::MemoryTable;
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
/// use lifecycle_aws::store::MemoryTable;
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
/// [`MemoryTable`] for local runs.
///
/// ```
/// use lifecycle_aws::store::MemoryTable;
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
    /// use lifecycle_aws::store::MemoryTable;
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
    /// use lifecycle_aws::store::MemoryTable;
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
    /// use lifecycle_aws::store::MemoryTable;
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
    /// use lifecycle_aws::store::MemoryTable;
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

    /// Takes a command out of the table only if it is still registered as the claim at
    /// `sent_at_version` registered it: what a delivery that lost its claim withdraws. A
    /// later holder of the claim that adopted the command registered it again, at its own
    /// version, and keeps it. `None` if it is not there or not that registration.
    ///
    /// ```
    /// use lifecycle_aws::store::{CommandRegistration, MemoryTable, NodeTable};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let table = MemoryTable::new();
    ///     let targets = ["i-1".to_string()];
    ///     let registered_at = |sent_at_version| CommandRegistration {
    ///         command_id: "c-1", owner: "i-1", targets: &targets, lifecycle: None, event_id: "e-1",
    ///         comment: None, document_name: "ClusterJoin", registered_at: 1_000, sent_at_version,
    ///         due_at: 1_240, waiter: "Node", marker: "d1.0",
    ///     };
    ///     table.register_command(registered_at(3)).await.unwrap();
    ///     // Adopted by the claim at version 5: the holder at 3 withdraws nothing.
    ///     table.register_command(registered_at(5)).await.unwrap();
    ///     assert!(table.withdraw_command("c-1", 3).await.unwrap().is_none());
    ///     assert!(table.withdraw_command("c-1", 5).await.unwrap().is_some());
    /// });
    /// ```
    fn withdraw_command(
        &self,
        command_id: &str,
        sent_at_version: u64,
    ) -> impl Future<Output = Result<Option<RegisteredCommand>, StoreError>> + Send;

    /// When the wait for a command registered without a time (by the original library)
    /// started: the first call notes `now` on it (and puts it in `waiter`'s index of waits),
    /// later calls return what was noted.
    ///
    /// ```
    /// use lifecycle_aws::store::MemoryTable;
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
    /// use lifecycle_aws::store::MemoryTable;
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
    /// use lifecycle_aws::store::MemoryTable;
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
    /// use lifecycle_aws::store::MemoryTable;
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
    /// use lifecycle_aws::store::MemoryTable;
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
    /// use lifecycle_aws::store::MemoryTable;
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
    /// use lifecycle_aws::store::MemoryTable;
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
    /// use lifecycle_aws::store::MemoryTable;
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
    /// use lifecycle_aws::store::MemoryTable;
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

    fn withdraw_command(
        &self,
        command_id: &str,
        sent_at_version: u64,
    ) -> impl Future<Output = Result<Option<RegisteredCommand>, StoreError>> + Send {
        (**self).withdraw_command(command_id, sent_at_version)
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
