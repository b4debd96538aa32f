//! The state diagram, as Mermaid (which GitHub renders) and Graphviz DOT. Built from the checked
//! model only, so the same model always gives the same text.

use std::fmt::Write;

use crate::ast::{Model, TransitionDef};
use crate::check::Checked;

/// `join_cluster (when is_worker, wait)`
fn label(t: &TransitionDef) -> String {
    let mut notes = Vec::new();
    if !t.when.is_empty() {
        notes.push(format!("when {}", join(&t.when)));
    }
    if !t.unless.is_empty() {
        notes.push(format!("unless {}", join(&t.unless)));
    }
    if !t.on.is_empty() {
        let on: Vec<String> =
            t.on.iter()
                .map(|f| {
                    use lifecycle_analysis::On as F;
                    let route = |name: &str, r: &lifecycle_analysis::Route| {
                        let mut label = name.to_owned();
                        if let Some(from) = r.from {
                            label.push_str(&format!(" from {}", crate::ast::place_name(from)));
                        }
                        if let Some(to) = r.to {
                            label.push_str(&format!(" to {}", crate::ast::place_name(to)));
                        }
                        label
                    };
                    match &f.on {
                        F::Launching(r) => route("launching", r),
                        F::Terminating(r) => route("terminating", r),
                        F::Command => "command".to_owned(),
                        F::Scheduled(None) => "scheduled".to_owned(),
                        F::Scheduled(Some(r)) => format!("scheduled {r}"),
                        F::SpotInterruption => "spot interruption".to_owned(),
                        F::Rebalance => "rebalance".to_owned(),
                        F::InstanceState(None) => "instance state".to_owned(),
                        F::InstanceState(Some(s)) => format!("instance {s}"),
                        F::Maintenance(None) => "maintenance".to_owned(),
                        F::Maintenance(Some(c)) => format!("maintenance {c}"),
                    }
                })
                .collect();
        notes.push(format!("on {}", on.join(" | ")));
    }
    if t.ignore_errors {
        notes.push("ignore errors".to_owned());
    }
    if t.stop {
        notes.push("stop".to_owned());
    }
    if t.wait.is_some() {
        notes.push("wait".to_owned());
    }
    if notes.is_empty() {
        t.method.to_string()
    } else {
        format!("{} ({})", t.method, notes.join(", "))
    }
}

/// Guard names joined with ` & `: Mermaid ends a statement at `;`, and `,` separates notes.
fn join(names: &[syn::Ident]) -> String {
    names
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(" & ")
}

/// Every edge as (from, to, label), including cloud-init's way from the states before the
/// initial one.
fn edges(checked: &Checked) -> Vec<(String, String, String)> {
    let mut edges = Vec::new();
    if let Some(initial) = checked.initial {
        for &b in &checked.before_initial {
            edges.push((
                checked.names[b].clone(),
                checked.names[initial].clone(),
                "cloud-init".to_owned(),
            ));
        }
    }
    for r in &checked.transitions {
        let t = r.def;
        for &s in &r.sources {
            let to = r.dest.unwrap_or(s);
            edges.push((
                checked.names[s].clone(),
                checked.names[to].clone(),
                label(t),
            ));
        }
    }
    edges
}

fn starts(checked: &Checked) -> Vec<usize> {
    let mut starts: Vec<usize> = checked.before_initial.clone();
    if starts.is_empty() {
        starts.extend(checked.initial);
    }
    starts.extend(&checked.schedules);
    // Put there by someone outside the model: a way in of their own.
    starts.extend(&checked.external);
    starts
}

/// How the failure state is entered: from any state, when a task (or the command a result
/// reports) fails. Drawn from one marker rather than from every state, which would bury the
/// model's own edges.
const FAILURE_ENTRY: &str = "any state: a task or command fails";
/// The marker's id: with the double underscore no state's snake_case name can take it.
const FAILURE_ENTRY_ID: &str = "task_failed__";

pub fn mermaid(checked: &Checked) -> String {
    let mut out = String::from("stateDiagram-v2\n");
    for s in starts(checked) {
        let _ = writeln!(out, "    [*] --> {}", checked.names[s]);
    }
    for (from, to, label) in edges(checked) {
        let _ = writeln!(out, "    {from} --> {to}: {label}");
    }
    if let Some(f) = checked.failure {
        let _ = writeln!(out, "    state \"{FAILURE_ENTRY}\" as {FAILURE_ENTRY_ID}");
        let _ = writeln!(out, "    {FAILURE_ENTRY_ID} --> {}", checked.names[f]);
    }
    for &t in &checked.terminal {
        let _ = writeln!(out, "    {} --> [*]", checked.names[t]);
    }
    if let Some(f) = checked.failure {
        let _ = writeln!(out, "    classDef failureState fill:#f8d7da,stroke:#a33");
        let _ = writeln!(out, "    class {} failureState", checked.names[f]);
    }
    out
}

pub fn dot(model: &Model, checked: &Checked) -> String {
    let mut out = format!(
        "digraph {} {{\n    rankdir=TB;\n    start__ [shape=point, width=0.15];\n",
        model.self_ty
    );
    for (i, name) in checked.names.iter().enumerate() {
        let mut attrs = Vec::new();
        if checked.terminal.contains(&i) {
            attrs.push("shape=doublecircle");
        }
        if checked.failure == Some(i) {
            attrs.push("color=red");
        }
        if checked.before_initial.contains(&i) || checked.external.contains(&i) {
            attrs.push("style=dashed");
        }
        if attrs.is_empty() {
            let _ = writeln!(out, "    {name};");
        } else {
            let _ = writeln!(out, "    {name} [{}];", attrs.join(", "));
        }
    }
    for s in starts(checked) {
        let _ = writeln!(out, "    start__ -> {};", checked.names[s]);
    }
    for (from, to, label) in edges(checked) {
        let _ = writeln!(out, "    {from} -> {to} [label=\"{label}\"];");
    }
    if let Some(f) = checked.failure {
        let _ = writeln!(
            out,
            "    {FAILURE_ENTRY_ID} [label=\"{FAILURE_ENTRY}\", shape=plaintext];\n    {FAILURE_ENTRY_ID} -> {} [style=dashed, color=red];",
            checked.names[f]
        );
    }
    out.push_str("}\n");
    out
}
