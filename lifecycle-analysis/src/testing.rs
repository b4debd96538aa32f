//! A graph the documentation's examples share, so that each example names it in one line.

use crate::{Graph, On, Route, Transition};

/// A launch: `finished_cloud_init` (0) joins on the launching event and waits (→ `joining`,
/// 1), and the join command's result makes it `ready` (2, terminal). No findings.
///
/// ```
/// let graph = lifecycle_analysis::testing::example_graph();
/// assert!(lifecycle_analysis::analyse(&graph).is_empty());
/// assert_eq!((graph.states, graph.initial, graph.terminal.as_slice()), (3, Some(0), &[2][..]));
/// ```
pub fn example_graph() -> Graph {
    Graph {
        states: 3,
        initial: Some(0),
        terminal: vec![2],
        transitions: vec![
            Transition {
                sources: vec![0],
                dest: Some(1),
                wait: true,
                ignore_errors: true,
                on: vec![On::Launching(Route::ANY)],
                ..Default::default()
            },
            Transition {
                sources: vec![1],
                dest: Some(2),
                ignore_errors: true,
                on: vec![On::Command],
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}
