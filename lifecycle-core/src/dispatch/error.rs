//! Why a dispatch could not be done.

use super::*;

/// Processing could not go on.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{DispatchError, MemoryEffects, MemoryStore, Record, load_and_dispatch};
/// lifecycle_core::testing::block_on(async {
///     let store = MemoryStore::new();
///     let effects = MemoryEffects::new();
///     let launch = lifecycle_core::testing::launching("i-1");
///     let missing = load_and_dispatch(&mut Node, &store, "i-1", &launch, &effects).await;
///     assert!(matches!(missing, Err(DispatchError::UnknownRecord(ident)) if ident == "i-1"));
///     store.insert(Record::new("i-1", "redy"));
///     let typo = load_and_dispatch(&mut Node, &store, "i-1", &launch, &effects).await;
///     assert_eq!(typo.unwrap_err().to_string(), "`redy` is not a state of model Node");
/// });
/// // A store's error is in the message once: printing the chain does not repeat it.
/// let failed: DispatchError<NodeState, JoinError, std::io::Error> = DispatchError::Store(std::io::Error::other("throttled"));
/// assert_eq!(failed.to_string(), "store error: throttled");
/// assert!(std::error::Error::source(&failed).is_none());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError<S, E, StoreError> {
    /// The stored state names no state of the model.
    #[error(transparent)]
    UnknownState(#[from] UnknownState),
    /// There is no record for this instance.
    #[error("no record for `{0}`")]
    UnknownRecord(String),
    /// The record's `Version` is past [`MAX_VERSION`](crate::MAX_VERSION): corrupt or forged,
    /// not written by counting. Nothing is written.
    #[error(
        "record `{ident}` has Version {version}, past the largest a record can reach ({}): the item is corrupt",
        crate::MAX_VERSION
    )]
    VersionOutOfRange {
        /// The record.
        ident: String,
        /// Its stored version.
        version: u64,
    },
    /// The store failed; nothing after the failed write was done.
    #[error("store error: {0}")]
    Store(StoreError),
    /// A task failed during failure handling.
    #[error("error during failure handling after {original}: {cause}")]
    FailureHandling {
        /// The error raised while handling the failure.
        cause: TaskFailure<E>,
        /// The failure that was being handled.
        original: FailureCause<E>,
        /// What had been done until then.
        report: Box<Report<S, E>>,
    },
    /// Triggers kept changing the state: the model has a cycle its guards do not break.
    #[error("gave up after {0} state changes for one event: a cycle of transitions never settles")]
    Cycle(usize),
    /// Another delivery holds the record's claim (it is running a side-effecting task for it):
    /// deliver the event again later; once the claim is released or runs out, it resumes.
    #[error("another delivery holds the claim on `{ident}` until {until} (epoch seconds)")]
    Busy {
        /// The record.
        ident: String,
        /// When the claim runs out.
        until: u64,
    },
    /// A task failed on a transient effect error (throttling, a timeout) before its state
    /// change was stored, or the delivery could no longer act before a transition's tasks
    /// ([`Effects::may_act`](crate::Effects::may_act)): deliver the event again; the record
    /// resumes where it is.
    #[error("transient error in trigger `{trigger}` from `{state}`: {error}")]
    Transient {
        /// Where the record is.
        state: S,
        /// The trigger whose task failed.
        trigger: &'static str,
        /// The effect's error.
        error: EffectError,
    },
}

/// The [`DispatchError`] of model `M` with store `St`.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{MemoryStore, ModelDispatchError};
/// use lifecycle_core::testing::Harness;
/// fn retry_later(error: &ModelDispatchError<Node, MemoryStore>) -> bool {
///     use lifecycle_core::DispatchError::*;
///     matches!(error, Busy { .. } | Transient { .. } | Store(_))
/// }
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node);
///     let error = harness.launch("i-unknown").await.unwrap_err();
///     assert!(!retry_later(&error));
/// });
/// ```
pub type ModelDispatchError<M, St> =
    DispatchError<<M as LifecycleModel>::State, <M as LifecycleModel>::Error, <St as Store>::Error>;
