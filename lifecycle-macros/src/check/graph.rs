//! The graph the transitions make: reachability, liveness, loops, shadowed and dead triggers,
//! found by `lifecycle_analysis`, each reported at its token.

use lifecycle_analysis::{Finding, Graph, On, Transition, analyse};

use crate::ast::Model;
use crate::errors::Errors;

use super::Checked;

/// The model as the analysis sees it: indices and flags.
pub(super) fn graph(model: &Model, checked: &Checked) -> Graph {
    Graph {
        states: model.config.states.len(),
        initial: checked.initial,
        before_initial: checked.before_initial.clone(),
        external: checked.external.clone(),
        terminal: checked.terminal.clone(),
        failure: checked.failure,
        schedules: checked.schedules.clone(),
        transitions: checked
            .transitions
            .iter()
            .map(|r| Transition {
                sources: r.sources.clone(),
                dest: r.dest,
                guarded: r.def.is_guarded(),
                ignore_errors: r.def.ignore_errors,
                wait: r.def.wait.is_some(),
                stop: r.def.stop,
                settle: r.def.settle,
                on: r.def.on.iter().map(|f| f.on.clone()).collect(),
            })
            .collect(),
    }
}

/// Reachability, liveness, loops, shadowed and dead triggers, and the need for a failure
/// state: `lifecycle_analysis` finds them, each becomes an error at its token here.
pub(super) fn check_graph(model: &Model, checked: &Checked, errors: &mut Errors) {
    let states = &model.config.states;
    let transitions = &model.transitions;
    let path = |cycle: &[usize]| {
        cycle
            .iter()
            .chain(cycle.first())
            .map(|&s| format!("`{}`", states[s]))
            .collect::<Vec<_>>()
            .join(" → ")
    };
    for finding in analyse(&graph(model, checked)) {
        match finding {
            Finding::Unreachable { state } => {
                let name = &states[state];
                errors.at(
                    name.span(),
                    format!("state `{name}` is unreachable: no transition leads to it from {}; add one, or remove the state, or, if records are put in it by someone else, declare it in `external(...)`", roots_text(model)),
                );
            }
            Finding::DeadEnd { state } => {
                let name = &states[state];
                errors.at(
                    name.span(),
                    format!("state `{name}` has no way out: add a transition from it, or list it in `terminal(...)`"),
                );
            }
            Finding::NeverEnds { state, cycle } => {
                let name = &states[state];
                errors.at(
                    name.span(),
                    format!(
                        "from state `{name}` the lifecycle can never end: every way leads around {}, and no transition there reaches a terminal state or rests (`wait`, `stop`); add a transition out of the cycle to a terminal state, or `wait` on the one entering the state where the lifecycle waits for its next event",
                        path(&cycle)
                    ),
                );
            }
            Finding::Loop { event, cycle } => {
                let steps = cycle
                    .iter()
                    .map(|&(from, t)| {
                        format!("`{}` from `{}`", transitions[t].method, states[from])
                    })
                    .collect::<Vec<_>>()
                    .join(", then ");
                let first = &transitions[cycle[0].1];
                errors.at(
                    first.span,
                    format!(
                        "for {event} these triggers can fire in a circle for ever: {steps}, and round again; none has `wait` or `stop`, and guards cannot be relied on to break it; add `wait` (or `stop`) to one of them, or `on(...)` filters that keep them apart"
                    ),
                );
            }
            Finding::Shadowed {
                state,
                later,
                earlier,
            } => {
                let (later, earlier) = (&transitions[later], &transitions[earlier]);
                errors.at(
                    later.span,
                    format!(
                        "trigger `{}` from `{}` can never fire: `{}`, declared before it, has no `when`/`unless` guard and always fires first; guard `{}`, or declare `{}` first",
                        later.method, states[state], earlier.method, earlier.method, later.method
                    ),
                );
            }
            Finding::CompletesWithoutWaiting { transition, state } => {
                let t = &transitions[transition];
                errors.at(
                    t.span,
                    format!(
                        "`{}` enters `{}` without `wait`, but every way out of `{}` reacts only to command results: the event would come to rest there and complete the lifecycle action before the command has run; add `wait`, or `settle` if the action is meant to complete in `{}`",
                        t.method, states[state], states[state], states[state]
                    ),
                );
            }
            Finding::TerminatingFromInitial { transition } => {
                let t = &transitions[transition];
                let span = t.filter_span(|on| matches!(on, On::Terminating(_)));
                errors.at(
                    span,
                    format!(
                        "a terminating event never fires a transition from the initial state `{}`: a termination is refused (and let go) while the instance's launch has not run; remove `terminating` here, or start the transition from a later state",
                        model.config.initial.as_ref().map(|i| i.to_string()).unwrap_or_default()
                    ),
                );
            }
            Finding::InternalSettlesWait { transition, state } => {
                let t = &transitions[transition];
                errors.at(
                    t.span,
                    format!(
                        "`{}` reacts to command results inside `{}` without leaving it, and without `stop`, while `{}` waits for a command: the first result it handles (a partial one) would bring the event to rest and complete the lifecycle action before the command has run, and the real result would find nothing waiting; add `stop`",
                        t.method, states[state], states[state]
                    ),
                );
            }
            Finding::LaunchingNeverArrives { transition, state } => {
                let t = &transitions[transition];
                let span = t.filter_span(|on| matches!(on, On::Launching(_)));
                let initial = model
                    .config
                    .initial
                    .as_ref()
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                let why = format!(
                    "a launch runs from the initial state `{initial}` on, only through transitions that react to it without `wait` or `stop`, and a launch from the warm pool only where a launch into the pool can lead"
                );
                let message = if t.on.iter().all(|f| matches!(f.on, On::Launching(_))) {
                    format!(
                        "a launching event never reaches `{}`, so `{}` can never fire there: {why}; react to the event that does reach `{}` (`on(command)` after a `wait`, say), or write `on(launching(from = warm_pool))` for an instance leaving the warm pool",
                        states[state], t.method, states[state]
                    )
                } else {
                    format!(
                        "a launching event never reaches `{}`, so `launching` in the `on(...)` of `{}` never matches (its other events still fire it): {why}; remove `launching` (was `terminating` meant?), or write `launching(from = warm_pool)` for an instance leaving the warm pool",
                        states[state], t.method
                    )
                };
                errors.at(span, message);
            }
            Finding::NeedsFailureState { transition } => {
                let t = &transitions[transition];
                errors.at(
                    t.span,
                    format!(
                        "trigger `{}` can fail, but the model has no failure state: add `failure = State` to #[lifecycle_model], or mark this transition `ignore_errors`",
                        t.method
                    ),
                );
            }
        }
    }
}

fn roots_text(model: &Model) -> String {
    let c = &model.config;
    let mut parts = Vec::new();
    if let Some(i) = &c.initial {
        parts.push(format!("the initial state `{i}`"));
    }
    if let Some(f) = &c.failure {
        parts.push(format!("the failure state `{f}`"));
    }
    for s in &c.schedules {
        parts.push(format!("the scheduled state `{s}`"));
    }
    for s in &c.external {
        parts.push(format!("the external state `{s}`"));
    }
    parts.join(" or ")
}
