//! Where each instance's state lives, and the compare-and-set every state change goes through.

use std::future::Future;

use serde_json::Value;

use crate::Record;

/// A state change to store if, and only if, the record is still where the dispatcher left it.
///
/// Storing it also releases the record's claim ([`attr::CLAIMED_BY`](crate::attr::CLAIMED_BY)), notes `token` as the
/// record's [`attr::WRITE_TOKEN`](crate::attr::WRITE_TOKEN), and removes every attribute of `set` whose value is null.
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
