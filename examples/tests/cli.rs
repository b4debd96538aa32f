//! The `lifecycle-local` binary: output and argument errors.

use std::process::Command;

use lifecycle_core::LifecycleModel;
use lifecycle_examples::cluster::ClusterNode;

fn local(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lifecycle-local"))
        .args(args)
        .output()
        .expect("lifecycle-local runs")
}

#[test]
fn the_default_run_prints_the_timeline_the_outcome_and_the_diagram() {
    let out = local(&[]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("joining_cluster → failure"));
    assert!(stdout.contains("EC2_INSTANCE_LAUNCHING ABANDON"));
    assert!(stdout.ends_with(ClusterNode::MERMAID));
}

#[test]
fn diagrams_print_alone() {
    let out = local(&["--diagram"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), ClusterNode::MERMAID);
    let out = local(&["--dot"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), ClusterNode::DOT);
}

#[test]
fn bad_arguments_are_clear_errors() {
    for (args, message) in [
        (&["--frobnicate"][..], "unknown argument `--frobnicate`"),
        (&["--terminate"][..], "--terminate needs an instance id"),
        (
            &["--fail-join", "i-zzz"][..],
            "instance `i-zzz` is not in the scenario",
        ),
    ] {
        let out = local(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}
