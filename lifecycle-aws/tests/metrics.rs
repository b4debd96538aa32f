//! The metrics the Lambda writes as log lines (Embedded Metric Format): read back from what it
//! wrote for a fleet's launches, a forged event, a lost one, a failed delivery and sweeps, and
//! checked for their names, units and dimensions — and that no dimension names an instance or a
//! token.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use common::worker::{on_fleet, registered};
use lifecycle_aws::metrics::Metrics;
use lifecycle_aws::testing::{
    MemoryAutoScaling, command_status_event, lifecycle_action_event, scheduled_event,
};
use lifecycle_core::LifecycleTransition;
use serde_json::Value;

/// Every metric, its unit, and the dimensions it has besides `Model`.
const CATALOGUE: [(&str, &str, &[&str]); 10] = [
    ("LifecyclesCompleted", "Count", &["Transition", "Result"]),
    ("CompletionsRepeated", "Count", &["Transition"]),
    ("EventsRefused", "Count", &["Reason"]),
    ("EventsFailed", "Count", &["Retryable"]),
    ("Reconciled", "Count", &["Kind"]),
    ("WaitsExpired", "Count", &["Limit"]),
    ("ResultsRecovered", "Count", &[]),
    ("ParkedResumed", "Count", &[]),
    ("Heartbeats", "Count", &[]),
    ("SweepDuration", "Milliseconds", &[]),
];

#[test]
fn the_metric_lines_name_what_happened_with_bounded_dimensions() {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let kept = lines.clone();
    let aws = Arc::new(MemoryAutoScaling::new().with_group("workers"));
    let instances = [
        "i-0a1b2c3d4e5f60001",
        "i-0a1b2c3d4e5f60002",
        "i-0a1b2c3d4e5f60003",
    ];
    let (runtime, commands) = on_fleet(registered(instances), &aws, &["workers"]);
    let runtime = runtime.with_metrics(Metrics::to(Arc::new(move |line: &str| {
        kept.lock().unwrap().push(line.to_owned())
    })));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            // Two launches by their events, one whose event is lost.
            for id in &instances[..2] {
                let launch = aws.launch(id, "workers");
                runtime.handle(&launch).await.unwrap();
            }
            let _lost = aws.launch(instances[2], "workers");
            runtime
                .handle(&scheduled_event("lifecycle-sweep"))
                .await
                .unwrap();
            for (command, request) in commands.sent() {
                let id = &request.instance_ids[0];
                let done = command_status_event(&command, id, &request.document_name, "Success");
                runtime.handle(&done).await.unwrap();
            }
            // A forged terminate, one without a token, and an unknown instance's launch (its
            // record missing: the delivery fails, to be retried).
            let forged =
                lifecycle_action_event(instances[0], "workers", LifecycleTransition::Terminating);
            runtime.handle(&forged).await.unwrap();
            let mut tokenless = forged.clone();
            tokenless["detail"]
                .as_object_mut()
                .unwrap()
                .remove("LifecycleActionToken");
            assert!(runtime.handle(&tokenless).await.is_err());
            let unknown = aws.launch("i-0a1b2c3d4e5f6ffff", "workers");
            assert!(runtime.handle(&unknown).await.is_err());
        });

    let lines = lines.lock().unwrap();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut dimension_values = BTreeSet::new();
    for line in lines.iter() {
        let line: Value = serde_json::from_str(line).expect("one JSON object per line");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Lifecycle");
        assert!(line["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);
        let metric = &directive["Metrics"][0];
        let name = metric["Name"].as_str().unwrap();
        let (_, unit, dimensions) = CATALOGUE
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} is not in the catalogue"));
        assert_eq!(metric["Unit"], *unit, "{name}");
        let keys: Vec<&str> = directive["Dimensions"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        let expected: Vec<&str> = std::iter::once("Model")
            .chain(dimensions.iter().copied())
            .collect();
        assert_eq!(keys, expected, "{name}");
        if !dimensions.is_empty() {
            assert_eq!(
                directive["Dimensions"][1],
                serde_json::json!(["Model"]),
                "{name}: rolled up by model"
            );
        }
        assert_eq!(line["Model"], "Worker");
        for key in &keys {
            let value = line[*key].as_str().unwrap();
            // Bounded: each dimension takes its values from a short fixed list, never an
            // instance id, a token or an event id.
            let allowed: &[&str] = match *key {
                "Model" => &["Worker"],
                "Transition" => &["launch", "termination"],
                "Result" => &["CONTINUE", "ABANDON"],
                "Reason" => &["not_held", "no_token"],
                "Retryable" => &["true", "false"],
                "Kind" => &["started", "recompleted", "unhandled", "vanished"],
                "Limit" => &["configured", "hook"],
                other => panic!("{name}: unexpected dimension {other}"),
            };
            assert!(allowed.contains(&value), "{name}: {key} = {value}");
            dimension_values.insert(format!("{key}={value}"));
        }
        assert!(line[name].is_number(), "{name}");
        *seen.entry(name.to_owned()).or_default() += 1;
    }
    println!("metric lines: {seen:?}; dimension values: {dimension_values:?}");
    assert_eq!(seen["LifecyclesCompleted"], 3, "three launches completed");
    assert!(
        dimension_values.contains("Result=CONTINUE")
            && dimension_values.contains("Transition=launch")
    );
    assert_eq!(seen["Reconciled"], 1);
    assert!(dimension_values.contains("Kind=started"));
    assert_eq!(seen["EventsRefused"], 2);
    assert!(
        dimension_values.contains("Reason=not_held")
            && dimension_values.contains("Reason=no_token")
    );
    assert_eq!(seen["EventsFailed"], 2);
    assert!(
        dimension_values.contains("Retryable=true") && dimension_values.contains("Retryable=false")
    );
    assert_eq!(seen["SweepDuration"], 1);
}
