//! Step 2: is the model sound? Every problem becomes an error at the token that causes it, and
//! all of them are reported together.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::{FnArg, Ident, ReturnType, Signature, Type};

use lifecycle_analysis::{Finding, Graph, On, Transition, analyse};

use crate::ast::{EventFilterDef, Model};
use crate::case::{did_you_mean, snake_case};
use crate::errors::Errors;

/// The model with every state name resolved to an index.
pub struct Checked {
    /// The stored (snake_case) name of each state.
    pub names: Vec<String>,
    pub initial: Option<usize>,
    pub before_initial: Vec<usize>,
    pub external: Vec<usize>,
    pub terminal: Vec<usize>,
    pub failure: Option<usize>,
    pub schedules: Vec<usize>,
    /// Former stored names: the name, the state its records are read as, retired or renamed.
    pub former: Vec<(String, usize, bool)>,
    /// Parallel to `Model::transitions`.
    pub transitions: Vec<Resolved>,
    /// For each state, the transitions that can fire from it, in declaration order.
    pub outgoing: Vec<Vec<usize>>,
    pub error: Type,
}

pub struct Resolved {
    pub sources: Vec<usize>,
    pub dest: Option<usize>,
}

struct States<'m> {
    index: HashMap<String, usize>,
    declared: &'m [Ident],
}

impl States<'_> {
    fn resolve(&self, name: &Ident, errors: &mut Errors) -> Option<usize> {
        if let Some(&i) = self.index.get(&name.to_string()) {
            return Some(i);
        }
        let names = self
            .declared
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>();
        let message = match did_you_mean(&name.to_string(), names.iter().map(String::as_str)) {
            Some(close) => format!("unknown state `{name}`; did you mean `{close}`?"),
            None => {
                format!("unknown state `{name}`: declare it in `states(...)` of #[lifecycle_model]")
            }
        };
        errors.at(name.span(), message);
        None
    }

    fn resolve_all(&self, names: &[Ident], errors: &mut Errors) -> Option<Vec<usize>> {
        let resolved: Vec<_> = names.iter().map(|n| self.resolve(n, errors)).collect();
        resolved.into_iter().collect()
    }
}

/// Checks the whole model. `None` if states or the error type could not be resolved (the
/// reasons are in `errors`); graph checks are skipped then, as they would only repeat them.
pub fn check(model: &Model, errors: &mut Errors) -> Option<Checked> {
    let parse_failed = model.transitions_dropped || model.transitions.iter().any(|t| t.malformed);
    let config = &model.config;
    let call_site = Span::call_site();

    if config.states.is_empty() {
        errors.at(
            call_site,
            "declare the model's states: `states(FinishedCloudInit, Ready, ...)`",
        );
    }
    let errors_before_states = errors.count();
    let mut index = HashMap::new();
    let mut stored: HashMap<String, &Ident> = HashMap::new();
    let mut names = Vec::new();
    for (i, state) in config.states.iter().enumerate() {
        let name = state.to_string();
        if !name.starts_with(|c: char| c.is_uppercase()) || name.contains('_') {
            errors.at(
                state.span(),
                format!(
                    "state names are UpperCamelCase (they become enum variants and are stored as snake_case): write `{}`",
                    upper_camel(&name)
                ),
            );
        }
        if index.insert(name.clone(), i).is_some() {
            errors.at(
                state.span(),
                format!("state `{name}` is declared twice: remove one"),
            );
        }
        let snake = snake_case(&name);
        if let Some(other) = stored.insert(snake.clone(), state)
            && *other != name
        {
            errors.at(
                state.span(),
                format!("`{name}` and `{other}` would both be stored as `{snake}`: rename one"),
            );
        }
        names.push(snake);
    }
    // A state declared wrongly makes the graph checks report its consequences (a duplicate
    // is "unreachable", "a dead end"), not new mistakes.
    let declaration_failed = errors.count() > errors_before_states;
    let states = States {
        index,
        declared: &config.states,
    };

    let initial = config
        .initial
        .as_ref()
        .and_then(|s| states.resolve(s, errors));
    let failure = config
        .failure
        .as_ref()
        .and_then(|s| states.resolve(s, errors));
    let before_initial = states.resolve_all(&config.before_initial, errors);
    let external = states.resolve_all(&config.external, errors);
    for ident in &config.external {
        if config.before_initial.contains(ident) {
            errors.at(
                ident.span(),
                format!("`{ident}` is both `before_initial` (events wait there for cloud-init) and `external` (events run there): keep it in one"),
            );
        }
    }
    let terminal = states.resolve_all(&config.terminal, errors);
    let schedules = states.resolve_all(&config.schedules, errors);
    let mut former: Vec<(String, usize, bool)> = Vec::new();
    for (pairs, retired) in [(&config.renamed, false), (&config.retired, true)] {
        let key = if retired { "retired" } else { "renamed" };
        for (old, now) in pairs {
            let name = snake_case(&old.to_string());
            if let Some(current) = stored.get(&name) {
                errors.at(
                    old.span(),
                    format!(
                        "`{name}` is the stored name of state `{current}`, which the model still has: `{key}(...)` names a state an earlier version had; remove it here, or rename `{current}`"
                    ),
                );
                continue;
            }
            if former.iter().any(|(n, ..)| *n == name) {
                errors.at(
                    old.span(),
                    format!("`{name}` is given twice in renamed/retired: a former state becomes one state; give it once"),
                );
                continue;
            }
            if let Some(now) = states.resolve(now, errors) {
                former.push((name, now, retired));
            }
        }
    }
    if config.initial.is_none() && config.schedules.is_empty() && !config.states.is_empty() {
        errors.at(
            call_site,
            "the model has no starting point: add `initial = State` (where an instance's lifecycle starts) or `schedules(State, ...)`",
        );
    }
    if config.initial.is_none() && !config.before_initial.is_empty() {
        errors.at(
            config.before_initial[0].span(),
            "`before_initial` states precede the initial state: add `initial = State`",
        );
    }
    if config.error.is_none() {
        errors.at(
            call_site,
            "name the model's error type, returned by every task: add `error = YourError`",
        );
    }

    check_methods(model, errors);

    let transitions: Vec<Option<Resolved>> = model
        .transitions
        .iter()
        .map(|t| {
            let sources = states.resolve_all(&t.from, errors);
            let dest = match &t.to {
                Some(to) => Some(states.resolve(to, errors)?),
                None => None,
            };
            Some(Resolved {
                sources: sources?,
                dest,
            })
        })
        .collect();

    let checked = Checked {
        names,
        initial,
        before_initial: before_initial?,
        external: external?,
        terminal: terminal?,
        failure,
        schedules: schedules?,
        former,
        transitions: transitions.into_iter().collect::<Option<Vec<_>>>()?,
        outgoing: Vec::new(),
        error: config.error.clone()?,
    };
    if config.initial.is_some() != checked.initial.is_some()
        || config.failure.is_some() != checked.failure.is_some()
    {
        return None;
    }
    let mut checked = checked;
    checked.outgoing = graph(model, &checked).outgoing();
    check_transitions(model, &checked, errors);
    // A transition whose attribute was partly rejected, or dropped, would make the graph
    // checks report consequences of that mistake rather than new ones.
    if !parse_failed && !declaration_failed {
        check_graph(model, &checked, errors);
    }
    Some(checked)
}

fn upper_camel(name: &str) -> String {
    name.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Receiver {
    Ref,
    RefMut,
    Other,
    Missing,
}

/// The kind of `self` a method takes, and the tokens to underline when it is wrong.
fn receiver(sig: &Signature) -> (Receiver, proc_macro2::TokenStream) {
    match sig.inputs.first() {
        Some(FnArg::Receiver(r)) => {
            let kind = match (&r.reference, &r.mutability, r.colon_token) {
                (Some(_), Some(_), None) => Receiver::RefMut,
                (Some(_), None, None) => Receiver::Ref,
                _ => Receiver::Other,
            };
            (kind, quote::quote!(#r))
        }
        Some(other) => (Receiver::Missing, quote::quote!(#other)),
        None => {
            let ident = &sig.ident;
            (Receiver::Missing, quote::quote!(#ident))
        }
    }
}

const TASK_SHAPE: &str = "async fn NAME(&mut self, ctx: &mut Context<'_>) -> Result<(), Error>";
const GUARD_SHAPE: &str = "fn NAME(&self, ctx: &Context<'_>) -> bool (or without ctx, or -> Result<bool, Error>; async allowed)";

/// Whether a method is declared to return a `Result` (a guard that can fail).
pub fn returns_result(sig: &Signature) -> bool {
    matches!(&sig.output, ReturnType::Type(_, ty)
        if matches!(&**ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Result")))
}

/// `&Context<'_>` (`Some(false)`), `&mut Context<'_>` (`Some(true)`), or something else.
fn context_reference(ty: &Type) -> Option<bool> {
    let Type::Reference(r) = ty else {
        return None;
    };
    let Type::Path(p) = &*r.elem else {
        return None;
    };
    p.path
        .segments
        .last()
        .is_some_and(|s| s.ident == "Context")
        .then_some(r.mutability.is_some())
}

/// The type of a method's argument after `self`, if it has one.
fn context_argument(sig: &Signature) -> Option<&Type> {
    match sig.inputs.iter().nth(1) {
        Some(FnArg::Typed(arg)) => Some(&arg.ty),
        _ => None,
    }
}

/// The task methods and the methods attributes name must exist and have the shape the
/// dispatcher calls.
fn check_methods(model: &Model, errors: &mut Errors) {
    let mut checked_tasks: Vec<String> = Vec::new();
    let mut checked_guards: Vec<String> = Vec::new();
    for t in &model.transitions {
        let tasks = std::iter::once((&t.method, true)).chain(
            t.prepare
                .iter()
                .chain(&t.before)
                .chain(&t.after)
                .map(|m| (m, false)),
        );
        for (name, is_task_method) in tasks {
            let Some(sig) = find_method(model, name, "task", errors) else {
                continue;
            };
            if checked_tasks.contains(&name.to_string()) {
                continue;
            }
            checked_tasks.push(name.to_string());
            let what = if is_task_method {
                "task"
            } else {
                "task method"
            };
            if sig.asyncness.is_none() {
                errors.at(
                    sig.fn_token.span,
                    format!(
                        "{what} `{name}` must be `async`: the dispatcher awaits it; expected `{}`",
                        TASK_SHAPE.replace("NAME", &name.to_string())
                    ),
                );
            }
            let (kind, tokens) = receiver(sig);
            if kind != Receiver::RefMut {
                errors.spanned(
                    tokens,
                    format!(
                        "{what} `{name}` must take `&mut self`; expected `{}`",
                        TASK_SHAPE.replace("NAME", &name.to_string())
                    ),
                );
            } else if sig.inputs.len() != 2 {
                errors.spanned(
                    &sig.inputs,
                    format!(
                        "{what} `{name}` takes {} argument(s) besides `self`; it must take exactly one, the context: `{}`",
                        sig.inputs.len() - 1,
                        TASK_SHAPE.replace("NAME", &name.to_string())
                    ),
                );
            }
            if let Some(ty) = context_argument(sig)
                && sig.inputs.len() == 2
                && context_reference(ty).is_none()
            {
                errors.spanned(
                    ty,
                    format!(
                        "the context of {what} `{name}` is `&mut Context<'_>` (from `lifecycle_core`): `{}`",
                        TASK_SHAPE.replace("NAME", &name.to_string())
                    ),
                );
            }
            if matches!(sig.output, ReturnType::Default) {
                errors.at(
                    sig.paren_token.span.close(),
                    format!("{what} `{name}` must return `Result<(), Error>` with the model's error type"),
                );
            }
        }
        for name in t.when.iter().chain(&t.unless) {
            let Some(sig) = find_method(model, name, "guard", errors) else {
                continue;
            };
            if checked_guards.contains(&name.to_string()) {
                continue;
            }
            checked_guards.push(name.to_string());
            let (kind, tokens) = receiver(sig);
            if kind != Receiver::Ref {
                errors.spanned(
                    tokens,
                    format!(
                        "guard `{name}` must take `&self` (guards only look): `{}`",
                        GUARD_SHAPE.replace("NAME", &name.to_string())
                    ),
                );
            } else if sig.inputs.len() > 2 {
                errors.spanned(
                    &sig.inputs,
                    format!(
                        "guard `{name}` takes too many arguments: `{}`",
                        GUARD_SHAPE.replace("NAME", &name.to_string())
                    ),
                );
            }
            if let Some(ty) = context_argument(sig) {
                match context_reference(ty) {
                    Some(false) => {}
                    Some(true) => errors.spanned(
                        ty,
                        format!("guard `{name}` takes `&Context<'_>`, not `&mut`: guards only look (set attributes in a task, e.g. a `prepare` task)"),
                    ),
                    None => errors.spanned(
                        ty,
                        format!(
                            "the context of guard `{name}` is `&Context<'_>` (from `lifecycle_core`): `{}`",
                            GUARD_SHAPE.replace("NAME", &name.to_string())
                        ),
                    ),
                }
            }
            match &sig.output {
                ReturnType::Default => errors.at(
                    sig.paren_token.span.close(),
                    format!("guard `{name}` must return `bool`, or `Result<bool, Error>` with the model's error type"),
                ),
                ReturnType::Type(_, ty)
                    if !returns_result(sig)
                        && !matches!(&**ty, Type::Path(p) if p.path.is_ident("bool")) =>
                {
                    errors.spanned(
                        ty,
                        format!("guard `{name}` must return `bool`, or `Result<bool, Error>` with the model's error type"),
                    )
                }
                _ => {}
            }
        }
    }
}

fn find_method<'m>(
    model: &'m Model,
    name: &Ident,
    role: &str,
    errors: &mut Errors,
) -> Option<&'m Signature> {
    let found = model.method(name);
    if found.is_none() {
        let names: Vec<String> = model.methods.iter().map(|m| m.ident.to_string()).collect();
        let message = match did_you_mean(&name.to_string(), names.iter().map(String::as_str)) {
            Some(close) => {
                format!("no method `{name}` in this impl block; did you mean `{close}`?")
            }
            None => format!(
                "no method `{name}` in this impl block: define the {role} `{name}` here, in the model's #[lifecycle_model] impl"
            ),
        };
        errors.at(name.span(), message);
    }
    found
}

/// Per transition: sources, filters and flags that make no sense.
fn check_transitions(model: &Model, checked: &Checked, errors: &mut Errors) {
    let names = &model.config.states;
    let mut fired_from: HashMap<(usize, String), ()> = HashMap::new();
    for (t, resolved) in model.transitions.iter().zip(&checked.transitions) {
        for (&source, ident) in resolved.sources.iter().zip(&t.from) {
            if checked.before_initial.contains(&source) {
                errors.at(
                    ident.span(),
                    format!(
                        "`{ident}` precedes the initial state: events wait until the record reaches `{}`, so this transition could never fire; start it from the initial state, or, if records are put in `{ident}` by someone else and events should run there, declare it in `external(...)` instead",
                        model.config.initial.as_ref().map(|i| i.to_string()).unwrap_or_default()
                    ),
                );
            }
            if checked.terminal.contains(&source) && resolved.dest.is_some_and(|d| d != source) {
                errors.at(
                    ident.span(),
                    format!("`{ident}` is terminal, so no transition may leave it: remove it from `terminal(...)` or from this transition"),
                );
            }
            if fired_from
                .insert((source, t.method.to_string()), ())
                .is_some()
            {
                errors.at(
                    ident.span(),
                    format!(
                        "trigger `{}` already fires from `{}`: each trigger has one transition per source state; remove this source or rename one task",
                        t.method, names[source]
                    ),
                );
            }
        }
        if let Some(wait) = t.wait
            && resolved.dest.is_none()
        {
            errors.at(wait, "`wait` stops after entering the destination, but this transition has none: add `to = State`, or use `stop`");
        }
        for guard in &t.unless {
            if t.when.contains(guard) {
                errors.at(
                    guard.span(),
                    format!("guard `{guard}` is in both `when` and `unless`: the transition can never fire; remove it from one"),
                );
            }
        }
        let schedules: Vec<String> = checked
            .schedules
            .iter()
            .map(|&s| checked.names[s].clone())
            .collect();
        for (filter, &span) in t.on.iter().zip(&t.on_spans) {
            if let EventFilterDef::Scheduled(Some(rule)) = filter
                && !schedules.contains(rule)
            {
                let message = match did_you_mean(rule, schedules.iter().map(String::as_str)) {
                    Some(close) => {
                        format!("no scheduled state is named `{rule}`; did you mean `{close}`?")
                    }
                    None if schedules.is_empty() => format!(
                        "`scheduled = \"{rule}\"` can never fire: the model has no `schedules(...)`, and a scheduled rule starts the model in the state of that name; add the state to `schedules(...)`, or remove the filter"
                    ),
                    None => format!(
                        "`scheduled = \"{rule}\"` can never fire: a scheduled rule starts the model in the state of its name, and `{rule}` is none of `schedules(...)` (stored as {}); name one of them",
                        schedules
                            .iter()
                            .map(|s| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                errors.at(span, message);
            }
        }
    }
}

/// The model as the analysis sees it: indices and flags.
fn graph(model: &Model, checked: &Checked) -> Graph {
    Graph {
        states: model.config.states.len(),
        initial: checked.initial,
        before_initial: checked.before_initial.clone(),
        external: checked.external.clone(),
        terminal: checked.terminal.clone(),
        failure: checked.failure,
        schedules: checked.schedules.clone(),
        transitions: model
            .transitions
            .iter()
            .zip(&checked.transitions)
            .map(|(t, r)| Transition {
                sources: r.sources.clone(),
                dest: r.dest,
                guarded: t.is_guarded(),
                ignore_errors: t.ignore_errors,
                wait: t.wait.is_some(),
                stop: t.stop,
                settle: t.settle,
                on: t
                    .on
                    .iter()
                    .map(|f| match f {
                        EventFilterDef::Launching(r) => On::Launching(*r),
                        EventFilterDef::Terminating(r) => On::Terminating(*r),
                        EventFilterDef::Command => On::Command,
                        EventFilterDef::Scheduled(rule) => On::Scheduled(rule.clone()),
                        EventFilterDef::SpotInterruption => On::SpotInterruption,
                        EventFilterDef::Rebalance => On::Rebalance,
                        EventFilterDef::InstanceState(s) => On::InstanceState(s.clone()),
                        EventFilterDef::Maintenance(c) => On::Maintenance(c.clone()),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Reachability, liveness, loops, shadowed and dead triggers, and the need for a failure
/// state: `lifecycle_analysis` finds them, each becomes an error at its token here.
fn check_graph(model: &Model, checked: &Checked, errors: &mut Errors) {
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
                let span =
                    t.on.iter()
                        .zip(&t.on_spans)
                        .find(|(f, _)| matches!(f, EventFilterDef::Terminating(_)))
                        .map_or(t.span, |(_, &span)| span);
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
                let span =
                    t.on.iter()
                        .zip(&t.on_spans)
                        .find(|(f, _)| matches!(f, EventFilterDef::Launching(_)))
                        .map_or(t.span, |(_, &span)| span);
                let initial = model
                    .config
                    .initial
                    .as_ref()
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                errors.at(
                    span,
                    format!(
                        "a launching event never reaches `{}`, so `{}` can never fire there: a launch runs from the initial state `{initial}` on, only through transitions that react to it without `wait` or `stop`, and a launch from the warm pool only where a launch into the pool can lead; react to the event that does reach `{}` (`on(command)` after a `wait`, say), or write `on(launching(from = warm_pool))` for an instance leaving the warm pool",
                        states[state], t.method, states[state]
                    ),
                );
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
