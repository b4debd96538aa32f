//! Each transition on its own: sources, filters and flags that make no sense.

use std::collections::HashMap;

use lifecycle_analysis::On;

use crate::ast::Model;
use crate::case::did_you_mean;
use crate::errors::Errors;

use super::Checked;

/// Per transition: sources, filters and flags that make no sense.
pub(super) fn check_transitions(model: &Model, checked: &Checked, errors: &mut Errors) {
    let names = &model.config.states;
    let mut fired_from: HashMap<(usize, String), ()> = HashMap::new();
    for resolved in &checked.transitions {
        let t = resolved.def;
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
        for filter in &t.on {
            if let On::Scheduled(Some(rule)) = &filter.on
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
                errors.at(filter.span, message);
            }
        }
    }
}
