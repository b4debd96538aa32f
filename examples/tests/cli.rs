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
fn the_default_run_prints_the_timeline_and_the_outcome_but_no_diagram() {
    let out = local(&[]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("Timeline of the ClusterNode model"),
        "{stdout}"
    );
    assert!(stdout.contains("parked until cloud-init finishes"));
    assert!(stdout.contains("joining_cluster → failure"));
    assert!(stdout.contains("EC2_INSTANCE_LAUNCHING ABANDON"));
    // Real instance ids fit their column.
    assert!(
        stdout.contains("i-0a1b2c3d4e5f60003  worker   abandoned"),
        "{stdout}"
    );
    assert!(
        stdout.contains("    57s  i-0a1b2c3d4e5f60001  CompleteLifecycleAction"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("stateDiagram"),
        "the diagram only with --diagram"
    );
}

#[test]
fn the_backup_model_runs_too() {
    let out = local(&["--model", "backup"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("Timeline of the NightlyBackup model"),
        "{stdout}"
    );
    assert!(stdout.contains("LifecycleBackup Success"), "{stdout}");
}

#[test]
fn version() {
    let out = local(&["--version"]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("lifecycle-local {}\n", env!("CARGO_PKG_VERSION"))
    );
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
    assert!(stdout.contains("i-m       manager  terminated"), "{stdout}");
    assert!(stdout.contains("i-w       worker   abandoned"), "{stdout}");
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
#[ignore = "needs moto_server: run scripts/test"]
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
    assert!(
        stdout.contains(&format!("at {endpoint}, deleted at the end")),
        "{stdout}"
    );
    assert!(
        stdout.contains("i-0a1b2c3d4e5f60002  worker   terminated"),
        "{stdout}"
    );
    assert!(
        stdout.contains("i-0a1b2c3d4e5f60003  worker   abandoned"),
        "{stdout}"
    );
    // The table is gone again.
    let table = stdout
        .lines()
        .next()
        .and_then(|l| l.split("node table: ").nth(1))
        .and_then(|l| l.split(' ').next())
        .unwrap()
        .to_owned();
    let tables = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import urllib.request, json; r = urllib.request.Request('{endpoint}', data=b'{{}}', headers={{'X-Amz-Target': 'DynamoDB_20120810.ListTables', 'Content-Type': 'application/x-amz-json-1.0', 'Authorization': 'AWS4-HMAC-SHA256 Credential=testing/20260101/eu-central-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0'}}); print(urllib.request.urlopen(r).read().decode())"
        ))
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&tables.stdout);
    assert!(listed.contains("TableNames"), "{listed}");
    assert!(!listed.contains(&table), "{table} deleted: {listed}");
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
        (
            vec!["--diagram", "--dot"],
            "--diagram and --dot print different diagrams: choose one".to_owned(),
        ),
        (
            vec!["--fail-join", "i-0a1b2c3d4e5f60002", "--no-failures"],
            "--fail-join and --no-failures contradict each other".to_owned(),
        ),
        (
            vec!["--model", "backup", "--terminate", "i-1"],
            "are the cluster model's".to_owned(),
        ),
        (
            vec!["--dynamodb-endpoint", "notaurl"],
            "--dynamodb-endpoint `notaurl` is not a URL: give one like http://127.0.0.1:8000"
                .to_owned(),
        ),
        (
            vec!["--spot-interruption", "i-zzz"],
            "instance `i-zzz` is not in the scenario".to_owned(),
        ),
        (
            vec!["--warm-pool", "i-zzz"],
            "--warm-pool: instance `i-zzz` is not in the scenario".to_owned(),
        ),
        (
            vec![
                "--terminate",
                "i-0a1b2c3d4e5f60002",
                "--spot-interruption",
                "i-0a1b2c3d4e5f60002",
            ],
            "is both terminated and interrupted".to_owned(),
        ),
        (
            vec!["--keep-table"],
            "--keep-table keeps the table of --dynamodb-endpoint".to_owned(),
        ),
    ] {
        let out = local(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(&message), "{args:?}: {stderr}");
        // One line, and a hint; not the whole usage.
        assert_eq!(stderr.lines().count(), 2, "{args:?}: {stderr}");
        assert!(stderr.ends_with("(lifecycle-local --help lists the options)\n"));
        assert!(out.stdout.is_empty());
    }
}

/// The rows of `instance` in the timeline, in order.
fn rows_of<'a>(stdout: &'a str, instance: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(instance))
        .collect()
}

#[test]
fn a_spot_interruption_drains_the_worker_before_its_terminate_action() {
    let out = local(&[
        "--spot-interruption",
        "i-0a1b2c3d4e5f60002",
        "--no-failures",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rows = rows_of(&stdout, "i-0a1b2c3d4e5f60002");
    let warning = rows
        .iter()
        .position(|r| r.contains("spot interruption"))
        .unwrap();
    let left = rows
        .iter()
        .position(|r| r.contains("left_cluster → terminated"))
        .unwrap();
    let terminate = rows
        .iter()
        .position(|r| r.contains(" terminating "))
        .unwrap();
    assert!(
        rows[warning].contains("ready → removed_from_dns"),
        "{stdout}"
    );
    // The drain is done before the terminate action arrives, which then only completes.
    assert!(warning < left && left < terminate, "{stdout}");
    assert_eq!(
        rows.iter().filter(|r| r.contains("leave_cluster")).count(),
        1,
        "one drain: {stdout}"
    );
    assert!(
        rows[terminate..]
            .iter()
            .any(|r| r.contains("EC2_INSTANCE_TERMINATING CONTINUE")),
        "{stdout}"
    );
    assert!(!stdout.contains("10.0.1.11"), "out of DNS: {stdout}");
}

#[test]
fn a_warm_pool_instance_is_prepared_in_the_pool_and_joins_when_it_enters_the_group() {
    let out = local(&["--warm-pool", "i-0a1b2c3d4e5f60003", "--no-failures"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rows = rows_of(&stdout, "i-0a1b2c3d4e5f60003");
    assert!(
        rows[0].contains("launching into warm pool")
            && rows[0].contains("finished_cloud_init → warmed"),
        "{stdout}"
    );
    assert!(
        rows[1].contains("EC2_INSTANCE_LAUNCHING CONTINUE"),
        "the pool may stop it: {stdout}"
    );
    let from_pool = rows
        .iter()
        .position(|r| r.contains("launching from warm pool"))
        .unwrap();
    let first_join = rows
        .iter()
        .position(|r| r.contains("join_cluster"))
        .unwrap();
    assert_eq!(
        first_join, from_pool,
        "no join before it leaves the pool: {stdout}"
    );
    assert!(
        rows[from_pool].contains("warmed → joining_cluster"),
        "{stdout}"
    );
    assert!(
        stdout.contains("10.0.1.12"),
        "in DNS once in the group: {stdout}"
    );
}

/// `status` says what it needs, in a sentence, before any request: a region, credentials, a
/// URL that is one, a model's name.
#[test]
fn status_says_what_it_needs_before_asking_aws() {
    let status = |env: &[(&str, &str)], args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lifecycle-local"));
        command
            .args(["status", "--table", "nodes"])
            .args(args)
            .env_clear()
            .env("HOME", std::env::temp_dir())
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for (name, value) in env {
            command.env(name, value);
        }
        let out = command.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(
        status(&[], &[]).starts_with("lifecycle-local status: no AWS region: set AWS_REGION"),
        "{}",
        status(&[], &[])
    );
    let no_credentials = status(&[("AWS_REGION", "eu-west-1")], &[]);
    assert!(
        no_credentials.starts_with("lifecycle-local status: no AWS credentials")
            && no_credentials.contains("AWS_PROFILE"),
        "{no_credentials}"
    );
    let not_a_url = status(&[], &["--endpoint-url", "localhost:8000"]);
    assert!(
        not_a_url.starts_with("lifecycle-local: --endpoint-url `localhost:8000` is not a URL"),
        "{not_a_url}"
    );
    let not_a_name = status(&[], &["--waiter", "my model"]);
    assert!(not_a_name.contains("is not a model's name"), "{not_a_name}");
    let groups_for_another_model = status(&[], &["--waiter", "MyNode", "--groups", "workers"]);
    assert!(
        groups_for_another_model.contains("Runtime::unhandled_actions"),
        "{groups_for_another_model}"
    );
}
