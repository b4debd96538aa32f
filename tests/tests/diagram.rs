//! The generated diagrams are deterministic and match the reviewed snapshots in
//! `tests/snapshots/`. After an intended change, regenerate with `UPDATE_SNAPSHOTS=1` and
//! review the diff.

use std::path::Path;

use lifecycle_core::LifecycleModel;
use lifecycle_examples::backup::NightlyBackup;
use lifecycle_examples::cluster::ClusterNode;

fn assert_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_SNAPSHOTS=1", path.display()));
    assert_eq!(
        actual, expected,
        "{name} changed; run with UPDATE_SNAPSHOTS=1 and review the diff"
    );
}

#[test]
fn the_cluster_model_mermaid_diagram_matches_its_snapshot() {
    assert_snapshot("cluster_node.mmd", ClusterNode::MERMAID);
}

#[test]
fn the_cluster_model_dot_diagram_matches_its_snapshot() {
    assert_snapshot("cluster_node.dot", ClusterNode::DOT);
}

#[test]
fn the_backup_model_diagrams_match_their_snapshots() {
    assert_snapshot("nightly_backup.mmd", NightlyBackup::MERMAID);
    assert_snapshot("nightly_backup.dot", NightlyBackup::DOT);
}

#[test]
fn every_transition_appears_in_the_diagram() {
    for t in ClusterNode::DEFINITION.transitions {
        assert!(
            ClusterNode::MERMAID.contains(t.trigger),
            "{} missing",
            t.trigger
        );
        assert!(
            ClusterNode::DOT.contains(t.trigger),
            "{} missing",
            t.trigger
        );
    }
}

#[test]
fn mermaid_labels_contain_no_statement_separator() {
    // Mermaid ends a statement at `;`: a label containing one would cut the diagram.
    for line in ClusterNode::MERMAID.lines().skip(1) {
        assert!(!line.contains(';'), "{line}");
    }
}

#[test]
fn the_readme_shows_the_current_cluster_diagram() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let block = readme
        .split("```mermaid\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README has a mermaid block");
    assert_eq!(
        block,
        ClusterNode::MERMAID,
        "README's diagram is stale: paste `cargo run -p lifecycle-examples -- --diagram`"
    );
}
