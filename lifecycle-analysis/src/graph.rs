//! A model as the analysis sees it: states by index, and its transitions.

use super::*;

/// One `#[transition]`, by indices into the graph's states.
///
/// ```
/// use lifecycle_analysis::{On, Route, Transition};
/// // `#[transition(from = A, to = B, on(launching), wait)]`, with A = 0 and B = 1.
/// let join = Transition { sources: vec![0], dest: Some(1), wait: true, on: vec![On::Launching(Route::ANY)], ..Default::default() };
/// assert!(join.rests());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transition {
    /// The states it fires from.
    pub sources: Vec<usize>,
    /// Where it goes; `None` for an internal transition.
    pub dest: Option<usize>,
    /// It has `when`/`unless` guards: it may or may not fire.
    pub guarded: bool,
    /// `ignore_errors`
    pub ignore_errors: bool,
    /// `wait`: the event ends once the destination is entered.
    pub wait: bool,
    /// `stop`: the event ends after this trigger.
    pub stop: bool,
    /// `settle`: the author means the event to come to rest in the destination even though
    /// its only ways out wait for a command result.
    pub settle: bool,
    /// The events it reacts to; empty is every event.
    pub on: Vec<On>,
}

impl Transition {
    /// Whether it fires for `event` (guards aside).
    ///
    /// ```
    /// use lifecycle_analysis::{EventClass, On, Place, Route, Transition};
    /// let any = Transition { sources: vec![0], dest: Some(1), ..Default::default() };
    /// assert!(any.accepts(&EventClass::Terminating(Place::Group, Place::Ec2)), "no filter: every event");
    /// let launch = Transition { on: vec![On::Launching(Route::ANY)], ..any };
    /// assert!(!launch.accepts(&EventClass::Terminating(Place::Group, Place::Ec2)));
    /// ```
    pub fn accepts(&self, event: &EventClass) -> bool {
        self.on.is_empty()
            || self.on.iter().any(|on| match (on, event) {
                (On::Launching(route), EventClass::Launching(from, to))
                | (On::Terminating(route), EventClass::Terminating(from, to)) => {
                    route.admits(*from, *to)
                }
                (On::Command, EventClass::Command)
                | (On::Scheduled(None), EventClass::Scheduled(_))
                | (On::SpotInterruption, EventClass::SpotInterruption)
                | (On::Rebalance, EventClass::Rebalance)
                | (On::InstanceState(None), EventClass::InstanceState(_))
                | (On::Maintenance(None), EventClass::Maintenance(_)) => true,
                (On::Scheduled(Some(a)), EventClass::Scheduled(Some(b)))
                | (On::InstanceState(Some(a)), EventClass::InstanceState(Some(b)))
                | (On::Maintenance(Some(a)), EventClass::Maintenance(Some(b))) => a == b,
                _ => false,
            })
    }

    /// Where it leaves `from` for, if it changes the state.
    ///
    /// ```
    /// use lifecycle_analysis::Transition;
    /// let to_self = Transition { sources: vec![1], dest: Some(1), ..Default::default() };
    /// assert_eq!(to_self.leaves(1), None);
    /// assert_eq!(to_self.leaves(0), Some(1));
    /// ```
    pub fn leaves(&self, from: usize) -> Option<usize> {
        self.dest.filter(|&d| d != from)
    }

    /// Whether the event ends after it (`wait` or `stop`).
    ///
    /// ```
    /// use lifecycle_analysis::Transition;
    /// assert!(Transition { stop: true, ..Default::default() }.rests());
    /// assert!(!Transition::default().rests());
    /// ```
    pub fn rests(&self) -> bool {
        self.wait || self.stop
    }

    pub(crate) fn reacts_only_to_commands(&self) -> bool {
        !self.on.is_empty() && self.on.iter().all(|on| *on == On::Command)
    }

    pub(crate) fn reacts_only_to_schedules(&self) -> bool {
        !self.on.is_empty() && self.on.iter().all(|on| matches!(on, On::Scheduled(_)))
    }
}

/// A model's states (by index) and transitions (in declaration order).
///
/// ```
/// # let graph = lifecycle_analysis::testing::example_graph(); // finished_cloud_init → joining → ready
/// assert!(lifecycle_analysis::analyse(&graph).is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    /// How many states.
    pub states: usize,
    /// `initial`
    pub initial: Option<usize>,
    /// `before_initial`: states a record holds before the initial one; no trigger fires there.
    pub before_initial: Vec<usize>,
    /// `external`: states writers outside the model (an operator, another tool) put records
    /// in; roots, like the initial state.
    pub external: Vec<usize>,
    /// `terminal`
    pub terminal: Vec<usize>,
    /// `failure`
    pub failure: Option<usize>,
    /// `schedules`: states a scheduled rule starts the model in.
    pub schedules: Vec<usize>,
    /// Every transition, in declaration order.
    pub transitions: Vec<Transition>,
}

impl Graph {
    /// For each state, the indices of the transitions that fire from it, in declaration order:
    /// the order the dispatcher tries them.
    ///
    /// ```
    /// # let graph = lifecycle_analysis::testing::example_graph(); // finished_cloud_init → joining → ready
    /// assert_eq!(graph.outgoing(), [vec![0], vec![1], vec![]]);
    /// ```
    pub fn outgoing(&self) -> Vec<Vec<usize>> {
        (0..self.states)
            .map(|s| {
                (0..self.transitions.len())
                    .filter(|&t| self.transitions[t].sources.contains(&s))
                    .collect()
            })
            .collect()
    }

    /// The states a record can be in without a transition of the model having led there.
    ///
    /// ```
    /// # let graph = lifecycle_analysis::testing::example_graph(); // finished_cloud_init → joining → ready
    /// assert_eq!(graph.roots(), [0]);
    /// ```
    pub fn roots(&self) -> Vec<usize> {
        let mut roots: Vec<usize> = self
            .initial
            .iter()
            .chain(&self.failure)
            .chain(&self.schedules)
            .chain(&self.external)
            .copied()
            .collect();
        roots.sort_unstable();
        roots.dedup();
        roots
    }

    /// Every kind of event the dispatcher tells apart, for this graph's filters.
    ///
    /// ```
    /// # let graph = lifecycle_analysis::testing::example_graph(); // finished_cloud_init → joining → ready
    /// use lifecycle_analysis::EventClass;
    /// assert!(graph.event_classes().contains(&EventClass::Command));
    /// ```
    pub fn event_classes(&self) -> Vec<EventClass> {
        let (mut rules, mut states, mut codes) =
            (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        for t in &self.transitions {
            for on in &t.on {
                match on {
                    On::Scheduled(Some(rule)) => rules.insert(rule.clone()),
                    On::InstanceState(Some(state)) => states.insert(state.clone()),
                    On::Maintenance(Some(code)) => codes.insert(code.clone()),
                    _ => false,
                };
            }
        }
        let mut classes: Vec<EventClass> = LAUNCH_ROUTES
            .iter()
            .map(|&(from, to)| EventClass::Launching(from, to))
            .chain(
                TERMINATION_ROUTES
                    .iter()
                    .map(|&(from, to)| EventClass::Terminating(from, to)),
            )
            .collect();
        classes.extend([
            EventClass::Command,
            EventClass::Scheduled(None),
            EventClass::SpotInterruption,
            EventClass::Rebalance,
            EventClass::InstanceState(None),
            EventClass::Maintenance(None),
        ]);
        classes.extend(rules.into_iter().map(|r| EventClass::Scheduled(Some(r))));
        classes.extend(
            states
                .into_iter()
                .map(|s| EventClass::InstanceState(Some(s))),
        );
        classes.extend(codes.into_iter().map(|c| EventClass::Maintenance(Some(c))));
        classes
    }

    /// The transitions that may fire from `state` for `event` and change the state without
    /// ending the event, with where they lead: the dispatcher tries the triggers in order and
    /// fires the first that passes, so the list ends at the first trigger that surely fires.
    ///
    /// ```
    /// # let graph = lifecycle_analysis::testing::example_graph(); // finished_cloud_init → joining → ready
    /// use lifecycle_analysis::{EventClass, Place};
    /// let outgoing = graph.outgoing();
    /// // From `joining`, a command result moves the record to `ready` (transition 1).
    /// assert_eq!(graph.moves(&outgoing, 1, &EventClass::Command), [(1, 2)]);
    /// // The launch's transition waits: it ends the event, so it is no move within it.
    /// assert!(graph.moves(&outgoing, 0, &EventClass::Launching(Place::Ec2, Place::Group)).is_empty());
    /// ```
    pub fn moves(
        &self,
        outgoing: &[Vec<usize>],
        state: usize,
        event: &EventClass,
    ) -> Vec<(usize, usize)> {
        let mut moves = Vec::new();
        for &t in &outgoing[state] {
            let transition = &self.transitions[t];
            if !transition.accepts(event) {
                continue;
            }
            let surely_fires = !transition.guarded;
            if !transition.rests()
                && let Some(dest) = transition.leaves(state)
            {
                moves.push((t, dest));
            }
            if surely_fires {
                break;
            }
        }
        moves
    }
}
