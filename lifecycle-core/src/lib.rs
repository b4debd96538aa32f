//! Compile-time checked lifecycle models for AWS Auto Scaling lifecycle hooks.
//!
//! Write a struct, put [`lifecycle_model`] on its `impl` block, and mark each task method with
//! the `#[transition(...)]` it performs. The macro checks the model (unknown or unreachable
//! states, dead ends, lifecycles that cannot end, triggers that can never fire, task
//! signatures) and generates a state enum, a typestate API and the [`LifecycleModel`]
//! implementation the [`dispatch`]er runs. The attribute's syntax is on [`lifecycle_model`]'s
//! page.
//!
//! ```
//! use lifecycle_core::testing::{block_on, launching};
//! use lifecycle_core::{dispatch, lifecycle_model, Context, MemoryEffects, MemoryStore, Record, StopReason};
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("{0}")]
//! pub struct NodeError(String);
//!
//! #[derive(Default)]
//! pub struct Node {
//!     joined: bool,
//! }
//!
//! #[lifecycle_model(
//!     states(FinishedCloudInit, Joining, Ready, Failed),
//!     initial = FinishedCloudInit,
//!     terminal(Ready, Failed),
//!     failure = Failed,
//!     error = NodeError,
//! )]
//! impl Node {
//!     #[transition(from = FinishedCloudInit, to = Joining, on(launching))]
//!     async fn join_cluster(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
//!         self.joined = true;
//!         Ok(())
//!     }
//!
//!     #[transition(from = Joining, to = Ready)]
//!     async fn finish(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
//!         Ok(())
//!     }
//! }
//!
//! // The record cloud-init left, in a store; a launching lifecycle action for it.
//! let store = MemoryStore::new();
//! store.insert(Record::new("i-1", "finished_cloud_init"));
//! let event = launching("i-1");
//!
//! // `dispatch` is async: on AWS the Lambda runs it on tokio; here `block_on` does.
//! let mut record = store.get("i-1").unwrap();
//! let report = block_on(dispatch(&mut Node::default(), &store, &mut record, &event, &MemoryEffects::new()))
//!     .unwrap();
//! assert_eq!(report.end, NodeState::Ready);
//! assert_eq!(report.stop, StopReason::Finished);
//! assert_eq!(store.get("i-1").unwrap().state, "ready");
//! ```
//!
//! # What the macro generates
//!
//! For `impl Node`: the state enum `NodeState` (stored as snake_case: `FinishedCloudInit` ⇄
//! `finished_cloud_init`), `impl LifecycleModel for Node` (the model as data in
//! `Node::DEFINITION`, its diagram in `Node::MERMAID` and `Node::DOT`), and the typestate API:
//! a module `node_state` with one type per state, and `NodeHandle<'_, S>`, the model in state
//! `S`, with one method per transition declared from `S`, returning the handle in the
//! destination state. Calling a transition from the wrong state does not compile. The
//! handle's own operations are on the [`Start`] and [`Typestate`] traits, so a task may be
//! named `new` or `state`:
//!
//! ```
//! # use lifecycle_core::{lifecycle_model, Context};
//! # #[derive(Debug, thiserror::Error)] #[error("{0}")] pub struct NodeError(String);
//! # #[derive(Default)] pub struct Node;
//! # #[lifecycle_model(states(FinishedCloudInit, Joining, Ready, Failed), initial = FinishedCloudInit,
//! #     terminal(Ready, Failed), failure = Failed, error = NodeError)]
//! # impl Node {
//! #     #[transition(from = FinishedCloudInit, to = Joining, on(launching))]
//! #     async fn join_cluster(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> { Ok(()) }
//! #     #[transition(from = Joining, to = Ready)]
//! #     async fn finish(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> { Ok(()) }
//! # }
//! use lifecycle_core::testing::{block_on, launching};
//! use lifecycle_core::{MemoryEffects, Record, Start, Typestate};
//!
//! let mut node = Node::default();
//! let (event, effects) = (launching("i-1"), MemoryEffects::new());
//! let mut record = Record::new("i-1", "finished_cloud_init");
//! let mut ctx = Context::new(&event, &mut record, &effects);
//! block_on(async {
//!     let handle = NodeHandle::new(&mut node); // in the initial state
//!     let joining: NodeHandle<'_, node_state::Joining> = handle.join_cluster(&mut ctx).await.unwrap();
//!     let ready = joining.finish(&mut ctx).await.unwrap();
//!     assert_eq!(ready.state(), NodeState::Ready);
//!     // ready.finish(&mut ctx) would not compile: `finish` is not declared from `Ready`.
//! });
//! assert_eq!(record.state, "ready");
//! ```
//!
//! The handle runs a transition's tasks and stores its state in the record, with no guards
//! and no store: it is for driving a model by hand (a test, a tool). Events go through
//! [`dispatch`].
//!
//! # Testing a model
//!
//! [`testing`] has events as Auto Scaling and SSM deliver them, a [`testing::block_on`] that
//! needs no async runtime, and [`testing::Harness`], which feeds a model events and command
//! results in memory and records the commands sent and the lifecycle actions ended. Its
//! documentation shows the central pattern: a task sends a command and `wait`s, the command's
//! result moves the record on.
//!
//! # What the compiler proves
//!
//! Besides names and signatures, the model's graph is checked (by `lifecycle-analysis`):
//! every state is reachable; from every state some path reaches a terminal state or a
//! transition that rests (`wait`, `stop`); no event can make triggers fire in a circle (a
//! cycle within one event must pass a `wait` or `stop`, whatever the guards answer); no
//! trigger is shadowed by an earlier unguarded one, and none can never fire (`on(terminating)`
//! from the initial state, `scheduled = "rule"` naming no scheduled state, a guard in both
//! `when` and `unless`); a state whose only ways out wait for a command is entered with
//! `wait` (or `settle`).

#![warn(missing_docs)]

mod context;
mod dispatch;
mod effects;
mod event;
mod filter;
mod history;
mod memory;
mod model;
mod record;
mod store;
pub mod testing;
mod token;
mod typestate;

pub use context::Context;
pub use dispatch::{
    Declined, DispatchError, Failure, FailureCause, Fired, LifecycleProgress, LifecycleResult,
    ModelDispatchError, ModelReport, PROGRESS_ATTRIBUTE, Report, ScheduledRun, StopReason,
    deferred_termination, dispatch, is_waiting, load_and_dispatch, moved_by_result, progress_note,
    scheduled_run, waits_for,
};
pub use effects::{
    ClaimOutcome, ClaimRequest, CommandKey, CommandRequest, EffectError, Effects, MemoryEffects,
    Records, SentCommand,
};
pub use event::{
    CommandStatus, EC2_STATES, Event, EventKind, LifecycleAction, LifecycleTransition, Location,
};
pub use filter::{EventFilter, Route};
pub use history::{HISTORY_LEN, HistoryEntry};
/// Turns an `impl` block into a checked lifecycle model.
///
/// ```
/// use lifecycle_core::{lifecycle_model, CommandRequest, Context, EffectError};
///
/// #[derive(Debug, thiserror::Error)]
/// #[error(transparent)]
/// pub struct NodeError(#[from] EffectError);
///
/// pub struct Node;
///
/// #[lifecycle_model(
///     states(Pending, FinishedCloudInit, Joining, Ready, Failure, Abandoned),
///     before_initial(Pending),
///     initial = FinishedCloudInit,
///     terminal(Ready, Abandoned),
///     failure = Failure,
///     error = NodeError,
///     vis = pub(crate),
/// )]
/// impl Node {
///     /// Sends the join command and waits for its result.
///     #[transition(from = FinishedCloudInit, to = Joining, on(launching), wait)]
///     async fn join(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
///         let instance = ctx.record().ident.clone();
///         ctx.send_command(CommandRequest::new("ClusterJoin", [instance])).await?;
///         Ok(())
///     }
///
///     #[transition(from = Joining, to = Ready, on(command), when(is_enabled))]
///     async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
///         Ok(())
///     }
///
///     fn is_enabled(&self) -> bool {
///         true
///     }
///
///     #[transition(from = Failure, to = Abandoned, ignore_errors)]
///     async fn abandon(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
///         Ok(())
///     }
/// }
///
/// assert_eq!(NodeState::Joining.to_string(), "joining");
/// ```
///
/// # The model attribute
///
/// `#[lifecycle_model(...)]` takes:
///
/// | key | meaning |
/// |---|---|
/// | `states(A, B, ...)` | every state, declared once; stored as snake_case (`FinishedCloudInit` ⇄ `finished_cloud_init`) |
/// | `initial = A` | the state an instance must reach before its lifecycle runs |
/// | `before_initial(New, Pending)` | states a record holds before that (cloud-init still running); events wait, no trigger fires there |
/// | `external(Abandoned, ...)` | states someone outside the model (an operator, another tool) puts records in: they need no incoming transition, and events run there |
/// | `terminal(A, ...)` | states with no way out |
/// | `failure = A` | the state entered when a task fails |
/// | `schedules(A, ...)` | states a scheduled rule of the same name starts the model in |
/// | `renamed(old = A, ...)` | a state an earlier version stored as `old` is `A` now: its records are read as `A` and written as `A` at their next change ([`FormerState`]) |
/// | `retired(old => A, ...)` | a state an earlier version had is gone: its records are read as in `A` (the failure state, say) and go on from there |
/// | `error = Type` | the model's error type, returned by every task |
/// | `crate = path` | where `lifecycle_core` is, if not `::lifecycle_core` |
/// | `vis = pub(crate)` | visibility of the generated state enum, handle and state module (default `pub`); works whatever the model type's own visibility |
///
/// # The transition attribute
///
/// `#[transition(...)]` on a task method `async fn name(&mut self, ctx: &mut Context<'_>) ->
/// Result<(), Error>` (several per method are allowed):
///
/// | key | meaning |
/// |---|---|
/// | `from = A` / `from(A, B)` | source state(s) |
/// | `to = B` | destination; omit for an internal transition |
/// | `when(g, ...)` / `unless(g, ...)` | guards: methods `fn g(&self[, ctx: &Context<'_>]) -> bool` (or `-> Result<bool, Error>`: an `Err` fails the trigger like a task error), sync or async |
/// | `prepare(t, ...)`, `before(t, ...)`, `after(t, ...)` | extra tasks, with the task method's signature |
/// | `ignore_errors` | log task errors and enter the destination anyway; also fires for a failed event |
/// | `stop` | stop processing the event after this trigger |
/// | `wait` | stop after entering the destination and wait for the next event |
/// | `settle` | the destination's only ways out react to command results, and the event is still meant to come to rest there (and complete its lifecycle action): without it, that is an error |
/// | `on(launching, terminating, command, scheduled, scheduled = "rule")` | the events it reacts to (default: all) |
/// | `on(launching(to = warm_pool))`, `on(launching(from = warm_pool))`, `on(terminating(from = warm_pool))` | a lifecycle action by where the instance comes from and goes (`ec2`, `auto_scaling_group`, `warm_pool`); see [`Route`] |
/// | `on(spot_interruption, rebalance, instance_state = "terminated", maintenance)` | a Spot interruption warning, a rebalance recommendation, an EC2 state change (any, or the named state), an AWS Health scheduled change (any, or the named `eventTypeCode`): see [`EventKind`] |
///
/// Triggers of one source state are tried in declaration order.
///
///
/// What the macro generates and what the compiler proves: see the [crate documentation](crate).
pub use lifecycle_macros::lifecycle_model;
pub use memory::{MemoryStore, apply_change};
pub use model::{
    FormerState, LifecycleModel, ModelDefinition, Phase, State, TaskFailure, Transition,
    UnknownState,
};
pub use record::{MAX_VERSION, Record, attr};
pub use store::{AttributeUpdate, CasOutcome, StateChange, Store};
pub use token::{delivery_id, write_token_after};
pub use typestate::{Start, TypedState, Typestate, WrongState};

/// The contract between the dispatcher and a store implementation: what a record carries
/// besides its state and what a store must do with it, gathered in one place for whoever
/// implements [`Store`] on another database (as `lifecycle-aws` does on DynamoDB).
///
/// - Every state change is a compare-and-set on state and version ([`StateChange`],
///   [`AttributeUpdate`], [`CasOutcome`]); [`apply_change`] is what applying one means.
///   A record's `Version` stays at most [`MAX_VERSION`].
/// - Every write carries a token ([`attr::WRITE_TOKEN`], from [`delivery_id`] and
///   [`write_token_after`]): a write found already applied with its own token succeeded.
/// - A claim ([`attr::CLAIMED_BY`], [`attr::CLAIMED_UNTIL`]) is released by the next state
///   change; [`attr::AWAITED_COMMAND`] names the only command results that move the record.
/// - [`PROGRESS_ATTRIBUTE`] ([`LifecycleProgress`], [`progress_note`]) says which lifecycle
///   action last moved the record and whether it waits ([`is_waiting`]); a redelivery of that
///   action resumes rather than being refused.
/// - [`attr::DEFERRED_TERMINATION`] holds a termination that came during a launch's wait
///   ([`deferred_termination`]); [`attr::RUN_EVENT`] names a scheduled machine's run
///   ([`scheduled_run`]: a duplicate, a new run, or this one going on);
///   [`attr::HISTORY`] the record's recent steps ([`HistoryEntry`]), whose last says which
///   result moved it ([`moved_by_result`]).
///
/// ```
/// use lifecycle_core::protocol::{LifecycleProgress, Record, attr, write_token_after};
/// let record = Record::new("i-1", "joining").with(attr::AWAITED_COMMAND, "c-1");
/// assert!(record.awaits("c-1"));
/// assert!(LifecycleProgress::of(&record).is_none(), "no lifecycle action moved it yet");
/// assert!(write_token_after(&record).unwrap().ends_with(".1"));
/// ```
pub mod protocol {
    pub use crate::dispatch::{
        LifecycleProgress, PROGRESS_ATTRIBUTE, ScheduledRun, deferred_termination, is_waiting,
        moved_by_result, progress_note, scheduled_run, waits_for,
    };
    pub use crate::history::{HISTORY_LEN, HistoryEntry};
    pub use crate::token::{delivery_id, write_token_after};
    pub use crate::{
        AttributeUpdate, CasOutcome, MAX_VERSION, Record, StateChange, Store, apply_change, attr,
    };
}

/// Used by generated code; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use serde;

    pub use crate::dispatch::run_transition;

    /// A task's (or async guard's) future, checked to be `Send` where the generated code calls
    /// it, at the task's name: a task that holds something not `Send` across an await is told
    /// so there, once, with rustc's note on the value and the await.
    ///
    /// ```
    /// let answer = lifecycle_core::testing::block_on(lifecycle_core::__private::require_send(async { 42 }));
    /// assert_eq!(answer, 42);
    /// ```
    pub fn require_send<F: ::core::future::Future + Send>(future: F) -> SendFuture<F> {
        SendFuture(future)
    }

    /// A future [`require_send`] checked. `Send` whatever `F` is, so that the generated
    /// `run_tasks`, which holds it across its await, adds no second error about the same task.
    pub struct SendFuture<F>(F);

    // SAFETY: the field is private and `require_send`, the only way to make a `SendFuture`, takes
    // only futures that are `Send`: every value of this type holds a `Send` future. Where `F`
    // is not `Send`, the call to `require_send` does not compile, so no such value exists.
    // (`Send` is an auto trait: without this impl, `SendFuture<F>` would be `Send` only where
    // rustc can see that `F` is, which in the generated code it cannot always tell apart from
    // the model's own `Send`, and the same cause would be reported twice.)
    unsafe impl<F> Send for SendFuture<F> {}

    impl<F: ::core::future::Future> ::core::future::Future for SendFuture<F> {
        type Output = F::Output;

        fn poll(
            self: ::core::pin::Pin<&mut Self>,
            cx: &mut ::core::task::Context<'_>,
        ) -> ::core::task::Poll<F::Output> {
            // SAFETY: the inner future is pinned with its wrapper: it is never moved out of it,
            // and `SendFuture` has no `Drop` and is not `Unpin` unless `F` is.
            unsafe { self.map_unchecked_mut(|wrapper| &mut wrapper.0) }.poll(cx)
        }
    }

    /// The model inside a typestate handle. A wrapper with no methods, so that rustc, when a
    /// transition is called on a handle in the wrong state, does not suggest calling the task
    /// on the model directly (which would skip the typestate).
    pub struct Held<'m, M>(&'m mut M);

    impl<'m, M> Held<'m, M> {
        pub fn new(model: &'m mut M) -> Self {
            Held(model)
        }

        pub fn get(&self) -> &M {
            self.0
        }

        pub fn get_mut(&mut self) -> &mut M {
            self.0
        }

        pub fn into_inner(self) -> &'m mut M {
            self.0
        }
    }
}

/// The crate's README, compiled and run as a doctest so it cannot go stale.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
