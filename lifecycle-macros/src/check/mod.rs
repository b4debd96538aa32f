//! Step 2: is the model sound? Every problem becomes an error at the token that causes it, and
//! all of them are reported together: the declaration here, then the methods
//! ([`methods`]), each transition on its own ([`transitions`]) and the graph they make
//! ([`graph`]).

mod graph;
mod methods;
mod transitions;

use std::collections::HashMap;

use proc_macro2::Span;
use syn::{Ident, Type};

use crate::ast::{Model, TransitionDef};
use crate::case::{did_you_mean, snake_case};
use crate::errors::Errors;

pub use methods::returns_result;

/// The model with every state name resolved to an index.
pub struct Checked<'m> {
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
    /// `Model::transitions`, in declaration order (a transition's index is the dispatcher's).
    pub transitions: Vec<Resolved<'m>>,
    /// For each state, the transitions that can fire from it, in declaration order.
    pub outgoing: Vec<Vec<usize>>,
    pub error: Type,
}

/// A transition as declared, with its states resolved.
pub struct Resolved<'m> {
    pub def: &'m TransitionDef,
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
pub fn check<'m>(model: &'m Model, errors: &mut Errors) -> Option<Checked<'m>> {
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

    methods::check_methods(model, errors);

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
                def: t,
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
    checked.outgoing = graph::graph(model, &checked).outgoing();
    transitions::check_transitions(model, &checked, errors);
    // A transition whose attribute was partly rejected, or dropped, would make the graph
    // checks report consequences of that mistake rather than new ones.
    if !parse_failed && !declaration_failed {
        graph::check_graph(model, &checked, errors);
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
