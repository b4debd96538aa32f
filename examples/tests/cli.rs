//! The `lifecycle-local` binary: output, scenario files, a DynamoDB-compatible server, and
//! argument errors.

use std::process::Command;

use lifecycle_core::LifecycleModel;
use lifecycle_examples::backup::NightlyBackup;
use lifecycle_examples::cluster::ClusterNode;

fn local(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lifecycle-local"))
        .args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("lifecycle-local runs")
}

fn scenario_file(name: &str, json: &str) -> String {
    let path = std::env::temp_dir().join(format!(
        "lifecycle-scenario-{}-{name}.json",
        std::process::id()
    ));
    std::fs::write(&path, json).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn the_default_run_prints_the_timeline_the_outcome_and_the_diagram() {
    let out = local(&[]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("parked until cloud-init finishes"));
    assert!(stdout.contains("joining_cluster → failure"));
    assert!(stdout.contains("EC2_INSTANCE_LAUNCHING ABANDON"));
    assert!(stdout.ends_with(ClusterNode::MERMAID));
}

#[test]
fn a_scenario_file_chooses_the_nodes_and_the_failures() {
    let path = scenario_file(
        "two",
        r#"{"nodes": [{"id": "i-m", "kind": "manager"}, {"id": "i-w", "kind": "worker", "slow_cloud_init": true}],
            "failing_joins": ["i-w"], "terminate": ["i-m"]}"#,
    );
    let out = local(&["--scenario", &path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("i-m      manager  terminated"), "{stdout}");
    assert!(stdout.contains("i-w      worker   abandoned"), "{stdout}");
}

#[test]
fn diagrams_print_alone_for_either_model() {
    let text = |args: &[&str]| String::from_utf8(local(args).stdout).unwrap();
    assert_eq!(text(&["--diagram"]), ClusterNode::MERMAID);
    assert_eq!(text(&["--dot"]), ClusterNode::DOT);
    assert_eq!(
        text(&["--diagram", "--model", "backup"]),
        NightlyBackup::MERMAID
    );
    assert_eq!(text(&["--model", "backup", "--dot"]), NightlyBackup::DOT);
}

#[test]
fn the_same_run_against_a_dynamodb_compatible_server() {
    let endpoint = std::env::var("LIFECYCLE_TEST_ENDPOINT")
        .expect("LIFECYCLE_TEST_ENDPOINT is not set: run the tests with scripts/test, which starts moto_server");
    let out = Command::new(env!("CARGO_BIN_EXE_lifecycle-local"))
        .args(["--dynamodb-endpoint", &endpoint])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains(&format!("at {endpoint}")), "{stdout}");
    assert!(stdout.contains("i-0b2    worker   terminated"), "{stdout}");
    assert!(stdout.contains("i-0c3    worker   abandoned"), "{stdout}");
}

#[test]
fn bad_arguments_and_scenario_files_are_clear_errors() {
    let broken = scenario_file("broken", r#"{"nodes": [{"id": "i-1"}]}"#);
    for (args, message) in [
        (
            vec!["--frobnicate"],
            "unknown argument `--frobnicate`".to_owned(),
        ),
        (
            vec!["--terminate"],
            "--terminate needs an instance id".to_owned(),
        ),
        (
            vec!["--fail-join", "i-zzz"],
            "instance `i-zzz` is not in the scenario".to_owned(),
        ),
        (
            vec!["--diagram", "--model", "toaster"],
            "unknown model `toaster`".to_owned(),
        ),
        (
            vec!["--scenario", "/nonexistent/scenario.json"],
            "--scenario /nonexistent/scenario.json:".to_owned(),
        ),
        (
            vec!["--scenario", broken.as_str()],
            "missing field `kind`".to_owned(),
        ),
    ] {
        let out = local(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(&message), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}
