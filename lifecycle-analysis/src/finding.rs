//! What the analysis finds wrong with a model.

use super::*;

/// Something wrong with a model, found by [`analyse`].
///
/// ```
/// # let graph = lifecycle_analysis::testing::example_graph(); // finished_cloud_init → joining → ready
/// use lifecycle_analysis::{Finding, analyse};
/// let mut broken = graph.clone();
/// broken.transitions.pop(); // nothing leaves `joining` any more
/// assert!(analyse(&broken).contains(&Finding::DeadEnd { state: 1 }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// No transition leads to the state from a root.
    Unreachable {
        /// The state.
        state: usize,
    },
    /// No transition leaves the state, and it is not terminal.
    DeadEnd {
        /// The state.
        state: usize,
    },
    /// From the state, no path reaches a terminal state or a transition that rests: every way
    /// leads around `cycle`.
    NeverEnds {
        /// The state.
        state: usize,
        /// The states of a cycle it leads into, in order; the first follows the last.
        cycle: Vec<usize>,
    },
    /// For `event`, the transitions of `cycle` can fire one after another for ever: none
    /// rests, and nothing that surely fires comes before them.
    Loop {
        /// The kind of event.
        event: EventClass,
        /// `(state, transition)` pairs: the transition fires from the state and leads to the
        /// next pair's state; the last leads to the first.
        cycle: Vec<(usize, usize)>,
    },
    /// Transition `later` can never fire from `state`: `earlier`, declared before it, has no
    /// guard and reacts to every event it reacts to.
    Shadowed {
        /// The state.
        state: usize,
        /// The transition that never fires there.
        later: usize,
        /// The one that always fires first.
        earlier: usize,
    },
    /// Transition `transition` enters `state` without `wait`, and the state's only ways out
    /// react to command results: the event comes to rest there and its lifecycle action is
    /// completed before the command it waits for has run.
    CompletesWithoutWaiting {
        /// The transition.
        transition: usize,
        /// The state it enters.
        state: usize,
    },
    /// An internal transition (no destination, or its own source) that fires on a command
    /// result, without `stop`, in a state whose every way out reacts only to command results:
    /// the first result it handles (a partial one) brings the event to rest, the lifecycle
    /// action completes before the command has finished, and the real result finds nothing
    /// waiting for it.
    InternalSettlesWait {
        /// The transition.
        transition: usize,
        /// The state that waits for a command.
        state: usize,
    },
    /// `on(terminating)` on a transition from the initial state: a termination is refused
    /// while the instance's launch has not run, so it can never fire there.
    TerminatingFromInitial {
        /// The transition.
        transition: usize,
    },
    /// `on(launching...)` on a transition from a state no launch it reacts to ever reaches: a
    /// launch runs from the initial state on, through transitions that react to it without
    /// `wait`/`stop` (and into failure handling); a launch from the warm pool reaches the states
    /// a launch into the pool can lead to. A wait whose only way out is such a trigger is
    /// stuck for ever.
    LaunchingNeverArrives {
        /// The transition.
        transition: usize,
        /// The source state no such launch reaches.
        state: usize,
    },
    /// A transition that can fail, in a model with no failure state.
    NeedsFailureState {
        /// The first such transition.
        transition: usize,
    },
}
