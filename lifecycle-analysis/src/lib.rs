//! What a lifecycle model's graph allows, decided before the model runs.
//!
//! `#[lifecycle_model]` resolves a model's names to indices, builds a [`Graph`] and calls
//! [`analyse`]; every [`Finding`] becomes a compile error at the token it names. The analysis
//! lives in this plain library (a proc-macro crate can export only macros) so that it can be
//! tested on its own, against graphs no one would write by hand.
//!
//! What it proves of a graph with no findings, given the dispatcher's rules (triggers tried in
//! declaration order, the first that passes fires, a state change tries the new state's
//! triggers, `wait`/`stop` end the event):
//!
//! - every state is reachable from a root (the initial state, the failure state, a scheduled
//!   state, or a state outside writers put records in);
//! - from every state, some path reaches a terminal state or a transition that rests (`wait`,
//!   `stop`): no lifecycle is caught in a circle it can never leave ([`Finding::NeverEnds`]);
//! - no event can make triggers fire in a circle ([`Finding::Loop`]), whatever the guards
//!   answer: one event makes at most two passes through the states (one before a task fails,
//!   one through failure handling);
//! - every trigger can fire for some event.
//!
//! ```
//! use lifecycle_analysis::{analyse, Finding, Graph, Transition};
//!
//! // Two states that hand every event to each other, and a way out of them that only a guard
//! // opens: the guard may never say yes.
//! let graph = Graph {
//!     states: 3,
//!     initial: Some(0),
//!     terminal: vec![2],
//!     failure: Some(2),
//!     transitions: vec![
//!         Transition { sources: vec![0], dest: Some(1), ..Transition::default() },
//!         Transition { sources: vec![1], dest: Some(2), guarded: true, ..Transition::default() },
//!         Transition { sources: vec![1], dest: Some(0), ..Transition::default() },
//!     ],
//!     ..Graph::default()
//! };
//! let findings = analyse(&graph);
//! assert!(findings.iter().any(|f| matches!(f, Finding::Loop { .. })));
//!
//! // Without the way out, the lifecycle can never end at all.
//! let mut closed = graph.clone();
//! closed.transitions.remove(1);
//! assert!(analyse(&closed).iter().any(|f| matches!(f, Finding::NeverEnds { state: 0, .. })));
//! ```

use std::collections::BTreeSet;

mod events;
mod finding;
mod graph;
pub mod testing;

pub use events::{EventClass, On, Place, Route};
use events::{LAUNCH_ROUTES, TERMINATION_ROUTES};
pub use finding::Finding;
pub use graph::{Graph, Transition};

/// Every finding of `graph`, in a stable order: per state (reachability, dead ends, liveness),
/// then loops, shadowed triggers, and the rest per transition.
///
/// ```
/// # let graph = lifecycle_analysis::testing::example_graph(); // finished_cloud_init → joining → ready
/// use lifecycle_analysis::{Finding, analyse};
/// let mut unreachable = graph.clone();
/// unreachable.states = 4; // a state no transition leads to
/// unreachable.terminal.push(3);
/// assert_eq!(analyse(&unreachable), [Finding::Unreachable { state: 3 }]);
/// ```
pub fn analyse(graph: &Graph) -> Vec<Finding> {
    let outgoing = graph.outgoing();
    let mut findings = Vec::new();
    let reached = reachable(graph, &outgoing);
    let dead_end: Vec<bool> = (0..graph.states)
        .map(|s| {
            !graph.before_initial.contains(&s)
                && !graph.terminal.contains(&s)
                && !outgoing[s]
                    .iter()
                    .any(|&t| graph.transitions[t].leaves(s).is_some())
        })
        .collect();
    let live = live(graph, &outgoing, &dead_end);
    for s in 0..graph.states {
        if graph.before_initial.contains(&s) {
            continue;
        }
        if !reached[s] {
            findings.push(Finding::Unreachable { state: s });
        }
        if dead_end[s] {
            findings.push(Finding::DeadEnd { state: s });
        } else if !live[s] && reached[s] {
            findings.push(Finding::NeverEnds {
                state: s,
                cycle: cycle_from(graph, &outgoing, &live, s),
            });
        }
    }
    // A cycle no state of which can end is reported by `NeverEnds` already.
    findings.extend(loops(graph, &outgoing).into_iter().filter(|f| match f {
        Finding::Loop { cycle, .. } => cycle.iter().any(|&(s, _)| live[s]),
        _ => true,
    }));
    findings.extend(shadowed(graph, &outgoing));
    for (index, t) in graph.transitions.iter().enumerate() {
        if graph.initial.is_some() && !t.reacts_only_to_schedules() && !t.rests() && !t.settle {
            let entered = t.sources.iter().filter_map(|&s| t.leaves(s)).next();
            if let Some(dest) = entered
                && !graph.terminal.contains(&dest)
            {
                let exits: Vec<&Transition> = outgoing[dest]
                    .iter()
                    .map(|&e| &graph.transitions[e])
                    .filter(|e| e.leaves(dest).is_some())
                    .collect();
                if !exits.is_empty() && exits.iter().all(|e| e.reacts_only_to_commands()) {
                    findings.push(Finding::CompletesWithoutWaiting {
                        transition: index,
                        state: dest,
                    });
                }
            }
        }
        if graph.initial.is_some() && !t.stop && !t.settle && t.accepts(&EventClass::Command) {
            let waiting = t.sources.iter().copied().find(|&s| {
                let internal = t.leaves(s).is_none();
                let exits: Vec<&Transition> = outgoing[s]
                    .iter()
                    .map(|&e| &graph.transitions[e])
                    .filter(|e| e.leaves(s).is_some())
                    .collect();
                internal
                    && !graph.terminal.contains(&s)
                    && !exits.is_empty()
                    && exits.iter().all(|e| e.reacts_only_to_commands())
            });
            if let Some(state) = waiting {
                findings.push(Finding::InternalSettlesWait {
                    transition: index,
                    state,
                });
            }
        }
        if t.on.iter().any(|on| matches!(on, On::Terminating(_)))
            && graph.initial.is_some_and(|i| t.sources.contains(&i))
        {
            findings.push(Finding::TerminatingFromInitial { transition: index });
        }
    }
    if graph.initial.is_some() {
        // A model that handles a warm pool says so with a route (`to = warm_pool`, ...); one
        // that does not is not held to launches through a pool it does not know of.
        let warm_pool = graph.transitions.iter().any(|t| {
            t.on.iter().any(|on| match on {
                On::Launching(route) | On::Terminating(route) => {
                    route.from == Some(Place::WarmPool) || route.to == Some(Place::WarmPool)
                }
                _ => false,
            })
        });
        let arrives: Vec<(EventClass, Vec<bool>)> = LAUNCH_ROUTES
            .iter()
            .filter(|&&(from, to)| warm_pool || (from, to) == (Place::Ec2, Place::Group))
            .map(|&(from, to)| {
                let class = EventClass::Launching(from, to);
                let present = launch_present(graph, &outgoing, &class);
                (class, present)
            })
            .collect();
        for (index, t) in graph.transitions.iter().enumerate() {
            if !t.on.iter().any(|on| matches!(on, On::Launching(_))) {
                continue;
            }
            let never_arrives = |s: usize| {
                !graph.before_initial.contains(&s)
                    && !arrives
                        .iter()
                        .any(|(class, present)| present[s] && t.accepts(class))
            };
            // Only launching: dead from any source no launch reaches. With other events as
            // well, the transition still fires for them; its `launching` is dead (a mistake:
            // `terminating` meant, say) when no launch reaches any of its sources.
            let only_launching = t.on.iter().all(|on| matches!(on, On::Launching(_)));
            let dead = if only_launching {
                t.sources.iter().copied().find(|&s| never_arrives(s))
            } else if t.sources.iter().all(|&s| never_arrives(s)) {
                t.sources.first().copied()
            } else {
                None
            };
            if let Some(state) = dead {
                findings.push(Finding::LaunchingNeverArrives {
                    transition: index,
                    state,
                });
            }
        }
    }
    if graph.failure.is_none()
        && let Some(transition) = graph.transitions.iter().position(|t| !t.ignore_errors)
    {
        findings.push(Finding::NeedsFailureState { transition });
    }
    findings
}

/// The states a launching event of `class` can be tried in. A launch into the group or the
/// warm pool starts at the initial state (the dispatcher refuses it anywhere else); one from
/// the warm pool where a launch into the pool can have left the record, whatever happened to
/// it since. From there a launch goes on through the transitions that react to it and do not
/// end the event (`wait`/`stop`), and into failure handling if a task fails on the way.
fn launch_present(graph: &Graph, outgoing: &[Vec<usize>], class: &EventClass) -> Vec<bool> {
    let mut present = vec![false; graph.states];
    let mut queue: Vec<usize> = match class {
        EventClass::Launching(Place::WarmPool, _) => {
            let into_pool = launch_present(
                graph,
                outgoing,
                &EventClass::Launching(Place::Ec2, Place::WarmPool),
            );
            // Anywhere the record can go from there while the instance is in the pool: by the
            // pool launch's own next events (its commands' results) and the other events of an
            // instance's life — not by a launch into the group or a termination, which take
            // it out of the pool.
            let in_pool = [
                EventClass::Launching(Place::Ec2, Place::WarmPool),
                EventClass::Command,
                EventClass::Scheduled(None),
                EventClass::SpotInterruption,
                EventClass::Rebalance,
                EventClass::InstanceState(None),
                EventClass::Maintenance(None),
            ];
            let mut after = into_pool.clone();
            let mut stack: Vec<usize> = (0..graph.states).filter(|&s| into_pool[s]).collect();
            while let Some(s) = stack.pop() {
                for &t in &outgoing[s] {
                    let transition = &graph.transitions[t];
                    let in_pool_event = in_pool.iter().any(|class| transition.accepts(class))
                        || transition.on.iter().any(|on| {
                            matches!(
                                on,
                                On::Scheduled(Some(_))
                                    | On::InstanceState(Some(_))
                                    | On::Maintenance(Some(_))
                            )
                        });
                    if let Some(d) = transition.dest
                        && in_pool_event
                        && !after[d]
                    {
                        after[d] = true;
                        stack.push(d);
                    }
                }
            }
            (0..graph.states).filter(|&s| after[s]).collect()
        }
        _ => graph.initial.into_iter().collect(),
    };
    for &s in &queue {
        present[s] = true;
    }
    let mut reaches_failure = false;
    while let Some(s) = queue.pop() {
        for &t in &outgoing[s] {
            let transition = &graph.transitions[t];
            if !transition.accepts(class) {
                continue;
            }
            reaches_failure |= !transition.ignore_errors;
            if transition.rests() {
                continue;
            }
            if let Some(d) = transition.dest
                && !present[d]
            {
                present[d] = true;
                queue.push(d);
            }
        }
        if let Some(f) = graph.failure.filter(|&f| reaches_failure && !present[f]) {
            present[f] = true;
            queue.push(f);
        }
    }
    present
}

fn reachable(graph: &Graph, outgoing: &[Vec<usize>]) -> Vec<bool> {
    let mut reached = vec![false; graph.states];
    let mut queue = graph.roots();
    for &r in &queue {
        reached[r] = true;
    }
    while let Some(s) = queue.pop() {
        for &t in &outgoing[s] {
            if let Some(d) = graph.transitions[t].dest
                && !reached[d]
            {
                reached[d] = true;
                queue.push(d);
            }
        }
    }
    reached
}

/// States from which a terminal state or a resting transition can be reached. A dead end
/// counts as live: it has an error of its own, and the states leading to it are not at fault.
fn live(graph: &Graph, outgoing: &[Vec<usize>], dead_end: &[bool]) -> Vec<bool> {
    let mut live: Vec<bool> = (0..graph.states)
        .map(|s| {
            dead_end[s]
                || graph.before_initial.contains(&s)
                || graph.terminal.contains(&s)
                || outgoing[s].iter().any(|&t| graph.transitions[t].rests())
        })
        .collect();
    let mut changed = true;
    while changed {
        changed = false;
        for s in 0..graph.states {
            if !live[s]
                && outgoing[s]
                    .iter()
                    .filter_map(|&t| graph.transitions[t].leaves(s))
                    .any(|d| live[d])
            {
                live[s] = true;
                changed = true;
            }
        }
    }
    live
}

/// The cycle `state` leads into, following the first way out each time: every way out of a
/// state that is not live leads to another such state, so the walk must come round.
fn cycle_from(graph: &Graph, outgoing: &[Vec<usize>], live: &[bool], state: usize) -> Vec<usize> {
    let mut path = vec![state];
    loop {
        let current = *path.last().expect("the path starts with the state");
        let next = outgoing[current]
            .iter()
            .find_map(|&t| graph.transitions[t].leaves(current).filter(|&d| !live[d]))
            .expect("a state that is not live and not a dead end leads to another such state");
        if let Some(start) = path.iter().position(|&s| s == next) {
            return path.split_off(start);
        }
        path.push(next);
    }
}

/// Cycles of transitions one event can fire in a row, one report per set of states.
fn loops(graph: &Graph, outgoing: &[Vec<usize>]) -> Vec<Finding> {
    let mut reported: Vec<BTreeSet<usize>> = Vec::new();
    let mut findings = Vec::new();
    for event in graph.event_classes() {
        let moves: Vec<Vec<(usize, usize)>> = (0..graph.states)
            .map(|s| graph.moves(outgoing, s, &event))
            .collect();
        let reach = closure(&moves);
        for (s, from_s) in reach.iter().enumerate() {
            if !from_s[s] {
                continue;
            }
            let component: BTreeSet<usize> = (0..graph.states)
                .filter(|&o| from_s[o] && reach[o][s])
                .collect();
            if component.first() != Some(&s) || reported.contains(&component) {
                continue;
            }
            reported.push(component.clone());
            findings.push(Finding::Loop {
                cycle: shortest_cycle(&moves, &component, s),
                event: event.clone(),
            });
        }
    }
    findings
}

/// `reach[a][b]`: `b` can be reached from `a` by one or more moves.
fn closure(moves: &[Vec<(usize, usize)>]) -> Vec<Vec<bool>> {
    let n = moves.len();
    let mut reach = vec![vec![false; n]; n];
    for (a, row) in reach.iter_mut().enumerate() {
        let mut queue: Vec<usize> = moves[a].iter().map(|&(_, d)| d).collect();
        while let Some(s) = queue.pop() {
            if !row[s] {
                row[s] = true;
                queue.extend(moves[s].iter().map(|&(_, d)| d));
            }
        }
    }
    reach
}

/// The shortest way from `start` back to itself within `component`.
fn shortest_cycle(
    moves: &[Vec<(usize, usize)>],
    component: &BTreeSet<usize>,
    start: usize,
) -> Vec<(usize, usize)> {
    // Breadth first, remembering how each state was entered.
    let mut came_from: Vec<Option<(usize, usize)>> = vec![None; moves.len()];
    let mut frontier = vec![start];
    let mut back: Option<(usize, usize)> = None;
    'search: while !frontier.is_empty() {
        let mut next = Vec::new();
        for s in frontier {
            for &(t, d) in &moves[s] {
                if !component.contains(&d) {
                    continue;
                }
                if d == start {
                    back = Some((s, t));
                    break 'search;
                }
                if came_from[d].is_none() {
                    came_from[d] = Some((s, t));
                    next.push(d);
                }
            }
        }
        frontier = next;
    }
    let (mut state, transition) = back.expect("start lies on a cycle of its component");
    let mut cycle = vec![(state, transition)];
    while state != start {
        let (previous, t) = came_from[state].expect("every state on the way was entered");
        cycle.push((previous, t));
        state = previous;
    }
    cycle.reverse();
    cycle
}

/// Whether `earlier` fires for every event `later` reacts to.
/// Whether `earlier` reacts to every kind of event `later` reacts to.
fn covers(earlier: &Transition, later: &Transition, classes: &[EventClass]) -> bool {
    earlier.on.is_empty()
        || classes
            .iter()
            .filter(|c| later.accepts(c))
            .all(|c| earlier.accepts(c))
}

fn shadowed(graph: &Graph, outgoing: &[Vec<usize>]) -> Vec<Finding> {
    let classes = graph.event_classes();
    let mut findings = Vec::new();
    for (state, outgoing) in outgoing.iter().enumerate() {
        for (position, &later) in outgoing.iter().enumerate() {
            let later_t = &graph.transitions[later];
            let earlier = outgoing[..position].iter().copied().find(|&e| {
                let e = &graph.transitions[e];
                !e.guarded
                    && covers(e, later_t, &classes)
                    && (e.ignore_errors || !later_t.ignore_errors)
            });
            if let Some(earlier) = earlier {
                findings.push(Finding::Shadowed {
                    state,
                    later,
                    earlier,
                });
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(from: usize, dest: usize) -> Transition {
        Transition {
            sources: vec![from],
            dest: Some(dest),
            ..Transition::default()
        }
    }

    fn graph(states: usize, transitions: Vec<Transition>) -> Graph {
        Graph {
            states,
            initial: Some(0),
            failure: None,
            terminal: vec![states - 1],
            transitions: transitions
                .into_iter()
                .map(|t| Transition {
                    ignore_errors: true,
                    ..t
                })
                .collect(),
            ..Graph::default()
        }
    }

    #[test]
    fn a_straight_line_is_sound() {
        assert_eq!(analyse(&graph(3, vec![to(0, 1), to(1, 2)])), vec![]);
    }

    #[test]
    fn a_cycle_with_no_way_out_never_ends() {
        // 0 → 1 → 2 → 1, and 3 (terminal) only from nowhere reachable.
        let g = graph(4, vec![to(0, 1), to(1, 2), to(2, 1)]);
        let findings = analyse(&g);
        assert!(findings.contains(&Finding::NeverEnds {
            state: 0,
            cycle: vec![1, 2]
        }));
        assert!(findings.contains(&Finding::NeverEnds {
            state: 2,
            cycle: vec![2, 1]
        }));
        assert!(findings.contains(&Finding::Unreachable { state: 3 }));
    }

    #[test]
    fn a_wait_in_the_cycle_makes_it_live_and_ends_the_loop() {
        let mut back = to(2, 1);
        back.wait = true;
        let g = graph(4, vec![to(0, 1), to(1, 2), back, to(2, 3)]);
        let findings = analyse(&g);
        // `to(2, 3)` is shadowed by the unguarded `back`; nothing else is wrong.
        assert_eq!(
            findings,
            vec![Finding::Shadowed {
                state: 2,
                later: 3,
                earlier: 2
            }]
        );
    }

    #[test]
    fn a_guarded_way_out_does_not_stop_a_loop() {
        let mut out = to(1, 2);
        out.guarded = true;
        let g = graph(3, vec![to(0, 1), out, to(1, 0)]);
        let findings = analyse(&g);
        assert_eq!(
            findings,
            vec![Finding::Loop {
                event: EventClass::Launching(Place::Ec2, Place::Group),
                cycle: vec![(0, 0), (1, 2)]
            }]
        );
    }

    #[test]
    fn filters_keep_a_cycle_apart() {
        let mut out = to(0, 1);
        out.on = vec![On::Launching(Route::ANY)];
        let mut back = to(1, 0);
        back.on = vec![On::Terminating(Route::ANY)];
        let mut done = to(1, 2);
        done.on = vec![On::Command];
        done.wait = true;
        let g = graph(3, vec![out, back, done]);
        assert_eq!(analyse(&g), vec![]);
    }

    #[test]
    fn entering_a_state_that_waits_for_a_command_needs_wait() {
        let mut done = to(1, 2);
        done.on = vec![On::Command];
        let g = graph(3, vec![to(0, 1), done.clone()]);
        assert_eq!(
            analyse(&g),
            vec![Finding::CompletesWithoutWaiting {
                transition: 0,
                state: 1
            }]
        );
        let mut settle = to(0, 1);
        settle.settle = true;
        assert_eq!(analyse(&graph(3, vec![settle, done])), vec![]);
    }

    #[test]
    fn terminating_from_the_initial_state_never_fires() {
        let mut t = to(0, 1);
        t.on = vec![On::Terminating(Route::ANY)];
        let findings = analyse(&graph(2, vec![t]));
        assert_eq!(
            findings,
            vec![Finding::TerminatingFromInitial { transition: 0 }]
        );
    }

    #[test]
    fn a_launch_reaches_only_what_it_runs_through() {
        // 0 = initial, 1 = joining (entered with `wait`), 2 = ready.
        let launch = |from, to, wait| Transition {
            sources: vec![from],
            dest: Some(to),
            wait,
            ignore_errors: true,
            on: vec![On::Launching(Route::ANY)],
            ..Default::default()
        };
        let mut g = graph(3, vec![launch(0, 1, true), launch(1, 2, false)]);
        g.terminal = vec![2];
        assert_eq!(
            analyse(&g),
            vec![Finding::LaunchingNeverArrives {
                transition: 1,
                state: 1
            }]
        );
        // Without the `wait`, the same launch goes on into `joining`: no finding.
        g.transitions[0].wait = false;
        assert_eq!(analyse(&g), vec![]);
        // A launch from the warm pool reaches where a launch into the pool leads, and only
        // there: not `joining`, entered by a launch into the group only.
        g.transitions[0].wait = true;
        g.transitions[0].on = vec![On::Launching(Route {
            from: None,
            to: Some(Place::Group),
        })];
        let from_pool = vec![On::Launching(Route {
            from: Some(Place::WarmPool),
            to: None,
        })];
        g.transitions[1].on = from_pool.clone();
        assert_eq!(
            analyse(&g),
            vec![Finding::LaunchingNeverArrives {
                transition: 1,
                state: 1
            }]
        );
        // Into the pool (the same transition for any launch): then from the pool, from there.
        g.transitions[0].on = vec![On::Launching(Route::ANY)];
        assert_eq!(analyse(&g), vec![]);
        // Beside an event that does reach `joining`, a `launching` that never does is dead
        // all the same (the transition still fires for the other).
        g.transitions[1].on = vec![On::Command, On::Launching(Route::ANY)];
        g.transitions[0].on = vec![On::Launching(Route {
            from: None,
            to: Some(Place::Group),
        })];
        assert_eq!(
            analyse(&g),
            vec![Finding::LaunchingNeverArrives {
                transition: 1,
                state: 1
            }]
        );
    }

    #[test]
    fn an_internal_transition_on_a_command_result_in_a_waiting_state_must_stop() {
        // 0 = initial, 1 = joining (waits for its command), 2 = ready.
        let join = Transition {
            sources: vec![0],
            dest: Some(1),
            wait: true,
            ignore_errors: true,
            on: vec![On::Launching(Route::ANY)],
            ..Default::default()
        };
        let joined = Transition {
            sources: vec![1],
            dest: Some(2),
            ignore_errors: true,
            on: vec![On::Command],
            ..Default::default()
        };
        // Guarded (`when(partial)`, say): otherwise it would shadow `joined`.
        let progress = Transition {
            sources: vec![1],
            dest: None,
            guarded: true,
            ignore_errors: true,
            on: vec![On::Command],
            ..Default::default()
        };
        let mut g = graph(3, vec![join, progress, joined]);
        g.terminal = vec![2];
        assert_eq!(
            analyse(&g),
            vec![Finding::InternalSettlesWait {
                transition: 1,
                state: 1
            }]
        );
        g.transitions[1].stop = true;
        assert_eq!(analyse(&g), vec![]);
    }

    #[test]
    fn external_states_are_roots() {
        let mut g = graph(3, vec![to(0, 2), to(1, 2)]);
        assert_eq!(analyse(&g), vec![Finding::Unreachable { state: 1 }]);
        g.external = vec![1];
        assert_eq!(analyse(&g), vec![]);
    }
}
