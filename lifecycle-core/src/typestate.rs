//! The typestate API's traits: a handle per state whose methods are the transitions declared
//! from it, so that a wrong order of transitions does not compile.

use crate::State;

/// A zero-sized type standing for one state in the typestate API (`node_state::Ready`).
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::TypedState;
/// assert_eq!(<node_state::Joining as TypedState>::STATE, NodeState::Joining);
/// ```
pub trait TypedState: Send + Sync + 'static {
    /// The state enum it belongs to.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::TypedState;
    /// let state: <node_state::Ready as TypedState>::State = NodeState::Ready;
    /// assert_eq!(state, node_state::Ready::STATE);
    /// ```
    type State: State;
    /// The state it stands for.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::TypedState;
    /// assert_eq!(node_state::Ready::STATE, NodeState::Ready);
    /// ```
    const STATE: Self::State;
}

/// What every typestate handle (`NodeHandle<'_, node_state::Ready>`) can do besides its
/// transitions. These live on a trait, not on the handle, so that they never take a name from
/// the model's tasks: a task may be called `state` or `resume`; then `handle.state()` is the
/// task, and `Typestate::state(&handle)` this method.
///
/// ```
/// use lifecycle_core::{lifecycle_model, Context, Start, Typestate};
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("never")]
/// pub struct Never;
///
/// pub struct Job;
///
/// #[lifecycle_model(states(Queued, Done), initial = Queued, terminal(Done), error = Never)]
/// impl Job {
///     /// A task named like a handle method: allowed.
///     #[transition(from = Queued, to = Done, ignore_errors)]
///     async fn state(&mut self, _ctx: &mut Context<'_>) -> Result<(), Never> {
///         Ok(())
///     }
/// }
///
/// let mut job = Job;
/// let handle = JobHandle::new(&mut job);
/// assert_eq!(Typestate::state(&handle), JobState::Queued);
/// let again = JobHandle::<job_state::Queued>::resume(Typestate::into_model(handle), JobState::Queued);
/// assert!(again.is_ok());
/// ```
pub trait Typestate<'m, M>: Sized {
    /// The model's state enum.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::{Start, Typestate};
    /// let mut node = Node;
    /// let handle = NodeHandle::new(&mut node);
    /// let state: <NodeHandle<'_, node_state::FinishedCloudInit> as Typestate<'_, Node>>::State = Typestate::state(&handle);
    /// assert_eq!(state, NodeState::FinishedCloudInit);
    /// ```
    type State: State;

    // The model is a parameter, not an associated type: a handle is as visible as the model's
    // `vis` says, the model type maybe less, and an associated type may not be less visible
    // than its impl (E0446). No `LifecycleModel` bound: a model that fails it is reported
    // once, at its own impl.

    /// A handle on `model`, which must be in `state`, the state the handle type stands for.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::Typestate;
    /// let mut node = Node;
    /// assert!(NodeHandle::<node_state::Joining>::resume(&mut node, NodeState::Joining).is_ok());
    /// let mut node = Node;
    /// let wrong = NodeHandle::<node_state::Joining>::resume(&mut node, NodeState::Ready);
    /// assert_eq!(wrong.err().unwrap().to_string(), "expected state `joining`, found `ready`");
    /// ```
    fn resume(model: &'m mut M, state: Self::State) -> Result<Self, WrongState>;

    /// The state the handle stands for.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::{Start, Typestate};
    /// let mut node = Node;
    /// assert_eq!(Typestate::state(&NodeHandle::new(&mut node)), NodeState::FinishedCloudInit);
    /// ```
    fn state(&self) -> Self::State;

    /// The model.
    fn model(&self) -> &M;

    /// The model, mutably.
    fn model_mut(&mut self) -> &mut M;

    /// Gives the model back.
    fn into_model(self) -> &'m mut M;
}

/// The handle in the model's initial state: `NodeHandle::new(&mut node)`. Implemented only for
/// that state's handle, so the state is inferred. (If the initial state has a task called
/// `new`, write `<NodeHandle<_> as Start<_>>::new(&mut node)`.)
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{Start, Typestate};
/// let mut node = Node;
/// let handle = NodeHandle::new(&mut node);
/// assert_eq!(Typestate::state(&handle), NodeState::FinishedCloudInit);
/// ```
pub trait Start<'m, M>: Typestate<'m, M> {
    /// A handle on `model`, in the initial state.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::{Start, Typestate};
    /// let mut node = Node;
    /// let handle: NodeHandle<'_, node_state::FinishedCloudInit> = Start::new(&mut node);
    /// assert_eq!(Typestate::state(&handle), NodeState::FinishedCloudInit);
    /// ```
    fn new(model: &'m mut M) -> Self;
}

/// A typestate handle was asked to stand for a state the model is not in.
///
/// ```
/// use lifecycle_core::WrongState;
/// let err = WrongState { expected: "ready", actual: "failure".into() };
/// assert_eq!(err.to_string(), "expected state `ready`, found `failure`");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected state `{expected}`, found `{actual}`")]
pub struct WrongState {
    /// The state the handle type stands for.
    pub expected: &'static str,
    /// The state given.
    pub actual: String,
}
